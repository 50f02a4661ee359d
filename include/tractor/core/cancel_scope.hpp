// tractor/core/cancel_scope.hpp — cancel scopes, deadlines, shielding and cleanup.
//
// A cancel scope runs one piece of work that can be cancelled as a unit: explicitly
// (`cancel()`), by a deadline, or by the scope's own caller being cancelled. Cancelling it
// interrupts whatever the work is waiting on — a socket read, a timer, a channel, a nested
// nursery — because every wait in an Asio coroutine listens to its task's cancellation slot,
// and keeps interrupting every later wait until the work has unwound (trio's level-triggered
// cancellation).
//
//     // trio: with move_on_after(1): ...
//     std::optional<std::string> line = co_await tractor::move_on_after(1s, read_line(sock));
//     // trio: with fail_after(1): ...
//     tractor::result<std::string> l2 = co_await tractor::fail_after(1s, read_line(sock));
//     // cleanup that runs even when the work was cancelled:
//     co_await tractor::finally(serve(sock), close_gracefully(sock));
//
// A scope absorbs only its own cancellation: when the scope's caller is cancelled, the
// cancellation passes through (as `operation_aborted`) after the work has unwound.
//
// Shielding: a shielded scope ignores its caller's cancellation; its own `cancel()` and
// deadline still apply. Asio refuses to start any wait in a coroutine that is already
// cancelled, so shield a region *before* cancellation can arrive, or use `finally`, which
// runs its cleanup shielded even after the work was cancelled.
#pragma once

#include <tractor/config.hpp>

#include <tractor/core/nursery.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>

namespace tractor {

using clock = std::chrono::steady_clock;

/// What `cancel_scope::run(awaitable<T>)` returns: `std::optional<T>`, or `bool` for `void`
/// (true when the work completed, false when the scope cancelled it).
template <class T>
using scope_result = std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>;

/// A result type with nested results flattened: `result<T>` for `T`, `result<U>` for
/// `result<U>`.
template <class T>
struct flat_result {
  using type = result<T>;
};
template <class U>
struct flat_result<result<U>> {
  using type = result<U>;
};
template <class T>
using flat_result_t = typename flat_result<T>::type;

/// trio's CancelScope: cancellation, deadline and shield for one piece of work.
///
/// A scope object runs its work once, through `run`. It may be cancelled or re-timed from any
/// task on the same executor while the work runs, and cancelled before it runs (the work then
/// does not start).
class cancel_scope {
 public:
  /// A scope with no deadline.
  cancel_scope() = default;
  /// A scope whose work is cancelled at `deadline`.
  explicit cancel_scope(clock::time_point deadline) : deadline_(deadline) {}
  cancel_scope(const cancel_scope&) = delete;
  cancel_scope& operator=(const cancel_scope&) = delete;
  ~cancel_scope() { assert(!group_ && "cancel_scope destroyed while its work runs"); }

  /// Runs `body` under this scope and returns its value, or nothing if this scope cancelled
  /// it (then `cancelled_caught()` is true). An exception from `body` propagates; when `T` is
  /// a `result<U>`, an exception comes back as that failed result instead.
  ///
  /// Cancellation: the caller's cancellation cancels `body` (unless shielded) and, once it has
  /// unwound, continues outward as `operation_aborted`.
  template <class T>
  awaitable<scope_result<T>> run(awaitable<T> body);

  /// Cancels the work (now, or as soon as it starts). Idempotent.
  void cancel();

  /// Moves the deadline, earlier or later, even while the work runs.
  void set_deadline(clock::time_point deadline);
  [[nodiscard]] clock::time_point deadline() const noexcept { return deadline_; }

  /// Shields the work from the caller's cancellation (its own `cancel()` and deadline still
  /// apply). Dropping the shield while the caller is cancelled cancels the work then.
  void set_shield(bool on);
  [[nodiscard]] bool shield() const noexcept { return shield_; }

  /// Calls `notice()` once, as the caller's cancellation reaches the work: with a shield,
  /// the work then ends in its own way (see `shield(body, notice)`).
  void on_caller_cancelled(std::function<void()> notice) { notice_ = std::move(notice); }

  /// True once `cancel()` was called or the deadline passed.
  [[nodiscard]] bool cancel_called() const noexcept { return cancel_called_; }
  /// True when this scope's own cancellation ended the work.
  [[nodiscard]] bool cancelled_caught() const noexcept { return cancelled_caught_; }

 private:
  enum class ending { value, failed, caught, propagate };

  /// The non-template part of `run`: deadline watching, joining, classifying the end.
  awaitable<ending> run_core(detail::task_group& group, detail::child_outcome& outcome);
  /// Arms the timer for the deadline (re-arms it if it moved).
  void watch();
  void stop_watching();
  static void body_ended(void* self);

  clock::time_point deadline_ = clock::time_point::max();
  bool shield_ = false;
  bool cancel_called_ = false;
  bool cancelled_caught_ = false;
  detail::task_group* group_ = nullptr;  // while running
  detail::child_task* body_ = nullptr;
  std::optional<boost::asio::steady_timer> timer_;
  std::shared_ptr<bool> watching_;  // true while the work runs: the timer's handler may act
  std::function<void()> notice_;
};

/// Runs `body`; if it has not finished by `deadline`, cancels it and returns nothing.
///
/// Cancellation: as `cancel_scope::run`.
template <class T>
awaitable<scope_result<T>> move_on_at(clock::time_point deadline, awaitable<T> body);

/// `move_on_at(now + timeout, body)`.
template <class T>
awaitable<scope_result<T>> move_on_after(clock::duration timeout, awaitable<T> body);

/// Runs `body`; if it has not finished by `deadline`, cancels it and fails with
/// `errc::timeout`. A body returning `result<U>` gives `result<U>` (not nested).
///
/// Cancellation: as `cancel_scope::run`.
template <class T>
awaitable<flat_result_t<T>> fail_at(clock::time_point deadline, awaitable<T> body);

/// `fail_at(now + timeout, body)`.
template <class T>
awaitable<flat_result_t<T>> fail_after(clock::duration timeout, awaitable<T> body);

/// Runs `body` shielded from the caller's cancellation and returns what it returns.
///
/// Cancellation: the caller's cancellation does not reach `body`; it resumes at the caller's
/// next wait after `body` has finished. Must be entered before the caller is cancelled.
template <class T>
awaitable<T> shield(awaitable<T> body);

/// Runs `body` shielded, as `shield`, and calls `notice()` once when the caller is cancelled
/// meanwhile: a plain shield only delays the cancellation, this one tells `body`, which then
/// ends in its own way, by its own next steps rather than by unwinding (tractor's
/// supervision lets a child go like this).
///
/// Cancellation: does not reach `body`; `notice` reports it, from the canceller's context
/// (keep it short: set an event, cancel a scope), or once `body` first waits if the
/// cancellation came as it started. It resumes at the caller's next wait after `body` has
/// finished. Must be entered before the caller is cancelled, as `shield`.
template <class T>
awaitable<T> shield(awaitable<T> body, std::function<void()> notice);

/// Runs `body`, then `cleanup` shielded, however `body` ended (value, error or
/// cancellation), then returns or rethrows `body`'s outcome. An error from `cleanup` is kept:
/// alone if `body` succeeded or was cancelled, grouped with `body`'s error otherwise.
///
/// Cancellation: cancels `body` as usual; `cleanup` always runs to completion.
template <class T>
awaitable<T> finally(awaitable<T> body, awaitable<void> cleanup);

/// Runs `body`; if it ends by an exception (a cancellation: expected failures are values),
/// runs `cleanup` shielded, then rethrows. Returns `body`'s value otherwise, without running
/// `cleanup`. An error from `cleanup` is kept as in `finally`.
///
/// Cancellation: cancels `body` as usual; then `cleanup` runs to completion.
template <class T>
awaitable<T> on_cancel(awaitable<T> body, awaitable<void> cleanup);

/// Yields to other tasks once, and is where a cancelled task notices its cancellation
/// (trio's `checkpoint()`): code without waits cannot be interrupted, so long computations
/// call this now and then. Cancellation: throws `operation_aborted` if cancelled.
awaitable<void> checkpoint();

/// Waits for `duration`. Cancellation: interrupted at once (`operation_aborted`).
awaitable<void> sleep_for(clock::duration duration);

/// Waits until `when`. Cancellation: interrupted at once (`operation_aborted`).
awaitable<void> sleep_until(clock::time_point when);

}  // namespace tractor

#include <tractor/core/impl/cancel_scope.hpp>
#if TRACTOR_HEADER_ONLY
#include <tractor/core/impl/cancel_scope.ipp>
#endif
