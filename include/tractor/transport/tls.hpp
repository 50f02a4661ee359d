// tractor/transport/tls.hpp — TLS over TCP, for actors whose traffic crosses networks their
// owners do not trust: every byte between two actors is encrypted and authenticated, both
// sides present a certificate their tree's authority signed, and the tree's cookie is checked
// inside the session as over plain TCP (transport/auth.hpp).
//
//     using tree = tractor::tree<tractor::spawn::forkserver, tractor::transport::tls,
//                                tractor::codec::cereal_binary, api>;
//     // TRACTOR_TLS_CERT=actor.pem TRACTOR_TLS_KEY=actor.key TRACTOR_TLS_CA=ca.pem ./program
//
// TLS 1.3 only, mutual: a peer without a certificate, or with one the authority did not
// sign, is refused during the handshake. Any certificate the authority signed is a member
// of the tree (names and addresses in it are not checked: actors move between hosts and
// ports); give each tree an authority of its own. A separate library target (`//:tls`,
// links libssl), so that trees without it link no TLS library.
//
// The session is OpenSSL's, on the socket's descriptor, rather than Boost.Asio's
// `ssl::stream`: the channel writes a reply through at once when the socket takes it
// (`channel::send`), and an `ssl::stream` cannot write part of a buffer without waiting.
#pragma once

#include <tractor/config.hpp>

#include <tractor/transport/connection.hpp>
#include <tractor/transport/tcp.hpp>
#include <tractor/transport/transport.hpp>

#include <memory>
#include <string>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace tractor::transport {

/// Where a TLS transport finds its files (PEM).
struct tls_options {
  /// This actor's certificate (followed by any intermediates).
  std::string certificate;
  /// Its private key.
  std::string private_key;
  /// The authority whose signature makes a peer a member of the tree.
  std::string authority;

  /// TRACTOR_TLS_CERT, TRACTOR_TLS_KEY and TRACTOR_TLS_CA; an error naming the missing ones.
  static result<tls_options> from_env();
};

/// Loaded TLS settings (an OpenSSL SSL_CTX), shared by every connection that uses them.
class tls_context {
 public:
  /// Loads `o`: errors name the file and what is wrong with it (unreadable, not PEM, a key
  /// that does not match the certificate).
  static result<tls_context> make(const tls_options& o);

  /// This process's context, from `tls_options::from_env()`, loaded on first use and kept
  /// (an error stays an error).
  static const result<tls_context>& process();

  [[nodiscard]] ssl_ctx_st* native_handle() const noexcept { return ctx_.get(); }

 private:
  explicit tls_context(std::shared_ptr<ssl_ctx_st> ctx) : ctx_(std::move(ctx)) {}
  std::shared_ptr<ssl_ctx_st> ctx_;
};

/// Which end of a connection runs a handshake.
enum class tls_role { client, server };

/// Runs a TLS handshake on connected socket `s` as `role`, then the cookie exchange inside
/// the session (unless TRACTOR_TCP_AUTH=off), all within `auth::deadline()`: the session
/// the connection's bytes go through from then on. Fails (`wire_errc::auth_failed`, saying
/// why: no certificate, one the authority did not sign, not TLS, a wrong cookie) without
/// closing the socket; the connecting side fails with `wire_errc::transport_closed` if the
/// peer closes the connection before it answers (as `auth::prove` does).
///
/// Cancellation: interrupted at once (`operation_aborted`).
awaitable<result<std::unique_ptr<secure_stream>>> tls_handshake(stream_socket& s, const tls_context& ctx,
                                                                tls_role role);

/// The TLS transport: TCP's addresses, listening and connecting; every connection secured by
/// `tls_handshake` with `tls_context::process()`.
struct tls {
  static constexpr std::string_view name = "tls";

  static multiaddr bind_addr(std::string_view actor_name) { return tcp::bind_addr(actor_name); }
  static bool accepts(const multiaddr& a) { return tcp::accepts(a); }
  static multiaddr default_registry() { return tcp::default_registry(); }
  static result<listener> listen(const boost::asio::any_io_executor& ex, const multiaddr& a) {
    return tcp::listen(ex, a);
  }
  /// Cancellation: interrupted at once (`operation_aborted`).
  static awaitable<result<stream_socket>> connect(const boost::asio::any_io_executor& ex, const multiaddr& a) {
    return tcp::connect(ex, a);
  }

  /// The handshake of a socket the runtime connected (`prove`) or accepted (`check`).
  ///
  /// Cancellation: interrupted at once (`operation_aborted`).
  static awaitable<result<std::unique_ptr<secure_stream>>> prove(stream_socket& s);
  static awaitable<result<std::unique_ptr<secure_stream>>> check(stream_socket& s);
};

static_assert(transport<tls>);

}  // namespace tractor::transport

#if TRACTOR_HEADER_ONLY
#include <tractor/transport/impl/tls.ipp>
#endif
