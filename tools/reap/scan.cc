#include "tools/reap/scan.hpp"

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <sys/stat.h>
#include <unistd.h>

namespace tractor::reap {

namespace fs = std::filesystem;

std::optional<long long> parse_int(std::string_view s) {
  long long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<process> read_process(pid_t pid) {
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

std::vector<process> scan_processes() {
  std::vector<process> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const auto pid = parse_int(e.path().filename().string());
    if (!pid || *pid == ::getpid()) continue;
    if (auto p = read_process(static_cast<pid_t>(*pid))) out.push_back(std::move(*p));
  }
  return out;
}

std::vector<std::string> thread_names(pid_t pid) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::string name = read_file((t.path() / "comm").string());
    if (!name.empty() && name.back() == '\n') name.pop_back();
    out.push_back(std::move(name));
  }
  return out;
}

bool is_tractor_process(const process& p) {
  return p.title.starts_with("_subactor[") || p.title.starts_with("_forkserver");
}

std::vector<std::pair<std::string, process>> select_targets(const std::vector<process>& all,
                                                            std::optional<pid_t> under) {
  std::map<pid_t, const process*> by_pid;
  for (const auto& p : all) by_pid[p.pid] = &p;
  // The first ancestor of `p` (itself excluded) for which `stop_at` holds, if any.
  auto ancestor = [&](const process& p, auto stop_at) -> const process* {
    std::set<pid_t> seen;
    for (auto it = by_pid.find(p.ppid); it != by_pid.end() && seen.insert(it->first).second;
         it = by_pid.find(it->second->ppid)) {
      if (stop_at(*it->second)) return it->second;
    }
    return nullptr;
  };
  std::vector<std::pair<std::string, process>> out;
  for (const auto& p : all) {
    if (!is_tractor_process(p)) continue;
    if (under) {
      if (p.ppid == *under || ancestor(p, [&](const process& a) { return a.pid == *under; })) {
        out.emplace_back("descends from " + std::to_string(*under), p);
      }
    } else if (p.ppid == 1) {
      out.emplace_back("orphaned", p);
    } else if (const process* top = ancestor(p, [](const process& a) { return is_tractor_process(a) && a.ppid == 1; })) {
      out.emplace_back("below orphan " + std::to_string(top->pid), p);
    }
  }
  return out;
}

std::string default_uds_prefix() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  return (xdg && *xdg) ? std::string(xdg) + "/tractor" : "/tmp/tractor-" + std::to_string(::geteuid());
}

std::vector<std::string> abstract_listeners(const std::string& under) {
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

std::vector<std::string> orphaned_shm_segments() {
  std::set<std::string> candidates;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/dev/shm", ec)) {
    const std::string name = e.path().filename().string();
    struct stat st {};
    if (name.starts_with("tractor-") && ::lstat(e.path().c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_uid == ::geteuid()) {
      candidates.insert(name);
    }
  }
  if (candidates.empty()) return {};
  // In use: mapped (maps) or open (fd) by any process we can see.
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    if (!parse_int(e.path().filename().string())) continue;
    std::ifstream maps(e.path() / "maps");
    for (std::string line; std::getline(maps, line);) {
      const auto at = line.find("/dev/shm/");
      if (at != std::string::npos) candidates.erase(line.substr(at + 9, line.find(' ', at) - at - 9));
    }
    std::error_code fd_ec;
    for (const auto& fd : fs::directory_iterator(e.path() / "fd", fd_ec)) {
      std::error_code link_ec;
      const std::string target = fs::read_symlink(fd.path(), link_ec).string();
      if (target.starts_with("/dev/shm/")) candidates.erase(target.substr(9));
    }
  }
  return {candidates.begin(), candidates.end()};
}

}  // namespace tractor::reap
