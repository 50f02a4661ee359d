// Scale benchmark: one nursery of N actors spawned, called once each, then torn down, under
// each spawn backend (UDS), beside floors of N raw children measured in the same run.
//
//     tools/bazel run -c opt //tools/bench:scale_bench [-- --n 1000] [--only exec|forkserver|thread|registrar]
//                                                        [--rounds K] [--actors-only]  (no floors: to profile)
//
// Each backend runs both ways: back to back (one start_actor after another, then one call
// after another) and concurrently (N tasks each starting one actor, then N tasks each calling
// one); with --rounds K, K times each, floor and actors alternately, then each phase's median
// ratio (the figure to quote where the machine's speed drifts between runs).
// Teardown is `actor_nursery::cancel()` until the nursery has returned (every child reaped).
// During each burst the registrar (the bench's root) is asked for a name every millisecond,
// by a task of the root itself and by another program (this binary with `--probe`, a root of
// its own registered there); the slowest answer of each is printed.
//
// Floors (scale_floors.hpp: children connect back to a UDS listener, write a byte, then echo
// bytes until EOF):
//   posix_spawn   of this binary in a minimal mode (exec's floor)
//   fork          of this process (the forkserver's floor)
//   thread        a thread of this process (the thread backend's floor)
// Back to back: start one, accept it, then the next; concurrently: start all, then accept
// all. Calls: a byte each way per child; teardown: close every connection, then reap all.
//
// Beside each run, the CPU time the root's event loop used in each phase: against the
// phase's wall time, how much of it the root's own work can explain (on two CPUs, a
// teardown whose loop time is most of its wall time ends with the root working alone).
//
// Last, the registrar's table alone with 10,000 actors (what registering, finding and
// forgetting that many costs the registrar, without processes), beside one hash map.
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/discovery/discovery.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/spawn/forkserver.hpp>
#include <tractor/spawn/thread.hpp>
#include <tractor/transport/uds.hpp>

#include <fmt/core.h>

#include "tools/bench/bench_support.hpp"
#include "tools/bench/scale_floors.hpp"
#include "tools/bench/scale_probe.hpp"

#include <dirent.h>
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

namespace bench {
tractor::awaitable<int> noop() { co_return 0; }
}  // namespace bench

namespace {

using namespace tractor;
using fns = exposed<&bench::noop>;
using exec_tree = tree<spawn::exec, transport::uds, codec::cereal_binary, fns>;
using fork_tree = tree<spawn::forkserver, transport::uds, codec::cereal_binary, fns>;
using thread_tree = tree<spawn::thread, transport::uds, codec::cereal_binary, fns>;

using bench::fork_floor;
using bench::phases;
using bench::posix_spawn_floor;
using bench::thread_floor;

/// The root at its peak (after the spawns).
struct root_usage {
  long rss_kib = 0;
  long fds = 0;
};

long own_fds() {
  long n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n - 3;  // ".", ".." and the directory's own descriptor
}

/// CPU time of the calling thread, in milliseconds: called from the root's body, that of the
/// root's event loop, which serves every child's channel and supervision and the registrar.
/// (Not the spawner thread's, nor thread actors'.)
double loop_cpu_ms() {
  rusage u{};
  ::getrusage(RUSAGE_THREAD, &u);
  const auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3;
  };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

// -- actors -----------------------------------------------------------------------------------

template <class Tree>
struct actor_run {
  phases time;
  phases loop_cpu;  // the root's event loop's CPU time in each phase
  root_usage peak;
  double worst_lookup_ms = 0;
  double worst_outside_ms = 0;
  double outside_late_ms = 0;
  int answered = 0;
  std::string failure;  // why a spawn failed, if one did
};

template <class Tree>
actor_run<Tree> run_actors(int n, bool burst) {
  actor_run<Tree> out;
  char arg0[] = "scale_bench";
  char* argv[] = {arg0, nullptr};
  const int code = run_main<Tree>(1, argv, [&](root<Tree>& r) -> awaitable<result<void>> {
    bool probing_done = false;
    const actor_options enabled{.enable_modules = {"bench"}};
    bench::outside_probe outside;
    co_await outside.ready();
    auto t0 = bench::clk::now();
    double cpu0 = loop_cpu_ms();
    auto res = co_await r.open_nursery([&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
      std::vector<std::optional<portal<Tree>>> portals(n);
      auto started = co_await open_nursery([&](nursery& tasks) -> awaitable<result<void>> {
        tasks.start_soon(bench::probe_registrar(probing_done, out.worst_lookup_ms));
        if (burst) {
          co_await open_nursery([&](nursery& spawns) -> awaitable<result<void>> {
            for (int i = 0; i < n; ++i) {
              spawns.start_soon([&, i]() -> awaitable<result<void>> {
                auto p = co_await an.start_actor("a" + std::to_string(i), enabled);
                if (!p) co_return p.error();
                portals[i] = std::move(p).value();
                co_return success();
              });
            }
            co_return success();
          });
        } else {
          for (int i = 0; i < n; ++i) {
            auto p = co_await an.start_actor("a" + std::to_string(i), enabled);
            if (!p) {
              out.failure = p.error().message();
              break;
            }
            portals[i] = std::move(p).value();
          }
        }
        probing_done = true;
        co_return success();
      });
      out.time.spawn = bench::ms_since(t0);
      out.loop_cpu.spawn = loop_cpu_ms() - cpu0;
      const auto [worst, late] = co_await outside.finish();
      out.worst_outside_ms = worst;
      out.outside_late_ms = late;
      out.peak = {bench::rss_kib(), own_fds()};
      if (!started) {
        out.failure = started.error().message();
        co_return started.error();
      }
      t0 = bench::clk::now();
      cpu0 = loop_cpu_ms();
      const auto call = [&](portal<Tree>& p) -> awaitable<void> {
        auto v = co_await p.template run<&bench::noop>();
        if (v) ++out.answered;
      };
      if (burst) {
        co_await open_nursery([&](nursery& calls) -> awaitable<void> {
          for (auto& p : portals) {
            if (p) calls.start_soon(call(*p));
          }
          co_return;
        });
      } else {
        for (auto& p : portals) {
          if (p) co_await call(*p);
        }
      }
      out.time.calls = bench::ms_since(t0);
      out.loop_cpu.calls = loop_cpu_ms() - cpu0;
      t0 = bench::clk::now();
      cpu0 = loop_cpu_ms();
      an.cancel();
      co_return success();
    });
    out.time.teardown = bench::ms_since(t0);
    out.loop_cpu.teardown = loop_cpu_ms() - cpu0;
    co_return res;
  });
  if (code != 0 || out.answered != n) {
    fmt::print(stderr, "the run failed: exit code {}, {} of {} answered{}{}\n", code, out.answered, n,
               out.failure.empty() ? "" : "; a spawn failed: ", out.failure);
    std::exit(1);
  }
  return out;
}

void print_row(const char* what, const phases& a, const phases& floor) {
  fmt::print("  {:<24} spawn {:8.1f} ms ({:5.2f}x) | calls {:7.1f} ms ({:5.2f}x) | teardown {:7.1f} ms ({:5.2f}x)"
             " | total {:8.1f} ms ({:5.2f}x)\n",
             what, a.spawn, a.spawn / floor.spawn, a.calls, a.calls / floor.calls, a.teardown,
             a.teardown / floor.teardown, a.total(), a.total() / floor.total());
}

void print_floor(const char* what, const phases& f) {
  fmt::print("  {:<24} spawn {:8.1f} ms         | calls {:7.1f} ms         | teardown {:7.1f} ms"
             "         | total {:8.1f} ms\n",
             what, f.spawn, f.calls, f.teardown, f.total());
}

bool skip_floors = false;  // --actors-only: for profiling the actors alone
int rounds = 1;            // --rounds K: each way K times, floor and actors alternately

/// Runs `n` actors of `Tree` both ways beside `floor`, `rounds` times each; returns the root's
/// descriptors per actor at its peak.
template <class Tree>
double bench_backend(const char* name, const std::string& path, int n,
                     phases (*floor)(const std::string&, int, bool)) {
  fmt::print("{} actors, {}:\n", n, name);
  double per_actor = 0;
  for (const bool burst : {false, true}) {
    std::vector<double> ratio[4];  // spawn, calls, teardown, total
    for (int round = 0; round < rounds; ++round) {
      // The fork floor copies this process: what earlier runs left on its heap would slow
      // it, and more with every round.
      ::malloc_trim(0);
      const phases f = skip_floors ? phases{1, 1, 1} : floor(path, n, burst);
      const auto a = run_actors<Tree>(n, burst);
      print_floor(burst ? "floor, concurrently" : "floor, back to back", f);
      print_row(burst ? "actors, concurrently" : "actors, back to back", a.time, f);
      fmt::print("  {:<24} root at its peak: RSS {} MiB, {} descriptors; slowest registrar lookup during the spawns: "
                 "{:.1f} ms from the root, {:.1f} ms from another program (whose own 1 ms sleeps woke up to {:.1f} ms "
                 "late)\n",
                 "", a.peak.rss_kib / 1024, a.peak.fds, a.worst_lookup_ms, a.worst_outside_ms, a.outside_late_ms);
      fmt::print("  {:<24} root's event loop on the CPU: spawn {:.1f} ms | calls {:.1f} ms | teardown {:.1f} ms\n", "",
                 a.loop_cpu.spawn, a.loop_cpu.calls, a.loop_cpu.teardown);
      per_actor = static_cast<double>(a.peak.fds) / n;
      ratio[0].push_back(a.time.spawn / f.spawn);
      ratio[1].push_back(a.time.calls / f.calls);
      ratio[2].push_back(a.time.teardown / f.teardown);
      ratio[3].push_back(a.time.total() / f.total());
    }
    if (rounds > 1) {
      fmt::print("  {:<24} median of {} rounds: spawn {:5.2f}x | calls {:5.2f}x | teardown {:5.2f}x | total {:5.2f}x\n",
                 burst ? "concurrently" : "back to back", rounds, bench::median(ratio[0]), bench::median(ratio[1]),
                 bench::median(ratio[2]), bench::median(ratio[3]));
    }
  }
  return per_actor;
}

/// `n` thread actors, if this process may open the descriptors they need (`per_actor` each, as
/// measured with fewer); else which limit stops them, and the most thousands that fit, to show
/// the trend.
void bench_many_threads(const std::string& path, int n, double per_actor) {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  const double need = per_actor * n + 64;
  if (per_actor > 0 && need > static_cast<double>(lim.rlim_max)) {
    const int fit = static_cast<int>((static_cast<double>(lim.rlim_max) - 64) / per_actor) / 1000 * 1000;
    fmt::print("{} actors, thread: not run: they need about {:.0f} descriptors ({:.1f} per actor, measured above), and "
               "this process may open {} (RLIMIT_NOFILE's hard limit; `ulimit -Hn` as root raises it){}\n",
               n, need, per_actor, lim.rlim_max, fit > 1000 ? fmt::format("; {} instead", fit) : "");
    if (fit > 1000) bench_backend<thread_tree>("thread", path, fit, thread_floor);
    return;
  }
  bench_backend<thread_tree>("thread", path, n, thread_floor);
}

/// The registrar's table alone, for `n` actors: each registered (a name, a uuid, an address,
/// a channel of its own), looked up by name, then forgotten as its channel closes; beside a
/// floor of the same strings put in, found in and erased from one hash map, in the same run.
void bench_registrar_table(int n) {
  std::vector<msg::uid> uids;
  std::vector<std::string> addrs;
  for (int i = 0; i < n; ++i) {
    uids.push_back({"actor" + std::to_string(i), runtime::new_uuid()});
    addrs.push_back("/unix/run/tractor/actor" + std::to_string(i) + "@" + uids.back().second + ".sock");
  }
  std::vector<char> channels(static_cast<std::size_t>(n));
  double ours[3];
  double floor[3];
  std::size_t found = 0;
  // Twice each, alternately, keeping the second: the first round of either would pay for
  // the fresh heap pages that the other then reuses.
  for (int round = 0; round < 2; ++round) {
    {
      runtime::registrar r;
      auto t0 = bench::clk::now();
      for (int i = 0; i < n; ++i) (void)r.add(uids[i], {addrs[i]}, &channels[i]);
      ours[0] = bench::ms_since(t0);
      t0 = bench::clk::now();
      for (int i = 0; i < n; ++i) found += r.find(uids[i].first).size();
      ours[1] = bench::ms_since(t0);
      t0 = bench::clk::now();
      for (int i = 0; i < n; ++i) r.remove_via(&channels[i]);
      ours[2] = bench::ms_since(t0);
    }
    std::unordered_map<std::string, std::vector<std::string>> m;
    auto t0 = bench::clk::now();
    for (int i = 0; i < n; ++i) m.emplace(uids[i].first, std::vector<std::string>{addrs[i]});
    floor[0] = bench::ms_since(t0);
    t0 = bench::clk::now();
    for (int i = 0; i < n; ++i) found -= m.find(uids[i].first)->second.size();
    floor[1] = bench::ms_since(t0);
    t0 = bench::clk::now();
    for (int i = 0; i < n; ++i) m.erase(uids[i].first);
    floor[2] = bench::ms_since(t0);
  }
  if (found != 0) std::_Exit(3);  // each name found once in each
  fmt::print("registrar table, {} actors: register {:.1f} ms ({:.1f}x) | find {:.1f} ms ({:.1f}x) | forget by channel "
             "{:.1f} ms ({:.1f}x), beside one hash map's insert {:.1f} | find {:.1f} | erase {:.1f} ms\n",
             n, ours[0], ours[0] / floor[0], ours[1], ours[1] / floor[1], ours[2], ours[2] / floor[2], floor[0],
             floor[1], floor[2]);
}

}  // namespace

int main(int argc, char** argv) {
  bench::run_minimal_child_if_asked();
  if (argc > 1 && std::string_view(argv[1]) == "--probe") return bench::run_probe();
  if (runtime::is_child_process()) return runtime::child_main(exec_tree::policies());
  if (auto started = spawn::forkserver::start_server(); !started) {
    fmt::print(stderr, "cannot start the forkserver: {}\n", started.error().message());
    return 1;
  }
  std::vector<int> sizes = {100, 1000};
  int thread_n = 10000;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : "";
    if (arg == "--actors-only") skip_floors = true;
    if (arg == "--n") sizes = {std::atoi(value)}, thread_n = sizes[0];
    if (arg == "--only") only = value;
    if (arg == "--rounds") rounds = std::max(1, std::atoi(value));
  }
  const std::string path = "/tmp/tractor-scale-bench-" + std::to_string(::getpid()) + ".sock";
  fmt::print("tractor scale benchmark (uds; each phase beside its floor from the same run)\n");
  fmt::print("a page fault here (first write of a fresh page): {:.2f} us\n", bench::page_fault_us());
  spawn::raise_descriptor_limit();  // as the root does: the floors hold as many
  spawn::reserve_descriptor_table(runtime::root_descriptor_reserve);
  double thread_fds = 0;
  for (int n : sizes) {
    if (only.empty() || only == "exec") bench_backend<exec_tree>("exec", path, n, posix_spawn_floor);
    if (only.empty() || only == "forkserver") bench_backend<fork_tree>("forkserver", path, n, fork_floor);
    if ((only.empty() || only == "thread") && n != thread_n) {
      thread_fds = bench_backend<thread_tree>("thread", path, n, thread_floor);
    }
  }
  if (only.empty() || only == "thread") bench_many_threads(path, thread_n, thread_fds);
  if (only.empty() || only == "registrar") bench_registrar_table(std::max(thread_n, 10000));
  spawn::forkserver::stop_server();
  return 0;
}
