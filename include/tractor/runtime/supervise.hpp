// tractor/runtime/supervise.hpp — how a parent supervises its children: the kill ladder,
// a daemon's supervision, a one-shot child's single call, and how one-shot results are
// collected when the actor nursery joins.
//
// tractor's rules (runtime/_supervise.py, `_open_and_supervise_one_cancels_all_nursery`;
// _spawn.py, `cancel_on_completion` and `hard_kill`):
// - An error of the nursery's body, of a `portal.run` awaited in it, or of a daemon's
//   supervision cancels every child at once (one-cancels-all).
// - A one-shot (`run_in_actor`) child's error is not acted on when it arrives: it is kept,
//   and collected when the body has ended and every one-shot child has finished. Only then,
//   if any failed, are the remaining children (daemons) cancelled. So the same children
//   give the same errors whatever the order and timing of their failures.
// - A one-shot result the body took with `wait_for_result()` is the body's: the body
//   handles or returns it, and the join does not report it a second time.
#pragma once

#include <tractor/config.hpp>

#include <tractor/runtime/actor.hpp>
#include <tractor/spawn/process.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tractor::runtime {

/// A child as its parent tracks it.
struct child_record {
  std::string name;
  std::unique_ptr<spawn::child_handle> proc;
  std::shared_ptr<peer> link;
  /// Set when the kill ladder had to abandon the child (a thread actor deaf to cancellation).
  std::optional<error> abandoned = {};
  /// The mailbox of the cancel request the ladder sent it, if one went: its acknowledgement
  /// arrives there, and is logged once the channel has been read to its end.
  std::unique_ptr<mailbox_lease> cancel_request;
  /// The actor listing it among its children (`actor::children`), once it has booted.
  actor* listed_in = nullptr;

  child_record() = default;
  child_record(const child_record&) = delete;
  child_record& operator=(const child_record&) = delete;
  ~child_record() {
    if (listed_in) listed_in->untrack_child(this);
  }
};

/// Waits for `c` to exit; a task-tree dump shows the wait as the exit of that child.
///
/// Cancellation: interrupted at once; the child runs on.
inline awaitable<spawn::exit_status> wait_for_exit(const child_record& c) {
  static constexpr auto describe = [](const void* self, std::string& out) {
    const auto* r = static_cast<const child_record*>(self);
    out += r->name + " (pid " + std::to_string(r->proc->pid()) + ")";
  };
  const tractor::detail::wait_note_scope note(
      tractor::detail::wait_note{.what = "the exit of child actor", .detail = describe, .subject = &c});
  co_return co_await c.proc->wait();
}

/// A one-shot child's result as its supervision and its `one_shot` handle share it.
struct one_shot_state {
  event done;
  /// The call's value or error; empty if the child was cancelled before it answered.
  std::optional<result<msg::raw_pld>> outcome;
  /// Set when the body took the outcome with `wait_for_result()`.
  bool taken = false;
  [[nodiscard]] bool failed() const noexcept { return outcome && !*outcome; }
};

/// The join of an actor nursery's one-shot children (see the file comment). Lives as long
/// as the task nursery `tasks` it reports to.
class one_shot_join {
 public:
  explicit one_shot_join(nursery& tasks) : tasks_(tasks) {}
  one_shot_join(const one_shot_join&) = delete;
  one_shot_join& operator=(const one_shot_join&) = delete;

  /// A one-shot child's supervision has started.
  void started() { ++running_; }
  /// That supervision has ended (its outcome, if any, is in `s`).
  void ended(const std::shared_ptr<one_shot_state>& s);
  /// The nursery's body has ended, however: from now on failed one-shots are the nursery's
  /// errors, and once none runs any more, a failure among them cancels the rest.
  void body_ended();

 private:
  void keep(one_shot_state& s);
  void cancel_rest_if_failed();

  nursery& tasks_;
  std::vector<std::shared_ptr<one_shot_state>> pending_;  // ended while the body ran
  int running_ = 0;
  bool body_ended_ = false;
  bool any_failed_ = false;
};

/// Asks the actor behind `p` to cancel itself (`Portal.cancel_actor()`); true once it
/// acknowledged, false if it did not within `timeout` or went away first.
///
/// Cancellation: interrupted at once (the request may already have been sent).
awaitable<bool> request_cancel(peer& p, const msg::Aid& self, clock::duration timeout);

/// tractor's hard-kill ladder (`ActorNursery.cancel()`, `hard_kill`), for a child whose
/// channel someone serves meanwhile (its answers must be read): in debug mode, first waits
/// until nobody is stopped with the terminal; then the graceful IPC cancel, SIGTERM, SIGKILL,
/// each step bounded by `a.limits`; returns once the child has been reaped (at once if it
/// had exited). A thread actor still running after the last step is abandoned, which is
/// recorded in `c.abandoned`.
///
/// Cancellation: not interrupted by its caller's cancellation once started (callers run it
/// shielded or from `finally`): a child is never left unreaped.
awaitable<void> let_child_go(actor& a, child_record& c);

/// `let_child_go`, serving `c`'s channel meanwhile, then reads what it sent before it ended
/// (`read_last_words`).
///
/// Cancellation: as `let_child_go`.
awaitable<void> cancel_ladder(actor& a, child_record& c);

/// Reads `c`'s channel to its end, at most for `a.limits.cancel_ack`, once `c` has exited:
/// messages it sent before it ended (an error raised while it was cancelled, an answer)
/// reach their mailboxes. A process's exit does not wait for its parent to read them.
///
/// Cancellation: interrupted at once; what is unread stays in the channel.
awaitable<void> read_last_words(actor& a, child_record& c);

/// Supervises a daemon: serves its channel until its process exits and the channel has been
/// read to its end; if cancelled first, lets the child go (`let_child_go`) as its next step,
/// the channel still served. A child the ladder had to abandon is an error, even when the
/// supervision was cancelled.
///
/// Cancellation: the supervision is shielded and told (`shield(body, notice)`): it stops
/// waiting for the child's own exit and walks the ladder; then the cancellation goes on.
awaitable<result<void>> supervise(actor& a, std::shared_ptr<child_record> c);

/// Supervises a one-shot child: runs its single call `fn(args)`, stores the outcome in `st`
/// (and sets `st.done`), then lets the child go (ladder). The call's mailbox stays open
/// through the ladder: an error the child raised while being cancelled still arrives and is
/// kept in `st` (cancellation never hides an error; `one_shot_join` collects it).
///
/// Cancellation: the child is let go (shielded) and its answer collected into `st`; then the
/// cancellation goes on.
awaitable<void> supervise_one_shot(actor& a, std::shared_ptr<child_record> c, function_name fn,
                                   msg::raw_pld args, one_shot_state& st);

}  // namespace tractor::runtime

#if TRACTOR_HEADER_ONLY
#include <tractor/runtime/impl/supervise.ipp>
#endif
