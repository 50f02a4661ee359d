// Definitions for tractor/transport/transport.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/transport/transport.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

namespace tractor::transport {

namespace detail {

TRACTOR_DECL std::optional<error> refuse_other_users(stream_socket& s, std::string_view role, const multiaddr& a) {
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (::getsockopt(s.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    const boost::system::error_code ec(errno, boost::system::system_category());
    return error(ec, fmt::format("cannot check the credentials of {} {}: {}", role, a.str(), ec.message()));
  }
  if (cred.uid == ::geteuid()) return std::nullopt;
  return error(make_error_code(boost::system::errc::permission_denied),
               fmt::format("refused {} {}: it runs as uid {}, not as this user (uid {})", role, a.str(),
                           cred.uid, ::geteuid()));
}

TRACTOR_DECL error wrong_protocol(std::string_view transport, std::string_view op, const multiaddr& a) {
  return error(make_error_code(wire_errc::unsupported_address),
               std::string(transport) + " cannot " + std::string(op) + " " + a.str());
}

}  // namespace detail

TRACTOR_DECL awaitable<result<stream_socket>> listener::accept() {
  auto [ec, sock] = co_await acceptor_.async_accept(
      boost::asio::as_tuple(boost::asio::use_awaitable));
  if (ec == boost::asio::error::operation_aborted && acceptor_.is_open()) throw_cancelled();
  if (ec) co_return detail::socket_error(ec, "accept on " + address_.str());
  if (address_.proto() == multiaddr::protocol::tcp) {
    boost::system::error_code ignored;
    sock.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  } else if (auto refused = detail::refuse_other_users(sock, "a connection to", address_)) {
    co_return *refused;  // closed with `sock`
  }
  co_return std::move(sock);
}

TRACTOR_DECL result<stream_socket> adopt_local(const boost::asio::any_io_executor& ex, int fd) {
  stream_socket s(ex);
  boost::system::error_code ec;
  s.assign(boost::asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM), fd, ec);
  if (ec) {
    ::close(fd);
    return error(ec, "cannot adopt the channel to the parent: " + ec.message());
  }
  s.non_blocking(true, ec);  // now (a spare: while nobody waits), not by the first send
  return s;
}

TRACTOR_DECL result<std::pair<stream_socket, int>> local_pair(const boost::asio::any_io_executor& ex) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    const boost::system::error_code ec(errno, boost::system::system_category());
    return error(ec, "socketpair: " + ec.message());
  }
  auto ours = adopt_local(ex, sv[0]);
  if (!ours) {
    ::close(sv[1]);
    return ours.error();
  }
  return std::pair<stream_socket, int>(std::move(ours).value(), sv[1]);
}

TRACTOR_DECL void listener::close() noexcept {
  if (!acceptor_.is_open()) return;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

TRACTOR_DECL std::string peer_of(const stream_socket& s) {
  boost::system::error_code ec;
  const auto ep = s.remote_endpoint(ec);
  if (ec) return "an unknown peer";
  const auto* sa = reinterpret_cast<const sockaddr*>(ep.data());
  char text[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "a local peer";
}

}  // namespace tractor::transport
