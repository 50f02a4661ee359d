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
  std::ifstream in("/proc/" + std::to_string(server) + "/task/" + std::to_string(server) + "/children");
  for (pid_t pid = 0; in >> pid;) {
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

// Waits until this process holds `n` spares the server offered it; returns them in the
// order spawns take them (empty: they did not come).
std::vector<pid_t> offered_spares(std::size_t n) {
  std::vector<pid_t> held;
  (void)eventually([&] {
    held = spawn::forkserver::held_spares();
    return held.size() == n;
  });
  return held.size() == n ? held : std::vector<pid_t>{};
}

TEST_F(process_test, the_forkserver_hands_its_spares_over_and_replaces_one_that_died) {
  ASSERT_TRUE(spawn::forkserver::start_server());
  const pid_t server = spawn::forkserver::server_pid();
  const auto first = spares_when(server, 2);
  ASSERT_EQ(first.size(), 2u) << "the server keeps two spares for the program";
  const pid_t dies = *first.begin();
  ASSERT_EQ(::kill(dies, SIGKILL), 0);
  const auto now = spares_when(server, 2, dies);
  ASSERT_EQ(now.size(), 2u) << "a spare that died is replaced";
  EXPECT_NE(::kill(dies, 0), 0) << "and reaped";
  // Both are offered to this process (the program), the dead one's offer let go: its
  // requests then go straight to a spare.
  const auto held = offered_spares(2);
  ASSERT_EQ(held.size(), 2u) << "the program is offered its spares";
  EXPECT_EQ(std::set<pid_t>(held.begin(), held.end()), now);
  // A Ctrl-C at the terminal reaches the whole process group: it is for the actors, which
  // cancel gracefully; the spares (like the server) ignore it.
  for (pid_t p : held) ASSERT_EQ(::kill(p, SIGINT), 0);
  cpu_set_t spare_mask;
  ASSERT_EQ(::sched_getaffinity(held[0], sizeof spare_mask, &spare_mask), 0);
  run_async([&]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    const spawn::spawn_request stays = running([](const spawn::child_boot&) {
      for (;;) ::pause();
      return 0;
    });
    auto c = spawn::forkserver::start(ex, stays);
    EXPECT_TRUE(c) << (c ? "" : c.error().message());
    EXPECT_EQ(c.value()->pid(), held[0]) << "the first spare offered became the child";
    // It boots on the spawning thread's CPU, and gets its own mask back once booted.
    cpu_set_t mask;
    EXPECT_EQ(::sched_getaffinity(held[0], sizeof mask, &mask), 0);
    EXPECT_EQ(CPU_COUNT(&mask), 1);
    c.value()->booted();
    EXPECT_EQ(::sched_getaffinity(held[0], sizeof mask, &mask), 0);
    EXPECT_TRUE(CPU_EQUAL(&mask, &spare_mask));
    c.value()->kill();
    EXPECT_EQ((co_await c.value()->wait()).signal, SIGKILL);
    // Back to back, faster than spares are made (~1 ms each): the second spare takes the
    // first, at most one replacement another, and the server forks for the rest itself.
    const spawn::spawn_request five = exits_with_five();
    std::vector<std::unique_ptr<spawn::child_handle>> burst;
    for (int i = 0; i < 4; ++i) {
      auto d = spawn::forkserver::start(ex, five);
      EXPECT_TRUE(d) << (d ? "" : d.error().message());
      if (d) burst.push_back(std::move(d).value());
    }
    EXPECT_EQ(burst.empty() ? 0 : burst[0]->pid(), held[1]);
    for (auto& d : burst) EXPECT_EQ((co_await d->wait()).code, 5);
  }());
  // Requests came through the server: it now keeps a spare for those as well as the
  // program's two.
  EXPECT_EQ(spares_when(server, 3).size(), 3u);
  spawn::forkserver::stop_server();
  EXPECT_TRUE(live_children().empty()) << "the server took its spares with it";
}

// Reports that it booted, then stays until killed.
int boots_and_stays(const spawn::child_boot& boot) {
  if (boot.on_booted) boot.on_booted();
  for (;;) ::pause();
}

// Spawns a child through the server before it says it booted, and waits for it: 6 if
// the child exited 5.
int spawns_before_booting(const spawn::child_boot&) {
  return run_async([]() -> awaitable<int> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto c = spawn::forkserver::start(ex, exits_with_five());
    if (!c) co_return 90;
    const int code = (co_await c.value()->wait()).code;
    co_return code == 5 ? 6 : 91;
  }());
}

TEST_F(process_test, a_taken_spare_tells_the_server_once_booted_or_before_its_first_request) {
  ASSERT_TRUE(spawn::forkserver::start_server());
  const pid_t server = spawn::forkserver::server_pid();
  const auto held = offered_spares(2);
  ASSERT_EQ(held.size(), 2u);
  run_async([&]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    const spawn::spawn_request stays = running(&boots_and_stays);
    auto c = spawn::forkserver::start(ex, stays);
    EXPECT_TRUE(c) << (c ? "" : c.error().message());
    EXPECT_EQ(c.value()->pid(), held[0]);
    // Told, the server replaces the spare while the child still runs (untold, it would
    // wait for the child's end).
    const auto spares = spares_when(server, 2, held[0]);
    EXPECT_EQ(spares.size(), 2u) << "a replacement came while the child runs";
    EXPECT_TRUE(spares.contains(held[1]));
    EXPECT_EQ(::kill(held[0], 0), 0);
    c.value()->kill();
    EXPECT_EQ((co_await c.value()->wait()).signal, SIGKILL);
    // A child that spawns before it has booted tells the server first (a request read as
    // a spare's note would be taken for a broken spare, and the child killed).
    const spawn::spawn_request nests = running(&spawns_before_booting);
    auto d = spawn::forkserver::start(ex, nests);
    EXPECT_TRUE(d) << (d ? "" : d.error().message());
    EXPECT_EQ((co_await d.value()->wait()).code, 6);
  }());
  spawn::forkserver::stop_server();
  EXPECT_TRUE(live_children().empty());
}

// In a child of the forkserver: spawns through the server, waits until the server offers
// this process a spare of its own, spawns again: 7 if that spawn went to the offered spare
// and both children exited 5.
int spawns_twice(const spawn::child_boot& boot) {
  if (boot.on_booted) boot.on_booted();
  return run_async([]() -> awaitable<int> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto first = spawn::forkserver::start(ex, exits_with_five());
    if (!first) co_return 90;
    if ((co_await first.value()->wait()).code != 5) co_return 90;
    std::vector<pid_t> held;
    if (!eventually([&] { return (held = spawn::forkserver::held_spares()).size() == 1; })) co_return 91;
    auto second = spawn::forkserver::start(ex, exits_with_five());
    if (!second || second.value()->pid() != held[0]) co_return 92;
    const int code = (co_await second.value()->wait()).code;
    co_return code == 5 ? 7 : 93;
  }());
}

TEST_F(process_test, an_actor_process_that_spawned_through_the_server_is_offered_a_spare_of_its_own) {
  ASSERT_TRUE(spawn::forkserver::start_server());
  const pid_t server = spawn::forkserver::server_pid();
  run_async([&]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    const spawn::spawn_request nests = running(&spawns_twice);
    auto c = spawn::forkserver::start(ex, nests);
    EXPECT_TRUE(c) << (c ? "" : c.error().message());
    EXPECT_EQ((co_await c.value()->wait()).code, 7) << "90: first spawn, 91: no offer, 92: not to the offer";
  }());
  // The spare it was offered (or its replacement) went with it: the program's two and the
  // one for forwarded requests are left.
  EXPECT_EQ(spares_when(server, 3).size(), 3u);
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

// Where a rehearsing entry leaves its mark: a file per spare, in the test's own directory.
std::string rehearsal_mark(pid_t pid) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/rehearsed." + std::to_string(pid);
}

int marks_its_rehearsal(const spawn::child_boot& boot) {
  if (boot.rehearse) {
    std::ofstream(rehearsal_mark(::getpid())) << "rehearsed\n";
    return 0;
  }
  return 5;
}

TEST_F(process_test, a_spare_rehearses_the_entry_of_the_last_request_and_still_runs_its_own) {
  ASSERT_TRUE(spawn::forkserver::start_server());
  const auto before = offered_spares(2);
  ASSERT_EQ(before.size(), 2u);
  for (pid_t p : before) {
    EXPECT_FALSE(std::filesystem::exists(rehearsal_mark(p))) << "nothing to rehearse before any request";
  }
  const spawn::spawn_request marks = running(&marks_its_rehearsal);
  // Spawns `marks`, which the spare `expected` must take, and waits for its exit code.
  auto spawn_into = [&](pid_t expected) {
    run_async([&]() -> awaitable<void> {
      auto ex = co_await boost::asio::this_coro::executor;
      auto c = spawn::forkserver::start(ex, marks);
      EXPECT_TRUE(c) << (c ? "" : c.error().message());
      EXPECT_EQ(c.value()->pid(), expected);
      EXPECT_EQ((co_await c.value()->wait()).code, 5);
    }());
  };
  spawn_into(before[0]);
  // The spare made next rehearsed that request's entry before it said it was ready (so
  // before it was offered), and a rehearsal starts nothing: its request still runs the
  // entry for real.
  const auto after = offered_spares(2);
  ASSERT_EQ(after.size(), 2u);
  ASSERT_EQ(after[0], before[1]);
  const pid_t rehearsed = after[1];
  EXPECT_TRUE(std::filesystem::exists(rehearsal_mark(rehearsed))) << "the new spare rehearsed the last entry";
  spawn_into(before[1]);
  spawn_into(rehearsed);
  spawn::forkserver::stop_server();
  for (pid_t p : {before[0], before[1], rehearsed}) std::filesystem::remove(rehearsal_mark(p));
  EXPECT_TRUE(live_children().empty());
}

}  // namespace
