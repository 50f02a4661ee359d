// The message envelope, written once for every cereal archive: a tag naming the message
// (its index for binary archives, `msg_type` with tractor's name for text ones), then the
// message's fields by name. Loading dispatches on the tag through a table built at compile
// time from the `msg` variant's alternatives.
#pragma once

#include <tractor/msg/types.hpp>

#include <boost/core/demangle.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <typeinfo>
#include <utility>

namespace tractor::codec::detail {

template <class Archive, bool Named>
void save_envelope(Archive& ar, const msg::msg& m) {
  if constexpr (Named) {
    ar(cereal::make_nvp("msg_type", std::string(msg::type_name(m))));
  } else {
    ar(static_cast<std::uint8_t>(m.index()));
  }
  std::visit([&](const auto& x) { ar(const_cast<std::remove_cvref_t<decltype(x)>&>(x)); }, m);
}

template <class Archive, std::size_t I>
msg::msg load_alternative(Archive& ar) {
  std::variant_alternative_t<I, msg::msg> x;
  ar(x);
  return msg::msg(std::in_place_index<I>, std::move(x));
}

/// Throws `cereal::Exception` on anything malformed (the codec turns that into a value).
template <class Archive, bool Named>
msg::msg load_envelope(Archive& ar) {
  constexpr std::size_t n = std::variant_size_v<msg::msg>;
  using loader = msg::msg (*)(Archive&);
  constexpr auto table = []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<loader, n>{&load_alternative<Archive, I>...};
  }(std::make_index_sequence<n>{});
  std::size_t index = n;
  if constexpr (Named) {
    std::string name;
    ar(cereal::make_nvp("msg_type", name));
    constexpr auto names = []<std::size_t... I>(std::index_sequence<I...>) {
      return std::array<std::string_view, n>{std::variant_alternative_t<I, msg::msg>::msg_type...};
    }(std::make_index_sequence<n>{});
    for (std::size_t i = 0; i < n; ++i) {
      if (names[i] == name) index = i;
    }
    if (index == n) throw cereal::Exception("unknown msg_type '" + name.substr(0, 64) + "'");
  } else {
    std::uint8_t tag = 0;
    ar(tag);
    index = tag;
    if (index >= n) throw cereal::Exception("unknown message tag " + std::to_string(index));
  }
  return table[index](ar);
}

/// The readable name of `T`, for error messages.
template <class T>
std::string type_name_of() {
  return boost::core::demangle(typeid(T).name());
}

}  // namespace tractor::codec::detail
