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

// Connects to `at` and back: true if a listener answered there.
bool answers_at(boost::asio::io_context& ctx, tp::listener& l, const tp::multiaddr& at) {
  return run_async(ctx, [&]() -> awaitable<bool> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto s = co_await tp::uds::connect(ex, at);
    if (!s) co_return false;
    auto accepted = co_await l.accept();
    co_return accepted.has_value();
  }());
}

TEST_F(uds_test, a_listener_moves_its_socket_file_without_binding_again) {
  boost::asio::io_context ctx;
  const std::string tag = std::to_string(::getpid());
  const auto from = tp::uds::bind_addr("move-from-" + tag);
  const auto to = tp::uds::bind_addr("move-to-" + tag);
  const auto taken = tp::uds::bind_addr("move-taken-" + tag);
  {
    auto l = tp::uds::listen(ctx.get_executor(), from);
    ASSERT_TRUE(l) << l.error().message();
    ASSERT_TRUE(l.value().move_to(to));
    EXPECT_EQ(l.value().address(), to);
    EXPECT_FALSE(std::filesystem::exists(from.path()));
    EXPECT_TRUE(answers_at(ctx, l.value(), to));
    EXPECT_FALSE(answers_at(ctx, l.value(), from));

    // An existing file is never replaced: the listener stays where it was.
    auto other = tp::uds::listen(ctx.get_executor(), taken);
    ASSERT_TRUE(other);
    auto refused = l.value().move_to(taken);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), boost::system::errc::file_exists) << refused.error().message();
    EXPECT_EQ(l.value().address(), to);
    EXPECT_TRUE(answers_at(ctx, l.value(), to));
    EXPECT_TRUE(answers_at(ctx, other.value(), taken)) << "the other listener keeps its file";

    // Not a socket file's address: refused, nothing moved.
    auto wrong = l.value().move_to(tp::tcp::bind_addr("x"));
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error(), wire_errc::unsupported_address);
    EXPECT_TRUE(std::filesystem::exists(to.path()));
  }
  EXPECT_FALSE(std::filesystem::exists(to.path())) << "closing removes the file where it is now";
  EXPECT_FALSE(std::filesystem::exists(taken.path()));
}

}  // namespace
