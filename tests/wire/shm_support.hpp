// What the shared-memory transport's wire tests share: fresh addresses, a connected pair of
// UNIX sockets to run handshakes on, and a count of this process's descriptors (every test
// ends with as many as it began with).
#pragma once

#include <tractor/transport/shm.hpp>

#include "tests/support/async_test.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>

namespace tractor::testing::shm_wire_tests {

inline std::size_t open_fds() {
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"), {}));
}

/// An address no other test uses.
inline transport::multiaddr fresh_addr() {
  static std::mt19937_64 rng(std::random_device{}());
  return transport::shm::bind_addr("shm-wire-" + std::to_string(rng() % 100000000));
}

/// Runs `body(client, server)` on a fresh connected pair of UNIX sockets (no handshake yet).
template <class Body>
void with_sockets(Body body) {
  run_async([&]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto l = transport::shm::listen(ex, fresh_addr());
    EXPECT_TRUE(l);
    if (!l) co_return;
    auto c = co_await transport::shm::connect(ex, l.value().address());
    auto s = co_await l.value().accept();
    EXPECT_TRUE(c && s);
    if (!c || !s) co_return;
    co_await body(c.value(), s.value());
  }());
}

}  // namespace tractor::testing::shm_wire_tests
