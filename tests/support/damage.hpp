// tests/support/damage.hpp — packets damaged the way the spawn layer's fuzz tests damage
// them (a forkserver request, a pre-started child's boot): cut short, bytes flipped, or a
// size rewritten.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

namespace tractor::testing {

/// Where a packet's damage may fall: the five sizes (u32 each) of a handover head start at
/// `sizes_at`, and one is rewritten to at most `max_size`; the `spared` bytes at `spared_at`
/// are never flipped.
struct damage_plan {
  std::size_t sizes_at = 0;
  std::uint32_t max_size = UINT32_MAX;
  std::size_t spared_at = 0;
  std::size_t spared = 0;
};

/// `packet` (not empty) damaged in the `i`th of three ways: cut short, one to four bytes
/// flipped, or one of its sizes rewritten.
inline std::string damaged(std::string packet, int i, std::mt19937& random, const damage_plan& plan) {
  switch (i % 3) {
    case 0:
      packet.resize(random() % packet.size());
      break;
    case 1:
      for (int flips = 1 + static_cast<int>(random() % 4); flips > 0; --flips) {
        const std::size_t at = random() % packet.size();
        const auto flip = static_cast<char>(1 + random() % 255);
        if (at < plan.spared_at || at >= plan.spared_at + plan.spared) packet[at] ^= flip;
      }
      break;
    default: {
      const auto size = static_cast<std::uint32_t>(random() % (std::uint64_t{plan.max_size} + 1));
      std::memcpy(packet.data() + plan.sizes_at + (random() % 5) * sizeof size, &size, sizeof size);
    }
  }
  return packet;
}

}  // namespace tractor::testing
