// The thread backend's handle. Part of process_test (the spawn layer's tests).
#include <tractor/spawn/backend.hpp>
#include <tractor/spawn/forkserver.hpp>
#include <tractor/spawn/thread.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/matrix.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <poll.h>
#include <sched.h>
#include <sys/socket.h>

namespace {

using namespace std::chrono_literals;
using namespace tractor;
using tractor::testing::run_async;

spawn::spawn_request thread_request(spawn::child_entry entry, clock::duration abandon_after) {
  spawn::spawn_request r;
  r.boot.name = "t";
  r.run_child = entry;
  r.abandon_after = abandon_after;
  return r;
}

// Ends when its stop is requested (what a thread actor's runtime does).
int until_stopped(const spawn::child_boot& boot) {
  tractor::testing::wait_for_stop(*boot.stop);
  return 143;
}

TEST(thread_backend_test, reports_the_exit_code_and_stops_on_terminate) {
  run_async([]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto three = spawn::thread::start(ex, thread_request([](const spawn::child_boot&) { return 3; }, 1s));
    EXPECT_TRUE(three);
    auto s = co_await three.value()->wait();
    EXPECT_TRUE(s.exited && s.code == 3) << s.describe();
    EXPECT_EQ(three.value()->pid(), ::getpid()) << "a thread actor shares our pid";

    auto waiting = spawn::thread::start(ex, thread_request(&until_stopped, 1s));
    EXPECT_TRUE(waiting);
    EXPECT_FALSE(waiting.value()->poll());
    waiting.value()->terminate();
    auto stopped = co_await waiting.value()->wait();
    EXPECT_TRUE(stopped.exited && stopped.code == 143) << stopped.describe();
  }());
}

TEST(thread_backend_test, a_thread_deaf_to_its_stop_is_abandoned_after_the_bound) {
  static std::atomic<bool> release{false};
  run_async([]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto deaf = spawn::thread::start(ex, thread_request(
                                             [](const spawn::child_boot&) {
                                               while (!release) std::this_thread::sleep_for(1ms);
                                               return 0;
                                             },
                                             50ms));
    EXPECT_TRUE(deaf);
    const auto t0 = clock::now();
    deaf.value()->kill();
    auto s = co_await deaf.value()->wait();
    EXPECT_TRUE(s.abandoned) << s.describe();
    EXPECT_FALSE(s.success());
    EXPECT_GE(clock::now() - t0, 50ms);
    EXPECT_LT(clock::now() - t0, 5s);
  }());
  release = true;  // the abandoned thread ends on its own now
}

// The thread is named after its actor, and a spawn leaves the calling thread's CPUs and
// scheduling class alone (they are the program's, not the library's).
std::string name_seen;
int names_itself(const spawn::child_boot&) {
  char name[16] = {};
  ::pthread_getname_np(::pthread_self(), name, sizeof name);
  name_seen = name;
  return 4;
}

TEST(thread_backend_test, a_spawn_names_the_thread_and_leaves_the_callers_scheduling_alone) {
  cpu_set_t before;
  ASSERT_EQ(::sched_getaffinity(0, sizeof before, &before), 0);
  const int policy_before = ::sched_getscheduler(0);
  run_async([&]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    spawn::spawn_request req = thread_request(&names_itself, 1s);
    req.boot.name = "a-rather-long-actor-name";
    auto t = spawn::thread::start(ex, req);
    EXPECT_TRUE(t);
    if (!t) co_return;
    cpu_set_t during;
    EXPECT_EQ(::sched_getaffinity(0, sizeof during, &during), 0);
    EXPECT_TRUE(CPU_EQUAL(&during, &before));
    EXPECT_EQ((co_await t.value()->wait()).code, 4);
  }());
  EXPECT_EQ(name_seen, "actor:a-rather-") << "15 characters at most";
  cpu_set_t after;
  ASSERT_EQ(::sched_getaffinity(0, sizeof after, &after), 0);
  EXPECT_TRUE(CPU_EQUAL(&after, &before));
  EXPECT_EQ(::sched_getscheduler(0), policy_before);
}

}  // namespace
