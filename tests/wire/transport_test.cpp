// Addresses and transports: multiaddrs, the transport concept, UDS abstract names and their
// credential checks, TCP.
// Part of channel_test.
#include <tractor/transport/tcp.hpp>
#include <tractor/transport/uds.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

namespace {

using namespace tractor;
using tractor::testing::run_async;
namespace tp = tractor::transport;

TEST(multiaddr_test, parses_and_prints_every_form) {
  for (std::string text : {"/ip4/127.0.0.1/tcp/1616", "/ip6/::1/tcp/0", "/unix/tmp/tractor-0/a@1"}) {
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

// UDS tests fail if they leave a listener (this program's name prefix is its own: see
// channel_test.cpp).
class uds_test : public ::testing::Test {
 protected:
  void TearDown() override { tractor::testing::expect_no_listener_left(); }
};

// The name `a` as listeners_left() lists it.
std::string listed(const tp::multiaddr& a) { return a.path().substr(tp::uds::name_prefix().size() + 1); }

bool listed_now(const tp::multiaddr& a) {
  const auto all = tractor::testing::listeners_left();
  return std::find(all.begin(), all.end(), listed(a)) != all.end();
}

// Runs `f` in a forked child (raw system calls only) and returns its exit status.
template <class F>
int in_child(F f) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(f());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A raw abstract socket address for `a`.
std::pair<sockaddr_un, socklen_t> raw_address(const tp::multiaddr& a) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path + 1, a.path().data(), a.path().size());
  return {sa, static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + a.path().size())};
}

// A forked child, running as `uid`, that listens on `a` until killed; its pid once it listens
// (-1 if it could not).
pid_t listening_child(const tp::multiaddr& a, uid_t uid) {
  int ready[2];
  if (::pipe(ready) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (uid != ::geteuid() && ::setuid(uid) != 0) ::_exit(2);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    auto [sa, len] = raw_address(a);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0 || ::listen(fd, 1) != 0) ::_exit(1);
    (void)!::write(ready[1], "x", 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char c = 0;
  const bool listening = ::read(ready[0], &c, 1) == 1;
  ::close(ready[0]);
  if (listening) return pid;
  ::waitpid(pid, nullptr, 0);
  return -1;
}

TEST_F(uds_test, names_are_abstract_leave_no_file_and_go_with_their_listener) {
  boost::asio::io_context ctx;
  auto addr = tp::uds::bind_addr("uds_test-" + std::to_string(::getpid()));
  {
    auto l = tp::uds::listen(ctx.get_executor(), addr);
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_FALSE(std::filesystem::exists(addr.path())) << "no file is made";
    EXPECT_TRUE(listed_now(addr));
    auto again = tp::uds::listen(ctx.get_executor(), addr);
    ASSERT_FALSE(again) << "a live listener's name is taken";
    EXPECT_EQ(again.error(), boost::asio::error::address_in_use) << again.error().message();
    auto s = run_async(ctx, [&]() -> awaitable<result<tp::stream_socket>> {
      co_return co_await tp::uds::connect(co_await boost::asio::this_coro::executor, addr);
    }());
    EXPECT_TRUE(s) << s.error().message();
  }
  EXPECT_FALSE(listed_now(addr)) << "closing the listener released the name";
  // A process killed while listening leaves nothing: its name is free once it is gone.
  const pid_t holder = listening_child(addr, ::geteuid());
  ASSERT_GT(holder, 0);
  EXPECT_TRUE(listed_now(addr));
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  EXPECT_FALSE(listed_now(addr)) << "the killed holder's name went with it";
  EXPECT_TRUE(tp::uds::listen(ctx.get_executor(), addr)) << "and binds again at once";
  // Unsafe or overlong names are hashed into a safe, short one.
  auto hashed = tp::uds::bind_addr(std::string(300, 'n') + "/../x");
  EXPECT_LT(hashed.path().size(), 108u);
  EXPECT_NE(hashed.path().find("/actor."), std::string::npos);
  // Listening on a TCP address is refused clearly.
  auto wrong = tp::uds::listen(ctx.get_executor(), tp::tcp::bind_addr("x"));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), wire_errc::unsupported_address);
}

// Abstract names have no file permissions: both ends check the other's uid instead.
TEST_F(uds_test, peers_of_another_user_are_refused_both_ways) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run a peer as another user";
  constexpr uid_t nobody = 65534;
  if (in_child([] { return ::setuid(nobody) == 0 ? 0 : 1; }) != 0) GTEST_SKIP() << "cannot become uid 65534 here";
  boost::asio::io_context ctx;
  const auto ex = ctx.get_executor();
  // A stranger connecting to our listener is closed at once; the listener goes on.
  auto addr = tp::uds::bind_addr("uds_strangers-" + std::to_string(::getpid()));
  auto l = tp::uds::listen(ex, addr);
  ASSERT_TRUE(l) << l.error().message();
  const pid_t stranger = ::fork();
  if (stranger == 0) {
    if (::setuid(nobody) != 0) ::_exit(2);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    auto [sa, len] = raw_address(addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) ::_exit(3);
    char buf[1];
    ::_exit(::read(fd, buf, 1) == 0 ? 0 : 4);  // 0: closed on us
  }
  auto refused = run_async(ctx, l.value().accept());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), make_error_code(boost::system::errc::permission_denied));
  EXPECT_NE(refused.error().message().find("uid 65534"), std::string::npos) << refused.error().message();
  int status = 0;
  ::waitpid(stranger, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the stranger saw its connection closed";
  auto ours = run_async(ctx, [&]() -> awaitable<bool> {
    auto c = co_await tp::uds::connect(co_await boost::asio::this_coro::executor, addr);
    auto a = co_await l.value().accept();
    co_return c.has_value() && a.has_value();
  }());
  EXPECT_TRUE(ours) << "our own peers are still accepted";
  // A stranger squatting a name: connecting to it is refused before a byte is exchanged.
  auto squatted = tp::uds::bind_addr("uds_squatted-" + std::to_string(::getpid()));
  const pid_t squatter = listening_child(squatted, nobody);
  ASSERT_GT(squatter, 0);
  auto to_squatter = run_async(ctx, [&]() -> awaitable<result<tp::stream_socket>> {
    co_return co_await tp::uds::connect(co_await boost::asio::this_coro::executor, squatted);
  }());
  ::kill(squatter, SIGKILL);
  ::waitpid(squatter, nullptr, 0);
  ASSERT_FALSE(to_squatter);
  EXPECT_EQ(to_squatter.error(), make_error_code(boost::system::errc::permission_denied));
  EXPECT_NE(to_squatter.error().message().find("refused the listener at"), std::string::npos)
      << to_squatter.error().message();
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
