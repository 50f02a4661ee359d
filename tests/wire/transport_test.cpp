// Addresses and transports: multiaddrs, the transport concept, UDS socket files, TCP.
// Part of channel_test.
#include <tractor/transport/tcp.hpp>
#include <tractor/transport/uds.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/registry.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace {

using namespace tractor;
using tractor::testing::run_async;
namespace tp = tractor::transport;

TEST(multiaddr_test, parses_and_prints_every_form) {
  for (std::string text : {"/ip4/127.0.0.1/tcp/1616", "/ip6/::1/tcp/0", "/unix/tmp/tractor-0/a@1.sock"}) {
    auto a = tp::multiaddr::parse(text);
    ASSERT_TRUE(a) << text << ": " << a.error().message();
    EXPECT_EQ(a.value().str(), text);
    auto w = tp::multiaddr::from_wire(a.value().to_wire());
    ASSERT_TRUE(w);
    EXPECT_EQ(w.value(), a.value());
  }
  for (std::string bad : {"", "ip4/1.2.3.4/tcp/1", "/ip4/localhost/tcp/1", "/ip4/::1/tcp/1",
                          "/ip4/1.2.3.4/tcp/70000", "/ip4/1.2.3.4/tcp/x", "/unix", "/foo/bar"}) {
    auto a = tp::multiaddr::parse(bad);
    ASSERT_FALSE(a) << bad;
    EXPECT_EQ(a.error(), wire_errc::bad_address) << bad;
  }
  auto udp = tp::multiaddr::parse("/ip4/127.0.0.1/udp/1616");
  ASSERT_FALSE(udp);
  EXPECT_EQ(udp.error(), wire_errc::unsupported_address);
}

struct no_connect {
  static constexpr std::string_view name = "x";
  static bool accepts(const tp::multiaddr&) { return true; }
  static tp::multiaddr bind_addr(std::string_view) { return {}; }
  static result<tp::listener> listen(const boost::asio::any_io_executor&, const tp::multiaddr&);
};
static_assert(tp::transport<tp::uds>);
static_assert(tp::transport<tp::tcp>);
static_assert(!tp::transport<no_connect>);

// UDS tests fail if they leave a socket file (this program's runtime dir is its own: see
// channel_test.cpp).
class uds_test : public ::testing::Test {
 protected:
  void TearDown() override { tractor::testing::expect_no_socket_file_left(); }
};

TEST_F(uds_test, socket_files_are_private_and_removed_on_close) {
  boost::asio::io_context ctx;
  auto dir = tp::uds::runtime_dir();
  ASSERT_TRUE(dir);
  EXPECT_EQ(std::filesystem::status(dir.value()).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_all);
  auto addr = tp::uds::bind_addr("uds_test-" + std::to_string(::getpid()));
  {
    auto l = tp::uds::listen(ctx.get_executor(), addr);
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_TRUE(std::filesystem::exists(addr.path()));
    EXPECT_EQ(std::filesystem::status(addr.path()).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  EXPECT_FALSE(std::filesystem::exists(addr.path())) << "listener left its socket file behind";
  // Unsafe or overlong names are hashed into a safe, short file name.
  auto hashed = tp::uds::bind_addr(std::string(300, 'n') + "/../x");
  EXPECT_LT(hashed.path().size(), 108u);
  EXPECT_NE(hashed.path().find("/actor."), std::string::npos);
  // Listening on a TCP address is refused clearly.
  auto wrong = tp::uds::listen(ctx.get_executor(), tp::tcp::bind_addr("x"));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), wire_errc::unsupported_address);
}

TEST(tcp_test, listens_on_ipv4_and_ipv6_loopback) {
  boost::asio::io_context ctx;
  for (auto text : {"/ip4/127.0.0.1/tcp/0", "/ip6/::1/tcp/0"}) {
    auto l = tp::tcp::listen(ctx.get_executor(), tp::multiaddr::parse(text).value());
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_NE(l.value().address().port(), 0);
    auto r = run_async(ctx, [&]() -> awaitable<bool> {
      auto s = co_await tp::tcp::connect(co_await boost::asio::this_coro::executor, l.value().address());
      co_return s.has_value();
    }());
    EXPECT_TRUE(r);
  }
  auto refused = run_async(ctx, [&]() -> awaitable<result<tp::stream_socket>> {
    auto l = tp::tcp::listen(ctx.get_executor(), tp::tcp::bind_addr("x")).value();
    auto addr = l.address();
    l.close();
    co_return co_await tp::tcp::connect(co_await boost::asio::this_coro::executor, addr);
  }());
  EXPECT_FALSE(refused);
}

}  // namespace
