// tractor/transport/impl/tls.ipp — definitions of tls.hpp.
#pragma once

#include <tractor/transport/tls.hpp>

#include <tractor/transport/auth.hpp>

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdlib>

namespace tractor::transport {

namespace detail {

/// OpenSSL's reason for the last failure on this thread, else `fallback`.
inline std::string openssl_reason(std::string_view fallback) {
  const unsigned long e = ::ERR_peek_last_error();
  if (e == 0) return std::string(fallback);
  char text[256];
  ::ERR_error_string_n(e, text, sizeof text);
  ::ERR_clear_error();
  return text;
}

inline error tls_failed(std::string why) { return error(make_error_code(wire_errc::auth_failed), std::move(why)); }

/// A TLS session on a socket's descriptor. Every call first checks that the socket is still
/// open: once closed, its descriptor number may already belong to another connection.
class tls_session final : public secure_stream {
 public:
  explicit tls_session(SSL* ssl) : ssl_(ssl) {}
  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;
  ~tls_session() override { ::SSL_free(ssl_); }

  [[nodiscard]] SSL* native_handle() const noexcept { return ssl_; }

  std::size_t write_some(stream_socket& s, boost::asio::const_buffer b, boost::system::error_code& ec) override {
    std::size_t n = 0;
    ec = call(s, [&] { return ::SSL_write_ex(ssl_, b.data(), b.size(), &n); });
    return ec ? 0 : n;
  }

  awaitable<io_result> write(stream_socket& s, std::span<const boost::asio::const_buffer> pieces) override {
    // Refused before anything is written, as a socket's own write is.
    const auto state = co_await boost::asio::this_coro::cancellation_state;
    throw_on_cancellation(state);
    std::size_t total = 0;
    for (const auto& piece : pieces) {
      const char* at = static_cast<const char*>(piece.data());
      std::size_t left = piece.size();
      while (left > 0) {
        std::size_t n = 0;
        const auto ec = call(s, [&] { return ::SSL_write_ex(ssl_, at, left, &n); });
        if (!ec) {
          at += n;
          left -= n;
          total += n;
          continue;
        }
        const auto waited = ec == boost::asio::error::would_block ? co_await wait(s) : ec;
        if (waited) co_return io_result{waited, total};
      }
    }
    co_return io_result{boost::system::error_code(), total};
  }

  awaitable<io_result> read_some(stream_socket& s, boost::asio::mutable_buffer b) override {
    for (;;) {
      std::size_t n = 0;
      const auto ec = call(s, [&] { return ::SSL_read_ex(ssl_, b.data(), b.size(), &n); });
      if (!ec) co_return io_result{boost::system::error_code(), n};
      const auto waited = ec == boost::asio::error::would_block ? co_await wait(s) : ec;
      if (waited) co_return io_result{waited, 0};
    }
  }

  void close(stream_socket& s) noexcept override {
    if (closed_ || !s.is_open() || !::SSL_is_init_finished(ssl_)) return;
    closed_ = true;
    ::ERR_clear_error();
    (void)::SSL_shutdown(ssl_);  // sends close_notify if the socket takes it; never waits
    ::ERR_clear_error();
  }

  /// The handshake, as `role`.
  awaitable<result<void>> handshake(stream_socket& s, tls_role role) {
    if (role == tls_role::client) {
      ::SSL_set_connect_state(ssl_);
    } else {
      ::SSL_set_accept_state(ssl_);
    }
    for (;;) {
      const auto ec = call(s, [&] { return ::SSL_do_handshake(ssl_); });
      if (!ec) co_return success();
      // The connecting side, closed on before an answer: what an actor at its cap of
      // connections still authenticating does to the oldest silent one (see auth::prove).
      if (ec == boost::asio::error::eof && role == tls_role::client) {
        co_return error(make_error_code(wire_errc::transport_closed), refusal(ec));
      }
      if (ec != boost::asio::error::would_block) co_return tls_failed(refusal(ec));
      const auto waited = co_await wait(s);
      if (!s.is_open()) co_return tls_failed("the connection was closed during the TLS handshake");
      if (waited == boost::asio::error::operation_aborted) throw_cancelled();
      if (waited) co_return tls_failed("TLS handshake: " + waited.message());
    }
  }

 private:
  /// Calls `f`, an OpenSSL operation on the session, unless the socket was closed: success,
  /// `would_block` (then `want_` says for what), `eof`, or the failure.
  template <class F>
  boost::system::error_code call(stream_socket& s, F f) {
    if (!s.is_open()) return boost::asio::error::bad_descriptor;
    ::ERR_clear_error();
    errno = 0;
    const int r = f();
    if (r == 1) return {};
    const int e = ::SSL_get_error(ssl_, r);
    switch (e) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        want_ = e;
        return boost::asio::error::would_block;
      case SSL_ERROR_ZERO_RETURN:
        return boost::asio::error::eof;
      case SSL_ERROR_SYSCALL:
        if (errno == 0 || errno == EPIPE || errno == ECONNRESET) return boost::asio::error::eof;
        return {errno, boost::system::system_category()};
      default:
        reason_ = openssl_reason("TLS failure");
        return boost::asio::error::access_denied;
    }
  }

  /// Waits until the socket is ready for what OpenSSL wants; `operation_aborted` when this
  /// task is cancelled (also when that happens before the wait starts).
  awaitable<boost::system::error_code> wait(stream_socket& s) {
    const auto what = want_ == SSL_ERROR_WANT_WRITE ? stream_socket::wait_write : stream_socket::wait_read;
    boost::system::error_code ec;
    try {
      auto [waited] = co_await s.async_wait(what, boost::asio::as_tuple(boost::asio::use_awaitable));
      ec = waited;
    } catch (const boost::system::system_error& e) {
      ec = e.code();
    }
    co_return ec;
  }

  /// Why the handshake failed, for the refusal's message.
  std::string refusal(const boost::system::error_code& ec) const {
    if (ec == boost::asio::error::eof) return "the peer closed the connection during the TLS handshake";
    if (ec != boost::asio::error::access_denied) return "TLS handshake: " + ec.message();
    const long verified = ::SSL_get_verify_result(ssl_);
    if (verified != X509_V_OK) {
      return std::string("the peer's certificate is not one this tree's authority signed (") +
             ::X509_verify_cert_error_string(verified) + ")";
    }
    if (reason_.find("peer did not return a certificate") != std::string::npos) {
      return "the peer presented no certificate";
    }
    if (reason_.find("wrong version number") != std::string::npos ||
        reason_.find("http request") != std::string::npos ||
        reason_.find("packet length too long") != std::string::npos ||
        reason_.find("record layer failure") != std::string::npos) {
      return "the peer does not speak TLS (" + reason_ + ")";
    }
    return "TLS handshake refused (" + reason_ + ")";
  }

  SSL* ssl_;
  int want_ = SSL_ERROR_WANT_READ;
  bool closed_ = false;
  std::string reason_;
};

inline result<std::string> env_path(const char* var) {
  const char* v = std::getenv(var);
  if (!v || !*v) return tls_failed(std::string(var) + " is not set");
  return std::string(v);
}

}  // namespace detail

TRACTOR_DECL result<tls_options> tls_options::from_env() {
  std::string missing;
  tls_options o;
  for (auto [var, into] : {std::pair{"TRACTOR_TLS_CERT", &o.certificate}, std::pair{"TRACTOR_TLS_KEY", &o.private_key},
                           std::pair{"TRACTOR_TLS_CA", &o.authority}}) {
    auto path = detail::env_path(var);
    if (path) {
      *into = std::move(path).value();
    } else {
      missing += (missing.empty() ? "" : ", ") + std::string(var);
    }
  }
  if (!missing.empty()) {
    return detail::tls_failed(
        "the tls transport needs TRACTOR_TLS_CERT, TRACTOR_TLS_KEY and TRACTOR_TLS_CA; not set: " + missing);
  }
  return o;
}

TRACTOR_DECL result<tls_context> tls_context::make(const tls_options& o) {
  ::ERR_clear_error();
  std::shared_ptr<SSL_CTX> ctx(::SSL_CTX_new(::TLS_method()), &::SSL_CTX_free);
  if (!ctx) return detail::tls_failed(detail::openssl_reason("cannot make a TLS context"));
  SSL_CTX* c = ctx.get();
  ::SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
  // A peer that goes away without close_notify reads as an end of stream, as on TCP (a frame
  // cut short is still caught by the framing).
  ::SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  // The channel writes what the socket takes and retries the rest later, from wherever its
  // queue then lives.
  ::SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  ::SSL_CTX_clear_mode(c, SSL_MODE_AUTO_RETRY);
  ::SSL_CTX_set_num_tickets(c, 0);  // connections are long-lived; no resumption
  auto refuse = [&](const std::string& what) {
    return detail::tls_failed(what + ": " + detail::openssl_reason("unreadable or not PEM"));
  };
  if (::SSL_CTX_use_certificate_chain_file(c, o.certificate.c_str()) != 1) {
    return refuse("cannot load the TLS certificate " + o.certificate);
  }
  const bool key_loaded = ::SSL_CTX_use_PrivateKey_file(c, o.private_key.c_str(), SSL_FILETYPE_PEM) == 1;
  if (!key_loaded && ERR_GET_REASON(::ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
    return refuse("cannot load the TLS private key " + o.private_key);
  }
  if (!key_loaded || ::SSL_CTX_check_private_key(c) != 1) {
    return refuse("the TLS private key " + o.private_key + " does not match the certificate " + o.certificate);
  }
  if (::SSL_CTX_load_verify_locations(c, o.authority.c_str(), nullptr) != 1) {
    return refuse("cannot load the TLS authority " + o.authority);
  }
  ::SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return tls_context(std::move(ctx));
}

TRACTOR_DECL const result<tls_context>& tls_context::process() {
  static const result<tls_context> ctx = [] () -> result<tls_context> {
    BOOST_OUTCOME_TRY(auto o, tls_options::from_env());
    return make(o);
  }();
  return ctx;
}

TRACTOR_DECL awaitable<result<std::unique_ptr<secure_stream>>> tls_handshake(stream_socket& s, const tls_context& ctx,
                                                                             tls_role role) {
  ::ERR_clear_error();
  SSL* ssl = ::SSL_new(ctx.native_handle());
  if (!ssl) co_return detail::tls_failed(detail::openssl_reason("cannot make a TLS session"));
  auto session = std::make_unique<detail::tls_session>(ssl);
  boost::system::error_code ec;
  s.non_blocking(true, ec);
  if (ec || ::SSL_set_fd(ssl, s.native_handle()) != 1) co_return detail::tls_failed("cannot start TLS on the socket");
  auto done = co_await fail_after(auth::deadline(), session->handshake(s, role));
  if (!done) {
    if (done.error().code() == make_error_code(errc::timeout)) {
      co_return detail::tls_failed("the peer did not finish the TLS handshake in time");
    }
    co_return done.error();
  }
  // The cookie, inside the session: a certificate alone does not make a peer part of this tree.
  result<void> cookie = success();
  if (role == tls_role::client) {
    cookie = co_await auth::prove(s, *session);
  } else {
    cookie = co_await auth::check(s, *session);
  }
  if (!cookie) co_return cookie.error();
  co_return std::unique_ptr<secure_stream>(std::move(session));
}

TRACTOR_DECL awaitable<result<std::unique_ptr<secure_stream>>> tls::prove(stream_socket& s) {
  const auto& ctx = tls_context::process();
  if (!ctx) co_return ctx.error();
  co_return co_await tls_handshake(s, ctx.value(), tls_role::client);
}

TRACTOR_DECL awaitable<result<std::unique_ptr<secure_stream>>> tls::check(stream_socket& s) {
  const auto& ctx = tls_context::process();
  if (!ctx) co_return ctx.error();
  co_return co_await tls_handshake(s, ctx.value(), tls_role::server);
}

}  // namespace tractor::transport
