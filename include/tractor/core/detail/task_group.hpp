// The engine under nurseries and cancel scopes: a set of child tasks, each an Asio coroutine
// thread with its own cancellation signal, and a join that returns only when all have ended.
//
// Everything about supervision lives here once: how a child's end is classified (value,
// error, or cancellation that was asked for), which errors are kept (all of them, in order),
// when siblings are cancelled (first error), and how the owner's own cancellation is
// forwarded to the children while the owner keeps waiting for them (never abandoning one).
// The only templates are the thin wrappers that turn a typed awaitable into a child.
#pragma once

#include <tractor/core/detail/task_executor.hpp>
#include <tractor/core/detail/waiter_list.hpp>
#include <tractor/core/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>
#include <list>
#include <optional>
#include <type_traits>
#include <variant>

namespace tractor::detail {

template <class T>
struct is_result : std::false_type {};
template <class T>
struct is_result<result<T>> : std::true_type {};

/// `T`, with `void` replaced by `std::monostate` where a value must be stored.
template <class T>
using non_void = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// Where a child's value goes: an optional<T>, or nowhere for void.
template <class T>
using value_slot = std::conditional_t<std::is_void_v<T>, void, std::optional<T>>;

/// Where a child's end is reported when someone other than the group wants it: the caller of
/// `nursery::start()` until the child reports started, or a cancel scope for its body.
struct child_outcome {
  enum class kind { running, value, failed, cancelled };
  kind state = kind::running;
  std::optional<error> failure;
  void (*on_end)(void* ctx) = nullptr;
  void* ctx = nullptr;
};

/// One child task. Lives in its group's list from spawn until it has ended.
struct child_task : task_info {
  boost::asio::cancellation_signal signal;
  bool running = false;           // the wrapper has started (so a signal reaches it)
  bool cancel_requested = false;  // someone asked this child to stop
  std::optional<error> failure;   // set if the child ended with an error or exception
  // When set, the child's end goes here instead of into the group's errors.
  child_outcome* report = nullptr;
};

class task_group {
 public:
  /// A group opened by the current task (or at the thread's top level, outside any).
  explicit task_group(boost::asio::any_io_executor ex)
      : ex_(std::move(ex)), in_(current_task() ? &current_task()->groups : &top_level_groups()) {
    prev_ = in_->last;
    (prev_ ? prev_->next_ : in_->first) = this;
    in_->last = this;
  }
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;
  ~task_group() {
    assert(children_.empty() && "task_group destroyed with live children");
    (prev_ ? prev_->next_ : in_->first) = next_;
    (next_ ? next_->prev_ : in_->last) = prev_;
  }

  using child_handle = std::list<child_task>::iterator;

  /// Registers a child that `launch` will start; lets the caller wire up `report` first.
  /// A child added after `cancel()` starts cancelled: it does not run at all. `name` (may be
  /// empty) and `where` say what it is in task-tree dumps and log lines.
  child_handle add(std::string name = {}, std::source_location where = std::source_location::current()) {
    auto c = children_.emplace(children_.end());
    c->name = std::move(name);
    c->started_at = where;
    c->cancel_requested = cancel_called_;
    return c;
  }

  /// Starts `body` as the child `c`. A value it returns goes to `*out` when `out` is not
  /// null. Children run eagerly up to their first suspension, before `launch` returns.
  template <class T, class Out = value_slot<T>>
  void launch(child_handle c, boost::asio::awaitable<T> body, Out* out = nullptr);

  /// `add` then `launch`.
  template <class T>
  child_task& spawn(boost::asio::awaitable<T> body, std::string name = {},
                    std::source_location where = std::source_location::current()) {
    auto c = add(std::move(name), where);
    launch(c, std::move(body));
    return *c;
  }

  /// Asks every live child to stop (terminal cancellation). Idempotent.
  void cancel() {
    cancel_called_ = true;
    for (auto& c : children_) cancel_child(c);
  }

  /// Asks one child to stop.
  void cancel_child(child_task& c) {
    if (c.cancel_requested) return;
    c.cancel_requested = true;
    // A child that has not started yet sees the flag first thing; one that has started is
    // interrupted at its pending wait, and Asio keeps it cancelled at every later wait.
    if (c.running) c.signal.emit(boost::asio::cancellation_type::terminal);
  }

  /// Waits until every child has ended. If the waiting coroutine is cancelled meanwhile
  /// (or already was), the cancellation is forwarded to all children unless `shield` is
  /// true at that moment (it is read then, so a scope may drop its shield later); either
  /// way the join keeps waiting until they have all ended, and reports the owner's
  /// cancellation through `owner_cancelled()` rather than by throwing.
  ///
  /// Precondition: the calling coroutine runs with `this_coro::throw_if_cancelled(false)`
  /// (see `unchecked_scope`), or Asio would refuse to even enter the join once cancelled.
  boost::asio::awaitable<void> join(const bool& shield);

  /// Keeps `e` among the group's errors without cancelling anything (see
  /// `nursery::keep_error`).
  void keep_error_quietly(error e) { errors_.push_back(std::move(e)); }

  /// The errors kept so far, in the order they happened.
  [[nodiscard]] std::vector<error> take_errors() noexcept { return std::move(errors_); }
  [[nodiscard]] bool cancel_called() const noexcept { return cancel_called_; }
  [[nodiscard]] bool owner_cancelled() const noexcept { return owner_cancelled_; }
  [[nodiscard]] const boost::asio::any_io_executor& get_executor() const noexcept { return ex_; }

  /// When set, the first error cancels every sibling (nursery semantics).
  bool cancel_on_error = true;

  /// When set, called once as the owner's cancellation arrives, shielded or not (before it is
  /// forwarded): a shielded scope's way to tell its work (see `shield(body, notice)`).
  const std::function<void()>* notice = nullptr;

  // -- for task-tree dumps -------------------------------------------------------------------

  /// What this group is in a dump ("nursery", "cancel scope").
  const char* what = "nursery";
  /// A cancel scope's deadline, if it has one.
  const std::chrono::steady_clock::time_point* deadline = nullptr;
  /// Whether it shields its tasks from outer cancellation now.
  [[nodiscard]] bool shielded() const noexcept { return shield_ && *shield_; }
  /// Its tasks, in the order they started.
  [[nodiscard]] const std::list<child_task>& children() const noexcept { return children_; }
  /// The group opened after this one in the same task, if any.
  [[nodiscard]] const task_group* next_sibling() const noexcept { return next_; }

 private:
  template <class T, class Out>
  static boost::asio::awaitable<void> run_child(child_task* c, boost::asio::awaitable<T> body,
                                                Out* out);

  struct on_done {
    task_group* group;
    std::list<child_task>::iterator it;
    void operator()(std::exception_ptr ep) const { group->child_ended(it, ep); }
  };

  void child_ended(std::list<child_task>::iterator it, std::exception_ptr ep);
  void keep_error(error e);

  static void forward_cancel(void* self, boost::asio::cancellation_type) {
    auto* g = static_cast<task_group*>(self);
    const bool first = !g->owner_cancelled_;
    g->owner_cancelled_ = true;
    if (first && g->notice && *g->notice) (*g->notice)();
    if (!g->shield_ || !*g->shield_) g->cancel();
  }

  boost::asio::any_io_executor ex_;
  group_list* in_;  // the list it is in: its task's, or the thread's top level
  task_group* prev_ = nullptr;
  task_group* next_ = nullptr;
  std::list<child_task> children_;
  std::vector<error> errors_;
  waiter_list join_waiters_;
  bool cancel_called_ = false;
  bool owner_cancelled_ = false;
  const bool* shield_ = nullptr;  // read when the owner's cancellation arrives
};

// -- templates ---------------------------------------------------------------------------

template <class T, class Out>
boost::asio::awaitable<void> task_group::run_child(child_task* c, boost::asio::awaitable<T> body,
                                                   Out* out) {
  c->running = true;
  if (c->cancel_requested) {
    // Cancelled before it ran a single step: it ends cancelled without running.
    c->failure = error(boost::asio::error::operation_aborted);
  } else {
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(body);
      } else {
        auto v = co_await std::move(body);
        if constexpr (is_result<T>::value) {
          if (v.has_error()) c->failure = std::move(v).error();
        }
        if constexpr (!std::is_void_v<Out>) {
          if (out && !c->failure) out->emplace(std::move(v));
        }
      }
    } catch (const error_exception& e) {
      c->failure = e.error();
    } catch (const boost::system::system_error& e) {  // a cancelled task ends with one
      c->failure = detail::box_caught(e, std::current_exception());
    } catch (...) {
      c->failure = error::from_exception(std::current_exception());
    }
  }
  // The task is over. Asio's co_spawn still awaits once on the way out of a coroutine that
  // never suspended; that wait must not be refused because the task was cancelled.
  co_await boost::asio::this_coro::throw_if_cancelled(false);
}

template <class T, class Out>
void task_group::launch(child_handle c, boost::asio::awaitable<T> body, Out* out) {
  const boost::asio::any_io_executor as_child = executor_for(ex_, &*c);
  boost::asio::co_spawn(as_child, run_child<T, Out>(&*c, std::move(body), out),
                        boost::asio::bind_cancellation_slot(c->signal.slot(), on_done{this, c}));
}

// -- non-template core -------------------------------------------------------------------

inline void task_group::keep_error(error e) {
  errors_.push_back(std::move(e));
  if (errors_.size() == 1 && cancel_on_error) cancel();
}

inline void task_group::child_ended(std::list<child_task>::iterator it, std::exception_ptr ep) {
  child_task& c = *it;
  std::optional<error> failure = std::move(c.failure);
  if (ep) failure = error::from_exception(ep);  // the wrapper itself failed (out of memory)
  // A cancellation counts as one only if someone asked this child to stop; otherwise an
  // aborted operation is a real error (say, a socket closed under a pending read).
  const bool cancelled = failure && failure->is_cancellation() && c.cancel_requested;

  if (child_outcome* r = c.report) {
    using kind = child_outcome::kind;
    r->state = cancelled ? kind::cancelled : failure ? kind::failed : kind::value;
    if (failure && !cancelled) r->failure = std::move(failure);
    if (r->on_end) r->on_end(r->ctx);
  } else if (failure && !cancelled) {
    keep_error(std::move(*failure));
  }

  children_.erase(it);
  if (children_.empty()) join_waiters_.notify_all();
}

inline boost::asio::awaitable<void> task_group::join(const bool& shield) {
  shield_ = &shield;
  // The owner may have been cancelled before it got here; the slot below only reports
  // cancellations that arrive while the wait is pending, so look first.
  auto state = co_await boost::asio::this_coro::cancellation_state;
  if (state.cancelled() != boost::asio::cancellation_type::none) {
    forward_cancel(this, state.cancelled());
  }
  // A shielded join still cannot be abandoned: the hook records the owner's cancellation
  // and, unless shielded, forwards it; the wait goes on until every child has ended.
  const wait_note_scope note({"the end of its tasks"});
  while (!children_.empty()) {
    co_await join_waiters_.async_wait(boost::asio::use_awaitable,
                                      waiter_list::cancel_hook{&task_group::forward_cancel, this});
  }
  shield_ = nullptr;
}

}  // namespace tractor::detail
