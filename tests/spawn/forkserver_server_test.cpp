// The forkserver helper driven directly, without the runtime: children forked and reported,
// its spare handed over and replaced, races with a spare's death, nested spawns, the
// environment, and a fork that fails.
#include <tractor/spawn/forkserver.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/matrix.hpp"
#include "tests/support/reaper.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <sys/resource.h>

namespace {

using namespace tractor;
using tractor::testing::eventually;
using tractor::testing::live_children;
using tractor::testing::run_async;
using forkserver_server_test = tractor::testing::no_child_left_test;

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

TEST_F(forkserver_server_test, the_forkserver_forks_children_reports_them_and_stops) {
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

// The server's children whose title ends in `role` (" (spare)": spares, until they become
// actors; " (clerk)").
std::set<pid_t> titled(pid_t server, const std::string& role) {
  std::set<pid_t> out;
  for (const pid_t pid : tractor::testing::children_of(server)) {
    const auto p = tractor::testing::read_process(pid);
    if (p && p->title == std::string(spawn::forkserver::server_title) + role) out.insert(pid);
  }
  return out;
}

std::set<pid_t> spares_of(pid_t server) { return titled(server, " (spare)"); }

// How many pidfds process `pid` holds.
std::size_t pidfds_of(pid_t pid) {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    if (std::filesystem::read_symlink(fd.path(), ec).string().find("pidfd") != std::string::npos) ++n;
  }
  return n;
}

// How many pidfds the server's clerk holds: one per live child, the spare's once it has it.
std::size_t clerk_pidfds(pid_t server) {
  std::size_t n = 0;
  for (const pid_t clerk : titled(server, " (clerk)")) n += pidfds_of(clerk);
  return n;
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

TEST_F(forkserver_server_test, the_forkserver_hands_its_spare_the_next_request_and_replaces_it_on_demand) {
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
TEST_F(forkserver_server_test, a_spawn_racing_the_death_of_the_spare_returns_and_reports_what_happened) {
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

// Where a child of the forkserver `server` writes its own child's pid.
std::string grandchild_file(pid_t server) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/forkserver-grandchild." + std::to_string(server);
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
    std::ofstream(grandchild_file(::getppid())) << c.value()->pid() << "\n";
    ::_exit(3);
  }());
}

TEST_F(forkserver_server_test, a_nested_actor_spawns_through_the_server_and_its_children_die_with_it) {
  ASSERT_TRUE(spawn::forkserver::start_server());
  const pid_t server = spawn::forkserver::server_pid();
  run_async([]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto c = spawn::forkserver::start(ex, running(&spawns_and_dies));
    EXPECT_TRUE(c) << (c ? "" : c.error().message());
    EXPECT_EQ((co_await c.value()->wait()).code, 3);
  }());
  pid_t grandchild = 0;
  std::ifstream(grandchild_file(server)) >> grandchild;
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

TEST_F(forkserver_server_test, a_forkserver_child_takes_its_parents_environment_as_it_is_at_the_request) {
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


// The lowest descriptor number `pid` has free: with its soft limit there, it can open none.
int lowest_free_fd(pid_t pid) {
  std::set<int> open;
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    open.insert(std::stoi(fd.path().filename().string()));
  }
  int free = 0;
  while (open.contains(free)) ++free;
  return free;
}

// A fork that fails (here: the server out of descriptors for the spare's socket) fails the
// request that waits for it, with the reason; the server does not try again on its own, and
// the next request after the cause is gone gets its child.
TEST_F(forkserver_server_test, a_failed_fork_fails_the_waiting_request_and_the_next_one_succeeds) {
  ASSERT_TRUE(spawn::forkserver::start_server());
  const pid_t server = spawn::forkserver::server_pid();
  ASSERT_EQ(spares_when(server, 1).size(), 1u);
  // Forked is not yet handed over: the server needs a descriptor (its pidfd) for that. And
  // the server closes its own copies (the pidfd last) only after the clerk has them: until
  // then, the lowest descriptor it has free is not the one it will have.
  ASSERT_TRUE(eventually([&] { return clerk_pidfds(server) == 1 && pidfds_of(server) == 0; }))
      << "the clerk holds the spare, the server no descriptor of it";
  rlimit was{};
  ASSERT_EQ(::prlimit(server, RLIMIT_NOFILE, nullptr, &was), 0);
  rlimit none = was;
  none.rlim_cur = static_cast<rlim_t>(lowest_free_fd(server));
  ASSERT_EQ(::prlimit(server, RLIMIT_NOFILE, &none, nullptr), 0);
  run_async([&]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto spare = spawn::forkserver::start(ex, exits_with_five());
    EXPECT_TRUE(spare) << (spare ? "" : spare.error().message()) << ": the spare, forked before, serves";
    if (spare) {
      EXPECT_EQ((co_await spare.value()->wait()).code, 5);
    }
    auto refused = spawn::forkserver::start(ex, exits_with_five());
    EXPECT_FALSE(refused) << "no descriptor for the next spare's socket: no child";
    if (refused) co_return;
    EXPECT_NE(refused.error().message().find(std::strerror(EMFILE)), std::string::npos) << refused.error().message();
    EXPECT_TRUE(spares_of(server).empty()) << "nothing forked meanwhile";
    EXPECT_EQ(::prlimit(server, RLIMIT_NOFILE, &was, nullptr), 0);
    auto again = spawn::forkserver::start(ex, exits_with_five());
    EXPECT_TRUE(again) << (again ? "" : again.error().message()) << ": the next request forks";
    if (again) {
      EXPECT_EQ((co_await again.value()->wait()).code, 5);
    }
  }());
  spawn::forkserver::stop_server();
  EXPECT_TRUE(live_children().empty());
}

}  // namespace
