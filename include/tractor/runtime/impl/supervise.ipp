// Definitions for tractor/runtime/supervise.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/runtime/supervise.hpp>

#include <tractor/core/cancel_scope.hpp>

namespace tractor::runtime {

TRACTOR_DECL void one_shot_join::ended(const std::shared_ptr<one_shot_state>& s) {
  --running_;
  if (s->failed() && !s->taken) {
    if (body_ended_) {
      keep(*s);
    } else {
      pending_.push_back(s);  // the body may still take it with wait_for_result()
    }
  }
  cancel_rest_if_failed();
}

TRACTOR_DECL void one_shot_join::body_ended() {
  body_ended_ = true;
  for (const auto& s : pending_) {
    if (!s->taken) keep(*s);
  }
  pending_.clear();
  cancel_rest_if_failed();
}

TRACTOR_DECL void one_shot_join::keep(one_shot_state& s) {
  tasks_.keep_error(s.outcome->error());
  any_failed_ = true;
}

TRACTOR_DECL void one_shot_join::cancel_rest_if_failed() {
  if (body_ended_ && running_ == 0 && any_failed_) tasks_.cancel();
}

namespace detail {

/// The cancel request (`self.cancel`) from `self` to the actor behind `p`, answered on `lease`.
inline msg::msg cancel_request_to(peer& p, const mailbox_lease& lease, const msg::Aid& self) {
  return p.requests().start<&requests::cancel>(lease.cid(), {}, uid_of(self));
}

/// Logs whether `name` acknowledged the cancel request it was sent (`why_not`: how the
/// request ended otherwise).
inline void report_cancel_ack(std::string_view name, bool acked, std::string_view why_not) {
  if (acked) {
    logs::cancel.cancel("{} acknowledged our cancel request", name);
  } else {
    logs::cancel.cancel("{} did not acknowledge our cancel request{}", name, why_not);
  }
}

/// Sends the actor behind `p` a cancel request from `self`: the mailbox its acknowledgement
/// will come to, or null if the request could not be sent.
inline awaitable<std::unique_ptr<mailbox_lease>> send_cancel_request(peer& p, const msg::Aid& self) {
  auto lease = std::make_unique<mailbox_lease>(p);
  msg::msg start = cancel_request_to(p, *lease, self);
  auto sent = co_await p.send(std::move(start));
  if (!sent) lease.reset();
  co_return lease;
}

/// Waits at most `timeout` for the acknowledgement of the cancel request sent to `p` on
/// `lease` (null: it could not be sent), and logs how that ended.
inline awaitable<bool> await_cancel_ack(peer& p, mailbox_lease* lease, clock::duration timeout) {
  bool acked = false;
  if (lease) {
    auto wait_ack = [&]() -> awaitable<void> {
      for (;;) {
        auto m = co_await lease->box().receive();
        if (!m) co_return;
        if (auto* ack = std::get_if<msg::CancelAck>(&m.value())) {
          acked = ack->pld;
          co_return;
        }
      }
    };
    auto waited = co_await move_on_after(timeout, wait_ack());
    (void)waited;
  }
  report_cancel_ack(p.aid().name, acked, lease ? " in time" : " (the channel is gone)");
  co_return acked;
}

/// Asks `c` to cancel, keeping the request's mailbox in `c.cancel_request`, unless it was
/// asked already or has exited (a write to its closed channel would break the reading of
/// what it said before it went, `read_last_words`).
inline awaitable<void> ask_to_cancel(actor& a, child_record& c) {
  if (c.cancel_request || c.proc->poll()) co_return;
  logs::cancel.cancel("asking {} to cancel", c.name);
  c.cancel_request = co_await send_cancel_request(*c.link, a.aid());
}

/// `ask_to_cancel` without waiting, for a supervision's notice: the request is queued for the
/// channel's writer task, so that every child of a cancelled nursery is asked in the same turn
/// of the loop; if it cannot be queued (no writer, a full queue), the ladder asks.
inline void ask_at_once(actor& a, child_record& c) {
  if (c.cancel_request || !c.link || c.link->gone() || c.proc->poll()) return;
  auto lease = std::make_unique<mailbox_lease>(*c.link);
  const msg::msg start = cancel_request_to(*c.link, *lease, a.aid());
  if (!c.link->channel().try_send(start)) return;
  logs::cancel.cancel("asking {} to cancel", c.name);
  c.cancel_request = std::move(lease);
}

/// Once `c`'s channel has been read to its end: logs whether `c` acknowledged the cancel
/// request its supervision sent it, if one went (`Portal.cancel_actor()`'s answer).
inline void log_cancel_ack(child_record& c) {
  if (!c.cancel_request) return;
  bool acked = false;
  for (auto m = c.cancel_request->box().try_receive(); m && !acked; m = c.cancel_request->box().try_receive()) {
    if (auto* ack = std::get_if<msg::CancelAck>(&m.value())) acked = ack->pld;
  }
  report_cancel_ack(c.name, acked, " in time");
  c.cancel_request.reset();
}

}  // namespace detail

TRACTOR_DECL awaitable<bool> request_cancel(peer& p, const msg::Aid& self, clock::duration timeout) {
  const auto lease = co_await detail::send_cancel_request(p, self);
  const bool acked = co_await detail::await_cancel_ack(p, lease.get(), timeout);
  co_return acked;
}

/// Reads what a child that has exited left in its channel, up to the channel's end (bounded
/// by `cancel_ack`): its last words, such as the error a task raised while it was cancelled,
/// reach their mailboxes instead of being dropped with the unread bytes.
TRACTOR_DECL awaitable<void> read_last_words(actor& a, child_record& c) {
  if (!c.link || c.link->gone()) co_return;
  std::function<void(msg::Start)> no_new_work = [](msg::Start) {};
  auto read = co_await move_on_after(a.limits().cancel_ack, c.link->serve(std::move(no_new_work)));
  (void)read;
}

TRACTOR_DECL awaitable<void> let_child_go(actor& a, child_record& c) {
  // (Each co_await result is kept in a named local: g++ 12 mishandles co_await inside
  // conditions and temporaries in co_await operands.)
  if (c.proc->poll()) co_return;
  // Debug mode: nobody is cancelled while someone is stopped with the terminal, and the
  // ladder's timeouts start after (tractor's `maybe_wait_for_debugger`).
  if (a.debug().enabled) {
    logs::cancel.cancel("debug mode: waiting for any stopped actor before cancelling {}", c.name);
    co_await wait_for_debugger(a);
    logs::cancel.cancel("debug mode: nobody is stopped; cancelling {}", c.name);
  }
  if (c.proc->poll()) co_return;
  if (c.link && !c.link->gone()) co_await detail::ask_to_cancel(a, c);
  auto status = co_await move_on_after(a.limits().before_kill, wait_for_exit(c));
  if (status) co_return;
  logs::cancel.cancel("{} still running {} ms after the cancel request: SIGTERM", c.name,
                      std::chrono::duration_cast<std::chrono::milliseconds>(a.limits().before_kill).count());
  c.proc->terminate();
  auto terminated = co_await move_on_after(a.limits().cancel_ack, wait_for_exit(c));
  if (terminated) co_return;
  logs::cancel.warning("{} survived SIGTERM for {} ms: SIGKILL", c.name,
                       std::chrono::duration_cast<std::chrono::milliseconds>(a.limits().cancel_ack).count());
  c.proc->kill();
  auto killed = co_await wait_for_exit(c);
  if (killed.abandoned) {
    c.abandoned = error(make_error_code(runtime_errc::actor_failure),
                        "actor '" + c.name + "' ignored cancellation and was abandoned (" + killed.describe() + ")");
  }
}

TRACTOR_DECL awaitable<void> cancel_ladder(actor& a, child_record& c) {
  if (c.link && !c.link->gone() && !c.proc->poll()) {
    // Someone must read the child's answers while it is let go: its channel is served
    // meanwhile (no new work is taken from it).
    auto walked = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon("channel of " + c.name + " while it cancels", [&]() -> awaitable<void> {
        std::function<void(msg::Start)> no_new_work = [](msg::Start) {};
        auto why = co_await c.link->serve(std::move(no_new_work));
        (void)why;
      });
      co_await let_child_go(a, c);
      n.cancel();
    });
    (void)walked;
  } else {
    co_await let_child_go(a, c);
  }
  // However it ended, what it said before is read: an exit does not wait for its reader. (An
  // abandoned thread's channel stays open: nothing more will come that anyone waits for.)
  if (!c.abandoned) co_await read_last_words(a, c);
  detail::log_cancel_ack(c);
}

TRACTOR_DECL awaitable<result<void>> supervise(actor& a, std::shared_ptr<child_record> c) {
  // Its caller cancelled (its nursery, one-cancels-all), the supervision is not unwound: it
  // stops waiting for the child's own exit and lets the child go as its next step, its
  // channel served all along, as tractor's `ActorNursery.cancel()` asks each child and then
  // waits for it.
  cancel_scope until_let_go;
  auto supervision = [&]() -> awaitable<void> {
    // Runs once the spawn that made the child has returned, not on its time.
    co_await checkpoint();
    // Outside the nursery's body: the task that serves the channel sets it, and may end after
    // the body (whose locals end with it).
    event channel_ended;
    auto served = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon("channel of " + c->name, [&]() -> awaitable<void> {
        auto why = co_await a.serve_peer(c->link, n);
        (void)why;
        channel_ended.set();
      });
      auto exited = co_await until_let_go.run(wait_for_exit(*c));
      if (!exited) co_await let_child_go(a, *c);
      // What it said before it went is read to the channel's end (bounded): an exit does not
      // wait for its reader. (An abandoned thread's channel stays open.)
      if (!c->abandoned && !channel_ended.is_set()) {
        auto read = co_await move_on_after(a.limits().cancel_ack, channel_ended.wait());
        (void)read;
      }
      detail::log_cancel_ack(*c);
      n.cancel();  // what the child started here and left running
    });
    (void)served;
  };
  // (Named locals, not temporaries in the co_await operand: see CONTRIBUTING.md.)
  std::function<void()> notice = [&] {
    // (Not in debug mode: there the ladder asks, once nobody is stopped with the terminal.)
    if (!a.debug().enabled) detail::ask_at_once(a, *c);
    until_let_go.cancel();
  };
  auto work = supervision();
  co_await shield(std::move(work), std::move(notice));
  if (c->abandoned) co_return *c->abandoned;
  co_return success();
}

TRACTOR_DECL awaitable<void> supervise_one_shot(actor& a, std::shared_ptr<child_record> c, function_name fn,
                                          msg::raw_pld args, one_shot_state& st) {
  mailbox_lease lease(*c->link);
  auto& box = lease.box();
  auto& outcome = st.outcome;
  auto settle = [&](msg::msg& m) {
    if (outcome) return;
    if (auto* r = std::get_if<msg::Return>(&m)) outcome.emplace(std::move(r->pld));
    if (auto* e = std::get_if<msg::Error>(&m)) {
      // The cancellation this nursery asked for (the ladder's `self.cancel`) is no error.
      error err = c->link->unbox(*e);
      const bool ours = err == runtime_errc::context_cancelled &&
                        canceller_of(err) == describe_exactly(uid_of(a.aid()));
      if (!ours) outcome.emplace(std::move(err));
    }
  };
  auto run = [&]() -> awaitable<void> {
    auto served = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon("channel of " + c->name, a.serve_peer(c->link, n));
      msg::msg start = msg::Start{lease.cid(), std::string(fn.ns), std::string(fn.func),
                                  std::move(args), uid_of(a.aid())};
      auto sent = co_await c->link->send(std::move(start));
      if (!sent) outcome.emplace(sent.error());
      while (!outcome) {
        auto m = co_await box.receive();
        if (!m) break;  // the child went away; the ladder below reaps it
        settle(m.value());
      }
      n.cancel();
    });
    (void)served;
  };
  // Cancelled or not, the child is let go and its answer collected (shielded).
  auto let_go = [&]() -> awaitable<void> {
    co_await cancel_ladder(a, *c);
    for (auto m = box.try_receive(); m; m = box.try_receive()) settle(m.value());
    if (c->abandoned && (!outcome || *outcome)) outcome.emplace(*c->abandoned);
    st.done.set();
  };
  co_await finally(run(), let_go());
}

}  // namespace tractor::runtime
