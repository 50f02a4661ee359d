// tractor/runtime/exposed.hpp — exposing functions to other actors, and calling them.
//
// A function is named on the wire by its C++ name, split tractor-style into a namespace
// (`ns`, tractor's module) and a function name: `math::add` is ns "math", func "add"; a
// function at global scope has ns "main". The name is computed at compile time from the
// function pointer itself, so caller and callee agree without registering strings.
//
// Exposure is one compile-time list, handed to the runtime:
//
//     namespace math { tractor::awaitable<int> add(int a, int b) { co_return a + b; } }
//     using exposed = tractor::exposed<&math::add>;
//
// Only listed functions are callable remotely; an actor further restricts them to the
// namespaces enabled for it (tractor's `enable_modules`).
#pragma once

#include <tractor/codec/codec.hpp>
#include <tractor/core/cancel_scope.hpp>

#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

namespace tractor {

namespace runtime {
class context_core;
struct request;
}  // namespace runtime

template <class Started, class Item>
class context;

namespace detail {

template <class T>
struct context_param : std::false_type {};
template <class S, class Y>
struct context_param<context<S, Y>&> : std::true_type {
  using type = context<S, Y>;
};

template <auto F>
constexpr std::string_view pretty_name() {
  return __PRETTY_FUNCTION__;
}

/// "math::add" for `&math::add`, from the compiler's own spelling of the template argument.
template <auto F>
constexpr std::string_view qualified_name() {
  constexpr std::string_view p = pretty_name<F>();
  constexpr std::string_view key = "F = ";
  constexpr std::size_t begin = p.find(key) + key.size();
  constexpr std::size_t end = p.find_first_of(";]", begin);
  std::string_view q = p.substr(begin, end - begin);
  if (!q.empty() && q.front() == '&') q.remove_prefix(1);
  return q;
}

/// The signature of a function pointer: its result and decayed argument types. A context
/// function (first parameter `context<S, Y>&`) and a runtime request (first parameter
/// `runtime::request&`) have that parameter left out of their arguments.
template <class F>
struct fn_traits;
template <class R, class... A>
struct fn_traits<R (*)(A...)> {
  using result_type = R;
  using args_tuple = std::tuple<std::decay_t<A>...>;
  static constexpr bool is_context = false;
  static constexpr bool is_request = false;
  using context_type = void;
};
template <class R, class C, class... A>
  requires context_param<C>::value
struct fn_traits<R (*)(C, A...)> {
  using result_type = R;
  using args_tuple = std::tuple<std::decay_t<A>...>;
  static constexpr bool is_context = true;
  static constexpr bool is_request = false;
  using context_type = typename context_param<C>::type;
};
template <class R, class... A>
struct fn_traits<R (*)(runtime::request&, A...)> {
  using result_type = R;
  using args_tuple = std::tuple<std::decay_t<A>...>;
  static constexpr bool is_context = false;
  static constexpr bool is_request = true;
  using context_type = void;
};

template <class T>
struct awaitable_value;
template <class T>
struct awaitable_value<boost::asio::awaitable<T>> {
  using type = T;
};

// Compared as template arguments, not with `==`: comparing the addresses of two inline
// functions is not a constant expression for g++ under -fsanitize=undefined.
template <auto A, auto B>
constexpr bool same_function() {
  return std::is_same_v<std::integral_constant<decltype(A), A>, std::integral_constant<decltype(B), B>>;
}

}  // namespace detail

/// The wire name of an exposed function.
struct function_name {
  std::string_view ns;
  std::string_view func;

  /// "ns.func", as tractor writes a function's wire name.
  [[nodiscard]] std::string str() const { return std::string(ns).append(".").append(func); }
};

namespace detail {
/// Where the last "::" of `q` outside template arguments is: `ns::f<a::b>` splits before `f`.
constexpr std::size_t last_scope(std::string_view q) {
  std::size_t found = std::string_view::npos;
  int depth = 0;
  for (std::size_t i = 0; i + 1 < q.size(); ++i) {
    if (q[i] == '<') {
      ++depth;
    } else if (q[i] == '>') {
      --depth;
    } else if (depth == 0 && q[i] == ':' && q[i + 1] == ':') {
      found = i++;
    }
  }
  return found;
}
}  // namespace detail

/// `{ns, func}` for function pointer `F` (see the file comment).
template <auto F>
constexpr function_name name_of() {
  constexpr std::string_view q = detail::qualified_name<F>();
  constexpr std::size_t split = detail::last_scope(q);
  if constexpr (split == std::string_view::npos) {
    return {"main", q};
  } else {
    return {q.substr(0, split), q.substr(split + 2)};
  }
}

/// What a remotely callable function returns, without the `awaitable`: `int` for
/// `awaitable<int> f(...)`, `result<int>` for `awaitable<result<int>> f(...)`.
template <auto F>
using remote_result_t = typename detail::awaitable_value<
    typename detail::fn_traits<decltype(F)>::result_type>::type;

/// The value a caller finally gets: `result<remote_result_t>` flattened.
template <auto F>
using call_result_t = flat_result_t<remote_result_t<F>>;

/// The arguments a remote call of `F` carries, as one tuple.
template <auto F>
using args_tuple_t = typename detail::fn_traits<decltype(F)>::args_tuple;

/// True when `F` is a context function (its first parameter is a `context<S, Y>&`).
template <auto F>
inline constexpr bool is_context_fn = detail::fn_traits<decltype(F)>::is_context;

/// The `context<S, Y>` a context function takes.
template <auto F>
using context_type_t = typename detail::fn_traits<decltype(F)>::context_type;

/// True when `F` is one of the runtime's own requests (its first parameter is a
/// `runtime::request&`; see runtime/requests.hpp).
template <auto F>
inline constexpr bool is_request_fn = detail::fn_traits<decltype(F)>::is_request;

/// What the runtime hands a function it invokes besides its arguments: the callee's side of
/// the context (context functions), the call itself (runtime requests); null otherwise.
struct call_env {
  runtime::context_core* ctx = nullptr;
  runtime::request* req = nullptr;
};

/// A remotely callable function's entry: decode arguments, run, encode the value. Exceptions
/// propagate to the runtime, which boxes them; a failed `result` comes back as its error.
using invoke_fn = awaitable<result<msg::raw_pld>> (*)(const msg::raw_pld& args, call_env env);

/// One row of the dispatch table.
struct exposed_fn {
  function_name name;
  invoke_fn invoke;
  bool is_context;
};

template <codec::codec C, auto F>
awaitable<result<msg::raw_pld>> invoke_exposed(const msg::raw_pld& args, call_env env) {
  using tuple_t = args_tuple_t<F>;
  using value_t = remote_result_t<F>;
  auto decoded = codec::decode_pld<C, tuple_t>("Start", args);
  if (!decoded) co_return decoded.error();
  // A context function's typed context lives in this frame, for as long as `F` runs.
  [[maybe_unused]] auto typed = [&] {
    if constexpr (is_context_fn<F>) {
      return context_type_t<F>::template make<C>(*env.ctx);
    } else {
      return std::monostate{};
    }
  }();
  auto call = [&](auto&... a) {
    if constexpr (is_context_fn<F>) {
      return F(typed, std::move(a)...);
    } else if constexpr (is_request_fn<F>) {
      return F(*env.req, std::move(a)...);
    } else {
      return F(std::move(a)...);
    }
  };
  if constexpr (std::is_void_v<value_t>) {
    co_await std::apply(call, decoded.value());
    co_return C::encode_payload(std::monostate{});
  } else {
    value_t v = co_await std::apply(call, decoded.value());
    if constexpr (detail::is_result<value_t>::value) {
      if (!v) co_return std::move(v).error();
      if constexpr (std::is_void_v<typename value_t::value_type>) {
        co_return C::encode_payload(std::monostate{});
      } else {
        co_return C::encode_payload(v.value());
      }
    } else {
      co_return C::encode_payload(v);
    }
  }
}

namespace detail {
/// What `exposed` and `interface` share: a compile-time list of function pointers.
template <auto... Fs>
struct function_list {
  static_assert(((std::is_pointer_v<decltype(Fs)> &&
                  std::is_function_v<std::remove_pointer_t<decltype(Fs)>>) && ...),
                "tractor::exposed and tractor::interface take pointers to functions");

  /// True if `F` is in the list.
  template <auto F>
  static constexpr bool contains = (same_function<F, Fs>() || ...);
};
}  // namespace detail

/// The compile-time list of remotely callable functions (one registration route).
template <auto... Fs>
struct exposed : detail::function_list<Fs...> {
  /// The table the runtime dispatches on, for codec `C`.
  template <codec::codec C>
  static constexpr std::array<exposed_fn, sizeof...(Fs)> table() {
    return {exposed_fn{name_of<Fs>(), &invoke_exposed<C, Fs>, is_context_fn<Fs>}...};
  }
};

/// An actor's interface: the exposed functions a portal typed by it may call, checked at
/// compile time (CAF's typed actors, in tractor's terms).
///
///     using math_api = tractor::interface<&math::add, &math::mul>;
///     auto bob = co_await an.start_actor<math_api>("bob");   // result<portal<tree, math_api>>
///
/// A child started with an interface enables exactly its functions (no `enable_modules`
/// list needed); every function of it must also be in the tree's `exposed<...>` list.
template <auto... Fs>
struct interface : detail::function_list<Fs...> {
  /// True if every function of the interface is in the list `Exposed`.
  template <class Exposed>
  static constexpr bool within = (Exposed::template contains<Fs> && ...);

  /// What a child started with this interface enables: each function by its wire name,
  /// "ns.func" (a C++ namespace never contains a '.', so it cannot be mistaken for one).
  static std::vector<std::string> enabled_functions() {
    return {name_of<Fs>().str()...};
  }
};

}  // namespace tractor
