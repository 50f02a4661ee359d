// What the runtime knows about each task while it runs, for logs and task-tree dumps: its
// name, what it waits on, and the nurseries and cancel scopes it has open. Which task is
// running on a thread is known because every task's coroutine resumes through its own
// executor (`task_executor`), which names the task for as long as the step runs.
#pragma once

#include <chrono>
#include <source_location>
#include <string>

namespace tractor::detail {

class task_group;
class wait_note_scope;

/// What a waiting task waits on, set by the library's wait points for as long as they wait
/// (`wait_note_scope`). `what` is static text ("sleep", "receive"); `detail`, if set, appends
/// what only the subject knows when asked (a channel's fill, a peer's name).
struct wait_note {
  const char* what = nullptr;
  void (*detail)(const void* subject, std::string& out) = nullptr;
  const void* subject = nullptr;
  std::chrono::steady_clock::time_point until = std::chrono::steady_clock::time_point::max();
};

/// The nurseries and cancel scopes open in one task (or at a thread's top level), outermost
/// first: an intrusive list through the groups themselves, so opening one allocates nothing.
struct group_list {
  task_group* first = nullptr;
  task_group* last = nullptr;
  [[nodiscard]] bool empty() const noexcept { return first == nullptr; }
};

/// One task: its name (or where it was started, when it has none), what it waits on, and
/// the nurseries and cancel scopes open in it.
struct task_info {
  std::string name;
  std::source_location started_at;
  /// The innermost wait in progress; each names the one around it (a call waiting on its
  /// mailbox: the mailbox's receive, inside the call).
  const wait_note_scope* waiting = nullptr;
  group_list groups;
};

/// The task whose step runs on this thread now; null between steps and outside tasks.
inline task_info*& current_task() noexcept {
  static thread_local task_info* current = nullptr;
  return current;
}

/// The nurseries and cancel scopes opened on this thread outside any task (an actor's
/// top level).
inline group_list& top_level_groups() noexcept {
  static thread_local group_list groups;
  return groups;
}

/// Makes `t` the current task until destroyed.
class running_as {
 public:
  explicit running_as(task_info* t) noexcept : previous_(current_task()) { current_task() = t; }
  ~running_as() { current_task() = previous_; }
  running_as(const running_as&) = delete;
  running_as& operator=(const running_as&) = delete;

 private:
  task_info* previous_;
};

/// Notes what the current task waits on until destroyed (a wait point holds one across its
/// suspension). Does nothing outside a task.
class wait_note_scope {
 public:
  explicit wait_note_scope(const wait_note& note) noexcept : note_(note), task_(current_task()) {
    if (task_) {
      outer_ = task_->waiting;
      task_->waiting = this;
    }
  }
  ~wait_note_scope() {
    if (task_) task_->waiting = outer_;
  }
  wait_note_scope(const wait_note_scope&) = delete;
  wait_note_scope& operator=(const wait_note_scope&) = delete;

  [[nodiscard]] const wait_note& note() const noexcept { return note_; }
  /// The wait this one is part of, if any.
  [[nodiscard]] const wait_note_scope* outer() const noexcept { return outer_; }

 private:
  wait_note note_;
  task_info* task_;
  const wait_note_scope* outer_ = nullptr;
};

}  // namespace tractor::detail
