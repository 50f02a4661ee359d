// The registrar probes of scale_bench: a task of the bench's root, and another program (the
// bench binary with `--probe`), each asking the registrar for a name every millisecond.
#pragma once

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/discovery/discovery.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/transport/uds.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>

#include "tools/bench/bench_support.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>

namespace bench {

using probe_tree =
    tractor::tree<tractor::spawn::exec, tractor::transport::uds, tractor::codec::cereal_binary, tractor::exposed<>>;

/// Asks the registrar for a name every millisecond until `stop`, keeping the slowest answer,
/// and how late its own 1 ms sleeps woke at worst (`late_ms`: the machine's share, not the
/// registrar's).
inline tractor::awaitable<void> probe_registrar(const bool& stop, double& worst_ms, double* late_ms = nullptr) {
  while (!stop) {
    const auto t0 = bench::clk::now();
    auto r = co_await tractor::query_actor<probe_tree>("nobody");
    worst_ms = std::max(worst_ms, bench::ms_since(t0));
    if (!r) co_return;
    const auto slept = bench::clk::now();
    co_await tractor::sleep_for(std::chrono::milliseconds(1));
    if (late_ms) *late_ms = std::max(*late_ms, bench::ms_since(slept) - 1.0);
  }
}

/// `--probe`: a root of its own, registered with the bench's registrar, asking it for a name
/// every millisecond until its standard input closes; prints "ready" first, then the slowest
/// answer and the latest wakeup from its own sleeps, in ms.
inline int run_probe() {
  double worst = 0;
  double late = 0;
  char arg0[] = "scale_probe";
  char* argv[] = {arg0, nullptr};
  using body_result = tractor::awaitable<tractor::result<void>>;
  const int code = tractor::run_main<probe_tree>(1, argv, [&](tractor::root<probe_tree>&) -> body_result {
    std::fputs("ready\n", stdout);
    std::fflush(stdout);
    bool stop = false;
    co_return co_await tractor::open_nursery([&](tractor::nursery& n) -> tractor::awaitable<void> {
      n.start_soon("until stdin closes", [&]() -> tractor::awaitable<void> {
        boost::asio::posix::stream_descriptor in(co_await boost::asio::this_coro::executor, ::dup(0));
        char b;
        auto [ec, k] =
            co_await in.async_read_some(boost::asio::buffer(&b, 1), boost::asio::as_tuple(boost::asio::use_awaitable));
        (void)ec;
        (void)k;
        stop = true;
      });
      co_await probe_registrar(stop, worst, &late);
      n.cancel();
    });
  });
  std::printf("%.3f %.3f\n", worst, late);
  return code;
}

/// The `--probe` program, started beside the bench's root: asked to stop by closing its input.
class outside_probe {
 public:
  outside_probe() {
    int in[2];
    int out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) std::abort();
    posix_spawn_file_actions_t io;
    posix_spawn_file_actions_init(&io);
    posix_spawn_file_actions_adddup2(&io, in[0], 0);
    posix_spawn_file_actions_adddup2(&io, out[1], 1);
    char self[] = "/proc/self/exe";
    char probe[] = "--probe";
    char* argv[] = {self, probe, nullptr};
    if (::posix_spawn(&pid_, self, &io, nullptr, argv, environ) != 0) std::abort();
    posix_spawn_file_actions_destroy(&io);
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~outside_probe() {
    if (to_ >= 0) ::close(to_);
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  }
  /// Waits until the probe's root runs (registered with ours).
  tractor::awaitable<void> ready() {
    co_await line();
  }
  /// Stops it; its slowest answer and its latest wakeup, in ms (-1 if it gave none).
  tractor::awaitable<std::pair<double, double>> finish() {
    ::close(to_);
    to_ = -1;
    const std::string last = co_await line();
    double worst = -1;
    double late = -1;
    if (std::sscanf(last.c_str(), "%lf %lf", &worst, &late) != 2) co_return std::pair{-1.0, -1.0};
    co_return std::pair{worst, late};
  }

 private:
  tractor::awaitable<std::string> line() {
    boost::asio::posix::stream_descriptor from(co_await boost::asio::this_coro::executor, ::dup(from_));
    auto [ec, n] = co_await boost::asio::async_read_until(from, boost::asio::dynamic_buffer(buffered_), '\n',
                                                          boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) co_return std::string();
    std::string out = buffered_.substr(0, n);
    buffered_.erase(0, n);
    co_return out;
  }
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  std::string buffered_;
};

}  // namespace bench
