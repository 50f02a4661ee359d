// Definitions for tractor/transport/multiaddr.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/transport/multiaddr.hpp>

namespace tractor::transport {

// -- definitions -------------------------------------------------------------------------

TRACTOR_DECL result<multiaddr> multiaddr::parse(std::string_view text) {
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

TRACTOR_DECL std::string multiaddr::str() const {
  if (protocol_ == protocol::unix_socket) return "/unix" + path_;
  return (ip_.is_v4() ? "/ip4/" : "/ip6/") + ip_.to_string() + "/tcp/" + std::to_string(port_);
}

TRACTOR_DECL msg::wire_addr multiaddr::to_wire() const {
  if (protocol_ == protocol::tcp) return {ip_.to_string(), std::int64_t{port_}};
  const auto slash = path_.rfind('/');
  return {path_.substr(0, slash), path_.substr(slash + 1)};
}

TRACTOR_DECL result<multiaddr> multiaddr::from_wire(const msg::wire_addr& w) {
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
