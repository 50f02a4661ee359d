// Definitions for tractor/runtime/identity.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/runtime/identity.hpp>

#include <boost/uuid/uuid.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <atomic>
#include <bit>
#include <cstring>

#include <pthread.h>
#include <sys/random.h>

namespace tractor::runtime {

namespace detail {
// Bumped in every forked child, so a generator inherited through fork() reseeds instead of
// repeating its parent's ids.
TRACTOR_DECL std::atomic<unsigned> fork_generation{0};
TRACTOR_DECL const bool fork_hook_installed =
    ::pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); }) == 0;
}  // namespace detail

TRACTOR_DECL std::string new_uuid() {
  struct generator {
    std::uint64_t s[4];
    unsigned generation = detail::fork_generation.load();
    generator() {
      std::uint64_t seed[2] = {};
      if (::getrandom(seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed)) {
        // No entropy source: time, thread and process still make the stream unique.
        seed[0] = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        seed[1] = (static_cast<std::uint64_t>(::getpid()) << 32) ^ reinterpret_cast<std::uintptr_t>(this);
      }
      std::uint64_t x = seed[0] ^ (seed[1] * 0x9e3779b97f4a7c15ULL);
      for (auto& w : s) {  // splitmix64: spreads the seed over the whole state
        x += 0x9e3779b97f4a7c15ULL;
        std::uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        w = z ^ (z >> 31);
      }
    }
    std::uint64_t next() noexcept {
      const std::uint64_t out = std::rotl(s[1] * 5, 7) * 9;
      const std::uint64_t t = s[1] << 17;
      s[2] ^= s[0];
      s[3] ^= s[1];
      s[1] ^= s[2];
      s[0] ^= s[3];
      s[2] ^= t;
      s[3] = std::rotl(s[3], 45);
      return out;
    }
  };
  static thread_local std::optional<generator> g;
  if (!g || g->generation != detail::fork_generation.load()) g.emplace();
  boost::uuids::uuid u;
  const std::uint64_t halves[2] = {g->next(), g->next()};
  std::memcpy(u.data, halves, sizeof halves);
  u.data[6] = static_cast<std::uint8_t>((u.data[6] & 0x0f) | 0x40);  // version 4
  u.data[8] = static_cast<std::uint8_t>((u.data[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return boost::uuids::to_string(u);
}

}  // namespace tractor::runtime
