// Definitions for tractor/codec/cereal_binary.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp); the
// envelope's cereal paths, most of a codec's compile time.
#pragma once

#include <tractor/codec/cereal_binary.hpp>

namespace tractor::codec {

TRACTOR_DECL void cereal_binary::encode(const msg::msg& m, std::string& out) {
  if (fast_encode(m, out)) return;
  static thread_local std::string unused;
  static thread_local detail::binary_output ar(unused);
  ar.retarget(out);
  detail::save_envelope<detail::binary_output, false>(ar, m);
}

TRACTOR_DECL result<msg::msg> cereal_binary::decode_with_cereal(std::span<const std::byte> in) {
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

}  // namespace tractor::codec
