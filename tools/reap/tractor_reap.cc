// tractor-reap: finds what a crashed or interrupted actor tree left on this host and stops or
// removes it (tractor's `tractor-reap` script).
//
//     tractor-reap [--pid P] [--grace S] [--sockets] [--shm] [--dry-run]
//
// Processes: this library's actors and forkservers, recognised by their titles
// (`_subactor[name@uuid]`, `_forkserver`), that are orphaned (reparented to pid 1) or, with
// `--pid P`, descend from P. Each is stopped with tractor's ladder, SIGINT, then SIGTERM, then
// SIGKILL, `--grace` seconds apart (1 s by default), through a pidfd opened while its start
// time still matched, so a pid the kernel has since given to another process is never
// signalled. `--sockets` lists this user's abstract UDS names; `--shm` removes /dev/shm
// segments named `tractor-*`, owned by this user and mapped or held open by no process it can
// see (a process in another pid namespace sharing /dev/shm is invisible: run it where the
// trees run). `--dry-run` lists only. The exit status is 1 if a process survived SIGKILL or a
// segment could not be removed, 2 on bad arguments (a `--pid` that names no process too).
//
// Without Bazel, from the checkout:
//     g++ -std=c++20 -O2 -I . tools/reap/tractor_reap.cc tools/reap/scan.cc -o tractor-reap -lfmt
#include "tools/reap/scan.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace reap = tractor::reap;

namespace {

struct options {
  std::optional<pid_t> under;
  double grace = 1.0;
  bool sockets = false;
  bool shm = false;
  bool dry_run = false;
};

std::optional<options> parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::optional<std::string_view> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string_view(argv[++i]);
    };
    if (a == "--pid") {
      const auto v = value();
      const auto pid = v ? reap::parse_int(*v) : std::nullopt;
      if (!pid || *pid <= 0) return std::nullopt;
      o.under = static_cast<pid_t>(*pid);
    } else if (a == "--grace") {
      const auto v = value();
      if (!v) return std::nullopt;
      char* end = nullptr;
      const std::string s(*v);
      o.grace = std::strtod(s.c_str(), &end);
      if (end == s.c_str() || *end != '\0' || o.grace < 0 || o.grace > 3600) return std::nullopt;
    } else if (a == "--sockets") {
      o.sockets = true;
    } else if (a == "--shm") {
      o.shm = true;
    } else if (a == "--dry-run") {
      o.dry_run = true;
    } else {
      return std::nullopt;
    }
  }
  return o;
}

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int fd, int sig) { return static_cast<int>(::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0)); }

/// One process being stopped: its pidfd, the last step of the ladder it was sent, and how it
/// ended (empty while it runs).
struct target {
  reap::process p = {};
  std::string why = {};
  int fd = -1;
  const char* last_signal = nullptr;
  std::string outcome = {};
  bool survived = false;

  [[nodiscard]] bool running() const { return fd >= 0 && outcome.empty(); }

  /// Records its end, if it has ended.
  void settle() {
    pollfd pfd{fd, POLLIN, 0};
    if (running() && ::poll(&pfd, 1, 0) > 0) {
      outcome = last_signal ? std::string("stopped by ") + last_signal : "ended by itself";
    }
  }
};

/// Waits until every target still running has ended, or `grace` seconds have passed.
void wait_all(std::vector<target>& ts, double grace) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace);
  for (;;) {
    std::vector<pollfd> fds;
    for (const auto& t : ts) {
      if (t.running()) fds.push_back({t.fd, POLLIN, 0});
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (fds.empty() || left.count() <= 0) return;
    if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) <= 0) return;
    for (auto& t : ts) t.settle();
  }
}

/// tractor's ladder, to every target at once: each step only to those still running.
void stop_all(std::vector<target>& ts, double grace) {
  static constexpr std::pair<int, const char*> ladder[] = {
      {SIGINT, "SIGINT"}, {SIGTERM, "SIGTERM"}, {SIGKILL, "SIGKILL"}};
  for (const auto& [sig, name] : ladder) {
    bool sent = false;
    for (auto& t : ts) {
      t.settle();
      if (!t.running()) continue;
      if (pidfd_send_signal(t.fd, sig) != 0 && errno != ESRCH) {
        t.outcome = fmt::format("cannot signal: {}", std::strerror(errno));
        continue;
      }
      t.last_signal = name;
      sent = true;
    }
    if (!sent) return;
    wait_all(ts, grace);
  }
  for (auto& t : ts) {
    t.settle();
    if (t.running()) {
      t.outcome = "SURVIVED SIGKILL";
      t.survived = true;
    }
  }
}

int reap_processes(const options& o) {
  const auto all = reap::scan_processes();
  std::vector<target> ts;
  for (const auto& [reason, p] : reap::select_targets(all, o.under)) ts.push_back(target{p, reason});
  fmt::print("processes ({}): {} to stop\n", o.under ? fmt::format("descendants of {}", *o.under) : "orphans",
             ts.size());
  int status = 0;
  if (!o.dry_run) {
    for (auto& t : ts) {
      t.fd = pidfd_open(t.p.pid);
      // The pidfd names whatever has this pid now: keep it only if that is still the
      // process we examined (same start time).
      const auto again = reap::read_process(t.p.pid);
      if (t.fd < 0 || !again || again->start_time != t.p.start_time) {
        if (t.fd >= 0) ::close(t.fd);
        t.fd = -1;
        t.outcome = "ended before the ladder";
      }
    }
    stop_all(ts, o.grace);
  }
  if (!ts.empty()) fmt::print("  {:>8} {:>8}  {:<40} {:<22} {}\n", "PID", "PPID", "TITLE", "WHY", "OUTCOME");
  for (auto& t : ts) {
    fmt::print("  {:>8} {:>8}  {:<40} {:<22} {}\n", t.p.pid, t.p.ppid, t.p.title, t.why,
               o.dry_run ? "would stop" : t.outcome);
    if (t.survived) status = 1;
    if (t.fd >= 0) ::close(t.fd);
  }
  return status;
}

int report_sockets() {
  const auto names = reap::abstract_listeners(reap::default_uds_prefix());
  fmt::print("sockets: {} abstract UDS names of this user's actors; 0 stale\n", names.size());
  fmt::print("  (UDS names are abstract: the kernel releases one with its last descriptor, so none can outlive\n"
             "  its process and no file is ever left to sweep)\n");
  for (const auto& n : names) fmt::print("  @{}\n", n);
  return 0;
}

int sweep_shm(const options& o) {
  const auto segments = reap::orphaned_shm_segments();
  fmt::print("shm: {} segment(s) named tractor-* owned by this user and used by no process\n", segments.size());
  int status = 0;
  for (const auto& s : segments) {
    std::string outcome = "would remove";
    if (!o.dry_run) {
      if (::unlink(("/dev/shm/" + s).c_str()) == 0 || errno == ENOENT) {
        outcome = "removed";
      } else {
        outcome = fmt::format("cannot remove: {}", std::strerror(errno));
        status = 1;
      }
    }
    fmt::print("  /dev/shm/{:<40} {}\n", s, outcome);
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  const auto o = parse_args(argc, argv);
  if (!o) {
    fmt::print(stderr, "usage: tractor-reap [--pid P] [--grace SECONDS] [--sockets] [--shm] [--dry-run]\n");
    return 2;
  }
  if (o->under && ::kill(*o->under, 0) != 0 && errno == ESRCH) {
    fmt::print(stderr, "tractor-reap: no process {} (--pid)\n", *o->under);
    return 2;
  }
  int status = reap_processes(*o);
  if (o->sockets) status |= report_sockets();
  if (o->shm) status |= sweep_shm(*o);
  return status;
}
