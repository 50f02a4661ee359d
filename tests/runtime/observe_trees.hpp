// The trees observe_test runs as programs of their own (this binary, run again): the exposed
// functions of their actors, and the roots' bodies (see observe_test.cpp).
#pragma once

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/transport/tcp.hpp>
#include <tractor/transport/uds.hpp>

#include "tests/support/matrix.hpp"
#include "tests/support/matrix_tree.hpp"
#include "tests/support/subprocess.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace observe_tests {

using namespace std::chrono_literals;
using tractor::task;

inline constexpr tractor::log::logger app{"app"};

/// Options for a child that may run the functions below.
inline tractor::actor_options obs_child() {
  tractor::actor_options o;
  o.enable_modules = {"observe_tests::obs"};
  return o;
}

namespace obs {
/// Logs one line at debug and one at info; returns this actor's pid.
inline tractor::awaitable<int> greet() {
  app.debug("debug from {}", tractor::runtime::current_actor()->aid().name);
  app.info("info from {}", tractor::runtime::current_actor()->aid().name);
  co_return ::getpid();
}
/// Starts "carol" under this actor (no level of its own: she inherits ours), has her greet,
/// returns her pid.
template <class Transport>
task<int> lead();

/// Reports started, then sleeps for an hour in a nested nursery (a task named "napper").
inline task<int> nap(tractor::context<int>& ctx) {
  BOOST_OUTCOME_CO_TRYV(co_await ctx.started(::getpid()));
  auto slept = co_await tractor::open_nursery([](tractor::nursery& n) -> tractor::awaitable<void> {
    n.start_soon("napper", tractor::sleep_for(std::chrono::hours(1)));
    co_return;
  });
  (void)slept;
  co_return 0;
}

/// Starts "carol" napping, reports started once she is, then waits forever on a memory channel.
template <class Transport>
task<int> lead_and_block(tractor::context<int>& ctx);

/// Reports started, says "wedging" on stdout, then blocks its loop's thread in a plain sleep.
inline task<int> wedge(tractor::context<int>& ctx) {
  BOOST_OUTCOME_CO_TRYV(co_await ctx.started(::getpid()));
  fmt::print("wedging\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(20));
  co_return 0;
}
}  // namespace obs

template <class Transport>
using tree_of = tractor::testing::matrix_tree<tractor::codec::cereal_binary,
                                             tractor::exposed<&obs::greet, &obs::lead<Transport>, &obs::nap,
                                                              &obs::lead_and_block<Transport>, &obs::wedge>,
                                             tractor::errors<>, Transport>;

template <class Transport>
task<int> obs::lead_and_block(tractor::context<int>& ctx) {
  using tree = tree_of<Transport>;
  BOOST_OUTCOME_CO_TRYV(co_await tractor::open_actor_nursery<tree>([&](tractor::actor_nursery<tree>& an) -> task<void> {
    const tractor::actor_options carol_opts = obs_child();  // a named local: see CONTRIBUTING.md
    BOOST_OUTCOME_CO_TRY(auto carol, co_await an.start_actor("carol", carol_opts));
    co_return co_await carol.template open_context<&obs::nap>(
        [&](tractor::caller_context<&obs::nap>&, int) -> task<void> {
          BOOST_OUTCOME_CO_TRYV(co_await ctx.started(::getpid()));
          tractor::memory_channel<int> never(1, "never");
          auto got = co_await never.receive();
          (void)got;
          co_return tractor::success();
        });
  }));
  co_return 0;
}

template <class Transport>
task<int> obs::lead() {
  using tree = tree_of<Transport>;
  int pid = 0;
  BOOST_OUTCOME_CO_TRYV(co_await tractor::open_actor_nursery<tree>([&](tractor::actor_nursery<tree>& an) -> task<void> {
    const tractor::actor_options carol_opts = obs_child();  // a named local: see CONTRIBUTING.md
    BOOST_OUTCOME_CO_TRY(auto carol, co_await an.start_actor("carol", carol_opts));
    BOOST_OUTCOME_CO_TRY(pid, co_await carol.template run<&obs::greet>());
    an.cancel();
    co_return tractor::success();
  }));
  co_return pid;
}

/// SIGUSR1's disposition in this process: "default", "ignored" or "handler".
inline std::string usr1_disposition() {
  struct sigaction now {};
  ::sigaction(SIGUSR1, nullptr, &now);
  return now.sa_handler == SIG_DFL ? "default" : now.sa_handler == SIG_IGN ? "ignored" : "handler";
}

/// Says "ready" on stdout, then sleeps for an hour: the root's body once its tree is up.
inline task<void> ready_then_sleep() {
  fmt::print("usr1={}\nready\n", usr1_disposition());
  std::fflush(stdout);
  co_await tractor::sleep_for(std::chrono::hours(1));
  co_return tractor::success();
}

/// Opens the stream of `ctx`, says "ready" on stdout, then waits for an item that never
/// comes: the root's body in the dump tree.
inline task<void> ready_then_receive(tractor::caller_context<&obs::nap>& ctx) {
  BOOST_OUTCOME_CO_TRY(auto stream, ctx.open_stream());
  fmt::print("usr1={}\nready\n", usr1_disposition());
  std::fflush(stdout);
  auto item = co_await stream.receive();
  (void)item;
  co_return tractor::success();
}

inline tractor::root_options with_taskdump() {
  tractor::root_options opts;
  opts.enable_taskdump = true;
  return opts;
}

inline std::optional<tractor::log::level> level_env(const char* name) {
  const char* v = std::getenv(name);
  return v ? tractor::log::parse_level(v) : std::nullopt;
}

/// The program the tests run: root, bob (OBSERVE_BOB_LEVEL) with carol under him, dave.
/// Prints every actor's pid on stdout.
inline int log_tree() {
  using tree = tree_of<tractor::transport::uds>;
  tractor::root_options opts;
  opts.loglevel = level_env("OBSERVE_ROOT_LEVEL");
  return tractor::run_main<tree>(0, nullptr, opts, [](tractor::actor_nursery<tree>& an) -> task<void> {
    app.debug("debug from root");
    app.info("info from root");
    tractor::actor_options bob_opts = obs_child();
    bob_opts.loglevel = level_env("OBSERVE_BOB_LEVEL");
    BOOST_OUTCOME_CO_TRY(auto bob, co_await an.start_actor("bob", bob_opts));
    const tractor::actor_options dave_opts = obs_child();  // a named local: see CONTRIBUTING.md
    BOOST_OUTCOME_CO_TRY(auto dave, co_await an.start_actor("dave", dave_opts));
    BOOST_OUTCOME_CO_TRY(int bob_pid, co_await bob.template run<&obs::greet>());
    BOOST_OUTCOME_CO_TRY(int dave_pid, co_await dave.template run<&obs::greet>());
    BOOST_OUTCOME_CO_TRY(int carol_pid, co_await bob.template run<&obs::lead<tractor::transport::uds>>());
    fmt::print("root={} bob={} dave={} carol={} usr1={}\n", ::getpid(), bob_pid, dave_pid, carol_pid,
               usr1_disposition());
    std::fflush(stdout);
    an.cancel();
    co_return tractor::success();
  });
}

/// The program of the dump tests: root -> bob -> carol, root -> dave, each blocked (bob on a
/// memory channel, carol and dave asleep in nested nurseries, the root on a stream from dave),
/// with task dumps on; prints "ready" once all are blocked, and runs until SIGINT.
template <class Transport>
int dump_tree() {
  using tree = tree_of<Transport>;
  const int code = tractor::run_main<tree>(0, nullptr, with_taskdump(), [](tractor::actor_nursery<tree>& an) -> task<void> {
    const tractor::actor_options bob_opts = obs_child();  // a named local: see CONTRIBUTING.md
    BOOST_OUTCOME_CO_TRY(auto bob, co_await an.start_actor("bob", bob_opts));
    const tractor::actor_options dave_opts = obs_child();  // a named local: see CONTRIBUTING.md
    BOOST_OUTCOME_CO_TRY(auto dave, co_await an.start_actor("dave", dave_opts));
    co_return co_await bob.template open_context<&obs::lead_and_block<Transport>>(
        [&](tractor::caller_context<&obs::lead_and_block<Transport>>&, int) -> task<void> {
          co_return co_await dave.template open_context<&obs::nap>(
              [](tractor::caller_context<&obs::nap>& with_dave, int) { return ready_then_receive(with_dave); });
        });
  });
  fmt::print("usr1 after={}\n", usr1_disposition());
  return code;
}

/// The program of the watchdog test: root -> stuck, whose loop blocks in a plain sleep.
inline int wedge_tree() {
  using tree = tree_of<tractor::transport::uds>;
  return tractor::run_main<tree>(0, nullptr, with_taskdump(), [](tractor::actor_nursery<tree>& an) -> task<void> {
    const tractor::actor_options stuck_opts = obs_child();  // a named local: see CONTRIBUTING.md
    BOOST_OUTCOME_CO_TRY(auto stuck, co_await an.start_actor("stuck", stuck_opts));
    co_return co_await stuck.template open_context<&obs::wedge>(
        [](tractor::caller_context<&obs::wedge>&, int) { return ready_then_sleep(); });
  });
}

}  // namespace observe_tests
