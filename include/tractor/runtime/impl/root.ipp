// Definitions for tractor/runtime/root.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/runtime/root.hpp>

namespace tractor::runtime {

TRACTOR_DECL task<void> run_root(const policies& pol, root_options options, root_body body, root_exit& exit) {
  // Named locals first: no temporary with a destructor may share an expression with a
  // co_await (CONTRIBUTING.md).
  const boost::asio::any_io_executor ex = co_await boost::asio::this_coro::executor;
  spawn::raise_descriptor_limit();  // a root with a thousand children needs more than 1,024
  spawn::reserve_descriptor_table(root_descriptor_reserve);
  actor a(ex, msg::Aid{options.name, new_uuid(), ::getpid(), false, false}, pol);
  if (options.loglevel && !log::level_from_env()) a.log_from(*options.loglevel);
  if (options.enable_taskdump || taskdump_from_env()) a.enable_taskdump();
  a.debug().enabled = options.debug_mode || debug_mode_from_env();
  current_actor_scope is_current(a);
  const auto candidates = registry_candidates(a.pol(), options.registry_addrs);
  auto booted = co_await boot_root(a, candidates);
  if (!booted) {
    co_return error(booted.error().code(), "cannot start the root actor: " + booted.error().message());
  }
  exit.booted = true;
  std::vector<std::shared_ptr<peer>> registrations;
  auto serve = [&](nursery& n) -> task<void> {
    a.live_in(&n);
    n.start_soon("accept loop", a.accept_loop(n));
    // Ctrl-C (or SIGTERM) cancels the whole tree; every child is reaped before the root ends.
    if (options.cancel_on_signals) n.start_soon("SIGINT/SIGTERM watch", cancel_on_signal(exit.interrupted_by, a));
    if (a.taskdump()) n.start_soon("task-dump watch", task_dump_watch(a));
    // Another program's root is the registrar (or several are).
    BOOST_OUTCOME_CO_TRY(co_await register_remotely(a, registrations));
    auto out = co_await body(a);
    n.cancel();  // the body is done: stop serving
    co_return out;
  };
  auto res = co_await finally(open_nursery(serve), unregister_remotely(a, registrations));
  co_await a.acknowledge_cancel();
  co_return res;
}

TRACTOR_DECL int run_root_main(const policies& pol, root_options options, root_body body) {
  boost::asio::io_context ctx;
  root_exit exit;
  std::optional<result<void>> outcome;
  // The lambda itself goes to co_spawn, which keeps it alive while its coroutine runs.
  boost::asio::co_spawn(
      ctx,
      [&]() -> awaitable<void> { outcome = co_await run_root(pol, std::move(options), std::move(body), exit); },
      [&](std::exception_ptr e) {
        if (e) outcome = error::from_exception(e);
      });
  ctx.run();
  int code = 0;
  if (!outcome || !*outcome) {
    logs::root.error("{}{}", exit.booted ? "root failed: " : "",
                     outcome ? outcome->error().message() : "the root never finished");
    code = 1;
  }
  if (exit.interrupted_by) {
    logs::root.warning("interrupted by signal {}; tree cancelled", exit.interrupted_by);
    code = 128 + exit.interrupted_by;
  }
  return code;
}

}  // namespace tractor::runtime
