// tractor/transport/impl/shm_handshake.ipp — the shared-memory transport's handshake (part of
// transport/impl/shm.ipp): the connecting side offers the memory and the doorbells over the
// UNIX socket (SCM_RIGHTS) with a hello; the accepting side checks all of it before it maps
// anything, and answers one byte.
#pragma once

#include <tractor/transport/impl/shm.ipp>

#include <tractor/core/detail/descriptor_passing.hpp>

#include <sys/mman.h>
#include <sys/socket.h>

#include <vector>

namespace tractor::transport {

namespace shm_wire {

/// Waits until `s` is readable (`wait_read`) or writable (`wait_write`).
inline awaitable<boost::system::error_code> await_socket(stream_socket& s, stream_socket::wait_type what) {
  auto [ec] = co_await s.async_wait(what, boost::asio::as_tuple(boost::asio::use_awaitable));
  if (ec == boost::asio::error::operation_aborted) throw_cancelled();
  co_return ec;
}

/// Sends the hello and the three descriptors in one message.
inline awaitable<result<void>> send_hello(stream_socket& s, const hello& h, const std::array<int, hello_fds>& fds) {
  for (;;) {
    const auto n = tractor::detail::send_with_fds(s.native_handle(), &h, sizeof h, fds, MSG_DONTWAIT);
    if (n == static_cast<ssize_t>(sizeof h)) co_return success();
    if (n >= 0) co_return refused("the socket took only part of the hello");
    if (errno == EPIPE || errno == ECONNRESET) co_return refused("the peer closed the connection before the hello");
    if (errno != EAGAIN && errno != EWOULDBLOCK) co_return system_failure("sending the hello");
    if (auto ec = co_await await_socket(s, stream_socket::wait_write)) co_return error(ec, "sending the hello");
  }
}

/// The peer's one-byte answer.
inline awaitable<result<void>> receive_answer(stream_socket& s) {
  for (;;) {
    unsigned char answer = 0;
    const auto n = ::recv(s.native_handle(), &answer, 1, MSG_DONTWAIT);
    if (n == 1 && answer == accepted) co_return success();
    if (n == 1) co_return refused("the peer answered with something else than the transport's");
    if (n == 0) co_return refused("the peer closed the connection instead of taking the rings");
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) co_return system_failure("waiting for the peer");
    if (auto ec = co_await await_socket(s, stream_socket::wait_read)) co_return error(ec, "waiting for the peer");
  }
}

inline result<mapping> map(int fd, std::size_t size) {
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return system_failure("cannot map the rings");
  return mapping(base, size);
}

/// What is wrong with a hello's doorbell `fd`, if anything.
inline std::optional<std::string> not_a_doorbell(int fd) {
  int domain = 0;
  int type = 0;
  socklen_t len = sizeof domain;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return "a doorbell is not a socket";
  len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || domain != AF_UNIX || type != SOCK_STREAM) {
    return "a doorbell is not a UNIX stream socket";
  }
  return std::nullopt;
}

/// What is wrong with a hello's memory `fd` for rings of `ring` bytes, if anything.
inline std::optional<std::string> not_the_memory(int fd, std::size_t ring) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return "the memory is not a memory file";
  if (static_cast<std::uint64_t>(st.st_size) != memory_bytes(ring)) {
    return "the memory holds " + std::to_string(st.st_size) + " bytes, not the " + std::to_string(memory_bytes(ring)) +
           " two rings of " + std::to_string(ring) + " need";
  }
  // Memory the peer could shrink would fault this process at its next touch.
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) {
    return "the memory is not sealed against resizing";
  }
  return std::nullopt;
}

/// Receives the hello and its descriptors (every one received is owned, whatever follows).
inline awaitable<result<std::pair<hello, std::vector<owned_fd>>>> receive_hello(stream_socket& s) {
  for (;;) {
    hello h{};
    tractor::detail::passed_fds got;
    const auto n = tractor::detail::recv_with_fds(s.native_handle(), &h, sizeof h, got, MSG_DONTWAIT);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) co_return system_failure("reading the hello");
      if (auto ec = co_await await_socket(s, stream_socket::wait_read)) co_return error(ec, "reading the hello");
      continue;
    }
    std::vector<owned_fd> fds;
    for (std::size_t i = 0; i < got.count; ++i) fds.emplace_back(got.take(i));
    if (n == 0) co_return refused("the peer closed the connection before its hello");
    if (n != static_cast<ssize_t>(sizeof h) || h.magic != hello_magic) {
      co_return refused("the peer did not send the transport's hello");
    }
    if (got.truncated || fds.size() != hello_fds) {
      co_return refused("the hello came with " + std::string(got.truncated ? "more than " : "") +
                        std::to_string(fds.size()) + " descriptors, not " + std::to_string(hello_fds));
    }
    co_return std::pair{h, std::move(fds)};
  }
}

inline awaitable<result<std::unique_ptr<secure_stream>>> offer(stream_socket& s) {
  auto ex = co_await boost::asio::this_coro::executor;
  BOOST_OUTCOME_CO_TRY(const std::size_t ring, shm_ring_bytes());
  BOOST_OUTCOME_CO_TRY(const auto spin, shm_spin());
  owned_fd memory(::memfd_create("tractor-shm-transport", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (memory.get() < 0) co_return system_failure("cannot make the rings' memory");
  const std::size_t size = memory_bytes(ring);
  if (::ftruncate(memory.get(), static_cast<off_t>(size)) != 0 ||
      ::fcntl(memory.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    co_return system_failure("cannot size the rings' memory");
  }
  BOOST_OUTCOME_CO_TRY(auto mapped, map(memory.get(), size));
  // The doorbells of ring 0 (we send) and ring 1 (we receive): ours, and the peer's ends.
  BOOST_OUTCOME_CO_TRY(auto to_peer, local_pair(ex));
  owned_fd to_peer_theirs(to_peer.second);
  BOOST_OUTCOME_CO_TRY(auto from_peer, local_pair(ex));
  owned_fd from_peer_theirs(from_peer.second);
  const hello h{.magic = hello_magic, .ring_bytes = ring};
  BOOST_OUTCOME_CO_TRYV(co_await send_hello(s, h, {memory.get(), to_peer_theirs.get(), from_peer_theirs.get()}));
  // Ours are closed now: from here the peer's ends are its own, and end-of-file at its death.
  memory.reset();
  to_peer_theirs.reset();
  from_peer_theirs.reset();
  BOOST_OUTCOME_CO_TRYV(co_await receive_answer(s));
  co_return std::make_unique<session>(std::move(mapped), ring, spin, 0, 1, std::move(to_peer.first),
                                      std::move(from_peer.first));
}

inline awaitable<result<std::unique_ptr<secure_stream>>> take_offer(stream_socket& s) {
  auto ex = co_await boost::asio::this_coro::executor;
  BOOST_OUTCOME_CO_TRY(const auto spin, shm_spin());
  BOOST_OUTCOME_CO_TRY(auto got, co_await receive_hello(s));
  const std::size_t ring = got.first.ring_bytes;
  auto& fds = got.second;
  if (ring < min_ring || ring > max_ring || (ring & (ring - 1)) != 0) {
    co_return refused("rings of " + std::to_string(ring) + " bytes (not a power of two from 4096 to 1073741824)");
  }
  if (auto wrong = not_the_memory(fds[0].get(), ring)) co_return refused(*wrong);
  for (int i : {1, 2}) {
    if (auto wrong = not_a_doorbell(fds[static_cast<std::size_t>(i)].get())) co_return refused(*wrong);
  }
  BOOST_OUTCOME_CO_TRY(auto mapped, map(fds[0].get(), memory_bytes(ring)));
  if (::send(s.native_handle(), &accepted, 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1) {
    co_return system_failure("answering the hello");
  }
  BOOST_OUTCOME_CO_TRY(auto out_bell, adopt_local(ex, fds[2].release()));
  BOOST_OUTCOME_CO_TRY(auto in_bell, adopt_local(ex, fds[1].release()));
  co_return std::make_unique<session>(std::move(mapped), ring, spin, 1, 0, std::move(out_bell), std::move(in_bell));
}

}  // namespace shm_wire

namespace shm_wire {
/// `step` within `auth::deadline()`.
inline awaitable<result<std::unique_ptr<secure_stream>>> in_time(
    awaitable<result<std::unique_ptr<secure_stream>>> step) {
  auto done = co_await fail_after(auth::deadline(), std::move(step));
  if (!done && done.error().code() == make_error_code(errc::timeout)) {
    co_return refused("the peer did not finish it in time");
  }
  co_return done;
}
}  // namespace shm_wire

TRACTOR_DECL awaitable<result<std::unique_ptr<secure_stream>>> shm_offer(stream_socket& s) {
  return shm_wire::in_time(shm_wire::offer(s));
}

TRACTOR_DECL awaitable<result<std::unique_ptr<secure_stream>>> shm_accept(stream_socket& s) {
  return shm_wire::in_time(shm_wire::take_offer(s));
}

}  // namespace tractor::transport
