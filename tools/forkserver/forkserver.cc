// The compiled forkserver helper (see include/tractor/spawn/forkserver.hpp for what it is
// for), the spawner's side: starting this process's server, asking it for a child, giving up
// the link. What runs in the server and in the processes it forks is server.hpp.
#include <tractor/spawn/forkserver.hpp>
// The backend's own definitions live with its compiled part (TRACTOR_SEPARATE_COMPILATION).
#include <tractor/spawn/impl/forkserver.ipp>

#include "clerk.hpp"  // relative: builds without Bazel too

#include <algorithm>
#include <chrono>
#include <climits>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include <fcntl.h>
#include <poll.h>
#include <stdio_ext.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tractor::spawn {
namespace {

using namespace server_side;

/// Forks the server off this process, as it is now, and links `s` to it once it serves (`s.m`
/// held).
result<void> start_locked(link_state& s) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
    return error::from_errno(errno, "forkserver: socketpair");
  }
  for (int& fd : pair) {  // a program that closed its stdio must not get the link as fd 0-2
    if (fd <= 2) {
      const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
      ::close(fd);
      fd = moved;
    }
  }
  std::fflush(nullptr);  // nothing buffered is written twice
  const pid_t program = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    close_each({pair[0], pair[1]});
    return error::from_errno(e, "forkserver: fork");
  }
  if (pid == 0) {
    // The link's mutex was copied held (by our caller, whose frame this process never returns
    // to): released here, the server and every child it forks find it free.
    s.m.unlock();
    keep_only_and_die_with(program, {pair[1]});
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
    }
    for (int sig : server_ignores) ::signal(sig, SIG_IGN);
    ::__fpurge(stdout);
    ::__fpurge(stderr);
    spawn::detail::write_title(forkserver::server_title);
    ::prctl(PR_SET_NAME, "tractor-forksrv");
    raise_descriptor_limit();  // its clerk holds three per child
    static server srv;  // never destroyed: both processes end with _exit
    srv.start(pair[1], [](int program_fd, int server_fd) {
      spawn::detail::write_title(std::string(forkserver::server_title) + " (clerk)");
      ::prctl(PR_SET_NAME, "tractor-clerk");
      static clerk c;
      const char ready = 1;  // titled and serving: nobody takes it for a copy of the program
      (void)!::send(program_fd, &ready, 1, MSG_NOSIGNAL);
      c.serve(program_fd, server_fd);
    });
    srv.serve();
  }
  ::close(pair[1]);
  char ready = 0;
  ssize_t got;
  while ((got = ::recv(pair[0], &ready, 1, 0)) < 0 && errno == EINTR) {
  }
  if (got != 1) {
    ::close(pair[0]);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return error::from_errno(EPIPE, "forkserver: the server died as it started");
  }
  s.fd = pair[0];
  s.server = pid;
  s.owns_server = true;
  return success();
}

/// Closes this process's link (`s.m` held). If the server is ours, waits for it to end: it
/// kills and reaps its children, then exits; or (`kill_server`) kills it, and they die with it.
void drop_link(link_state& s, bool kill_server) {
  ::close(s.fd);
  s.fd = -1;
  if (s.owns_server) {
    if (kill_server) ::kill(s.server, SIGKILL);
    while (::waitpid(s.server, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  s.server = 0;
  s.owns_server = false;
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
  if (s.fd >= 0) drop_link(s, false);
}

pid_t forkserver::server_pid() noexcept {
  link_state& s = link();
  std::lock_guard lock(s.m);
  return s.fd >= 0 ? s.server : 0;
}

namespace detail {

result<forked_child> fork_through_server(const spawn_request& req) {
  if (!req.run_child) return error::from_errno(EINVAL, "forkserver: the request has no child entry");
  std::string packet;
  if (!encode(req, packet)) {
    return error::from_errno(E2BIG, "forkserver: the request (mostly the environment) exceeds " +
                                std::to_string(max_request) + " bytes");
  }
  link_state& s = link();
  std::lock_guard lock(s.m);
  if (s.fd < 0) {
    BOOST_OUTCOME_TRY(start_locked(s));
  }
  int passed[2];
  std::size_t nfds = 0;
  for (const int fd : {req.boot.channel_fd, req.boot.handover_fd}) {
    if (fd >= 0) passed[nfds++] = fd;
  }
  if (tractor::detail::send_with_fds(s.fd, packet.data(), packet.size(), std::span<const int>(passed, nfds)) !=
      static_cast<ssize_t>(packet.size())) {
    return error::from_errno(errno ? errno : EPIPE, "forkserver: the server is gone");
  }
  // Bounded: a server that does not answer (stopped, or stuck) fails this spawn, not the
  // spawner thread forever. Its link is then given up, since a late answer would be taken for
  // the next request's.
  pollfd answer{s.fd, POLLIN, 0};
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(req.start_timeout).count();
  int ready;
  while ((ready = ::poll(&answer, 1, static_cast<int>(std::min<long long>(ms, INT_MAX)))) < 0 && errno == EINTR) {
  }
  if (ready == 0) {
    drop_link(s, true);
    return error::from_errno(ETIMEDOUT, "forkserver: the server did not answer within " + std::to_string(ms) +
                                    " ms; its link is given up (the next spawn starts a server of its own)");
  }
  reply r{};
  tractor::detail::passed_fds fds;
  const ssize_t n = tractor::detail::recv_with_fds(s.fd, &r, sizeof r, fds);
  if (n != static_cast<ssize_t>(sizeof r) || r.pid <= 0 || fds.count != 2) {
    fds.close_all();
    if (n != static_cast<ssize_t>(sizeof r)) return error::from_errno(EPIPE, "forkserver: the server is gone");
    return error::from_errno(r.pid <= 0 ? r.err : EPROTO, "forkserver: cannot fork '" + req.boot.name + "'");
  }
  return forked_child{r.pid, fds.take(0), fds.take(1)};
}

}  // namespace detail
}  // namespace tractor::spawn
