// tractor/transport/tcp.hpp — TCP over IPv4 and IPv6, with TCP_NODELAY on every connection
// (actors exchange many small frames; Nagle's delay would add up to 40 ms to each).
#pragma once

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
};

static_assert(transport<tcp>);

// -- definitions -------------------------------------------------------------------------

inline result<listener> tcp::listen(const boost::asio::any_io_executor& ex, const multiaddr& a) {
  if (!accepts(a)) return detail::wrong_protocol(name, "listen on", a);
  const boost::asio::ip::tcp::endpoint ep(a.ip(), a.port());
  acceptor_socket acc(ex);
  boost::system::error_code ec;
  acc.open(boost::asio::generic::stream_protocol(ep.protocol().family(), IPPROTO_TCP), ec);
  if (!ec) acc.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return error(ec, "cannot listen on " + a.str() + ": " + ec.message());
  const auto bound = acc.local_endpoint(ec);
  if (ec) return error(ec, "cannot read the bound address: " + ec.message());
  const auto* sa = reinterpret_cast<const sockaddr*>(bound.data());
  const std::uint16_t port = ntohs(sa->sa_family == AF_INET6
                                       ? reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port
                                       : reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
  return listener(std::move(acc), multiaddr::tcp(a.ip(), port));
}

inline awaitable<result<stream_socket>> tcp::connect(const boost::asio::any_io_executor& ex,
                                                     const multiaddr& a) {
  if (!accepts(a)) co_return detail::wrong_protocol(name, "connect to", a);
  const boost::asio::ip::tcp::endpoint ep(a.ip(), a.port());
  auto sock = co_await detail::connect_socket(ex, ep, a);
  if (sock) {
    boost::system::error_code ignored;
    sock.value().set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  }
  co_return sock;
}

}  // namespace tractor::transport
