// tractor/transport/detail/shm_layout.hpp — what the shared-memory transport's two sides
// agree on: the hello the connecting side sends and the layout of the memory it hands over
// (two control blocks in the first page, then ring 0, connecting to accepting side, and ring
// 1, back). Private to transport/shm.hpp; tests forge peers with it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tractor::transport::shm_wire {

/// One direction's indexes and sleep flags. Each index is written by the side its comment
/// names; a sleep flag is set by the side that sleeps, and cleared by the other as it rings the
/// doorbell (so a side that goes on reading or writing rings once per sleep, not per call).
/// The sender's and the receiver's halves sit on separate cache lines. Each side also notes
/// the CPU it last worked on (`cpu_tag`, shm/detail/look.hpp), which tells the other whether looking
/// again before it sleeps can help; a peer that never writes it is never waited for that way.
struct ring_control {
  alignas(64) std::atomic<std::uint64_t> last;  // the sender's
  std::atomic<std::uint32_t> writer_waiting;     // the sender's
  std::atomic<std::uint32_t> closed;             // either side's
  std::atomic<std::uint32_t> writer_cpu;         // the sender's
  alignas(64) std::atomic<std::uint64_t> first;  // the receiver's
  std::atomic<std::uint32_t> reader_waiting;     // the receiver's
  std::atomic<std::uint32_t> reader_cpu;         // the receiver's
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

/// Where the bytes start: the control blocks fill the first page.
inline constexpr std::size_t data_offset = 4096;
static_assert(2 * sizeof(ring_control) <= data_offset);

inline constexpr std::size_t min_ring = 4096;
inline constexpr std::size_t max_ring = std::size_t{1} << 30;

/// What the connecting side sends, with the memfd and the peer's two doorbell ends.
struct hello {
  std::uint64_t magic;
  std::uint64_t ring_bytes;
};
inline constexpr std::uint64_t hello_magic = 0x0173'6d68'7374'7274ULL;  // "trtshms\x01"
inline constexpr std::size_t hello_fds = 3;                             // memory, then doorbells c2a, a2c
inline constexpr unsigned char accepted = 'k';

inline std::size_t memory_bytes(std::size_t ring) { return data_offset + 2 * ring; }

}  // namespace tractor::transport::shm_wire
