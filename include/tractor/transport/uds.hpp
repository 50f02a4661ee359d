// tractor/transport/uds.hpp — UNIX-domain stream sockets.
//
// Socket files live in a per-user runtime directory: `$XDG_RUNTIME_DIR/tractor`, or
// `/tmp/tractor-<uid>` when that is unset (as inside `bazel test`). The directory is created
// mode 0700 and must belong to us; socket files are made 0600 and removed when their
// listener closes. An actor's socket is `<name>@<pid>.sock`; a name that is unsafe in a path
// or would make it too long for `sun_path` is replaced by a hash of it (tractor's rule).
#pragma once

#include <tractor/transport/transport.hpp>

#include <boost/asio/local/stream_protocol.hpp>

#include <cstdlib>
#include <functional>
#include <mutex>

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/un.h>

namespace tractor::transport {

struct uds {
  static constexpr std::string_view name = "uds";

  /// The runtime directory, created 0700 if missing. Fails if it is not a directory we own.
  static result<std::string> runtime_dir();

  /// `<runtime dir>/<name>@<pid>.sock`, hashed when `actor_name` is unsafe or too long.
  static multiaddr bind_addr(std::string_view actor_name) { return bind_addr_of(actor_name, ::getpid()); }

  /// The address actor `actor_name` in process `pid` binds by default.
  static multiaddr bind_addr_of(std::string_view actor_name, pid_t pid);

  /// Removes the socket file a killed actor could not remove itself (tractor's parent
  /// unlinks it after SIGKILL-reaping a child).
  static void forget_dead(std::string_view actor_name, pid_t pid) {
    ::unlink(bind_addr_of(actor_name, pid).path().c_str());
  }

  static bool accepts(const multiaddr& a) { return a.proto() == multiaddr::protocol::unix_socket; }

  /// Where a tree's registrar listens unless told otherwise (tractor's `registry@1616.sock`
  /// in the runtime directory).
  static multiaddr default_registry() { return bind_addr_of("registry", 1616); }

  /// Binds and listens; a stale socket file left by a dead process is replaced.
  static result<listener> listen(const boost::asio::any_io_executor& ex, const multiaddr& a);

  /// Connects. Cancellation: interrupted at once (`operation_aborted`).
  static awaitable<result<stream_socket>> connect(const boost::asio::any_io_executor& ex,
                                                  const multiaddr& a);
};

static_assert(transport<uds>);

// -- definitions -------------------------------------------------------------------------

namespace detail {
/// The runtime dir last verified in this process (every actor binds in it: checking it once
/// saves each bind two syscalls). Forgotten when a bind finds it gone.
struct verified_dir {
  std::mutex m;
  std::string dir;
  static verified_dir& get() {
    static verified_dir v;
    return v;
  }
  bool is(const std::string& d) {
    std::lock_guard lock(m);
    return dir == d;
  }
  void set(std::string d) {
    std::lock_guard lock(m);
    dir = std::move(d);
  }
};
}  // namespace detail

inline result<std::string> uds::runtime_dir() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  std::string dir = (xdg && *xdg) ? std::string(xdg) + "/tractor"
                                  : "/tmp/tractor-" + std::to_string(::getuid());
  if (detail::verified_dir::get().is(dir)) return dir;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return error(boost::system::error_code(errno, boost::system::system_category()),
                 "cannot create runtime dir " + dir);
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid()) {
    return error(make_error_code(boost::system::errc::permission_denied),
                 "runtime dir " + dir + " is not a directory owned by this user");
  }
  if ((st.st_mode & 0777) != 0700) ::chmod(dir.c_str(), 0700);
  detail::verified_dir::get().set(dir);
  return dir;
}

namespace detail {
/// "" in the host's pid namespace; otherwise "." and the namespace's inode. Pids repeat
/// across pid namespaces (containers, sandboxes) that may share one runtime dir, so there
/// `name@pid` alone would collide.
inline const std::string& pid_namespace_tag() {
  static const std::string tag = [] {
    constexpr ino_t host_pid_namespace = 0xEFFFFFFCU;  // the kernel's PROC_PID_INIT_INO
    struct stat st {};
    if (::stat("/proc/self/ns/pid", &st) != 0 || st.st_ino == host_pid_namespace) return std::string();
    return "." + std::to_string(st.st_ino);
  }();
  return tag;
}
}  // namespace detail

inline multiaddr uds::bind_addr_of(std::string_view actor_name, pid_t owner) {
  auto dir = runtime_dir();
  const std::string base = dir ? dir.value() : "/tmp";
  const std::string pid = std::to_string(owner) + detail::pid_namespace_tag();
  std::string path = base + "/" + std::string(actor_name) + "@" + pid + ".sock";
  const bool unsafe = actor_name.empty() || actor_name.find('/') != std::string_view::npos ||
                      actor_name.find('\0') != std::string_view::npos;
  if (unsafe || path.size() >= sizeof(sockaddr_un::sun_path)) {
    path = fmt::format("{}/actor.{:016x}@{}.sock", base, std::hash<std::string_view>{}(actor_name),
                       pid);
  }
  return multiaddr::unix_socket(std::move(path));
}

inline result<listener> uds::listen(const boost::asio::any_io_executor& ex, const multiaddr& a) {
  if (!accepts(a)) return detail::wrong_protocol(name, "listen on", a);
  if (a.path().size() >= sizeof(sockaddr_un::sun_path)) {
    return error(make_error_code(wire_errc::bad_address), "socket path too long: " + a.path());
  }
  acceptor_socket acc(ex);
  boost::system::error_code ec;
  const boost::asio::local::stream_protocol::endpoint ep(a.path());
  acc.open(boost::asio::generic::stream_protocol(AF_UNIX, 0), ec);
  // Linux makes the socket file with the socket's own mode (less the umask): set before the
  // bind, the file is private from its first moment, and needs no chmod after.
  if (!ec) ::fchmod(acc.native_handle(), 0600);
  const std::string parent = a.path().substr(0, a.path().rfind('/'));
  const bool in_runtime_dir = detail::verified_dir::get().is(parent);
  if (!ec) {
    acc.bind(ep, ec);
    if (ec == boost::system::errc::no_such_file_or_directory && in_runtime_dir) {
      // The runtime dir went away since we checked it: make it again.
      detail::verified_dir::get().set("");
      if (runtime_dir()) {
        ec.clear();
        acc.bind(ep, ec);
      }
    }
    if (ec == boost::asio::error::address_in_use) {
      // Someone's file: live listener or stale leftover? Only a refused connect proves stale.
      boost::asio::local::stream_protocol::socket probe(ex);
      boost::system::error_code probe_ec;
      probe.connect(ep, probe_ec);
      if (probe_ec == boost::asio::error::connection_refused) {
        ::unlink(a.path().c_str());
        ec.clear();
        acc.bind(ep, ec);
      }
    }
  }
  if (!ec) acc.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return error(ec, "cannot listen on " + a.str() + ": " + ec.message());
  return listener(std::move(acc), a);
}

inline awaitable<result<stream_socket>> uds::connect(const boost::asio::any_io_executor& ex,
                                                     const multiaddr& a) {
  if (!accepts(a)) co_return detail::wrong_protocol(name, "connect to", a);
  const boost::asio::local::stream_protocol::endpoint ep(a.path());
  co_return co_await detail::connect_socket(ex, ep, a);
}

}  // namespace tractor::transport
