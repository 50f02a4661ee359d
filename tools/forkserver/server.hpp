// The forkserver's own process and the processes it forks before they become actors: the
// request they are sent, the server loop, its spare, a child's preparation. Private to
// forkserver.cc, the spawner's side (starting the server, asking it for a child).
//
// Each actor process has one SOCK_SEQPACKET link to the server. A request is one packet: a
// `request_head`, the child's boot and title as `spawn::prestarted` hands them over
// (spawn/detail/handover.hpp), then the requester's environment ("k=v\0" entries); the
// child's channel and handover socket travel with it as SCM_RIGHTS when it has them. The
// answer is a `reply`, with the child's pidfd and the read end of its status pipe.
//
// The server keeps one spare: a child forked ahead and waiting on its link, to which it
// forwards the next request, so that a spawn does not wait for a fork. The next spare is
// forked a moment after one is taken, not at once: its fork would compete for the CPU with
// the boot just handed over.
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
#include <new>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/epoll.h>
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
  child_boot boot;  // its descriptors are the request's (the server closes them once forked)
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
inline constexpr long long spare_delay_ns = 300'000;

/// Closes every descriptor but stdio and those of `keep` (the open ones).
inline void close_all_but(std::initializer_list<int> keep) {
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
}

/// In a process the server just forked: keeps only stdio, its link to the server and those
/// of `also`, and dies with the server. The link is this process's way to spawn through it.
inline void prepare_child(int link_fd, pid_t server, int also = -1, int and_also = -1) {
  close_all_but({link_fd, also, and_also});
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != server) ::_exit(70);  // the server died before we could tie to it
  link_state& s = link();
  new (&s.m) std::mutex();  // copied in whatever state it had; nobody else runs here
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

/// A child forked by the server: reaped by it, its status written to `status_w`.
struct forked {
  pid_t pid = -1;
  int pidfd = -1;
  int link = -1;  // the server's end of its link
  int status_r = -1;
  int status_w = -1;
  int owner = -1;  // the link of the process that asked for it
};

/// Forks a child running `in_child(its link end)`, which never returns. errno on failure.
template <class F>
inline int fork_linked(forked& f, F&& in_child) {
  int pair[2] = {-1, -1};
  int status[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0 || ::pipe2(status, O_CLOEXEC) < 0) {
    const int e = errno;
    close_each({pair[0], pair[1], status[0], status[1]});
    return e;
  }
  const pid_t pid = ::fork();
  if (pid == 0) in_child(pair[1]);
  ::close(pair[1]);
  const int pidfd = pid > 0 ? static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)) : -1;
  if (pidfd < 0) {
    const int e = errno;
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    close_each({pair[0], status[0], status[1]});
    return e;
  }
  f = forked{pid, pidfd, pair[0], status[0], status[1]};
  return 0;
}

/// The server's state. It waits in one epoll set on every link (a request, or the process
/// behind it gone), every child's pidfd (its exit) and the spare's: a turn costs the same
/// with 1,000 children as with one.
struct server {
  int program = -1;  // the program's link: its end ends the server
  std::unordered_map<int, forked> children;  // by pidfd
  forked spare;            // pid -1: none
  long long spare_at = 0;  // when to fork the next spare (CLOCK_MONOTONIC ns); -1: not due
  std::vector<char> buf = std::vector<char>(max_request);
  const pid_t self = ::getpid();
  const int poller = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<int> closed;  // this turn's: later events of the turn for them are stale

  enum kind : std::uint32_t { link_event, exit_event, spare_event };
  void watch(int fd, kind k) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = (std::uint64_t{k} << 32) | static_cast<std::uint32_t>(fd);
    if (::epoll_ctl(poller, EPOLL_CTL_ADD, fd, &e) != 0) ::_exit(72);  // out of memory
  }

  /// Stops watching `fd` and closes it. Closing alone would not do: the epoll set watches
  /// the open file, not the number, and a pidfd we passed to a spawner stays open there, so
  /// its exit would keep being reported under a number that a new child's pidfd may reuse.
  void unwatch(int fd) {
    ::epoll_ctl(poller, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    closed.push_back(fd);
  }

  /// Reaps `c` (one that has exited or was sent SIGKILL; `if_exited`: only if it has
  /// exited, without waiting), reports to its spawner how it ended and forgets it.
  bool reap(const forked& c, bool if_exited = false) {
    int wstatus = 0;
    pid_t got;
    while ((got = ::waitpid(c.pid, &wstatus, if_exited ? WNOHANG : 0)) < 0 && errno == EINTR) {
    }
    if (got != c.pid) return false;
    (void)!::write(c.status_w, &wstatus, sizeof wstatus);
    close_each({c.status_w, c.status_r});
    unwatch(c.pidfd);
    return true;
  }

  static long long now_ns() {
    timespec t;
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1'000'000'000LL + t.tv_nsec;
  }

  void fork_spare() {
    spare_at = -1;
    char* b = buf.data();
    const int e = fork_linked(spare, [&](int link_fd) {
      prepare_child(link_fd, self);
      detail::write_title(std::string(forkserver::server_title) + " (spare)");
      passed_fds fds;
      const ssize_t n = tractor::detail::recv_with_fds(link_fd, b, max_request, fds);
      request r;
      if (n <= 0) ::_exit(0);  // the server is closing
      if (!parse(std::string_view(b, static_cast<std::size_t>(n)), fds, r)) ::_exit(71);
      become_child(r);
    });
    if (e == 0) watch(spare.pidfd, spare_event);
  }

  void drop_spare() {
    ::syscall(SYS_pidfd_send_signal, spare.pidfd, SIGKILL, nullptr, 0);
    reap(spare);
    ::close(spare.link);
    spare = forked{};
    spare_at = now_ns() + spare_delay_ns;
  }

  /// A request from the process at link `from`, with descriptors `fds` (closed here: the
  /// child has its own): forwarded to the spare, or forked for.
  void on_request(int from, std::size_t n, passed_fds& fds) {
    request r;
    forked f;
    int err = parse(std::string_view(buf.data(), n), fds, r) ? 0 : EINVAL;
    if (err == 0 && spare.pid > 0 &&
        tractor::detail::send_with_fds(spare.link, buf.data(), n, std::span<const int>(fds.fd.data(), fds.count)) ==
            static_cast<ssize_t>(n)) {
      f = std::exchange(spare, forked{});
      ::epoll_ctl(poller, EPOLL_CTL_DEL, f.pidfd, nullptr);  // watched as a child from now on
    } else if (err == 0) {
      if (spare.pid > 0) drop_spare();  // it died meanwhile
      err = fork_linked(f, [&](int link_fd) {
        prepare_child(link_fd, self, r.boot.channel_fd, r.boot.handover_fd);
        become_child(r);
      });
    }
    fds.close_all();
    if (spare.pid < 0 && spare_at < 0) spare_at = now_ns() + spare_delay_ns;
    const reply answer{err ? -1 : f.pid, err};
    const int passed[2] = {f.pidfd, f.status_r};
    (void)tractor::detail::send_with_fds(from, &answer, sizeof answer, std::span<const int>(passed, err ? 0 : 2));
    if (err != 0) return;
    ::close(std::exchange(f.status_r, -1));
    f.owner = from;
    children.emplace(f.pidfd, f);
    watch(f.pidfd, exit_event);
    watch(f.link, link_event);
  }

  /// The process behind link `fd` is gone: the children it spawned die with it; with the
  /// program, every child, and the server ends.
  void link_gone(int fd) {
    const bool everyone = fd == program;
    for (const auto& [pidfd, c] : children) {
      if (everyone || c.owner == fd) ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    }
    unwatch(fd);
    if (!everyone) return;
    if (spare.pid > 0) drop_spare();
    for (const auto& [pidfd, c] : children) reap(c);
    ::_exit(0);
  }

  void on_link(int fd) {
    passed_fds fds;
    // Never blocks: the server must not wait on one link while the others wait on it.
    const ssize_t n = tractor::detail::recv_with_fds(fd, buf.data(), buf.size(), fds, MSG_DONTWAIT);
    if (n > 0) return on_request(fd, static_cast<std::size_t>(n), fds);
    if (n < 0 && errno == EAGAIN) return;
    fds.close_all();
    link_gone(fd);
  }

  [[noreturn]] void serve(int program_fd) {
    if (poller < 0) ::_exit(72);
    program = program_fd;
    watch(program_fd, link_event);
    epoll_event events[64];
    for (;;) {
      if (spare_at >= 0 && spare_at <= now_ns() && spare.pid < 0) fork_spare();
      const long long left = spare_at < 0 ? 0 : std::max(0LL, spare_at - now_ns());
      const timespec timeout{left / 1'000'000'000, left % 1'000'000'000};
      const int n = ::epoll_pwait2(poller, events, 64, spare_at < 0 ? nullptr : &timeout, nullptr);
      closed.clear();
      // Exits first: a status is reported before a new request can reuse anything.
      for (const kind first : {exit_event, spare_event, link_event}) {
        for (int i = 0; i < n; ++i) {
          const kind k = static_cast<kind>(events[i].data.u64 >> 32);
          const int fd = static_cast<int>(events[i].data.u64 & 0xffffffffu);
          if (k != first || std::find(closed.begin(), closed.end(), fd) != closed.end()) continue;
          if (k == exit_event) {
            // Reaped only if it has exited: a wait here would stall every other request.
            auto c = children.find(fd);
            if (c != children.end() && reap(c->second, true)) children.erase(c);
          } else if (k == spare_event) {
            if (spare.pid > 0 && spare.pidfd == fd) drop_spare();  // it died
          } else {
            on_link(fd);
          }
        }
      }
    }
  }
};

}  // namespace tractor::spawn::server_side
