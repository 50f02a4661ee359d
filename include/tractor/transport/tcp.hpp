// tractor/transport/tcp.hpp — TCP over IPv4 and IPv6, with TCP_NODELAY on every connection
// (actors exchange many small frames; Nagle's delay would add up to 40 ms to each), each
// connection authenticated by the tree's cookie (auth.hpp) before any tractor message.
//
// The cookie exchange: both sides prove that they know the cookie without sending it. The
// connecting side sends a fresh nonce; the accepting side answers with a nonce of its own and
// HMAC-SHA256(cookie, "server" | client nonce | server nonce); the connecting side checks that
// (constant-time) and answers HMAC-SHA256(cookie, "client" | client nonce | server nonce),
// which the accepting side checks. Each proof covers both nonces, so a recorded exchange
// replayed on a new connection fails: the other side's nonce is new. It costs the connecting
// side one round trip (its proof travels with its first tractor frame). It authenticates the
// peer at connection time; it does not encrypt or sign the frames that follow (the tls
// transport does that). HMAC is OpenSSL's: a program that uses this header links `-lcrypto`
// (Bazel: `//:tcp`).
#pragma once

#include <tractor/config.hpp>

#include <tractor/transport/auth.hpp>
#include <tractor/transport/transport.hpp>

#include <boost/asio/ip/tcp.hpp>

namespace tractor::transport {

namespace auth {

/// The connecting side's part of the exchange, on a socket just connected. Fails
/// (`wire_errc::auth_failed`) if the peer does not answer the challenge within `deadline()` or
/// does not know the cookie, and (`wire_errc::transport_closed`) if it closes the connection
/// before it answers: an actor at its cap of connections still authenticating (`max_pending`)
/// closes the oldest silent one, so a new connection may get in. The caller closes the socket.
///
/// Cancellation: interrupted at once (`operation_aborted`).
awaitable<result<void>> prove(stream_socket& s);

/// The accepting side's part, on a socket just accepted. Reads a fixed number of bytes at
/// each step (nothing else is read before the peer has proven itself), and fails
/// (`wire_errc::auth_failed`) on anything but a valid proof within `deadline()`.
///
/// Cancellation: interrupted at once (`operation_aborted`).
awaitable<result<void>> check(stream_socket& s);

/// As `prove` and `check`, inside secure session `over` (transport/tls.hpp).
///
/// Cancellation: interrupted at once (`operation_aborted`).
awaitable<result<void>> prove(stream_socket& s, secure_stream& over);
awaitable<result<void>> check(stream_socket& s, secure_stream& over);

}  // namespace auth

struct tcp {
  static constexpr std::string_view name = "tcp";

  /// 127.0.0.1 with an OS-chosen port (tractor's default bind for non-registrars).
  static multiaddr bind_addr(std::string_view /*actor_name*/) {
    return multiaddr::tcp(boost::asio::ip::address_v4::loopback(), 0);
  }

  static bool accepts(const multiaddr& a) { return a.proto() == multiaddr::protocol::tcp; }

  /// Where a tree's registrar listens unless told otherwise (tractor's default).
  static multiaddr default_registry() { return multiaddr::tcp(boost::asio::ip::address_v4::loopback(), 1616); }

  /// Binds (SO_REUSEADDR) and listens; the listener's address carries the actual port.
  static result<listener> listen(const boost::asio::any_io_executor& ex, const multiaddr& a);

  /// Connects and sets TCP_NODELAY. Cancellation: interrupted at once (`operation_aborted`).
  static awaitable<result<stream_socket>> connect(const boost::asio::any_io_executor& ex,
                                                  const multiaddr& a);

  /// The runtime authenticates every TCP connection before its first message, both ends
  /// (the exchange above): `prove` on a socket it connected, `check` on one it accepted.
  ///
  /// Cancellation: interrupted at once (`operation_aborted`).
  static awaitable<result<void>> prove(stream_socket& s) { return auth::prove(s); }
  static awaitable<result<void>> check(stream_socket& s) { return auth::check(s); }
};

static_assert(transport<tcp>);

}  // namespace tractor::transport

#if TRACTOR_HEADER_ONLY
#include <tractor/transport/impl/cookie_exchange.ipp>
#include <tractor/transport/impl/tcp.ipp>
#endif
