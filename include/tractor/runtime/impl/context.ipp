// Definitions for tractor/runtime/context.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/runtime/context.hpp>

namespace tractor::runtime {

TRACTOR_DECL awaitable<result<void>> run_caller_context(peer& p, const msg::Aid& self, function_name fn,
                                                  msg::raw_pld args, const timeouts& limits,
                                                  context_body body, stream_options buffering) {
  if (p.aid().uuid == self.uuid) {
    co_return error(make_error_code(runtime_errc::invalid_operation),
                    "Invalid Operation: a context with oneself (" + describe(uid_of(self)) + ")");
  }
  mailbox_lease lease(p);
  // Sized before the Start goes out: the callee may stream before this side opens its stream.
  p.set_mailbox_capacity(lease.cid(), buffering.buffer + (buffering.allow_overruns ? overrun_bound : 0));
  context_core core(p, lease.box(), self, lease.cid(), context_core::side::caller, fn);
  const tractor::detail::wait_note_scope in_context(core.note());
  msg::msg start = msg::Start{lease.cid(), std::string(fn.ns), std::string(fn.func),
                              std::move(args), uid_of(self)};
  auto sent = co_await p.send(std::move(start));
  if (!sent) co_return sent.error();

  std::optional<result<void>> body_result;
  auto run_block = [&]() -> awaitable<result<void>> {
    auto first = co_await core.receive_started();
    // Tractor's `Portal.open_context()`: a failure before started() comes out here
    if (!first) co_return first.error();
    cancel_scope scope;
    // tractor's `Context._maybe_cancel_and_set_remote_error()`
    core.on_remote_error = [&scope] { scope.cancel(); };
    // An error that arrived with the started value (same read) was seen before the hook.
    if (core.remote_error()) scope.cancel();
    auto ran = co_await scope.run(body(core, std::move(first).value()));
    core.on_remote_error = nullptr;
    if (ran) body_result = std::move(*ran);
    co_return success();
  };
  // Our caller was cancelled: so is the callee's task (bounded), then the cancellation goes on.
  auto cancel_callee = [&]() -> awaitable<void> {
    core.on_remote_error = nullptr;  // the block's scope is gone
    core.close_stream();
    if (!core.cancel_called()) co_await core.cancel(limits.context_cancel);
  };
  auto started = co_await on_cancel(run_block(), cancel_callee());
  if (!started) co_return started.error();
  core.close_stream();

  if (!body_result) {
    // The callee's error cancelled the block (tractor's
    // `Context._maybe_cancel_and_set_remote_error()`).
    if (core.remote_error()) co_return *core.remote_error();
    co_return error(make_error_code(runtime_errc::context_cancelled), "context block cancelled");
  }
  if (!*body_result) {
    // Tractor's `ctx.cancel()` on a failed block: the block failed; the callee is cancelled (its
    // cancellation absorbed) and the block's own error goes on.
    co_await core.cancel(limits.context_cancel);
    auto settle = [&]() -> awaitable<void> { (void)co_await core.wait_for_result(); };
    (void)co_await move_on_after(limits.context_cancel, settle());
    co_return std::move(*body_result).error();
  }
  // Tractor's `Context.wait_for_result()` at a clean exit: a normal exit waits for the callee's
  // result, bounded.
  auto settled = co_await fail_after(limits.context_result, core.wait_for_result());
  if (!settled) {
    if (settled.error() == errc::timeout) {
      co_await core.cancel(limits.context_cancel);
      co_return error(make_error_code(errc::timeout),
                      "the callee of context " + lease.cid() + " did not return within " +
                          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             limits.context_result)
                                             .count()) +
                          " ms of the block's end");
    }
    // Tractor's `Context._is_self_cancelled()`: absorbed
    if (core.is_own_cancel(settled.error())) co_return success();
    co_return settled.error();
  }
  co_return success();
}

}  // namespace tractor::runtime
