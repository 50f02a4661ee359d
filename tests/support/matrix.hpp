// Test helper: the cell of the policy matrix a runtime test program runs. Each runtime suite
// is compiled once and linked into one test per cell (Bazel sets TRACTOR_TEST_CELL:
// "<backend>/<transport>", "/json" for the codec axis), whose tree (tests/support/
// matrix_tree.hpp) takes the cell's real tree's policies at run time: every test body runs
// under every backend x transport without being compiled once per cell.
#pragma once

#include <tractor/spawn/backend.hpp>
#include <tractor/spawn/forkserver.hpp>
#include <tractor/spawn/prestarted.hpp>
#include <tractor/spawn/thread.hpp>
#include <tractor/testing/reap.hpp>

#include "tests/support/reaper.hpp"
#include "tests/support/registry.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/prctl.h>

namespace tractor::testing {

/// Which backend, transport and codec this program's trees use.
struct matrix_cell {
  /// A backend's name: "exec", "forkserver", "thread", or one of them started ahead
  /// (`spawn::prestarted<B>`: "prestarted_exec"...).
  std::string backend = "exec";
  std::string transport = "uds";
  bool json = false;
  [[nodiscard]] std::string str() const { return backend + "/" + transport + (json ? "/json" : ""); }
  /// Whether children are handed over to spares (`spawn::prestarted`).
  [[nodiscard]] bool prestarted() const { return backend.starts_with(prestarted_prefix); }
  /// The backend that starts the children (and the spares).
  [[nodiscard]] std::string plain_backend() const {
    return prestarted() ? backend.substr(prestarted_prefix.size()) : backend;
  }
  static constexpr std::string_view prestarted_prefix = "prestarted_";
};

/// TRACTOR_TEST_CELL, read once (exec/uds when unset). Children inherit it with the
/// environment, so they run the cell's tree too.
inline const matrix_cell& cell() {
  static const matrix_cell c = [] {
    matrix_cell out;
    const char* v = std::getenv("TRACTOR_TEST_CELL");
    std::string rest = v ? v : "";
    auto next = [&rest] {
      const auto slash = rest.find('/');
      std::string part = rest.substr(0, slash);
      rest = slash == std::string::npos ? "" : rest.substr(slash + 1);
      return part;
    };
    if (auto b = next(); !b.empty()) out.backend = b;
    if (auto t = next(); !t.empty()) out.transport = t;
    out.json = next() == "json";
    return out;
  }();
  return c;
}

/// Children run as threads of this process (no pid, no signals of their own).
inline const bool thread_actors = cell().plain_backend() == "thread";

/// Whether children named for a boot fault (`boot_faults`) misbehave in this cell.
inline const bool boot_faults_apply = !cell().prestarted();

/// This process's live children but its forkserver (the program's spawn session, held from
/// its start): orphans reparented here included.
inline std::set<pid_t> live_children_but_server() {
  std::set<pid_t> out = live_children();
  out.erase(spawn::forkserver::server_pid());
  return out;
}

/// Whether `p` is an actor process: titled `_subactor[name@uuid]` from its start (exec's
/// argv[0], the forkserver's title), as tractor-reap finds actors. Not a `spawn::prestarted`
/// spare (`_subactor[spare]`), nor a child still being started (its parent's title until its
/// exec, none during it).
inline bool is_actor(const process& p) {
  return is_tractor_process(p) && !is_forkserver(p) && p.title != spawn::spare_title;
}

/// This process's child processes: its own children (the forkserver excluded) and the
/// forkserver's live children (its spare excluded: part of the server, titled as such until
/// it becomes an actor; dead ones it has yet to reap too). What must be gone once a tree
/// has ended, spares of `spawn::prestarted` included: they go with their event loop.
inline std::set<pid_t> live_child_processes() {
  std::set<pid_t> out = live_children_but_server();
  if (const pid_t server = spawn::forkserver::server_pid(); server != 0) {
    for (const pid_t pid : children_of(server)) {
      const auto p = read_process(pid);
      if (p && p->state != 'Z' && !is_forkserver(*p)) out.insert(pid);
    }
  }
  return out;
}

/// Of those, the actors (`is_actor`), while a tree runs.
inline std::set<pid_t> live_child_actor_processes() {
  std::set<pid_t> out = live_child_processes();
  std::erase_if(out, [](pid_t pid) {
    const auto p = read_process(pid);
    return !p || !is_actor(*p);
  });
  return out;
}

/// The child actor processes, as "pid:title" separated by spaces (for failure messages).
inline std::string describe_child_processes() {
  std::string out;
  for (const pid_t pid : live_child_processes()) {
    std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
    std::string title;
    std::getline(cmdline, title, '\0');
    out += std::to_string(pid) + ":" + title + " ";
  }
  return out;
}

/// This process's threads: id and name (`comm`).
inline std::vector<std::pair<pid_t, std::string>> own_threads() {
  std::vector<std::pair<pid_t, std::string>> out;
  std::error_code ec;
  for (const auto& t : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream in(t.path() / "comm");
    std::string comm;
    std::getline(in, comm);
    out.emplace_back(std::atoi(t.path().filename().c_str()), std::move(comm));
  }
  return out;
}

/// This process's thread actors (threads named by the thread backend), running or abandoned.
inline std::size_t live_threads() {
  std::size_t threads = 0;
  for (const auto& [tid, comm] : own_threads()) {
    const bool actor = comm.starts_with(spawn::thread_name_prefix);
    threads += actor && comm.substr(spawn::thread_name_prefix.size()) != spawn::spare_name;
  }
  return threads;
}

/// Polls `done` until it holds, for 10 s at most (a watchdog); says whether it held. For
/// states with no event to wait on: a forkserver's children in /proc, a file another thread
/// makes.
template <class F>
inline bool eventually(F done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// The threads of this process named `comm` (thread ids).
inline std::set<pid_t> threads_named(std::string_view comm) {
  std::set<pid_t> out;
  for (const auto& [tid, name] : own_threads()) {
    if (name == comm) out.insert(tid);
  }
  return out;
}

/// This process's threads, as "tid:name" separated by spaces (for failure messages).
inline std::string describe_threads() {
  std::string out;
  for (const auto& [tid, name] : own_threads()) out += std::to_string(tid) + ":" + name + " ";
  return out;
}

/// Whether no thread named `comm` is left, waiting for it (10 s at most, a watchdog): a joined
/// thread can stay listed in /proc for a moment, since the kernel wakes its joiner before it
/// unlists the thread (seen 11 times in 20,000 joins here).
inline bool no_thread_named(std::string_view comm) {
  return eventually([comm] { return threads_named(comm).empty(); });
}

/// The thread actors this process had before the current test (a test's SetUp records it):
/// those an earlier test abandoned.
inline std::size_t& thread_baseline() {
  static std::size_t baseline = 0;
  return baseline;
}

/// How many child actors this process runs now: processes, or (thread backend) threads
/// beyond the baseline.
inline std::size_t live_child_actors() {
  if (thread_actors) {
    const std::size_t threads = live_threads();
    return threads > thread_baseline() ? threads - thread_baseline() : 0;
  } else {
    return live_child_actor_processes().size();
  }
}

/// Whether this process runs no child actor, waiting for a reaped one to leave /proc (see
/// `no_thread_named`; 10 s at most).
inline bool no_child_actor_left() {
  return eventually([] { return live_child_actors() == 0; });
}

/// Blocks the calling thread until a stop is requested through `hook` (what a thread actor's
/// runtime reacts to).
inline void wait_for_stop(spawn::stop_hook& hook) {
  std::mutex m;
  std::condition_variable cv;
  bool stop = false;
  hook.install([&] {
    std::lock_guard lock(m);
    stop = true;
    cv.notify_all();
  });
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return stop; });
  lock.unlock();
  hook.clear();
}

/// The fixture of the runtime tests: tractor::testing's (a runtime directory and registrar
/// per test, leak checks, hang guard), and a test fails at once if a child actor process is
/// still running when its tree has ended (the runtime reaps every child before the root
/// returns: no settling time for them).
class no_child_left : public actor_fixture {
 protected:
  void SetUp() override {
    actor_fixture::SetUp();
    thread_baseline() = live_threads();
  }
  void TearDown() override {
    EXPECT_TRUE(live_child_processes().empty()) << "a child actor outlived its test: " << describe_child_processes();
    actor_fixture::TearDown();
  }
};

namespace detail {
/// A child that ends at once with status 7, before connecting back.
inline int die_at_boot(const spawn::child_boot&) { return 7; }
/// A child that never connects back: a process waits for SIGKILL; a thread for its stop.
inline int hang_at_boot(const spawn::child_boot& boot) {
  if (!boot.stop) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) ::pause();
  }
  wait_for_stop(*boot.stop);
  return 0;
}
}  // namespace detail

/// The entry of a child that answers its handshake and then stays silent (set by the runtime
/// tests, which know the tree the child must speak): children named "silent-after-handshake"
/// run it.
inline spawn::child_entry silent_after_handshake_entry = nullptr;

/// A spawn backend that is `B`, except that children named "die-at-boot" or "hang-at-boot"
/// misbehave before their runtime starts (for `exec`, the test binary's main does that).
/// Not under `spawn::prestarted`: a spare's entry is fixed when it is started, before any
/// name is known, so those tests skip its cells (`boot_faults_apply`).
template <class B>
struct boot_faults : B {
  static result<std::unique_ptr<spawn::child_handle>> start(const boost::asio::any_io_executor& ex,
                                                            const spawn::spawn_request& req) {
    if (cell().prestarted()) return B::start(ex, req);
    spawn::spawn_request r = req;
    if (req.boot.name == "die-at-boot") r.run_child = &detail::die_at_boot;
    if (req.boot.name == "hang-at-boot") r.run_child = &detail::hang_at_boot;
    if (req.boot.name == "silent-after-handshake" && silent_after_handshake_entry) {
      r.run_child = silent_after_handshake_entry;
    }
    return B::start(ex, r);
  }
};

}  // namespace tractor::testing
