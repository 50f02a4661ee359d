#include <tractor/spawn/exec.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/reaper.hpp"

#include <tractor/core/cancel_scope.hpp>
#include <tractor/transport/tcp.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>

namespace {

using namespace std::chrono_literals;
using namespace tractor;
using tractor::testing::live_children;
using tractor::testing::run_async;

class process_test : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(live_children().empty()); }
  // Every test must leave no child behind, reaped or not.
  void TearDown() override { EXPECT_TRUE(live_children().empty()) << "a child outlived its test"; }
};

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

}  // namespace
