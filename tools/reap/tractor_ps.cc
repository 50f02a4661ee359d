// tractor-ps: the actor trees of this user on this host, from /proc.
//
//     tractor-ps [--json] [--watch SECONDS] [--registry [ADDR]] [--dump NAME|PID]
//
// Each tree is its root program (the first process above this library's actors that is not
// one of them) and, below it, every actor process (`_subactor[name@uuid]`, backend `exec`, or
// `forkserver` under a `_forkserver`), forkserver and thread actor (a thread named
// `actor:<name>`), with its pid, listening address (its abstract UDS name), uptime, resident
// memory, CPU time used and scheduler state. `--dump PID` (or the NAME of an actor, found by
// its title, or of a thread actor, found by its thread's name) asks that actor process for its
// task-tree dump (SIGUSR1, only if it handles it: a tree started with task dumps on) and
// prints it. `--registry` adds what the registrars hold (ADDR, else those of
// TRACTOR_REGISTRY_ADDRS, else the default ones): each entry, alive or gone, and a registrar
// that does not answer as such; asking takes a short-lived root of its own, hence a flag.
// Exit status 1 if the dump cannot be had, 2 on bad arguments.
//
// Without Bazel, from the checkout:
//     g++ -std=c++20 -O2 -DSPDLOG_COMPILED_LIB -I include -I . -o tractor-ps
//         tools/reap/tractor_ps.cc tools/reap/registry.cc -lspdlog -lfmt -lcrypto          (one line)
#include <tractor/testing/reap.hpp>

#include "tools/reap/registry.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace reap = tractor::testing;

namespace {

struct row {
  int depth = 0;
  reap::process p;
  std::string backend;  // "(root)", exec, forkserver, "(server)", thread
  std::string name;
  std::string address;
};

double uptime_of(const reap::process& p) {
  const double now = std::strtod(reap::read_file("/proc/uptime").c_str(), nullptr);
  return now - static_cast<double>(p.start_time) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

/// "name@1234abcd" from "_subactor[name@1234abcd]"; a program's own argv[0] otherwise.
std::string name_of(const reap::process& p) {
  if (p.title.starts_with("_subactor[") && p.title.ends_with("]")) return p.title.substr(10, p.title.size() - 11);
  return p.title;
}

/// The abstract UDS name `pid` listens on as actor `actor` ("name", or any name if empty).
std::string address_of(const std::vector<std::string>& names, pid_t pid, const std::string& actor) {
  const std::string at = "@" + std::to_string(pid);
  for (const auto& n : names) {
    const auto slash = n.rfind('/');
    const std::string base = n.substr(slash + 1);
    const auto tail = base.rfind('@');
    if (tail == std::string::npos) continue;
    const std::string pid_part = base.substr(tail);
    if (pid_part != at && !pid_part.starts_with(at + ".")) continue;
    if (actor.empty() || base.substr(0, tail) == actor) return "/unix" + n;
  }
  return "-";
}

/// Every tree, depth first: roots, then the actors below each.
std::vector<row> collect() {
  const auto all = reap::scan_processes();
  const auto names = reap::abstract_listeners(reap::default_uds_prefix());
  std::map<pid_t, const reap::process*> by_pid;
  std::multimap<pid_t, const reap::process*> children;
  for (const auto& p : all) {
    by_pid[p.pid] = &p;
    children.emplace(p.ppid, &p);
  }
  std::vector<pid_t> roots;
  for (const auto& p : all) {
    if (!reap::is_tractor_process(p)) continue;
    const auto parent = by_pid.find(p.ppid);
    if (parent == by_pid.end() || !reap::is_tractor_process(*parent->second)) roots.push_back(p.ppid);
  }
  // A tree of thread actors is one process: its root, whose threads are the actors.
  for (const auto& p : all) {
    if (reap::is_tractor_process(p)) continue;
    const auto names_of = reap::thread_names(p.pid);
    if (std::any_of(names_of.begin(), names_of.end(), [](const std::string& t) { return t.starts_with(reap::thread_actor_prefix); })) {
      roots.push_back(p.pid);
    }
  }
  std::sort(roots.begin(), roots.end());
  roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
  std::vector<row> out;
  auto threads = [&](const reap::process& p, int depth) {
    for (const auto& t : reap::thread_names(p.pid)) {
      if (!t.starts_with("actor:")) continue;
      const std::string actor = t.substr(6);
      out.push_back(row{depth, p, "thread", actor, address_of(names, p.pid, actor)});
    }
  };
  auto walk = [&](auto& self, const reap::process& p, int depth) -> void {
    const auto [first, last] = children.equal_range(p.pid);
    for (auto it = first; it != last; ++it) {
      const reap::process& c = *it->second;
      if (!reap::is_tractor_process(c)) continue;
      const bool server = c.title.starts_with("_forkserver");
      const std::string backend = server ? "(server)" : p.title.starts_with("_forkserver") ? "forkserver" : "exec";
      const std::string name = name_of(c);
      const std::string actor = server ? "" : name.substr(0, name.find('@'));
      out.push_back(row{depth, c, backend, name, server ? "-" : address_of(names, c.pid, actor)});
      threads(c, depth + 1);
      self(self, c, depth + 1);
    }
  };
  for (const pid_t r : roots) {
    const auto it = by_pid.find(r);
    if (it == by_pid.end()) {  // gone, or another user's: its orphans show under pid 1
      reap::process gone;
      gone.pid = r;
      gone.title = r == 1 ? "(orphans, reparented to pid 1)" : "(not readable)";
      out.push_back(row{0, gone, "(root)", gone.title, "-"});
      for (const auto& p : all) {
        if (p.ppid == r && reap::is_tractor_process(p)) {
          out.push_back(row{1, p, p.title.starts_with("_forkserver") ? "(server)" : "exec", name_of(p), "-"});
          walk(walk, p, 2);
        }
      }
      continue;
    }
    out.push_back(row{0, *it->second, "(root)", it->second->title, address_of(names, r, "")});
    threads(*it->second, 1);
    walk(walk, *it->second, 1);
  }
  return out;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void print(const std::vector<row>& rows, bool json) {
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const long long page = ::sysconf(_SC_PAGESIZE);
  if (json) {
    fmt::print("[");
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const row& r = rows[i];
      fmt::print("{}\n  {{\"depth\": {}, \"pid\": {}, \"ppid\": {}, \"backend\": {}, \"name\": {}, \"address\": {}, "
                 "\"uptime_s\": {:.1f}, \"rss_bytes\": {}, \"cpu_s\": {:.2f}, \"state\": \"{}\"}}",
                 i ? "," : "", r.depth, r.p.pid, r.p.ppid, json_string(r.backend), json_string(r.name),
                 json_string(r.address), r.p.start_time ? uptime_of(r.p) : 0.0, r.p.rss_pages * page,
                 static_cast<double>(r.p.cpu_ticks) / tick, r.p.state);
    }
    fmt::print("\n]\n");
    return;
  }
  fmt::print("{:<10} {:<11} {:<36} {:>8} {:>8} {:>7} {:<2} {}\n", "PID", "BACKEND", "NAME", "UPTIME", "RSS", "CPU", "S",
             "ADDRESS");
  for (const row& r : rows) {
    const std::string pid = std::string(static_cast<std::size_t>(r.depth) * 2, ' ') + std::to_string(r.p.pid);
    const bool known = r.p.start_time != 0;
    fmt::print("{:<10} {:<11} {:<36} {:>7.1f}s {:>7.1f}M {:>6.2f}s {:<2} {}\n", pid, r.backend, r.name,
               known ? uptime_of(r.p) : 0.0, static_cast<double>(r.p.rss_pages * page) / (1 << 20),
               static_cast<double>(r.p.cpu_ticks) / tick, r.p.state, r.address);
  }
  if (rows.empty()) fmt::print("(no actor trees of this user)\n");
}

void print_registries(const std::vector<std::string>& addresses, bool json) {
  std::vector<tractor::tools::registry_view> views;
  for (const auto& a : addresses.empty() ? tractor::tools::default_registrars() : addresses) {
    views.push_back(tractor::tools::read_registry(a, false));
  }
  if (json) {
    fmt::print("[");
    for (std::size_t i = 0; i < views.size(); ++i) {
      const auto& v = views[i];
      fmt::print("{}\n  {{\"registrar\": {}, \"answered\": {}, \"failure\": {}, \"entries\": [", i ? "," : "",
                 json_string(v.registrar), v.failure ? "false" : "true", json_string(v.failure.value_or("")));
      for (std::size_t k = 0; k < v.entries.size(); ++k) {
        const auto& e = v.entries[k];
        fmt::print("{}\n    {{\"name\": {}, \"uuid\": {}, \"address\": {}, \"alive\": {}}}", k ? "," : "",
                   json_string(e.name), json_string(e.uuid), json_string(e.address), e.alive ? "true" : "false");
      }
      fmt::print("]}}");
    }
    fmt::print("\n]\n");
    return;
  }
  for (const auto& v : views) {
    if (v.failure) {
      fmt::print("\nregistrar {}: {}\n", v.registrar, *v.failure);
      continue;
    }
    fmt::print("\nregistrar {}: {} entries\n", v.registrar, v.entries.size());
    for (const auto& e : v.entries) {
      fmt::print("  {:<24} {:<10} {:<6} {}\n", e.name, e.uuid.substr(0, 8), e.alive ? "alive" : "GONE", e.address);
    }
  }
}

/// Whether `pid` catches SIGUSR1 (its SigCgt mask): a process that does not would be killed.
bool catches_usr1(pid_t pid) {
  std::istringstream status(reap::read_file("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("SigCgt:")) return (std::stoull(line.substr(7), nullptr, 16) >> (SIGUSR1 - 1)) & 1;
  }
  return false;
}

/// The process of the actor called `name`: an actor process titled `_subactor[name@...]`, or
/// the process of a thread actor named so (its dump covers that thread); the reason on stderr
/// if there is none, or more than one.
std::optional<pid_t> process_of_actor(const std::string& name) {
  std::vector<reap::process> found;
  for (const auto& p : reap::scan_processes()) {
    if (p.title.starts_with("_subactor[" + name + "@")) {
      found.push_back(p);
      continue;
    }
    const std::string thread = std::string(reap::thread_actor_prefix) + name;
    for (const auto& t : reap::thread_names(p.pid)) {
      // Thread names are cut at 15 bytes.
      if (t == thread.substr(0, 15)) {
        found.push_back(p);
        break;
      }
    }
  }
  if (found.size() == 1) return found.front().pid;
  if (found.empty()) {
    fmt::print(stderr, "tractor-ps: no actor called {} of this user\n", name);
  } else {
    fmt::print(stderr, "tractor-ps: {} actors are called {}; give a pid:", found.size(), name);
    for (const auto& p : found) fmt::print(stderr, " {} ({})", p.pid, p.title);
    fmt::print(stderr, "\n");
  }
  return std::nullopt;
}

int dump(pid_t pid) {
  const auto p = reap::read_process(pid);
  if (!p) {
    fmt::print(stderr, "tractor-ps: no process {} of this user\n", pid);
    return 1;
  }
  if (!catches_usr1(pid)) {
    fmt::print(stderr,
               "tractor-ps: {} ({}) does not handle SIGUSR1: its tree runs without task dumps "
               "(start it with TRACTOR_ENABLE_TASKDUMP=1); not signalled\n",
               pid, p->title);
    return 1;
  }
  // Where its dumps go: $TMPDIR of that process, as the runtime reads it.
  std::string tmp = "/tmp";
  const std::string env = reap::read_file("/proc/" + std::to_string(pid) + "/environ");
  for (std::size_t at = 0; at < env.size();) {
    const auto end = env.find('\0', at);
    const std::string var = env.substr(at, end - at);
    if (var.starts_with("TMPDIR=") && var.size() > 7) tmp = var.substr(7);
    if (end == std::string::npos) break;
    at = end + 1;
  }
  const std::string path = tmp + "/tractor-taskdump-" + std::to_string(pid) + ".log";
  struct stat st {};
  const auto before = ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
  ::kill(pid, SIGUSR1);
  // The dump is whole once the file stops growing (the runtime bounds it by a 1 s watchdog).
  auto size = before;
  auto quiet_since = std::chrono::steady_clock::now();
  const auto until = quiet_since + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto now_size = ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
    if (now_size != size) {
      size = now_size;
      quiet_since = std::chrono::steady_clock::now();
    } else if (size > before && std::chrono::steady_clock::now() - quiet_since > std::chrono::milliseconds(1500)) {
      break;
    }
  }
  if (size <= before) {
    fmt::print(stderr, "tractor-ps: {} wrote no dump to {} within 10 s\n", pid, path);
    return 1;
  }
  fmt::print("{}", reap::read_file(path).substr(static_cast<std::size_t>(before)));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  std::optional<double> watch;
  std::optional<pid_t> dump_pid;
  bool registry = false;
  std::vector<std::string> registrars;
  bool bad = false;
  for (int i = 1; i < argc && !bad; ++i) {
    const std::string a = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--json") {
      json = true;
    } else if (a == "--watch" && value) {
      char* end = nullptr;
      watch = std::strtod(value, &end);
      bad = *end != '\0' || *watch <= 0;
      ++i;
    } else if (a == "--registry") {
      registry = true;
      if (value && value[0] == '/') {
        registrars.emplace_back(value);
        ++i;
      }
    } else if (a == "--dump" && value) {
      const auto v = reap::parse_int(value);
      if (v) {
        bad = *v <= 0;
        if (!bad) dump_pid = static_cast<pid_t>(*v);
      } else {
        const auto found = process_of_actor(value);
        if (!found) return 1;
        dump_pid = *found;
      }
      ++i;
    } else {
      bad = true;
    }
  }
  if (bad) {
    fmt::print(stderr, "usage: tractor-ps [--json] [--watch SECONDS] [--registry [ADDR]] [--dump NAME|PID]\n");
    return 2;
  }
  if (dump_pid) return dump(*dump_pid);
  for (;;) {
    if (watch) fmt::print("\033[H\033[2J");
    if (json && registry) fmt::print("{{\"trees\": ");
    print(collect(), json);
    if (registry) {
      if (json) fmt::print(", \"registrars\": ");
      print_registries(registrars, json);
      if (json) fmt::print("}}\n");
    }
    if (!watch) return 0;
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::duration<double>(*watch));
  }
}
