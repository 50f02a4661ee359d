// Compile-time checks of a typed call (`portal::run`, `portal::open_context`,
// `actor_nursery::run_in_actor`). Each is a static_assert whose message says what is wrong,
// in the order a reader would look; the compiler's "In instantiation of `call_check<...>`"
// line just above it names the function (`F`) and the interface (`Api`).
#pragma once

#include <tractor/codec/codec.hpp>
#include <tractor/runtime/exposed.hpp>

#include <tuple>
#include <type_traits>

namespace tractor::detail {

template <class Tree, auto F>
concept exposed_by_tree = Tree::exposed_type::template contains<F>;

template <class Api, auto F>
concept in_interface = Api::template contains<F>;

template <auto F, class... Args>
constexpr bool arguments_convert() {
  if constexpr (is_context_fn<F>) {
    return std::is_invocable_v<decltype(F), context_type_t<F>&, Args...>;
  } else {
    return std::is_invocable_v<decltype(F), Args...>;
  }
}

template <class C, class Tuple>
struct all_encodable;
template <class C, class... T>
struct all_encodable<C, std::tuple<T...>> : std::bool_constant<(codec::can_encode<C, T> && ...)> {};

template <class C, auto F>
constexpr bool result_encodable() {
  using value_type = typename call_result_t<F>::value_type;
  if constexpr (std::is_void_v<value_type>) {
    return true;
  } else {
    return codec::can_encode<C, value_type>;
  }
}

// A class, not a function: its static_asserts run as soon as `ok` is named, before the rest
// of the calling function's body (whose own errors would otherwise come first).
template <class Tree, class Api, auto F, class... Args>
struct call_check {
  using codec_type = typename Tree::codec_type;
  static_assert(exposed_by_tree<Tree, F>, "tractor: F is not in the tree's tractor::exposed<...> list");
  static_assert(std::is_same_v<Api, typename Tree::exposed_type> || in_interface<Api, F>,
                "tractor: F is not a function of the portal's tractor::interface<...>");
  static_assert(arguments_convert<F, Args...>(), "tractor: the arguments do not convert to F's parameters");
  static_assert(all_encodable<codec_type, args_tuple_t<F>>::value,
                "tractor: a parameter type of F cannot be encoded by the tree's codec "
                "(give it a cereal serialize function)");
  static_assert(result_encodable<codec_type, F>(),
                "tractor: the result type of F cannot be encoded by the tree's codec "
                "(give it a cereal serialize function)");
  static constexpr bool ok = true;
};

}  // namespace tractor::detail
