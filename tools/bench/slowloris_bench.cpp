// A slowloris against an actor over authenticated TCP: how fast it answers a call on an open
// channel, and a new client's connection (connect, authenticate, handshake), alone and then
// while 1,000 connections that never authenticate are held open against it (each one the
// actor closes, at the cap or at the deadline, is opened again at once: the worst case, a
// flood that never lets up). Ratios are against the same measure without the flood, in the
// same run; the aim is 2x at most.
//
//     tools/bazel run -c opt //tools/bench:slowloris_bench
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/discovery/discovery.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/spawn/thread.hpp>
#include <tractor/transport/tcp.hpp>

#include "tools/bench/bench_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/core.h>

#include <atomic>
#include <thread>
#include <vector>

namespace slow {
tractor::awaitable<int> add(int a, int b) { co_return a + b; }
}  // namespace slow

namespace {

using tree = tractor::tree<tractor::spawn::thread, tractor::transport::tcp, tractor::codec::cereal_binary,
                           tractor::exposed<&slow::add>>;
using api = tractor::interface<&slow::add>;
namespace tp = tractor::transport;

constexpr int flood = 1000;

struct figures {
  double call_us = 0;
  double connect_us = 0;
};

tractor::awaitable<tractor::result<figures>> measure(tractor::portal<tree, api>& worker, const tp::multiaddr& addr) {
  std::vector<double> calls, connects;
  for (int i = 0; i < 2000; ++i) {
    const auto t0 = bench::clk::now();
    auto r = co_await worker.run<&slow::add>(i, 1);
    if (!r) co_return r.error();
    calls.push_back(bench::ms_since(t0) * 1000);
  }
  for (int i = 0; i < 200; ++i) {
    const auto t0 = bench::clk::now();
    const bool alive = co_await tractor::runtime::address_alive(tree::policies(), addr);
    if (!alive) co_return tractor::error(tractor::make_error_code(tractor::errc::timeout), "a new client did not get in");
    connects.push_back(bench::ms_since(t0) * 1000);
  }
  co_return figures{bench::median(calls), bench::median(connects)};
}

// One of the flood's connections: opened, left silent until the actor closes it, opened again.
tractor::awaitable<void> idle_connection(tp::multiaddr addr, std::atomic<std::size_t>& opened) {
  auto ex = co_await boost::asio::this_coro::executor;
  for (;;) {
    auto s = co_await tp::tcp::connect(ex, addr);
    if (!s) continue;
    ++opened;
    char b = 0;
    boost::system::error_code ec;
    co_await boost::asio::async_read(s.value(), boost::asio::buffer(&b, 1),
                                     boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
}

// The flood, from a thread and event loop of its own (an attacker is not the client's loop).
class flood_thread {
 public:
  explicit flood_thread(const tp::multiaddr& addr) {
    for (int i = 0; i < flood; ++i) {
      boost::asio::co_spawn(ctx_, idle_connection(addr, opened_), boost::asio::detached);
    }
    thread_ = std::thread([this] { ctx_.run(); });
  }
  ~flood_thread() {
    ctx_.stop();
    thread_.join();
  }
  [[nodiscard]] std::size_t opened() const { return opened_; }

 private:
  boost::asio::io_context ctx_;
  std::atomic<std::size_t> opened_ = 0;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  ::setenv("TRACTOR_COOKIE", "slowloris-bench", 0);
  figures alone, flooded;
  std::size_t opened = 0;
  const int code = tractor::run_main<tree>(argc, argv, [&](tractor::actor_nursery<tree>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto worker, co_await an.start_actor<api>("worker"));
    BOOST_OUTCOME_CO_TRY(auto addrs, co_await tractor::query_actor<tree>("worker"));
    if (addrs.empty()) co_return tractor::errc::would_block;
    const tp::multiaddr addr = addrs.front();
    BOOST_OUTCOME_CO_TRY(alone, co_await measure(worker, addr));
    {
      flood_thread attacker(addr);
      while (attacker.opened() < flood) co_await tractor::sleep_for(std::chrono::milliseconds(10));
      auto m = co_await measure(worker, addr);
      if (!m) fmt::print(stderr, "slowloris_bench: under the flood: {}\n", m.error().message());
      if (m) flooded = m.value();
      opened = attacker.opened();
    }
    an.cancel();
    co_return tractor::success();
  });
  if (code != 0 || flooded.call_us == 0) {
    fmt::print(stderr, "slowloris_bench: the run failed (exit code {})\n", code);
    return 1;
  }
  fmt::print("an actor over authenticated TCP, alone and under a flood of {} idle connections (thread actors)\n", flood);
  fmt::print("call on an open channel          alone {:8.1f} us   flooded {:8.1f} us   = {:5.2f}x\n", alone.call_us,
             flooded.call_us, flooded.call_us / alone.call_us);
  fmt::print("new client: connect+auth+handshake alone {:8.1f} us flooded {:8.1f} us   = {:5.2f}x\n", alone.connect_us,
             flooded.connect_us, flooded.connect_us / alone.connect_us);
  fmt::print("flood connections opened (the actor closed all but {}): {}\n", flood, opened);
}
