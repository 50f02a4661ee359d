// tests/support/silent_address.hpp — a TCP address where nothing answers, as a host that is
// down or a firewall that drops connections: the connecting side waits (the kernel retries
// for minutes) until something gives up.
#pragma once

#include <tractor/transport/multiaddr.hpp>

#include <gtest/gtest.h>

#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tractor::testing {

/// A loopback listener whose backlog (0) is already filled by one connection it never
/// accepts: the kernel drops every further connection's first packet. No root, no network
/// namespace.
class silent_address {
 public:
  silent_address() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    filler_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(listener_, 0), 0);
    EXPECT_EQ(::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    EXPECT_EQ(::connect(filler_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << "the one the backlog holds";
    addr_ = transport::multiaddr::parse("/ip4/127.0.0.1/tcp/" + std::to_string(ntohs(a.sin_port))).value();
  }
  ~silent_address() {
    ::close(filler_);
    ::close(listener_);
  }
  silent_address(const silent_address&) = delete;
  silent_address& operator=(const silent_address&) = delete;
  [[nodiscard]] const transport::multiaddr& addr() const { return addr_; }

 private:
  int listener_ = -1;
  int filler_ = -1;
  transport::multiaddr addr_;
};

}  // namespace tractor::testing
