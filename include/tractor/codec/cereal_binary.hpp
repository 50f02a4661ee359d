// tractor/codec/cereal_binary.hpp — the default codec: cereal's compact binary form.
//
// A message is a one-byte tag (its index in `msg::msg`) and its fields; strings and
// containers carry a 64-bit length, which the decoder checks against the bytes that are
// actually left before allocating anything.
#pragma once

#include <tractor/codec/codec.hpp>
#include <tractor/codec/detail/binary_archive.hpp>

namespace tractor::codec {

struct cereal_binary {
  static constexpr std::string_view name = "cereal_binary";

  // Envelopes reuse one archive per thread: building a cereal archive (its tracking maps) per
  // message cost more than encoding a small message. Safe because envelope types use neither
  // class versions nor shared pointers, the only state cereal keeps across calls.
  static void encode(const msg::msg& m, std::string& out) {
    static thread_local std::string unused;
    static thread_local detail::binary_output ar(unused);
    ar.retarget(out);
    detail::save_envelope<detail::binary_output, false>(ar, m);
  }

  static result<msg::msg> decode(std::span<const std::byte> in) {
    static thread_local detail::binary_input ar(std::span<const std::byte>{});
    ar.retarget(in);
    try {
      auto m = detail::load_envelope<detail::binary_input, false>(ar);
      if (ar.remaining() != 0) {
        return error(make_error_code(wire_errc::malformed_frame),
                     "malformed frame: " + std::to_string(ar.remaining()) +
                         " bytes left over after a " + std::string(msg::type_name(m)));
      }
      return m;
    } catch (const std::exception& e) {
      return error(make_error_code(wire_errc::malformed_frame),
                   std::string("malformed frame: ") + e.what());
    }
  }

  template <class T>
  static msg::raw_pld encode_payload(const T& value) {
    msg::raw_pld p;
    detail::binary_output ar(p.bytes);
    ar(value);
    return p;
  }

  template <class T>
  static result<T> decode_payload(const msg::raw_pld& p) {
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

}  // namespace tractor::codec
