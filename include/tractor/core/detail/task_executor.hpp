// The executor each task's coroutine runs on: its loop's executor, plus the task it belongs
// to. Every resumption of a coroutine goes through its executor, so running each step inside
// `running_as(task)` is what lets a log line, a wait point or a nursery opened in that step
// know which task it is in. Nothing else changes: properties are the inner executor's, and
// work runs where the inner executor runs it.
//
// The inner executor is an io_context's (every actor's loop is one), held by value: with the
// task pointer it fits in `any_io_executor`'s small buffer, so copies of a task's executor
// (Asio makes many per operation) neither allocate nor count references. A nursery on any
// other kind of executor runs its tasks untracked (`executor_for`).
#pragma once

#include <tractor/core/detail/task_info.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>

#include <type_traits>
#include <utility>

namespace tractor::detail {

template <class Inner>
class basic_task_executor {
 public:
  basic_task_executor(const Inner& inner, task_info* task) noexcept : inner_(inner), task_(task) {}

  template <class F>
  void execute(F&& f) const {
    inner_.execute(step<std::decay_t<F>>{task_, std::forward<F>(f)});
  }

  template <class Property>
    requires boost::asio::can_query<const Inner&, const Property&>::value
  decltype(auto) query(const Property& p) const {
    return boost::asio::query(inner_, p);
  }

  template <class Property>
    requires boost::asio::can_require<const Inner&, const Property&>::value
  auto require(const Property& p) const {
    using other = std::decay_t<decltype(boost::asio::require(inner_, p))>;
    return basic_task_executor<other>(boost::asio::require(inner_, p), task_);
  }

  template <class Property>
    requires boost::asio::can_prefer<const Inner&, const Property&>::value
  auto prefer(const Property& p) const {
    using other = std::decay_t<decltype(boost::asio::prefer(inner_, p))>;
    return basic_task_executor<other>(boost::asio::prefer(inner_, p), task_);
  }

  friend bool operator==(const basic_task_executor& a, const basic_task_executor& b) noexcept {
    return a.task_ == b.task_ && a.inner_ == b.inner_;
  }
  friend bool operator!=(const basic_task_executor& a, const basic_task_executor& b) noexcept { return !(a == b); }

  [[nodiscard]] const Inner& inner() const noexcept { return inner_; }

 private:
  template <class F>
  struct step {
    task_info* task;
    F f;
    void operator()() {
      running_as as(task);
      std::move(f)();
    }
  };

  Inner inner_;
  task_info* task_;
};

using task_executor = basic_task_executor<boost::asio::io_context::executor_type>;

/// The executor task `t` runs on when started in a nursery on `ex`: `ex`'s loop, as `t` (a
/// task started from inside another runs as itself, not nested in its starter).
inline boost::asio::any_io_executor executor_for(const boost::asio::any_io_executor& ex, task_info* t) {
  if (const auto* parent = ex.target<task_executor>()) return task_executor(parent->inner(), t);
  if (const auto* io = ex.target<boost::asio::io_context::executor_type>()) return task_executor(*io, t);
  return ex;
}

}  // namespace tractor::detail
