// The compiled forkserver helper (see include/tractor/spawn/forkserver.hpp for what it is for):
// the server (detail/server.hpp), starting it, and what an actor process does to spawn through it.
#include "detail/server.hpp"  // relative: builds without Bazel too

#include <sched.h>

namespace tractor::spawn {

namespace {

/// Forks the server off this process, as it is now, and links `s` to it (`s.m` held).
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
  for (const auto& o : s.spares) o.close();
  s.spares.clear();
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

namespace {

/// Lets go of the offers whose spare died (the server offers a replacement).
void drop_dead_offers(link_state& s) {
  std::erase_if(s.spares, [](const offered_spare& o) {
    pollfd ended{o.pidfd, POLLIN, 0};
    if (::poll(&ended, 1, 0) != 1) return false;
    o.close();
    return true;
  });
}

/// Keeps the offer in `r` (with `fds`: pidfd, status pipe, request socket) behind the others.
void keep_offer(link_state& s, const reply& r, const int (&fds)[3]) {
  if (r.kind != reply::offer || r.pid <= 0 || fds[0] < 0 || fds[1] < 0 || fds[2] < 0) {
    close_each({fds[0], fds[1], fds[2]});
    return;
  }
  s.spares.push_back(offered_spare{r.pid, fds[0], fds[1], fds[2]});
  // More than the server offers at a time: one it replaced has died.
  if (s.spares.size() > offered_spares) drop_dead_offers(s);
}

/// Reads the offers that arrived (without waiting).
void take_offers(link_state& s) {
  for (;;) {
    reply r{};
    int fds[3];
    const ssize_t n = recv_with_fds(s.fd, &r, sizeof r, fds, 3, MSG_DONTWAIT);
    if (n != static_cast<ssize_t>(sizeof r)) {
      close_each({fds[0], fds[1], fds[2]});
      break;  // none (or the server is gone: the request finds out)
    }
    keep_offer(s, r, fds);
  }
}

/// Puts process `pid` on the calling thread's CPU, keeping its mask in `was`: handing it
/// a request then wakes no other CPU, and its answer wakes us on ours (on small VMs a wakeup
/// across CPUs costs 30-100 us, as much as the child's boot).
bool pin_here(pid_t pid, cpu_set_t& was) {
  const int cpu = ::sched_getcpu();
  if (cpu < 0 || ::sched_getaffinity(pid, sizeof was, &was) != 0) return false;
  cpu_set_t here;
  CPU_ZERO(&here);
  CPU_SET(cpu, &here);
  return ::sched_setaffinity(pid, sizeof here, &here) == 0;
}

/// Hands the request to the oldest spare the server offered us that is alive (a dead one's
/// end of the request socket is closed: the send fails).
std::optional<detail::forked_child> hand_to_spare(link_state& s, const std::string& packet, int channel) {
  take_offers(s);
  while (!s.spares.empty()) {
    const offered_spare o = s.spares.front();
    s.spares.erase(s.spares.begin());
    detail::forked_child c{o.pid, o.pidfd, o.status_r};
    if (cpu_set_t was; pin_here(o.pid, was)) c.unpin_to = was;
    if (send_with_fds(o.direct, packet.data(), packet.size(), &channel, channel >= 0 ? 1 : 0)) {
      c.request_fd = o.direct;  // closed with the handle (see forked_child)
      return c;
    }
    o.close();  // it died (the server reports that to nobody now, and makes the next)
  }
  return std::nullopt;
}

}  // namespace

std::vector<pid_t> forkserver::held_spares() {
  link_state& s = link();
  std::lock_guard lock(s.m);
  if (s.fd >= 0) take_offers(s);
  drop_dead_offers(s);
  std::vector<pid_t> pids;
  for (const auto& o : s.spares) pids.push_back(o.pid);
  return pids;
}

namespace detail {

result<forked_child> fork_through_server(const spawn_request& req) {
  if (!req.run_child) return sys_error(EINVAL, "forkserver: the request has no child entry");
  // Most programs never change their environment: then the child keeps the server's copy.
  const bool same = environment_is(server_environment);
  const std::string env = same ? std::string() : current_environment();
  const std::uint32_t flags = same ? same_environment : 0;
  std::string packet;
  if (!encode_request(req, flags, env, packet)) {
    return sys_error(E2BIG, "forkserver: the request (mostly the environment) exceeds " +
                                std::to_string(max_request) + " bytes");
  }

  link_state& s = link();
  std::lock_guard lock(s.m);
  if (s.fd < 0) {
    BOOST_OUTCOME_TRY(start_locked(s));
  }
  send_taken_note();  // the server must know we are no spare before it reads a request
  const int channel = req.boot.channel_fd;
  if (auto c = hand_to_spare(s, packet, channel)) return *c;
  if (!send_with_fds(s.fd, packet.data(), packet.size(), &channel, channel >= 0 ? 1 : 0)) {
    return sys_error(errno ? errno : EPIPE, "forkserver: the server is gone");
  }
  reply r{};
  int fds[3];
  for (;;) {
    const ssize_t n = recv_with_fds(s.fd, &r, sizeof r, fds, 3);
    if (n != static_cast<ssize_t>(sizeof r)) {
      close_each({fds[0], fds[1], fds[2]});
      return sys_error(n < 0 ? errno : EPIPE, "forkserver: the server is gone");
    }
    if (r.kind == reply::answer) break;
    keep_offer(s, r, fds);  // made while it served us: for the next request
  }
  close_each({fds[2]});
  if (r.pid <= 0) return sys_error(r.err, "forkserver: cannot fork '" + req.boot.name + "'");
  if (fds[0] < 0 || fds[1] < 0) {
    close_each({fds[0], fds[1]});
    return sys_error(EPROTO, "forkserver: the answer carried no descriptors");
  }
  return forked_child{r.pid, fds[0], fds[1]};
}

}  // namespace detail
}  // namespace tractor::spawn
