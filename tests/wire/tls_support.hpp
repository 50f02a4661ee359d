// What the TLS tests share: the test certificates, and the two sides of a handshake run
// against each other, or against a client played by hand (OpenSSL, blocking, on a thread of
// its own, so that it can do what tractor's side never would: present no certificate, or the
// wrong cookie inside a correct session).
#pragma once

#include <tractor/core/nursery.hpp>
#include <tractor/transport/auth.hpp>
#include <tractor/transport/tls.hpp>

#include "tests/support/async_test.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <filesystem>
#include <map>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tractor::testing::tls {

namespace tp = tractor::transport;
using namespace std::chrono_literals;

/// A file of tests/wire/tls, by absolute path (exec children start elsewhere in the tree).
inline std::string file(const std::string& name) {
  return std::filesystem::absolute("tests/wire/tls/" + name).string();
}
inline std::string key_path(const std::string& who) { return file(who + ".key"); }

/// Points TRACTOR_TLS_* at the tree's own certificate (before anything runs: children inherit it).
inline void use_test_certificates() {
  ::setenv("TRACTOR_TLS_CERT", file("actor.pem").c_str(), 1);
  ::setenv("TRACTOR_TLS_KEY", key_path("actor").c_str(), 1);
  ::setenv("TRACTOR_TLS_CA", file("ca.pem").c_str(), 1);
}

/// The context of `who` ("actor": the tree's; "stranger": signed by another authority), which
/// trusts the tree's authority.
inline const tp::tls_context& context_of(const std::string& who) {
  static std::map<std::string, tp::tls_context> made;
  auto it = made.find(who);
  if (it == made.end()) {
    auto ctx = tp::tls_context::make({file(who + ".pem"), key_path(who), file("ca.pem")});
    EXPECT_TRUE(ctx) << ctx.error().message();
    it = made.emplace(who, std::move(ctx).value()).first;
  }
  return it->second;
}

inline awaitable<void> send_bytes(tp::stream_socket& s, const std::string& bytes) {
  boost::system::error_code ec;
  co_await boost::asio::async_write(s, boost::asio::buffer(bytes), boost::asio::redirect_error(boost::asio::use_awaitable, ec));
}

/// Both sides' handshakes, run at once over one connection to `l`.
struct handshakes {
  result<tp::connection> client = error(make_error_code(errc::timeout), "not run");
  result<tp::connection> server = error(make_error_code(errc::timeout), "not run");
  [[nodiscard]] std::string describe() const {
    return "client: " + (client ? std::string("ok") : client.error().message()) +
           "; server: " + (server ? std::string("ok") : server.error().message());
  }
};

inline awaitable<handshakes> both_sides(tp::listener& l, const tp::tls_context& client_ctx,
                                        const tp::tls_context& server_ctx) {
  auto ex = co_await boost::asio::this_coro::executor;
  handshakes out;
  (void)co_await open_nursery([&](nursery& n) -> awaitable<void> {
    n.start_soon("server", [&]() -> awaitable<void> {
      auto s = co_await l.accept();
      if (!s) co_return;
      auto secured = co_await tp::tls_handshake(s.value(), server_ctx, tp::tls_role::server);
      if (!secured) {
        out.server = secured.error();
        s.value().close();  // as the runtime does: the refused peer sees the end at once
        co_return;
      }
      out.server = tp::connection{std::move(s).value(), std::move(secured).value()};
    });
    auto c = co_await tp::tls::connect(ex, l.address());
    if (!c) co_return;
    auto secured = co_await tp::tls_handshake(c.value(), client_ctx, tp::tls_role::client);
    if (!secured) {
      out.client = secured.error();
      c.value().close();
      co_return;
    }
    out.client = tp::connection{std::move(c).value(), std::move(secured).value()};
  });
  co_return out;
}

/// Each side's outcome of a handshake between `client_ctx` and `server_ctx`.
struct outcome {
  result<void> client = success();
  result<void> server = success();
};

inline outcome handshake_pair(const tp::tls_context& client_ctx, const tp::tls_context& server_ctx) {
  return run_async([&]() -> awaitable<outcome> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto l = tp::tls::listen(ex, tp::tls::bind_addr("tls"));
    if (!l) co_return outcome{l.error(), l.error()};
    auto hs = co_await both_sides(l.value(), client_ctx, server_ctx);
    outcome o;
    if (!hs.client) o.client = hs.client.error();
    if (!hs.server) o.server = hs.server.error();
    co_return o;
  }());
}

/// The accepting side's handshake against `client`, which plays the other end on a raw socket.
template <class Client>
result<void> against_server(const tp::tls_context& ctx, Client client) {
  return run_async([&]() -> awaitable<result<void>> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto l = tp::tls::listen(ex, tp::tls::bind_addr("tls"));
    if (!l) co_return l.error();
    auto c = co_await tp::tls::connect(ex, l.value().address());
    if (!c) co_return c.error();
    auto s = co_await l.value().accept();
    if (!s) co_return s.error();
    result<void> checked = success();
    (void)co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon("server", [&]() -> awaitable<void> {
        auto secured = co_await tp::tls_handshake(s.value(), ctx, tp::tls_role::server);
        if (!secured) checked = secured.error();
        s.value().close();
      });
      co_await client(c.value());
    });
    co_return checked;
  }());
}

/// A client played by hand: with or without the tree's certificate, and after the TLS
/// handshake the cookie exchange with `cookie` (none: stop after the handshake).
struct raw_client {
  bool certificate = true;
  std::string cookie;
};

struct raw_outcome {
  result<void> server = success();
  bool client_handshake_done = false;
};

namespace detail {

inline std::string hmac(std::string_view key, std::string_view side, const std::string& a, const std::string& b) {
  const std::string data = std::string(side) + a + b;
  unsigned char out[32];
  unsigned int len = 0;
  ::HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), 32);
}

inline bool write_all(SSL* ssl, const std::string& s) { return ::SSL_write(ssl, s.data(), static_cast<int>(s.size())) == static_cast<int>(s.size()); }

inline std::string read_n(SSL* ssl, std::size_t n) {
  std::string out(n, '\0');
  std::size_t have = 0;
  while (have < n) {
    const int r = ::SSL_read(ssl, out.data() + have, static_cast<int>(n - have));
    if (r <= 0) break;
    have += static_cast<std::size_t>(r);
  }
  out.resize(have);
  return out;
}

/// Runs `how` against the TCP port `port` of 127.0.0.1 (blocking); whether its TLS handshake
/// finished.
inline bool play(const raw_client& how, unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool done = false;
  SSL_CTX* ctx = ::SSL_CTX_new(::TLS_client_method());
  if (how.certificate) {
    ::SSL_CTX_use_certificate_chain_file(ctx, file("actor.pem").c_str());
    ::SSL_CTX_use_PrivateKey_file(ctx, key_path("actor").c_str(), SSL_FILETYPE_PEM);
  }
  ::SSL_CTX_load_verify_locations(ctx, file("ca.pem").c_str(), nullptr);
  ::SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL* ssl = ::SSL_new(ctx);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    ::SSL_set_fd(ssl, fd);
    done = ::SSL_connect(ssl) == 1;
    if (done && !how.cookie.empty()) {
      std::string nonce(32, '\0');
      ::RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), 32);
      if (write_all(ssl, "TRCAUTH1" + nonce)) {
        const std::string answer = read_n(ssl, 8 + 64);
        if (answer.size() == 8 + 64) (void)write_all(ssl, hmac(how.cookie, "client", nonce, answer.substr(8, 32)));
      }
      (void)read_n(ssl, 1);  // until the server hangs up
    } else if (done) {
      (void)read_n(ssl, 1);
    }
  }
  ::SSL_free(ssl);
  ::SSL_CTX_free(ctx);
  ::close(fd);
  return done;
}

}  // namespace detail

inline raw_outcome against_server_by_thread(const tp::tls_context& ctx, raw_client how) {
  raw_outcome out;
  out.server = run_async([&]() -> awaitable<result<void>> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto l = tp::tls::listen(ex, tp::tls::bind_addr("tls"));
    if (!l) co_return l.error();
    const auto port = static_cast<unsigned short>(std::stoi(l.value().address().str().substr(
        l.value().address().str().rfind('/') + 1)));
    std::thread client([&] { out.client_handshake_done = detail::play(how, port); });
    auto s = co_await l.value().accept();
    result<void> checked = success();
    if (!s) {
      checked = s.error();
    } else {
      auto secured = co_await tp::tls_handshake(s.value(), ctx, tp::tls_role::server);
      if (!secured) checked = secured.error();
      s.value().close();
    }
    client.join();  // it ends once the socket is closed
    co_return checked;
  }());
  return out;
}

}  // namespace tractor::testing::tls
