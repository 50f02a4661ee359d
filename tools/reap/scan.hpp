// What tractor-reap reads from /proc and /dev/shm: this user's processes with their titles,
// which of them belong to a tree that lost its parent, this user's abstract UDS names, and
// shared-memory segments nobody uses.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace tractor::reap {

/// One process, as /proc shows it.
struct process {
  pid_t pid = 0;
  pid_t ppid = 0;
  /// Clock ticks after boot at which it started: with the pid, names one process for good.
  unsigned long long start_time = 0;
  /// argv[0], where this library writes a process's title.
  std::string title;
  char state = '?';
  /// CPU time used, user and system, in clock ticks.
  unsigned long long cpu_ticks = 0;
  /// Resident pages.
  long long rss_pages = 0;
};

/// A whole decimal number, or nothing.
std::optional<long long> parse_int(std::string_view s);

/// `pid` if it exists, runs as this user and is readable.
std::optional<process> read_process(pid_t pid);

/// Every process of this user.
std::vector<process> scan_processes();

/// An actor (`_subactor[name@uuid]`) or a forkserver (`_forkserver`) of this library.
bool is_tractor_process(const process& p);

/// The tractor processes to stop, each with why: with `under`, those descending from it;
/// without, those reparented to pid 1 ("orphaned") and the tractor processes below them.
std::vector<std::pair<std::string, process>> select_targets(const std::vector<process>& all,
                                                            std::optional<pid_t> under);

/// The names of the threads of `pid` (its thread actors are called "actor:<name>").
std::vector<std::string> thread_names(pid_t pid);

/// The whole content of `path` ("" if it cannot be read).
std::string read_file(const std::string& path);

/// The UDS name prefix of this user's actors, by transport::uds::name_prefix()'s rule
/// (`$XDG_RUNTIME_DIR/tractor`, else `/tmp/tractor-<uid>`): the tools do not link the runtime.
std::string default_uds_prefix();

/// The abstract UDS names listening under `prefix` + "/" (without the leading NUL).
std::vector<std::string> abstract_listeners(const std::string& prefix);

/// Names in /dev/shm starting with `tractor-`, owned by this user, that no process maps or
/// holds open.
std::vector<std::string> orphaned_shm_segments();

}  // namespace tractor::reap
