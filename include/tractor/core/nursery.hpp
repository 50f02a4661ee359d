// tractor/core/nursery.hpp — task nurseries: trio's structured concurrency on Asio coroutines.
//
// A nursery is a scope that owns tasks. It is reachable only through `open_nursery`, which
// returns after every task started in it has ended, so no task outlives the code that started
// it and nothing is ever detached.
//
//     auto r = co_await tractor::open_nursery([&](tractor::nursery& n) -> tractor::awaitable<void> {
//       n.start_soon(fetch("a"));                      // runs concurrently with the body
//       n.start_soon(fetch("b"));
//       int port = BOOST_OUTCOME_TRYX(co_await n.start<int>(serve));  // waits for started(port)
//       co_return;
//     });                                              // here: fetch a, fetch b, serve all ended
//     if (!r) fmt::print("failed: {}\n", r.error().message());
//
// Rules (trio's, and tractor's supervision rules inside one actor):
// - The body runs as a task of the nursery, concurrently with the tasks it starts.
// - The first task to fail (throw, or return a failed `result<T>`) cancels the body and every
//   other task. All errors are kept: one comes out bare, two or more as an `errc::error_group`
//   holding each, in the order they happened.
// - Cancellation is not an error: tasks ending because the nursery cancelled them add
//   nothing, and an error is never replaced by a cancellation.
// - If the coroutine awaiting `open_nursery` is cancelled, everything inside is cancelled and
//   waited for; then the cancellation continues outward (as `operation_aborted`) unless a task
//   failed, in which case the errors are returned.
//
// Tasks run on the executor of the coroutine that opened the nursery. One actor runs one
// single-threaded `io_context`; a nursery must not be shared across threads.
#pragma once

#include <tractor/core/detail/task_group.hpp>

#include <boost/asio/awaitable.hpp>

#include <concepts>
#include <functional>
#include <source_location>
#include <string>
#include <utility>
#include <variant>

namespace tractor {

/// Coroutines of the runtime are Asio awaitables on the default executor.
template <class T>
using awaitable = boost::asio::awaitable<T>;

/// A coroutine whose expected failures are values: `task<int>` is `awaitable<result<int>>`.
/// Inside one, Boost.Outcome's `BOOST_OUTCOME_CO_TRY(auto v, co_await f())` returns `f`'s
/// error or binds its value, and `BOOST_OUTCOME_CO_TRYV(co_await g())` does the same for a
/// `task<void>`.
template <class T = void>
using task = awaitable<result<T>>;

class nursery;

/// See below.
template <class Body>
awaitable<result<void>> open_nursery(Body body, std::source_location where = std::source_location::current());

namespace detail {

/// The body of an `open_nursery`, owned, its type erased: what a nursery does around its body
/// is compiled once (`open_nursery_core`) instead of once per body, each a lambda of its own
/// type.
class nursery_body {
 public:
  template <class Body>
  static nursery_body of(Body body);

  nursery_body(nursery_body&& o) noexcept
      : self_(std::exchange(o.self_, nullptr)), spawn_(o.spawn_), destroy_(o.destroy_) {}
  nursery_body& operator=(nursery_body&&) = delete;
  ~nursery_body() {
    if (self_) destroy_(self_);
  }

  /// Starts the body as the first task of `n`.
  void spawn_in(nursery& n, std::source_location where) { spawn_(self_, n, where); }

 private:
  using spawn_fn = void (*)(void*, nursery&, std::source_location);
  using destroy_fn = void (*)(void*) noexcept;
  nursery_body(void* self, spawn_fn spawn, destroy_fn destroy) noexcept
      : self_(self), spawn_(spawn), destroy_(destroy) {}

  void* self_;
  spawn_fn spawn_;
  destroy_fn destroy_;
};

/// `open_nursery`, on an erased body.
awaitable<result<void>> open_nursery_core(nursery_body body, std::source_location where);

}  // namespace detail

/// Handed to a task started with `nursery::start<T>()`: the task calls `started(value)` once it
/// is ready, which resumes the `start()` caller with that value while the task keeps running.
template <class T = void>
class task_status {
 public:
  using value_type = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

  /// Reports readiness. Only the first call counts; later calls return false.
  bool started(value_type value = value_type{}) const;

 private:
  friend class nursery;
  explicit task_status(detail::child_task* child) : child_(child) {}
  detail::child_task* child_;
};

/// Cancels one task of a nursery, leaving its siblings alone (from `nursery::start_soon` with
/// a handle). Valid until that task ends: whoever keeps the handle must learn of the end
/// itself (typically the task forgets its own handle on the way out).
class task_handle {
 public:
  task_handle() = default;
  /// Cancels the task (as its nursery would: the task ends cancelled, which is no error).
  void cancel() const {
    if (group_) group_->cancel_child(*child_);
  }

 private:
  friend class nursery;
  task_handle(detail::task_group* g, detail::child_task* c) : group_(g), child_(c) {}
  detail::task_group* group_ = nullptr;
  detail::child_task* child_ = nullptr;
};

/// A scope of concurrently running tasks. See the file comment for the rules.
class nursery {
 public:
  nursery(const nursery&) = delete;
  nursery& operator=(const nursery&) = delete;

  /// Starts `task` in this nursery and returns at once (the task has already run up to its
  /// first suspension). `task` may produce any type; values are discarded, and a failed
  /// `result<T>` counts as a failure exactly like an exception.
  ///
  /// A task without a name is shown in task-tree dumps and log lines by where it was
  /// started (`where`, the caller's source location).
  ///
  /// Cancellation: the task is cancelled with the nursery. Starting a task into a nursery
  /// that was cancelled starts it cancelled: it does not run at all.
  template <class T>
  void start_soon(awaitable<T> task, std::source_location where = std::source_location::current());

  /// As above, naming the task `name` in task-tree dumps and log lines.
  template <class T>
  void start_soon(std::string name, awaitable<T> task, std::source_location where = std::source_location::current());

  /// Starts `fn()` as a task; the task owns `fn`, so a lambda's captures stay alive for as
  /// long as the task runs (`start_soon(awaitable)` on a temporary capturing lambda would
  /// leave its captures dangling). Same rules as above.
  template <class Fn>
    requires std::invocable<Fn&>
  void start_soon(Fn fn, std::source_location where = std::source_location::current());

  /// As above, naming the task `name`.
  template <class Fn>
    requires std::invocable<Fn&>
  void start_soon(std::string name, Fn fn, std::source_location where = std::source_location::current());

  /// As `start_soon(task)`, and first stores in `*handle` a handle that cancels this task
  /// alone: it is there before the task takes its first step, so the task itself can find
  /// and forget it.
  template <class T>
  void start_soon(awaitable<T> task, task_handle* handle,
                  std::source_location where = std::source_location::current()) {
    start_soon(std::string(), std::move(task), handle, where);
  }

  /// As above, naming the task `name`.
  template <class T>
  void start_soon(std::string name, awaitable<T> task, task_handle* handle,
                  std::source_location where = std::source_location::current());

  /// Starts `fn(task_status<T>)` in this nursery and waits until it calls `started(value)`;
  /// returns that value. If the task ends before calling `started()`, its error comes back
  /// here instead of going to the nursery (a task that ends cleanly without starting gives
  /// `errc::task_not_started`). After `started()`, the task is an ordinary member.
  ///
  /// Cancellation: cancelling the caller before the task has started cancels the task and
  /// waits for it to end, then rethrows the cancellation. A task cancelled by its nursery
  /// before starting gives `errc::cancelled` to a caller that was not itself cancelled.
  template <class T = void, class Fn>
    requires std::invocable<Fn&, task_status<T>>
  awaitable<result<typename task_status<T>::value_type>> start(
      Fn fn, std::source_location where = std::source_location::current()) {
    return start<T>(std::string(), std::move(fn), where);
  }

  /// As above, naming the task `name`.
  template <class T = void, class Fn>
    requires std::invocable<Fn&, task_status<T>>
  awaitable<result<typename task_status<T>::value_type>> start(
      std::string name, Fn fn, std::source_location where = std::source_location::current());

  /// Cancels the body and every task (trio's `nursery.cancel_scope.cancel()`). The nursery then
  /// returns normally once all have ended, unless one failed.
  void cancel() { group_.cancel(); }

  /// Keeps `e` among the errors this nursery returns, without cancelling anything: for a
  /// supervisor that collects some failures when the nursery joins instead of acting on them
  /// at once (tractor's `run_in_actor` results). Aggregated with the others as usual.
  void keep_error(error e) { group_.keep_error_quietly(std::move(e)); }

  /// True once `cancel()` was called or a task failed.
  [[nodiscard]] bool cancel_called() const noexcept { return group_.cancel_called(); }

  [[nodiscard]] const boost::asio::any_io_executor& get_executor() const noexcept {
    return group_.get_executor();
  }

 private:
  friend class detail::nursery_body;
  friend awaitable<result<void>> detail::open_nursery_core(detail::nursery_body body, std::source_location where);

  explicit nursery(boost::asio::any_io_executor ex) : group_(std::move(ex)) {}

  void check_open() const;

  detail::task_group group_;
  bool closed_ = false;
};

/// Opens a nursery, runs `body(nursery&)` in it and returns once the body and every task have
/// ended: success, the single error, or an `errc::error_group` of all errors. `body` returns
/// `awaitable<void>` or `awaitable<result<void>>` (any awaitable, in fact; values are ignored).
/// The body's own locals end with the body, which may be before the tasks it started: what
/// those tasks use belongs to the caller, outside the body.
///
/// Cancellation: cancelling the awaiting coroutine cancels the body and all tasks, waits for
/// them, then continues the cancellation outward (`operation_aborted`) — unless some task
/// failed, in which case the errors are returned and cancellation resumes at the caller's
/// next wait.
/// (`where`: the caller's source location, naming the body's task in dumps.)
template <class Body>
awaitable<result<void>> open_nursery(Body body, std::source_location where);

}  // namespace tractor

#include <tractor/core/impl/nursery.hpp>
#if TRACTOR_HEADER_ONLY
#include <tractor/core/impl/nursery.ipp>
#endif
