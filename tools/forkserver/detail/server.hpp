// The forkserver itself: its state, the server loop, the spares and what a forked child does
// before it runs the actor. Private to tools/forkserver/forkserver.cc, which includes it once:
// everything here lives in that file's anonymous namespace.
//
// Wire (wire.hpp): one SOCK_SEQPACKET link per actor process to the server; a request is one
// packet, and so is each `reply`. The server's loop uses only system calls on buffers it
// allocated before its first fork, so nothing it inherited from a threaded program (a lock
// held by another thread) is ever taken.
//
// Spares: children forked ahead of any request, prepared (descriptors closed, tied to the
// server, signals reset, their own copies of the small writable mappings and their page
// tables for code and read-only data made, the last request's entry rehearsed) and waiting,
// so that a spawn waits for no fork and its boot takes fewer page faults. The program's own
// two spares are offered to it (each with a socket of its own): the program hands its next
// request straight to the older one, with no hop through the server, and the spare tells
// the server it was taken once its actor has booted (two: a spare takes about a millisecond
// to prepare, and spawns one boot apart then both find one ready). One more spare, made once
// a request came through the server (from a nested actor, or from the program when neither
// of its own was ready), takes such requests as the server forwards them; and a nested actor
// that sent one is offered a spare of its own from then on (the first `nested_offers` such
// actors, one each). A taken spare is replaced a moment later, off the spawn's path; with no
// spare ready the server forks for the request itself.
#pragma once

#include <tractor/spawn/forkserver.hpp>

#include "posix.hpp"
#include "wire.hpp"

#include <algorithm>
#include <array>
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
using namespace forkserver_wire;

/// How many spares the program is offered at a time.
constexpr std::size_t offered_spares = 2;
/// How many other actor processes (nested actors that spawned through the server) are
/// offered a spare of their own, one each, at a time: each holds ~0.6 MiB while it waits.
constexpr std::size_t nested_offers = 4;
/// How long after a spare was forwarded a request (or died) the next one is forked: not at
/// once, its fork would compete for the CPU with the boot just handed over. (An offered spare
/// says it was taken once booted: the next is forked then.)
constexpr long long spare_delay_ns = 300'000;
/// How much a spare makes its own ahead: copies of what it shares with the server (~0.6 MiB
/// is typical), page tables for the program's code and read-only data.
constexpr populate_budget spare_populate{std::size_t{4} << 20, std::size_t{64} << 20};

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

/// Whether the environment is still `block` (compared in place: no copy per spawn).
bool environment_is(std::string_view block) {
  for (char** e = environ; e && *e; ++e) {
    const std::string_view entry(*e, std::strlen(*e) + 1);  // with its '\0'
    if (!block.starts_with(entry)) return false;
    block.remove_prefix(entry.size());
  }
  return block.empty();
}

/// A spare the server offered this process: its request goes to `direct`.
struct offered_spare {
  pid_t pid;
  int pidfd;
  int status_r;
  int direct;
  void close() const { close_each({pidfd, status_r, direct}); }
};

/// This process's link to its server.
struct link_state {
  std::mutex m;
  int fd = -1;
  pid_t server = 0;
  bool owns_server = false;  // started it: must reap it
  std::vector<offered_spare> spares;  // the oldest (the most prepared) first
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
  s.spares.clear();  // (their descriptors were closed above)
}

/// In a spare taken by the process it was offered to: the note that tells the server so (with
/// the entry it runs), until sent. Sent once the actor has booted, off the spawn's path (the
/// message wakes the server on the other CPU: ~15 us for the sender on small VMs), or before
/// the first request this process sends the server, or when its entry returns, whichever
/// comes first.
struct taken_note {
  int link = -1;
  std::uint64_t entry = 0;
};
taken_note pending_note;

void send_taken_note() {
  if (pending_note.link < 0) return;
  const spare_note taken{spare_note::taken, pending_note.entry};
  (void)!::send(pending_note.link, &taken, sizeof taken, MSG_NOSIGNAL);
  pending_note.link = -1;
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
  boot.on_booted = &send_taken_note;
  const int code = r.entry(boot);
  send_taken_note();
  std::fflush(nullptr);
  ::_exit(code);
}

/// A spare: a child forked ahead of any request, prepared, waiting for its request: on its
/// link as the server forwards it, or on `direct` (-1: none) from the process it was offered
/// to, which it tells the server later (`taken_note`). If `rehearse` is set (the entry of
/// the last request the server heard of), the spare first runs it in rehearsal: what a boot
/// does once per process is done by then. Never returns.
[[noreturn]] void wait_as_spare(int link_fd, int direct, pid_t server, char* buf, child_entry rehearse) {
  prepare_child(link_fd, direct, server);
  write_title(title_place, spare_title);
  // Ahead of the request, not as page faults in its boot.
  populate_mappings(spare_populate);
  if (rehearse) {
    child_boot rehearsal;
    rehearsal.rehearse = true;
    (void)rehearse(rehearsal);
  }
  const spare_note ready{spare_note::ready, 0};
  (void)!::send(link_fd, &ready, sizeof ready, MSG_NOSIGNAL);
  pollfd fds[2] = {{link_fd, POLLIN, 0}, {direct, POLLIN, 0}};
  while (::poll(fds, 2, -1) < 0) {  // EINTR
  }
  const bool taken = fds[1].revents != 0;  // not forwarded by the server
  int channel = -1;
  const ssize_t n = recv_with_fds(taken ? direct : link_fd, buf, max_request, &channel, 1);
  // Nothing: the server is closing, or the process let its offer go (it is exiting).
  if (n <= 0) ::_exit(0);
  if (direct >= 0) ::close(direct);
  parsed_request r;
  if (!parse(buf, static_cast<std::size_t>(n), channel, r)) ::_exit(71);
  if (taken) {
    pending_note = {link_fd, static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(r.entry))};
  }
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

/// A child just forked, as the server holds it until it is handed over.
struct forked {
  pid_t pid = -1;
  int pidfd = -1;
  int link = -1;  // the server's end of its link
  int status_r = -1;
  int status_w = -1;
  int direct = -1;       // an offered spare's request socket, the offeree's end (until sent)
  bool ready = false;    // a spare: has said it is prepared
  bool offered = false;  // its offeree holds its pidfd, status pipe and request socket
};

/// Forks a child that runs `in_child(its link end, its end of the request socket or -1)`
/// (which never returns), with a request socket of its own if `direct`. errno on failure.
template <class F>
int fork_with_link(forked& f, bool direct, F&& in_child) {
  int pair[2] = {-1, -1};
  int status[2] = {-1, -1};
  int req[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0 || ::pipe2(status, O_CLOEXEC) < 0 ||
      (direct && ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, req) < 0)) {
    const int e = errno;
    close_each({pair[0], pair[1], status[0], status[1], req[0], req[1]});
    return e;
  }
  const pid_t pid = ::fork();
  if (pid == 0) in_child(pair[1], req[1]);
  close_each({pair[1], req[1]});
  const int pidfd = pid > 0 ? static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)) : -1;
  if (pid < 0 || pidfd < 0) {
    const int e = errno;
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    close_each({pair[0], status[0], status[1], req[0]});
    return e;
  }
  f = forked{pid, pidfd, pair[0], status[0], status[1], req[0]};
  return 0;
}

/// Where the server keeps a spare, and when it makes the next.
struct spare_slot {
  std::optional<forked> f;
  long long refill_at = 0;  // CLOCK_MONOTONIC, ns
  bool wanted = false;
  int owner = -1;  // the link of the actor process it is offered to; -1: forwarded requests
};

struct server {
  std::vector<client> clients;
  std::vector<child> children;
  /// The program's: offered to it. Two, so that spawns a boot apart both find one ready.
  std::array<spare_slot, offered_spares> own{};
  spare_slot shared;  // for requests that come through us: made once one did
  /// Offered to the first actor processes other than the program that spawned through us,
  /// one each (fixed: the loop allocates nothing); free while `owner` is -1.
  std::array<spare_slot, nested_offers> nested{};
  std::vector<char> buf = std::vector<char>(max_request);
  const pid_t self = ::getpid();
  int root = -1;  // the program's link
  /// The entry of the last request we heard of: what the next spares rehearse.
  child_entry rehearsed = nullptr;

  static long long now_ns() {
    timespec t;
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1'000'000'000LL + t.tv_nsec;
  }
  static long long left_ns(const spare_slot& s) {
    if (s.f || !s.wanted) return -1;
    return std::max(0LL, s.refill_at - now_ns());
  }
  /// How long to wait for events: until the next refill is due (false: none is).
  bool poll_timeout(timespec& t) {
    long long left = -1;
    for (const spare_slot* s : all_slots()) {
      if (const long long l = left_ns(*s); l >= 0 && (left < 0 || l < left)) left = l;
    }
    if (left < 0) return false;
    t = timespec{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
    return true;
  }

  /// Forks the slot's next spare when it is due (no spare is no error: a request then forks).
  void refill_when_due(spare_slot& s) {
    if (left_ns(s) != 0) return;
    forked f;
    char* b = buf.data();
    const bool direct = s.owner >= 0;
    const child_entry entry = rehearsed;
    if (fork_with_link(f, direct, [&](int link_fd, int req_fd) { wait_as_spare(link_fd, req_fd, self, b, entry); }) == 0) {
      s.f = f;
    } else {
      s.refill_at = now_ns() + spare_delay_ns;
    }
  }

  /// Ends the slot's spare (it died, or the server is closing). An offered one is reported
  /// like any child: the process it was offered to may have handed it a request already.
  void drop_spare(spare_slot& s) {
    if (!s.f) return;
    forked& f = *s.f;
    ::syscall(SYS_pidfd_send_signal, f.pidfd, SIGKILL, nullptr, 0);
    report(child{f.pid, f.pidfd, f.status_w, root});
    close_each({f.link, f.status_r, f.direct});
    s.f.reset();
    s.refill_at = now_ns() + spare_delay_ns;
  }

  /// Takes the slot's spare out to become a child. The next is forked after the delay, or at
  /// once for one an actor process took (its actor has booted by the time we hear of it).
  forked take(spare_slot& s) {
    const forked f = *s.f;
    s.f.reset();
    s.refill_at = now_ns() + (s.owner < 0 ? spare_delay_ns : 0);
    return f;
  }

  /// Child `f` is now the client at `from`'s: we reap it for them, and serve its link.
  void keep(const forked& f, int from) {
    children.push_back(child{f.pid, f.pidfd, f.status_w, from});
    clients.push_back(client{f.link, false});
  }

  /// Offers the actor process at link `to` a spare: its pidfd, status pipe and request socket.
  void offer(forked& f, int to) {
    const reply out{reply::offer, f.pid, 0};
    const int fds[3] = {f.pidfd, f.status_r, f.direct};
    // If it fails, that process is going away: its link's end is read next.
    if (!send_with_fds(to, &out, sizeof out, fds, 3)) return;
    close_each({f.status_r, f.direct});
    f.status_r = f.direct = -1;
    f.offered = true;
  }

  /// A note from the spare in `s` (ready, or taken by the process it was offered to), or its end.
  void on_spare_note(spare_slot& s) {
    forked& f = *s.f;
    spare_note note{};
    const ssize_t got = ::recv(f.link, &note, sizeof note, MSG_DONTWAIT);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) return;
    const bool whole = got == static_cast<ssize_t>(sizeof note);
    if (whole && note.kind == spare_note::ready && !f.ready) {
      f.ready = true;
      if (s.owner >= 0) offer(f, s.owner);
    } else if (whole && note.kind == spare_note::taken && f.offered && note.entry != 0) {
      rehearsed = reinterpret_cast<child_entry>(static_cast<std::uintptr_t>(note.entry));
      keep(take(s), s.owner);
    } else {
      drop_spare(s);  // it died, or said what it should not
    }
  }

  /// Gives child `f` to the client at `from`: its pid, pidfd and status pipe.
  void hand_over(const forked& f, int from) {
    const reply out{reply::answer, f.pid, 0};
    const int fds[2] = {f.pidfd, f.status_r};
    send_with_fds(from, &out, sizeof out, fds, 2);
    ::close(f.status_r);
    keep(f, from);
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
    if (!parse(buf.data(), n, channel, r)) {
      const reply out{reply::answer, -1, EINVAL};
      send_with_fds(from, &out, sizeof out, nullptr, 0);
      return;
    }
    rehearsed = r.entry;
    if (!shared.wanted) {
      shared.wanted = true;
      shared.refill_at = now_ns() + spare_delay_ns;
    }
    want_offer_for(from);
    if (shared.f && shared.f->ready) {
      // The spare takes the request as it came; the fork it saves is the slow part.
      if (send_with_fds(shared.f->link, buf.data(), n, &channel, channel >= 0 ? 1 : 0)) {
        hand_over(take(shared), from);
        return;
      }
      drop_spare(shared);  // it died meanwhile
    }
    forked f;
    char* b = buf.data();
    const int err = fork_with_link(f, false, [&](int link_fd, int) {
      prepare_child(link_fd, r.channel, self);
      become_child(r, b);
    });
    if (err != 0) {
      const reply out{reply::answer, -1, err};
      send_with_fds(from, &out, sizeof out, nullptr, 0);
      return;
    }
    hand_over(f, from);
  }

  /// An actor process other than the program spawned through us: from now on it is offered a
  /// spare of its own, if a nested slot is free.
  void want_offer_for(int from) {
    if (from == root) return;
    spare_slot* free = nullptr;
    for (spare_slot& s : nested) {
      if (s.owner == from) return;
      if (s.owner < 0 && !free) free = &s;
    }
    if (free) *free = spare_slot{std::nullopt, now_ns() + spare_delay_ns, true, from};
  }

  /// Every slot, for the loop (a free nested one has no spare and wants none).
  std::array<spare_slot*, offered_spares + 1 + nested_offers> all_slots() {
    std::array<spare_slot*, offered_spares + 1 + nested_offers> out{};
    std::size_t i = 0;
    for (spare_slot& s : own) out[i++] = &s;
    out[i++] = &shared;
    for (spare_slot& s : nested) out[i++] = &s;
    return out;
  }

  /// The actor behind link `fd` is gone: its children die with it; with the program, all.
  void client_gone(int fd) {
    const auto it = std::find_if(clients.begin(), clients.end(), [&](const client& c) { return c.fd == fd; });
    const bool is_root = it->root;
    kill_children_of(children, is_root ? -1 : fd);
    ::close(fd);
    it->fd = -1;
    for (spare_slot& s : nested) {
      if (s.owner != fd) continue;
      drop_spare(s);  // it was offered to the process now gone
      s = spare_slot{};
    }
    if (!is_root) return;
    for (spare_slot& o : own) drop_spare(o);
    drop_spare(shared);
    for (const auto& c : children) report(c);
    ::_exit(0);
  }

  [[noreturn]] void serve(int root_fd) {
    root = root_fd;
    clients.push_back(client{root_fd, true});
    std::vector<pollfd> fds;
    clients.reserve(1024);
    children.reserve(1024);
    fds.reserve(2048);
    for (std::size_t i = 0; i < own.size(); ++i) {
      // The first at once; the others a little later, not all competing for the CPU at once.
      own[i].wanted = true;
      own[i].refill_at = now_ns() + static_cast<long long>(i) * spare_delay_ns;
      own[i].owner = root;
    }
    for (spare_slot& o : own) refill_when_due(o);
    for (;;) {
      fds.clear();
      for (const auto& c : clients) fds.push_back(pollfd{c.fd, POLLIN, 0});
      for (const auto& c : children) fds.push_back(pollfd{c.pidfd, POLLIN, 0});
      const std::size_t nclients = clients.size();
      const std::size_t nchildren = children.size();
      const auto slots = all_slots();
      for (spare_slot* s : slots) {
        // A spare is heard from until it is ready, and an offered one until it is taken.
        const bool listen = s->f && (!s->f->ready || s->f->offered);
        fds.push_back(pollfd{s->f ? s->f->link : -1, static_cast<short>(listen ? POLLIN : 0), 0});
        fds.push_back(pollfd{s->f ? s->f->pidfd : -1, POLLIN, 0});
      }
      timespec timeout;
      const bool timed = poll_timeout(timeout);
      if (::ppoll(fds.data(), fds.size(), timed ? &timeout : nullptr, nullptr) < 0) continue;  // EINTR
      // Exits first: a status is reported before a new request can reuse anything.
      for (std::size_t i = nclients, k = 0; i < nclients + nchildren; ++i) {
        if (!fds[i].revents) {
          ++k;
          continue;
        }
        report(children[k]);
        children.erase(children.begin() + static_cast<std::ptrdiff_t>(k));
      }
      for (std::size_t j = 0; j < slots.size(); ++j) {
        const pollfd* p = &fds[nclients + nchildren + 2 * j];
        // Its note first: a spare taken and already ended said what it was taken for.
        if (slots[j]->f && p[0].revents) on_spare_note(*slots[j]);
        if (slots[j]->f && p[1].revents) drop_spare(*slots[j]);  // it died
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
        client_gone(fd);
      }
      std::erase_if(clients, [](const client& c) { return c.fd < 0; });
      for (spare_slot* sl : slots) refill_when_due(*sl);
    }
  }
};

}  // namespace
}  // namespace tractor::spawn
