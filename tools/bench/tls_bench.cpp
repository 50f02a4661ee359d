// What the TLS transport (transport/tls.hpp) costs beside TCP with the cookie: a connection's
// setup, a small message's round trip on a channel, and a stream's rate (1 KiB and 1 MiB
// messages), each pair measured in the same run, with a raw one-byte round trip as the floor.
//
//     tools/bazel run -c opt //tools/bench:tls_bench
//
// The certificates are the tests' (tests/wire/tls), unless TRACTOR_TLS_CERT, TRACTOR_TLS_KEY
// and TRACTOR_TLS_CA name others.
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/core/nursery.hpp>
#include <tractor/transport/auth.hpp>
#include <tractor/transport/channel.hpp>
#include <tractor/transport/tcp.hpp>
#include <tractor/transport/tls.hpp>

#include "tools/bench/bench_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fmt/core.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace tp = tractor::transport;
namespace m = tractor::msg;
using tractor::awaitable;

namespace {

struct secured_pair {
  tp::connection client, server;
};

// One side's authentication of `c`, by the transport's own erased step (tls: the session).
awaitable<void> secure_side(tp::connection& c, tp::auth_step step) {
  auto r = co_await step(c.socket);
  if (!r) std::abort();
  c.secure = std::move(r).value();
}

// One connection to `l`, both sides through TLS if `tls`, else TCP with the cookie. The
// client's time until it may send its first frame goes to `setup_us`.
awaitable<secured_pair> connect_pair(tp::listener& l, bool tls, double* setup_us = nullptr) {
  auto ex = co_await boost::asio::this_coro::executor;
  const auto t0 = bench::clk::now();
  auto c = co_await tp::tcp::connect(ex, l.address());
  auto s = co_await l.accept();
  if (!c || !s) std::abort();
  secured_pair out{tp::connection{std::move(c).value()}, tp::connection{std::move(s).value()}};
  (void)co_await tractor::open_nursery([&](tractor::nursery& n) -> awaitable<void> {
    n.start_soon("server side", secure_side(out.server, tls ? tp::checker<tp::tls>() : tp::checker<tp::tcp>()));
    co_await secure_side(out.client, tls ? tp::prover<tp::tls>() : tp::prover<tp::tcp>());
    if (setup_us) *setup_us = bench::ms_since(t0) * 1000;
  });
  co_return out;
}

awaitable<double> setup_us(tp::listener& l, bool tls, int rounds) {
  std::vector<double> us;
  for (int i = 0; i < rounds; ++i) {
    double t = 0;
    (void)co_await connect_pair(l, tls, &t);
    us.push_back(t);
  }
  co_return bench::median(us);
}

using codec_t = tractor::codec::cereal_binary;

// Median microseconds of a 64-byte message there and back on a channel pair.
awaitable<double> channel_rtt_us(tp::listener& l, bool tls, int rounds) {
  auto p = co_await connect_pair(l, tls);
  auto a = tp::channel::make<codec_t>(std::move(p.client));
  auto b = tp::channel::make<codec_t>(std::move(p.server));
  std::vector<double> us;
  auto echo = [&]() -> awaitable<void> {
    for (int i = 0; i < rounds; ++i) {
      auto got = co_await b->receive();
      if (!got) std::abort();
      auto sent = co_await b->send(std::move(got).value());
      if (!sent) std::abort();
    }
  };
  (void)co_await tractor::open_nursery([&](tractor::nursery& n) -> awaitable<void> {
    n.start_soon("echo", echo);
    for (int i = 0; i < rounds; ++i) {
      m::msg ping = m::Yield{"1", m::raw_pld{std::string(64, 'p')}};
      const auto t0 = bench::clk::now();
      auto sent = co_await a->send(std::move(ping));
      auto back = co_await a->receive();
      if (!sent || !back) std::abort();
      us.push_back(bench::ms_since(t0) * 1000);
    }
  });
  co_return bench::median(us);
}

// MB/s of `count` messages of `size` bytes sent one way on a channel pair (writer task on).
awaitable<double> stream_mb_s(tp::listener& l, bool tls, std::size_t size, int count) {
  auto p = co_await connect_pair(l, tls);
  auto a = tp::channel::make<codec_t>(std::move(p.client));
  auto b = tp::channel::make<codec_t>(std::move(p.server));
  const std::string payload(size, 'x');
  const auto t0 = bench::clk::now();
  auto sender = [&]() -> awaitable<void> {
    for (int i = 0; i < count; ++i) {
      m::msg y = m::Yield{"1", m::raw_pld{payload}};
      if (a->try_send(y)) continue;
      auto sent = co_await a->send(std::move(y));
      if (!sent) std::abort();
    }
  };
  (void)co_await tractor::open_nursery([&](tractor::nursery& n) -> awaitable<void> {
    n.start_soon("writer", [&]() -> awaitable<void> { co_await a->run_writer(); });
    n.start_soon("sender", sender);
    m::msg into;
    for (int i = 0; i < count; ++i) {
      auto got = co_await b->receive(into);
      if (!got) std::abort();
    }
    n.cancel();
  });
  co_return static_cast<double>(size) * count / (bench::ms_since(t0) / 1000) / 1e6;
}

// Median microseconds of one byte there and back on an established TCP connection.
awaitable<double> raw_rtt_us(tp::listener& l, int rounds) {
  auto p = co_await connect_pair(l, false);
  auto echo = [&]() -> awaitable<void> {
    char b = 0;
    for (int i = 0; i < rounds; ++i) {
      co_await boost::asio::async_read(p.server.socket, boost::asio::buffer(&b, 1), boost::asio::use_awaitable);
      co_await boost::asio::async_write(p.server.socket, boost::asio::buffer(&b, 1), boost::asio::use_awaitable);
    }
  };
  std::vector<double> us;
  (void)co_await tractor::open_nursery([&](tractor::nursery& n) -> awaitable<void> {
    n.start_soon("echo", echo);
    char b = 1;
    for (int i = 0; i < rounds; ++i) {
      const auto t0 = bench::clk::now();
      co_await boost::asio::async_write(p.client.socket, boost::asio::buffer(&b, 1), boost::asio::use_awaitable);
      co_await boost::asio::async_read(p.client.socket, boost::asio::buffer(&b, 1), boost::asio::use_awaitable);
      us.push_back(bench::ms_since(t0) * 1000);
    }
  });
  co_return bench::median(us);
}

void default_certificates() {
  const auto dir = std::filesystem::absolute("tests/wire/tls").string();
  ::setenv("TRACTOR_TLS_CERT", (dir + "/actor.pem").c_str(), 0);
  ::setenv("TRACTOR_TLS_KEY", (dir + "/actor.key").c_str(), 0);
  ::setenv("TRACTOR_TLS_CA", (dir + "/ca.pem").c_str(), 0);
}

}  // namespace

int main() {
  ::setenv("TRACTOR_COOKIE", "tls-bench", 0);
  default_certificates();
  const auto& tls = tp::tls_context::process();
  if (!tls) {
    fmt::print(stderr, "tls_bench: {}\n", tls.error().message());
    return 1;
  }
  boost::asio::io_context ctx;
  boost::asio::co_spawn(ctx, [&]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto l = tp::tcp::listen(ex, tp::tcp::bind_addr("bench"));
    if (!l) std::abort();
    const double raw = co_await raw_rtt_us(l.value(), 5000);
    fmt::print("TLS 1.3 (mutual certificates + cookie) beside TCP + cookie, loopback, one thread\n");
    fmt::print("raw floor   one byte there and back on an open TCP connection     {:8.1f} us\n", raw);
    const double setup_tcp = co_await setup_us(l.value(), false, 500);
    const double setup_tls = co_await setup_us(l.value(), true, 500);
    fmt::print("setup       until the first frame may go     tcp {:8.1f} us   tls {:8.1f} us   {:5.2f}x\n", setup_tcp,
               setup_tls, setup_tls / setup_tcp);
    const double rtt_tcp = co_await channel_rtt_us(l.value(), false, 5000);
    const double rtt_tls = co_await channel_rtt_us(l.value(), true, 5000);
    fmt::print("round trip  64 B message on a channel        tcp {:8.1f} us   tls {:8.1f} us   {:5.2f}x  ({:.2f}x / {:.2f}x the raw floor)\n",
               rtt_tcp, rtt_tls, rtt_tls / rtt_tcp, rtt_tcp / raw, rtt_tls / raw);
    for (auto [size, count] : {std::pair<std::size_t, int>{1024, 100000}, std::pair<std::size_t, int>{1u << 20, 200}}) {
      const double tcp = co_await stream_mb_s(l.value(), false, size, count);
      const double sec = co_await stream_mb_s(l.value(), true, size, count);
      fmt::print("stream      {:>7} messages, one way          tcp {:8.0f} MB/s tls {:8.0f} MB/s {:5.2f}x\n",
                 size == 1024 ? "1 KiB" : "1 MiB", tcp, sec, sec / tcp);
    }
  }, boost::asio::detached);
  ctx.run();
}
