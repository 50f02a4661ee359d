// Definitions for tractor/runtime/root.hpp.
#pragma once

namespace tractor {

namespace detail {

/// `body` as the runtime runs it: in the root's actor nursery (the flat form), or given the
/// root.
template <class Tree, class Body>
runtime::root_body erase_root_body(Body body) {
  if constexpr (std::is_invocable_v<Body&, actor_nursery<Tree>&>) {
    return [body = std::move(body)](runtime::actor&) mutable -> task<void> {
      return open_actor_nursery<Tree>(std::ref(body));
    };
  } else {
    static_assert(std::is_invocable_v<Body&, root<Tree>&>,
                  "tractor: a root's body takes an actor_nursery<Tree>& or a root<Tree>&");
    // A coroutine lambda: its frame refers to the closure, which the root_body owns for the
    // root's lifetime.
    return [body = std::move(body)](runtime::actor& a) mutable -> task<void> {
      root<Tree> r(a);
      co_return co_await body(r);
    };
  }
}

}  // namespace detail

template <class Tree, class Body>
int run_main(int argc, char** argv, Body body) {
  return run_main<Tree>(argc, argv, root_options{}, std::move(body));
}

template <class Tree, class Body>
int run_main(int /*argc*/, char** /*argv*/, root_options options, Body body) {
  // Checked first: a child's exposed function calling run_main is in a child process too.
  auto claim = runtime::root_claim::acquire();
  if (!claim) {
    runtime::logs::root.error("{}", claim.error().message());
    return 1;
  }
  if (runtime::is_child_process()) return runtime::child_main(Tree::policies());
  // Set up before this root's event loop exists (the forkserver forks its server here).
  [[maybe_unused]] const spawn::session<typename Tree::spawn_type> backend_session;
  return runtime::run_root_main(Tree::policies(), std::move(options), detail::erase_root_body<Tree>(std::move(body)));
}

namespace detail {

template <class Tree>
awaitable<void> run_embedded_root(root_options options, runtime::root_body body,
                                  std::shared_ptr<std::optional<result<void>>> out) {
  auto claim = runtime::root_claim::acquire();
  if (!claim) {
    *out = claim.error();
    co_return;
  }
  // Held for the root's lifetime (the forkserver's server, unless the program started it).
  [[maybe_unused]] const spawn::session<typename Tree::spawn_type> backend_session;
  runtime::root_exit exit;
  auto r = co_await runtime::run_root(Tree::policies(), std::move(options), std::move(body), exit);
  if (r && exit.interrupted_by) {
    r = error(make_error_code(errc::cancelled),
              fmt::format("interrupted by signal {}; tree cancelled", exit.interrupted_by));
  }
  *out = std::move(r);
}

}  // namespace detail

template <class Tree, class Body, class CompletionToken>
auto async_run_root(boost::asio::any_io_executor ex, root_options options, Body body,
                    CompletionToken&& token) {
  auto initiate = [](auto handler, boost::asio::any_io_executor on, root_options o, runtime::root_body b) {
    // The result goes beside co_spawn's own completion, which can carry only a
    // default-constructible value (a result<void> is not).
    auto out = std::make_shared<std::optional<result<void>>>();
    // The caller's cancellation slot reaches the root's coroutine (co_spawn honours the
    // slot of the handler it is given).
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    boost::asio::co_spawn(
        std::move(on), detail::run_embedded_root<Tree>(std::move(o), std::move(b), out),
        boost::asio::bind_cancellation_slot(slot, [h = std::move(handler), out](std::exception_ptr e) mutable {
          if (e) *out = error::from_exception(e);
          std::move(h)(std::move(**out));
        }));
  };
  return boost::asio::async_initiate<CompletionToken, void(result<void>)>(
      std::move(initiate), token, std::move(ex), std::move(options),
      detail::erase_root_body<Tree>(std::move(body)));
}

template <class Tree>
std::optional<int> run_if_child() {
  if (!runtime::is_child_process()) return std::nullopt;
  return runtime::child_main(Tree::policies());
}

}  // namespace tractor
