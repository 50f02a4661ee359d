// What the secure-session tests (tls, shm) send through a pair of channels to prove a session
// carries everything: patterned payloads, numbered small messages, then a large one.
#pragma once

#include <tractor/core/nursery.hpp>
#include <tractor/transport/channel.hpp>

#include <gtest/gtest.h>

#include <string>

namespace tractor::testing::traffic {

/// `n` bytes that differ with `seed` and position (a shifted or lost byte shows).
inline std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) & 0xff);
  return s;
}

/// 200 numbered messages of 100 to 299 bytes, then one of `large` bytes (sent from a task of
/// its own while the receiver reads, so a writer that waits for room is exercised), from `from`
/// to `to`, each checked on arrival.
inline awaitable<void> numbered_then_large(transport::channel& from, transport::channel& to, std::size_t large) {
  namespace m = tractor::msg;
  m::msg big = m::Yield{"big", m::raw_pld{pattern(large, 7)}};
  (void)co_await open_nursery([&](nursery& n) -> awaitable<void> {
    n.start_soon("sender", [&]() -> awaitable<void> {
      for (unsigned i = 0; i < 200; ++i) {
        m::msg y = m::Yield{std::to_string(i), m::raw_pld{pattern(100 + i, i)}};
        auto sent = co_await from.send(std::move(y));
        EXPECT_TRUE(sent) << sent.error().message();
      }
      auto sent = co_await from.send(std::move(big));
      EXPECT_TRUE(sent) << sent.error().message();
    });
    for (unsigned i = 0; i < 200; ++i) {
      auto got = co_await to.receive();
      EXPECT_TRUE(got);
      if (!got) co_return;
      const auto& y = std::get<m::Yield>(got.value());
      EXPECT_EQ(y.cid, std::to_string(i));
      EXPECT_EQ(y.pld.bytes, pattern(100 + i, i));
    }
    auto got = co_await to.receive();
    EXPECT_TRUE(got);
    if (got) {
      EXPECT_EQ(std::get<m::Yield>(got.value()).pld.bytes, pattern(large, 7));
    }
  });
}

}  // namespace tractor::testing::traffic
