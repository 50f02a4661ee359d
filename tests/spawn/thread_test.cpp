// The thread backend's handle, and threads started ahead of their spawn (spares). Part of
// process_test (the spawn layer's tests).
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

// Starting ahead is opted into, and needs a given channel (the spare waits on it).
struct ahead_without_channel : spawn::exec {
  static constexpr bool starts_ahead = true;
};
struct ahead_says_no : spawn::thread {
  static constexpr bool starts_ahead = false;
};
static_assert(spawn::starts_ahead<spawn::thread>);
static_assert(!spawn::starts_ahead<spawn::exec>);
static_assert(!spawn::starts_ahead<spawn::forkserver>);
static_assert(!spawn::starts_ahead<ahead_without_channel>);
static_assert(!spawn::starts_ahead<ahead_says_no>);

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

// What a spare saw, written by its thread before it ends (its end is what the test waits for).
struct spare_view {
  std::string title_before;  // its thread's name while it waited
  std::string name;          // the name in the boot it took
  std::string title;         // its thread's name once taken
  int cpus_taken = 0;        // how many CPUs it could run on once taken
  int cpus_booted = 0;       // and once booted
  int policy_ready = -1;     // its scheduling policy once ready
  int policy_booted = -1;    // and once booted
};
spare_view seen;

std::string own_thread_name() {
  char name[16] = {};
  ::pthread_getname_np(::pthread_self(), name, sizeof name);
  return name;
}

int cpu_count() {
  cpu_set_t mask;
  return ::sched_getaffinity(0, sizeof mask, &mask) == 0 ? CPU_COUNT(&mask) : -1;
}

// What the runtime does with a deferred boot, without the runtime: says it is ready (and
// tells the parent, a byte on the channel), waits until the channel has something to read,
// takes its boot (0 if it has none: never used), says it booted. 5 once it ran as `late`.
int waits_to_be_taken(const spawn::child_boot& boot) {
  seen = {};
  seen.title_before = own_thread_name();
  if (!boot.deferred) return 90;
  boot.deferred->ready();
  seen.policy_ready = ::sched_getscheduler(0);
  if (::write(boot.channel_fd, "r", 1) != 1) return 91;
  pollfd p{boot.channel_fd, POLLIN, 0};
  if (::poll(&p, 1, 10'000) != 1) return 92;  // (a watchdog: the test writes at once)
  auto taken = boot.deferred->take();
  if (!taken) return 0;
  seen.name = taken->name;
  seen.title = own_thread_name();
  seen.cpus_taken = cpu_count();
  boot.deferred->booted();
  seen.cpus_booted = cpu_count();
  seen.policy_booted = ::sched_getscheduler(0);
  return taken->name == "late" ? 5 : 93;
}

// As `waits_to_be_taken`, once told to get ready (a byte on its channel).
int ready_when_told(const spawn::child_boot& boot) {
  pollfd p{boot.channel_fd, POLLIN, 0};
  char go = 0;
  if (::poll(&p, 1, 10'000) != 1 || ::read(boot.channel_fd, &go, 1) != 1) return 94;
  return waits_to_be_taken(boot);
}

// A thread started ahead on one end of a socketpair; the other end is `ours`.
result<std::unique_ptr<spawn::child_handle>> start_ahead(const boost::asio::any_io_executor& ex, int& ours,
                                                         spawn::child_entry entry = &waits_to_be_taken) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return errc::would_block;
  spawn::spawn_request req = thread_request(entry, 1s);
  req.boot.name.clear();
  req.boot.channel_fd = sv[1];
  req.ahead = true;
  auto t = spawn::thread::start(ex, req);
  ::close(sv[1]);  // the thread has its own
  ours = sv[0];
  return t;
}

TEST(thread_backend_test, a_thread_started_ahead_waits_for_its_boot_and_runs_as_what_it_was_given) {
  const int all_cpus = cpu_count();
  run_async([all_cpus]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    int ours = -1;
    auto t = start_ahead(ex, ours);
    EXPECT_TRUE(t);
    if (!t) co_return;
    auto& spare = *t.value();
    char ready = 0;
    EXPECT_EQ(::read(ours, &ready, 1), 1);  // it waits now
    EXPECT_EQ(tractor::testing::threads_named(spawn::spare_thread_name).size(), 1u) << "named a spare";
    EXPECT_FALSE(spare.poll());
    spawn::child_boot boot;
    boot.name = "late";
    boot.uuid = "u";
    EXPECT_TRUE(spare.complete_boot(boot));
    EXPECT_FALSE(spare.complete_boot(boot)) << "a boot is given once";
    EXPECT_EQ(::write(ours, "x", 1), 1);
    auto s = co_await spare.wait();
    EXPECT_TRUE(s.exited && s.code == 5) << s.describe();
    EXPECT_EQ(seen.title_before, spawn::spare_thread_name);
    EXPECT_EQ(seen.name, "late");
    EXPECT_EQ(seen.title, "actor:late");
    EXPECT_EQ(seen.cpus_taken, 1) << "moved to the CPU of the thread that gave its boot";
    EXPECT_EQ(seen.cpus_booted, all_cpus) << "and given back its CPUs once booted";
    EXPECT_EQ(seen.policy_ready, SCHED_BATCH) << "a taken spare does not preempt the thread that took it";
    EXPECT_EQ(seen.policy_booted, SCHED_OTHER) << "and is a normal thread once booted";
    EXPECT_FALSE(spare.complete_boot(boot)) << "it has ended";
    ::close(ours);
  }());
}

TEST(thread_backend_test, a_thread_started_ahead_takes_no_boot_before_it_is_ready) {
  run_async([]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    int ours = -1;
    auto t = start_ahead(ex, ours, &ready_when_told);
    EXPECT_TRUE(t);
    if (!t) co_return;
    auto& spare = *t.value();
    spawn::child_boot boot;
    boot.name = "late";
    boot.uuid = "u";
    EXPECT_FALSE(spare.ready_for_boot());
    EXPECT_FALSE(spare.complete_boot(boot)) << "still preparing";
    EXPECT_EQ(::write(ours, "g", 1), 1);
    char ready = 0;
    EXPECT_EQ(::read(ours, &ready, 1), 1);
    EXPECT_TRUE(spare.ready_for_boot());
    EXPECT_TRUE(spare.complete_boot(boot)) << "ready now";
    EXPECT_FALSE(spare.ready_for_boot()) << "given its boot";
    EXPECT_EQ(::write(ours, "x", 1), 1);
    auto s = co_await spare.wait();
    EXPECT_TRUE(s.exited && s.code == 5) << s.describe();
    EXPECT_EQ(seen.name, "late");
    ::close(ours);
  }());
}

TEST(thread_backend_test, a_thread_started_ahead_and_never_given_a_boot_ends_with_its_channel) {
  run_async([]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    int ours = -1;
    auto t = start_ahead(ex, ours);
    EXPECT_TRUE(t);
    if (!t) co_return;
    char ready = 0;
    EXPECT_EQ(::read(ours, &ready, 1), 1);
    ::close(ours);
    auto s = co_await t.value()->wait();
    EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
    EXPECT_TRUE(seen.name.empty()) << "it took no boot";

    // A thread not started ahead takes no boot.
    auto plain = spawn::thread::start(ex, thread_request([](const spawn::child_boot&) { return 3; }, 1s));
    EXPECT_TRUE(plain);
    EXPECT_FALSE(plain.value()->ready_for_boot());
    EXPECT_FALSE(plain.value()->complete_boot(spawn::child_boot{}));
    EXPECT_EQ((co_await plain.value()->wait()).code, 3);
  }());
  EXPECT_TRUE(tractor::testing::no_thread_named(spawn::spare_thread_name));
}

}  // namespace
