// The actor tests' shared part: the exposed functions every child actor runs, the trees of
// the policy matrix (this binary's spawn backend x every transport, and the codec axis under
// exec), and the helpers that run a root. Included by actor_test.cpp and
// supervision_test.cpp, which make one binary.
#pragma once

#include <tractor/runtime/tree.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/matrix.hpp"
#include "tests/support/matrix_tree.hpp"
#include "tests/support/registry.hpp"
#include "tests/support/reaper.hpp"

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/codec/cereal_json.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include <boost/asio/steady_timer.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

// Error types the test trees register, and one they do not.
namespace app {
struct quota_exceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct unregistered_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
enum class app_errc { over_limit = 1 };
class app_category_impl : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "app"; }
  std::string message(int v) const override { return v == 1 ? "over the limit" : "app error"; }
};
inline const boost::system::error_category& app_category() {
  static const app_category_impl c;
  return c;
}
inline boost::system::error_code make_error_code(app_errc e) { return {static_cast<int>(e), app_category()}; }
}  // namespace app
template <>
struct boost::system::is_error_code_enum<app::app_errc> : std::true_type {};

namespace math {
inline tractor::awaitable<int> add(int a, int b) { co_return a + b; }
inline tractor::awaitable<int> over_quota(std::string why) {
  throw app::quota_exceeded(why);
  co_return 0;
}
inline tractor::awaitable<tractor::result<int>> over_limit() { co_return app::app_errc::over_limit; }
inline tractor::awaitable<int> unregistered(std::string why) {
  throw app::unregistered_failure(why);
  co_return 0;
}
inline tractor::awaitable<tractor::result<int>> checked_div(int a, int b) {
  if (b == 0) co_return tractor::errc::would_block;
  co_return a / b;
}
inline tractor::awaitable<std::string> explode(std::string why) {
  throw std::runtime_error(why);
  co_return "";
}
inline tractor::awaitable<std::string> cmdline() {
  std::ifstream in("/proc/self/cmdline");
  std::string s;
  std::getline(in, s, '\0');
  co_return s;
}
inline tractor::awaitable<int> fail_after_ms(int ms, std::string why) {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(ms));
  co_await t.async_wait(boost::asio::use_awaitable);
  throw std::runtime_error(why);
}
inline tractor::awaitable<int> sleep_forever() {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::hours(1));
  co_await t.async_wait(boost::asio::use_awaitable);
  co_return 0;
}
inline tractor::awaitable<int> block_the_loop() {
  for (;;) ::sleep(3600);  // blocking, and deaf to EINTR: only SIGKILL ends this actor
  co_return 0;
}
// Set in the child once `fail_on_cancel` waits (so that cancelling it makes it raise).
inline thread_local tractor::event waiting_to_fail;
inline tractor::awaitable<int> fail_on_cancel(std::string why) {
  auto complain = [why]() -> tractor::awaitable<void> {
    throw std::runtime_error(why);
    co_return;
  };
  waiting_to_fail.set();
  co_return co_await tractor::finally(sleep_forever(), complain());
}
// Returns once `fail_on_cancel` waits in this actor.
inline tractor::awaitable<bool> until_waiting_to_fail() {
  co_await waiting_to_fail.wait();
  co_return true;
}
// `fail_when_released` fails once `release` has run in the same actor: a failure whose moment
// the test chooses (each actor, process or thread, has its own event).
inline thread_local tractor::event released;
inline tractor::awaitable<int> fail_when_released(std::string why) {
  co_await released.wait();
  throw std::runtime_error(why);
}
inline tractor::awaitable<bool> release() {
  released.set();
  co_return true;
}
// Calls run_main from inside this actor (defined below, once the trees exist): returns its
// exit code, which must be the refusal's (one root per process).
inline tractor::awaitable<int> nested_root();
// Set in the child when a task of `wait_to_be_cancelled` sees its cancellation.
inline thread_local tractor::event a_task_was_cancelled;
inline tractor::awaitable<int> wait_to_be_cancelled() {
  auto note = []() -> tractor::awaitable<void> {
    a_task_was_cancelled.set();
    co_return;
  };
  co_return co_await tractor::finally(sleep_forever(), note());
}
// Returns once some task of this actor was cancelled by its caller.
inline tractor::awaitable<bool> until_a_task_was_cancelled() {
  co_await a_task_was_cancelled.wait();
  co_return true;
}
// A child that opens its own actor nursery (defined below, once the trees exist) with two
// one-shot grandchildren that both fail, so the spawner's nursery fails with a group of two
// (collected when it joins), which the spawner returns to its caller.
inline tractor::awaitable<tractor::result<int>> spawn_failing_grandchildren(std::string tag);
// A child that starts a grandchild stuck in blocking code and holds it until cancelled;
// `until_grandchild_started` returns once the grandchild is running.
inline tractor::awaitable<tractor::result<int>> hold_blocked_grandchild();
inline thread_local tractor::event grandchild_started;
inline tractor::awaitable<bool> until_grandchild_started() {
  co_await grandchild_started.wait();
  co_return true;
}
}  // namespace math
namespace secret {
inline tractor::awaitable<int> hidden() { co_return 42; }
}  // namespace secret

namespace actor_tests {

using namespace tractor;
using fns = exposed<&math::add, &math::checked_div, &math::explode, &math::cmdline,
                    &math::fail_after_ms, &math::sleep_forever, &math::fail_on_cancel, &math::until_waiting_to_fail, &math::block_the_loop,
                    &math::spawn_failing_grandchildren, &math::wait_to_be_cancelled,
                    &math::until_a_task_was_cancelled, &math::over_quota, &math::over_limit,
                    &math::unregistered, &math::hold_blocked_grandchild,
                    &math::until_grandchild_started, &math::fail_when_released, &math::release, &math::nested_root,
                    &secret::hidden>;
using errs = errors<app::quota_exceeded, app::app_errc>;
// The cell's backend and transport (tests/support/matrix_tree.hpp), with either codec: the
// codec axis is a cell of its own (exec/uds/json), which runs only the json tree's tests.
using binary_tree = tractor::testing::matrix_tree<codec::cereal_binary, fns, errs>;
using json_tree = tractor::testing::matrix_tree<codec::cereal_json, fns, errs>;
using tractor::testing::thread_actors;

// Test names: actor_test/binary.name, actor_test/json.name (main filters by the cell).
struct tree_names {
  template <class Tree>
  static std::string GetName(int) {
    return std::is_same_v<Tree, json_tree> ? "json" : "binary";
  }
};

// Calls `f(std::type_identity<Tree>{})` with the tree this process's test root uses.
template <class F>
decltype(auto) on_tree(F f) {
  if (tractor::testing::cell().json) return f(std::type_identity<json_tree>{});
  return f(std::type_identity<binary_tree>{});
}

// A child that binds its address and answers its handshake, then stays silent (never
// registers, never takes its SpawnSpec) until it is killed, or (a thread) stopped, or its
// parent hangs up: what a parent sees of a child stuck between handshake and SpawnSpec.
template <class Tree>
int silent_after_handshake(const spawn::child_boot& boot) {
  const runtime::policies pol = Tree::policies();
  boost::asio::io_context ctx;
  const boost::asio::any_io_executor ex = ctx.get_executor();
  auto server = pol.listen(ex, pol.bind_addr(boot.name));
  if (!server) return 20;
  if (boot.stop) boot.stop->install([&ctx] { ctx.stop(); });
  auto speak = [&]() -> awaitable<void> {
    std::optional<transport::connection> sock;
    if (boot.channel_fd >= 0) {
      auto adopted = transport::adopt_local(ex, ::fcntl(boot.channel_fd, F_DUPFD_CLOEXEC, 3));
      if (adopted) sock.emplace(transport::connection{std::move(adopted).value()});
    } else if (auto parent = transport::multiaddr::parse(boot.parent_addr)) {
      auto connected = co_await tractor::runtime::connect_to(pol, parent.value());
      if (connected) sock.emplace(std::move(connected).value());
    }
    if (!sock) co_return;
    auto ch = pol.make_channel(std::move(*sock), {});
    const msg::Aid self{boot.name, boot.uuid, ::getpid(), false, false};
    auto hs = co_await tractor::runtime::handshake(*ch, self, std::chrono::seconds(10));
    if (!hs) co_return;
    for (;;) {
      auto m = co_await ch->receive();  // read and ignored, until the parent hangs up
      if (!m) co_return;
    }
  };
  boost::asio::co_spawn(ctx, speak, [](std::exception_ptr) {});
  ctx.run();
  if (boot.stop) boot.stop->clear();
  return 0;
}

inline int silent_child(const spawn::child_boot& boot) {
  return on_tree([&](auto t) { return silent_after_handshake<typename decltype(t)::type>(boot); });
}

// Children named "silent-after-handshake" (under the forkserver and thread backends) run it.
inline const bool silent_child_known = (tractor::testing::silent_after_handshake_entry = &silent_child, true);

template <class Tree>
awaitable<result<int>> failing_grandchildren(std::string tag) {
  auto r = co_await open_actor_nursery<Tree>([&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
    for (const char* which : {"-a", "-b"}) {
      const std::string why = tag + which + " failed";
      auto g = co_await an.template run_in_actor<&math::explode>(tag + which, why);
      if (!g) co_return g.error();
    }
    co_return success();
  });
  if (!r) co_return r.error();
  co_return 0;
}

template <class Tree>
awaitable<result<int>> blocked_grandchild() {
  auto r = co_await open_actor_nursery<Tree>([&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
    auto g = co_await an.template run_in_actor<&math::block_the_loop>("blocked");
    if (!g) co_return g.error();
    math::grandchild_started.set();
    co_await math::sleep_forever();
    co_return success();
  });
  if (!r) co_return r.error();
  co_return 0;
}

// Runs a root whose body does nothing; returns run_main's exit code.
template <class Tree>
int second_root() {
  char arg0[] = "second_root";
  char* argv[] = {arg0, nullptr};
  return run_main<Tree>(1, argv, [](root<Tree>&) -> awaitable<result<void>> { co_return success(); });
}

}  // namespace actor_tests

inline tractor::awaitable<int> math::nested_root() {
  co_return actor_tests::on_tree([](auto t) { return actor_tests::second_root<typename decltype(t)::type>(); });
}

inline tractor::awaitable<tractor::result<int>> math::hold_blocked_grandchild() {
  return actor_tests::on_tree([](auto t) { return actor_tests::blocked_grandchild<typename decltype(t)::type>(); });
}

inline tractor::awaitable<tractor::result<int>> math::spawn_failing_grandchildren(std::string tag) {
  return actor_tests::on_tree(
      [&](auto t) { return actor_tests::failing_grandchildren<typename decltype(t)::type>(tag); });
}

namespace actor_tests {

// The policy matrix: one body, run under each tree. The child picks the same tree from the
// environment it inherits.
template <class Tree>
int run_tree(std::function<awaitable<result<void>>(actor_nursery<Tree>&)> body) {
  char arg0[] = "actor_test";
  char* argv[] = {arg0, nullptr};
  return run_main<Tree>(1, argv, std::move(body));  // the flat form: the body gets the nursery
}

// The actor nursery's own result (run_tree only reports the exit code).
template <class Tree>
result<void> nursery_result(std::function<awaitable<result<void>>(actor_nursery<Tree>&)> body) {
  result<void> outcome = success();
  char arg0[] = "actor_test";
  char* argv[] = {arg0, nullptr};
  (void)run_main<Tree>(1, argv, [&](root<Tree>& r) -> awaitable<result<void>> {
    outcome = co_await r.open_nursery([&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
      co_return co_await body(an);
    });
    co_return success();
  });
  return outcome;
}

template <class Tree>
class actor_fixture : public tractor::testing::no_child_left {};
using trees = ::testing::Types<binary_tree, json_tree>;

// Runs the tests of this cell's codec only.
inline int run_cell_tests(int argc, char** argv) {
  ::testing::GTEST_FLAG(filter) = tractor::testing::cell().json ? "*/json.*" : "*/binary.*";
  return tractor::testing::run_matrix_tests(argc, argv);
}

}  // namespace actor_tests

namespace actor_tests {

// Orphans (if any) were reparented to this process (the subreaper): reaps them as they die.
// A survivor would block here, so an alarm is the watchdog (its default action ends this
// binary, loudly).
inline void reap_orphans() {
  ::alarm(20);
  while (!tractor::testing::live_children_but_server().empty()) {
    int ws = 0;
    (void)::waitpid(-1, &ws, 0);
  }
  // A forkserver's children die with their spawner too, killed by the server when the
  // spawner's link closes: waited for through pidfds.
  for (const pid_t pid : tractor::testing::live_child_processes()) {
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) continue;  // gone already
    pollfd exited{fd, POLLIN, 0};
    (void)::poll(&exited, 1, -1);
    ::close(fd);
  }
  ::alarm(0);
}

// A root in its own process that starts two children, says "ready" on stdout, and waits.
template <class Tree>
int root_forever() {
  char arg0[] = "actor_test_root";
  char* argv[] = {arg0, nullptr};
  return run_main<Tree>(1, argv, [](root<Tree>& r) -> awaitable<result<void>> {
    co_return co_await r.open_nursery([&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
      const actor_options math_only{.enable_modules = {"math"}};
      for (int i = 0; i < 2; ++i) {
        const std::string name = "held-" + std::to_string(i);
        auto w = co_await an.start_actor(name, math_only);
        if (!w) co_return w.error();
      }
      std::printf("ready\n");
      std::fflush(stdout);
      co_await math::sleep_forever();
      co_return success();
    });
  });
}

// Runs a root as a subprocess, waits for it to be ready, signals it, and returns how it
// ended once it and every descendant are gone (this process is their subreaper).
template <class Tree>
spawn::exit_status signal_root(int sig) {
  boost::asio::io_context ctx;
  int out[2];
  EXPECT_EQ(::pipe(out), 0);
  auto root = spawn::exec_process(ctx.get_executor(), {.env = {{"ACTOR_TEST_MODE", "root_forever"}},
                                                       .stdout_fd = out[1]});
  ::close(out[1]);
  char buf[16] = {};
  const ssize_t n = ::read(out[0], buf, sizeof buf - 1);  // blocks until "ready"
  ::close(out[0]);
  EXPECT_GT(n, 0);
  EXPECT_EQ(std::string(buf), "ready\n");
  EXPECT_EQ(tractor::testing::live_children_but_server().size(), 1u) << "only the root is our child";
  ::kill(root.value()->pid(), sig);
  spawn::exit_status status;
  tractor::testing::run_async(ctx, [&]() -> awaitable<void> {
    status = co_await root.value()->wait();
  }());
  reap_orphans();
  return status;
}

}  // namespace actor_tests
