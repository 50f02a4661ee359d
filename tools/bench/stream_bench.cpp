// Stream benchmark: a context's two-way stream between a root and a child actor (exec
// backend, UDS, cereal_binary), beside raw-socket floors measured in the same run.
//
//     tools/bazel run //tools/bench:stream_bench [-- --small N --large N --rtt N]
//
// Floors (two processes over a UDS socketpair, 4-byte length-prefixed frames):
//   raw batched     frames packed into 64 KiB writes, the reader parsing a 64 KiB buffer
//   raw ping-pong   one frame each way per round trip, blocking sockets, both on CPU 0
// Measured:
//   one-way         the child streams N items (32-byte strings, then 64 KiB strings) to the
//                   root, which receives them all (timed from the first item to the last)
//   ping-pong       the root sends an item and waits for the child's echo, both on CPU 0
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/transport/uds.hpp>

#include <fmt/core.h>

#include "tools/bench/bench_support.hpp"

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bench {
using tractor::awaitable;
using tractor::context;
using tractor::result;

// Streams don't push back across processes (tractor's `StreamOverrun`: a full receiver
// reports an overrun); a producer of many items therefore keeps at most two windows
// unacknowledged, and the consumer acknowledges each window, with a buffer that holds both.
// Items per acknowledged window: up to 1024, and no more than about 1 MiB of them.
constexpr long window_for(int size) {
  const long fit = (1L << 20) / (size > 0 ? size : 1);
  return fit < 1 ? 1 : (fit > 1024 ? 1024 : fit);
}
constexpr std::size_t consumer_buffer = 4 * 1024;

// Streams `count` items of `size` bytes, then returns how many it sent.
awaitable<result<long>> produce(context<int, std::string>& ctx, long count, int size) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(0));
  auto s = ctx.open_stream();
  if (!s) co_return s.error();
  const std::string item(static_cast<std::size_t>(size), 'x');
  const long window = window_for(size);
  long acked = 0;
  for (long i = 0; i < count; ++i) {
    while (i - acked * window >= 2 * window) {
      auto ack = co_await s.value().receive();
      if (!ack) co_return ack.error();
      ++acked;
    }
    if (auto now = s.value().try_send(item)) {  // queued without a coroutine
      if (!*now) co_return now->error();
      continue;
    }
    BOOST_OUTCOME_CO_TRY(co_await s.value().send(item));
  }
  co_return count;
}

// Sends every item back until the caller closes its side.
awaitable<result<long>> echo(context<int, std::string>& ctx) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(0));
  auto s = ctx.open_stream();
  if (!s) co_return s.error();
  long n = 0;
  for (;;) {
    auto x = co_await s.value().receive();
    if (!x) co_return x.error() == tractor::errc::end_of_channel ? result<long>(n) : result<long>(x.error());
    BOOST_OUTCOME_CO_TRY(co_await s.value().send(std::move(x).value()));
    ++n;
  }
}
}  // namespace bench

namespace {

using namespace tractor;
using bench::pin;
using bench::pin_child;
using clk = std::chrono::steady_clock;
using bench_tree = tree<spawn::exec, transport::uds, codec::cereal_binary, exposed<&bench::produce, &bench::echo>>;

struct options {
  long small = 1000000;
  long large = 2000;
  long rtt = 20000;
};

double seconds_since(clk::time_point t0) { return std::chrono::duration<double>(clk::now() - t0).count(); }


// -- raw floors over a socketpair ---------------------------------------------------------------

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w <= 0) std::_Exit(20);
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

// Frames per second, `count` frames of `payload` bytes written in 64 KiB batches.
double raw_batched(std::size_t payload, long count) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) std::abort();
  const pid_t pid = ::fork();
  if (pid == 0) {  // the reader: parses frames out of a 64 KiB buffer (large ones in place)
    ::close(sv[0]);
    std::vector<char> buf(std::max<std::size_t>(1 << 16, payload + 4) * 2);
    std::size_t have = 0;
    long seen = 0;
    while (seen < count) {
      const ssize_t r = ::read(sv[1], buf.data() + have, buf.size() - have);
      if (r <= 0) std::_Exit(21);
      have += static_cast<std::size_t>(r);
      std::size_t at = 0;
      for (std::uint32_t len = 0; have - at >= 4; at += 4 + len, ++seen) {
        std::memcpy(&len, buf.data() + at, 4);
        if (have - at - 4 < len) break;
      }
      std::memmove(buf.data(), buf.data() + at, have - at);
      have -= at;
    }
    const char ack = 1;
    write_all(sv[1], &ack, 1);
    std::_Exit(0);
  }
  ::close(sv[1]);
  std::string frame(4 + payload, 'x');
  const auto len = static_cast<std::uint32_t>(payload);
  std::memcpy(frame.data(), &len, 4);
  std::string batch;
  const auto t0 = clk::now();
  for (long i = 0; i < count; ++i) {
    batch += frame;
    if (batch.size() >= (1 << 16)) {
      write_all(sv[0], batch.data(), batch.size());
      batch.clear();
    }
  }
  write_all(sv[0], batch.data(), batch.size());
  char ack = 0;
  if (::read(sv[0], &ack, 1) != 1) std::abort();
  const double rate = static_cast<double>(count) / seconds_since(t0);
  ::close(sv[0]);
  int ws = 0;
  ::waitpid(pid, &ws, 0);
  return rate;
}

// Microseconds per round trip of a 36-byte frame, both processes on CPU 0.
double raw_ping_pong_us(long count) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) std::abort();
  pin(0);
  const pid_t pid = ::fork();
  char f[36] = {};
  if (pid == 0) {
    ::close(sv[0]);
    for (long i = 0; i < count; ++i) {
      if (::read(sv[1], f, sizeof f) <= 0 || ::write(sv[1], f, sizeof f) <= 0) std::_Exit(22);
    }
    std::_Exit(0);
  }
  ::close(sv[1]);
  const auto t0 = clk::now();
  for (long i = 0; i < count; ++i) {
    if (::write(sv[0], f, sizeof f) <= 0 || ::read(sv[0], f, sizeof f) <= 0) std::abort();
  }
  const double us = seconds_since(t0) * 1e6 / static_cast<double>(count);
  ::close(sv[0]);
  int ws = 0;
  ::waitpid(pid, &ws, 0);
  return us;
}

// -- streams ---------------------------------------------------------------------------------------

// Items per second of a child streaming `count` items of `size` bytes to the root.
awaitable<result<double>> stream_one_way(portal<bench_tree>& p, long count, int size) {
  double rate = 0;
  // The buffer is set from the start: the producer streams right after `started()`, so items
  // can arrive before this block opens its stream (64 of them would be an overrun).
  const stream_options buffering{.buffer = bench::consumer_buffer};
  auto r = co_await p.open_context<&bench::produce>(
      buffering,
      [&](caller_context<&bench::produce>& ctx, int) -> awaitable<result<void>> {
        auto s = ctx.open_stream(buffering);
        if (!s) co_return s.error();
        auto first = co_await s.value().receive();  // the clock starts at the first item
        if (!first) co_return first.error();
        const auto t0 = clk::now();
        long got = 1;
        const std::string ack = "a";
        for (;;) {
          // Buffered items without a coroutine. (No ?: around a co_await: g++ 12 runs both arms.)
          auto ready = s.value().try_receive();
          if (!ready) ready.emplace(co_await s.value().receive());
          auto& x = *ready;
          if (!x && x.error() == errc::end_of_channel) break;
          if (!x) co_return x.error();
          if (++got % bench::window_for(size) == 0) {
            BOOST_OUTCOME_CO_TRY(co_await s.value().send(ack));
          }
        }
        rate = static_cast<double>(got - 1) / seconds_since(t0);
        if (got != count) co_return error(make_error_code(errc::would_block), "items lost");
        co_return success();
      },
      count, size);
  if (!r) co_return r.error();
  co_return rate;
}

awaitable<result<double>> stream_ping_pong_us(portal<bench_tree>& p, long count) {
  double us = 0;
  auto r = co_await p.open_context<&bench::echo>(
      [&](caller_context<&bench::echo>& ctx, int) -> awaitable<result<void>> {
        auto s = ctx.open_stream();
        if (!s) co_return s.error();
        const std::string item(32, 'p');
        const auto t0 = clk::now();
        for (long i = 0; i < count; ++i) {
          BOOST_OUTCOME_CO_TRY(co_await s.value().send(item));
          auto back = co_await s.value().receive();
          if (!back) co_return back.error();
        }
        us = seconds_since(t0) * 1e6 / static_cast<double>(count);
        s.value().close();
        co_return success();
      });
  if (!r) co_return r.error();
  co_return us;
}

}  // namespace

int main(int argc, char** argv) {
  if (runtime::is_child_process()) return runtime::child_main(bench_tree::policies());
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const long v = std::atol(argv[i + 1]);
    if (k == "--small") o.small = v;
    if (k == "--large") o.large = v;
    if (k == "--rtt") o.rtt = v;
  }
  const double floor_small = raw_batched(32 + 8, o.small * 4);  // a 32-byte string, encoded
  const double floor_large = raw_batched((64 << 10) + 8, o.large);
  const double floor_rtt = raw_ping_pong_us(o.rtt);
  pin(0);  // (raw_ping_pong_us pinned this process; the throughput runs are placed freely)
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int c = 0; c < CPU_SETSIZE; ++c) CPU_SET(c, &all);
  ::sched_setaffinity(0, sizeof all, &all);

  double small = 0, large = 0, rtt = 0;
  const int code = run_main<bench_tree>(argc, argv, [&](root<bench_tree>& r) -> awaitable<result<void>> {
    co_return co_await r.open_nursery([&](actor_nursery<bench_tree>& an) -> awaitable<result<void>> {
      const actor_options opts{.enable_modules = {"bench"}};
      auto p = co_await an.start_actor("streamer", opts);
      if (!p) co_return p.error();
      auto s = co_await stream_one_way(p.value(), o.small, 32);
      if (!s) co_return s.error();
      small = s.value();
      auto l = co_await stream_one_way(p.value(), o.large, 64 << 10);
      if (!l) co_return l.error();
      large = l.value();
      pin(0);
      auto q = co_await an.start_actor("echoer", opts);
      if (!q) co_return q.error();
      pin_child(q.value().aid().pid, 0);  // both on CPU 0
      auto t = co_await stream_ping_pong_us(q.value(), o.rtt);
      if (!t) co_return t.error();
      rtt = t.value();
      an.cancel();
      co_return success();
    });
  });
  if (code != 0) return code;
  fmt::print("tractor stream benchmark (exec backend, uds, cereal_binary; {} small, {} large items, {} round trips)\n",
             o.small, o.large, o.rtt);
  fmt::print("32 B items one-way   raw batched {:8.3f} M/s | stream {:8.3f} M/s = {:5.2f}% of raw\n", floor_small / 1e6,
             small / 1e6, 100 * small / floor_small);
  fmt::print("64 KiB items one-way raw batched {:8.1f} MiB/s | stream {:8.1f} MiB/s = {:5.2f}x raw\n",
             floor_large * 64 / 1024, large * 64 / 1024, large / floor_large);
  fmt::print("ping-pong (CPU 0)    raw {:8.2f} us | stream {:8.2f} us = {:5.2f}x raw\n", floor_rtt, rtt, rtt / floor_rtt);
  return 0;
}
