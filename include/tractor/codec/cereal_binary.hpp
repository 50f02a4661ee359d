// tractor/codec/cereal_binary.hpp — the default codec: cereal's compact binary form.
//
// A message is a one-byte tag (its index in `msg::msg`) and its fields; strings and
// containers carry a 64-bit length, which the decoder checks against the bytes that are
// actually left before allocating anything.
#pragma once

#include <tractor/config.hpp>

#include <tractor/codec/codec.hpp>
#include <tractor/codec/detail/binary_archive.hpp>

#include <cstring>
#include <initializer_list>
#include <optional>

namespace tractor::codec {

struct cereal_binary {
  static constexpr std::string_view name = "cereal_binary";

  // Envelopes reuse one archive per thread: building a cereal archive (its tracking maps) per
  // message cost more than encoding a small message. Safe because envelope types use neither
  // class versions nor shared pointers, the only state cereal keeps across calls.
  static void encode(const msg::msg& m, std::string& out);

  static result<msg::msg> decode(std::span<const std::byte> in) {
    {
      result<msg::msg> fast(std::in_place_type<msg::msg>);
      if (fast_decode_into(in, fast.value())) return fast;
    }
    return decode_with_cereal(in);
  }

  /// Decodes into `m`, reusing its strings' storage when it already holds a message of the
  /// same type (a receiver that keeps one `msg` then decodes small messages without
  /// allocating). On failure `m` holds some unspecified valid message.
  static result<void> decode_into(std::span<const std::byte> in, msg::msg& m) {
    if (fast_decode_into(in, m)) return success();
    auto r = decode_with_cereal(in);
    if (!r) return std::move(r).error();
    m = std::move(r).value();
    return success();
  }

  /// The general path: any message, through cereal's archive.
  static result<msg::msg> decode_with_cereal(std::span<const std::byte> in);

  // -- the stream hot path ---------------------------------------------------------------
  // Started/Yield/Return/Stop are most of the traffic. They are written and read here
  // directly, byte for byte as cereal would (tag, then each string as a u64 length and its
  // bytes), without cereal's per-field dispatch; anything unusual falls back to cereal.

  static void put_string(std::string& out, const std::string& s) {
    const auto n = static_cast<std::uint64_t>(s.size());
    out.append(reinterpret_cast<const char*>(&n), sizeof(n));
    out.append(s);
  }

  /// Appends the tag, then `fields` as cereal writes strings (a u64 length, the bytes), then
  /// `n` more bytes the caller fills (returned), growing `out` once: a size check per field
  /// cost more than the copying of a small message's fields.
  static char* put_tagged(std::string& out, std::size_t tag, std::initializer_list<std::string_view> fields,
                          std::size_t n = 0) {
    std::size_t size = 1 + n;
    for (auto f : fields) size += sizeof(std::uint64_t) + f.size();
    const std::size_t at = out.size();
    out.resize(at + size);
    char* p = out.data() + at;
    *p++ = static_cast<char>(tag);
    for (auto f : fields) {
      const auto len = static_cast<std::uint64_t>(f.size());
      std::memcpy(p, &len, sizeof len);
      std::memcpy(p + sizeof len, f.data(), f.size());
      p += sizeof len + f.size();
    }
    return p;
  }

  /// For a message whose payload comes last (Started, Yield, Return): appends everything
  /// before the payload's bytes (tag, cid, the payload's length) and, with `whole`, the
  /// payload's bytes too; returns the payload's bytes. Nothing for any other message.
  static std::optional<std::string_view> put_head(const msg::msg& m, std::string& out, bool whole = false) {
    return std::visit(
        [&](const auto& x) -> std::optional<std::string_view> {
          using X = std::remove_cvref_t<decltype(x)>;
          if constexpr (std::is_same_v<X, msg::Started> || std::is_same_v<X, msg::Yield> ||
                        std::is_same_v<X, msg::Return>) {
            const std::string_view payload = x.pld.bytes;
            const auto n = static_cast<std::uint64_t>(payload.size());
            char* p = put_tagged(out, m.index(), {x.cid}, sizeof n + (whole ? payload.size() : 0));
            std::memcpy(p, &n, sizeof n);
            if (whole) std::memcpy(p + sizeof n, payload.data(), payload.size());
            return payload;
          } else {
            return std::nullopt;
          }
        },
        m);
  }

  static bool fast_encode(const msg::msg& m, std::string& out) {
    if (const auto* stop = std::get_if<msg::Stop>(&m)) {
      put_tagged(out, m.index(), {stop->cid});
      return true;
    }
    return put_head(m, out, true).has_value();
  }

  /// Appends `m` without the bytes of its payload when those come last in its encoding (a
  /// hot-path message): what is appended, then the returned bytes, is exactly `encode(m)`.
  /// For any other message, appends it whole and returns nothing. A channel writes a large
  /// payload this way without copying it into a frame.
  static std::string_view encode_split(const msg::msg& m, std::string& out) {
    if (auto payload = put_head(m, out)) return *payload;
    encode(m, out);
    return {};
  }

  static bool take_string(std::span<const std::byte>& in, std::string& s) {
    std::uint64_t n = 0;
    if (in.size() < sizeof(n)) return false;
    std::memcpy(&n, in.data(), sizeof(n));
    if (n > in.size() - sizeof(n)) return false;
    s.assign(reinterpret_cast<const char*>(in.data() + sizeof(n)), n);
    in = in.subspan(sizeof(n) + n);
    return true;
  }

  template <std::size_t I>
  static auto& reuse(msg::msg& m) {
    if (m.index() != I) m.template emplace<I>();
    return std::get<I>(m);
  }

  /// Takes the head of hot-path message `I` (cid, payload length) from the frame `prefix`
  /// begins (after its tag) into `m`, with an empty payload; the head's length with the tag,
  /// if the payload fills the rest of a frame of `frame_size` bytes.
  template <std::size_t I>
  static std::optional<std::size_t> take_head(std::span<const std::byte> prefix, std::size_t frame_size,
                                              msg::msg& m) {
    auto in = prefix.subspan(1);
    auto& x = reuse<I>(m);
    if (!take_string(in, x.cid)) return std::nullopt;
    std::uint64_t n = 0;
    if (in.size() < sizeof(n)) return std::nullopt;
    std::memcpy(&n, in.data(), sizeof(n));
    const std::size_t used = prefix.size() - in.size() + sizeof(n);
    if (used > frame_size || n != frame_size - used) return std::nullopt;
    x.pld.bytes.clear();
    return used;
  }

  /// The other side of `encode_split`: if the first bytes of a frame of `frame_size` bytes
  /// (`prefix`, at least its head) are a hot-path message whose payload fills the rest of
  /// the frame, sets `m` to it with an empty payload and returns the head's length (the
  /// payload's bytes follow it); otherwise nothing. A channel reads a large payload straight
  /// into place this way.
  static std::optional<std::size_t> decode_head(std::span<const std::byte> prefix, std::size_t frame_size,
                                                msg::msg& m) {
    if (prefix.empty()) return std::nullopt;
    switch (static_cast<std::size_t>(prefix[0])) {
      case 7: return take_head<7>(prefix, frame_size, m);  // Started
      case 8: return take_head<8>(prefix, frame_size, m);  // Yield
      case 9: return take_head<9>(prefix, frame_size, m);  // Return
      default: return std::nullopt;
    }
  }

  /// A whole hot-path message `I`: its head, then its payload.
  template <std::size_t I>
  static bool fast_payload_into(std::span<const std::byte> frame, msg::msg& m) {
    const auto head = take_head<I>(frame, frame.size(), m);
    if (!head) return false;
    std::get<I>(m).pld.bytes.assign(reinterpret_cast<const char*>(frame.data() + *head), frame.size() - *head);
    return true;
  }

  /// False when the frame is not a well-formed hot-path message (cereal then decides).
  static bool fast_decode_into(std::span<const std::byte> in, msg::msg& m) {
    if (in.empty()) return false;
    switch (static_cast<std::size_t>(in[0])) {
      case 4: {  // Stop
        auto rest = in.subspan(1);
        return take_string(rest, reuse<4>(m).cid) && rest.empty();
      }
      case 7: return fast_payload_into<7>(in, m);  // Started
      case 8: return fast_payload_into<8>(in, m);  // Yield
      case 9: return fast_payload_into<9>(in, m);  // Return
      default: return false;
    }
  }

  /// Whether a `T` can be a payload: cereal knows how to save it to this archive.
  template <class T>
  static constexpr bool can_encode = cereal::traits::is_output_serializable<T, detail::binary_output>::value;

  template <class T>
  static msg::raw_pld encode_payload(const T& value) {
    msg::raw_pld p;
    encode_payload_into(value, p);
    return p;
  }

  /// As `encode_payload`, into `p` (replacing what it held, keeping its storage).
  template <class T>
  static void encode_payload_into(const T& value, msg::raw_pld& p) {
    p.bytes.clear();
    if constexpr (std::is_same_v<T, std::string>) {
      // The common stream item, written as cereal would (u64 length, bytes) but without
      // building an archive.
      p.bytes.reserve(sizeof(std::uint64_t) + value.size());
      put_string(p.bytes, value);
    } else {
      detail::binary_output ar(p.bytes);
      ar(value);
    }
  }

  /// A string payload's value, made from the payload's own buffer (its 8-byte length prefix
  /// removed in place); nothing, and `p` untouched, if `p` is not exactly one string.
  static std::optional<std::string> steal_string(msg::raw_pld& p) {
    std::uint64_t n = 0;
    if (p.bytes.size() < sizeof(n)) return std::nullopt;
    std::memcpy(&n, p.bytes.data(), sizeof(n));
    if (n != p.bytes.size() - sizeof(n)) return std::nullopt;
    p.bytes.erase(0, sizeof(n));
    return std::move(p.bytes);
  }

  template <class T>
  static result<T> decode_payload(const msg::raw_pld& p) {
    if constexpr (std::is_same_v<T, std::string>) {
      std::span<const std::byte> in = std::as_bytes(std::span(p.bytes));
      std::string value;
      if (take_string(in, value) && in.empty()) return value;
      // Not a well-formed string: cereal says exactly why.
    }
    try {
      detail::binary_input ar(std::as_bytes(std::span(p.bytes)));
      T value{};
      ar(value);
      if (ar.remaining() != 0) {
        return error(make_error_code(wire_errc::msg_type_error),
                     std::to_string(p.bytes.size()) + " bytes, of which " +
                         std::to_string(ar.remaining()) + " are left over");
      }
      return value;
    } catch (const std::exception& e) {
      return error(make_error_code(wire_errc::msg_type_error),
                   std::to_string(p.bytes.size()) + " bytes that do not decode (" + e.what() +
                       ")");
    }
  }
};

static_assert(codec<cereal_binary>);
// The hot path's tags are the variant's indices; keep them in step.
static_assert(std::is_same_v<std::variant_alternative_t<4, msg::msg>, msg::Stop>);
static_assert(std::is_same_v<std::variant_alternative_t<7, msg::msg>, msg::Started>);
static_assert(std::is_same_v<std::variant_alternative_t<8, msg::msg>, msg::Yield>);
static_assert(std::is_same_v<std::variant_alternative_t<9, msg::msg>, msg::Return>);

}  // namespace tractor::codec

#if TRACTOR_HEADER_ONLY
#include <tractor/codec/impl/cereal_binary.ipp>
#endif
