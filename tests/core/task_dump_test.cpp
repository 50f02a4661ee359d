// Task-tree dumps of one thread's tasks: a nursery's tasks with the same name and wait are
// listed once with a count, so that 10,000 of them make a readable dump; scopes show their
// deadline and whether they are cancelled; a task's waits read innermost first.
#include <tractor/core.hpp>
#include <tractor/core/detail/task_dump.hpp>

#include "tests/support/async_test.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace {

using namespace tractor;
using tractor::testing::run_async;

TEST(task_dump_test, ten_thousand_alike_tasks_are_one_line_with_a_count) {
  std::string dump;
  auto r = run_async([&]() -> awaitable<result<void>> {
    event never;  // the tasks' (they end after the body)
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      for (int i = 0; i < 10000; ++i) {
        n.start_soon("sleeper", [&never]() -> awaitable<void> { co_await never.wait(); });
      }
      n.start_soon("odd one", sleep_for(std::chrono::hours(1)));
      co_await checkpoint();  // every task has run up to its wait
      dump = tractor::detail::render_this_thread_tasks();
      n.cancel();
    });
  }());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_NE(dump.find("- 10000 x task sleeper: waits for an event"), std::string::npos) << dump.substr(0, 2000);
  EXPECT_NE(dump.find("- task odd one: waits for sleep ("), std::string::npos) << dump;
  EXPECT_LT(std::count(dump.begin(), dump.end(), '\n'), 20) << "readable: " << dump.substr(0, 2000);
}

TEST(task_dump_test, scopes_show_their_deadline_and_cancellation) {
  std::string dump;
  auto r = run_async([&]() -> awaitable<result<void>> {
    event never;  // the tasks' (they end after the body)
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon("bounded", [&never]() -> awaitable<void> {
        (void)co_await move_on_after(std::chrono::hours(2), never.wait());
      });
      co_await checkpoint();
      dump = tractor::detail::render_this_thread_tasks();
      n.cancel();
    });
  }());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_NE(dump.find("+ cancel scope [deadline in 7"), std::string::npos) << dump;
  EXPECT_NE(dump.find(": an event"), std::string::npos) << "the scope's body waits on the event: " << dump;
}

TEST(task_dump_test, an_unnamed_task_is_shown_by_where_it_started) {
  std::string dump;
  auto r = run_async([&]() -> awaitable<result<void>> {
    event never;  // the tasks' (they end after the body)
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon(never.wait());
      co_await checkpoint();
      dump = tractor::detail::render_this_thread_tasks();
      n.cancel();
    });
  }());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_NE(dump.find("(unnamed, started at task_dump_test.cpp:"), std::string::npos) << dump;
}

TEST(task_dump_test, a_memory_channel_wait_names_the_channel_when_it_has_a_name) {
  std::string dump;
  auto r = run_async([&]() -> awaitable<result<void>> {
    // Outside the nursery: its tasks touch the channels while they are cancelled.
    memory_channel<int> quotes(4, "quotes");
    memory_channel<int> plain(2);
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon("reader", [&quotes]() -> awaitable<void> { (void)co_await quotes.receive(); });
      n.start_soon("writer", [&plain]() -> awaitable<void> {
        (void)co_await plain.send(1);
        (void)co_await plain.send(2);
        (void)co_await plain.send(3);  // full: waits
      });
      co_await checkpoint();
      dump = tractor::detail::render_this_thread_tasks();
      n.cancel();
    });
  }());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_NE(dump.find("task reader: waits for receive on a memory channel 'quotes' (holding 0 of 4, 0 sender(s) waiting)"),
            std::string::npos) << dump;
  EXPECT_NE(dump.find("task writer: waits for send on a memory channel (holding 2 of 2, 1 sender(s) waiting)"),
            std::string::npos) << dump;
}

}  // namespace
