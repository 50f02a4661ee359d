// tractor/codec/cereal_json.hpp — a readable codec: one JSON object per message, with
// tractor's `msg_type` and field names, for debugging and for reading captures.
//
//     {"msg_type":"Stop","cid":"c1"}
//
// Payloads are JSON documents of their own, carried as strings. Nesting deeper than 64
// levels is refused before parsing, so a hostile frame cannot exhaust the stack.
#pragma once

#include <tractor/config.hpp>

#include <tractor/codec/codec.hpp>

#include <cereal/archives/json.hpp>

#include <sstream>

namespace tractor::codec {

namespace detail {

/// False if `text` nests arrays/objects deeper than `max_depth` (strings are skipped).
inline bool json_depth_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

inline constexpr int json_max_depth = 64;

}  // namespace detail

struct cereal_json {
  static constexpr std::string_view name = "cereal_json";

  static void encode(const msg::msg& m, std::string& out);
  static result<msg::msg> decode(std::span<const std::byte> in);

  /// Whether a `T` can be a payload: cereal knows how to save it to this archive.
  template <class T>
  static constexpr bool can_encode = cereal::traits::is_output_serializable<T, cereal::JSONOutputArchive>::value;

  template <class T>
  static msg::raw_pld encode_payload(const T& value) {
    std::ostringstream os;
    {
      cereal::JSONOutputArchive ar(os, cereal::JSONOutputArchive::Options::NoIndent());
      ar(cereal::make_nvp("pld", value));
    }
    return msg::raw_pld{std::move(os).str()};
  }

  template <class T>
  static result<T> decode_payload(const msg::raw_pld& p) {
    auto shown = [&] {
      return p.bytes.size() <= 200 ? p.bytes : p.bytes.substr(0, 200) + "...";
    };
    if (!detail::json_depth_within(p.bytes, detail::json_max_depth)) {
      return error(make_error_code(wire_errc::msg_type_error), "JSON nested too deeply");
    }
    try {
      std::istringstream is(p.bytes);
      cereal::JSONInputArchive ar(is);
      T value{};
      ar(cereal::make_nvp("pld", value));
      return value;
    } catch (const std::exception& e) {
      return error(make_error_code(wire_errc::msg_type_error),
                   shown() + " (" + e.what() + ")");
    }
  }
};

static_assert(codec<cereal_json>);

}  // namespace tractor::codec

#if TRACTOR_HEADER_ONLY
#include <tractor/codec/impl/cereal_json.ipp>
#endif
