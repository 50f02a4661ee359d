// Helpers of the shm ring tests (ring_test.cpp, ring_peer_test.cpp): keys no other test run
// uses, message bytes that say where they came from, a receive cancelled while it waits, and
// rings that never look before they sleep.
#pragma once

#include <tractor/core.hpp>
#include <tractor/shm.hpp>

#include <cstddef>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace tractor::testing {

/// `what` and a random number: a segment name of this run alone.
inline std::string unique_key(const std::string& what) {
  static std::mt19937_64 rng(std::random_device{}());
  return what + "-" + std::to_string(rng() % 1000000000);
}

/// `n` bytes, the k-th being (seed + k) mod 251.
inline std::vector<std::byte> pattern(std::size_t n, std::size_t seed) {
  std::vector<std::byte> v(n);
  for (std::size_t k = 0; k < n; ++k) v[k] = std::byte(static_cast<unsigned char>((seed + k) % 251));
  return v;
}

/// Starts a receive on `ring`, lets it wait, and cancels it: whether it returned anyway (it
/// must not, nothing having been sent).
inline awaitable<result<bool>> receive_cancelled_while_waiting(shm_ring& ring) {
  bool returned = false;
  auto outcome = co_await open_nursery([&](nursery& n) -> awaitable<void> {
    n.start_soon("receiver", [&]() -> awaitable<void> {
      auto got = co_await ring.receive();
      returned = true;
      (void)got;
    });
    co_await checkpoint();
    n.cancel();
    co_return;
  });
  if (!outcome) co_return outcome.error();
  co_return returned;
}

/// TRACTOR_SHM_SPIN_US=0 for its lifetime (rings opened meanwhile sleep at every wait).
struct rings_never_look {
  rings_never_look() { ::setenv("TRACTOR_SHM_SPIN_US", "0", 1); }
  ~rings_never_look() { ::unsetenv("TRACTOR_SHM_SPIN_US"); }
  rings_never_look(const rings_never_look&) = delete;
  rings_never_look& operator=(const rings_never_look&) = delete;
};

}  // namespace tractor::testing
