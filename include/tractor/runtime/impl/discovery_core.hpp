// Definitions for tractor/runtime/discovery_core.hpp.
#pragma once

#include <tractor/core/cancel_scope.hpp>

namespace tractor::runtime {

namespace detail {
/// The registrar's requests that wait for as long as it takes (no `registrar_answer` bound).
template <auto F>
inline constexpr bool waits_for_long = false;
template <>
inline constexpr bool waits_for_long<&requests::wait_for_actor> = true;

/// `F` asked of the registrar at `reg` over its channel `p`: the answer within
/// `registrar_answer` (unless `F` waits for long), else an error naming `reg`; a channel that
/// closes meanwhile is forgotten, so that the next request connects afresh.
template <auto F>
awaitable<result<typename request_codec<F>::value_type>> ask_over(actor& a, const transport::multiaddr& reg,
                                                                 std::shared_ptr<peer> p, args_tuple_t<F> args) {
  auto asking = ask<F>(*p, a.aid(), std::move(args), a.limits().cancel_ack);
  result<typename request_codec<F>::value_type> r = errc::would_block;
  if constexpr (waits_for_long<F>) {
    r = co_await std::move(asking);
  } else {
    r = co_await fail_after(a.limits().registrar_answer, std::move(asking));
    if (!r && r.error() == errc::timeout) co_return registrar_silent(a, reg);
  }
  if (!r && r.error() == wire_errc::transport_closed) {
    a.forget_peer(reg.str(), p);
    co_return error(make_error_code(wire_errc::transport_closed),
                    "the registrar at " + reg.str() + " is unreachable: " + r.error().message());
  }
  co_return r;
}

}  // namespace detail

template <auto F>
awaitable<result<typename request_codec<F>::value_type>> ask_registrar_at(actor& a, transport::multiaddr reg,
                                                                         args_tuple_t<F> args) {
  if (a.registry() && a.listens_at(reg)) {
    // The registrar asking itself: the same request, without a channel.
    const msg::Start none{{}, std::string(request_ns), std::string(name_of<F>().func), {}, uid_of(a.aid())};
    const std::shared_ptr<peer> no_peer;
    request self_request{a, no_peer, none};
    auto call_it = [&](auto&... v) { return F(self_request, std::move(v)...); };
    co_return co_await std::apply(call_it, args);
  }
  BOOST_OUTCOME_CO_TRY(auto p, co_await connect_registrar(a, reg));
  co_return co_await detail::ask_over<F>(a, reg, std::move(p), std::move(args));
}

template <auto F>
awaitable<result<typename request_codec<F>::value_type>> ask_registrar(actor& a, args_tuple_t<F> args) {
  BOOST_OUTCOME_CO_TRY(auto reg, first_registrar(a));
  co_return co_await ask_registrar_at<F>(a, reg, std::move(args));
}

}  // namespace tractor::runtime
