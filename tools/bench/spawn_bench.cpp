// Spawn benchmark: spawn-to-ready under each spawn backend (exec, forkserver, thread; UDS),
// beside the raw floors measured in the same run, and the forkserver from a parent holding
// 256 MiB of touched heap; and exec and forkserver children booted from spares
// (spawn::prestarted).
//
//     tools/bazel run //tools/bench:spawn_bench [-- --spawns N]
//         [--only exec|forkserver|nested|thread|prestarted_exec|prestarted_forkserver]
//
// Floors (each child connects back to a UDS listener and writes one byte; timed until the
// byte arrives):
//   posix_spawn   of this same binary in a minimal mode (same dynamic linking)
//   fork          of this process (small), the child connecting back at once
//   fork, 256 MiB the same from the grown process: what forking a big parent costs
//   thread        a new thread of this process, connecting back at once (the least a thread
//                 actor's spawn can cost without keeping threads ahead of time)
//   waiting thread  a thread started ahead, woken through a socketpair and answering (two
//                 wakeups: the least a pre-started child could cost)
// Where a thread runs matters on small VMs: a wakeup across vCPUs costs 30-50 us when the
// other one idles. So the new thread's floor is the lower of two runs, one left to the
// kernel's placement and one on the measuring thread's CPU (the benchmark's own threads;
// the library places nothing); the waiting thread is moved to the measuring thread's CPU as
// it is woken.
// Measured: `start_actor` until its portal is returned (from the root, and for the forkserver
// also from an actor starting children of its own, which go through the server): the child
// has answered its handshake, bound its server and registered, and its SpawnSpec is sent.
// Also printed: the spawn plus the first call's round trip.
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/spawn/forkserver.hpp>
#include <tractor/spawn/prestarted.hpp>
#include <tractor/spawn/thread.hpp>
#include <tractor/transport/uds.hpp>

#include <fmt/core.h>

#include "tools/bench/bench_support.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>

namespace bench {
tractor::awaitable<int> noop() { co_return 0; }

// Starts child `name` in `an` with the bench module enabled, adding its spawn-to-ready to
// `samples`.
template <class Tree>
tractor::awaitable<tractor::result<tractor::portal<Tree>>> timed_start(tractor::actor_nursery<Tree>& an,
                                                                        const char* name,
                                                                        std::vector<double>& samples) {
  const tractor::actor_options opts{.enable_modules = {"bench"}};
  const auto t0 = clk::now();
  auto p = co_await an.start_actor(name, opts);
  if (p) samples.push_back(ms_since(t0));
  co_return p;
}

// In a forkserver actor: the median spawn-to-ready (ms) of `rounds` children it starts.
tractor::awaitable<tractor::result<double>> nested_spawn_ms(int rounds);
}  // namespace bench

namespace {

using namespace tractor;
using fns = exposed<&bench::noop, &bench::nested_spawn_ms>;
using exec_tree = tree<spawn::exec, transport::uds, codec::cereal_binary, fns>;
using fork_tree = tree<spawn::forkserver, transport::uds, codec::cereal_binary, fns>;
using thread_tree = tree<spawn::thread, transport::uds, codec::cereal_binary, fns>;
// Children booted from spares (spawn::prestarted). An exec child of either exec tree runs
// exec_tree's policies: the same transport, codec and functions.
using spare_exec_tree = tree<spawn::prestarted<spawn::exec>, transport::uds, codec::cereal_binary, fns>;
using spare_fork_tree = tree<spawn::prestarted<spawn::forkserver>, transport::uds, codec::cereal_binary, fns>;

double raw_fork_ms(const std::string& path, int rounds) {
  return bench::raw_spawn_ms(path, rounds, [&] {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int fd = bench::uds_connect(path);
      char b = 1;
      (void)!::write(fd, &b, 1);
      std::_Exit(0);
    }
    return pid;
  });
}

}  // namespace

tractor::awaitable<tractor::result<double>> bench::nested_spawn_ms(int rounds) {
  std::vector<double> samples;
  for (int i = 0; i < rounds; ++i) {
    auto r = co_await tractor::open_actor_nursery<fork_tree>(
        [&](tractor::actor_nursery<fork_tree>& an) -> tractor::awaitable<tractor::result<void>> {
          auto p = co_await bench::timed_start(an, "g", samples);
          if (!p) co_return p.error();
          an.cancel();
          co_return tractor::success();
        });
    if (!r) co_return r.error();
  }
  co_return bench::median(samples);
}

namespace {

// Moves the calling thread (tid 0) or thread `tid` to `cpu` alone.
void place_on(pid_t tid, int cpu) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  ::sched_setaffinity(tid, sizeof one, &one);
}

// With `placed`, the new thread starts on this thread's CPU (else where the kernel puts it).
double raw_thread_ms(const std::string& path, int rounds, bool placed) {
  const int l = bench::uds_listen(path);
  cpu_set_t all;
  ::sched_getaffinity(0, sizeof all, &all);
  std::vector<double> samples;
  for (int i = 0; i < rounds; ++i) {
    const auto t0 = bench::clk::now();
    if (placed) place_on(0, ::sched_getcpu());  // the new thread inherits it
    std::thread t([&] {
      const int fd = bench::uds_connect(path);
      const char b = 1;
      (void)!::write(fd, &b, 1);
      ::close(fd);
    });
    if (placed) ::sched_setaffinity(0, sizeof all, &all);
    const int c = ::accept(l, nullptr, nullptr);
    char b;
    if (::read(c, &b, 1) != 1) std::abort();
    samples.push_back(bench::ms_since(t0));
    ::close(c);
    t.join();
  }
  ::close(l);
  ::unlink(path.c_str());
  return bench::median(samples);
}

// A thread started ahead and waiting on a socketpair, moved to this thread's CPU (as a taken
// spare is), woken by a byte and answering with one: the least a spawn that takes a waiting
// thread can cost (two wakeups, no runtime).
double raw_waiting_thread_ms(int rounds) {
  std::vector<double> samples;
  for (int i = 0; i < rounds; ++i) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
    std::atomic<pid_t> tid = 0;
    std::thread t([&] {
      tid = ::gettid();
      char b = 1;
      if (::write(sv[1], &b, 1) != 1 || ::read(sv[1], &b, 1) != 1 || ::write(sv[1], &b, 1) != 1) std::abort();
    });
    char b = 0;
    if (::read(sv[0], &b, 1) != 1) std::abort();  // it is about to wait
    const auto t0 = bench::clk::now();
    place_on(tid, ::sched_getcpu());
    if (::write(sv[0], &b, 1) != 1 || ::read(sv[0], &b, 1) != 1) std::abort();
    samples.push_back(bench::ms_since(t0));
    t.join();
    ::close(sv[0]);
    ::close(sv[1]);
  }
  return bench::median(samples);
}

// Spawn-to-ready of `rounds` children (one at a time) under tree `Tree`; with `first_call`,
// also the median of spawn-to-ready plus the first call's round trip (what a spawn leaves
// for the child to do after its portal is ready shows up there).
template <class Tree>
double actor_spawn_ms(int rounds, double* first_call = nullptr) {
  std::vector<double> samples;
  std::vector<double> with_call;
  char arg0[] = "spawn_bench";
  char* argv[] = {arg0, nullptr};
  const int code = run_main<Tree>(1, argv, [&](root<Tree>& r) -> awaitable<result<void>> {
    for (int i = 0; i < rounds; ++i) {
      auto res = co_await r.open_nursery([&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
        const auto t0 = bench::clk::now();
        auto p = co_await bench::timed_start(an, "w", samples);
        if (!p) co_return p.error();
        auto first = co_await p.value().template run<&bench::noop>();  // it works, too
        if (!first) co_return first.error();
        with_call.push_back(bench::ms_since(t0));
        an.cancel();
        co_return success();
      });
      if (!res) co_return res.error();
    }
    co_return success();
  });
  if (code != 0) std::exit(1);
  if (first_call) *first_call = bench::median(with_call);
  return bench::median(samples);
}

// Spawn-to-ready of `rounds` grandchildren, each started by the same forkserver actor.
double nested_spawn_ms(int rounds) {
  double ms = -1;
  char arg0[] = "spawn_bench";
  char* argv[] = {arg0, nullptr};
  const int code = run_main<fork_tree>(1, argv, [&](root<fork_tree>& r) -> awaitable<result<void>> {
    co_return co_await r.open_nursery([&](actor_nursery<fork_tree>& an) -> awaitable<result<void>> {
      const actor_options opts{.enable_modules = {"bench"}};
      auto p = co_await an.start_actor("spawner", opts);
      if (!p) co_return p.error();
      auto m = co_await p.value().template run<&bench::nested_spawn_ms>(rounds);
      if (!m) co_return m.error();
      ms = m.value();
      an.cancel();
      co_return success();
    });
  });
  if (code != 0) std::exit(1);
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  bench::run_minimal_child_if_asked();  // the posix_spawn floor's child
  if (runtime::is_child_process()) return runtime::child_main(exec_tree::policies());
  // First thing, while this process is small: every forkserver child is a copy of it now.
  if (auto started = spawn::forkserver::start_server(); !started) {
    fmt::print(stderr, "cannot start the forkserver: {}\n", started.error().message());
    return 1;
  }
  // 100: a median of 30 swung with the VM (the fork floor alone moved between 0.07 and 0.17
  // ms from one run to the next); of 100 it held at 0.11-0.12 ms, and a whole run takes ~1 s.
  int spawns = 100;
  std::string only;  // one backend alone, for profiling: `--only thread`
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--spawns") spawns = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--only") only = argv[i + 1];
  }
  if (!only.empty()) {
    double call_ms = -1;
    const double ms = only == "thread"       ? actor_spawn_ms<thread_tree>(spawns, &call_ms)
                      : only == "forkserver" ? actor_spawn_ms<fork_tree>(spawns, &call_ms)
                      : only == "nested"     ? nested_spawn_ms(spawns)
                      : only == "exec"       ? actor_spawn_ms<exec_tree>(spawns, &call_ms)
                      : only == "prestarted_exec"       ? actor_spawn_ms<spare_exec_tree>(spawns, &call_ms)
                      : only == "prestarted_forkserver" ? actor_spawn_ms<spare_fork_tree>(spawns, &call_ms)
                                                        : -1;
    if (ms < 0) {
      spawn::forkserver::stop_server();
      fmt::print(stderr, "--only: exec, forkserver, nested, thread, prestarted_exec or prestarted_forkserver\n");
      return 2;
    }
    spawn::forkserver::stop_server();
    fmt::print("{:<16} {:6.3f} ms (median of {} spawns)", only, ms, spawns);
    if (call_ms >= 0) fmt::print("; with the first call {:6.3f} ms", call_ms);
    fmt::print("\n");
    return 0;
  }
  const std::string path = "/tmp/tractor-spawn-bench-" + std::to_string(::getpid()) + ".sock";

  const double floor_posix_spawn = bench::raw_spawn_ms(path, spawns, [&] { return bench::spawn_minimal(path); });
  const double floor_fork = raw_fork_ms(path, spawns);
  const double floor_thread = std::min(raw_thread_ms(path, spawns, false), raw_thread_ms(path, spawns, true));
  const double floor_waiting = raw_waiting_thread_ms(spawns);
  const double exec_ms = actor_spawn_ms<exec_tree>(spawns);
  double fork_call_ms = 0;
  double thread_call_ms = 0;
  const double fork_ms = actor_spawn_ms<fork_tree>(spawns, &fork_call_ms);
  const double thread_ms = actor_spawn_ms<thread_tree>(spawns, &thread_call_ms);
  const double nested_ms = nested_spawn_ms(spawns);
  const double spare_exec_ms = actor_spawn_ms<spare_exec_tree>(spawns);
  const double spare_fork_ms = actor_spawn_ms<spare_fork_tree>(spawns);

  // Grow: 256 MiB of heap, every page touched (so fork must copy its page tables).
  const std::size_t big = std::size_t{256} << 20;
  auto* heap = static_cast<char*>(std::malloc(big));
  if (!heap) return 1;
  std::memset(heap, 1, big);
  const double floor_fork_big = raw_fork_ms(path, std::max(5, spawns / 3));
  const double fork_big_ms = actor_spawn_ms<fork_tree>(spawns);
  std::free(heap);
  spawn::forkserver::stop_server();

  fmt::print("tractor spawn benchmark (uds; median of {} spawns each; spawn-to-ready = start_actor until its portal)\n",
             spawns);
  fmt::print("a page fault here (first write of a fresh page): {:.2f} us\n", bench::page_fault_us());
  fmt::print("raw floors       posix_spawn+connect-back {:6.3f} ms | fork+connect-back {:6.3f} ms"
             " | fork+connect-back from 256 MiB {:6.3f} ms | thread+connect-back {:6.3f} ms\n",
             floor_posix_spawn, floor_fork, floor_fork_big, floor_thread);
  fmt::print("exec             {:6.3f} ms = {:4.2f}x posix_spawn floor\n", exec_ms, exec_ms / floor_posix_spawn);
  fmt::print("forkserver       {:6.3f} ms = {:4.2f}x fork floor\n", fork_ms, fork_ms / floor_fork);
  fmt::print("prestarted exec  {:6.3f} ms = {:4.2f}x posix_spawn floor ({:4.2f}x exec)\n", spare_exec_ms,
             spare_exec_ms / floor_posix_spawn, spare_exec_ms / exec_ms);
  fmt::print("prestarted forkserver {:6.3f} ms = {:4.2f}x fork floor ({:4.2f}x forkserver)\n", spare_fork_ms,
             spare_fork_ms / floor_fork, spare_fork_ms / fork_ms);
  fmt::print("forkserver, nested (an actor starting its own) {:6.3f} ms = {:4.2f}x fork floor\n", nested_ms,
             nested_ms / floor_fork);
  fmt::print("thread           {:6.3f} ms = {:4.1f}% of forkserver = {:4.2f}x thread floor"
             " ({:4.1f}x a waiting thread's wake-and-answer, {:6.3f} ms)\n",
             thread_ms, 100.0 * thread_ms / fork_ms, thread_ms / floor_thread, thread_ms / floor_waiting,
             floor_waiting);
  fmt::print("spawn-to-ready plus the first call's round trip: forkserver {:6.3f} ms | thread {:6.3f} ms\n",
             fork_call_ms, thread_call_ms);
  fmt::print("forkserver, 256 MiB parent {:6.3f} ms = {:4.2f}x the small parent (raw fork from it: {:4.1f}x)\n",
             fork_big_ms, fork_big_ms / fork_ms, floor_fork_big / floor_fork);
  return 0;
}
