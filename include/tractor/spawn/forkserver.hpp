// tractor/spawn/forkserver.hpp — the `forkserver` spawn backend: children forked, without
// exec, from a small server process forked off this program before it grew.
//
// Forking a grown process is slow (its page tables are copied: tools/bench/spawn_bench) and
// hazardous (other threads' locks are copied held, descriptors are inherited). So the program
// forks one small server early (`start_server`, or `run_main` through the backend's
// `session`), and every child is forked from that server's only thread, which never ran an
// event loop. A child keeps only stdio, its link to the server and its channel to its parent,
// restores default signal handling, takes the parent's current environment, runs the child
// runtime on a fresh `io_context` and leaves with `_exit` (no inherited object is destroyed).
//
// Nested actors spawn through the same server, which is every such actor's real parent: it
// reaps them and reports each exit status through a pipe; when an actor's link closes, it
// kills the children that actor started, and when the program's closes, all of them, and
// exits. Children die with the server, the server with the program. Every child starts as
// a spare, forked ahead (`_forkserver (spare)` in `ps`) and handed the next request; a clerk
// process (`_forkserver (clerk)`) answers the links and holds each child's descriptors, so
// that a fork does not copy them. The compiled part is tools/forkserver/forkserver.cc
// (Bazel: `//tools/forkserver`; without Bazel, compile that file into the program).
//
//     int main(int argc, char** argv) {
//       tractor::spawn::forkserver::start_server();   // before anything else
//       return tractor::run_main<my_tree>(argc, argv, body);
//     }
#pragma once

#include <tractor/config.hpp>

#include <tractor/spawn/backend.hpp>

#include <fcntl.h>

namespace tractor::spawn {

namespace detail {
/// What the server answered (or the spare it offered us took): the child's pid, a pidfd for
/// it and the read end of its status pipe. Made in tools/forkserver/forkserver.cc.
struct forked_child {
  pid_t pid;
  int pidfd;
  int status_fd;
};
}  // namespace detail

/// A child the forkserver forked: signalled through a pidfd the server passed us; its exit
/// status comes through a pipe the server writes when it reaps the child (only the server,
/// its parent, can).
class forked_process final : public pidfd_child {
 public:
  /// Adopts the child's descriptors (all closed with the handle).
  forked_process(const boost::asio::any_io_executor& ex, const detail::forked_child& c)
      : pidfd_child(boost::asio::posix::stream_descriptor(ex, c.pidfd), c.pid), status_pipe_(ex, c.status_fd) {
    ::fcntl(c.status_fd, F_SETFL, ::fcntl(c.status_fd, F_GETFL) | O_NONBLOCK);
  }
  ~forked_process() override;

  awaitable<exit_status> wait() override;
  std::optional<exit_status> poll() override;

 private:
  boost::asio::posix::stream_descriptor status_pipe_;
};

/// The `forkserver` backend.
struct forkserver {
  static constexpr std::string_view name = "forkserver";
  /// `child_boot::channel_fd` travels to the server with the request; the child inherits it.
  static constexpr bool adopts_channel = true;
  /// `child_boot::handover_fd` travels with it.
  static constexpr bool carries_handover = true;

  /// Forks the child through the server (starting the server now if this process has none:
  /// then it is a copy of the process as it is at this moment, and dies with the thread that
  /// started it). Blocks for one round trip to the server, which hands the request to its
  /// spare (forking one now if none is ready); callable from any thread (the runtime calls
  /// it off its event loop).
  /// A server that does not answer within `req.start_timeout` fails the spawn, and this
  /// process gives up its link: a server it started is killed (its children with it).
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

  /// The server's pid, or 0 if this process has no link to one.
  static pid_t server_pid() noexcept;

  /// What `ps` shows for the server; its spare shows this, then " (spare)".
  static constexpr std::string_view server_title = "_forkserver";

  /// How the forkserver's own processes end when they cannot go on. A spare that cannot
  /// become the requested child ends with one of these, which its spawner then reads as its
  /// child's exit code: each has the value of the child actor's code of the same meaning
  /// (`runtime::child_exit`), so the runtime describes it.
  enum class exit_code : int {
    ok = 0,                 ///< its work is over (the program's link closed)
    parent_gone = 10,       ///< its parent died before it could tie its life to it
    bad_request = 11,       ///< a spare's request was malformed (`child_exit::bad_boot`)
    out_of_resources = 13,  ///< it could not make its descriptors
  };

  /// Starts the server for a scope if none runs, and stops it at the scope's end if the
  /// scope started it: the backend's per-program setup (`spawn::session`), which `run_main`
  /// holds for the tree's lifetime.
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

}  // namespace tractor::spawn

#if TRACTOR_HEADER_ONLY
#include <tractor/spawn/impl/forkserver.ipp>
#endif
