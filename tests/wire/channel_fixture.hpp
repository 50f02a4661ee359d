// The channel tests' shared fixture: every transport x codec combination, fresh addresses,
// and handshaken pairs. Included by channel_test.cpp and channel_handshake_test.cpp, which
// make one binary with transport_test.cpp (channel_test.cpp gives it its own runtime dir).
#pragma once

#include <tractor/runtime/handshake.hpp>
#include <tractor/transport/channel.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/registry.hpp"

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/codec/cereal_json.hpp>
#include <tractor/core/event.hpp>
#include <tractor/transport/tcp.hpp>
#include <tractor/transport/uds.hpp>

#include <gtest/gtest.h>

#include <random>

namespace tractor::testing::wire {

using namespace std::chrono_literals;
using namespace tractor;
namespace m = tractor::msg;
namespace tp = tractor::transport;

template <class T, class C>
struct combo {
  using transport = T;
  using codec = C;
};

template <class Combo>
class channel_test : public ::testing::Test {
 protected:
  void TearDown() override { tractor::testing::expect_no_listener_left(); }

  using T = typename Combo::transport;
  using C = typename Combo::codec;

  // Unique per test, so parallel and repeated runs never share a name.
  tp::multiaddr fresh_addr() {
    static std::mt19937_64 rng(std::random_device{}());
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return T::bind_addr(std::string(info->name()).substr(0, 20) + "-" + std::to_string(rng() % 1000000));
  }

  static m::Aid aid(std::string name) {
    return m::Aid{std::move(name), "uuid-" + std::to_string(::getpid()), ::getpid(), false, false};
  }

  std::unique_ptr<tp::channel> wrap(tp::stream_socket s, tp::channel_options o = {}) {
    return tp::channel::make<C>(std::move(s), o);
  }

  // Connects a raw socket (no handshake) to `l`.
  awaitable<tp::stream_socket> raw_connect(tp::listener& l) {
    auto s = co_await T::connect(co_await boost::asio::this_coro::executor, l.address());
    EXPECT_TRUE(s) << s.error().message();
    co_return std::move(s).value();
  }

  // A connected pair of channels over `l`, not handshaken.
  struct unshaken_pair {
    std::unique_ptr<tp::channel> client, server;
  };
  awaitable<unshaken_pair> raw_pair(tp::listener& l) {
    auto client = wrap(co_await raw_connect(l));
    auto accepted = co_await l.accept();
    EXPECT_TRUE(accepted);
    co_return unshaken_pair{std::move(client), wrap(std::move(accepted).value())};
  }

  // A connected, handshaken pair of channels.
  awaitable<std::pair<std::unique_ptr<tp::channel>, std::unique_ptr<tp::channel>>> pair(
      tp::listener& l, tp::channel_options o = {}) {
    auto client = wrap(co_await raw_connect(l), o);
    auto accepted = co_await l.accept();
    EXPECT_TRUE(accepted);
    auto server = wrap(std::move(accepted).value(), o);
    std::optional<result<m::Aid>> from_server;
    auto n = co_await open_nursery([&](nursery& nur) -> awaitable<void> {
      nur.start_soon([&]() -> awaitable<void> {
        from_server = co_await tractor::runtime::handshake(*server, aid("server"), std::chrono::seconds(10));
      });
      auto from_client = co_await tractor::runtime::handshake(*client, aid("client"), std::chrono::seconds(10));
      EXPECT_TRUE(from_client) << from_client.error().message();
    });
    EXPECT_TRUE(n);
    EXPECT_TRUE(from_server && *from_server);
    co_return std::pair{std::move(client), std::move(server)};
  }

  tp::listener listen() {
    auto ex = boost::asio::any_io_executor(ctx_.get_executor());
    auto l = T::listen(ex, fresh_addr());
    EXPECT_TRUE(l) << l.error().message();
    return std::move(l).value();
  }

  boost::asio::io_context ctx_;
};

using channel_combos = ::testing::Types<combo<tp::uds, codec::cereal_binary>, combo<tp::uds, codec::cereal_json>,
                                combo<tp::tcp, codec::cereal_binary>, combo<tp::tcp, codec::cereal_json>>;

}  // namespace tractor::testing::wire
