// tractor/transport/shm.hpp — actors on one host talking through shared memory: a UNIX socket
// finds the peer and carries the handshake, then every byte travels through a pair of rings
// in memory both processes map, with no system call while both sides are busy.
//
//     using tree = tractor::tree<tractor::spawn::forkserver, tractor::transport::shm,
//                                tractor::codec::cereal_binary, api>;
//
// Addresses, listening and connecting are those of `uds` (abstract UNIX-socket names, peers
// of this user only). On each new connection the connecting side makes the rings (one
// `memfd`, sealed against resizing) and four doorbell pipes, and hands them over the socket
// (SCM_RIGHTS). Nothing is named, so nothing can leak: however either process ends, SIGKILL
// included, the kernel frees the memory with the last descriptor or mapping.
//
// A side sleeps only after saying so in the ring's control block, and the other side rings
// its doorbell (one byte into a pipe) only then. Each process holds the write ends of its
// peer's doorbells and the read ends of its own, so the peer's death reads as end-of-file on
// the doorbell a waiting side sleeps on: noticed as a closing socket is, at once.
//
// Before it sleeps, a side whose peer last worked on another CPU looks again for up to
// `TRACTOR_SHM_SPIN_US` microseconds (50 unless set; 0: never), a few microseconds at a time,
// letting its event loop's other work run in between: a peer that answers within that time is
// not woken or waited for. That costs up to that much CPU each time a busy connection falls
// idle.
//
// Rings are `TRACTOR_SHM_RING_BYTES` each way (a power of two from 4 KiB to 1 GiB), 1 MiB
// unless set; a message larger than a ring goes through in parts, as through a socket.
#pragma once

#include <tractor/config.hpp>

#include <tractor/transport/connection.hpp>
#include <tractor/transport/transport.hpp>
#include <tractor/transport/uds.hpp>

#include <chrono>
#include <cstddef>
#include <memory>

namespace tractor::transport {

/// The bytes of each of a connection's two rings: TRACTOR_SHM_RING_BYTES, else 1 MiB. An
/// invalid value is an error naming it.
result<std::size_t> shm_ring_bytes();

/// How long a side looks again for data or room before it sleeps, while its peer works on
/// another CPU (shm/detail/look.hpp): TRACTOR_SHM_SPIN_US microseconds, else 50; 0 never looks. An
/// invalid value is an error naming it.
result<std::chrono::microseconds> shm_spin();

/// The connecting side's handshake on socket `s`: makes the rings and doorbells, hands them
/// over, and waits for the peer to take them, all within `auth::deadline()`. The session the
/// connection's bytes go through from then on. Fails (`wire_errc::auth_failed`) if the peer
/// does not take them in time or refuses them.
///
/// Cancellation: interrupted at once (`operation_aborted`); nothing is left behind.
awaitable<result<std::unique_ptr<secure_stream>>> shm_offer(stream_socket& s);

/// The accepting side's handshake on socket `s`: takes the rings and doorbells the peer
/// offers and checks them (the memory's size and seals, the doorbells' kind and direction)
/// before mapping anything. Fails (`wire_errc::auth_failed`, saying what was wrong) on
/// anything else, within `auth::deadline()`, and leaves this process as it was.
///
/// Cancellation: interrupted at once (`operation_aborted`).
awaitable<result<std::unique_ptr<secure_stream>>> shm_accept(stream_socket& s);

/// The shared-memory transport: `uds`'s addresses, listening and connecting; every connection's
/// bytes through rings set up by `shm_offer` and `shm_accept`.
struct shm {
  static constexpr std::string_view name = "shm";

  static multiaddr bind_addr(std::string_view actor_name) { return uds::bind_addr(actor_name); }
  static bool accepts(const multiaddr& a) { return uds::accepts(a); }
  /// Beside `uds`'s, so that a uds tree and an shm tree on one host keep their registrars apart.
  static multiaddr default_registry() { return uds::bind_addr_of("registry-shm", 1616); }
  static result<listener> listen(const boost::asio::any_io_executor& ex, const multiaddr& a) {
    return uds::listen(ex, a);
  }
  /// Cancellation: interrupted at once (`operation_aborted`).
  static awaitable<result<stream_socket>> connect(const boost::asio::any_io_executor& ex, const multiaddr& a) {
    return uds::connect(ex, a);
  }

  /// The handshake of a socket the runtime connected (`prove`) or accepted (`check`).
  ///
  /// Cancellation: interrupted at once (`operation_aborted`).
  static awaitable<result<std::unique_ptr<secure_stream>>> prove(stream_socket& s) { return shm_offer(s); }
  static awaitable<result<std::unique_ptr<secure_stream>>> check(stream_socket& s) { return shm_accept(s); }
};

static_assert(transport<shm>);

}  // namespace tractor::transport

#if TRACTOR_HEADER_ONLY
#include <tractor/transport/impl/shm.ipp>
#endif
