// tractor/testing/reap.hpp — finding and stopping what an actor tree left on this host
// (tractor's `_testing/_reap.py`): shared by tractor-reap, tractor-ps and the test fixture.
//
// Processes are read from /proc: this library's actors and forkservers are recognised by the
// titles the spawn backends give them (`_subactor[name@uuid]`, `_forkserver`). They are
// stopped with tractor's ladder, SIGINT, then SIGTERM, then SIGKILL, through pidfds opened
// while the start time still matched, so that a pid the kernel has since given to another
// process is never signalled. Only processes of the calling user are ever listed.
//
// Nothing here links the runtime: UDS names follow transport::uds::name_prefix()'s rule, and
// thread actors are recognised by spawn::thread_name_prefix, both restated below.
#pragma once

#include <tractor/config.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace tractor::testing {

/// One process, as /proc shows it.
struct process {
  pid_t pid = 0;
  pid_t ppid = 0;
  /// Clock ticks after boot at which it started: with the pid, names one process for good.
  unsigned long long start_time = 0;
  /// argv[0], where this library writes a process's title.
  std::string title = {};
  /// /proc's state letter: R, S, D, Z (ended, not yet waited for), T...
  char state = '?';
  /// CPU time used, user and system, in clock ticks.
  unsigned long long cpu_ticks = 0;
  /// Resident pages.
  long long rss_pages = 0;
};

/// A whole decimal number, or nothing.
std::optional<long long> parse_int(std::string_view s);

/// The whole content of `path` ("" if it cannot be read).
std::string read_file(const std::string& path);

/// `pid` if it exists, runs as this user and is readable.
std::optional<process> read_process(pid_t pid);

/// Every process of this user but the caller.
std::vector<process> scan_processes();

/// An actor (`_subactor[name@uuid]`) or a forkserver (`_forkserver`, its spare too).
bool is_tractor_process(const process& p);

/// A forkserver or its spare (`_forkserver`): part of a program's spawn session, not an
/// actor.
bool is_forkserver(const process& p);

/// The processes of `all` that descend from `ancestor` (children, their children...).
std::vector<process> descendants(const std::vector<process>& all, pid_t ancestor);

/// A process to stop and why it was chosen.
struct target {
  std::string why = {};
  process p = {};
};

/// The tractor processes to stop: with `under`, those descending from it; without, those
/// reparented to pid 1 ("orphaned") and the tractor processes below them.
std::vector<target> select_targets(const std::vector<process>& all, std::optional<pid_t> under);

/// How one target fared under the ladder.
struct stop_report {
  target t = {};
  /// "ended by itself", "stopped by SIGTERM", "ended before the ladder", "SURVIVED SIGKILL",
  /// "cannot signal: ...".
  std::string outcome = {};
  bool survived = false;
};

/// Stops every target with tractor's ladder, all at once: SIGINT, then SIGTERM to those still
/// running `grace` later, then SIGKILL; returns when each has ended or survived SIGKILL by
/// `grace`. Blocks the calling thread (for tools and test teardown, not an event loop).
std::vector<stop_report> stop_with_ladder(std::vector<target> targets, std::chrono::milliseconds grace);

/// Waits until each of `ps` has ended (or is a zombie) or `within` has passed; returns those
/// still running. Waits on pidfds, not by polling /proc.
std::vector<process> wait_for_exit(std::vector<process> ps, std::chrono::milliseconds within);

/// The names of the threads of `pid` (a thread actor's is `actor:<name>`, cut at 15 bytes).
std::vector<std::string> thread_names(pid_t pid);

/// The prefix of a thread actor's thread name (spawn::thread_name_prefix).
inline constexpr std::string_view thread_actor_prefix = "actor:";

/// The UDS name prefix of this user's actors, by transport::uds::name_prefix()'s rule
/// (`$XDG_RUNTIME_DIR/tractor`, else `/tmp/tractor-<uid>`).
std::string default_uds_prefix();

/// The abstract UDS names listening under `prefix` + "/" (without the leading NUL).
std::vector<std::string> abstract_listeners(const std::string& prefix);

/// Names in /dev/shm starting with `tractor-` and owned by this user: segments, and the
/// doorbell FIFOs of rings.
std::vector<std::string> shm_segments();

/// Those of `shm_segments()` that no process maps or holds open.
std::vector<std::string> orphaned_shm_segments();

}  // namespace tractor::testing

#if TRACTOR_HEADER_ONLY
#include <tractor/testing/impl/reap.ipp>
#endif
