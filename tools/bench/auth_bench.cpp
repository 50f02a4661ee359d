// What TCP authentication (transport/auth.hpp) costs a connection: loopback connect + accept,
// then the same with both sides' authentication, beside one raw round trip on an
// established connection (the floor an extra exchange costs).
//
//     tools/bazel run -c opt //tools/bench:auth_bench
#include <tractor/transport/auth.hpp>
#include <tractor/transport/tcp.hpp>

#include "tools/bench/bench_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fmt/core.h>

#include <cstdlib>
#include <vector>

namespace tp = tractor::transport;
using tractor::awaitable;

namespace {

constexpr int rounds = 2000;

// Median microseconds from connecting until the connecting side may send its first frame:
// connect + accept, and with authentication its proof sent.
awaitable<double> connect_us(tp::listener& l, bool authenticate) {
  auto ex = co_await boost::asio::this_coro::executor;
  std::vector<double> us;
  for (int i = 0; i < rounds; ++i) {
    const auto t0 = bench::clk::now();
    auto c = co_await tp::tcp::connect(ex, l.address());
    auto s = co_await l.accept();
    if (!c || !s) std::abort();
    if (authenticate) {
      bool checked = false;
      boost::asio::co_spawn(ex, [&]() -> awaitable<void> { checked = (co_await tp::auth::check(s.value())).has_value(); },
                            boost::asio::detached);
      auto proven = co_await tp::auth::prove(c.value());
      // The connecting side goes on here (its first frame follows its proof); the accepting
      // side finishes checking meanwhile, outside the measure.
      us.push_back(bench::ms_since(t0) * 1000);
      while (!checked) co_await boost::asio::post(ex, boost::asio::use_awaitable);
      if (!proven) std::abort();
      continue;
    }
    us.push_back(bench::ms_since(t0) * 1000);
  }
  co_return bench::median(us);
}

// Median microseconds of one byte there and back on an established loopback connection.
awaitable<double> round_trip_us(tp::listener& l) {
  auto ex = co_await boost::asio::this_coro::executor;
  auto c = co_await tp::tcp::connect(ex, l.address());
  auto s = co_await l.accept();
  if (!c || !s) std::abort();
  boost::asio::co_spawn(ex, [&]() -> awaitable<void> {
    char b = 0;
    for (int i = 0; i < rounds; ++i) {
      co_await boost::asio::async_read(s.value(), boost::asio::buffer(&b, 1), boost::asio::use_awaitable);
      co_await boost::asio::async_write(s.value(), boost::asio::buffer(&b, 1), boost::asio::use_awaitable);
    }
  }, boost::asio::detached);
  std::vector<double> us;
  char b = 1;
  for (int i = 0; i < rounds; ++i) {
    const auto t0 = bench::clk::now();
    co_await boost::asio::async_write(c.value(), boost::asio::buffer(&b, 1), boost::asio::use_awaitable);
    co_await boost::asio::async_read(c.value(), boost::asio::buffer(&b, 1), boost::asio::use_awaitable);
    us.push_back(bench::ms_since(t0) * 1000);
  }
  co_return bench::median(us);
}

}  // namespace

int main() {
  ::setenv("TRACTOR_COOKIE", "auth-bench", 0);
  boost::asio::io_context ctx;
  boost::asio::co_spawn(ctx, []() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto l = tp::tcp::listen(ex, tp::tcp::bind_addr("bench"));
    if (!l) std::abort();
    const double rtt = co_await round_trip_us(l.value());
    const double plain = co_await connect_us(l.value(), false);
    const double authed = co_await connect_us(l.value(), true);
    fmt::print("TCP authentication, loopback, one thread, median of {}\n", rounds);
    fmt::print("raw floor        one round trip on an open connection  {:7.1f} us\n", rtt);
    fmt::print("connect+accept   until the first frame may go, plain    {:7.1f} us\n", plain);
    fmt::print("connect+accept   until the first frame may go, authed   {:7.1f} us = +{:.1f} us = {:.2f}x the round trip\n",
               authed, authed - plain, (authed - plain) / rtt);
  }, boost::asio::detached);
  ctx.run();
}
