// tractor/core/event.hpp — a one-shot event (trio.Event).
//
//     tractor::event ready;
//     n.start_soon(waiter(ready));   // co_await ready.wait();
//     ready.set();                   // wakes every waiter, now and later
#pragma once

#include <tractor/core/detail/task_info.hpp>
#include <tractor/core/detail/waiter_list.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tractor {

/// A flag that tasks can wait for. Once set it stays set.
class event {
 public:
  event() = default;
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  /// Sets the event and wakes every waiter. Idempotent.
  void set() {
    if (set_) return;
    set_ = true;
    waiters_.notify_all();
  }

  [[nodiscard]] bool is_set() const noexcept { return set_; }

  /// Returns once the event is set (at once if it already is).
  ///
  /// Cancellation: interrupted at once (`operation_aborted`); the event is unaffected.
  boost::asio::awaitable<void> wait() {
    if (set_) co_return;
    const detail::wait_note_scope note(detail::wait_note{.what = "an event"});
    co_await waiters_.async_wait(boost::asio::use_awaitable);
  }

 private:
  detail::waiter_list waiters_;
  bool set_ = false;
};

}  // namespace tractor
