// tractor/transport/impl/shm.ipp — definitions of transport/shm.hpp.
//
// The memory (one memfd): two control blocks, then each direction's bytes, page-aligned.
// Each direction has a doorbell: a connected pair of UNIX stream sockets (`local_pair`), one
// end in each process. On the ring a side sends on, it writes "data" wakeups into that ring's doorbell
// and sleeps on it for room; on the ring it receives on, it sleeps on that ring's doorbell for
// data and writes "room" wakeups into it. One end, one kind of sleep: a wakeup can never be
// taken by a sleeper it was not meant for. (Sockets rather than pipes: a send can refuse
// SIGPIPE; both end-of-file at the peer's death the same way.)
#pragma once

#include <tractor/transport/shm.hpp>

#include <tractor/core/cancel_scope.hpp>
#include <tractor/core/detail/task_info.hpp>
#include <tractor/shm/detail/look.hpp>
#include <tractor/shm/detail/ring_parts.hpp>
#include <tractor/shm/error.hpp>
#include <tractor/transport/detail/shm_layout.hpp>
#include <tractor/transport/auth.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tractor::transport {

namespace shm_wire {

/// A descriptor this scope owns until `release`.
class owned_fd {
 public:
  owned_fd() = default;
  explicit owned_fd(int fd) noexcept : fd_(fd) {}
  owned_fd(owned_fd&& o) noexcept : fd_(o.release()) {}
  owned_fd& operator=(owned_fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  ~owned_fd() { reset(); }
  [[nodiscard]] int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

/// A mapping this scope owns.
struct mapping {
  void* base = nullptr;
  std::size_t size = 0;
  mapping() = default;
  mapping(void* b, std::size_t n) noexcept : base(b), size(n) {}
  mapping(mapping&& o) noexcept : base(std::exchange(o.base, nullptr)), size(o.size) {}
  mapping& operator=(mapping&&) = delete;
  ~mapping() {
    if (base) ::munmap(base, size);
  }
  [[nodiscard]] ring_control& control(int i) const noexcept { return static_cast<ring_control*>(base)[i]; }
  [[nodiscard]] std::byte* bytes(int i, std::size_t ring) const noexcept {
    return static_cast<std::byte*>(base) + data_offset + static_cast<std::size_t>(i) * ring;
  }
};

inline error refused(std::string why) {
  return error(make_error_code(wire_errc::auth_failed), "shared-memory handshake: " + std::move(why));
}

/// The error of the system call that just failed, saying what was being done.
inline error system_failure(const std::string& what) { return shm_detail::system_error(errno, what); }

/// Rings `bell` (a wakeup already pending is enough: a full socket loses nothing).
inline void ring(int bell) noexcept {
  const char b = 1;
  (void)!::send(bell, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/// The session: one ring out, one ring in, over the memory both processes map.
class session final : public secure_stream {
 public:
  session(mapping memory, std::size_t ring_bytes, std::chrono::microseconds spin, int out, int in,
          stream_socket out_bell, stream_socket in_bell)
      : memory_(std::move(memory)),
        ring_(ring_bytes),
        spin_(spin),
        out_(memory_.control(out)),
        in_(memory_.control(in)),
        out_bytes_(memory_.bytes(out, ring_bytes)),
        in_bytes_(memory_.bytes(in, ring_bytes)),
        out_bell_(std::move(out_bell)),
        in_bell_(std::move(in_bell)) {}

  std::size_t write_some(stream_socket&, boost::asio::const_buffer b, boost::system::error_code& ec) override {
    return put(b, ec);
  }

  awaitable<io_result> write(stream_socket&, std::span<const boost::asio::const_buffer> pieces) override {
    // Refused before anything is written, as a socket's own write is.
    const auto state = co_await boost::asio::this_coro::cancellation_state;
    throw_on_cancellation(state);
    std::size_t total = 0;
    for (auto piece : pieces) {
      while (piece.size() > 0) {
        boost::system::error_code ec;
        const std::size_t n = put(piece, ec);
        piece += n;
        total += n;
        if (ec == boost::asio::error::would_block) {
          const auto room = [this] { return has_room() || out_.closed.load(std::memory_order_acquire); };
          if (co_await shm_detail::look_for(out_.reader_cpu, spin_, room)) continue;
          const shm_detail::waiting_flag sleeping(out_.writer_waiting);
          if (has_room() || out_.closed.load(std::memory_order_acquire)) continue;
          const tractor::detail::wait_note_scope note(
              tractor::detail::wait_note{.what = "room in the shared-memory ring to its peer"});
          ec = co_await sleep(out_bell_);
        }
        if (ec) co_return io_result{ec, total};
      }
    }
    co_return io_result{boost::system::error_code(), total};
  }

  awaitable<io_result> read_some(stream_socket&, boost::asio::mutable_buffer b) override {
    for (;;) {
      boost::system::error_code ec;
      const std::size_t n = take(b, ec);
      if (n > 0 || ec != boost::asio::error::would_block) co_return io_result{ec, n};
      const auto data = [this] { return has_data() || in_.closed.load(std::memory_order_acquire); };
      if (co_await shm_detail::look_for(in_.writer_cpu, spin_, data)) continue;
      const shm_detail::waiting_flag sleeping(in_.reader_waiting);
      if (has_data() || in_.closed.load(std::memory_order_acquire)) continue;
      const auto slept = co_await sleep(in_bell_);
      if (slept) co_return io_result{slept, 0};
    }
  }

  void close(stream_socket&) noexcept override {
    if (closed_) return;
    closed_ = true;
    // The peer's reader gets what was sent, then end-of-file; its writer, a broken pipe.
    out_.closed.store(1, std::memory_order_release);
    in_.closed.store(1, std::memory_order_release);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    ring(out_bell_.native_handle());
    ring(in_bell_.native_handle());
  }

 private:
  /// Copies what fits of `b` into the ring out, without waiting.
  std::size_t put(boost::asio::const_buffer b, boost::system::error_code& ec) {
    ec = {};
    if (out_.closed.load(std::memory_order_acquire) || peer_gone_) {
      ec = boost::asio::error::broken_pipe;
      return 0;
    }
    const std::uint64_t used = sent_ - out_.first.load(std::memory_order_acquire);
    if (used > ring_) {
      ec = corrupted();
      return 0;
    }
    const std::size_t n = std::min<std::size_t>(ring_ - used, b.size());
    if (n == 0) {
      ec = b.size() == 0 ? boost::system::error_code() : boost::asio::error::would_block;
      return 0;
    }
    shm_detail::ring_copy_in(out_bytes_, ring_, sent_, b.data(), n);
    sent_ += n;
    shm_detail::note_cpu(out_.writer_cpu);
    out_.last.store(sent_, std::memory_order_release);
    // Pairs with the receiver's fence between flagging its sleep and looking again.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (out_.reader_waiting.exchange(0, std::memory_order_relaxed)) ring(out_bell_.native_handle());
    return n;
  }

  /// Copies what `b` takes of the ring in, without waiting: `eof` once the ring is closed and
  /// empty, or the peer is gone.
  std::size_t take(boost::asio::mutable_buffer b, boost::system::error_code& ec) {
    ec = {};
    const std::uint64_t held = in_.last.load(std::memory_order_acquire) - received_;
    if (held > ring_) {
      ec = corrupted();
      return 0;
    }
    const std::size_t n = std::min<std::size_t>(held, b.size());
    if (n == 0) {
      if (held == 0 && (peer_gone_ || in_.closed.load(std::memory_order_acquire))) {
        // (Bytes sent just before the close are still taken: `last` is read again.)
        if (in_.last.load(std::memory_order_acquire) == received_) ec = boost::asio::error::eof;
        return 0;
      }
      if (b.size() > 0) ec = boost::asio::error::would_block;
      return 0;
    }
    shm_detail::ring_copy_out(in_bytes_, ring_, received_, b.data(), n);
    received_ += n;
    shm_detail::note_cpu(in_.reader_cpu);
    in_.first.store(received_, std::memory_order_release);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (in_.writer_waiting.exchange(0, std::memory_order_relaxed)) ring(in_bell_.native_handle());
    return n;
  }

  [[nodiscard]] bool has_room() const noexcept { return sent_ - out_.first.load(std::memory_order_acquire) < ring_; }
  [[nodiscard]] bool has_data() const noexcept { return in_.last.load(std::memory_order_acquire) != received_; }

  /// Sleeps until `bell` rings, taking its wakeups: the error that ended the sleep
  /// (cancellation), else none; a closed peer end marks the peer gone (the caller looks
  /// again, then reports it). A read, not a wait for readiness: Asio tries a read at once
  /// (a wakeup already there ends the sleep without a system call more), where a wait
  /// re-arms the descriptor in epoll (`epoll_ctl`) every time.
  awaitable<boost::system::error_code> sleep(stream_socket& bell) {
    char wakeups[64];
    auto [ec, n] =
        co_await bell.async_read_some(boost::asio::buffer(wakeups), boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec == boost::asio::error::eof) {
      peer_gone_ = true;
      co_return boost::system::error_code();
    }
    co_return ec;
  }

  static boost::system::error_code corrupted() {
    // The peer wrote an index no ring of this size can have.
    return make_error_code(boost::system::errc::protocol_error);
  }

  mapping memory_;
  std::size_t ring_;
  std::chrono::microseconds spin_;
  ring_control& out_;
  ring_control& in_;
  std::byte* out_bytes_;
  std::byte* in_bytes_;
  // This process's own positions, never read back from the shared memory the peer can write.
  std::uint64_t sent_ = 0;
  std::uint64_t received_ = 0;
  stream_socket out_bell_;
  stream_socket in_bell_;
  bool peer_gone_ = false;
  bool closed_ = false;
};

}  // namespace shm_wire

TRACTOR_DECL result<std::chrono::microseconds> shm_spin() { return shm_detail::spin_from_env(); }

TRACTOR_DECL result<std::size_t> shm_ring_bytes() {
  const auto valid = [](unsigned long long n) {
    return n >= shm_wire::min_ring && n <= shm_wire::max_ring && (n & (n - 1)) == 0;
  };
  BOOST_OUTCOME_TRY(const auto n, shm_detail::number_from_env("TRACTOR_SHM_RING_BYTES", std::size_t{1} << 20, valid,
                                                             "a power of two from 4096 to 1073741824"));
  return static_cast<std::size_t>(n);
}

}  // namespace tractor::transport

#include <tractor/transport/impl/shm_handshake.ipp>
