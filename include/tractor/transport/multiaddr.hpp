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

#include <tractor/config.hpp>

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

}  // namespace tractor::transport

#if TRACTOR_HEADER_ONLY
#include <tractor/transport/impl/multiaddr.ipp>
#endif
