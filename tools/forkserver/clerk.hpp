// The forkserver's clerk: it answers the program's and every actor's requests, keeps what
// each child's spawner needs (the child's pidfd, the write end of its status pipe) and kills
// the children of a spawner that is gone. Each request goes to a spare that the server, its
// parent, forked and handed over; the server reaps. The clerk's many descriptors stay out of
// the forks. Private to forkserver.cc.
#pragma once

#include "server.hpp"  // relative: builds without Bazel too

namespace tractor::spawn::server_side {

/// The clerk's state. It waits in one epoll set on every link (a request, or the process
/// behind it gone) and on the server's notes: a turn costs the same with 1,000 children as
/// with one.
struct clerk {
  struct child {
    int pidfd = -1;
    int status_w = -1;
    int owner = -1;  // the link of the process that asked for it
  };

  int program = -1;  // the program's link: its end ends the forkserver
  int server = -1;   // the link to the server
  struct {
    pid_t pid = -1;
    int link = -1;  // where it waits for its request
    int pidfd = -1;
  } spare;  // the server's, handed over ready (`spare_note`)
  std::unordered_map<pid_t, child> children;
  // One byte more than a request may have: a longer packet is refused, not cut short.
  std::vector<char> buf = std::vector<char>(max_request + 1);
  const int poller = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<int> closed;  // this turn's: later events of the turn for them are stale

  void watch(int fd) {
    epoll_event e{};
    e.events = EPOLLIN | EPOLLRDHUP;  // a hang-up tells end-of-file from an empty packet
    e.data.fd = fd;
    if (::epoll_ctl(poller, EPOLL_CTL_ADD, fd, &e) != 0) exit_with(exit_code::out_of_resources);
  }

  /// Stops watching `fd` and closes it (the epoll set watches the open file, not the number).
  void unwatch(int fd) {
    ::epoll_ctl(poller, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    closed.push_back(fd);
  }

  void drop_spare() {
    close_each({spare.link, spare.pidfd});
    spare = {};
  }

  /// The server reaped `pid`: its spawner learns how it ended, and the clerk forgets it.
  void exited(pid_t pid, int wstatus) {
    if (pid == spare.pid) return drop_spare();
    auto c = children.find(pid);
    if (c == children.end()) return;
    (void)!::write(c->second.status_w, &wstatus, sizeof wstatus);
    close_each({c->second.status_w, c->second.pidfd});
    children.erase(c);
  }

  /// The server's next note (`flags`: recv's), taken: a reaped child reported, a spare
  /// kept. The server gone (or, MSG_DONTWAIT, no note): a note of kind 0.
  note next_note(int flags) {
    note n{};
    passed_fds fds;
    const ssize_t got = tractor::detail::recv_with_fds(server, &n, sizeof n, fds, flags);
    if (got != static_cast<ssize_t>(sizeof n)) {
      fds.close_all();
      return note{0, -1, got < 0 && errno == EAGAIN ? EAGAIN : EPIPE};
    }
    if (n.kind == exited_note) exited(n.pid, n.value);
    if (n.kind == spare_note && n.pid > 0 && fds.count == 2) {
      drop_spare();  // (none: the server makes the next once this one is taken or gone)
      spare.pid = n.pid;
      spare.link = fds.take(0);
      spare.pidfd = fds.take(1);
    }
    fds.close_all();
    return n;
  }

  /// Waits until there is a spare (asking the server for one now; while one is on its way,
  /// that one serves, or its replacement if it dies): 0, or the errno of the fork that failed
  /// (the server gone: EPIPE).
  int await_spare() {
    if (spare.pid >= 0) return 0;
    // The notes already here first: a spare may be among them, and a failure among them is
    // of a fork nobody waited for, not an answer to this ask.
    on_server();
    if (spare.pid >= 0) return 0;
    const note want{wanted_note, -1, 0};
    if (::send(server, &want, sizeof want, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof want)) return EPIPE;
    while (spare.pid < 0) {
      const note n = next_note(0);
      if (n.kind == 0) return EPIPE;
      if (n.kind == spare_note && n.pid < 0) return n.value;
    }
    return 0;
  }

  /// Hands request `n` to the spare: the child's pid (the spare's), its pidfd in `pidfd` and
  /// its link (the socket the spare waited on, which the child keeps) in `link`; or -1 if
  /// the spare cannot take it (it died: it is killed and forgotten). A spare killed but not
  /// yet gone still takes it: the spawner then gets a child whose status says it was killed,
  /// the truth, as from a child killed a moment later.
  pid_t take_spare(std::size_t n, const passed_fds& fds, int& pidfd, int& link) {
    if (!send_request(spare.link, buf.data(), n, fds)) {
      ::syscall(SYS_pidfd_send_signal, spare.pidfd, SIGKILL, nullptr, 0);  // reaped, replaced
      drop_spare();
      return -1;
    }
    const note taken{taken_note, spare.pid, 0};
    (void)!::send(server, &taken, sizeof taken, MSG_NOSIGNAL);  // so it makes the next
    link = spare.link;
    pidfd = spare.pidfd;
    spare = {};
    return taken.pid;
  }

  /// A request from the process at link `from`, with descriptors `fds` (closed here: the
  /// child has its own): a spare becomes the child, and the requester gets its pidfd and the
  /// read end of its status pipe.
  void on_request(int from, std::size_t n, passed_fds& fds) {
    request r;
    int err = n <= max_request && parse(std::string_view(buf.data(), n), fds, r) ? 0 : EINVAL;
    int status[2] = {-1, -1};
    if (err == 0 && ::pipe2(status, O_CLOEXEC) < 0) err = errno;
    pid_t pid = -1;
    int pidfd = -1;
    int link = -1;
    // A spare that died before taking it is replaced; a few in a row mean something kills them.
    for (int tries = 0; err == 0 && pid < 0; ++tries) {
      err = tries < 3 ? await_spare() : EAGAIN;
      if (err == 0) pid = take_spare(n, fds, pidfd, link);
    }
    fds.close_all();
    const reply to_spawner{err ? -1 : pid, err};
    const int passed[2] = {pidfd, status[0]};
    (void)tractor::detail::send_with_fds(from, &to_spawner, sizeof to_spawner, std::span<const int>(passed, err ? 0 : 2));
    close_each({status[0]});
    if (err != 0) {
      close_each({status[1]});
      return;
    }
    children[pid] = child{pidfd, status[1], from};
    watch(link);  // closed when the child's end is (link_gone)
  }

  /// The process behind link `fd` is gone: the children it spawned die with it; with the
  /// program, every child, and the forkserver ends (the server, its link closed, reaps them).
  void link_gone(int fd) {
    const bool everyone = fd == program;
    for (const auto& [pid, c] : children) {
      if (everyone || c.owner == fd) ::syscall(SYS_pidfd_send_signal, c.pidfd, SIGKILL, nullptr, 0);
    }
    unwatch(fd);
    if (everyone) exit_with(exit_code::ok);
  }

  /// The next packet on link `fd`, whose epoll `events` say whether its peer hung up.
  void on_link(int fd, std::uint32_t events) {
    passed_fds fds;
    // Never blocks: the clerk must not wait on one link while the others wait on it.
    const ssize_t n = tractor::detail::recv_with_fds(fd, buf.data(), buf.size(), fds, MSG_DONTWAIT);
    // An empty packet also reads as 0 bytes: only a hang-up ends the link (a packet that is
    // not a request is refused, and the process behind it and its children go on).
    const bool hung_up = (events & (EPOLLHUP | EPOLLRDHUP)) != 0;
    if (n > 0 || (n == 0 && !hung_up)) return on_request(fd, static_cast<std::size_t>(n), fds);
    if (n < 0 && errno == EAGAIN) return;
    fds.close_all();
    link_gone(fd);
  }

  /// The server's notes that came on their own (children reaped, a spare ready); the server
  /// gone ends the clerk.
  void on_server() {
    for (;;) {
      const note n = next_note(MSG_DONTWAIT);
      if (n.kind == 0 && n.value == EAGAIN) return;
      if (n.kind == 0) exit_with(exit_code::ok);
    }
  }

  [[noreturn]] void serve(int program_fd, int server_fd) {
    if (poller < 0) exit_with(exit_code::out_of_resources);
    program = program_fd;
    server = server_fd;
    watch(program_fd);
    watch(server_fd);
    epoll_event events[64];
    for (;;) {
      const int n = ::epoll_wait(poller, events, 64, -1);
      closed.clear();
      // The server's notes first: a child is forgotten before a request can reuse its pid.
      for (int i = 0; i < n; ++i) {
        if (events[i].data.fd == server) on_server();
      }
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == server || std::find(closed.begin(), closed.end(), fd) != closed.end()) continue;
        on_link(fd, events[i].events);
      }
    }
  }
};

}  // namespace tractor::spawn::server_side
