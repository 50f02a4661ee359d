// tractor/testing/impl/fixture.ipp — definitions of fixture.hpp.
#pragma once

#include <tractor/testing/fixture.hpp>

#include <tractor/spawn/thread.hpp>
#include <tractor/transport/uds.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <mutex>
#include <random>
#include <utility>

#include <fmt/core.h>

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tractor::testing {

static_assert(thread_actor_prefix == spawn::thread_name_prefix);

namespace detail {

/// What the program-wide check needs from the tests: where they ran and what they left on
/// purpose.
struct program_state {
  std::mutex m;
  std::string runtime_dir;
  unsigned tests = 0;
  snapshot left_on_purpose;
};

inline program_state& program() {
  static program_state s;
  return s;
}

/// This process's thread actors: thread id and name.
inline std::vector<std::pair<pid_t, std::string>> actor_threads() {
  std::vector<std::pair<pid_t, std::string>> out;
  std::error_code ec;
  for (const auto& t : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::string comm = read_file((t.path() / "comm").string());
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    if (comm.starts_with(thread_actor_prefix)) {
      out.emplace_back(static_cast<pid_t>(std::atoi(t.path().filename().c_str())), std::move(comm));
    }
  }
  return out;
}

/// This process's descendants that a test started and that still run: zombies and the
/// forkserver (a program's spawn session, not an actor) aside.
inline std::vector<process> started_processes() {
  auto all = descendants(scan_processes(), ::getpid());
  std::erase_if(all, [](const process& p) { return p.state == 'Z' || is_forkserver(p); });
  return all;
}

/// Waits for the zombies among this process's children (an orphan reparented here, or a
/// child the ladder stopped), so that none piles up.
inline void reap_zombies() {
  for (const auto& p : descendants(scan_processes(), ::getpid())) {
    int status = 0;
    if (p.ppid == ::getpid() && p.state == 'Z') (void)::waitpid(p.pid, &status, WNOHANG);
  }
}

/// Polls `done` every millisecond until it holds or `within` passes; the last answer. For
/// states with nothing to wait on (a thread leaving /proc, a socket closing).
template <class F>
bool eventually(F done, std::chrono::milliseconds within) {
  const auto give_up = std::chrono::steady_clock::now() + within;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= give_up) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

inline bool handles(int sig) {
  struct sigaction sa {};
  if (::sigaction(sig, nullptr, &sa) != 0) return false;
  if (sa.sa_flags & SA_SIGINFO) return sa.sa_sigaction != nullptr;
  return sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN;
}

inline std::chrono::milliseconds deadline_from_env(std::chrono::milliseconds fallback) {
  const char* env = std::getenv("TRACTOR_TEST_DEADLINE");
  if (!env || !*env) return fallback;
  char* end = nullptr;
  const double seconds = std::strtod(env, &end);
  if (end == env || *end != '\0' || seconds < 0) return fallback;
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

/// Points the actors started from now on at `dir`: their UDS names, and a registrar there.
inline void use_runtime_dir(const std::string& dir) {
  ::setenv("XDG_RUNTIME_DIR", dir.c_str(), 1);
  const std::string registry = transport::uds::bind_addr_of("registry", ::getpid()).str() + ",/ip4/127.0.0.1/tcp/0";
  ::setenv("TRACTOR_REGISTRY_ADDRS", registry.c_str(), 1);
}

template <class T>
std::set<T> minus(const std::set<T>& now, const std::set<T>& before) {
  std::set<T> out;
  std::set_difference(now.begin(), now.end(), before.begin(), before.end(), std::inserter(out, out.end()));
  return out;
}

}  // namespace detail

TRACTOR_DECL void init_test_program() {
  auto& prog = detail::program();
  std::lock_guard lock(prog.m);
  if (!prog.runtime_dir.empty()) return;
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::random_device random;
  prog.runtime_dir = fmt::format("/tmp/tractor-test.{}.{:08x}", ::getpid(), random());
  // The program's trees share a cookie of their own (transport/auth.hpp): no file is made or
  // read in the user's configuration directory.
  if (!std::getenv("TRACTOR_COOKIE")) {
    const std::string cookie = fmt::format("test-{:08x}{:08x}{:08x}{:08x}", random(), random(), random(), random());
    ::setenv("TRACTOR_COOKIE", cookie.c_str(), 1);
  }
  // Segments this program and its actors make start with a mark of its own: /dev/shm is the
  // host's, and programs beside this one (Bazel runs several, each in a pid namespace of its
  // own) have segments the leak check must not take for this program's.
  if (!std::getenv("TRACTOR_SHM_GROUP")) ::setenv("TRACTOR_SHM_GROUP", fmt::format("{:08x}", random()).c_str(), 1);
  detail::use_runtime_dir(prog.runtime_dir);
  prog.left_on_purpose = take_snapshot(prog.runtime_dir);
}

TRACTOR_DECL int run_all_tests(int argc, char** argv) {
  init_test_program();
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new leak_check_environment);
  return RUN_ALL_TESTS();
}

TRACTOR_DECL const std::string& program_runtime_dir() { return detail::program().runtime_dir; }

TRACTOR_DECL snapshot take_snapshot(const std::string& uds_prefix) {
  snapshot s;
  for (const auto& [tid, name] : detail::actor_threads()) s.threads.insert(tid);
  for (auto& l : abstract_listeners(uds_prefix)) s.listeners.insert(std::move(l));
  for (auto& seg : shm_segments()) s.shm.insert(std::move(seg));
  return s;
}

TRACTOR_DECL bool leftovers::empty() const noexcept {
  return processes.empty() && threads.empty() && listeners.empty() && shm.empty();
}

TRACTOR_DECL std::vector<std::string> leftovers::lines() const {
  std::vector<std::string> out;
  for (const auto& r : processes) {
    out.push_back(fmt::format("leaked process {} `{}` ({})", r.t.p.pid, r.t.p.title, r.outcome));
  }
  for (const auto& t : threads) out.push_back("leaked thread actor " + t);
  for (const auto& l : listeners) out.push_back("leaked listening socket @" + l);
  for (const auto& s : shm) out.push_back("leaked shared-memory segment /dev/shm/" + s + " (removed)");
  return out;
}

TRACTOR_DECL leftovers collect_leftovers(const snapshot& before, const std::string& uds_prefix,
                                         std::chrono::milliseconds settle, std::chrono::milliseconds grace) {
  leftovers out;
  std::vector<target> running;
  for (auto& p : wait_for_exit(detail::started_processes(), settle)) running.push_back({"left running", std::move(p)});
  out.processes = stop_with_ladder(std::move(running), grace);
  detail::reap_zombies();

  auto new_threads = [&] {
    std::vector<std::string> names;
    for (const auto& [tid, name] : detail::actor_threads()) {
      if (!before.threads.contains(tid)) names.push_back(std::to_string(tid) + " `" + name + "`");
    }
    return names;
  };
  (void)detail::eventually([&] { return new_threads().empty(); }, settle);
  out.threads = new_threads();

  auto new_listeners = [&] {
    std::set<std::string> now;
    for (auto& l : abstract_listeners(uds_prefix)) now.insert(std::move(l));
    return detail::minus(now, before.listeners);
  };
  (void)detail::eventually([&] { return new_listeners().empty(); }, settle);
  for (const auto& l : new_listeners()) out.listeners.push_back(l);

  // This program's segments (init_test_program marks their names) that nobody maps or holds
  // open any more.
  const char* group = std::getenv("TRACTOR_SHM_GROUP");
  const std::string ours = std::string("tractor-") + (group ? group : "");
  const auto segments = orphaned_shm_segments();
  for (const auto& s : detail::minus(std::set<std::string>(segments.begin(), segments.end()), before.shm)) {
    if (!s.starts_with(ours)) continue;
    (void)::unlink(("/dev/shm/" + s).c_str());
    out.shm.push_back(s);
  }
  return out;
}

TRACTOR_DECL std::string request_task_dump(std::chrono::milliseconds within) {
  if (!detail::handles(SIGUSR1)) return {};
  const char* tmp = std::getenv("TMPDIR");
  const std::string path =
      std::string(tmp && *tmp ? tmp : "/tmp") + "/tractor-taskdump-" + std::to_string(::getpid()) + ".log";
  auto size = [&]() -> long long {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : 0;
  };
  const long long before = size();
  if (::kill(::getpid(), SIGUSR1) != 0) return {};
  if (!detail::eventually([&] { return size() > before; }, within)) return {};
  // The dump thread writes it in one go: wait until it has stopped growing.
  for (long long last = -1; last != size();) {
    last = size();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return read_file(path).substr(static_cast<std::size_t>(before));
}

TRACTOR_DECL pid_t actor_fixture::parent_pid() const noexcept { return ::getpid(); }

TRACTOR_DECL std::string actor_fixture::uds_prefix() const { return runtime_dir_ + "/tractor"; }

TRACTOR_DECL void actor_fixture::SetUp() {
  init_test_program();
  auto& prog = detail::program();
  {
    std::lock_guard lock(prog.m);
    runtime_dir_ = prog.runtime_dir + "/" + std::to_string(++prog.tests);
  }
  detail::use_runtime_dir(runtime_dir_);
  const char* taskdump = std::getenv("TRACTOR_ENABLE_TASKDUMP");
  taskdump_before_ = taskdump ? std::optional<std::string>(taskdump) : std::nullopt;
  if (options_.enable_taskdump) ::setenv("TRACTOR_ENABLE_TASKDUMP", "1", 1);
  before_ = take_snapshot(uds_prefix());
  const auto deadline = detail::deadline_from_env(options_.deadline);
  if (deadline.count() > 0) guard_ = std::thread([this, deadline] { watch(deadline); });
}

TRACTOR_DECL void actor_fixture::TearDown() {
  finish_guard();
  auto& prog = detail::program();
  if (abandons_threads_) {
    // Left on purpose: neither waited for nor reported, here or at the end of the program.
    const snapshot now = take_snapshot(uds_prefix());
    std::lock_guard lock(prog.m);
    for (const pid_t tid : now.threads) {
      before_.threads.insert(tid);
      prog.left_on_purpose.threads.insert(tid);
    }
    for (const auto& l : now.listeners) {
      before_.listeners.insert(l);
      prog.left_on_purpose.listeners.insert(l);
    }
  }
  const leftovers left = collect_leftovers(before_, uds_prefix(), options_.settle, options_.grace);
  for (const auto& line : left.lines()) ADD_FAILURE() << line;
  {
    // Reported once: the program-wide check does not report them again.
    std::lock_guard lock(prog.m);
    prog.left_on_purpose.threads.insert(before_.threads.begin(), before_.threads.end());
    for (const auto& [tid, name] : detail::actor_threads()) prog.left_on_purpose.threads.insert(tid);
    prog.left_on_purpose.listeners.insert(left.listeners.begin(), left.listeners.end());
  }
  if (taskdump_before_) {
    ::setenv("TRACTOR_ENABLE_TASKDUMP", taskdump_before_->c_str(), 1);
  } else {
    ::unsetenv("TRACTOR_ENABLE_TASKDUMP");
  }
  detail::use_runtime_dir(prog.runtime_dir);
}

TRACTOR_DECL void actor_fixture::finish_guard() {
  {
    std::lock_guard lock(m_);
    finished_ = true;
  }
  cv_.notify_all();
  if (guard_.joinable()) guard_.join();
}

TRACTOR_DECL void actor_fixture::watch(std::chrono::milliseconds deadline) {
  auto finished_within = [this](std::chrono::milliseconds d) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, d, [this] { return finished_; });
  };
  if (finished_within(deadline)) return;
  const std::string dump = request_task_dump(std::chrono::seconds(5));
  ADD_FAILURE() << "tractor::testing: the test passed its deadline of " << deadline.count() << " ms; "
                << (dump.empty() ? std::string("no task dump (no root with task dumps enabled answers SIGUSR1)")
                                 : "its task dump:\n" + dump);
  // First as Ctrl-C would: a root that handles SIGINT cancels its tree, and the test body
  // goes on with that result.
  if (detail::handles(SIGINT)) ::kill(::getpid(), SIGINT);
  if (finished_within(options_.settle)) return;
  std::vector<target> running;
  for (auto& p : detail::started_processes()) running.push_back({"hung test", std::move(p)});
  (void)stop_with_ladder(std::move(running), options_.grace);
  if (finished_within(options_.settle)) return;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::fprintf(stderr,
               "tractor::testing: %s.%s passed its deadline and did not end after its tree was cancelled and "
               "its processes stopped; exiting\n%s",
               info ? info->test_suite_name() : "?", info ? info->name() : "?", dump.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

TRACTOR_DECL void leak_check_environment::TearDown() {
  auto& prog = detail::program();
  if (prog.runtime_dir.empty()) return;
  snapshot expected;
  {
    std::lock_guard lock(prog.m);
    expected = prog.left_on_purpose;
  }
  const fixture_options defaults;
  const leftovers left = collect_leftovers(expected, prog.runtime_dir, defaults.settle, defaults.grace);
  for (const auto& line : left.lines()) ADD_FAILURE() << "when every test had run: " << line;
}

}  // namespace tractor::testing
