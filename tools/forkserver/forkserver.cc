// The compiled forkserver helper (see include/tractor/spawn/forkserver.hpp for what it is for).
//
// Wire between an actor process and the server: one SOCK_SEQPACKET socket per actor process.
// A request is one packet (header + name, uuid, parent address, title, environment, and, as
// SCM_RIGHTS, the child's channel to its parent if the parent made one); the answer is one
// packet (pid, errno) carrying the child's pidfd and the read end of its status pipe as
// SCM_RIGHTS. The server's loop uses only system calls on buffers it allocated before its
// first fork, so nothing it inherited from a threaded program (a lock held by another
// thread) is ever taken.
//
// The spare: the server keeps one child forked ahead of any request, prepared (descriptors
// closed, tied to the server, signals reset) and waiting on its link. A request is forwarded
// to it as it came, so a spawn does not wait for a fork; the next spare is forked a moment
// later, off the spawn's path. Without a ready spare (one just taken, or a fork that failed)
// the server forks for the request itself.
#include <tractor/spawn/forkserver.hpp>

#include "detail/posix.hpp"  // relative: builds without Bazel too

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <optional>
#include <vector>

#include <poll.h>
#include <stdio_ext.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tractor::spawn {
namespace {

using namespace forkserver_posix;

constexpr std::uint32_t request_magic = 0x74666b31;  // "tfk1"
constexpr std::size_t max_request = 160 * 1024;
/// The request carries no environment: the child keeps the server's, which is the same.
constexpr std::uint32_t same_environment = 1;
/// How long after a spare was taken the next one is forked.
constexpr long long spare_delay_ns = 300'000;
/// The request carries the child's channel to its parent.
constexpr std::uint32_t with_channel = 2;
/// The parent keeps the registry (`child_boot::parent_registers`).
constexpr std::uint32_t parent_is_registrar = 4;

struct request_header {
  std::uint32_t magic;
  std::uint32_t flags;
  std::int32_t parent_pid;
  std::uint64_t entry;
  std::uint32_t sizes[5];  // name, uuid, parent address, title, environment block
};

struct reply {
  std::int32_t pid;
  std::int32_t err;
};

/// The environment ("k=v\0" entries) the server had when it started: the program's then.
/// Every process forked from the server inherits this value, and the environment itself.
std::string server_environment;

std::string current_environment() {
  std::string env;
  for (char** e = environ; e && *e; ++e) {
    env += *e;
    env.push_back('\0');
  }
  return env;
}

/// This process's link to its server.
struct link_state {
  std::mutex m;
  int fd = -1;
  pid_t server = 0;
  bool owns_server = false;  // started it: must reap it
};
link_state& link() {
  static link_state s;
  return s;
}

error sys_error(int e, const std::string& what) {
  return error(boost::system::error_code(e, boost::system::system_category()),
               what + ": " + std::strerror(e));
}

/// The command line's place, found once by the server (its children share it).
title_area title_place;

/// What a spare shows until it becomes an actor (the server's title, then " (spare)").
constexpr std::string_view spare_title = "_forkserver (spare)";
static_assert(spare_title.starts_with(forkserver::server_title));

/// What the server changed from the defaults `reset_signals` set when it started.
constexpr int server_ignores[] = {SIGINT, SIGTERM, SIGPIPE};

// -- the server ----------------------------------------------------------------------------

struct client {
  int fd;
  bool root;  // the program that started the server
};
struct child {
  pid_t pid;
  int pidfd;
  int status_w;
  int owner;  // the client fd that asked for it
};

struct parsed_request {
  std::uint32_t flags;
  pid_t parent_pid;
  child_entry entry;
  std::string_view fields[5];
  int channel = -1;  // received with it (with_channel)
};

bool parse(const char* buf, std::size_t n, parsed_request& out) {
  if (n < sizeof(request_header)) return false;
  request_header h;
  std::memcpy(&h, buf, sizeof h);
  if (h.magic != request_magic || h.entry == 0) return false;
  std::size_t at = sizeof h;
  for (int i = 0; i < 5; ++i) {
    if (h.sizes[i] > n - at) return false;
    out.fields[i] = std::string_view(buf + at, h.sizes[i]);
    at += h.sizes[i];
  }
  out.flags = h.flags;
  out.parent_pid = h.parent_pid;
  out.entry = reinterpret_cast<child_entry>(static_cast<std::uintptr_t>(h.entry));
  return true;
}

/// In a process the server just forked: keeps only stdio, its link to the server and `also`,
/// and ties its life to the server's. What every child does before it knows what it will be
/// (a spare does it ahead of its request).
void prepare_child(int link_fd, int also, pid_t server) {
  close_all_but(link_fd, also);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != server) ::_exit(70);  // the server died before we could tie to it
  // The mutex was copied in whatever state it had; nobody else runs here.
  link_state& s = link();
  new (&s.m) std::mutex();
  s.fd = link_fd;
  s.server = server;
  s.owns_server = false;
}

/// Then: becomes the requested actor; never returns.
[[noreturn]] void become_child(parsed_request& r, char* buf) {
  // The server reset every disposition when it started; only its own changes are undone,
  // now (a spare keeps ignoring the Ctrl-C that is meant for the actors).
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : server_ignores) ::signal(sig, SIG_DFL);
  if (!(r.flags & same_environment)) {
    // The parent's environment at the request, "k=v\0" entries (the buffer is ours to keep).
    ::clearenv();
    const std::string_view env = r.fields[4];
    char* base = buf + (env.data() - buf);
    for (std::size_t at = 0; at < env.size();) {
      const std::size_t end = env.find('\0', at);
      if (end == std::string_view::npos) break;
      if (end > at) ::putenv(base + at);
      at = end + 1;
    }
  }
  write_title(title_place, r.fields[3]);
  ::prctl(PR_SET_NAME, std::string(r.fields[0].substr(0, 15)).c_str());

  child_boot boot{std::string(r.fields[0]), std::string(r.fields[1]), std::string(r.fields[2]),
                  r.parent_pid, nullptr};
  boot.channel_fd = r.channel;
  boot.parent_registers = (r.flags & parent_is_registrar) != 0;
  const int code = r.entry(boot);
  std::fflush(nullptr);
  ::_exit(code);
}

/// A spare: a child forked ahead of any request, prepared, waiting on its link for the
/// request the server forwards to it (with the channel); never returns.
[[noreturn]] void wait_as_spare(int link_fd, pid_t server, char* buf) {
  prepare_child(link_fd, -1, server);
  write_title(title_place, spare_title);
  const char ready = 1;
  (void)!::send(link_fd, &ready, 1, MSG_NOSIGNAL);
  parsed_request r;
  int channel = -1;
  const ssize_t n = recv_with_fds(link_fd, buf, max_request, &channel, 1);
  if (n <= 0) ::_exit(0);  // not needed after all: the server is closing
  if (!parse(buf, static_cast<std::size_t>(n), r)) ::_exit(71);
  r.channel = channel;
  become_child(r, buf);
}

void report(const child& c) {
  int wstatus = 0;
  while (::waitpid(c.pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  (void)!::write(c.status_w, &wstatus, sizeof wstatus);
  ::close(c.status_w);
  ::close(c.pidfd);
}

void kill_children_of(std::vector<child>& children, int owner) {
  for (const auto& c : children) {
    if (owner < 0 || c.owner == owner) ::syscall(SYS_pidfd_send_signal, c.pidfd, SIGKILL, nullptr, 0);
  }
}

/// A child just forked, as the server holds it until it is handed to a requester.
struct forked {
  pid_t pid = -1;
  int pidfd = -1;
  int link = -1;  // the server's end of its link
  int status_r = -1;
  int status_w = -1;
  bool ready = false;  // a spare: has said it is prepared
};

/// Forks a child that runs `in_child(its link end)` (which never returns). errno on failure.
template <class F>
int fork_with_link(forked& f, F&& in_child) {
  int pair[2] = {-1, -1};
  int status[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0 || ::pipe2(status, O_CLOEXEC) < 0) {
    const int e = errno;
    for (int fd : {pair[0], pair[1], status[0], status[1]}) {
      if (fd >= 0) ::close(fd);
    }
    return e;
  }
  const pid_t pid = ::fork();
  if (pid == 0) in_child(pair[1]);
  ::close(pair[1]);
  const int pidfd = pid > 0 ? static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)) : -1;
  if (pid < 0 || pidfd < 0) {
    const int e = errno;
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    for (int fd : {pair[0], status[0], status[1]}) ::close(fd);
    return e;
  }
  f = forked{pid, pidfd, pair[0], status[0], status[1]};
  return 0;
}

struct server {
  std::vector<client> clients;
  std::vector<child> children;
  std::optional<forked> spare;
  /// When the next spare is forked: a while after the last one was taken, not at once,
  /// where its fork would compete for the CPU with the actor just handed over.
  long long refill_at = 0;  // CLOCK_MONOTONIC, ns
  std::vector<char> buf = std::vector<char>(max_request);
  const pid_t self = ::getpid();

  static long long now_ns() {
    timespec t;
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1'000'000'000LL + t.tv_nsec;
  }
  /// poll's timeout: until the refill is due (-1: a spare is waiting).
  int poll_timeout() const {
    if (spare) return -1;
    const long long left = refill_at - now_ns();
    return left <= 0 ? 0 : static_cast<int>((left + 999'999) / 1'000'000);
  }
  void refill_when_due() {
    if (!spare && poll_timeout() == 0) refill();
  }

  /// Forks the next spare, unless there is one (no spare is no error: a request then forks).
  void refill() {
    if (spare) return;
    forked f;
    char* b = buf.data();
    if (fork_with_link(f, [&](int link_fd) { wait_as_spare(link_fd, self, b); }) == 0) spare = f;
  }

  /// Kills and reaps the spare (it died, or the server is closing).
  void drop_spare() {
    if (!spare) return;
    ::syscall(SYS_pidfd_send_signal, spare->pidfd, SIGKILL, nullptr, 0);
    while (::waitpid(spare->pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    for (int fd : {spare->pidfd, spare->link, spare->status_r, spare->status_w}) ::close(fd);
    spare.reset();
  }

  /// Gives child `f` to the client at `from`: its pid, pidfd and status pipe.
  void hand_over(const forked& f, int from) {
    const reply out{f.pid, 0};
    const int fds[2] = {f.pidfd, f.status_r};
    send_with_fds(from, &out, sizeof out, fds, 2);
    ::close(f.status_r);
    children.push_back(child{f.pid, f.pidfd, f.status_w, from});
    clients.push_back(client{f.link, false});
  }

  void fork_one(int from, std::size_t n, int channel) {
    // The child inherits (or is sent) the channel; the server's copy goes on every path.
    struct close_ours {
      int fd;
      ~close_ours() {
        if (fd >= 0) ::close(fd);
      }
    } ours{channel};
    parsed_request r;
    reply out{-1, EINVAL};
    if (!parse(buf.data(), n, r) || ((r.flags & with_channel) != 0) != (channel >= 0)) {
      send_with_fds(from, &out, sizeof out, nullptr, 0);
      return;
    }
    r.channel = channel;
    if (spare && spare->ready) {
      // The spare takes the request as it came; the fork it saves is the slow part.
      const bool taken = send_with_fds(spare->link, buf.data(), n, &channel, channel >= 0 ? 1 : 0);
      if (taken) {
        hand_over(*spare, from);
        spare.reset();
        refill_at = now_ns() + spare_delay_ns;
        return;
      }
      drop_spare();  // it died meanwhile
    }
    forked f;
    char* b = buf.data();
    out.err = fork_with_link(f, [&](int link_fd) {
      prepare_child(link_fd, r.channel, self);
      become_child(r, b);
    });
    if (out.err != 0) {
      send_with_fds(from, &out, sizeof out, nullptr, 0);
      return;
    }
    hand_over(f, from);
  }

  [[noreturn]] void serve(int root_fd) {
    clients.push_back(client{root_fd, true});
    std::vector<pollfd> fds;
    clients.reserve(1024);
    children.reserve(1024);
    fds.reserve(2048);
    refill();
    for (;;) {
      fds.clear();
      for (const auto& c : clients) fds.push_back(pollfd{c.fd, POLLIN, 0});
      for (const auto& c : children) fds.push_back(pollfd{c.pidfd, POLLIN, 0});
      if (spare) {
        fds.push_back(pollfd{spare->link, static_cast<short>(spare->ready ? 0 : POLLIN), 0});
        fds.push_back(pollfd{spare->pidfd, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), poll_timeout()) < 0) continue;  // EINTR
      const std::size_t nclients = clients.size();
      const std::size_t nchildren = children.size();
      // Exits first: a status is reported before a new request can reuse anything.
      for (std::size_t i = nclients, k = 0; i < nclients + nchildren; ++i) {
        if (!fds[i].revents) {
          ++k;
          continue;
        }
        report(children[k]);
        children.erase(children.begin() + static_cast<std::ptrdiff_t>(k));
      }
      if (spare && fds.back().revents) {
        drop_spare();  // it died
      } else if (spare && fds[fds.size() - 2].revents) {
        char ready = 0;
        const ssize_t got = ::recv(spare->link, &ready, 1, MSG_DONTWAIT);
        if (got == 1) {
          spare->ready = true;
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
          drop_spare();
        }
      }
      for (std::size_t i = 0; i < nclients; ++i) {
        if (!fds[i].revents) continue;
        const int fd = fds[i].fd;
        int channel = -1;
        const ssize_t n = recv_with_fds(fd, buf.data(), buf.size(), &channel, 1);
        if (n > 0) {
          fork_one(fd, static_cast<std::size_t>(n), channel);
          continue;
        }
        if (channel >= 0) ::close(channel);
        if (n < 0 && errno == EINTR) continue;
        // The actor behind this link is gone: its children die with it.
        const auto it = std::find_if(clients.begin(), clients.end(), [&](const client& c) { return c.fd == fd; });
        const bool root = it->root;
        kill_children_of(children, root ? -1 : fd);
        ::close(fd);
        it->fd = -1;
        if (root) {
          drop_spare();
          for (const auto& c : children) report(c);
          ::_exit(0);
        }
      }
      std::erase_if(clients, [](const client& c) { return c.fd < 0; });
      refill_when_due();
    }
  }
};

result<void> start_locked(link_state& s) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
    return sys_error(errno, "forkserver: socketpair");
  }
  pair[0] = above_stdio(pair[0]);
  pair[1] = above_stdio(pair[1]);
  std::fflush(nullptr);  // nothing buffered is written twice
  server_environment = current_environment();
  const pid_t program = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(pair[0]);
    ::close(pair[1]);
    return sys_error(e, "forkserver: fork");
  }
  if (pid == 0) {
    close_all_but(pair[1]);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != program) ::_exit(0);
    reset_signals();
    // Ctrl-C and SIGTERM to the process group are for the actors, which cancel gracefully;
    // the server must outlive them (its death kills them). It ends when the program's link
    // closes.
    // (SIGPIPE: a status written for a child whose actor died meanwhile finds no reader.)
    for (int sig : server_ignores) ::signal(sig, SIG_IGN);
    ::__fpurge(stdout);
    ::__fpurge(stderr);
    title_place = find_title_area();
    write_title(title_place, forkserver::server_title);
    ::prctl(PR_SET_NAME, "tractor-forksrv");
    static server srv;  // never destroyed: serve() ends with _exit
    srv.serve(pair[1]);
  }
  ::close(pair[1]);
  s.fd = pair[0];
  s.server = pid;
  s.owns_server = true;
  return success();
}

}  // namespace

result<void> forkserver::start_server() {
  link_state& s = link();
  std::lock_guard lock(s.m);
  if (s.fd >= 0) return success();
  return start_locked(s);
}

void forkserver::stop_server() {
  link_state& s = link();
  std::lock_guard lock(s.m);
  if (s.fd < 0) return;
  ::close(s.fd);
  s.fd = -1;
  if (s.owns_server) {
    while (::waitpid(s.server, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  s.server = 0;
  s.owns_server = false;
}

pid_t forkserver::server_pid() noexcept {
  link_state& s = link();
  std::lock_guard lock(s.m);
  return s.fd >= 0 ? s.server : 0;
}

namespace detail {

result<forked_child> fork_through_server(const spawn_request& req) {
  if (!req.run_child) return sys_error(EINVAL, "forkserver: the request has no child entry");
  // Most programs never change their environment: then the child keeps the server's copy.
  std::string env = current_environment();
  std::uint32_t flags = env == server_environment ? same_environment : 0;
  if (flags & same_environment) env.clear();
  if (req.boot.channel_fd >= 0) flags |= with_channel;
  if (req.boot.parent_registers) flags |= parent_is_registrar;
  const std::string_view fields[5] = {req.boot.name, req.boot.uuid, req.boot.parent_addr, req.title, env};
  request_header h{request_magic, flags, static_cast<std::int32_t>(req.boot.parent_pid),
                   static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(req.run_child)),
                   {}};
  std::size_t total = sizeof h;
  for (int i = 0; i < 5; ++i) {
    h.sizes[i] = static_cast<std::uint32_t>(fields[i].size());
    total += fields[i].size();
  }
  if (total > max_request) {
    return sys_error(E2BIG, "forkserver: the request (mostly the environment) exceeds " +
                                std::to_string(max_request) + " bytes");
  }
  std::string packet(reinterpret_cast<const char*>(&h), sizeof h);
  for (const auto& f : fields) packet.append(f);

  link_state& s = link();
  std::lock_guard lock(s.m);
  if (s.fd < 0) {
    BOOST_OUTCOME_TRY(start_locked(s));
  }
  const int channel = req.boot.channel_fd;
  if (!send_with_fds(s.fd, packet.data(), packet.size(), &channel, channel >= 0 ? 1 : 0)) {
    return sys_error(errno ? errno : EPIPE, "forkserver: the server is gone");
  }
  reply r{};
  int fds[2];
  const ssize_t n = recv_with_fds(s.fd, &r, sizeof r, fds, 2);
  if (n != static_cast<ssize_t>(sizeof r)) return sys_error(n < 0 ? errno : EPIPE, "forkserver: the server is gone");
  if (r.pid <= 0) return sys_error(r.err, "forkserver: cannot fork '" + req.boot.name + "'");
  if (fds[0] < 0) return sys_error(EPROTO, "forkserver: the answer carried no descriptors");
  return forked_child{r.pid, fds[0], fds[1]};
}

}  // namespace detail
}  // namespace tractor::spawn
