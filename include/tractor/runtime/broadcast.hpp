// tractor/runtime/broadcast.hpp — one stream, several local readers (tractor's
// `MsgStream.subscribe()` and its broadcast receiver).
//
// Every subscriber sees every item received after it subscribed. There is no extra task:
// whichever subscriber finds nothing new pulls the next item from the stream for all of
// them, so the fastest reader sets the pace and never falls behind. The broadcast keeps the
// last `max_lag` items; a subscriber further behind than that gets `runtime_errc::lagged` once (the
// items it missed are skipped) and goes on with the oldest kept item. A subscriber that is
// cancelled, or stops reading, holds nobody up.
//
//     tractor::broadcast<int> fan(stream.value(), 64);
//     auto a = fan.subscribe(), b = fan.subscribe();   // each: co_await a.receive()
#pragma once

#include <tractor/core/detail/task_info.hpp>
#include <tractor/core/detail/waiter_list.hpp>
#include <tractor/runtime/context.hpp>

#include <cstdint>
#include <deque>

namespace tractor {

template <class Y>
class broadcast {
 public:
  /// Fans out `source` (which must outlive this), keeping the last `max_lag` items.
  explicit broadcast(msg_stream<Y>& source, std::size_t max_lag = 64)
      : source_(source), max_lag_(max_lag == 0 ? 1 : max_lag) {}
  broadcast(const broadcast&) = delete;
  broadcast& operator=(const broadcast&) = delete;

  class subscriber {
   public:
    /// The next item; `runtime_errc::lagged` once after falling too far behind; at the stream's
    /// end, what the stream's own `receive` said (`errc::end_of_channel` or its error),
    /// on this and every later call.
    ///
    /// Cancellation: interrupted at once; nothing is lost for this or any other subscriber
    /// (an item being pulled when cancelled stays in the stream for the next puller).
    awaitable<result<Y>> receive();

   private:
    friend class broadcast;
    subscriber(broadcast& b, std::uint64_t next) : b_(&b), next_(next) {}
    broadcast* b_;
    std::uint64_t next_;
  };

  /// A new subscriber, starting with the next item the stream delivers.
  subscriber subscribe() { return subscriber(*this, base_ + history_.size()); }

 private:
  msg_stream<Y>& source_;
  std::size_t max_lag_;
  std::deque<Y> history_;   // the last items, oldest first
  std::uint64_t base_ = 0;  // the sequence number of history_.front()
  bool pulling_ = false;
  std::optional<error> end_;
  detail::waiter_list waiters_;
};

template <class Y>
awaitable<result<Y>> broadcast<Y>::subscriber::receive() {
  broadcast& b = *b_;
  for (;;) {
    if (next_ < b.base_) {
      const auto missed = b.base_ - next_;
      next_ = b.base_;
      co_return error(make_error_code(runtime_errc::lagged),
                      "subscriber lagged " + std::to_string(missed) + " items behind (the broadcast keeps " +
                          std::to_string(b.max_lag_) + ")");
    }
    if (next_ < b.base_ + b.history_.size()) co_return b.history_[next_++ - b.base_];
    if (b.end_) co_return *b.end_;
    if (b.pulling_) {
      const tractor::detail::wait_note_scope note(
          tractor::detail::wait_note{.what = "a broadcast item another subscriber is receiving"});
      co_await b.waiters_.async_wait(boost::asio::use_awaitable);
      continue;
    }
    // Nothing new and nobody fetching: this subscriber pulls for everyone. However the
    // pull ends (even cancelled), the others are woken to look again.
    b.pulling_ = true;
    struct wake {
      broadcast& b;
      ~wake() {
        b.pulling_ = false;
        b.waiters_.notify_all();
      }
    } on_exit{b};
    auto item = co_await b.source_.receive();
    if (!item) {
      b.end_ = item.error();
      continue;
    }
    b.history_.push_back(std::move(item).value());
    if (b.history_.size() > b.max_lag_) {
      b.history_.pop_front();
      ++b.base_;
    }
  }
}

}  // namespace tractor
