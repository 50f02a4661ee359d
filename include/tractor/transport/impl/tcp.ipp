// Definitions for tractor/transport/tcp.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/transport/tcp.hpp>

namespace tractor::transport {

// -- definitions -------------------------------------------------------------------------

TRACTOR_DECL result<listener> tcp::listen(const boost::asio::any_io_executor& ex, const multiaddr& a) {
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

TRACTOR_DECL awaitable<result<stream_socket>> tcp::connect(const boost::asio::any_io_executor& ex,
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
