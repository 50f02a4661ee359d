// tractor/shm/detail/look.hpp — how a side of a ring in shared memory (the shm transport's,
// shm_ring) looks again for a while before it sleeps. Waking a sleeping process on another
// CPU costs a system call on each side and the wakeup itself, often more than the peer takes
// to answer; a side that looks again for a few tens of microseconds while its peer works on
// another CPU catches most answers without sleeping. Private to transport/shm.hpp and
// shm/ring.hpp; tests drive it.
#pragma once

#include <tractor/core/error.hpp>
#include <tractor/shm/detail/ring_parts.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

#include <sched.h>

namespace tractor::shm_detail {

/// How long a side looks again: TRACTOR_SHM_SPIN_US microseconds, else 50; 0 never looks. An
/// invalid value is an error naming it.
inline result<std::chrono::microseconds> spin_from_env() {
  BOOST_OUTCOME_TRY(const auto us, number_from_env("TRACTOR_SHM_SPIN_US", 50, [](auto n) { return n <= 1'000'000; },
                                                   "a number of microseconds from 0 to 1000000"));
  return std::chrono::microseconds(us);
}

/// The CPU this thread runs on, plus one, as a side publishes it in its ring's shared header
/// (0: not known).
inline std::uint32_t cpu_tag() noexcept {
  const int cpu = ::sched_getcpu();
  return cpu < 0 ? 0 : static_cast<std::uint32_t>(cpu) + 1;
}

/// Notes this thread's CPU in `slot`, writing only when it changed (a ring's header keeps
/// both sides' slots on one cache line, which a store per message would bounce between them).
inline void note_cpu(std::atomic<std::uint32_t>& slot) noexcept {
  const std::uint32_t tag = cpu_tag();
  if (slot.load(std::memory_order_relaxed) != tag) slot.store(tag, std::memory_order_relaxed);
}

/// How long a look lasts within one turn of the event loop. A turn costs a system call (the
/// loop asks the kernel for I/O before it runs the next handler), about what the peer takes to
/// answer a short message; looking a few times that long between turns catches most answers
/// without one, and the loop's other work waits no longer than that.
inline constexpr std::chrono::microseconds look_slice{2};

/// Looks for `ready()` again and again for up to `window` (the caller has just looked): a busy
/// look of up to `look_slice` within the current turn of the event loop, then the same after
/// each turn, so that the loop's other work runs between slices and the thread is never
/// blocked for longer than one. True as soon as `ready()` holds; false once the window has
/// passed, and at once when looking cannot help: a window of 0, or a peer (its `cpu_tag` in
/// `peer_cpu`) that last worked on this thread's CPU, where it cannot make progress while this
/// side looks, or that was not seen working yet.
///
/// Cancellation: checked after each turn; the caller's cancellation is thrown there (also
/// where the caller turned Asio's own check off).
template <class Ready>
boost::asio::awaitable<bool> look_for(const std::atomic<std::uint32_t>& peer_cpu, std::chrono::microseconds window,
                                      Ready ready) {
  const std::uint32_t peer = peer_cpu.load(std::memory_order_relaxed);
  if (window.count() == 0 || peer == 0 || peer == cpu_tag()) co_return false;
  auto now = std::chrono::steady_clock::now();
  const auto until = now + window;
  const auto ex = co_await boost::asio::this_coro::executor;
  for (;;) {
    const auto slice_end = std::min(until, now + look_slice);
    do {
      if (ready()) co_return true;
      now = std::chrono::steady_clock::now();
    } while (now < slice_end);
    if (now >= until) co_return false;
    co_await boost::asio::post(ex, boost::asio::use_awaitable);
    const auto state = co_await boost::asio::this_coro::cancellation_state;
    throw_on_cancellation(state);
    now = std::chrono::steady_clock::now();
  }
}

}  // namespace tractor::shm_detail
