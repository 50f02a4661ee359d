// Definitions for tractor/codec/cereal_json.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/codec/cereal_json.hpp>

namespace tractor::codec {

TRACTOR_DECL void cereal_json::encode(const msg::msg& m, std::string& out) {
  std::ostringstream os;
  {
    cereal::JSONOutputArchive ar(os, cereal::JSONOutputArchive::Options::NoIndent());
    detail::save_envelope<cereal::JSONOutputArchive, true>(ar, m);
  }
  out += std::move(os).str();
}

TRACTOR_DECL result<msg::msg> cereal_json::decode(std::span<const std::byte> in) {
  std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
  if (!detail::json_depth_within(text, detail::json_max_depth)) {
    return error(make_error_code(wire_errc::malformed_frame),
                 "malformed frame: JSON nested too deeply");
  }
  try {
    std::istringstream is{std::string(text)};
    cereal::JSONInputArchive ar(is);
    return detail::load_envelope<cereal::JSONInputArchive, true>(ar);
  } catch (const std::exception& e) {
    return error(make_error_code(wire_errc::malformed_frame),
                 std::string("malformed frame: ") + e.what());
  }
}

}  // namespace tractor::codec
