// The executor each task's coroutine runs on: the nursery's own executor, plus the task it
// belongs to. Every resumption of a coroutine goes through its executor, so running each
// step inside `running_as(task)` is what lets a log line, a wait point or a nursery opened
// in that step know which task it is in. Nothing else changes: properties are the inner
// executor's, and work runs where the inner executor runs it.
#pragma once

#include <tractor/core/detail/task_info.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/prefer.hpp>

#include <type_traits>
#include <utility>

namespace tractor::detail {

class task_executor {
 public:
  using inner_type = boost::asio::any_io_executor;

  /// Runs on `inner` as `task`. An `inner` that is itself a task's executor is unwrapped:
  /// a task started from inside another runs as itself, not nested in its starter.
  task_executor(const inner_type& inner, task_info* task) noexcept : inner_(unwrap(inner)), task_(task) {}

  template <class F>
  void execute(F&& f) const {
    inner_.execute(step<std::decay_t<F>>{task_, std::forward<F>(f)});
  }

  template <class Property>
    requires boost::asio::can_query<const inner_type&, const Property&>::value
  decltype(auto) query(const Property& p) const {
    return boost::asio::query(inner_, p);
  }

  template <class Property>
    requires boost::asio::can_require<const inner_type&, const Property&>::value
  task_executor require(const Property& p) const {
    return task_executor(boost::asio::require(inner_, p), task_, tag{});
  }

  template <class Property>
    requires boost::asio::can_prefer<const inner_type&, const Property&>::value
  task_executor prefer(const Property& p) const {
    return task_executor(boost::asio::prefer(inner_, p), task_, tag{});
  }

  friend bool operator==(const task_executor& a, const task_executor& b) noexcept {
    return a.task_ == b.task_ && a.inner_ == b.inner_;
  }
  friend bool operator!=(const task_executor& a, const task_executor& b) noexcept { return !(a == b); }

  [[nodiscard]] const inner_type& inner() const noexcept { return inner_; }
  [[nodiscard]] task_info* task() const noexcept { return task_; }

  /// `ex` without any task executor around it.
  static inner_type unwrap(const inner_type& ex) noexcept {
    const auto* t = ex.target<task_executor>();
    return t ? t->inner_ : ex;
  }

 private:
  struct tag {};
  task_executor(inner_type inner, task_info* task, tag) noexcept : inner_(std::move(inner)), task_(task) {}

  template <class F>
  struct step {
    task_info* task;
    F f;
    void operator()() {
      running_as as(task);
      std::move(f)();
    }
  };

  inner_type inner_;
  task_info* task_;
};

}  // namespace tractor::detail
