// Definitions for tractor/shm/ring.hpp: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
//
// A message is framed as a 4-byte length and its bytes, padded to 8: frames start 8-aligned,
// so a length never straddles the ring's end (a payload may, and is copied in two parts).
// `last` (the sender's) and `first` (the receiver's) count bytes since the ring was made.
#pragma once

#include <tractor/core/detail/process_identity.hpp>
#include <tractor/core/detail/task_info.hpp>
#include <tractor/core/error.hpp>
#include <tractor/shm/detail/look.hpp>
#include <tractor/shm/detail/ring_parts.hpp>
#include <tractor/shm/ring.hpp>

#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tractor {

namespace shm_detail {

inline constexpr std::uint64_t frame_of(std::size_t n) noexcept { return (4 + n + 7) & ~std::uint64_t{7}; }

inline std::string doorbell_path(const std::string& name, const char* which) {
  return "/dev/shm" + name + "." + which;
}

/// Opens a doorbell on both ends (O_RDWR never waits for the other end, and keeps the FIFO
/// from ever reading end-of-file), non-blocking.
inline result<int> open_doorbell(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return system_error(errno, "cannot open the ring doorbell " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
    ::close(fd);
    return error(make_error_code(shm_errc::not_a_segment), path + " is not a ring doorbell (a FIFO)");
  }
  return fd;
}

inline void ring_doorbell(boost::asio::posix::stream_descriptor& d) noexcept {
  const char b = 1;
  // A full FIFO already holds a wakeup: nothing is lost when this write fails.
  (void)!::write(d.native_handle(), &b, 1);
}

inline void drain_doorbell(boost::asio::posix::stream_descriptor& d) noexcept {
  char buf[64];
  while (::read(d.native_handle(), buf, sizeof buf) > 0) {
  }
}

/// What watching the process a ring's header names gives.
enum class watch_outcome { nothing_to_watch, watching, gone };

/// Opens a pidfd of the process `pid` that started at `start` in pid namespace `ns`, into
/// `fd`. Nothing to watch when it is unknown, this process, or of another namespace; gone
/// when no such process lives any more (ended, or its pid is another process's now).
inline watch_outcome watch_process(std::int32_t pid, std::uint64_t start, std::uint64_t ns, int& fd) {
  fd = -1;
  if (pid <= 0 || pid == ::getpid() || start == 0 || ns == 0 || ns != detail::own_pid_namespace()) {
    return watch_outcome::nothing_to_watch;
  }
  fd = detail::pidfd_if_same(pid, start);
  if (fd >= 0) return watch_outcome::watching;
  return errno == ESRCH ? watch_outcome::gone : watch_outcome::nothing_to_watch;
}

}  // namespace shm_detail

TRACTOR_DECL shm_ring::shm_ring(shm_segment seg, boost::asio::posix::stream_descriptor data,
                                boost::asio::posix::stream_descriptor room, std::chrono::microseconds spin)
    : seg_(std::move(seg)),
      capacity_(static_cast<std::size_t>(seg_.token().capacity)),
      spin_(spin),
      data_(std::move(data)),
      room_(std::move(room)) {}

TRACTOR_DECL shm_ring::~shm_ring() {
  // Before the segment goes (members are destroyed after this body), while this process
  // still holds the doorbells open: never an unused name a sweep could take.
  if (seg_.is_open() && seg_.owner()) {
    ::unlink(shm_detail::doorbell_path(seg_.token().name, "data").c_str());
    ::unlink(shm_detail::doorbell_path(seg_.token().name, "room").c_str());
  }
}

TRACTOR_DECL result<shm_ring> shm_ring::open(const boost::asio::any_io_executor& ex, std::string_view key,
                                             std::size_t capacity) {
  if (capacity < 64 || (capacity & (capacity - 1)) != 0) {
    return error(make_error_code(shm_errc::no_room),
                 "a ring's capacity is a power of two of at least 64 bytes, not " + std::to_string(capacity));
  }
  BOOST_OUTCOME_TRY(const auto spin, shm_detail::spin_from_env());
  BOOST_OUTCOME_TRY(auto seg, shm_segment::create(key, shm_detail::token_for<std::byte>(shm_kind::ring, capacity)));
  const std::string& name = seg.token().name;
  for (const char* which : {"data", "room"}) {
    const std::string path = shm_detail::doorbell_path(name, which);
    if (::mkfifo(path.c_str(), 0600) != 0) {
      const int err = errno;
      ::unlink(shm_detail::doorbell_path(name, "data").c_str());
      return shm_detail::system_error(err, "cannot make the ring doorbell " + path);
    }
  }
  auto data = shm_detail::open_doorbell(shm_detail::doorbell_path(name, "data"));
  auto room = shm_detail::open_doorbell(shm_detail::doorbell_path(name, "room"));
  if (!data || !room) {
    if (data) ::close(data.value());
    if (room) ::close(room.value());
    ::unlink(shm_detail::doorbell_path(name, "data").c_str());
    ::unlink(shm_detail::doorbell_path(name, "room").c_str());
    return !data ? data.error() : room.error();
  }
  return shm_ring(std::move(seg), boost::asio::posix::stream_descriptor(ex, data.value()),
                  boost::asio::posix::stream_descriptor(ex, room.value()), spin);
}

TRACTOR_DECL result<shm_ring> shm_ring::attach(const boost::asio::any_io_executor& ex, const shm_token& token) {
  BOOST_OUTCOME_TRY(const auto spin, shm_detail::spin_from_env());
  BOOST_OUTCOME_TRY(auto seg, shm_detail::attach_as<std::byte>(token, shm_kind::ring, /*writable=*/true));
  if (token.capacity < 64 || (token.capacity & (token.capacity - 1)) != 0) {
    return error(make_error_code(shm_errc::not_a_segment), "ring " + token.name + " has a capacity of " +
                                                               std::to_string(token.capacity) +
                                                               " bytes, not a power of two of at least 64");
  }
  BOOST_OUTCOME_TRY(int data, shm_detail::open_doorbell(shm_detail::doorbell_path(token.name, "data")));
  auto room = shm_detail::open_doorbell(shm_detail::doorbell_path(token.name, "room"));
  if (!room) {
    ::close(data);
    return room.error();
  }
  return shm_ring(std::move(seg), boost::asio::posix::stream_descriptor(ex, data),
                  boost::asio::posix::stream_descriptor(ex, room.value()), spin);
}

TRACTOR_DECL error shm_ring::corrupted(const std::string& what) const {
  return error(make_error_code(shm_errc::not_a_segment), "ring " + token().name + " corrupted: " + what);
}

TRACTOR_DECL std::size_t shm_ring::used() const noexcept {
  const auto l = head().last.load(std::memory_order_acquire);
  const auto f = head().first.load(std::memory_order_acquire);
  return static_cast<std::size_t>(l - f < capacity_ ? l - f : capacity_);
}

TRACTOR_DECL result<void> shm_ring::try_send(std::span<const std::byte> message) {
  say_who(true);
  if (message.size() > max_message()) {
    return error(make_error_code(shm_errc::no_room), "a message of " + std::to_string(message.size()) +
                                                         " bytes is larger than ring " + token().name +
                                                         " can hold (" + std::to_string(max_message()) + ")");
  }
  auto& h = head();
  if (h.closed.load(std::memory_order_acquire)) return errc::channel_closed;
  const auto l = h.last.load(std::memory_order_relaxed);
  const auto f = h.first.load(std::memory_order_acquire);
  if (l - f > capacity_ || (l & 7) != 0) return corrupted("fill " + std::to_string(l - f));
  const auto frame = shm_detail::frame_of(message.size());
  if (frame > capacity_ - (l - f)) return errc::would_block;
  const auto length = static_cast<std::uint32_t>(message.size());
  std::memcpy(at(l), &length, sizeof length);
  shm_detail::ring_copy_in(seg_.data(), capacity_, l + 4, message.data(), message.size());
  shm_detail::note_cpu(h.sender_cpu);
  h.last.store(l + frame, std::memory_order_release);
  // Pairs with the receiver's fence between saying it sleeps and looking again.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (h.reader_waiting.exchange(0, std::memory_order_relaxed)) shm_detail::ring_doorbell(data_);
  return success();
}

TRACTOR_DECL result<void> shm_ring::try_receive(std::vector<std::byte>& into) {
  say_who(false);
  auto& h = head();
  const auto f = h.first.load(std::memory_order_relaxed);
  const auto l = h.last.load(std::memory_order_acquire);
  if (l == f) {
    if (h.closed.load(std::memory_order_acquire) && h.last.load(std::memory_order_acquire) == f) {
      return errc::end_of_channel;
    }
    return errc::would_block;
  }
  const auto fill = l - f;
  if (fill > capacity_ || (f & 7) != 0 || (fill & 7) != 0) return corrupted("fill " + std::to_string(fill));
  std::uint32_t length = 0;
  std::memcpy(&length, at(f), sizeof length);
  if (shm_detail::frame_of(length) > fill) {
    return corrupted("a message of " + std::to_string(length) + " bytes in " + std::to_string(fill) + " bytes held");
  }
  into.resize(length);
  shm_detail::ring_copy_out(seg_.data(), capacity_, f + 4, into.data(), length);
  shm_detail::note_cpu(h.receiver_cpu);
  h.first.store(f + shm_detail::frame_of(length), std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (h.writer_waiting.exchange(0, std::memory_order_relaxed)) shm_detail::ring_doorbell(room_);
  return success();
}

TRACTOR_DECL void shm_ring::describe(const void* self, std::string& out) {
  const auto* r = static_cast<const shm_ring*>(self);
  out += r->token().name + " (" + std::to_string(r->used()) + " of " + std::to_string(r->capacity_) + " bytes used)";
}


TRACTOR_DECL void shm_ring::say_who(bool sender) {
  bool& said = sender ? said_sender_ : said_receiver_;
  if (said) return;
  said = true;
  auto& h = head();
  const pid_t self = ::getpid();
  (sender ? h.sender_start : h.receiver_start).store(detail::process_start_time(self), std::memory_order_relaxed);
  (sender ? h.sender_pid_namespace : h.receiver_pid_namespace)
      .store(detail::own_pid_namespace(), std::memory_order_relaxed);
  (sender ? h.sender_pid : h.receiver_pid).store(self, std::memory_order_release);
}

TRACTOR_DECL boost::asio::awaitable<result<void>> shm_ring::sleep_on(boost::asio::posix::stream_descriptor& bell,
                                                                   bool sender) {
  namespace asio = boost::asio;
  auto& h = head();
  // A sender waits on its receiver's process, a receiver on its sender's: whichever last said
  // so in the header.
  const std::int32_t pid = (sender ? h.receiver_pid : h.sender_pid).load(std::memory_order_acquire);
  if (pid != watched_pid_) {
    peer_process_.reset();
    watched_pid_ = pid;
    peer_gone_ = false;
    int fd = -1;
    const auto watched = shm_detail::watch_process(
        pid, (sender ? h.receiver_start : h.sender_start).load(std::memory_order_relaxed),
        (sender ? h.receiver_pid_namespace : h.sender_pid_namespace).load(std::memory_order_relaxed), fd);
    if (watched == shm_detail::watch_outcome::gone) {
      peer_gone_ = true;  // the caller looks once more, then says so
      co_return success();
    }
    if (fd >= 0) peer_process_.emplace(bell.get_executor(), fd);
  }
  constexpr auto readable = asio::posix::descriptor_base::wait_read;
  if (!peer_process_) {
    co_await bell.async_wait(readable, asio::use_awaitable);
  } else {
    // Both waits in one operation: the first to end cancels the other, which ends with an
    // error code before this resumes (no task, no exception: a wait per message when the
    // ring's sides take turns).
    auto [order, bell_ec, exit_ec] = co_await asio::experimental::make_parallel_group(
                                         bell.async_wait(readable, asio::deferred),
                                         peer_process_->async_wait(readable, asio::deferred))
                                         .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    const auto state = co_await asio::this_coro::cancellation_state;
    throw_on_cancellation(state);
    // The one that ended first failed (the other was cancelled): an error, not another turn.
    if (const auto& failed = order[0] == 0 ? bell_ec : exit_ec) {
      co_return error(failed, "cannot wait on ring " + token().name + ": " + failed.message());
    }
    if (order[0] == 1) peer_gone_ = true;
  }
  shm_detail::drain_doorbell(bell);
  co_return success();
}

TRACTOR_DECL error shm_ring::gone(bool sender) const {
  return error(make_error_code(shm_errc::peer_gone),
               "ring " + token().name + ": its " + (sender ? "receiver" : "sender") + " (pid " +
                   std::to_string(watched_pid_) + ") is gone" +
                   (sender ? "" : "; every message it had finished sending was received"));
}

TRACTOR_DECL boost::asio::awaitable<result<void>> shm_ring::send(std::span<const std::byte> message) {
  for (;;) {
    auto sent = try_send(message);
    if (sent || sent.error() != errc::would_block) co_return sent;
    const auto attempt = [&] {
      sent = try_send(message);
      return sent || sent.error() != errc::would_block;
    };
    const bool done = co_await shm_detail::look_for(head().receiver_cpu, spin_, attempt);
    if (done) co_return sent;
    const shm_detail::waiting_flag waiting(head().writer_waiting);
    sent = try_send(message);  // room made before the flag was seen
    if (sent || sent.error() != errc::would_block) co_return sent;
    if (peer_gone_) co_return gone(true);
    const detail::wait_note_scope note(
        detail::wait_note{.what = "room in shm ring", .detail = &describe, .subject = this});
    BOOST_OUTCOME_CO_TRYV(co_await sleep_on(room_, true));
  }
}

TRACTOR_DECL boost::asio::awaitable<result<void>> shm_ring::receive(std::vector<std::byte>& into) {
  for (;;) {
    auto got = try_receive(into);
    if (got || got.error() != errc::would_block) co_return got;
    const auto attempt = [&] {
      got = try_receive(into);
      return got || got.error() != errc::would_block;
    };
    const bool done = co_await shm_detail::look_for(head().sender_cpu, spin_, attempt);
    if (done) co_return got;
    const shm_detail::waiting_flag waiting(head().reader_waiting);
    got = try_receive(into);
    if (got || got.error() != errc::would_block) co_return got;
    if (peer_gone_) co_return gone(false);  // and every message it finished was taken above
    const detail::wait_note_scope note(
        detail::wait_note{.what = "a message on shm ring", .detail = &describe, .subject = this});
    BOOST_OUTCOME_CO_TRYV(co_await sleep_on(data_, false));
  }
}

TRACTOR_DECL boost::asio::awaitable<result<std::vector<std::byte>>> shm_ring::receive() {
  std::vector<std::byte> out;
  auto got = co_await receive(out);
  if (!got) co_return got.error();
  co_return out;
}

TRACTOR_DECL void shm_ring::close_ring() noexcept {
  if (!seg_.is_open()) return;
  head().closed.store(1, std::memory_order_release);
  shm_detail::ring_doorbell(data_);
  shm_detail::ring_doorbell(room_);
}

}  // namespace tractor
