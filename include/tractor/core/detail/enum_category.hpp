// One Boost.System category per tractor error enum, written once: an enum supplies its
// category name, a fixed id and the text of each value through `enum_traits`.
#pragma once

#include <boost/system/error_category.hpp>

#include <cstdint>
#include <string>

namespace tractor::detail {

/// Specialised per enum: `name`, `id` (fixed, so the category's identity is stable across
/// shared objects) and `describe(value)` (nullptr for an unknown value).
template <class Enum>
struct enum_traits;

template <class Enum>
class enum_category final : public boost::system::error_category {
 public:
  constexpr enum_category() noexcept : error_category(enum_traits<Enum>::id) {}
  const char* name() const noexcept override { return enum_traits<Enum>::name; }
  std::string message(int ev) const override {
    if (const char* text = enum_traits<Enum>::describe(static_cast<Enum>(ev))) return text;
    return std::string("unknown ") + name() + " error " + std::to_string(ev);
  }
  static const enum_category& instance() noexcept {
    static constexpr enum_category category;
    return category;
  }
};

}  // namespace tractor::detail
