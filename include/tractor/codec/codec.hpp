// tractor/codec/codec.hpp — the codec policy axis: how messages and payloads become bytes.
//
// A codec is a stateless type with four static functions. Messages are encoded whole;
// payloads (`pld`, `Start.kwargs`) separately, so the envelope can travel without knowing
// the payload's type and the receiver decodes it against the type it expects. Decoding
// never throws and never crashes: malformed input is a `wire_errc` value.
//
//     std::string frame;
//     tractor::codec::cereal_binary::encode(tractor::msg::Stop{"c1"}, frame);
//     auto m = tractor::codec::cereal_binary::decode(std::as_bytes(std::span(frame)));
//
// Models: `cereal_binary` (default, compact and fast) and `cereal_json` (readable).
#pragma once

#include <tractor/codec/detail/envelope.hpp>
#include <tractor/msg/types.hpp>
#include <tractor/msg/wire_error.hpp>

#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace tractor::codec {

/// What every codec provides. `encode` appends to `out`.
template <class C>
concept codec = requires(const msg::msg& m, std::string& out, std::span<const std::byte> in,
                         const msg::raw_pld& p, const int& v) {
  { C::name } -> std::convertible_to<std::string_view>;
  { C::encode(m, out) } -> std::same_as<void>;
  { C::decode(in) } -> std::same_as<result<msg::msg>>;
  { C::template encode_payload<int>(v) } -> std::same_as<msg::raw_pld>;
  { C::template decode_payload<int>(p) } -> std::same_as<result<int>>;
};

/// Whether codec `C` can encode a `T` as a payload: the codec's own `can_encode<T>` when it
/// declares one (the typed front ends check every argument and result with it, so a type the
/// codec cannot encode is a compile error that says so); a codec that does not is trusted.
template <codec C, class T>
inline constexpr bool can_encode = [] {
  if constexpr (requires { C::template can_encode<T>; }) {
    return bool(C::template can_encode<T>);
  } else {
    return true;
  }
}();

/// Decodes a message into `m`: the codec's own `decode_into` when it has one (which may
/// reuse `m`'s storage), otherwise `decode` and a move.
template <codec C>
result<void> decode_into(std::span<const std::byte> in, msg::msg& m) {
  if constexpr (requires { C::decode_into(in, m); }) {
    return C::decode_into(in, m);
  } else {
    auto r = C::decode(in);
    if (!r) return std::move(r).error();
    m = std::move(r).value();
    return success();
  }
}

/// Encodes `value` as a payload into `p`, replacing what it held: with the codec's own
/// `encode_payload_into` when it has one, which reuses `p`'s storage (a stream that sends
/// through one payload then allocates nothing per item), otherwise `encode_payload`.
template <codec C, class T>
void encode_payload_into(const T& value, msg::raw_pld& p) {
  if constexpr (requires { C::encode_payload_into(value, p); }) {
    C::encode_payload_into(value, p);
  } else {
    p = C::template encode_payload<T>(value);
  }
}

/// Decodes the payload of the message named `msg_name` (Started, Yield, Return, ...) as a
/// `T`; a mismatch is `wire_errc::msg_type_error` naming the message, the expected type and
/// what arrived.
template <codec C, class T>
result<T> decode_pld(std::string_view msg_name, const msg::raw_pld& p) {
  auto r = C::template decode_payload<T>(p);
  if (r) return r;
  return error(make_error_code(wire_errc::msg_type_error),
               "invalid `" + std::string(msg_name) + "` msg payload: expected " +
                   detail::type_name_of<T>() + ", got " + r.error().message());
}

}  // namespace tractor::codec
