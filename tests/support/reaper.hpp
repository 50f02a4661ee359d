// Test helper: what a test leaves behind. Children of this process (and, with the subreaper
// bit set, orphaned grandchildren) are listed from /proc, so a test can fail if any survive.
#pragma once

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <filesystem>

#include <sys/prctl.h>
#include <unistd.h>

namespace tractor::testing {

/// The pids of this process's live children (all threads), from /proc.
inline std::set<pid_t> live_children() {
  std::set<pid_t> out;
  const std::string base = "/proc/" + std::to_string(::getpid()) + "/task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(base, ec)) {
    std::ifstream in(task.path() / "children");
    pid_t pid = 0;
    while (in >> pid) out.insert(pid);
  }
  return out;
}

/// Makes orphaned descendants reparent to this process, so `live_children` sees them.
inline void become_subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

}  // namespace tractor::testing
