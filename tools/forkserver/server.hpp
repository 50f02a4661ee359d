// The forkserver's own processes and the processes it forks before they become actors: the
// request they are sent, the server (it forks spares and reaps them), a child's
// preparation. The server's clerk, which answers requests, is clerk.hpp. Private to
// forkserver.cc, the spawner's side (starting the server, asking it for a child).
//
// Each actor process has one SOCK_SEQPACKET link to the clerk. A request is one packet: a
// `request_head`, the child's boot and title as `spawn::prestarted` hands them over
// (spawn/detail/handover.hpp), then the requester's environment ("k=v\0" entries); the
// child's channel and handover socket travel with it as SCM_RIGHTS when it has them. The
// answer is a `reply`, with the child's pidfd and the read end of its status pipe.
//
// Why two processes: a fork copies the forking process's descriptor table, and the child
// must then close all it inherited. The clerk holds three descriptors per live child (its
// link, pidfd and status pipe); the server, which forks, holds a handful whatever the number
// of children, so a spawn costs the same with 1,000 children alive as with none. The server
// stays every actor's parent: it alone can reap them, and what lists a program's processes
// (`tractor-ps`, the tests' leak checks) finds them under it.
//
// The server forks only spares, one at a time: a child forked ahead and waiting on its own
// socket, which it hands to the clerk with the spare's pidfd. The clerk forwards the next
// request to it, so that a spawn waits neither for a fork nor for the server, and tells the
// server it took it, and the server forks the next one at once. A spare that dies, or a fork
// that fails, is replaced only when the clerk wants one: nothing forks in a loop while
// something kills every spare or the process limit is reached.
#pragma once

#include <tractor/core/detail/descriptor_passing.hpp>
#include <tractor/spawn/detail/handover.hpp>
#include <tractor/spawn/detail/title.hpp>
#include <tractor/spawn/forkserver.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tractor::spawn::server_side {

using tractor::detail::passed_fds;

inline constexpr std::uint32_t request_magic = 0x74666b37;  // "tfk7"
/// Under the default socket send buffer, which bounds a packet.
inline constexpr std::size_t max_request = 160 * 1024;

struct request_head {
  std::uint32_t magic;
  std::uint8_t with_handover;
  std::uint64_t entry;
};

/// The answer: `pid` > 0 (with its pidfd and status pipe), or the errno that failed it.
struct reply {
  std::int32_t pid;
  std::int32_t err;
};

struct request {
  child_entry entry = nullptr;
  child_boot boot;  // its descriptors are the request's
  std::string title;
  std::string_view env;
};

/// `req`'s packet (false: too big).
inline bool encode(const spawn_request& req, std::string& out) {
  request_head h{};  // zero-initialised, its padding too: no stray bytes go out
  h.magic = request_magic;
  h.with_handover = req.boot.handover_fd >= 0;
  h.entry = reinterpret_cast<std::uintptr_t>(req.run_child);
  out.assign(reinterpret_cast<const char*>(&h), sizeof h);
  out += detail::handover_packet(req);
  for (char** e = environ; e && *e; ++e) out.append(*e, std::strlen(*e) + 1);
  return out.size() <= max_request;
}

/// Parses a packet that came with descriptors `fds` (they stay `fds`'s); false if it is
/// malformed or does not come with what it announces.
inline bool parse(std::string_view packet, const passed_fds& fds, request& out) {
  request_head h{};
  bool with_channel = false;
  if (packet.size() < sizeof h || fds.truncated) return false;
  std::memcpy(&h, packet.data(), sizeof h);
  packet.remove_prefix(sizeof h);
  if (h.magic != request_magic || h.entry == 0 || !detail::read_boot(packet, out.boot, out.title, with_channel) ||
      fds.count != std::size_t{with_channel} + std::size_t{h.with_handover != 0}) {
    return false;
  }
  out.entry = reinterpret_cast<child_entry>(static_cast<std::uintptr_t>(h.entry));
  out.boot.channel_fd = with_channel ? fds.at(0) : -1;
  out.boot.handover_fd = h.with_handover ? fds.at(fds.count - 1) : -1;
  out.env = packet;
  return true;
}

inline void close_each(std::initializer_list<int> fds) {
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
}

using exit_code = forkserver::exit_code;

[[noreturn]] inline void exit_with(exit_code code) { ::_exit(static_cast<int>(code)); }

/// This process's link to its server.
struct link_state {
  std::mutex m;
  int fd = -1;
  pid_t server = 0;
  bool owns_server = false;  // started it: must reap it
};
inline link_state& link() {
  static link_state s;
  return s;
}

/// Ctrl-C and SIGTERM to the process group are for the actors, which cancel gracefully; the
/// server outlives them (its death kills them) and ends when the program's link closes.
/// SIGPIPE: a status written for a child whose spawner died meanwhile finds no reader.
inline constexpr int server_ignores[] = {SIGINT, SIGTERM, SIGPIPE};

/// In a process just forked from `parent`: closes every descriptor but stdio and those of
/// `keep` (the open ones), and ties its life to its parent's (or exits, if the parent died
/// before it could).
inline void keep_only_and_die_with(pid_t parent, std::initializer_list<int> keep) {
  std::vector<unsigned> kept;
  for (int fd : keep) {
    if (fd > 2) kept.push_back(static_cast<unsigned>(fd));
  }
  std::sort(kept.begin(), kept.end());
  unsigned from = 3;
  for (unsigned fd : kept) {
    if (fd > from) ::syscall(SYS_close_range, from, fd - 1, 0);
    from = std::max(from, fd + 1);
  }
  ::syscall(SYS_close_range, from, ~0u, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) exit_with(exit_code::parent_gone);
}

/// In a spare the server just forked: keeps only stdio and its link (the request comes on it,
/// with the child's own descriptors), and dies with the server. The link stays the child's
/// way to spawn through the server.
inline void prepare_child(int link_fd, pid_t server) {
  keep_only_and_die_with(server, {link_fd});
  link_state& s = link();  // its mutex unlocked: the server released it as it started
  s.fd = link_fd;
  s.server = server;
  s.owns_server = false;
}

/// Then: becomes the requested actor, with the requester's environment; never returns.
[[noreturn]] inline void become_child(const request& r) {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : server_ignores) ::signal(sig, SIG_DFL);
  ::clearenv();
  for (std::size_t at = 0, end; (end = r.env.find('\0', at)) != std::string_view::npos; at = end + 1) {
    if (end > at) ::putenv(const_cast<char*>(r.env.data() + at));  // the buffer is ours to keep
  }
  detail::write_title(r.title);
  ::prctl(PR_SET_NAME, r.boot.name.substr(0, 15).c_str());
  const int code = r.entry(r.boot);
  std::fflush(nullptr);
  ::_exit(code);
}

/// What the server tells its clerk: a spare ready (`pid`, its socket and pidfd attached; or
/// -1 and `value` the errno of the fork that failed), or a child reaped (`value` its wait
/// status; a spare's too). In the order they happened, on one socket: a pid is reported
/// reaped before a new child can reuse it. What the clerk tells the server: it took the spare
/// `pid`, or it wants one now.
struct note {
  std::int32_t kind;
  std::int32_t pid;
  std::int32_t value;
};
inline constexpr std::int32_t spare_note = 1;
inline constexpr std::int32_t exited_note = 2;
inline constexpr std::int32_t taken_note = 3;
inline constexpr std::int32_t wanted_note = 4;

/// Sends request `packet` (`n` bytes) to a spare (`to`) with the descriptors it announces
/// (`fds`); true if it all went.
inline bool send_request(int to, const char* packet, std::size_t n, const passed_fds& fds) {
  return tractor::detail::send_with_fds(to, packet, n, std::span<const int>(fds.fd.data(), fds.count)) ==
         static_cast<ssize_t>(n);
}

/// The server: every actor's parent. It keeps the clerk supplied with spares, reaps its
/// children and reports each to the clerk.
struct server {
  int clerk = -1;  // the link to the clerk: its end ends the server
  pid_t clerk_pid = -1;
  int sigchld = -1;
  const pid_t self = ::getpid();
  pid_t spare = -1;     // the spare the clerk holds, until it is taken or ends
  bool wanted = false;  // the clerk asked for a spare while this one was on its way or dying
  std::unordered_set<pid_t> alive;  // forked and not reaped, the spare too
  std::vector<char> buf = std::vector<char>(max_request);  // where a spare reads its request

  /// Forks the clerk, which serves the program's link `program_fd` (taken: closed here) and
  /// tells it `ready` once serving. Exits if it cannot.
  void start(int program_fd, void (*run_clerk)(int program_fd, int server_fd)) {
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &chld, nullptr);  // children unblock everything (become_child)
    sigchld = ::signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    int pair[2];
    if (sigchld < 0 || ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
      exit_with(exit_code::out_of_resources);
    }
    clerk_pid = ::fork();
    if (clerk_pid == 0) {
      keep_only_and_die_with(self, {program_fd, pair[1]});
      run_clerk(program_fd, pair[1]);
      exit_with(exit_code::ok);
    }
    ::close(pair[1]);
    ::close(program_fd);
    if (clerk_pid < 0) exit_with(exit_code::out_of_resources);
    clerk = pair[0];
  }

  [[noreturn]] void serve() {
    fork_spare();
    for (;;) {
      pollfd ready[2] = {{sigchld, POLLIN, 0}, {clerk, POLLIN, 0}};
      if (::poll(ready, 2, -1) < 0) continue;
      // Exits first: a pid is reported reaped before a new spare can reuse it.
      if (ready[0].revents) reap();
      if (ready[1].revents == 0) continue;
      note n{};
      const ssize_t got = ::recv(clerk, &n, sizeof n, MSG_DONTWAIT);
      if (got == 0 || (got < 0 && errno != EAGAIN)) end();
      if (got != static_cast<ssize_t>(sizeof n)) continue;
      // A spawn just took one (it may have died meanwhile): another is likely to follow (a
      // burst), so the next is forked now.
      if (n.kind == taken_note && (n.pid == spare || spare < 0)) fork_spare();
      if (n.kind == wanted_note) {
        if (spare < 0) fork_spare();
        else wanted = true;  // the one on its way serves; if it dies, the next does
      }
    }
  }

  /// Forks a spare, which waits on its socket for a request, and hands the clerk that socket
  /// and the spare's pidfd; or the errno that failed the fork (a request waiting for a spare
  /// fails with it; the next request asks again).
  void fork_spare() {
    spare = -1;
    wanted = false;
    int pair[2];
    const pid_t pid = ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0 ? ::fork() : -2;
    if (pid == 0) {
      prepare_child(pair[1], self);
      detail::write_title(std::string(forkserver::server_title) + " (spare)");
      passed_fds fds;
      const ssize_t n = tractor::detail::recv_with_fds(pair[1], buf.data(), buf.size(), fds);
      if (n <= 0) exit_with(exit_code::ok);  // the clerk is closing
      request r;
      if (!parse(std::string_view(buf.data(), static_cast<std::size_t>(n)), fds, r)) exit_with(exit_code::bad_request);
      become_child(r);  // its socket to the clerk stays its link (prepare_child)
    }
    // A failure reaches a request waiting for a spare as its errno.
    const auto failed = [this](int err) {
      const note n{spare_note, -1, err};
      (void)!::send(clerk, &n, sizeof n, MSG_NOSIGNAL);
    };
    if (pid < 0) {
      const int err = errno;
      if (pid == -1) close_each({pair[0], pair[1]});
      return failed(err);
    }
    ::close(pair[1]);
    alive.insert(pid);  // reported when reaped, whether the clerk took it or not
    spare = pid;        // until the clerk takes it or it is reaped
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    const note ready{spare_note, pid, 0};
    const int passed[2] = {pair[0], pidfd};
    if (pidfd < 0 || tractor::detail::send_with_fds(clerk, &ready, sizeof ready, passed) != static_cast<ssize_t>(sizeof ready)) {
      const int err = errno;
      ::kill(pid, SIGKILL);  // never the clerk's
      failed(err);
    }
    close_each({pair[0], pidfd});
  }

  /// Reaps every child that has ended and reports it (the spare: replaced if the clerk wants
  /// one; the clerk: ends the server).
  void reap() {
    signalfd_siginfo pending[16];
    while (::read(sigchld, pending, sizeof pending) > 0) {
    }
    int wstatus = 0;
    bool replace = false;
    for (pid_t pid; (pid = ::waitpid(-1, &wstatus, WNOHANG)) > 0;) {
      if (pid == clerk_pid) {
        clerk_pid = -1;
        end();
      }
      if (pid == spare) {
        spare = -1;
        replace = wanted;
      }
      if (alive.erase(pid) == 0) continue;
      const note ended{exited_note, pid, wstatus};
      (void)!::send(clerk, &ended, sizeof ended, MSG_NOSIGNAL);
    }
    // After the exits are reported: the new spare may reuse one of their pids.
    if (replace) fork_spare();
  }

  /// The clerk is gone (the program's link closed, or it died): every child dies, is
  /// reaped, and the server exits.
  [[noreturn]] void end() {
    for (pid_t pid : alive) ::kill(pid, SIGKILL);
    if (clerk_pid > 0) ::kill(clerk_pid, SIGKILL);
    while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
    }
    exit_with(exit_code::ok);
  }
};

}  // namespace tractor::spawn::server_side
