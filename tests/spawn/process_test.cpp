#include <tractor/spawn/backend.hpp>
#include <tractor/spawn/forkserver.hpp>
#include <tractor/spawn/thread.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/matrix.hpp"
#include "tests/support/reaper.hpp"

#include <tractor/core/cancel_scope.hpp>
#include <tractor/transport/tcp.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

namespace {

using namespace std::chrono_literals;
using namespace tractor;
using tractor::testing::eventually;
using tractor::testing::live_children;
using tractor::testing::run_async;

// -- the backend concept: every model accepted, broken ones refused --------------------------

using handle_result = result<std::unique_ptr<spawn::child_handle>>;
struct no_name {
  static handle_result start(const boost::asio::any_io_executor&, const spawn::spawn_request&);
};
struct no_start {
  static constexpr std::string_view name = "no_start";
};
struct wrong_return {
  static constexpr std::string_view name = "wrong_return";
  static result<pid_t> start(const boost::asio::any_io_executor&, const spawn::spawn_request&);
};
struct member_start {  // needs an instance: a backend is a stateless policy
  static constexpr std::string_view name = "member_start";
  handle_result start(const boost::asio::any_io_executor&, const spawn::spawn_request&);
};
struct wrong_request {
  static constexpr std::string_view name = "wrong_request";
  static handle_result start(const boost::asio::any_io_executor&, const spawn::exec_request&);
};
static_assert(spawn::backend<spawn::exec>);
static_assert(spawn::backend<spawn::forkserver>);
static_assert(spawn::backend<spawn::thread>);
static_assert(!spawn::backend<no_name>);
static_assert(!spawn::backend<no_start>);
static_assert(!spawn::backend<wrong_return>);
static_assert(!spawn::backend<member_start>);
static_assert(!spawn::backend<wrong_request>);

// Adopting a given channel is opted into (by a constant: `adopts_channel = true`).
struct says_no : spawn::exec {
  static constexpr bool adopts_channel = false;
};
static_assert(!spawn::adopts_channel<spawn::exec>);
static_assert(spawn::adopts_channel<spawn::forkserver>);
static_assert(spawn::adopts_channel<spawn::thread>);
static_assert(spawn::adopts_channel<tractor::testing::boot_faults<spawn::thread>>);
static_assert(!spawn::adopts_channel<says_no>);

// A backend's start is taken to block (it runs off the event loop) unless it says it does not.
struct starts_at_once : spawn::exec {
  static constexpr bool start_blocks = false;
};
static_assert(spawn::start_blocks<spawn::exec>);
static_assert(spawn::start_blocks<spawn::forkserver>);
static_assert(!spawn::start_blocks<spawn::thread>);
static_assert(!spawn::start_blocks<starts_at_once>);

TEST(exec_backend_test, a_child_finds_its_boot_in_its_environment) {
  ::unsetenv(spawn::child_env::uuid);
  EXPECT_FALSE(spawn::exec::boot_from_env()) << "not started by exec: no boot";
  ::setenv(spawn::child_env::name, "w1", 1);
  ::setenv(spawn::child_env::uuid, "u-1", 1);
  ::setenv(spawn::child_env::parent_addr, "/unix/tmp/p.sock", 1);
  ::setenv(spawn::child_env::parent_pid, "4242", 1);
  ::setenv(spawn::child_env::parent_registers, "1", 1);
  const auto boot = spawn::exec::boot_from_env();
  for (const char* k : {spawn::child_env::name, spawn::child_env::uuid, spawn::child_env::parent_addr,
                        spawn::child_env::parent_pid, spawn::child_env::parent_registers}) {
    ::unsetenv(k);
  }
  ASSERT_TRUE(boot);
  EXPECT_EQ(boot->name, "w1");
  EXPECT_EQ(boot->uuid, "u-1");
  EXPECT_EQ(boot->parent_addr, "/unix/tmp/p.sock");
  EXPECT_EQ(boot->parent_pid, 4242);
  EXPECT_TRUE(boot->parent_registers);
  EXPECT_EQ(boot->channel_fd, -1) << "an exec child connects back";
}

using process_test = tractor::testing::no_child_left_test;

TEST_F(process_test, reports_exit_codes_and_signals) {
  run_async([]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto three = spawn::exec_process(ex, {.program = "/bin/sh", .args = {"-c", "exit 3"}});
    EXPECT_TRUE(three);
    auto s3 = co_await three.value()->wait();
    EXPECT_TRUE(s3.exited);
    EXPECT_EQ(s3.code, 3);
    EXPECT_EQ(s3.describe(), "exited with status 3");

    auto sleeper = spawn::exec_process(ex, {.program = "/bin/sleep", .args = {"30"}});
    EXPECT_TRUE(sleeper);
    EXPECT_FALSE(sleeper.value()->poll());
    sleeper.value()->terminate();
    auto st = co_await sleeper.value()->wait();
    EXPECT_FALSE(st.exited);
    EXPECT_EQ(st.signal, SIGTERM);

    auto stubborn = spawn::exec_process(ex, {.program = "/bin/sh", .args = {"-c", "trap '' TERM; sleep 30"}});
    stubborn.value()->kill();
    auto sk = co_await stubborn.value()->wait();
    EXPECT_EQ(sk.signal, SIGKILL);
    EXPECT_EQ(stubborn.value()->poll()->signal, SIGKILL) << "the status stays known after reaping";
  }());
}

TEST_F(process_test, wait_is_cancellable_and_the_handle_stays_usable) {
  run_async([]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto p = spawn::exec_process(ex, {.program = "/bin/sleep", .args = {"30"}});
    auto waited = co_await move_on_after(5ms, p.value()->wait());
    EXPECT_FALSE(waited.has_value());
    EXPECT_FALSE(p.value()->poll()) << "still running";
    p.value()->kill();
    auto s = co_await p.value()->wait();
    EXPECT_EQ(s.signal, SIGKILL);
  }());
}

TEST_F(process_test, dropping_a_handle_kills_and_reaps_its_child) {
  run_async([]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    pid_t pid = 0;
    {
      auto p = spawn::exec_process(ex, {.program = "/bin/sleep", .args = {"30"}});
      pid = p.value()->pid();
      EXPECT_TRUE(live_children().contains(pid));
    }
    EXPECT_FALSE(live_children().contains(pid));
    co_return;
  }());
}

TEST_F(process_test, a_missing_program_is_a_clear_error) {
  boost::asio::io_context ctx;
  auto p = spawn::exec_process(ctx.get_executor(), {.program = "/nonexistent/actor"});
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("/nonexistent/actor"), std::string::npos);
}

TEST_F(process_test, children_inherit_no_descriptor_beyond_stdio) {
  run_async([]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    // Something a child must not keep alive: a listening socket (not close-on-exec).
    auto l = transport::tcp::listen(ex, transport::tcp::bind_addr("x"));
    EXPECT_TRUE(l);
    int pipefd[2];
    EXPECT_EQ(::pipe(pipefd), 0);
    auto p = spawn::exec_process(ex, {.program = "/bin/sh", .args = {"-c", "ls /proc/$$/fd"},
                                      .stdout_fd = pipefd[1]});
    ::close(pipefd[1]);
    auto s = co_await p.value()->wait();
    EXPECT_TRUE(s.success());
    std::string out;
    char buf[256];
    for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    ::close(pipefd[0]);
    EXPECT_EQ(out, "0\n1\n2\n") << "the child saw descriptors it was not given";
  }());
}

TEST_F(process_test, the_environment_reaches_the_child) {
  run_async([]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto p = spawn::exec_process(ex, {.program = "/bin/sh", .args = {"-c", "test \"$TRACTOR_TEST_VAR\" = hello"},
                                      .env = {{"TRACTOR_TEST_VAR", "hello"}}});
    auto s = co_await p.value()->wait();
    EXPECT_TRUE(s.success()) << s.describe();
  }());
}

/// This process's descriptor table size (`FDSize` in /proc/self/status).
long descriptor_table_size() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("FDSize:", 0) == 0) return std::stol(line.substr(7));
  }
  return -1;
}

TEST(descriptor_table_test, reserving_grows_the_table_and_replaces_no_descriptor) {
  const long before = descriptor_table_size();
  ASSERT_GT(before, 0);
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  const auto want = static_cast<long>(std::min<rlim_t>(static_cast<rlim_t>(before) * 4, lim.rlim_cur));
  ASSERT_GT(want, before) << "the soft limit leaves no room to grow the table";

  spawn::reserve_descriptor_table(static_cast<rlim_t>(want));
  EXPECT_GE(descriptor_table_size(), want);

  // A descriptor where the next reservation reaches stays what it was.
  const long further = std::min<long>(want * 2, static_cast<long>(lim.rlim_cur));
  const int file = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(file, 0);
  const int in_the_way = ::fcntl(file, F_DUPFD_CLOEXEC, static_cast<int>(further - 1));
  ASSERT_EQ(in_the_way, static_cast<int>(further - 1));
  struct stat was {};
  ASSERT_EQ(::fstat(in_the_way, &was), 0);
  spawn::reserve_descriptor_table(static_cast<rlim_t>(further));
  struct stat now {};
  ASSERT_EQ(::fstat(in_the_way, &now), 0) << "the reservation closed a descriptor in use";
  EXPECT_EQ(now.st_ino, was.st_ino);
  ::close(in_the_way);
  ::close(file);
}

}  // namespace
