// Runtime benchmark: spawning, calling and tearing down child actors (exec backend, UDS; calls
// also under the shm transport),
// each beside its raw floor measured in the same run.
//
//     tools/bazel run //tools/bench:runtime_bench [-- --spawns N --calls N]
//
// Floors:
//   spawn     posix_spawn of this same binary in a minimal mode that only connects back to a
//             UDS listener and writes one byte (same dynamic linking), until that byte arrives
//   call      a blocking UDS ping-pong of one small frame each way between two processes
//   shm call  a round trip through a C-style ring pair (spsc_floor.hpp), blocking on its
//             doorbells, and looking again first as the shm transport does
// Measured:
//   spawn-to-ready   start_actor until the portal is returned; and until a first call returns
//   no-op call       portal.run<&noop>() round trip; and under the shm transport, to a
//                    forkserver child on the other CPU
//   teardown         cancelling a nursery of K idle children until all are reaped, per child
//   idle RSS         VmRSS of an idle child
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/spawn/forkserver.hpp>
#include <tractor/transport/shm.hpp>
#include <tractor/transport/uds.hpp>

#include <fmt/core.h>

#include "tools/bench/bench_support.hpp"
#include "tools/bench/spsc_floor.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

#include <sys/wait.h>

namespace bench {
tractor::awaitable<int> noop() { co_return 0; }
}  // namespace bench

namespace {

using namespace tractor;
using bench::clk;
using bench::median;
using bench::ms_since;
using bench::pin;
using bench::pin_child;
using bench::rss_kib;
using bench::uds_connect;
using bench::uds_listen;
using bench_tree = tractor::tree<spawn::exec, transport::uds, codec::cereal_binary,
                           exposed<&bench::noop>>;
using shm_tree = tractor::tree<spawn::forkserver, transport::shm, codec::cereal_binary, exposed<&bench::noop>>;

// -- raw floors --------------------------------------------------------------------------------

double raw_ping_pong_us(const std::string& path, int rounds, int child_cpu) {
  int l = uds_listen(path);
  const pid_t pid = ::fork();
  if (pid == 0) {
    pin(child_cpu);
    int c = uds_connect(path);
    char f[40];
    for (int i = 0; i < rounds; ++i) {
      if (::read(c, f, sizeof f) <= 0 || ::write(c, f, sizeof f) <= 0) std::_Exit(1);
    }
    std::_Exit(0);
  }
  int c = ::accept(l, nullptr, nullptr);
  char f[40] = {};
  const auto t0 = clk::now();
  for (int i = 0; i < rounds; ++i) {
    if (::write(c, f, sizeof f) <= 0 || ::read(c, f, sizeof f) <= 0) std::abort();
  }
  const double us = ms_since(t0) * 1000.0 / rounds;
  int ws;
  ::waitpid(pid, &ws, 0);
  ::close(c);
  ::close(l);
  ::unlink(path.c_str());
  return us;
}


struct raw_teardown {
  double ms_per_child;
  long idle_rss_kib;
};

// K minimal children, connected and idle; then each is told to exit and all are reaped.
raw_teardown raw_teardown_ms(const std::string& path, int k) {
  int l = uds_listen(path);
  std::vector<std::pair<pid_t, int>> kids;
  for (int i = 0; i < k; ++i) {
    const pid_t pid = bench::spawn_minimal(path);
    int c = ::accept(l, nullptr, nullptr);
    char b;
    if (::read(c, &b, 1) != 1) std::abort();
    kids.emplace_back(pid, c);
  }
  const long rss = rss_kib(kids.front().first);
  const auto t0 = clk::now();
  for (auto& [pid, c] : kids) {
    const char go = 1;
    if (::write(c, &go, 1) != 1) std::abort();
  }
  for (auto& [pid, c] : kids) {
    int ws;
    ::waitpid(pid, &ws, 0);
    ::close(c);
  }
  const double per_child = ms_since(t0) / k;
  ::close(l);
  ::unlink(path.c_str());
  return {per_child, rss};
}

/// `calls` no-op calls through `p`: microseconds each.
template <class Tree>
awaitable<result<double>> time_calls(portal<Tree>& p, int calls) {
  const auto t0 = clk::now();
  for (int i = 0; i < calls; ++i) {
    auto v = co_await p.template run<&bench::noop>();
    if (!v) co_return v.error();
  }
  co_return ms_since(t0) * 1000.0 / calls;
}

/// No-op calls to a forkserver child on CPU `child_cpu`, under the shm transport: microseconds each.
double shm_call_us(int argc, char** argv, int calls, int child_cpu) {
  double us = 0;
  const int code = run_main<shm_tree>(argc, argv, [&](root<shm_tree>& r) -> awaitable<result<void>> {
    co_return co_await r.open_nursery([&](actor_nursery<shm_tree>& an) -> awaitable<result<void>> {
      const actor_options opts{.enable_modules = {"bench"}};
      auto p = co_await an.start_actor("shm-caller", opts);
      if (!p) co_return p.error();
      pin_child(p.value().aid().pid, child_cpu);
      BOOST_OUTCOME_CO_TRY(us, co_await time_calls(p.value(), calls));
      an.cancel();
      co_return success();
    });
  });
  if (code != 0) std::exit(1);
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  bench::run_minimal_child_if_asked();
  int spawns = 30, calls = 5000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--spawns") spawns = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--calls") calls = std::atoi(argv[i + 1]);
  }
  if (runtime::is_child_process()) return runtime::child_main(bench_tree::policies());
  if (!spawn::forkserver::start_server()) return 1;

  const std::string path = "/tmp/tractor-bench-" + std::to_string(::getpid()) + ".sock";
  const double floor_spawn = bench::raw_spawn_ms(path, spawns, [&] { return bench::spawn_minimal(path); });
  pin(0);
  const double floor_rtt_same = raw_ping_pong_us(path, calls, 0);
  const double floor_rtt_cross = raw_ping_pong_us(path, calls, 1);
  const int k = 10;
  const raw_teardown floor_teardown = raw_teardown_ms(path, k);

  std::vector<double> to_portal, to_first_call;
  double call_us = 0, call_us_cross = 0, teardown_ms = 0;
  long rss = 0;
  const int code = run_main<bench_tree>(argc, argv, [&](root<bench_tree>& r) -> awaitable<result<void>> {
    for (int i = 0; i < spawns; ++i) {
      auto res = co_await r.open_nursery([&](actor_nursery<bench_tree>& an) -> awaitable<result<void>> {
        const actor_options opts{.enable_modules = {"bench"}};
        const auto t0 = clk::now();
        auto p = co_await an.start_actor("w", opts);
        if (!p) co_return p.error();
        to_portal.push_back(ms_since(t0));
        auto first = co_await p.value().run<&bench::noop>();
        if (!first) co_return first.error();
        to_first_call.push_back(ms_since(t0));
        an.cancel();
        co_return success();
      });
      if (!res) co_return res.error();
    }
    co_return co_await r.open_nursery([&](actor_nursery<bench_tree>& an) -> awaitable<result<void>> {
      const actor_options opts{.enable_modules = {"bench"}};
      for (int child_cpu : {0, 1}) {
        auto p = co_await an.start_actor("caller", opts);
        if (!p) co_return p.error();
        pin_child(p.value().aid().pid, child_cpu);
        BOOST_OUTCOME_CO_TRY(const double us, co_await time_calls(p.value(), calls));
        (child_cpu == 0 ? call_us : call_us_cross) = us;
        rss = rss_kib(static_cast<pid_t>(p.value().aid().pid.value_or(0)));
        const bool acked = co_await p.value().cancel_actor();
        (void)acked;
      }
      an.cancel();
      co_return success();
    });
  });
  // Teardown per actor, measured on its own: K children, then cancel until reaped.
  const int code2 = run_main<bench_tree>(argc, argv, [&](root<bench_tree>& r) -> awaitable<result<void>> {
    clk::time_point t0;
    auto res = co_await r.open_nursery([&](actor_nursery<bench_tree>& an) -> awaitable<result<void>> {
      const actor_options opts{.enable_modules = {"bench"}};
      for (int i = 0; i < k; ++i) {
        auto w = co_await an.start_actor("idle", opts);
        if (!w) co_return w.error();
      }
      t0 = clk::now();
      an.cancel();
      co_return success();
    });
    teardown_ms = ms_since(t0) / k;
    co_return res;
  });
  if (code != 0 || code2 != 0) return 1;
  const std::size_t ring = transport::shm_ring_bytes().value();
  const auto look = transport::shm_spin().value();
  const double ring_rtt = bench::spsc_round_trip_us(calls, ring, {}, 1);
  const double ring_looking_rtt = bench::spsc_round_trip_us(calls, ring, look, 1);
  const double shm_us = shm_call_us(argc, argv, calls, 1);
  spawn::forkserver::stop_server();

  fmt::print("tractor runtime benchmark (exec backend, uds; {} spawns, {} calls)\n", spawns, calls);
  fmt::print("spawn-to-ready   raw posix_spawn+connect-back {:6.2f} ms | start_actor {:6.2f} ms = {:4.2f}x"
             " | start_actor + first call {:6.2f} ms = {:4.2f}x\n",
             floor_spawn, median(to_portal), median(to_portal) / floor_spawn, median(to_first_call),
             median(to_first_call) / floor_spawn);
  fmt::print("no-op call       same core:  raw ping-pong {:7.2f} us | portal.run {:7.2f} us = {:4.2f}x\n",
             floor_rtt_same, call_us, call_us / floor_rtt_same);
  fmt::print("no-op call       two cores:  raw ping-pong {:7.2f} us | portal.run {:7.2f} us = {:4.2f}x\n",
             floor_rtt_cross, call_us_cross, call_us_cross / floor_rtt_cross);
  fmt::print("no-op call       two cores, shm transport (a forkserver child): C ring {:7.2f} us, looking {} us"
             " before it sleeps {:7.2f} us | portal.run {:7.2f} us = {:4.2f}x the ring, {:4.2f}x the looking ring\n",
             ring_rtt, look.count(), ring_looking_rtt, shm_us, shm_us / ring_rtt, shm_us / ring_looking_rtt);
  fmt::print("teardown         raw exit-on-request+reap {:6.2f} ms | actor nursery cancel {:6.2f} ms = {:4.2f}x"
             " (per child, {} idle children)\n",
             floor_teardown.ms_per_child, teardown_ms, teardown_ms / floor_teardown.ms_per_child, k);
  fmt::print("idle child RSS   raw minimal child {:6.2f} MiB | actor {:6.2f} MiB = {:4.2f}x\n",
             static_cast<double>(floor_teardown.idle_rss_kib) / 1024.0, static_cast<double>(rss) / 1024.0,
             static_cast<double>(rss) / static_cast<double>(floor_teardown.idle_rss_kib));
  return 0;
}
