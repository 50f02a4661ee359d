// tractor/shm/detail/ring_parts.hpp — what every ring in shared memory does: copying into and
// out of its bytes, where a run may wrap around the end, and flagging a side that sleeps.
// Shared by the message ring (shm/ring.hpp) and the shared-memory transport's byte rings
// (transport/shm.hpp); and reading their settings from the environment.
#pragma once

#include <tractor/core/error.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace tractor::shm_detail {

/// The unsigned number in environment variable `name` (a ring's setting): `fallback` when it
/// is unset or empty; an error naming the variable and saying what it must be (`must_be`)
/// when it is not a decimal number or `valid` refuses it.
template <class Valid>
result<unsigned long long> number_from_env(const char* name, unsigned long long fallback, Valid valid,
                                           std::string_view must_be) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 10);
  if (*v < '0' || *v > '9' || *end != '\0' || !valid(n)) {
    return error(make_error_code(std::errc::invalid_argument),
                 std::string(name) + "=" + v + " is not " + std::string(must_be));
  }
  return n;
}

/// Copies `n` bytes from `from` into ring `base` of `capacity` bytes (a power of two), at
/// position `pos` (a count of bytes since the ring was made).
inline void ring_copy_in(std::byte* base, std::size_t capacity, std::uint64_t pos, const void* from,
                         std::size_t n) noexcept {
  if (n == 0) return;  // an empty message's bytes may be a null pointer
  const auto off = static_cast<std::size_t>(pos & (capacity - 1));
  const std::size_t first_part = n < capacity - off ? n : capacity - off;
  std::memcpy(base + off, from, first_part);
  std::memcpy(base, static_cast<const std::byte*>(from) + first_part, n - first_part);
}

/// Copies `n` bytes at position `pos` of ring `base` out to `to`.
inline void ring_copy_out(const std::byte* base, std::size_t capacity, std::uint64_t pos, void* to,
                          std::size_t n) noexcept {
  if (n == 0) return;
  const auto off = static_cast<std::size_t>(pos & (capacity - 1));
  const std::size_t first_part = n < capacity - off ? n : capacity - off;
  std::memcpy(to, base + off, first_part);
  std::memcpy(static_cast<std::byte*>(to) + first_part, base, n - first_part);
}

/// Says in shared memory that this side sleeps, for as long as it lives (however the wait
/// ends): the other side rings the doorbell only while the flag is set, and clears it as it
/// rings (one wakeup per sleep). The fence pairs with the other side's, between publishing its
/// index and reading the flag.
struct waiting_flag {
  std::atomic<std::uint32_t>& flag;
  explicit waiting_flag(std::atomic<std::uint32_t>& f) noexcept : flag(f) {
    flag.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  ~waiting_flag() { flag.store(0, std::memory_order_relaxed); }
  waiting_flag(const waiting_flag&) = delete;
  waiting_flag& operator=(const waiting_flag&) = delete;
};

}  // namespace tractor::shm_detail
