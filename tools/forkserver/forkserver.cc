// The compiled forkserver helper (see include/tractor/spawn/forkserver.hpp for what it is for).
//
// Wire between an actor process and the server: one SOCK_SEQPACKET socket per actor process.
// A request is one packet (header + name, uuid, parent address, title, environment); the
// answer is one packet (pid, errno) carrying the child's pidfd and the read end of its
// status pipe as SCM_RIGHTS. The server's loop uses only system calls on buffers it
// allocated before its first fork, so nothing it inherited from a threaded program (a lock
// held by another thread) is ever taken.
#include <tractor/spawn/forkserver.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <new>
#include <sstream>
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

constexpr std::uint32_t request_magic = 0x74666b31;  // "tfk1"
constexpr std::size_t max_request = 160 * 1024;
/// The request carries no environment: the child keeps the server's, which is the same.
constexpr std::uint32_t same_environment = 1;

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

void close_range_from(unsigned lo, unsigned hi) {
  if (lo > hi) return;
  if (::syscall(SYS_close_range, lo, hi, 0) == 0) return;
  for (unsigned fd = lo; fd <= std::min(hi, 65535u); ++fd) ::close(static_cast<int>(fd));
}

/// Closes every descriptor but stdio and `keep`.
void close_all_but(int keep) {
  close_range_from(3, static_cast<unsigned>(keep) - 1);
  close_range_from(static_cast<unsigned>(keep) + 1, ~0u);
}

/// Where the original command line is in our memory (the same in every fork of us).
struct title_area {
  char* start = nullptr;
  std::size_t size = 0;
};

title_area find_title_area() noexcept {
  // /proc/self/stat fields 48 and 49 (after the parenthesised command name, whose spaces
  // would confuse a plain split) bound the original command line.
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return {};
  std::istringstream fields(stat.substr(close_paren + 2));
  std::string field;
  unsigned long arg_start = 0;
  unsigned long arg_end = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 48) arg_start = std::stoul(field);
    if (i == 49) {
      arg_end = std::stoul(field);
      break;
    }
  }
  if (arg_start == 0 || arg_end <= arg_start) return {};
  return {reinterpret_cast<char*>(arg_start), arg_end - arg_start};
}

void write_title(const title_area& area, std::string_view title) noexcept {
  if (!area.start) return;
  const std::size_t n = std::min(title.size(), area.size - 1);
  std::memset(area.start, 0, area.size);
  std::memcpy(area.start, title.data(), n);
}

/// The command line's place, found once by the server (its children share it).
title_area server_title;

void reset_signals() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; ++s) {
    if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
  }
}

/// What the server changed from the defaults `reset_signals` set when it started.
constexpr int server_ignores[] = {SIGINT, SIGTERM, SIGPIPE};

/// A descriptor number above stdio: a program that closed its stdio must not have the link
/// end up as fd 0, 1 or 2.
int above_stdio(int fd) {
  if (fd > 2) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

bool send_with_fds(int sock, const void* data, std::size_t size, const int* fds, int nfds) {
  iovec iov{const_cast<void*>(data), size};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 2)] = {};
  if (nfds > 0) {
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  for (;;) {
    const ssize_t n = ::sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<std::size_t>(n) == size;
    if (errno != EINTR) return false;
  }
}

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

/// In the forked child: becomes the requested actor; never returns.
[[noreturn]] void become_child(parsed_request& r, char* buf, int link_fd, pid_t server) {
  close_all_but(link_fd);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != server) ::_exit(70);  // the server died before we could tie to it
  // The server reset every disposition when it started; only its own changes are undone.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : server_ignores) ::signal(sig, SIG_DFL);
  // The mutex was copied in whatever state it had; nobody else runs here.
  link_state& s = link();
  new (&s.m) std::mutex();
  s.fd = link_fd;
  s.server = server;
  s.owns_server = false;

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
  write_title(server_title, r.fields[3]);
  ::prctl(PR_SET_NAME, std::string(r.fields[0].substr(0, 15)).c_str());

  const child_boot boot{std::string(r.fields[0]), std::string(r.fields[1]), std::string(r.fields[2]),
                        r.parent_pid, nullptr};
  const int code = r.entry(boot);
  std::fflush(nullptr);
  ::_exit(code);
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

void fork_one(std::vector<client>& clients, std::vector<child>& children, int from, char* buf,
              std::size_t n) {
  parsed_request r;
  reply out{-1, EINVAL};
  if (!parse(buf, n, r)) {
    send_with_fds(from, &out, sizeof out, nullptr, 0);
    return;
  }
  int pair[2] = {-1, -1};
  int status[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0 || ::pipe2(status, O_CLOEXEC) < 0) {
    out.err = errno;
    for (int fd : {pair[0], pair[1], status[0], status[1]}) {
      if (fd >= 0) ::close(fd);
    }
    send_with_fds(from, &out, sizeof out, nullptr, 0);
    return;
  }
  const pid_t server = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) become_child(r, buf, pair[1], server);
  ::close(pair[1]);
  const int pidfd = pid > 0 ? static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)) : -1;
  if (pid < 0 || pidfd < 0) {
    out.err = errno;
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    for (int fd : {pair[0], status[0], status[1]}) ::close(fd);
    send_with_fds(from, &out, sizeof out, nullptr, 0);
    return;
  }
  out = reply{pid, 0};
  const int fds[2] = {pidfd, status[0]};
  send_with_fds(from, &out, sizeof out, fds, 2);
  ::close(status[0]);
  children.push_back(child{pid, pidfd, status[1], from});
  clients.push_back(client{pair[0], false});
}

[[noreturn]] void serve(int root_fd) {
  std::vector<client> clients{{root_fd, true}};
  std::vector<child> children;
  std::vector<pollfd> fds;
  std::vector<char> buf(max_request);
  clients.reserve(1024);
  children.reserve(1024);
  fds.reserve(2048);
  for (;;) {
    fds.clear();
    for (const auto& c : clients) fds.push_back(pollfd{c.fd, POLLIN, 0});
    for (const auto& c : children) fds.push_back(pollfd{c.pidfd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;  // EINTR
    // Exits first: a status is reported before a new request can reuse anything.
    for (std::size_t i = clients.size(), k = 0; i < fds.size(); ++i) {
      if (!fds[i].revents) {
        ++k;
        continue;
      }
      report(children[k]);
      children.erase(children.begin() + static_cast<std::ptrdiff_t>(k));
    }
    const std::size_t nclients = clients.size();
    for (std::size_t i = 0; i < nclients; ++i) {
      if (!fds[i].revents) continue;
      const int fd = fds[i].fd;
      const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) {
        fork_one(clients, children, fd, buf.data(), static_cast<std::size_t>(n));
        continue;
      }
      // The actor behind this link is gone: its children die with it.
      const auto it = std::find_if(clients.begin(), clients.end(), [&](const client& c) { return c.fd == fd; });
      const bool root = it->root;
      kill_children_of(children, root ? -1 : fd);
      ::close(fd);
      it->fd = -1;
      if (root) {
        for (const auto& c : children) report(c);
        ::_exit(0);
      }
    }
    std::erase_if(clients, [](const client& c) { return c.fd < 0; });
  }
}

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
    server_title = find_title_area();
    write_title(server_title, "_forkserver");
    ::prctl(PR_SET_NAME, "tractor-forksrv");
    serve(pair[1]);
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
  const std::uint32_t flags = env == server_environment ? same_environment : 0;
  if (flags & same_environment) env.clear();
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
  if (!send_with_fds(s.fd, packet.data(), packet.size(), nullptr, 0)) {
    return sys_error(errno ? errno : EPIPE, "forkserver: the server is gone");
  }
  reply r{};
  iovec iov{&r, sizeof r};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 2)] = {};
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(s.fd, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof r)) return sys_error(n < 0 ? errno : EPIPE, "forkserver: the server is gone");
  if (r.pid <= 0) return sys_error(r.err, "forkserver: cannot fork '" + req.boot.name + "'");
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int) * 2)) {
    return sys_error(EPROTO, "forkserver: the answer carried no descriptors");
  }
  int fds[2];
  std::memcpy(fds, CMSG_DATA(c), sizeof fds);
  return forked_child{r.pid, fds[0], fds[1]};
}

}  // namespace detail
}  // namespace tractor::spawn
