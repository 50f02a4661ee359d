// tractor/shm/ring.hpp — a single-producer single-consumer ring of messages in shared memory
// (tractor's `open_ringbuf`), with waits on the actor's loop.
//
//     auto ring = tractor::open_shm_ring(ex, "frames", 1 << 20);    // the owner
//     co_await other.run<&consume>(ring.value().token());           // hand it on
//     // the consumer: auto r = tractor::attach_shm_ring(ex, token);
//     while (auto m = co_await r.value().receive()) use(m.value());  // until end_of_channel
//
// One actor sends, one receives (either may be the owner). A message is a length and its
// bytes, kept whole: a receive gets exactly what one send sent. Sending waits while the ring
// has no room, receiving while it is empty; each side sleeps only after saying so in the
// ring's header, and the other side rings its doorbell only then, so a busy ring makes no
// system call per message.
//
// Doorbells are two FIFOs beside the segment (`<name>.data`, `<name>.room` in /dev/shm), not
// eventfds: an eventfd can reach another process only as a descriptor passed over a socket,
// while a FIFO is opened by name, like the segment, by any process of the user on the host
// (a token that travels over TCP is enough). The owner unlinks the segment and both FIFOs.
//
// Before it sleeps, a side whose peer last worked on another CPU looks again for up to
// `TRACTOR_SHM_SPIN_US` microseconds (50 unless set; 0: never), a few microseconds at a time
// between turns of its event loop, as the shm transport does (transport/shm.hpp): a peer that
// answers within that time is not woken or waited for.
//
// A side that waits for the other notices when the other's process ends (it watches a pidfd
// of the process that last said it sends, or receives, in the ring's header): a receiver then
// gets every message the sender had finished, then `shm_errc::peer_gone`; a sender, the same
// error at once. (Within one process, as between thread actors, there is no process to watch.)
//
// A ring's header is shared memory another process can write: every position read from it
// is checked (a length or fill beyond the ring is `not_a_segment`, "ring corrupted"), and no
// read or write goes outside the segment whatever it holds.
#pragma once

#include <tractor/config.hpp>
#include <tractor/shm/segment.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tractor {

class shm_ring {
 public:
  shm_ring(shm_ring&&) noexcept = default;
  shm_ring& operator=(shm_ring&&) noexcept = default;
  ~shm_ring();

  /// Sends `message` whole, waiting while there is no room. `no_room` if it could never fit
  /// (`max_message()`), `errc::channel_closed` once either side closed the ring,
  /// `shm_errc::peer_gone` if the receiving process ended while this waited for room.
  ///
  /// Cancellation: interrupted at once; nothing of the message was sent.
  boost::asio::awaitable<result<void>> send(std::span<const std::byte> message);

  /// As `send` without waiting: `errc::would_block` when there is no room now.
  result<void> try_send(std::span<const std::byte> message);

  /// The next message, into `into` (resized to it), waiting while there is none.
  /// `errc::end_of_channel` once the ring is closed and drained; `shm_errc::peer_gone` once
  /// it is drained and the sending process has ended.
  ///
  /// Cancellation: interrupted at once; no message is consumed.
  boost::asio::awaitable<result<void>> receive(std::vector<std::byte>& into);
  /// As `receive`, into a new buffer.
  boost::asio::awaitable<result<std::vector<std::byte>>> receive();

  /// As `receive` without waiting: `errc::would_block` when the ring is empty.
  result<void> try_receive(std::vector<std::byte>& into);

  /// Closes the ring for both sides: the receiver gets what was sent, then
  /// `errc::end_of_channel`; sends fail with `errc::channel_closed`. Idempotent.
  void close_ring() noexcept;

  /// The largest message that fits.
  [[nodiscard]] std::size_t max_message() const noexcept { return capacity_ - 8; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  /// Bytes in the ring now, framing included.
  [[nodiscard]] std::size_t used() const noexcept;
  [[nodiscard]] const shm_token& token() const noexcept { return seg_.token(); }

  /// Creates a ring of `capacity` bytes (a power of two, at least 64) named after `key`, its
  /// waits on `ex`. This actor owns it. An invalid TRACTOR_SHM_SPIN_US is an error naming it
  /// (as it is for `attach`).
  static result<shm_ring> open(const boost::asio::any_io_executor& ex, std::string_view key, std::size_t capacity);
  /// Attaches to the ring `token` names, its waits on `ex`.
  static result<shm_ring> attach(const boost::asio::any_io_executor& ex, const shm_token& token);

 private:
  shm_ring(shm_segment seg, boost::asio::posix::stream_descriptor data, boost::asio::posix::stream_descriptor room,
           std::chrono::microseconds spin);
  shm_detail::header& head() const noexcept { return seg_.head(); }
  std::byte* at(std::uint64_t pos) const noexcept { return seg_.data() + (pos & (capacity_ - 1)); }
  error corrupted(const std::string& what) const;
  static void describe(const void* self, std::string& out);
  /// Records this process in the header as the ring's sender (or receiver), once.
  void say_who(bool sender);
  /// Waits for `bell`, or for the other side's process to end (then an error, `peer_gone`).
  boost::asio::awaitable<result<void>> sleep_on(boost::asio::posix::stream_descriptor& bell, bool sender);
  /// `peer_gone`, for the side that sends (or receives).
  error gone(bool sender) const;

  shm_segment seg_;
  std::size_t capacity_ = 0;
  std::chrono::microseconds spin_{};
  // Written to wake the receiver (data) and the sender (room); each side drains its own.
  boost::asio::posix::stream_descriptor data_;
  boost::asio::posix::stream_descriptor room_;
  bool said_sender_ = false;
  bool said_receiver_ = false;
  // A pidfd of the other side's process while it is watched, and that process's pid.
  std::optional<boost::asio::posix::stream_descriptor> peer_process_;
  std::int32_t watched_pid_ = 0;
  bool peer_gone_ = false;
};

/// `shm_ring::open`.
inline result<shm_ring> open_shm_ring(const boost::asio::any_io_executor& ex, std::string_view key,
                                      std::size_t capacity) {
  return shm_ring::open(ex, key, capacity);
}
/// `shm_ring::attach`.
inline result<shm_ring> attach_shm_ring(const boost::asio::any_io_executor& ex, const shm_token& token) {
  return shm_ring::attach(ex, token);
}

}  // namespace tractor

#if TRACTOR_HEADER_ONLY
#include <tractor/shm/impl/ring.ipp>
#endif
