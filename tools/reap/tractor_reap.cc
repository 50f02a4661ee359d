// tractor-reap: finds what a crashed or interrupted actor tree left on this host and stops or
// removes it (tractor's `tractor-reap` script).
//
//     tractor-reap [--pid P] [--grace S] [--sockets] [--registry [ADDR]] [--shm] [--dry-run]
//
// Processes: this library's actors and forkservers, recognised by their titles
// (`_subactor[name@uuid]`, `_forkserver`), that are orphaned (reparented to pid 1) or, with
// `--pid P`, descend from P. Each is stopped with tractor's ladder, SIGINT, then SIGTERM, then
// SIGKILL, `--grace` seconds apart (1 s by default), through a pidfd opened while its start
// time still matched, so a pid the kernel has since given to another process is never
// signalled. `--sockets` lists this user's abstract UDS names; `--registry` asks the
// registrars (ADDR, else those of TRACTOR_REGISTRY_ADDRS, else the default ones) for their
// entries and has each registrar forget the addresses whose actor is gone; `--shm` removes /dev/shm
// segments named `tractor-*`, owned by this user and mapped or held open by no process it can
// see (a process in another pid namespace sharing /dev/shm is invisible: run it where the
// trees run); with TRACTOR_SHM_GROUP set, only that group's (a program and its children's:
// tractor/shm/segment.hpp). `--dry-run` lists only. The exit status is 1 if a process survived SIGKILL or a
// segment could not be removed, 2 on bad arguments (a `--pid` that names no process too).
//
// Without Bazel, from the checkout:
//     g++ -std=c++20 -O2 -DSPDLOG_COMPILED_LIB -I include -I . -o tractor-reap
//         tools/reap/tractor_reap.cc tools/reap/registry.cc -lspdlog -lfmt -lcrypto       (one line)
#include <tractor/testing/reap.hpp>

#include "tools/reap/registry.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace reap = tractor::testing;

namespace {

struct options {
  std::optional<pid_t> under;
  double grace = 1.0;
  bool sockets = false;
  bool registry = false;
  std::vector<std::string> registrars;
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
    } else if (a == "--registry") {
      o.registry = true;
      if (i + 1 < argc && std::string_view(argv[i + 1]).starts_with("/")) o.registrars.emplace_back(argv[++i]);
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

int reap_processes(const options& o) {
  const auto targets = reap::select_targets(reap::scan_processes(), o.under);
  fmt::print("processes ({}): {} to stop\n", o.under ? fmt::format("descendants of {}", *o.under) : "orphans",
             targets.size());
  std::vector<reap::stop_report> reports;
  if (o.dry_run) {
    for (const auto& t : targets) reports.push_back({t, "would stop", false});
  } else {
    reports = reap::stop_with_ladder(targets, std::chrono::milliseconds(static_cast<long long>(o.grace * 1000)));
  }
  if (!reports.empty()) fmt::print("  {:>8} {:>8}  {:<40} {:<22} {}\n", "PID", "PPID", "TITLE", "WHY", "OUTCOME");
  int status = 0;
  for (const auto& r : reports) {
    fmt::print("  {:>8} {:>8}  {:<40} {:<22} {}\n", r.t.p.pid, r.t.p.ppid, r.t.p.title, r.t.why, r.outcome);
    if (r.survived) status = 1;
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

int clean_registries(const options& o) {
  int status = 0;
  for (const auto& address : o.registrars.empty() ? tractor::tools::default_registrars() : o.registrars) {
    const auto view = tractor::tools::read_registry(address, !o.dry_run);
    if (view.failure) {
      fmt::print("registry {}: {}\n", address, *view.failure);
      continue;
    }
    const auto gone = std::count_if(view.entries.begin(), view.entries.end(), [](const auto& e) { return !e.alive; });
    fmt::print("registry {}: {} entries, {} of an actor that is gone\n", address, view.entries.size(), gone);
    if (gone) fmt::print("  {:<20} {:<10} {:<60} {}\n", "NAME", "UUID", "ADDRESS", "OUTCOME");
    for (const auto& e : view.entries) {
      if (e.alive) continue;
      const bool refused = e.why.find("refused to forget") != std::string::npos;
      status |= refused ? 1 : 0;
      fmt::print("  {:<20} {:<10} {:<60} {} ({})\n", e.name, e.uuid.substr(0, 8), e.address,
                 o.dry_run ? "would forget" : refused ? "kept" : "forgotten", e.why);
    }
  }
  return status;
}

int sweep_shm(const options& o) {
  const char* group = std::getenv("TRACTOR_SHM_GROUP");
  const std::string prefix = std::string("tractor-") + (group ? group : "");
  std::vector<std::string> segments;
  for (auto& s : reap::orphaned_shm_segments()) {
    if (s.starts_with(prefix)) segments.push_back(std::move(s));
  }
  fmt::print("shm: {} segment(s) named {}* owned by this user and used by no process\n", segments.size(), prefix);
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
    fmt::print(stderr, "usage: tractor-reap [--pid P] [--grace SECONDS] [--sockets] [--registry [ADDR]] [--shm] [--dry-run]\n");
    return 2;
  }
  if (o->under && ::kill(*o->under, 0) != 0 && errno == ESRCH) {
    fmt::print(stderr, "tractor-reap: no process {} (--pid)\n", *o->under);
    return 2;
  }
  int status = reap_processes(*o);
  if (o->sockets) status |= report_sockets();
  if (o->registry) status |= clean_registries(*o);
  if (o->shm) status |= sweep_shm(*o);
  return status;
}
