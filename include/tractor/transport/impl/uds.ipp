// Definitions for tractor/transport/uds.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/transport/uds.hpp>

#include <tractor/core/detail/process_identity.hpp>

namespace tractor::transport {

namespace detail {

/// "" in the host's pid namespace; otherwise "." and the namespace's inode. Pids repeat
/// across pid namespaces (containers, sandboxes) that may share one network namespace, so
/// there `name@pid` alone would collide.
TRACTOR_DECL const std::string& pid_namespace_tag() {
  static const std::string tag = [] {
    constexpr std::uint64_t host_pid_namespace = 0xEFFFFFFCU;  // the kernel's PROC_PID_INIT_INO
    const std::uint64_t ns = tractor::detail::own_pid_namespace();
    if (ns == 0 || ns == host_pid_namespace) return std::string();
    return "." + std::to_string(ns);
  }();
  return tag;
}

/// The most an abstract name may hold (`sun_path` less its leading NUL).
inline constexpr std::size_t max_name = sizeof(sockaddr_un::sun_path) - 1;

/// The abstract socket address of `a` (its name behind a NUL byte), or `bad_address` for a
/// name too long to hold.
TRACTOR_DECL result<boost::asio::local::stream_protocol::endpoint> abstract_endpoint(const multiaddr& a) {
  if (a.path().size() > max_name) {
    return error(make_error_code(wire_errc::bad_address), "socket name too long: " + a.path());
  }
  std::string name(1, '\0');
  name += a.path();
  return boost::asio::local::stream_protocol::endpoint(name);
}

}  // namespace detail

TRACTOR_DECL std::string uds::name_prefix() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  return (xdg && *xdg) ? std::string(xdg) + "/tractor" : "/tmp/tractor-" + std::to_string(::geteuid());
}

TRACTOR_DECL multiaddr uds::bind_addr_of(std::string_view actor_name, pid_t owner) {
  const std::string base = name_prefix();
  const std::string pid = std::to_string(owner) + detail::pid_namespace_tag();
  std::string path = base + "/" + std::string(actor_name) + "@" + pid;
  const bool unsafe = actor_name.empty() || actor_name.find('/') != std::string_view::npos ||
                      actor_name.find('\0') != std::string_view::npos;
  if (unsafe || path.size() > detail::max_name) {
    path = fmt::format("{}/actor.{:016x}@{}", base, std::hash<std::string_view>{}(actor_name), pid);
  }
  return multiaddr::unix_socket(std::move(path));
}

TRACTOR_DECL result<listener> uds::listen(const boost::asio::any_io_executor& ex, const multiaddr& a) {
  if (!accepts(a)) return detail::wrong_protocol(name, "listen on", a);
  BOOST_OUTCOME_TRY(auto ep, detail::abstract_endpoint(a));
  acceptor_socket acc(ex);
  boost::system::error_code ec;
  acc.open(boost::asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return error(ec, "cannot listen on " + a.str() + ": " + ec.message());
  return listener(std::move(acc), a);
}

TRACTOR_DECL awaitable<result<stream_socket>> uds::connect(const boost::asio::any_io_executor& ex,
                                                     const multiaddr& a) {
  if (!accepts(a)) co_return detail::wrong_protocol(name, "connect to", a);
  const auto ep = detail::abstract_endpoint(a);
  if (!ep) co_return ep.error();
  auto sock = co_await detail::connect_socket(ex, ep.value(), a);
  if (!sock) co_return sock.error();
  // The name is anyone's to bind: make sure the listener is one of ours.
  if (auto refused = detail::refuse_other_users(sock.value(), "the listener at", a)) {
    co_return *refused;
  }
  co_return std::move(sock).value();
}

}  // namespace tractor::transport
