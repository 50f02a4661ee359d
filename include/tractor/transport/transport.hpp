// tractor/transport/transport.hpp — the transport policy axis: where actors listen and how
// they connect. Both models produce the same kind of socket (a generic stream socket), so
// framing and everything above are written once, without templates.
//
//     auto l = tractor::transport::uds::listen(ex, tractor::transport::uds::bind_addr("worker"));
//     auto s = co_await tractor::transport::uds::connect(ex, l.value().address());
//
// Models: `uds` (abstract UNIX-socket names, per-user checked) and `tcp` (IPv4/IPv6, with
// TCP_NODELAY).
#pragma once

#include <tractor/config.hpp>

#include <tractor/core/nursery.hpp>
#include <tractor/transport/connection.hpp>
#include <tractor/transport/multiaddr.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <concepts>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/core.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tractor::transport {

/// A listening socket. Closing it (or destroying it) stops accepting. On a UNIX socket it
/// accepts only peers of this user (SO_PEERCRED).
class listener {
 public:
  listener(acceptor_socket acceptor, multiaddr address)
      : acceptor_(std::move(acceptor)), address_(std::move(address)) {}
  listener(listener&&) noexcept = default;
  listener& operator=(listener&& other) noexcept {
    if (this != &other) {
      close();
      acceptor_ = std::move(other.acceptor_);
      address_ = std::move(other.address_);
    }
    return *this;
  }
  ~listener() { close(); }

  /// The address peers connect to (with the port the OS chose, for TCP port 0).
  [[nodiscard]] const multiaddr& address() const noexcept { return address_; }

  /// Accepts one connection. A UNIX-socket peer of another user is closed at once and
  /// reported as `boost::system::errc::permission_denied` (the listener keeps working).
  ///
  /// Cancellation: interrupted at once (`operation_aborted`); the listener keeps working.
  awaitable<result<stream_socket>> accept();

  /// Stops listening. Idempotent.
  void close() noexcept;

  [[nodiscard]] bool is_open() const noexcept { return acceptor_.is_open(); }

 private:
  acceptor_socket acceptor_;
  multiaddr address_;
};

namespace detail {
template <class T>
concept has_prove = requires(stream_socket& s) { T::prove(s); };
template <class T>
concept has_check = requires(stream_socket& s) { T::check(s); };
template <class A>
concept auth_awaitable = std::same_as<A, awaitable<result<void>>> ||
                         std::same_as<A, awaitable<result<std::unique_ptr<secure_stream>>>>;
}  // namespace detail

/// Whether transport `T` authenticates its connections: the runtime runs `T::prove` on each
/// socket it connects and `T::check` on each it accepts, before any message. Each returns
/// `result<void>` (the peer is authenticated: tcp, see transport/auth.hpp) or, for a
/// transport that also secures the bytes, the session they go through from then on
/// (`result<std::unique_ptr<secure_stream>>`: tls).
template <class T>
inline constexpr bool authenticates = requires(stream_socket& s) {
  { T::prove(s) } -> detail::auth_awaitable;
  { T::check(s) } -> detail::auth_awaitable;
};

/// What every transport provides: which addresses it serves (`accepts`), where an actor of
/// a given name binds (`bind_addr`), where a tree's registrar is unless told otherwise
/// (`default_registry`), and listening and connecting; optionally, authentication (both
/// `prove` and `check`, as `authenticates` says, or neither).
template <class T>
concept transport = requires(const boost::asio::any_io_executor& ex, const multiaddr& a,
                             std::string_view actor_name) {
  { T::name } -> std::convertible_to<std::string_view>;
  { T::accepts(a) } -> std::same_as<bool>;
  { T::bind_addr(actor_name) } -> std::same_as<multiaddr>;
  { T::default_registry() } -> std::same_as<multiaddr>;
  { T::listen(ex, a) } -> std::same_as<result<listener>>;
  { T::connect(ex, a) } -> std::same_as<awaitable<result<stream_socket>>>;
} && (authenticates<T> || (!detail::has_prove<T> && !detail::has_check<T>));

/// One side of a transport's authentication, erased: the secure session, if the transport
/// makes one. Null for a transport without authentication.
using auth_step = awaitable<result<std::unique_ptr<secure_stream>>> (*)(stream_socket&);

namespace detail {
/// `step`, erased: a step that only authenticates makes no session.
template <auto Step>
awaitable<result<std::unique_ptr<secure_stream>>> erased_step(stream_socket& s) {
  if constexpr (std::same_as<decltype(Step(s)), awaitable<result<void>>>) {
    auto r = co_await Step(s);
    if (!r) co_return r.error();
    co_return std::unique_ptr<secure_stream>();
  } else {
    co_return co_await Step(s);
  }
}
}  // namespace detail

/// `T::prove`, erased; null without authentication.
template <class T>
constexpr auth_step prover() {
  if constexpr (authenticates<T>) {
    return &detail::erased_step<&T::prove>;
  } else {
    return nullptr;
  }
}

/// `T::check`, erased; null without authentication.
template <class T>
constexpr auth_step checker() {
  if constexpr (authenticates<T>) {
    return &detail::erased_step<&T::check>;
  } else {
    return nullptr;
  }
}

/// Who is at the other end of `s`, for messages: "1.2.3.4:5678", "[::1]:5678", or "a local
/// peer" (UNIX sockets), "an unknown peer" if the socket cannot say.
std::string peer_of(const stream_socket& s);

/// A connected pair of local (AF_UNIX) stream sockets: ours, and the other end as a plain
/// close-on-exec descriptor to hand to a child (a thread, or a process that inherits it),
/// which adopts it with `adopt_local`. What spawn backends that need no connect-back use.
result<std::pair<stream_socket, int>> local_pair(const boost::asio::any_io_executor& ex);

/// Adopts `fd`, a connected local stream socket (it is closed if that fails).
result<stream_socket> adopt_local(const boost::asio::any_io_executor& ex, int fd);

namespace detail {

/// Maps a socket error to a wire error: EOF and resets mean the peer is gone.
inline error socket_error(const boost::system::error_code& ec, std::string_view what) {
  namespace ae = boost::asio::error;
  if (ec == ae::eof || ec == ae::connection_reset || ec == ae::broken_pipe ||
      ec == ae::connection_aborted) {
    return error(make_error_code(wire_errc::transport_closed),
                 std::string(what) + ": peer closed the connection (" + ec.message() + ")");
  }
  return error(ec, std::string(what) + ": " + ec.message());
}

/// Connects a new socket to `ep` (any endpoint type convertible to a generic one).
template <class Endpoint>
awaitable<result<stream_socket>> connect_socket(const boost::asio::any_io_executor& ex,
                                                const Endpoint& ep, const multiaddr& a) {
  stream_socket sock(ex);
  auto [ec] = co_await sock.async_connect(ep, boost::asio::as_tuple(boost::asio::use_awaitable));
  if (ec == boost::asio::error::operation_aborted) throw_cancelled();
  if (ec) co_return error(ec, "cannot connect to " + a.str() + ": " + ec.message());
  co_return std::move(sock);
}

/// An error unless the peer of local socket `s` runs as this process's user. The peer is
/// named in the message as `role` and `a` ("the listener at /unix/..."), which are only
/// formatted on a refusal.
std::optional<error> refuse_other_users(stream_socket& s, std::string_view role, const multiaddr& a);

/// The error for an address of the wrong protocol.
error wrong_protocol(std::string_view transport, std::string_view op, const multiaddr& a);

}  // namespace detail

}  // namespace tractor::transport

#if TRACTOR_HEADER_ONLY
#include <tractor/transport/impl/transport.ipp>
#endif
