// tractor/core/memory_channel.hpp — a bounded in-memory channel between tasks
// (trio.open_memory_channel).
//
//     tractor::memory_channel<int> ch(16);                 // up to 16 items buffered
//     n.start_soon(producer(ch));   // co_await ch.send(i); ... ch.close();
//     while (auto item = co_await ch.receive()) use(*item);
//     // the loop ends with errc::end_of_channel once closed and drained
//
// Back-pressure: `send` waits while the buffer is full. A capacity of 0 makes every `send`
// a rendezvous with a `receive`. Items are received in the order they were sent, and a
// cancelled `send` withdraws its item: nothing is half-delivered.
#pragma once

#include <tractor/core/detail/ring.hpp>
#include <tractor/core/detail/task_info.hpp>
#include <tractor/core/detail/waiter_list.hpp>
#include <tractor/core/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <list>
#include <string>
#include <optional>

namespace tractor {

/// A bounded multi-producer, multi-consumer channel of `T` for tasks on one executor.
template <class T>
class memory_channel {
 public:
  /// A channel buffering up to `capacity` items (0: unbuffered rendezvous). `name`, if
  /// given, says which channel a task waits on in task-tree dumps.
  explicit memory_channel(std::size_t capacity, std::string name = {})
      : capacity_(capacity), name_(std::move(name)) {}
  memory_channel(const memory_channel&) = delete;
  memory_channel& operator=(const memory_channel&) = delete;

  /// Sends `value`, waiting while the buffer is full. Fails with `errc::channel_closed` if
  /// the channel is closed before the value is accepted.
  ///
  /// Cancellation: interrupted at once (`operation_aborted`); the value is withdrawn, never
  /// delivered later.
  boost::asio::awaitable<result<void>> send(T value);

  /// Sends without waiting: `errc::would_block` when full (the value is dropped),
  /// `errc::channel_closed` when closed.
  result<void> try_send(T value);

  /// As `try_send`, the item made in place from `args` (nothing is made when it would be
  /// dropped).
  template <class... Args>
  result<void> try_emplace(Args&&... args) {
    if (closed_) return errc::channel_closed;
    if (buffer_.size() >= capacity_) return errc::would_block;
    buffer_.emplace_back(std::forward<Args>(args)...);
    receivers_.notify_all();
    return success();
  }

  /// Queues `value` even when the buffer is full (for what must never be dropped, such as a
  /// protocol's control messages). `errc::channel_closed` when closed.
  result<void> push_over(T value) {
    if (closed_) return errc::channel_closed;
    buffer_.push_back(std::move(value));
    receivers_.notify_all();
    return success();
  }

  /// Receives the oldest item, waiting while there is none. Fails with
  /// `errc::end_of_channel` once the channel is closed and drained (and on every later call).
  ///
  /// Cancellation: interrupted at once (`operation_aborted`); no item is consumed.
  boost::asio::awaitable<result<T>> receive();

  /// Receives without waiting: `errc::would_block` when empty, `errc::end_of_channel` when
  /// closed and drained.
  result<T> try_receive();

  /// As `try_receive`, the item moved into `into` (which keeps it on success only).
  result<void> try_receive(T& into);

  /// Closes the sending side: buffered items can still be received, then receivers get
  /// `errc::end_of_channel`; blocked and later senders get `errc::channel_closed`. Idempotent.
  void close();

  /// Changes the capacity; growing it moves waiting senders' items into the buffer.
  void set_capacity(std::size_t capacity) {
    capacity_ = capacity;
    while (buffer_.size() < capacity_) {
      auto next = take_pending();
      if (!next) break;
      buffer_.push_back(std::move(*next));
    }
  }

  [[nodiscard]] bool closed() const noexcept { return closed_; }
  /// Items buffered now (not counting blocked senders).
  [[nodiscard]] std::size_t size() const noexcept { return buffer_.size(); }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  // A sender waiting for room; its item stays in its own frame until a receiver takes it.
  struct pending_send {
    explicit pending_send(T* v) : value(v) {}
    T* value;
    bool taken = false;
    bool queued = true;  // still in pending_ (whoever removes it clears this)
    detail::waiter_list waiter;
  };

  std::optional<T> take_pending();
  /// A task-tree dump's view of a wait on this channel: how full it is.
  static void describe(const void* self, std::string& out) {
    const auto* ch = static_cast<const memory_channel*>(self);
    if (!ch->name_.empty()) out.append("'").append(ch->name_).append("' ");
    out += "(holding " + std::to_string(ch->buffer_.size()) + " of " + std::to_string(ch->capacity_) + ", " +
           std::to_string(ch->pending_.size()) + " sender(s) waiting" + (ch->closed_ ? ", closed)" : ")");
  }

  std::size_t capacity_;
  std::string name_;
  detail::ring<T> buffer_;
  std::list<pending_send*> pending_;
  detail::waiter_list receivers_;
  bool closed_ = false;
};

// -- definitions -------------------------------------------------------------------------

template <class T>
std::optional<T> memory_channel<T>::take_pending() {
  if (pending_.empty()) return std::nullopt;
  pending_send* p = pending_.front();
  pending_.pop_front();
  p->queued = false;
  p->taken = true;
  std::optional<T> v(std::move(*p->value));
  p->waiter.notify_all();
  return v;
}

template <class T>
result<void> memory_channel<T>::try_send(T value) {
  if (closed_) return errc::channel_closed;
  if (buffer_.size() >= capacity_) return errc::would_block;
  buffer_.push_back(std::move(value));
  // Every receiver re-checks: one that was woken but cancelled before it ran must not
  // leave the item unannounced to the others.
  receivers_.notify_all();
  return success();
}

template <class T>
boost::asio::awaitable<result<void>> memory_channel<T>::send(T value) {
  if (closed_) co_return errc::channel_closed;
  if (buffer_.size() < capacity_ && pending_.empty()) co_return try_send(std::move(value));

  pending_send p(&value);
  auto it = pending_.insert(pending_.end(), &p);
  receivers_.notify_all();
  const detail::wait_note_scope note(
      detail::wait_note{.what = "send on a memory channel", .detail = &describe, .subject = this});
  auto [ec] = co_await p.waiter.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  if (p.taken) co_return success();
  if (p.queued) pending_.erase(it);
  if (ec == boost::asio::error::operation_aborted) throw_cancelled();
  co_return errc::channel_closed;
}

template <class T>
result<T> memory_channel<T>::try_receive() {
  if (!buffer_.empty()) {
    T v = buffer_.pop_front();
    // Room freed: the longest-waiting sender's item moves into the buffer.
    if (auto next = take_pending()) buffer_.push_back(std::move(*next));
    return v;
  }
  if (auto direct = take_pending()) return std::move(*direct);  // rendezvous
  if (closed_) return errc::end_of_channel;
  return errc::would_block;
}

template <class T>
result<void> memory_channel<T>::try_receive(T& into) {
  if (buffer_.empty()) {
    auto r = try_receive();  // a rendezvous, the end, or nothing
    if (!r) return std::move(r).error();
    into = std::move(r).value();
    return success();
  }
  buffer_.pop_front_into(into);
  if (auto next = take_pending()) buffer_.push_back(std::move(*next));
  return success();
}

template <class T>
boost::asio::awaitable<result<T>> memory_channel<T>::receive() {
  for (;;) {
    auto r = try_receive();
    if (r || r.error() != errc::would_block) co_return r;
    const detail::wait_note_scope note(
        detail::wait_note{.what = "receive on a memory channel", .detail = &describe, .subject = this});
    co_await receivers_.async_wait(boost::asio::use_awaitable);
  }
}

template <class T>
void memory_channel<T>::close() {
  if (closed_) return;
  closed_ = true;
  // Senders still blocked lose their items (they get channel_closed); buffered ones stay.
  while (!pending_.empty()) {
    pending_send* p = pending_.front();
    pending_.pop_front();
    p->queued = false;
    p->waiter.notify_all(errc::channel_closed);
  }
  receivers_.notify_all();
}

}  // namespace tractor
