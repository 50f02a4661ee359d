// tractor/transport/uds.hpp — UNIX-domain stream sockets in Linux's abstract namespace.
//
// An address is a name, not a file: `/unix/<name>` binds the abstract socket `\0<name>`, so
// nothing is ever made in the filesystem, and a name is released by the kernel the moment
// its last descriptor closes, however the process ended (SIGKILL included). Nothing can be
// left behind for anyone to sweep, and a stale name can never block a bind.
//
// The trade-off: abstract names have no file permissions. Any process in the same network
// namespace may connect, or bind a name first. So both ends check the other's credentials
// (SO_PEERCRED): a listener refuses a peer of another user, and a connect refuses a
// listener of another user (someone squatting an actor's or the registrar's name). Actors
// of one tree must share a network namespace (containers joined only by a shared directory
// cannot reach each other; use TCP there).
//
// An actor's default name is `<prefix>/<actor name>@<pid>`. The prefix is
// `$XDG_RUNTIME_DIR/tractor`, or `/tmp/tractor-<uid>` when that is unset: a per-user
// namespace of names (no directory is made). A name that is unsafe, or too long for
// `sun_path`, is replaced by a hash of it (tractor's rule). `ss -xlp` lists them as
// `@<name>`.
#pragma once

#include <tractor/config.hpp>

#include <tractor/transport/transport.hpp>

#include <boost/asio/local/stream_protocol.hpp>

#include <cstdlib>
#include <functional>

#include <fmt/core.h>
#include <sys/socket.h>
#include <sys/un.h>

namespace tractor::transport {

struct uds {
  static constexpr std::string_view name = "uds";

  /// The per-user prefix of default names (see the file comment). Nothing is created.
  static std::string name_prefix();

  /// `<prefix>/<name>@<pid>`, hashed when `actor_name` is unsafe or too long.
  static multiaddr bind_addr(std::string_view actor_name) { return bind_addr_of(actor_name, ::getpid()); }

  /// The address actor `actor_name` in process `pid` binds by default.
  static multiaddr bind_addr_of(std::string_view actor_name, pid_t pid);

  static bool accepts(const multiaddr& a) { return a.proto() == multiaddr::protocol::unix_socket; }

  /// Where a tree's registrar listens unless told otherwise (tractor's `registry@1616`).
  static multiaddr default_registry() { return bind_addr_of("registry", 1616); }

  /// Binds and listens. A name in use is `address_in_use` (its holder is alive: a dead
  /// process holds no name). Accepting refuses peers of another user (see `listener`).
  static result<listener> listen(const boost::asio::any_io_executor& ex, const multiaddr& a);

  /// Connects, and refuses a listener that belongs to another user
  /// (`boost::system::errc::permission_denied`).
  ///
  /// Cancellation: interrupted at once (`operation_aborted`).
  static awaitable<result<stream_socket>> connect(const boost::asio::any_io_executor& ex,
                                                  const multiaddr& a);
};

static_assert(transport<uds>);

}  // namespace tractor::transport

#if TRACTOR_HEADER_ONLY
#include <tractor/transport/impl/uds.ipp>
#endif
