// Definitions for tractor/runtime/task_dump.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/runtime/task_dump.hpp>

#include <tractor/core/detail/task_dump.hpp>
#include <tractor/core/memory_channel.hpp>
#include <tractor/runtime/detail/dump_service.hpp>

#include <csignal>

namespace tractor {

TRACTOR_DECL std::string dump_task_tree() {
  const runtime::actor* a = runtime::current_actor();
  if (!a) return "no actor runs on this thread\n" + tractor::detail::render_this_thread_tasks();
  const msg::Aid& me = a->aid();
  std::string out = "=== actor " + me.name + "@" + me.uuid + " ===\n";
  out += "pid " + std::to_string(::getpid()) + ", spawn backend " + std::string(a->pol().spawn_name) +
         (a->in_process() ? " (a thread of its parent's process)" : "") + ", address " + a->address().str() + "\n";
  if (const auto& p = a->parent()) {
    out += "parent: " + runtime::describe(runtime::uid_of(*p)) + " (pid " + std::to_string(p->pid.value_or(0)) + ")\n";
  } else {
    out += "parent: none (a root)\n";
  }
  out += "children:";
  if (a->children().empty()) out += " none";
  for (const runtime::child_record* c : a->children()) {
    out += " " + (c->link ? runtime::describe(runtime::uid_of(c->link->aid())) : c->name) + " (pid " +
           std::to_string(c->proc->pid()) + ")";
  }
  out += "\ntasks:\n" + tractor::detail::render_this_thread_tasks();
  return out;
}

namespace runtime {

TRACTOR_DECL bool taskdump_from_env() {
  const char* v = std::getenv("TRACTOR_ENABLE_TASKDUMP");
  return v && std::string_view(v) == "1";
}

TRACTOR_DECL awaitable<std::string> collect_task_dump(actor& a, clock::duration per_child) {
  std::string out = dump_task_tree();
  struct asked {
    std::string name;
    pid_t pid;
    std::shared_ptr<peer> link;
    std::string answer;
  };
  std::vector<asked> children;
  for (const child_record* c : a.children()) {
    if (c->link) children.push_back(asked{c->name, c->proc->pid(), c->link, {}});
  }
  const pid_t own_pid = ::getpid();
  auto ask_all = [&](nursery& n) -> awaitable<void> {
    for (auto& child : children) {
      n.start_soon("task dump of " + child.name, [&a, &child, per_child, own_pid]() -> awaitable<void> {
        auto answer = co_await move_on_after(
            per_child, ask<&requests::dump_tasks>(*child.link, a.aid(), {}, a.limits().cancel_ack));
        if (answer && *answer) {
          child.answer = std::move(*answer).value();
          co_return;
        }
        const std::string who = child.name + " (pid " + std::to_string(child.pid) + ")";
        if (answer) {
          child.answer = "=== actor " + who + ": no dump: " + answer->error().message() + " ===\n";
          co_return;
        }
        child.answer = "=== actor " + who + ": no answer within " +
                       tractor::detail::seconds_text(per_child) + " ===\n";
        if (child.pid != own_pid) {
          // A process of its own: its dump thread still works while its loop is stuck, and
          // prints the stuck thread's native stack.
          ::kill(child.pid, SIGUSR1);
          child.answer += "(sent it SIGUSR1: its watchdog writes its native stack to its stderr and to "
                          "$TMPDIR/tractor-taskdump-" + std::to_string(child.pid) + ".log)\n";
        } else if (const auto tid = detail::dump_service::get().thread_of(child.link->aid().uuid)) {
          // A thread of this process: its stack can be taken from here.
          child.answer += "its event loop did not get to the dump within 1 s (blocked in a call?); the "
                          "watchdog's native stack of its thread " + std::to_string(*tid) + ":\n" +
                          detail::native_stack_of(*tid);
        }
      });
    }
    co_return;
  };
  auto asked_all = co_await open_nursery(ask_all);
  (void)asked_all;
  for (auto& child : children) out += child.answer;
  co_return out;
}

TRACTOR_DECL awaitable<void> task_dump_watch(actor& a) {
  memory_channel<bool> wakeups(8, "dump requests");
  // Named locals: no temporary may share an expression with a co_await (CONTRIBUTING.md).
  const boost::asio::any_io_executor ex = co_await boost::asio::this_coro::executor;
  std::string name = describe(uid_of(a.aid()));
  // A thread actor enrols too (its thread is known, for the watchdog) but is dumped through
  // its parent.
  auto slot = detail::dump_service::get().enroll(ex, std::move(name), a.aid().uuid, !a.in_process());
  slot->wake = [&wakeups] { (void)wakeups.try_send(true); };
  struct leave {
    std::shared_ptr<detail::dump_service::slot>& slot;
    ~leave() {
      slot->wake = nullptr;
      detail::dump_service::get().leave(slot);
    }
  } on_exit{slot};
  for (;;) {
    auto woken = co_await wakeups.receive();
    if (!woken) co_return;
    std::string dump = co_await collect_task_dump(a);
    detail::dump_service::answer(*slot, std::move(dump));
  }
}

}  // namespace runtime

namespace runtime::requests {

TRACTOR_DECL awaitable<result<std::string>> dump_tasks(request& r) { co_return co_await collect_task_dump(r.self); }

}  // namespace runtime::requests

}  // namespace tractor
