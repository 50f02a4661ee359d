// Definitions for tractor/runtime/tree.hpp: thin typed front ends over the non-template
// spawn protocol (spawn_child.hpp), supervision (supervise.hpp) and calls (peer.hpp).
#pragma once

#include <tractor/core/cancel_scope.hpp>

namespace tractor {

template <class Tree>
template <auto F, class... Args>
  requires std::is_invocable_v<decltype(F), Args...>
awaitable<call_result_t<F>> portal<Tree>::run(Args&&... args) {
  static_assert(Tree::exposed_type::template contains<F>,
                "portal::run<F>: F is not in the tree's tractor::exposed<...> list");
  using C = typename Tree::codec_type;
  const args_tuple_t<F> arguments{std::forward<Args>(args)...};
  auto kwargs = C::encode_payload(arguments);
  auto r = co_await runtime::call(*peer_, self_->aid(), name_of<F>(), std::move(kwargs),
                                  self_->limits.cancel_ack);
  if (!r) co_return r.error();
  using value_type = typename call_result_t<F>::value_type;
  if constexpr (std::is_void_v<value_type>) {
    co_return success();
  } else {
    co_return codec::decode_pld<C, value_type>("Return", r.value());
  }
}

template <class Tree>
template <auto F, class Body, class... Args>
  requires is_context_fn<F> && (!std::is_same_v<std::remove_cvref_t<Body>, stream_options>)
awaitable<result<void>> portal<Tree>::open_context(Body body, Args&&... args) {
  co_return co_await open_context<F>(stream_options{}, std::move(body), std::forward<Args>(args)...);
}

template <class Tree>
template <auto F, class Body, class... Args>
  requires is_context_fn<F>
awaitable<result<void>> portal<Tree>::open_context(stream_options buffering, Body body, Args&&... args) {
  static_assert(Tree::exposed_type::template contains<F>,
                "portal::open_context<F>: F is not in the tree's tractor::exposed<...> list");
  using C = typename Tree::codec_type;
  using ctx_t = caller_context<F>;
  const args_tuple_t<F> arguments{std::forward<Args>(args)...};
  auto kwargs = C::encode_payload(arguments);
  const clock::duration cancel_bound = self_->limits.context_cancel;
  runtime::context_body erased = [&body, cancel_bound](runtime::context_core& core,
                                                       msg::raw_pld first) -> awaitable<result<void>> {
    auto value = codec::decode_pld<C, typename ctx_t::started_type>("Started", first);
    if (!value) co_return value.error();
    ctx_t ctx(core, cancel_bound, static_cast<C*>(nullptr));
    co_return co_await body(ctx, std::move(value).value());
  };
  co_return co_await runtime::run_caller_context(*peer_, self_->aid(), name_of<F>(), std::move(kwargs),
                                                 self_->limits, std::move(erased), buffering);
}

template <class Tree>
awaitable<bool> portal<Tree>::cancel_actor() {
  return runtime::request_cancel(*peer_, self_->aid(), self_->limits.cancel_ack);
}

template <class Tree>
awaitable<result<portal<Tree>>> actor_nursery<Tree>::start_actor(std::string name,
                                                                actor_options options) {
  auto c = co_await runtime::spawn_child(self_, std::move(name), options.enable_modules);
  if (!c) co_return c.error();
  tasks_.start_soon(runtime::supervise(self_, c.value()));
  co_return portal<Tree>(self_, c.value()->link);
}

template <class Tree>
template <auto F, class... Args>
  requires std::is_invocable_v<decltype(F), Args...>
awaitable<result<one_shot<Tree, F>>> actor_nursery<Tree>::run_in_actor(std::string name,
                                                                       Args&&... args) {
  static_assert(Tree::exposed_type::template contains<F>,
                "run_in_actor<F>: F is not in the tree's tractor::exposed<...> list");
  using C = typename Tree::codec_type;
  const args_tuple_t<F> arguments{std::forward<Args>(args)...};
  auto kwargs = C::encode_payload(arguments);
  const std::vector<std::string> ns{std::string(name_of<F>().ns)};
  auto c = co_await runtime::spawn_child(self_, std::move(name), ns);
  if (!c) co_return c.error();
  auto st = std::make_shared<runtime::one_shot_state>();
  one_shots_.started();
  tasks_.start_soon([&self = self_, &join = one_shots_, child = c.value(), kwargs = std::move(kwargs),
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

template <class Tree>
template <class Body>
awaitable<result<void>> root<Tree>::open_nursery(Body body) {
  co_return co_await open_actor_nursery<Tree>(std::move(body));
}

template <class Tree, class Body>
awaitable<result<void>> open_actor_nursery(Body body) {
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

template <class Tree>
awaitable<result<portal<Tree>>> connect_to(const transport::multiaddr& address) {
  runtime::actor* self = runtime::current_actor();
  if (!self || !self->lifetime) {
    co_return error(make_error_code(runtime_errc::actor_failure), "connect_to called outside any actor");
  }
  auto p = co_await runtime::connect_peer(*self, address);
  if (!p) co_return p.error();
  co_return portal<Tree>(*self, std::move(p).value());
}

template <class Tree, class Body>
int run_main(int argc, char** argv, Body body) {
  return run_main<Tree>(argc, argv, root_options{}, std::move(body));
}

template <class Tree, class Body>
int run_main(int /*argc*/, char** /*argv*/, root_options options, Body body) {
  // Checked first: a child's exposed function calling run_main is in a child process too.
  auto claim = runtime::root_claim::acquire();
  if (!claim) {
    fmt::print(stderr, "tractor: {}\n", claim.error().message());
    return 1;
  }
  if (runtime::is_child_process()) return runtime::child_main(Tree::policies());
  // Set up before this root's event loop exists (the forkserver forks its server here).
  [[maybe_unused]] const spawn::session<typename Tree::spawn_type> backend_session;
  boost::asio::io_context ctx;
  int code = 0;
  // The lambda itself goes to co_spawn, which keeps it alive while its coroutine runs (an
  // invoked temporary would leave the coroutine with dangling captures).
  boost::asio::co_spawn(
      ctx,
      [&]() -> awaitable<void> {
        runtime::actor a(ctx.get_executor(), msg::Aid{options.name, runtime::new_uuid(), ::getpid(), false, false},
                         Tree::policies());
        runtime::current_actor_scope is_current(a);
        const auto candidates = runtime::registry_candidates(a.pol(), options.registry_addrs);
        auto booted = co_await runtime::boot_root(a, candidates);
        if (!booted) {
          fmt::print(stderr, "tractor: cannot start the root actor: {}\n", booted.error().message());
          code = 1;
          co_return;
        }
        root<Tree> r(a);
        int interrupted_by = 0;
        std::shared_ptr<runtime::peer> registration;
        auto res = co_await tractor::open_nursery([&](nursery& n) -> awaitable<result<void>> {
          a.lifetime = &n;
          n.start_soon(a.accept_loop(n));
          // Ctrl-C (or SIGTERM) cancels the whole tree; every child is reaped before exit.
          n.start_soon(runtime::cancel_on_signal(n, interrupted_by));
          if (!a.registry) {  // another program's root is the registrar
            auto registered = co_await runtime::register_remotely(a);
            if (!registered) co_return registered.error();
            registration = registered.value();
          }
          auto out = co_await body(r);
          n.cancel();  // the body is done: stop serving
          co_return out;
        });
        if (registration) co_await runtime::unregister_over(a, *registration);
        co_await a.acknowledge_cancel();
        if (!res) {
          fmt::print(stderr, "tractor: root failed: {}\n", res.error().message());
          code = 1;
        }
        if (interrupted_by) {
          fmt::print(stderr, "tractor: interrupted by signal {}; tree cancelled\n", interrupted_by);
          code = 128 + interrupted_by;
        }
      },
      [&](std::exception_ptr e) {
        if (e) code = 1;
      });
  ctx.run();
  return code;
}

}  // namespace tractor
