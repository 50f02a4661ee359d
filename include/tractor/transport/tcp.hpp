// tractor/transport/tcp.hpp — TCP over IPv4 and IPv6, with TCP_NODELAY on every connection
// (actors exchange many small frames; Nagle's delay would add up to 40 ms to each).
#pragma once

#include <tractor/config.hpp>

#include <tractor/transport/auth.hpp>
#include <tractor/transport/transport.hpp>

#include <boost/asio/ip/tcp.hpp>

namespace tractor::transport {

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
  /// (see transport/auth.hpp): `prove` on a socket it connected, `check` on one it accepted.
  ///
  /// Cancellation: interrupted at once (`operation_aborted`).
  static awaitable<result<void>> prove(stream_socket& s) { return auth::prove(s); }
  static awaitable<result<void>> check(stream_socket& s) { return auth::check(s); }
};

static_assert(transport<tcp>);

}  // namespace tractor::transport

#if TRACTOR_HEADER_ONLY
#include <tractor/transport/impl/tcp.ipp>
#endif
