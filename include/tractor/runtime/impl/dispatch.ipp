// Definitions for tractor/runtime/actor.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp); RPC dispatch.
// Each `Start` a peer sends runs as a task of the actor (tractor's `_invoke`): looked up in the
// tree's table (user functions, and the runtime's own requests under ns "self"), acknowledged,
// run, and answered with its value or its boxed error; registered by cid while it runs, so that
// it can be cancelled.
#pragma once

#include <tractor/runtime/actor.hpp>

namespace tractor::runtime {

TRACTOR_DECL awaitable<void> actor::reply(peer& p, msg::msg m) {
  (void)co_await p.send(std::move(m));  // a peer gone meanwhile is its serve loop's business
}

TRACTOR_DECL void actor::start_task(std::shared_ptr<peer> p, msg::Start s, nursery& n) {
  auto [entry, fresh] = running_.try_emplace(s.cid);
  if (!fresh) {
    // A peer reusing the cid of a task still running here: refused, the running task kept.
    const error dup(make_error_code(runtime_errc::protocol_error),
                    "a task with cid " + s.cid + " is already running in " + describe(uid_of(self_)));
    n.start_soon("refusal of a duplicate cid",
                 [this, p, e = msg::msg(box_error(dup, self_, s.cid))]() -> awaitable<void> { co_await reply(*p, e); });
    return;
  }
  // Named as tractor's RPC tasks read in a dump: the function, and for whom it runs.
  std::string name;
  name.reserve(s.ns.size() + s.func.size() + s.uid.first.size() + 15);
  name.append(s.ns).append(".").append(s.func);
  name.append(" for ").append(s.uid.first).append("@").append(logs::short8(s.uid.second));
  n.start_soon(std::move(name), handle_start(std::move(p), std::move(s)), &entry->second.task);
}

TRACTOR_DECL void actor::cancel_at_request(std::shared_ptr<peer> by, const msg::Start& s) {
  logs::cancel.cancel("cancel requested by {}", logs::short_uid{s.uid});
  cancel_requested_by_ = {std::move(by), s.cid};
  cancel_requester_ = s.uid;
  end_lifetime("cancel request");
}

TRACTOR_DECL void actor::end_lifetime(std::string why) {
  if (!lifetime_) return;
  if (!debug_.enabled || !debug_.busy()) {
    logs::cancel.cancel("{}: cancelling this actor", why);
    return lifetime_->cancel();
  }
  // Debug mode: keep serving (the terminal lock's channels among them) until nobody is
  // stopped, then end.
  logs::cancel.cancel("{}: debug mode: waiting for any stopped actor before cancelling this actor", why);
  lifetime_->start_soon("cancel once nobody is stopped", [this, why = std::move(why)]() -> awaitable<void> {
    co_await wait_for_debugger(*this);
    logs::cancel.cancel("{}: cancelling this actor", why);
    if (lifetime_) lifetime_->cancel();
  });
}

TRACTOR_DECL result<const exposed_fn*> actor::find_function(const msg::Start& s) const {
  // The runtime's own requests ("self") are always callable; a user's function only if
  // enabled here.
  // Functions sharing a wire name (overloads): the last one listed answers.
  const bool runtime_request = s.ns == request_ns;
  const exposed_fn* found = nullptr;
  for (const auto& f : runtime_request ? pol_.requests.table : pol_.functions) {
    if (f.name.ns == s.ns && f.name.func == s.func) found = &f;
  }
  if (found && (runtime_request || enabled_.allows(s.ns, s.func))) return found;
  if (found) {
    return error(make_error_code(runtime_errc::module_not_exposed),
                 "neither namespace '" + s.ns + "' nor function " + s.ns + "." + s.func +
                     " is enabled in " + describe(uid_of(self_)));
  }
  return error(make_error_code(runtime_errc::unknown_function),
               std::string(runtime_request ? "no runtime request " : "no exposed function ") + s.ns + "." +
                   s.func + " in " + describe(uid_of(self_)));
}

TRACTOR_DECL awaitable<void> actor::handle_start(std::shared_ptr<peer> p, msg::Start s) {
  const std::string cid = s.cid;
  // Registered by `start_task`; forgotten when this task ends, however it ends.
  struct unregister {
    std::map<std::string, running_task>& running;
    const std::string& cid;
    ~unregister() { running.erase(cid); }
  } on_exit{running_, cid};

  const result<const exposed_fn*> looked_up = find_function(s);
  if (!looked_up) {
    logs::rpc.warning("refused {}.{} from {}: {}", s.ns, s.func, logs::short_uid{s.uid}, looked_up.error().message());
    msg::msg e = box_error(looked_up.error(), self_, cid);
    co_await reply(*p, std::move(e));
    co_return;
  }
  const exposed_fn* found = looked_up.value();
  logs::rpc.runtime("{} {}.{} for {} (cid {})", found->is_context ? "context" : "call", s.ns, s.func,
                    logs::short_uid{s.uid}, cid);
  // A context's mailbox opens before this task first waits, so no item the caller sends
  // after its Start can miss it (the receive loop dispatches the next message only then).
  std::optional<context_core> ctx;
  struct close_box {
    peer& p;
    const std::string& cid;
    bool open;
    ~close_box() {
      if (open) p.close_mailbox(cid);
    }
  } on_exit_box{*p, cid, found->is_context};
  if (found->is_context) {
    ctx.emplace(*p, p->open_mailbox(cid), self_, cid, context_core::side::callee, function_name{s.ns, s.func});
    ctx->cancel_self = [this, cid] { (void)cancel_task(cid, uid_of(self_)); };
  }
  msg::msg ack = msg::StartAck{cid, found->is_context ? "context" : "asyncfunc"};
  (void)co_await p->post(std::move(ack));  // leaves with the answer when that comes at once
  // The actor boundary: user exceptions become boxed errors for the caller. A cancellation is this
  // task's own (`self.cancel_task`, or the context cancelling itself), or this actor's at a peer's
  // request (both answered with an error naming the canceller, tractor's
  // `ContextCancelled.canceller`), or the actor's teardown for another reason (passed through).
  result<msg::raw_pld> r = error();
  std::optional<msg::uid> cancelled_by;
  request req{*this, p, s};
  const call_env env{ctx ? &*ctx : nullptr, &req};
  std::optional<tractor::detail::wait_note_scope> in_context;
  if (ctx) in_context.emplace(ctx->note());
  try {
    r = co_await found->invoke(s.kwargs, env);
  } catch (...) {
    if (!is_cancellation(std::current_exception())) {
      r = error::from_exception(std::current_exception());
    } else if (cancelled_by = running_.at(cid).cancelled_by; !cancelled_by && !cancel_requester_) {
      throw;
    } else {
      if (!cancelled_by) cancelled_by = cancel_requester_;
      const bool itself = *cancelled_by == uid_of(self_);
      r = tractor::cancelled_by(make_error_code(runtime_errc::context_cancelled),
                                "task " + s.ns + "." + s.func + " in " + describe(uid_of(self_)) +
                                    (itself ? " cancelled itself" : " cancelled by " + describe(*cancelled_by)),
                                describe_exactly(*cancelled_by));
    }
  }
  in_context.reset();
  if (ctx) {
    // A misuse the function ignored still reaches the caller (tractor's `Context.started()` rules);
    // an open stream is closed before the result, so the caller's receive ends first.
    if (r && ctx->misuse()) r = *ctx->misuse();
    ctx->close_stream();
  }
  if (!r) {
    const bool relayed_cancel = r.error().code() == make_error_code(runtime_errc::context_cancelled);
    const log::level l = relayed_cancel ? log::level::cancel : log::level::runtime;
    if (logs::rpc.enabled(l)) {  // (the message is built only for a line that is written)
      (relayed_cancel ? logs::cancel : logs::rpc)
          .log(l, "{}.{} for {} ended: {}; relaying it", s.ns, s.func, logs::short_uid{s.uid}, r.error().message());
    }
  } else {
    logs::rpc.runtime("{}.{} for {} returned", s.ns, s.func, logs::short_uid{s.uid});
  }
  if (r && req.answered) co_return;  // a cancel request: its CancelAck is its answer
  msg::msg out = r ? msg::msg(msg::Return{cid, std::move(r).value()})
                   : msg::msg(box_error(r.error(), self_, cid));
  // The answer goes out even if this task is being cancelled (an error raised during
  // cancellation must reach the caller), so the send is not refused here.
  const bool checked = co_await boost::asio::this_coro::throw_if_cancelled();
  co_await boost::asio::this_coro::throw_if_cancelled(false);
  if (!r && debug_.enabled && s.ns != request_ns && should_stop_for(r.error())) {
    // Debug mode: stop here, with the terminal, before the error goes on (runtime/debug.hpp).
    co_await debug_stop(*this, s.ns + "." + s.func + " for " + describe(s.uid) + " failed: " + r.error().message());
  }
  co_await reply(*p, std::move(out));
  co_await boost::asio::this_coro::throw_if_cancelled(checked);
}

TRACTOR_DECL bool actor::cancel_task(const std::string& target, const msg::uid& requester) {
  auto it = running_.find(target);
  if (it == running_.end()) return false;  // finished already (or never ran here)
  logs::cancel.cancel("cancelling task {} at the request of {}", target, logs::short_uid{requester});
  it->second.cancelled_by = requester;
  it->second.task.cancel();
  return true;
}

}  // namespace tractor::runtime
