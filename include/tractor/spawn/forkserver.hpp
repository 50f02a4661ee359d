// tractor/spawn/forkserver.hpp — the `forkserver` spawn backend: children forked, without
// exec, from a small server process forked off this program before it grew.
//
// Forking a large process is slow (the page tables are copied: ~14 ms for 256 MiB here) and
// hazardous (the child inherits descriptors, locks held by other threads, the event loop's
// state). So a program forks one small helper early — `forkserver::start_server()`, first
// thing in `main`, or `run_main` on entry when its tree uses this backend — and every child
// is forked from that helper's only thread, which never ran an event loop. The child
// closes every descriptor but stdio, its link to the server and its channel to its parent,
// resets signal dispositions and mask, takes the parent's current environment, and runs the
// child runtime on a fresh `io_context`; it never runs destructors of what it inherited (it
// leaves with `_exit`).
//
// Every actor forked this way keeps a link to the same server, so nested actors spawn through
// it too (no second fork of a grown process). The server is every such actor's real parent:
// it reaps them and reports their exit status; when an actor's link closes (it exited or
// died), the server kills the children that actor started (the parent-death rule), and when
// the program's own link closes, it kills what is left and exits. Children die with the
// server (a parent-death signal), and the server dies with the program.
//
// Spawning does not wait for a fork: the server keeps spare children forked and prepared ahead
// of time (`ps` shows them as `_forkserver (spare)`; each has made its own copies of what a
// boot writes and rehearsed the last request's entry, see `child_boot::rehearse`) and forks
// the next a moment after one is taken. The program is offered two spares of its own: it hands
// its request straight to one, which boots on the program's CPU (no wakeup of another CPU, no
// hop through the server; the child gets its CPU mask back once booted). Requests that come
// through the server (when neither was ready, or from a nested actor) go to one more spare,
// made once the first such request came; a nested actor that spawned through the server is
// then offered a spare of its own (the first four such actors, one each).
// The parent's runtime passes the child its channel (one end of a socketpair, with the
// request), so the child needs no connect-back either.
//
// The compiled part is tools/forkserver/forkserver.cc (Bazel: `//tools/forkserver`, a
// dependency of `//:runtime`); a build without Bazel compiles that one file into the program.
//
//     int main(int argc, char** argv) {
//       tractor::spawn::forkserver::start_server();   // before anything else
//       return tractor::run_main<my_tree>(argc, argv, body);
//     }
#pragma once

#include <tractor/spawn/backend.hpp>

#include <optional>
#include <vector>

#include <fcntl.h>
#include <sched.h>

namespace tractor::spawn {

namespace detail {
/// What the server answered (or the spare it offered us took): the child's pid, a pidfd for
/// it and the read end of its status pipe. Made in tools/forkserver/forkserver.cc.
struct forked_child {
  pid_t pid;
  int pidfd;
  int status_fd;
  /// Its CPU mask, if it was put on the spawning thread's CPU for its boot.
  std::optional<cpu_set_t> unpin_to = std::nullopt;
  /// The offered spare's request socket (-1: none), closed with the handle, not at once:
  /// while sockets are in flight between processes (a spare's, offered to us and not read
  /// yet, nearly always), Linux has every release of a unix socket queue its collector of
  /// in-flight descriptors on another CPU, ~15 us of the spawn here.
  int request_fd = -1;
};
}  // namespace detail

/// A child the forkserver forked: signalled through a pidfd the server passed us; its exit
/// status comes through a pipe the server writes when it reaps the child (only the server,
/// its parent, can).
class forked_process final : public pidfd_child {
 public:
  /// Adopts the child's descriptors (all closed with the handle). A child pinned to the
  /// spawning thread's CPU for its boot gets `unpin_to` as its CPU mask once booted.
  forked_process(const boost::asio::any_io_executor& ex, const detail::forked_child& c)
      : pidfd_child(boost::asio::posix::stream_descriptor(ex, c.pidfd), c.pid), status_pipe_(ex, c.status_fd),
        unpin_to_(c.unpin_to), request_fd_(c.request_fd) {
    ::fcntl(c.status_fd, F_SETFL, ::fcntl(c.status_fd, F_GETFL) | O_NONBLOCK);
  }
  ~forked_process() override;

  awaitable<exit_status> wait() override;
  std::optional<exit_status> poll() override;
  void booted() noexcept override;

 private:
  boost::asio::posix::stream_descriptor status_pipe_;
  std::optional<cpu_set_t> unpin_to_;
  int request_fd_;
};

/// The `forkserver` backend.
struct forkserver {
  static constexpr std::string_view name = "forkserver";
  /// `child_boot::channel_fd` travels to the server with the request; the child inherits it.
  static constexpr bool adopts_channel = true;

  /// Forks the child through the server (starting the server now if this process has none:
  /// then it is a copy of the process as it is at this moment). With a spare offered to this
  /// process it does not wait: the request goes to the spare, which then runs on the calling
  /// thread's CPU until the handle's `booted()` (the runtime calls it once the child has its
  /// SpawnSpec). Otherwise it blocks for one round trip to the server (which forwards it to
  /// the spare it keeps for requests that come through it, or forks).
  static result<std::unique_ptr<child_handle>> start(const boost::asio::any_io_executor& ex,
                                                     const spawn_request& req);

  /// Starts this process's forkserver unless it has one (a child forked by a forkserver uses
  /// its parent's). Call it before the program allocates much, starts threads or runs an
  /// event loop: every child is a copy of the process as it is now.
  static result<void> start_server();

  /// Closes this process's link to the server. If this process started the server, the
  /// server kills the children it still has, reaps them and exits, and this call waits for
  /// that; otherwise the server kills the children this process started.
  static void stop_server();

  /// The spares the server offered this process (the program that started the server two at
  /// a time; the first few other actor processes that spawned through the server one each),
  /// by pid, in the order spawns take them: its next spawn goes straight to the first, with
  /// no round trip to the server. Reads the offers that have arrived and lets go of those
  /// whose spare died; never waits.
  static std::vector<pid_t> held_spares();

  /// The server's pid, or 0 if this process has no link to one.
  static pid_t server_pid() noexcept;

  /// What `ps` shows for the server; its spare shows this, then " (spare)".
  static constexpr std::string_view server_title = "_forkserver";

  /// Starts the server for a scope if none runs, and stops it at the scope's end if the
  /// scope started it (what `run_main` does).
  class session {
   public:
    session() : started_(server_pid() == 0 && start_server().has_value()) {}
    ~session() {
      if (started_) stop_server();
    }
    session(const session&) = delete;
    session& operator=(const session&) = delete;

   private:
    bool started_;
  };
};

static_assert(backend<forkserver>);

namespace detail {

result<forked_child> fork_through_server(const spawn_request& req);

}  // namespace detail

// -- definitions -------------------------------------------------------------------------

inline result<std::unique_ptr<child_handle>> forkserver::start(const boost::asio::any_io_executor& ex,
                                                               const spawn_request& req) {
  BOOST_OUTCOME_TRY(auto c, detail::fork_through_server(req));
  return std::unique_ptr<child_handle>(new forked_process(ex, c));
}

inline void forked_process::booted() noexcept {
  if (!unpin_to_) return;
  ::sched_setaffinity(pid(), sizeof *unpin_to_, &*unpin_to_);
  unpin_to_.reset();
}

inline forked_process::~forked_process() {
  if (request_fd_ >= 0) ::close(request_fd_);
  if (status_) return;
  // Structured teardown should have waited already; this is the last line of defence.
  send(SIGKILL);
  const int fd = status_pipe_.native_handle();
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  int wstatus = 0;
  while (::read(fd, &wstatus, sizeof wstatus) < 0 && errno == EINTR) {
  }
}

inline std::optional<exit_status> forked_process::poll() {
  if (status_) return status_;
  int wstatus = 0;
  const ssize_t n = ::read(status_pipe_.native_handle(), &wstatus, sizeof wstatus);
  if (n == sizeof wstatus) {
    status_ = exit_status::from_wait(wstatus);
  } else if (n == 0) {
    // The server went away without reporting: its children die with it (parent-death signal).
    status_ = exit_status{.exited = false, .code = 0, .signal = SIGKILL, .abandoned = false};
  }
  return status_;
}

inline awaitable<exit_status> forked_process::wait() {
  while (!poll()) {
    co_await status_pipe_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                                     boost::asio::use_awaitable);
  }
  co_return *status_;
}

}  // namespace tractor::spawn
