#include <tractor/spawn/backend.hpp>
#include <tractor/spawn/forkserver.hpp>
#include <tractor/spawn/thread.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/matrix.hpp"
#include "tests/support/reaper.hpp"

#include <tractor/core/cancel_scope.hpp>
#include <tractor/transport/tcp.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <fcntl.h>

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

// -- the forkserver, directly --------------------------------------------------------------

// A child named "five" that exits with 5 (with 1 if its boot lost its name).
spawn::spawn_request exits_with_five() {
  spawn::spawn_request five;
  five.boot.name = "five";
  five.run_child = [](const spawn::child_boot& boot) { return boot.name == "five" ? 5 : 1; };
  return five;
}

// The same request, running `entry` instead.
spawn::spawn_request running(spawn::child_entry entry) {
  spawn::spawn_request r = exits_with_five();
  r.run_child = entry;
  return r;
}

TEST_F(process_test, the_forkserver_forks_children_reports_them_and_stops) {
  ASSERT_TRUE(spawn::forkserver::start_server());
  const pid_t server = spawn::forkserver::server_pid();
  EXPECT_GT(server, 0);
  EXPECT_EQ(live_children(), std::set<pid_t>{server}) << "the server is our only child";
  run_async([]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    const spawn::spawn_request five = exits_with_five();
    auto c = spawn::forkserver::start(ex, five);
    EXPECT_TRUE(c) << (c ? "" : c.error().message());
    auto s = co_await c.value()->wait();
    EXPECT_TRUE(s.exited && s.code == 5) << s.describe();

    spawn::spawn_request hang = five;
    hang.run_child = [](const spawn::child_boot&) {
      for (;;) ::pause();
      return 0;
    };
    auto h = spawn::forkserver::start(ex, hang);
    EXPECT_TRUE(h);
    EXPECT_FALSE(h.value()->poll());
    h.value()->kill();
    auto killed = co_await h.value()->wait();
    EXPECT_EQ(killed.signal, SIGKILL) << killed.describe();

    spawn::spawn_request none = five;
    none.run_child = nullptr;
    EXPECT_FALSE(spawn::forkserver::start(ex, none)) << "a request without an entry is refused";
  }());
  spawn::forkserver::stop_server();
  EXPECT_EQ(spawn::forkserver::server_pid(), 0);
}

// The server's children that are spares (titled so until they become actors).
std::set<pid_t> spares_of(pid_t server) {
  std::set<pid_t> out;
  for (const pid_t pid : tractor::testing::children_of(server)) {
    std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
    std::string title;
    std::getline(cmdline, title, '\0');
    if (title == std::string(spawn::forkserver::server_title) + " (spare)") out.insert(pid);
  }
  return out;
}

// Waits until the server's spares are `n` and none is `gone`; returns them (empty: they
// did not come).
std::set<pid_t> spares_when(pid_t server, std::size_t n, pid_t gone = 0) {
  std::set<pid_t> found;
  (void)eventually([&] {
    found = spares_of(server);
    return found.size() == n && !found.contains(gone);
  });
  return found.size() == n && !found.contains(gone) ? found : std::set<pid_t>{};
}

TEST_F(process_test, the_forkserver_hands_its_spare_the_next_request_and_replaces_it_on_demand) {
  ASSERT_TRUE(spawn::forkserver::start_server());
  const pid_t server = spawn::forkserver::server_pid();
  const auto first = spares_when(server, 1);
  ASSERT_EQ(first.size(), 1u) << "the server keeps one spare";
  const pid_t dies = *first.begin();
  ASSERT_EQ(::kill(dies, SIGKILL), 0);
  // Reaped, and forked again only when a request wants one (whatever kills spares cannot make
  // the server fork in a loop).
  ASSERT_TRUE(eventually([&] { return ::kill(dies, 0) != 0; })) << "a spare that died is reaped";
  run_async([&]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto c = spawn::forkserver::start(ex, exits_with_five());
    EXPECT_TRUE(c) << (c ? "" : c.error().message()) << ": the server forks a spare for the request";
    if (!c) co_return;
    EXPECT_EQ((co_await c.value()->wait()).code, 5);
    // A spare taken is replaced at once.
    const auto next = spares_when(server, 1);
    EXPECT_EQ(next.size(), 1u) << "a new spare follows the one taken";
    if (next.size() != 1) co_return;
    // Ctrl-C to the spare is for the actor it will become, which cancels gracefully; the
    // spare, like the server, ignores it until then.
    EXPECT_EQ(::kill(*next.begin(), SIGINT), 0);
    auto d = spawn::forkserver::start(ex, exits_with_five());
    EXPECT_TRUE(d) << (d ? "" : d.error().message());
    if (!d) co_return;
    EXPECT_EQ(d.value()->pid(), *next.begin()) << "the spare became the child";
    EXPECT_EQ((co_await d.value()->wait()).code, 5);
    // Back to back, faster than the next spare may come: the server forks one for the request.
    for (int i = 0; i < 3; ++i) {
      auto e = spawn::forkserver::start(ex, exits_with_five());
      EXPECT_TRUE(e) << (e ? "" : e.error().message());
      if (!e) break;
      EXPECT_EQ((co_await e.value()->wait()).code, 5);
    }
  }());
  EXPECT_EQ(spares_when(server, 1).size(), 1u) << "and a spare is ready again";
  spawn::forkserver::stop_server();
  EXPECT_TRUE(live_children().empty()) << "the server took its spare with it";
}

// A spare killed just before a request. The clerk may learn of its death first (then it asks
// the server for another), or find its socket closed (the same), or hand it the
// request while it is still dying: then the spawn's child is the spare, and its status says
// it was killed. Either way the spawn returns, its child's status is the truth, and nothing
// is left behind.
TEST_F(process_test, a_spawn_racing_the_death_of_the_spare_returns_and_reports_what_happened) {
  ASSERT_TRUE(spawn::forkserver::start_server());
  const pid_t server = spawn::forkserver::server_pid();
  run_async([&]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    for (int i = 0; i < 10; ++i) {
      const auto spare = spares_when(server, 1);
      EXPECT_EQ(spare.size(), 1u) << "round " << i;
      if (spare.size() != 1) break;
      EXPECT_EQ(::kill(*spare.begin(), SIGKILL), 0);
      auto c = spawn::forkserver::start(ex, exits_with_five());
      EXPECT_TRUE(c) << (c ? "" : c.error().message());
      if (!c) break;
      const auto status = co_await c.value()->wait();
      if (c.value()->pid() == *spare.begin()) {
        EXPECT_EQ(status.signal, SIGKILL) << status.describe();
      } else {
        EXPECT_TRUE(status.exited && status.code == 5) << status.describe();
      }
    }
  }());
  spawn::forkserver::stop_server();
  EXPECT_TRUE(live_children().empty());
}

// Where a child of the forkserver writes its own child's pid.
std::string grandchild_file() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/forkserver-grandchild." + std::to_string(::getppid());
}

// In a child of the forkserver: spawns a child that hangs (through the same server), writes
// its pid down, and dies without a word (no destructor runs): its child must go with it.
int spawns_and_dies(const spawn::child_boot&) {
  return run_async([]() -> awaitable<int> {
    auto ex = co_await boost::asio::this_coro::executor;
    spawn::spawn_request hang = exits_with_five();
    hang.run_child = [](const spawn::child_boot&) {
      for (;;) ::pause();
      return 0;
    };
    auto c = spawn::forkserver::start(ex, hang);
    if (!c) co_return 90;
    std::ofstream(grandchild_file()) << c.value()->pid() << "\n";
    ::_exit(3);
  }());
}

TEST_F(process_test, a_nested_actor_spawns_through_the_server_and_its_children_die_with_it) {
  ASSERT_TRUE(spawn::forkserver::start_server());
  const pid_t server = spawn::forkserver::server_pid();
  run_async([]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto c = spawn::forkserver::start(ex, running(&spawns_and_dies));
    EXPECT_TRUE(c) << (c ? "" : c.error().message());
    EXPECT_EQ((co_await c.value()->wait()).code, 3);
  }());
  pid_t grandchild = 0;
  std::ifstream(std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") +
                "/forkserver-grandchild." + std::to_string(server)) >>
      grandchild;
  ASSERT_GT(grandchild, 0);
  // The server is every such actor's parent: it killed and reaped the orphan.
  EXPECT_TRUE(eventually([&] { return ::kill(grandchild, 0) != 0; })) << "the grandchild outlived its parent";
  spawn::forkserver::stop_server();
  EXPECT_TRUE(live_children().empty());
}

// 5 if this process sees TRACTOR_FORKSERVER_VAR=set, 4 if it sees no such variable.
int sees_the_variable(const spawn::child_boot&) {
  const char* v = std::getenv("TRACTOR_FORKSERVER_VAR");
  return !v ? 4 : std::string(v) == "set" ? 5 : 1;
}

TEST_F(process_test, a_forkserver_child_takes_its_parents_environment_as_it_is_at_the_request) {
  ASSERT_TRUE(spawn::forkserver::start_server());
  run_async([]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    const spawn::spawn_request sees = running(&sees_the_variable);
    for (const bool set : {false, true, false}) {
      if (set) {
        ::setenv("TRACTOR_FORKSERVER_VAR", "set", 1);
      } else {
        ::unsetenv("TRACTOR_FORKSERVER_VAR");
      }
      auto c = spawn::forkserver::start(ex, sees);
      EXPECT_TRUE(c) << (c ? "" : c.error().message());
      const int code = (co_await c.value()->wait()).code;
      EXPECT_EQ(code, set ? 5 : 4);
    }
  }());
  spawn::forkserver::stop_server();
  EXPECT_TRUE(live_children().empty());
}

}  // namespace
