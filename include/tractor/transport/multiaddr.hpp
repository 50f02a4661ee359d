// tractor/transport/multiaddr.hpp — actor addresses, written as multiaddrs.
//
//     auto a = tractor::transport::multiaddr::parse("/ip4/127.0.0.1/tcp/1616");
//     auto u = tractor::transport::multiaddr::parse("/unix/run/user/1000/tractor/x@42");
//     fmt::print("{}\n", a.value().str());   // "/ip4/127.0.0.1/tcp/1616"
//
// Three forms are understood: `/ip4/<addr>/tcp/<port>`, `/ip6/<addr>/tcp/<port>` and
// `/unix/<absolute path without its leading slash>`. Hosts are IP literals (no DNS names).
// Anything else is `wire_errc::bad_address` (does not parse) or
// `wire_errc::unsupported_address` (parses, but is a protocol we do not speak, like `/udp/`).
#pragma once

#include <tractor/msg/types.hpp>
#include <tractor/msg/wire_error.hpp>

#include <boost/asio/ip/address.hpp>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tractor::transport {

class multiaddr {
 public:
  enum class protocol { tcp, unix_socket };

  /// Parses a multiaddr; see the file comment for the accepted forms.
  [[nodiscard]] static result<multiaddr> parse(std::string_view text);

  /// A TCP address; `port` 0 asks the OS to choose when listening.
  [[nodiscard]] static multiaddr tcp(boost::asio::ip::address host, std::uint16_t port) {
    multiaddr a;
    a.protocol_ = protocol::tcp;
    a.ip_ = host;
    a.port_ = port;
    return a;
  }

  /// A UNIX-domain socket address (an absolute path).
  [[nodiscard]] static multiaddr unix_socket(std::string path) {
    multiaddr a;
    a.protocol_ = protocol::unix_socket;
    a.path_ = std::move(path);
    return a;
  }

  [[nodiscard]] protocol proto() const noexcept { return protocol_; }
  [[nodiscard]] const boost::asio::ip::address& ip() const noexcept { return ip_; }
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  /// The multiaddr text, which `parse` reads back to an equal address.
  [[nodiscard]] std::string str() const;

  /// tractor's unwrapped wire form: TCP (host, port), UDS (dir, file name).
  [[nodiscard]] msg::wire_addr to_wire() const;
  [[nodiscard]] static result<multiaddr> from_wire(const msg::wire_addr& w);

  friend bool operator==(const multiaddr&, const multiaddr&) = default;

 private:
  protocol protocol_ = protocol::tcp;
  boost::asio::ip::address ip_;
  std::uint16_t port_ = 0;
  std::string path_;
};

// -- definitions -------------------------------------------------------------------------

inline result<multiaddr> multiaddr::parse(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return error(make_error_code(wire_errc::bad_address),
                 "bad multiaddr '" + std::string(text.substr(0, 200)) + "': " + std::string(why));
  };
  if (text.empty() || text.front() != '/') return bad("must start with '/'");
  std::vector<std::string_view> parts;
  for (std::size_t at = 1; at <= text.size();) {
    std::size_t next = text.find('/', at);
    if (next == std::string_view::npos) next = text.size();
    parts.push_back(text.substr(at, next - at));
    at = next + 1;
    if (parts.front() == "unix") {  // the rest is the path, slashes and all
      parts.push_back(at <= text.size() ? text.substr(at) : std::string_view{});
      break;
    }
  }
  if (parts.front() == "unix") {
    if (parts.size() < 2 || parts[1].empty()) return bad("missing socket path");
    if (parts[1].find('\0') != std::string_view::npos) return bad("NUL in socket path");
    return unix_socket("/" + std::string(parts[1]));
  }
  if (parts.front() == "ip4" || parts.front() == "ip6") {
    if (parts.size() != 4) return bad("expected /ip4|ip6/<host>/tcp/<port>");
    boost::system::error_code ec;
    auto ip = boost::asio::ip::make_address(std::string(parts[1]), ec);
    if (ec || (parts.front() == "ip4") != ip.is_v4()) return bad("not an IP literal of that family");
    if (parts[2] != "tcp") {
      return error(make_error_code(wire_errc::unsupported_address),
                   "unsupported multiaddr '" + std::string(text) + "': only tcp over ip4/ip6");
    }
    unsigned port = 0;
    auto [end, perr] = std::from_chars(parts[3].data(), parts[3].data() + parts[3].size(), port);
    if (perr != std::errc{} || end != parts[3].data() + parts[3].size() || port > 65535) {
      return bad("port is not a number from 0 to 65535");
    }
    return tcp(ip, static_cast<std::uint16_t>(port));
  }
  if (parts.front() == "udp" || parts.front() == "dns" || parts.front() == "dns4" ||
      parts.front() == "dns6" || parts.front() == "quic") {
    return error(make_error_code(wire_errc::unsupported_address),
                 "unsupported multiaddr '" + std::string(text) + "'");
  }
  return bad("unknown protocol '" + std::string(parts.front().substr(0, 32)) + "'");
}

inline std::string multiaddr::str() const {
  if (protocol_ == protocol::unix_socket) return "/unix" + path_;
  return (ip_.is_v4() ? "/ip4/" : "/ip6/") + ip_.to_string() + "/tcp/" + std::to_string(port_);
}

inline msg::wire_addr multiaddr::to_wire() const {
  if (protocol_ == protocol::tcp) return {ip_.to_string(), std::int64_t{port_}};
  const auto slash = path_.rfind('/');
  return {path_.substr(0, slash), path_.substr(slash + 1)};
}

inline result<multiaddr> multiaddr::from_wire(const msg::wire_addr& w) {
  if (const auto* port = std::get_if<std::int64_t>(&w.second)) {
    boost::system::error_code ec;
    auto ip = boost::asio::ip::make_address(w.first, ec);
    if (ec || *port < 0 || *port > 65535) {
      return error(make_error_code(wire_errc::bad_address), "bad TCP wire address " + w.first);
    }
    return tcp(ip, static_cast<std::uint16_t>(*port));
  }
  return unix_socket(w.first + "/" + std::get<std::string>(w.second));
}

}  // namespace tractor::transport
