// The hazards of forking without exec, with real actors under the forkserver backend:
// inherited descriptors, locks held by other threads at the fork, SIGINT reaching a forked
// child's event loop, and teardown of many children under load.
#include <tractor/runtime/tree.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/matrix.hpp"
#include "tests/support/registry.hpp"

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/transport/uds.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>

namespace hazard {
// What the parent's "logging" threads hold in turn; children take it too.
inline std::mutex log_lock;

tractor::awaitable<std::vector<std::string>> open_descriptors() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    if (std::stoi(fd.path().filename().string()) <= 2) continue;
    out.push_back(std::filesystem::read_symlink(fd.path(), ec).string());
  }
  co_return out;
}

// Logs the way the parent's threads do: the lock, an allocation, formatting.
tractor::awaitable<int> log_a_line() {
  std::lock_guard lock(log_lock);
  auto line = std::make_unique<std::string>(fmt::format("child {} logs", ::getpid()));
  co_return static_cast<int>(line->size());
}

tractor::awaitable<int> sleep_forever() {
  co_await tractor::sleep_for(std::chrono::hours(1));
  co_return 0;
}
}  // namespace hazard

namespace {

using namespace tractor;

// The forkserver's own exit codes read as a child actor's codes of the same meaning.
using server_exit = spawn::forkserver::exit_code;
constexpr int parent_gone = static_cast<int>(server_exit::parent_gone);
static_assert(parent_gone == static_cast<int>(runtime::child_exit::parent_gone));
static_assert(static_cast<int>(server_exit::bad_request) == static_cast<int>(runtime::child_exit::bad_boot));
static_assert(static_cast<int>(server_exit::out_of_resources) == static_cast<int>(runtime::child_exit::out_of_resources));
using fs_tree = tree<spawn::forkserver, transport::uds, codec::cereal_binary,
                     exposed<&hazard::open_descriptors, &hazard::log_a_line, &hazard::sleep_forever>>;
const actor_options hazards_only{.enable_modules = {"hazard"}};

result<void> in_root(std::function<awaitable<result<void>>(actor_nursery<fs_tree>&)> body) {
  result<void> outcome = success();
  char arg0[] = "forkserver_test";
  char* argv[] = {arg0, nullptr};
  const int code = run_main<fs_tree>(1, argv, [&](root<fs_tree>& r) -> awaitable<result<void>> {
    outcome = co_await r.open_nursery([&](actor_nursery<fs_tree>& an) -> awaitable<result<void>> {
      co_return co_await body(an);
    });
    co_return success();
  });
  EXPECT_EQ(code, 0);
  return outcome;
}

// The targets of this process's descriptors above stdio that name one object (files, pipes,
// sockets; not the anonymous inodes every epoll or eventfd shares a name with).
std::set<std::string> own_descriptor_targets() {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    if (std::stoi(fd.path().filename().string()) <= 2) continue;
    const std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
    if (!target.empty() && target.rfind("anon_inode:", 0) != 0) out.insert(target);
  }
  return out;
}

class forkserver_test : public tractor::testing::actor_fixture {
 protected:
  void TearDown() override {
    EXPECT_TRUE(tractor::testing::live_children().empty()) << "a child (or the server) outlived its test";
    EXPECT_EQ(spawn::forkserver::server_pid(), 0);
    actor_fixture::TearDown();
  }
};

TEST_F(forkserver_test, a_forked_child_holds_no_descriptor_of_its_parent) {
  // Inheritable on purpose (no close-on-exec): the server and its children must close them.
  const int marker = ::open("/proc/self/exe", O_RDONLY);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  std::set<std::string> parents;
  std::vector<std::string> childs;
  auto r = in_root([&](actor_nursery<fs_tree>& an) -> awaitable<result<void>> {
    auto c = co_await an.start_actor("fd-check", hazards_only);
    if (!c) co_return c.error();
    auto fds = co_await c.value().run<&hazard::open_descriptors>();
    if (!fds) co_return fds.error();
    childs = fds.value();
    parents = own_descriptor_targets();  // ours now: listener, channel, the marker, ...
    an.cancel();
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
  for (int fd : {marker, pipe_fds[0], pipe_fds[1], pair[0], pair[1]}) ::close(fd);
  EXPECT_TRUE(parents.contains(std::filesystem::read_symlink("/proc/self/exe").string())) << "the check sees files";
  EXPECT_FALSE(childs.empty()) << "the child has its own sockets";
  for (const auto& target : childs) {
    EXPECT_FALSE(parents.contains(target)) << "the child holds the parent's " << target;
  }
}

TEST_F(forkserver_test, forking_while_other_threads_hold_locks_does_not_deadlock_children) {
  // The program starts its server first (as documented), then its threads: they log, and
  // allocate, under a lock, without pause, while children are forked and log too.
  spawn::forkserver::session server;
  std::atomic<bool> stop{false};
  std::vector<std::thread> loggers;
  for (int i = 0; i < 2; ++i) {
    loggers.emplace_back([&stop, i] {
      while (!stop) {
        std::lock_guard lock(hazard::log_lock);
        auto line = std::make_unique<std::string>(fmt::format("parent thread {}", i));
        (void)line;
      }
    });
  }
  int logged = 0;
  auto r = in_root([&](actor_nursery<fs_tree>& an) -> awaitable<result<void>> {
    for (int i = 0; i < 20; ++i) {
      auto c = co_await an.start_actor("logger-" + std::to_string(i), hazards_only);
      if (!c) co_return c.error();
      // A child stuck on a lock copied in its held state would never answer: the watchdog
      // turns that into a failure instead of a hang.
      auto n = co_await fail_after(std::chrono::seconds(10), c.value().run<&hazard::log_a_line>());
      if (!n) co_return n.error();
      logged += n.value() > 0;
    }
    an.cancel();
    co_return success();
  });
  stop = true;
  for (auto& t : loggers) t.join();
  EXPECT_TRUE(r) << r.error().message();
  EXPECT_EQ(logged, 20);
}

TEST_F(forkserver_test, sigint_reaches_and_wakes_a_forked_child) {
#if defined(__SANITIZE_THREAD__)
  // The server forks off this process while the fixture's watchdog thread runs. ThreadSanitizer
  // turns itself off in a process forked from a multi-threaded one (and in its descendants):
  // its interceptors pass straight through, so it never runs a signal handler it deferred,
  // and the child's loop, asleep in epoll_wait, is never told of the SIGINT.
  GTEST_SKIP() << "ThreadSanitizer runs no signal handler in a child of a multi-threaded fork";
#endif
  auto r = in_root([&](actor_nursery<fs_tree>& an) -> awaitable<result<void>> {
    auto c = co_await an.start_actor("interrupted", hazards_only);
    if (!c) co_return c.error();
    const pid_t pid = static_cast<pid_t>(c.value().aid().pid.value_or(0));
    EXPECT_GT(pid, 0);
    EXPECT_NE(pid, ::getpid());
    auto blocked = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon([&]() -> awaitable<void> {
        // Ends when the child, interrupted, cancels itself and closes its channel; a loop
        // that SIGINT does not wake would leave it waiting (then the watchdog fails it).
        auto v = co_await fail_after(std::chrono::seconds(10), c.value().run<&hazard::sleep_forever>());
        EXPECT_FALSE(v);
        EXPECT_NE(v.error(), errc::timeout) << "the child did not react to SIGINT";
      });
      // The call is running once the child answers another one after it.
      auto fds = co_await c.value().run<&hazard::open_descriptors>();
      EXPECT_TRUE(fds);
      ::kill(pid, SIGINT);
    });
    EXPECT_TRUE(blocked);
    an.cancel();
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
}

int exit_at_once(const spawn::child_boot&) { return 0; }
int wait_for_sigkill(const spawn::child_boot&) {
  for (;;) ::pause();
}

spawn::spawn_request plain_request(spawn::child_entry entry) {
  spawn::spawn_request req;
  req.boot.name = "plain";
  req.boot.parent_pid = ::getpid();
  req.title = "plain";
  req.run_child = entry;
  return req;
}

// The server passes each child's pidfd to its spawner, which keeps it while it holds the
// handle. Children that exited while their spawner holds their handles must not make the
// server wait for children that run on: it answers every later request at once.
TEST_F(forkserver_test, exited_children_whose_handles_are_held_do_not_stall_the_server) {
  const spawn::session<spawn::forkserver> session;
  boost::asio::io_context ctx;
  std::vector<std::unique_ptr<spawn::child_handle>> exited, running;
  for (int i = 0; i < 12; ++i) {
    auto c = spawn::forkserver::start(ctx.get_executor(), plain_request(&exit_at_once));
    ASSERT_TRUE(c) << c.error().message();
    exited.push_back(std::move(c).value());
  }
  tractor::testing::run_async(ctx, [&]() -> awaitable<void> {
    for (auto& c : exited) {
      auto status = co_await c->wait();
      EXPECT_TRUE(status.exited && status.code == 0) << status.describe();
    }
  }());
  // If the server stalls, a spawn below never returns: this watchdog kills the running
  // children after a while, which lets it go on, and the test fails.
  std::mutex m;
  std::condition_variable cv;
  bool done = false, fired = false;
  std::vector<pid_t> to_kill;
  std::thread watchdog([&] {
    std::unique_lock lock(m);
    if (cv.wait_for(lock, std::chrono::seconds(30), [&] { return done; })) return;
    fired = true;
    for (pid_t p : to_kill) ::kill(p, SIGKILL);
  });
  for (int i = 0; i < 13; ++i) {
    auto c = spawn::forkserver::start(ctx.get_executor(), plain_request(i < 12 ? &wait_for_sigkill : &exit_at_once));
    ASSERT_TRUE(c) << c.error().message();
    std::lock_guard lock(m);
    if (i < 12) to_kill.push_back(c.value()->pid());
    running.push_back(std::move(c).value());
  }
  {
    std::lock_guard lock(m);
    done = true;
  }
  cv.notify_one();
  watchdog.join();
  EXPECT_FALSE(fired) << "the server stalled: a spawn returned only once running children were killed";
  for (int i = 0; i < 12; ++i) EXPECT_FALSE(running[i]->poll()) << "child " << i << " ended early";
  for (auto& c : running) c->kill();
  tractor::testing::run_async(ctx, [&]() -> awaitable<void> {
    for (auto& c : running) {
      auto status = co_await c->wait();
      (void)status;
    }
  }());
}

// How many descriptors process `pid` holds.
std::size_t descriptors_of(pid_t pid) {
  std::size_t n = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return n;
}

// Every fork copies the forking process's descriptor table, and the child then closes what
// it inherited. The server, which forks, holds a handful of descriptors however many children
// are alive: their pidfds, links and status pipes are its clerk's.
TEST_F(forkserver_test, the_server_forks_from_a_table_that_does_not_grow_with_its_children) {
  const spawn::session<spawn::forkserver> session;
  const pid_t server = spawn::forkserver::server_pid();
  ASSERT_GT(server, 0);
  boost::asio::io_context ctx;
  std::vector<std::unique_ptr<spawn::child_handle>> running;
  for (int i = 0; i < 40; ++i) {
    auto c = spawn::forkserver::start(ctx.get_executor(), plain_request(&wait_for_sigkill));
    ASSERT_TRUE(c) << c.error().message();
    running.push_back(std::move(c).value());
  }
  // Stdio, its link to the clerk and its SIGCHLD descriptor (a request's descriptors are
  // closed just after its answer leaves, a spare's once the clerk has them).
  EXPECT_TRUE(tractor::testing::eventually([&] { return descriptors_of(server) <= 5; }))
      << "the server holds " << descriptors_of(server) << " descriptors with 40 children alive";
  for (auto& c : running) c->kill();
  tractor::testing::run_async(ctx, [&]() -> awaitable<void> {
    for (auto& c : running) {
      const auto status = co_await c->wait();
      EXPECT_EQ(status.signal, SIGKILL) << status.describe();
    }
  }());
}

// The server's child titled `title`, once there is one (0: none came).
pid_t child_titled(pid_t server, const std::string& title) {
  pid_t found = 0;
  (void)tractor::testing::eventually([&] {
    for (const pid_t pid : tractor::testing::children_of(server)) {
      const auto p = tractor::testing::read_process(pid);
      if (p && p->title == title) found = pid;
    }
    return found != 0;
  });
  return found;
}

// A forkserver that does not answer (here: stopped, the clerk that answers and the server
// that forks) fails the spawn within the request's bound instead of holding its spawner for
// ever. The link is given up and the server, ours, killed and reaped; the next spawn starts
// a new one.
TEST_F(forkserver_test, a_server_that_does_not_answer_fails_the_spawn_within_its_bound) {
  boost::asio::io_context ctx;
  {
    const spawn::session<spawn::forkserver> session;
    const pid_t server = spawn::forkserver::server_pid();
    ASSERT_GT(server, 0);
    const pid_t clerk = child_titled(server, std::string(spawn::forkserver::server_title) + " (clerk)");
    ASSERT_GT(clerk, 0);
    ASSERT_EQ(::kill(clerk, SIGSTOP), 0);
    ASSERT_EQ(::kill(server, SIGSTOP), 0);
    auto req = plain_request(&exit_at_once);
    req.start_timeout = std::chrono::milliseconds(200);
    auto c = spawn::forkserver::start(ctx.get_executor(), req);
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message().find("did not answer within 200 ms"), std::string::npos) << c.error().message();
    EXPECT_EQ(spawn::forkserver::server_pid(), 0);
    // The server was reaped; its clerk and its spare, orphaned to this test program (a
    // subreaper), end with it and are reaped here. The clerk dies by its parent-death signal
    // (SIGKILL); the spare by whichever news of the death reaches it first
    // (tools/forkserver/server.hpp): that signal, its socket to the clerk closing while it
    // waits for a request (status 0), or, forked just before the server stopped, finding its
    // parent gone before it could tie itself to it (`exit_code::parent_gone`).
    const auto left = tractor::testing::live_children();
    ASSERT_FALSE(left.contains(server)) << "the stopped server was not killed and reaped";
    for (const pid_t p : left) {
      int status = 0;
      EXPECT_EQ(::waitpid(p, &status, 0), p);
      const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      const bool left_with_it = WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == parent_gone);
      EXPECT_TRUE(killed || left_with_it) << "pid " << p << " ended otherwise: status " << status;
    }
  }
  const spawn::session<spawn::forkserver> session;
  auto c = spawn::forkserver::start(ctx.get_executor(), plain_request(&exit_at_once));
  ASSERT_TRUE(c) << c.error().message();
  tractor::testing::run_async(ctx, [&]() -> awaitable<void> {
    auto status = co_await c.value()->wait();
    EXPECT_TRUE(status.exited && status.code == 0) << status.describe();
  }());
}

TEST_F(forkserver_test, teardown_of_twenty_children_under_load_leaves_nothing_behind) {
  // Names of this run only: a run beside this one (--runs_per_test, maybe with the same pid in
  // its own sandbox) has its own files in the same runtime dir.
  const std::string prefix = "loaded" + runtime::new_uuid().substr(0, 8) + "-";
  // The server first, as a program starts it before its threads: forked while a load thread
  // is inside an allocator that has no fork handlers (a sanitizer's), it would inherit its lock.
  const spawn::session<spawn::forkserver> session;
  std::atomic<bool> stop{false};
  std::vector<std::thread> load;
  for (int i = 0; i < 2; ++i) {
    load.emplace_back([&] {
      while (!stop) {
        auto p = std::make_unique<char[]>(4096);
        p[0] = 1;
      }
    });
  }
  auto r = in_root([&](actor_nursery<fs_tree>& an) -> awaitable<result<void>> {
    for (int i = 0; i < 20; ++i) {
      auto c = co_await an.start_actor(prefix + std::to_string(i), hazards_only);
      if (!c) co_return c.error();
    }
    EXPECT_EQ(tractor::testing::live_child_processes().size(), 20u);
    an.cancel();
    co_return success();
  });
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_TRUE(r) << r.error().message();
  std::size_t left = 0;
  for (const auto& name : tractor::testing::listeners_left()) left += name.rfind(prefix, 0) == 0;
  EXPECT_EQ(left, 0u) << "listeners left behind";
}

}  // namespace

int main(int argc, char** argv) {
  return tractor::testing::run_all_tests(argc, argv);
}
