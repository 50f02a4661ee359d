// TCP authentication (transport/auth.hpp) played against: a peer without the cookie, with a
// wrong one, replaying a recorded exchange, speaking a frame first, staying silent, or
// sending random bytes; and the cookie file's rules. The program's cookie is the one
// tractor::testing gives it (TRACTOR_COOKIE).
#include <tractor/transport/auth.hpp>
#include <tractor/transport/tcp.hpp>

#include "tests/support/async_test.hpp"

#include <gtest/gtest.h>

#include <tractor/core/nursery.hpp>

#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace tp = tractor::transport;
using tractor::awaitable;
using tractor::result;
using tractor::testing::run_async;
using namespace std::chrono_literals;

using block = std::array<unsigned char, 32>;

std::string mac(std::string_view key, std::string_view side, const std::string& a, const std::string& b) {
  const std::string data = std::string(side) + a + b;
  block out{};
  unsigned int len = 0;
  ::HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), out.data(), &len);
  return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

std::string random_bytes(std::size_t n, std::mt19937& rng) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// A listener and a raw connection to it; `server` runs the accepting side's check on the
// accepted socket while `client` plays the other side by hand.
template <class Client>
result<void> against_check(Client client) {
  boost::asio::io_context ctx;
  return run_async(ctx, [&]() -> awaitable<result<void>> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto l = tp::tcp::listen(ex, tp::tcp::bind_addr("auth"));
    if (!l) co_return l.error();
    auto c = co_await tp::tcp::connect(ex, l.value().address());
    if (!c) co_return c.error();
    auto s = co_await l.value().accept();
    if (!s) co_return s.error();
    std::optional<result<void>> checked;
    auto check = [&]() -> awaitable<void> { checked.emplace(co_await tp::auth::check(s.value())); };
    (void)co_await tractor::open_nursery([&](tractor::nursery& n) -> awaitable<void> {
      n.start_soon("check", check());
      co_await client(c.value());
    });
    co_return *checked;
  }());
}

awaitable<void> send(tp::stream_socket& s, const std::string& bytes) {
  boost::system::error_code ec;
  co_await boost::asio::async_write(s, boost::asio::buffer(bytes), boost::asio::redirect_error(boost::asio::use_awaitable, ec));
}

awaitable<std::string> receive(tp::stream_socket& s, std::size_t n) {
  std::string out(n, '\0');
  boost::system::error_code ec;
  const std::size_t got = co_await boost::asio::async_read(s, boost::asio::buffer(out),
                                                           boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  out.resize(got);
  co_return out;
}

const std::string magic = "TRCAUTH1";

// The connecting side by hand, with `key`: its hello and its proof, as sent.
awaitable<std::string> client_by_hand(tp::stream_socket& s, std::string_view key, std::mt19937& rng) {
  const std::string nonce = random_bytes(32, rng);
  co_await send(s, magic + nonce);
  const std::string answer = co_await receive(s, magic.size() + 64);
  if (answer.size() != magic.size() + 64) co_return "";
  const std::string proof = mac(key, "client", nonce, answer.substr(magic.size(), 32));
  co_await send(s, proof);
  co_return magic + nonce + proof;
}

TEST(auth_test, both_sides_with_the_cookie_authenticate) {
  ASSERT_TRUE(tp::auth::cookie()) << tp::auth::cookie().error().message();
  boost::asio::io_context ctx;
  const auto r = run_async(ctx, [&]() -> awaitable<result<void>> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto l = tp::tcp::listen(ex, tp::tcp::bind_addr("auth"));
    if (!l) co_return l.error();
    std::optional<result<void>> checked, proven;
    (void)co_await tractor::open_nursery([&](tractor::nursery& n) -> awaitable<void> {
      n.start_soon("accept", [&]() -> awaitable<void> {
        auto s = co_await l.value().accept();
        if (!s) co_return;
        auto ok = co_await tp::tcp::check(s.value());
        checked.emplace(std::move(ok));
      });
      auto c = co_await tp::tcp::connect(ex, l.value().address());
      if (!c) co_return;
      auto ok = co_await tp::tcp::prove(c.value());
      proven.emplace(std::move(ok));
    });
    if (!checked || !proven) co_return tractor::error(tractor::make_error_code(tractor::wire_errc::transport_closed), "no connection");
    if (!*checked) co_return checked->error();
    co_return *proven;
  }());
  EXPECT_TRUE(r) << r.error().message();
}

TEST(auth_test, a_peer_with_a_wrong_cookie_is_refused) {
  std::mt19937 rng(1);
  const auto r = against_check([&](tp::stream_socket& c) -> awaitable<void> {
    (void)co_await client_by_hand(c, "not-the-cookie", rng);
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), tractor::wire_errc::auth_failed);
  EXPECT_NE(r.error().message().find("does not know this tree's cookie"), std::string::npos) << r.error().message();
}

TEST(auth_test, a_server_with_a_wrong_cookie_is_refused_by_the_connecting_side) {
  boost::asio::io_context ctx;
  std::mt19937 rng(2);
  const auto r = run_async(ctx, [&]() -> awaitable<result<void>> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto l = tp::tcp::listen(ex, tp::tcp::bind_addr("auth"));
    if (!l) co_return l.error();
    std::optional<result<void>> proven;
    (void)co_await tractor::open_nursery([&](tractor::nursery& n) -> awaitable<void> {
      n.start_soon("impostor", [&]() -> awaitable<void> {
        auto s = co_await l.value().accept();
        if (!s) co_return;
        const std::string hello = co_await receive(s.value(), magic.size() + 32);
        const std::string mine = random_bytes(32, rng);
        co_await send(s.value(), magic + mine + mac("not-the-cookie", "server", hello.substr(magic.size()), mine));
        (void)co_await receive(s.value(), 32);  // until the other side hangs up
      });
      auto c = co_await tp::tcp::connect(ex, l.value().address());
      if (!c) co_return;
      auto ok = co_await tp::auth::prove(c.value());
      proven.emplace(std::move(ok));
      c.value().close();
    });
    if (!proven) co_return tractor::success();
    co_return *proven;
  }());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("does not know this tree's cookie"), std::string::npos) << r.error().message();
}

TEST(auth_test, a_recorded_exchange_replayed_on_a_new_connection_fails) {
  std::mt19937 rng(3);
  const std::string key = tp::auth::cookie().value();
  std::string recorded;
  const auto first = against_check([&](tp::stream_socket& c) -> awaitable<void> {
    recorded = co_await client_by_hand(c, key, rng);
  });
  ASSERT_TRUE(first) << "the honest exchange: " << first.error().message();
  ASSERT_EQ(recorded.size(), magic.size() + 64);
  const auto replayed = against_check([&](tp::stream_socket& c) -> awaitable<void> {
    co_await send(c, recorded);  // hello and proof, without waiting for the new nonce
    (void)co_await receive(c, magic.size() + 64);
  });
  ASSERT_FALSE(replayed);
  EXPECT_NE(replayed.error().message().find("does not know this tree's cookie"), std::string::npos);
}

TEST(auth_test, a_frame_before_authenticating_is_refused) {
  const auto r = against_check([&](tp::stream_socket& c) -> awaitable<void> {
    // What an unauthenticated tractor peer sends first: a length-prefixed handshake frame.
    std::string frame = std::string("\x00\x00\x00\x30", 4) + std::string(48, 'x');
    co_await send(c, frame);
  });
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("spoke before authenticating"), std::string::npos) << r.error().message();
}

TEST(auth_test, a_silent_peer_is_dropped_at_the_deadline) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = against_check([&](tp::stream_socket&) -> awaitable<void> { co_return; });
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("did not authenticate in time"), std::string::npos) << r.error().message();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, tp::auth::deadline());
}

// The pre-authentication bytes, fuzzed: random lengths and contents, each on a connection of
// its own, never pass and never harm the accepting side.
TEST(auth_test, random_bytes_before_authenticating_never_pass) {
  std::mt19937 rng(4);
  for (int round = 0; round < 200; ++round) {
    const std::string junk = random_bytes(rng() % 120, rng);
    const auto r = against_check([&](tp::stream_socket& c) -> awaitable<void> {
      co_await send(c, junk);
      c.close();  // and hang up, so that the check ends without waiting for its deadline
    });
    ASSERT_FALSE(r) << "round " << round;
    EXPECT_EQ(r.error(), tractor::wire_errc::auth_failed);
  }
}

// The cookie file: made with mode 0600 and random content on first use, the same afterwards,
// refused once others may read it; TRACTOR_COOKIE comes first.
TEST(auth_test, the_cookie_file_is_made_private_and_refused_when_it_is_not) {
  const std::string saved = std::getenv("TRACTOR_COOKIE") ? std::getenv("TRACTOR_COOKIE") : "";
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(tmp ? tmp : "/tmp") + "/cookie-test." + std::to_string(::getpid());
  ::setenv("XDG_CONFIG_HOME", dir.c_str(), 1);
  ::unsetenv("TRACTOR_COOKIE");
  const auto made = tp::auth::load_cookie();
  ASSERT_TRUE(made) << made.error().message();
  EXPECT_EQ(made.value().size(), 64u);
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/tractor/cookie").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto again = tp::auth::load_cookie();
  ASSERT_TRUE(again);
  EXPECT_EQ(again.value(), made.value());
  // Another first use, elsewhere, makes another cookie: its bytes come from the kernel's
  // generator, not from anything the two runs share.
  ::setenv("XDG_CONFIG_HOME", (dir + "/elsewhere").c_str(), 1);
  const auto other = tp::auth::load_cookie();
  ASSERT_TRUE(other) << other.error().message();
  EXPECT_EQ(other.value().size(), 64u);
  EXPECT_NE(other.value(), made.value());
  EXPECT_EQ(other.value().find_first_not_of("0123456789abcdef"), std::string::npos) << other.value();
  ::setenv("XDG_CONFIG_HOME", dir.c_str(), 1);
  ::chmod((dir + "/tractor/cookie").c_str(), 0644);
  const auto refused = tp::auth::load_cookie();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("may be read by others"), std::string::npos) << refused.error().message();
  ::setenv("TRACTOR_COOKIE", "from-the-environment", 1);
  EXPECT_EQ(tp::auth::load_cookie().value(), "from-the-environment");
  std::filesystem::remove_all(dir);
  ::unsetenv("XDG_CONFIG_HOME");
  if (saved.empty()) {
    ::unsetenv("TRACTOR_COOKIE");
  } else {
    ::setenv("TRACTOR_COOKIE", saved.c_str(), 1);
  }
}

}  // namespace
