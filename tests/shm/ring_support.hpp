// Helpers of the shm ring tests (ring_test.cpp, ring_peer_test.cpp): keys no other test run
// uses, and message bytes that say where they came from.
#pragma once

#include <cstddef>
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

}  // namespace tractor::testing
