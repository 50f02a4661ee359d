// The shared-memory transport's floor: a C-style single-producer single-consumer byte ring
// per direction in memory two processes share (mapped before the fork), with the transport's
// own wakeup rule (a side sleeps only after flagging it; the other sends one byte on a
// doorbell socket only then) but blocking reads on the doorbell: no event loop, no codec, no
// channel. What a program written by hand for this one job would do. Optionally, as the
// transport does, a side whose peer last worked on another CPU looks again for a while (a
// busy loop here) before it sleeps.
#pragma once

#include "tools/bench/bench_support.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <vector>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bench {

class spsc_floor {
 public:
  /// Two rings of `ring` bytes (a power of two) and their doorbells, each side looking again
  /// for up to `look` before it sleeps (0: never); call before forking.
  explicit spsc_floor(std::size_t ring, std::chrono::microseconds look = {}) : ring_(ring), look_(look) {
    base_ = ::mmap(nullptr, 2 * (page + ring), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (base_ == MAP_FAILED) std::abort();
    for (auto& b : bells_) {
      if (::socketpair(AF_UNIX, SOCK_STREAM, 0, b) != 0) std::abort();
    }
  }

  /// After the fork: the parent sends on ring 0 and receives on ring 1; the child the reverse.
  void take_side(bool parent) { side_ = parent ? 0 : 1; }

  void write_all(const char* p, std::size_t n) {
    const half h = at(side_);
    const int bell = bells_[side_][side_];
    while (n > 0) {
      const std::uint64_t last = h.c->last.load(std::memory_order_relaxed);
      const std::size_t room = ring_ - static_cast<std::size_t>(last - h.c->first.load(std::memory_order_acquire));
      if (room == 0) {
        if (looked(h.c->reader_cpu, [&] { return ring_ == last - h.c->first.load(std::memory_order_acquire); })) continue;
        sleep_while(h.c->writer_waiting, bell, [&] { return ring_ == last - h.c->first.load(std::memory_order_acquire); });
        continue;
      }
      const std::size_t k = n < room ? n : room;
      copy_in(h, last, p, k);
      h.c->writer_cpu.store(cpu_tag(), std::memory_order_relaxed);
      h.c->last.store(last + k, std::memory_order_release);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (h.c->reader_waiting.exchange(0, std::memory_order_relaxed)) ring(bell);
      p += k;
      n -= k;
    }
  }

  /// Reads what the ring holds, up to `n` bytes (at least one, sleeping while it is empty).
  std::size_t read_some(char* p, std::size_t n) {
    const int other = 1 - side_;
    const half h = at(other);
    const int bell = bells_[other][side_];
    for (;;) {
      const std::uint64_t first = h.c->first.load(std::memory_order_relaxed);
      const std::size_t held = static_cast<std::size_t>(h.c->last.load(std::memory_order_acquire) - first);
      if (held == 0) {
        if (looked(h.c->writer_cpu, [&] { return h.c->last.load(std::memory_order_acquire) == first; })) continue;
        sleep_while(h.c->reader_waiting, bell, [&] { return h.c->last.load(std::memory_order_acquire) == first; });
        continue;
      }
      const std::size_t k = n < held ? n : held;
      copy_out(h, first, p, k);
      h.c->reader_cpu.store(cpu_tag(), std::memory_order_relaxed);
      h.c->first.store(first + k, std::memory_order_release);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (h.c->writer_waiting.exchange(0, std::memory_order_relaxed)) ring(bell);
      return k;
    }
  }

  void read_all(char* p, std::size_t n) {
    while (n > 0) {
      const std::size_t k = read_some(p, n);
      p += k;
      n -= k;
    }
  }

 private:
  static constexpr std::size_t page = 4096;
  struct control {
    alignas(64) std::atomic<std::uint64_t> last;
    std::atomic<std::uint32_t> writer_waiting;
    std::atomic<std::uint32_t> writer_cpu;
    alignas(64) std::atomic<std::uint64_t> first;
    std::atomic<std::uint32_t> reader_waiting;
    std::atomic<std::uint32_t> reader_cpu;
  };
  static std::uint32_t cpu_tag() {
    const int cpu = ::sched_getcpu();
    return cpu < 0 ? 0 : static_cast<std::uint32_t>(cpu) + 1;
  }
  /// Busy-looks while `blocked()` for up to `look_`, if the peer (its last CPU in `peer`) works
  /// on another CPU; true if it stopped being blocked.
  template <class Blocked>
  bool looked(const std::atomic<std::uint32_t>& peer, Blocked blocked) const {
    const std::uint32_t p = peer.load(std::memory_order_relaxed);
    if (look_.count() == 0 || p == 0 || p == cpu_tag()) return false;
    const auto until = std::chrono::steady_clock::now() + look_;
    while (blocked()) {
      if (std::chrono::steady_clock::now() >= until) return false;
    }
    return true;
  }
  struct half {
    control* c;
    char* bytes;
  };
  half at(int ring) {
    char* b = static_cast<char*>(base_) + static_cast<std::size_t>(ring) * (page + ring_);
    return {reinterpret_cast<control*>(b), b + page};
  }
  void copy_in(const half& h, std::uint64_t pos, const char* p, std::size_t n) {
    const std::size_t off = pos & (ring_ - 1);
    const std::size_t first = n < ring_ - off ? n : ring_ - off;
    std::memcpy(h.bytes + off, p, first);
    std::memcpy(h.bytes, p + first, n - first);
  }
  void copy_out(const half& h, std::uint64_t pos, char* p, std::size_t n) {
    const std::size_t off = pos & (ring_ - 1);
    const std::size_t first = n < ring_ - off ? n : ring_ - off;
    std::memcpy(p, h.bytes + off, first);
    std::memcpy(p + first, h.bytes, n - first);
  }
  static void ring(int bell) {
    const char b = 1;
    (void)!::send(bell, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  /// Sleeps on `bell` if `blocked()` still holds once `flag` says so (the other side rings
  /// only while the flag is set).
  template <class Blocked>
  static void sleep_while(std::atomic<std::uint32_t>& flag, int bell, Blocked blocked) {
    flag.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (blocked()) sleep_on(bell);
    flag.store(0, std::memory_order_relaxed);
  }
  static void sleep_on(int bell) {
    char buf[64];
    if (::recv(bell, buf, sizeof buf, 0) <= 0) std::_Exit(20);
  }

  std::size_t ring_;
  std::chrono::microseconds look_;
  void* base_ = nullptr;
  int bells_[2][2] = {};  // per ring: [0] the parent's end, [1] the child's
  int side_ = 0;
};

/// `count` frames (a 4-byte length and `payload` bytes) from this process to a forked child
/// through rings of `ring` bytes, the child acknowledging the last: frames per second. Written
/// one frame at a time, or `batched` into 64 KiB writes (what a channel's writer does).
inline double spsc_one_way(std::size_t payload, long count, std::size_t ring, bool batched = false) {
  spsc_floor f(ring);
  const pid_t pid = ::fork();
  if (pid == 0) {
    f.take_side(false);
    receive_frames(
        count, [&f](char* p, std::size_t n) { return f.read_some(p, n); },
        [&f](char* p, std::size_t n) { f.read_all(p, n); });
    const char ack = 1;
    f.write_all(&ack, 1);
    std::_Exit(0);
  }
  f.take_side(true);
  std::string frame(4 + payload, 'p');
  const auto len = static_cast<std::uint32_t>(payload);
  std::memcpy(frame.data(), &len, sizeof len);
  std::string batch;
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    if (!batched) {
      f.write_all(frame.data(), frame.size());
      continue;
    }
    batch += frame;
    if (batch.size() >= (1 << 16)) {
      f.write_all(batch.data(), batch.size());
      batch.clear();
    }
  }
  if (!batch.empty()) f.write_all(batch.data(), batch.size());
  char ack = 0;
  f.read_all(&ack, 1);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::waitpid(pid, nullptr, 0);
  return static_cast<double>(count) / secs;
}

/// Round trips of a 32-byte frame with a forked child (on CPU `child_cpu` unless -1) through
/// rings of `ring` bytes, each side looking again for up to `look` before it sleeps:
/// microseconds each.
inline double spsc_round_trip_us(long count, std::size_t ring, std::chrono::microseconds look = {},
                                 int child_cpu = -1) {
  spsc_floor f(ring, look);
  std::string frame(4 + 32, 'p');
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (child_cpu >= 0) pin(child_cpu);
    f.take_side(false);
    for (long i = 0; i < count; ++i) {
      f.read_all(frame.data(), frame.size());
      f.write_all(frame.data(), frame.size());
    }
    std::_Exit(0);
  }
  f.take_side(true);
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    f.write_all(frame.data(), frame.size());
    f.read_all(frame.data(), frame.size());
  }
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(count);
  ::waitpid(pid, nullptr, 0);
  return us;
}

}  // namespace bench
