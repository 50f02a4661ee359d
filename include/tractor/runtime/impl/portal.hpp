// Definitions for tractor/runtime/portal.hpp: thin typed front ends over the non-template
// spawn protocol (spawn_child.hpp), supervision (supervise.hpp) and calls (peer.hpp).
#pragma once

#include <tractor/core/cancel_scope.hpp>

namespace tractor {

template <class Tree, class Api>
template <auto F, class... Args>
awaitable<call_result_t<F>> portal<Tree, Api>::run(Args&&... args) {
  static_assert(!is_context_fn<F>, "tractor: portal::run<F>: F is a context function; use open_context<F>");
  static_assert(detail::call_check<Tree, Api, F, Args...>::ok);
  using C = typename Tree::codec_type;
  const args_tuple_t<F> arguments{std::forward<Args>(args)...};
  auto kwargs = C::encode_payload(arguments);
  auto r = co_await runtime::call(*peer_, self_->aid(), name_of<F>(), std::move(kwargs),
                                  self_->limits().cancel_ack);
  if (!r) co_return r.error();
  using value_type = typename call_result_t<F>::value_type;
  if constexpr (std::is_void_v<value_type>) {
    co_return success();
  } else {
    co_return codec::decode_pld<C, value_type>("Return", r.value());
  }
}

template <class Tree, class Api>
template <auto F, class Body, class... Args>
  requires is_context_fn<F> && (!std::is_same_v<std::remove_cvref_t<Body>, stream_options>)
task<void> portal<Tree, Api>::open_context(Body body, Args&&... args) {
  co_return co_await open_context<F>(stream_options{}, std::move(body), std::forward<Args>(args)...);
}

template <class Tree, class Api>
template <auto F, class Body, class... Args>
  requires is_context_fn<F>
task<void> portal<Tree, Api>::open_context(stream_options buffering, Body body, Args&&... args) {
  static_assert(detail::call_check<Tree, Api, F, Args...>::ok);
  using C = typename Tree::codec_type;
  using ctx_t = caller_context<F>;
  const args_tuple_t<F> arguments{std::forward<Args>(args)...};
  auto kwargs = C::encode_payload(arguments);
  const clock::duration cancel_bound = self_->limits().context_cancel;
  runtime::context_body erased = [&body, cancel_bound](runtime::context_core& core,
                                                       msg::raw_pld first) -> awaitable<result<void>> {
    auto value = codec::decode_pld<C, typename ctx_t::started_type>("Started", first);
    if (!value) co_return value.error();
    ctx_t ctx(core, cancel_bound, static_cast<C*>(nullptr));
    co_return co_await body(ctx, std::move(value).value());
  };
  co_return co_await runtime::run_caller_context(*peer_, self_->aid(), name_of<F>(), std::move(kwargs),
                                                 self_->limits(), std::move(erased), buffering);
}

template <class Tree, class Api>
awaitable<bool> portal<Tree, Api>::cancel_actor() {
  return runtime::request_cancel(*peer_, self_->aid(), self_->limits().cancel_ack);
}

template <class Tree>
template <class Api>
task<portal<Tree, Api>> actor_nursery<Tree>::start_actor(std::string name, actor_options options) {
  std::vector<std::string> enabled = std::move(options.enable_modules);
  if constexpr (!std::is_same_v<Api, typename Tree::exposed_type>) {
    static_assert(Api::template within<typename Tree::exposed_type>,
                  "tractor: start_actor<Api>: a function of the interface is not in the tree's "
                  "tractor::exposed<...> list");
    for (auto& f : Api::enabled_functions()) enabled.push_back(std::move(f));
  }
  auto c = co_await runtime::spawn_child(self_, std::move(name), enabled, options.loglevel, options.debug_mode);
  if (!c) co_return c.error();
  tasks_.start_soon("supervision of " + c.value()->name, runtime::supervise(self_, c.value()));
  co_return portal<Tree, Api>(self_, c.value()->link);
}

template <class Tree>
template <auto F, class... Args>
task<one_shot<Tree, F>> actor_nursery<Tree>::run_in_actor(std::string name, Args&&... args) {
  static_assert(!is_context_fn<F>, "tractor: run_in_actor<F>: F is a context function");
  static_assert(detail::call_check<Tree, typename Tree::exposed_type, F, Args...>::ok);
  using C = typename Tree::codec_type;
  const args_tuple_t<F> arguments{std::forward<Args>(args)...};
  auto kwargs = C::encode_payload(arguments);
  const std::vector<std::string> ns{std::string(name_of<F>().ns)};
  auto c = co_await runtime::spawn_child(self_, std::move(name), ns);
  if (!c) co_return c.error();
  auto st = std::make_shared<runtime::one_shot_state>();
  one_shots_.started();
  tasks_.start_soon("one-shot " + name_of<F>().str() + " in " + c.value()->name,
                    [&self = self_, &join = one_shots_, child = c.value(), kwargs = std::move(kwargs),
                     st]() mutable -> awaitable<void> {
    // Its error is collected when the nursery joins (`one_shot_join`), not returned here:
    // a one-shot failure does not cancel the body or its siblings.
    struct report_end {
      runtime::one_shot_join& join;
      const std::shared_ptr<runtime::one_shot_state>& st;
      ~report_end() { join.ended(st); }
    } on_exit{join, st};
    co_await runtime::supervise_one_shot(self, child, name_of<F>(), std::move(kwargs), *st);
  });
  co_return one_shot<Tree, F>(portal<Tree>(self_, c.value()->link), st);
}

template <class Tree, auto F>
awaitable<call_result_t<F>> one_shot<Tree, F>::wait_for_result() {
  co_await state_->done.wait();
  state_->taken = true;
  if (!state_->outcome) {
    co_return error(make_error_code(errc::cancelled), "the one-shot actor was cancelled");
  }
  auto& r = *state_->outcome;
  if (!r) co_return r.error();
  using value_type = typename call_result_t<F>::value_type;
  if constexpr (std::is_void_v<value_type>) {
    co_return success();
  } else {
    co_return codec::decode_pld<typename Tree::codec_type, value_type>("Return", r.value());
  }
}

template <class Tree, class Body>
task<void> open_actor_nursery(Body body) {
  runtime::actor* self = runtime::current_actor();
  if (!self) {
    co_return error(make_error_code(runtime_errc::actor_failure),
                    "open_actor_nursery called outside any actor");
  }
  std::optional<runtime::one_shot_join> one_shots;  // outlives the tasks that report to it
  co_return co_await tractor::open_nursery([&](nursery& tasks) -> awaitable<result<void>> {
    one_shots.emplace(tasks);
    actor_nursery<Tree> an(*self, tasks, *one_shots);
    // However the body ends (a value, an error, or cancellation), one-shot results are
    // collected from then on.
    struct body_ends {
      runtime::one_shot_join& join;
      ~body_ends() { join.body_ended(); }
    } on_exit{*one_shots};
    co_return co_await body(an);
  });
}

template <class Tree, class Api>
task<portal<Tree, Api>> connect_to(const transport::multiaddr& address) {
  runtime::actor* self = runtime::current_actor();
  if (!self || !self->lifetime()) {
    co_return error(make_error_code(runtime_errc::actor_failure), "connect_to called outside any actor");
  }
  auto p = co_await runtime::connect_peer(*self, address);
  if (!p) co_return p.error();
  co_return portal<Tree, Api>(*self, std::move(p).value());
}

}  // namespace tractor
