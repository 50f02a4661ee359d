// tractor/core/capacity_limiter.hpp — at most N holders at once, first come first served
// (trio.CapacityLimiter).
//
//     tractor::capacity_limiter booting(8);
//     auto slot = co_await booting.acquire();   // waits while 8 others hold one
//     ...                                        // the slot is given back when `slot` goes
#pragma once

#include <tractor/core/detail/task_info.hpp>
#include <tractor/core/detail/waiter_list.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <utility>

namespace tractor {

/// Lends at most `total` slots at once. A freed slot goes to the longest waiter, never to a
/// newcomer, so a steady stream of acquirers cannot starve anyone.
class capacity_limiter {
 public:
  /// A borrowed slot; given back when destroyed.
  class slot {
   public:
    slot() = default;
    slot(slot&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)) {}
    slot& operator=(slot&& o) noexcept {
      if (this != &o) {
        reset();
        owner_ = std::exchange(o.owner_, nullptr);
      }
      return *this;
    }
    slot(const slot&) = delete;
    slot& operator=(const slot&) = delete;
    ~slot() { reset(); }
    /// Gives the slot back now.
    void reset() noexcept {
      if (auto* o = std::exchange(owner_, nullptr)) o->give_back();
    }

   private:
    friend class capacity_limiter;
    explicit slot(capacity_limiter* owner) : owner_(owner) {}
    capacity_limiter* owner_ = nullptr;
  };

  explicit capacity_limiter(std::size_t total) : total_(total == 0 ? 1 : total) {}
  capacity_limiter(const capacity_limiter&) = delete;
  capacity_limiter& operator=(const capacity_limiter&) = delete;

  /// Returns a slot once one is free (at once if one is and nobody waits).
  ///
  /// Cancellation: interrupted at once; no slot is held.
  boost::asio::awaitable<slot> acquire() {
    if (borrowed_ < total_ && waiters_.empty()) {
      ++borrowed_;
      co_return slot(this);
    }
    const detail::wait_note_scope note(detail::wait_note{.what = "a free slot of a capacity limiter"});
    // A waiter is woken only with a slot handed to it (`give_back` keeps it counted).
    co_await waiters_.async_wait(boost::asio::use_awaitable);
    co_return slot(this);
  }

  /// How many slots may be lent at once; raising it lets waiters in at once.
  void set_total(std::size_t total) {
    total_ = total == 0 ? 1 : total;
    while (borrowed_ < total_ && waiters_.notify_one()) ++borrowed_;
  }

  [[nodiscard]] std::size_t total() const noexcept { return total_; }
  [[nodiscard]] std::size_t borrowed() const noexcept { return borrowed_; }

 private:
  void give_back() noexcept {
    if (borrowed_ > total_ || !waiters_.notify_one()) --borrowed_;  // else it passed to a waiter
  }

  detail::waiter_list waiters_;
  std::size_t total_;
  std::size_t borrowed_ = 0;
};

}  // namespace tractor
