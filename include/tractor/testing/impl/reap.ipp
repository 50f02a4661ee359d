// tractor/testing/impl/reap.ipp — definitions of reap.hpp.
#pragma once

#include <tractor/testing/reap.hpp>

#include <tractor/core/detail/process_identity.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tractor::testing {

namespace detail {

inline int pidfd_send_signal(int fd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0));
}

/// A pidfd for `p`, kept only if the process behind the pid is still `p` (same start time);
/// -1 if it has ended (or the pid names another process now).
inline int pidfd_of(const process& p) { return tractor::detail::pidfd_if_same(p.pid, p.start_time); }

/// Whether the process behind `fd` has ended (a zombie has).
inline bool ended(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  return ::poll(&pfd, 1, 0) > 0;
}

/// Polls `fds` until each is readable (its process ended) or `until`; indexes still running.
inline std::vector<std::size_t> wait_fds(const std::vector<int>& fds, std::chrono::steady_clock::time_point until) {
  std::vector<std::size_t> running;
  for (;;) {
    running.clear();
    std::vector<pollfd> pfds;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i] >= 0 && !ended(fds[i])) {
        running.push_back(i);
        pfds.push_back({fds[i], POLLIN, 0});
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (pfds.empty() || left.count() <= 0) return running;
    if (::poll(pfds.data(), pfds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR) return running;
  }
}

}  // namespace detail

TRACTOR_DECL std::optional<long long> parse_int(std::string_view s) {
  long long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

TRACTOR_DECL std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TRACTOR_DECL std::optional<process> read_process(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || st.st_uid != ::geteuid()) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the fields after the
  // last ')' are plain. starttime is field 22, the 20th after comm.
  const std::string stat_line = read_file(dir + "/stat");
  const auto close = stat_line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat_line.substr(close + 1));
  std::vector<std::string> f;
  for (std::string x; fields >> x;) f.push_back(x);
  if (f.size() < 22) return std::nullopt;
  process p;
  p.pid = pid;
  p.ppid = static_cast<pid_t>(std::atoll(f[1].c_str()));
  p.state = f[0].empty() ? '?' : f[0][0];
  p.cpu_ticks = std::strtoull(f[11].c_str(), nullptr, 10) + std::strtoull(f[12].c_str(), nullptr, 10);
  p.start_time = std::strtoull(f[19].c_str(), nullptr, 10);
  p.rss_pages = std::atoll(f[21].c_str());
  const std::string cmdline = read_file(dir + "/cmdline");
  p.title = cmdline.substr(0, cmdline.find('\0'));
  return p;
}

TRACTOR_DECL std::vector<process> scan_processes() {
  std::vector<process> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const auto pid = parse_int(e.path().filename().string());
    if (!pid || *pid == ::getpid()) continue;
    if (auto p = read_process(static_cast<pid_t>(*pid))) out.push_back(std::move(*p));
  }
  return out;
}

TRACTOR_DECL bool is_tractor_process(const process& p) {
  return p.title.starts_with("_subactor[") || is_forkserver(p);
}

TRACTOR_DECL bool is_forkserver(const process& p) { return p.title.starts_with("_forkserver"); }

TRACTOR_DECL std::vector<process> descendants(const std::vector<process>& all, pid_t ancestor) {
  std::multimap<pid_t, const process*> children;
  for (const auto& p : all) children.emplace(p.ppid, &p);
  std::vector<process> out;
  std::vector<pid_t> todo{ancestor};
  std::set<pid_t> seen{ancestor};
  while (!todo.empty()) {
    const pid_t parent = todo.back();
    todo.pop_back();
    const auto [first, last] = children.equal_range(parent);
    for (auto it = first; it != last; ++it) {
      if (!seen.insert(it->second->pid).second) continue;
      out.push_back(*it->second);
      todo.push_back(it->second->pid);
    }
  }
  return out;
}

TRACTOR_DECL std::vector<target> select_targets(const std::vector<process>& all, std::optional<pid_t> under) {
  std::vector<target> out;
  if (under) {
    for (const auto& p : descendants(all, *under)) {
      if (is_tractor_process(p)) out.push_back({"descends from " + std::to_string(*under), p});
    }
    return out;
  }
  for (const auto& p : all) {
    if (is_tractor_process(p) && p.ppid == 1) {
      out.push_back({"orphaned", p});
      for (const auto& d : descendants(all, p.pid)) {
        if (is_tractor_process(d)) out.push_back({"below orphan " + std::to_string(p.pid), d});
      }
    }
  }
  return out;
}

TRACTOR_DECL std::vector<stop_report> stop_with_ladder(std::vector<target> targets, std::chrono::milliseconds grace) {
  std::vector<stop_report> reports;
  std::vector<int> fds;
  std::vector<const char*> last_signal;
  for (auto& t : targets) {
    fds.push_back(detail::pidfd_of(t.p));
    last_signal.push_back(nullptr);
    reports.push_back({std::move(t), fds.back() < 0 ? "ended before the ladder" : "", false});
  }
  static constexpr std::pair<int, const char*> ladder[] = {
      {SIGINT, "SIGINT"}, {SIGTERM, "SIGTERM"}, {SIGKILL, "SIGKILL"}};
  for (const auto& [sig, name] : ladder) {
    bool sent = false;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i] < 0 || detail::ended(fds[i])) continue;
      if (detail::pidfd_send_signal(fds[i], sig) != 0 && errno != ESRCH) {
        reports[i].outcome = std::string("cannot signal: ") + std::strerror(errno);
        ::close(fds[i]);
        fds[i] = -1;
        continue;
      }
      last_signal[i] = name;
      sent = true;
    }
    if (!sent) break;
    (void)detail::wait_fds(fds, std::chrono::steady_clock::now() + grace);
  }
  for (std::size_t i = 0; i < fds.size(); ++i) {
    if (fds[i] < 0) continue;
    if (detail::ended(fds[i])) {
      reports[i].outcome = last_signal[i] ? std::string("stopped by ") + last_signal[i] : "ended by itself";
    } else {
      reports[i].outcome = "SURVIVED SIGKILL";
      reports[i].survived = true;
    }
    ::close(fds[i]);
  }
  return reports;
}

TRACTOR_DECL std::vector<process> wait_for_exit(std::vector<process> ps, std::chrono::milliseconds within) {
  std::vector<int> fds;
  for (const auto& p : ps) fds.push_back(p.state == 'Z' ? -1 : detail::pidfd_of(p));
  const auto running = detail::wait_fds(fds, std::chrono::steady_clock::now() + within);
  std::vector<process> out;
  for (const std::size_t i : running) out.push_back(ps[i]);
  for (const int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
  return out;
}

TRACTOR_DECL std::vector<std::string> thread_names(pid_t pid) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& t : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::string name = read_file((t.path() / "comm").string());
    if (!name.empty() && name.back() == '\n') name.pop_back();
    out.push_back(std::move(name));
  }
  return out;
}

TRACTOR_DECL std::string default_uds_prefix() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  return (xdg && *xdg) ? std::string(xdg) + "/tractor" : "/tmp/tractor-" + std::to_string(::geteuid());
}

TRACTOR_DECL std::vector<std::string> abstract_listeners(const std::string& under) {
  const std::string prefix = "@" + under + "/";
  std::set<std::string> names;
  std::ifstream in("/proc/net/unix");
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    // Num RefCount Protocol Flags Type St Inode Path
    std::istringstream f(line);
    std::string num, refs, proto, flags, type, state, inode, path;
    if (!(f >> num >> refs >> proto >> flags >> type >> state >> inode >> path)) continue;
    const bool listening = state == "01" && (std::strtoul(flags.c_str(), nullptr, 16) & 0x10000) != 0;
    if (listening && path.starts_with(prefix)) names.insert(path.substr(1));
  }
  return {names.begin(), names.end()};
}

TRACTOR_DECL std::vector<std::string> shm_segments() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const std::string name = e.path().filename().string();
    struct stat st {};
    // Segments, and the doorbell FIFOs beside a ring's segment (`<name>.data`, `<name>.room`).
    if (name.starts_with("tractor-") && ::lstat(e.path().c_str(), &st) == 0 &&
        (S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode)) && st.st_uid == ::geteuid()) {
      out.push_back(name);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TRACTOR_DECL std::vector<std::string> orphaned_shm_segments() {
  const auto all = shm_segments();
  std::set<std::string> candidates(all.begin(), all.end());
  if (candidates.empty()) return {};
  // In use: mapped (maps) or open (fd) by any process we can see.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    if (!parse_int(e.path().filename().string())) continue;
    std::ifstream maps(e.path() / "maps");
    for (std::string line; std::getline(maps, line);) {
      const auto at = line.find("/dev/shm/");
      if (at != std::string::npos) candidates.erase(line.substr(at + 9, line.find(' ', at) - at - 9));
    }
    std::error_code fd_ec;
    for (const auto& fd : std::filesystem::directory_iterator(e.path() / "fd", fd_ec)) {
      std::error_code link_ec;
      const std::string target = std::filesystem::read_symlink(fd.path(), link_ec).string();
      if (target.starts_with("/dev/shm/")) candidates.erase(target.substr(9));
    }
  }
  // A doorbell belongs to its ring: kept while the ring's segment is in use, even if nobody
  // holds the doorbell open at this moment.
  std::erase_if(candidates, [&](const std::string& name) {
    const auto dot = name.rfind('.');
    if (dot == std::string::npos || (name.substr(dot) != ".data" && name.substr(dot) != ".room")) return false;
    const std::string ring = name.substr(0, dot);
    return std::binary_search(all.begin(), all.end(), ring) && !candidates.contains(ring);
  });
  return {candidates.begin(), candidates.end()};
}

}  // namespace tractor::testing
