// tractor-reap, run as a user would: fake actors (processes titled as this library titles
// them) are started under a holder process, then the tool stops them with the ladder.
#include <tractor/testing/reap.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

std::string fmt_hex(unsigned v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

using namespace std::chrono_literals;
using tractor::testing::process;

/// Eight hex digits of this test run: pids repeat across the sandboxes of runs side by side,
/// which share /dev/shm and the abstract socket namespace.
const std::string& run_id() {
  static const std::string id = [] {
    std::random_device random;
    return fmt_hex(random());
  }();
  return id;
}

std::string tool() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  return srcdir && ws ? std::string(srcdir) + "/" + ws + "/tools/tractor-reap" : "tools/tractor-reap";
}

struct run_output {
  int status = -1;
  std::string out;
};

run_output run_tool(const std::string& args) {
  run_output r;
  FILE* p = ::popen((tool() + " " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

/// Starts `script` under bash in a child of this process (the holder), with job control on
/// so that its background jobs keep SIGINT's default disposition.
pid_t start_holder(const std::string& script) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/bash", "bash", "-c", ("set -m\n" + script).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

/// The tractor-titled processes below `holder`, once there are `n` of them (10 s watchdog).
std::vector<process> wait_for_fakes(pid_t holder, std::size_t n) {
  const auto until = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    std::vector<process> found;
    for (const auto& [why, p] : tractor::testing::select_targets(tractor::testing::scan_processes(), holder)) found.push_back(p);
    if (found.size() >= n || std::chrono::steady_clock::now() > until) return found;
    std::this_thread::sleep_for(10ms);
  }
}

/// Whether a process titled `title` shows up (10 s watchdog).
bool wait_for_title(const std::string& title) {
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) {
    for (const auto& p : tractor::testing::scan_processes()) {
      if (p.title == title) return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

/// Reaps `holder` (10 s watchdog, then SIGKILL to its group); true if it ended by itself.
bool finish_holder(pid_t holder) {
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(holder, nullptr, WNOHANG) == holder) return true;
    std::this_thread::sleep_for(10ms);
  }
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  return false;
}

// Three fake actors, and a decoy with a title like theirs that is not this library's.
const std::string decoy = "_subactorish[decoy@" + run_id() + "]";
const std::string three_fakes =
    "(exec -a '" + decoy + "' sleep 300) &\n"
    "(exec -a '_subactor[plain@00000001]' sleep 300) &\n"
    "(trap '' INT; exec -a '_subactor[deaf-to-int@00000002]' sleep 300) &\n"
    "(trap '' INT TERM; exec -a '_subactor[stubborn@00000003]' sleep 300) &\n"
    "wait\n";

TEST(select_targets, picks_orphans_and_what_they_left_below_them) {
  const std::vector<process> all = {
      {10, 1, 1, "_forkserver"},                    // orphaned
      {11, 10, 1, "_subactor[a@1234abcd]"},         // below it
      {12, 11, 1, "_subactor[b@1234abcd]"},         // below that
      {20, 1, 1, "bash"},                           // orphaned, but not ours
      {21, 20, 1, "_subactor[c@1234abcd]"},         // ours, under a live parent
      {30, 1, 1, "_subactor[d@1234abcd]"},          // orphaned
      {40, 41, 1, "_subactor[cycle@1234abcd]"},     // a cycle in stale data must not hang
      {41, 40, 1, "_subactor[cycle2@1234abcd]"},
  };
  std::map<pid_t, std::string> got;
  for (const auto& [why, p] : tractor::testing::select_targets(all, std::nullopt)) got[p.pid] = why;
  const std::map<pid_t, std::string> want = {
      {10, "orphaned"}, {11, "below orphan 10"}, {12, "below orphan 10"}, {30, "orphaned"}};
  EXPECT_EQ(got, want);

  got.clear();
  for (const auto& [why, p] : tractor::testing::select_targets(all, 20)) got[p.pid] = why;
  EXPECT_EQ(got, (std::map<pid_t, std::string>{{21, "descends from 20"}}));
}

TEST(tractor_reap, stops_each_descendant_with_the_ladder_step_it_needs) {
  const pid_t holder = start_holder(three_fakes);
  const auto fakes = wait_for_fakes(holder, 3);
  ASSERT_EQ(fakes.size(), 3u);
  ASSERT_TRUE(wait_for_title(decoy));

  // A dry run lists them and stops nothing.
  const auto dry = run_tool("--pid " + std::to_string(holder) + " --dry-run");
  EXPECT_EQ(dry.status, 0) << dry.out;
  EXPECT_NE(dry.out.find("3 to stop"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would stop"), std::string::npos) << dry.out;
  EXPECT_EQ(wait_for_fakes(holder, 3).size(), 3u);

  const auto r = run_tool("--pid " + std::to_string(holder) + " --grace 0.5");
  EXPECT_EQ(r.status, 0) << r.out;
  for (const char* want : {"_subactor[plain@00000001]", "_subactor[deaf-to-int@00000002]",
                           "_subactor[stubborn@00000003]", "stopped by SIGINT", "stopped by SIGTERM",
                           "stopped by SIGKILL"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << " missing from:\n" << r.out;
  }
  // The plain one goes at SIGINT, the stubborn one only at SIGKILL.
  const auto line_of = [&](const std::string& title) {
    const auto at = r.out.find(title);
    return at == std::string::npos ? std::string() : r.out.substr(at, r.out.find('\n', at) - at);
  };
  EXPECT_NE(line_of("_subactor[plain@").find("SIGINT"), std::string::npos) << r.out;
  EXPECT_NE(line_of("_subactor[deaf-to-int@").find("SIGTERM"), std::string::npos) << r.out;
  EXPECT_NE(line_of("_subactor[stubborn@").find("SIGKILL"), std::string::npos) << r.out;
  // The decoy is untouched: the holder still waits on it.
  EXPECT_EQ(::waitpid(holder, nullptr, WNOHANG), 0) << "the decoy was stopped too";
  EXPECT_TRUE(wait_for_title(decoy)) << r.out;
  for (const auto& p : tractor::testing::scan_processes()) {
    if (p.title == decoy) ::kill(p.pid, SIGKILL);
  }
  EXPECT_TRUE(finish_holder(holder)) << "the holder still waited";
  for (const auto& p : fakes) EXPECT_FALSE(tractor::testing::read_process(p.pid).has_value()) << p.title;
}

TEST(tractor_reap, an_orphan_is_found_without_being_told_where) {
  // The fake actor's parent exits at once, so the kernel hands it to pid 1 (or to a
  // subreaper, where orphan mode cannot see it: then this test has nothing to check).
  const std::string title = "_subactor[orphan@" + run_id() + "]";
  const pid_t holder = start_holder("(trap '' INT; exec -a '" + title + "' sleep 300) & exit 0\n");
  ASSERT_TRUE(finish_holder(holder));
  std::optional<process> orphan;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!orphan && std::chrono::steady_clock::now() < until) {
    for (const auto& p : tractor::testing::scan_processes()) {
      if (p.title == title) orphan = p;
    }
    if (!orphan) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(orphan.has_value());
  if (orphan->ppid != 1) {
    ::kill(orphan->pid, SIGKILL);
    GTEST_SKIP() << "the orphan went to subreaper " << orphan->ppid << ", not to pid 1";
  }
  // Only a dry run: a real one would also stop other users' leftovers in this namespace.
  const auto dry = run_tool("--dry-run");
  EXPECT_EQ(dry.status, 0) << dry.out;
  const auto at = dry.out.find(title);
  ASSERT_NE(at, std::string::npos) << dry.out;
  EXPECT_NE(dry.out.substr(at, dry.out.find('\n', at) - at).find("orphaned"), std::string::npos) << dry.out;
  ::kill(orphan->pid, SIGKILL);
}

TEST(tractor_reap, refuses_a_pid_that_names_no_process) {
  const auto r = run_tool("--pid 999999999 --dry-run");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("no process 999999999"), std::string::npos) << r.out;
}

TEST(tractor_reap, refuses_bad_arguments_with_usage) {
  for (const char* args : {"--pid", "--pid x", "--pid -3", "--grace", "--grace -1", "--grace 1s", "--bogus"}) {
    const auto r = run_tool(args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_NE(r.out.find("usage: tractor-reap"), std::string::npos) << args << ": " << r.out;
  }
}

TEST(tractor_reap, removes_only_the_segments_nobody_uses) {
  const std::string& id = run_id();
  const std::string leaked = "/dev/shm/tractor-reap-test-leaked-" + id;
  const std::string held = "/dev/shm/tractor-reap-test-held-" + id;
  const std::string foreign = "/dev/shm/not-tractor-reap-test-" + id;
  for (const auto& path : {leaked, held, foreign}) std::fclose(std::fopen(path.c_str(), "w"));
  FILE* holding = std::fopen(held.c_str(), "r");  // in use: open here
  ASSERT_NE(holding, nullptr);

  const auto dry = run_tool("--pid 1 --shm --dry-run");
  EXPECT_NE(dry.out.find("tractor-reap-test-leaked-" + id + " "), std::string::npos) << dry.out;
  EXPECT_EQ(::access(leaked.c_str(), F_OK), 0) << "a dry run removed a segment";

  const auto r = run_tool("--pid 1 --shm");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("removed"), std::string::npos) << r.out;
  EXPECT_NE(::access(leaked.c_str(), F_OK), 0) << r.out;
  EXPECT_EQ(::access(held.c_str(), F_OK), 0) << "removed a segment in use:\n" << r.out;
  EXPECT_EQ(::access(foreign.c_str(), F_OK), 0) << "removed a segment not named by this library";
  std::fclose(holding);
  for (const auto& path : {leaked, held, foreign}) std::remove(path.c_str());
}

TEST(tractor_reap, lists_the_abstract_socket_names_of_live_actors) {
  // A listener under the runtime's prefix, as transport::uds binds one.
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  const std::string name = ((xdg && *xdg) ? std::string(xdg) + "/tractor" : "/tmp/tractor-" + std::to_string(::geteuid())) +
                           "/reap-test@" + run_id();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(name.size() + 1, sizeof addr.sun_path);
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  const auto r = run_tool("--pid 1 --sockets");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("@" + name + "\n"), std::string::npos) << r.out;
  ::close(fd);
  const auto after = run_tool("--pid 1 --sockets");
  EXPECT_EQ(after.out.find("@" + name + "\n"), std::string::npos) << "a closed listener's name is still listed:\n"
                                                                   << after.out;
}

}  // namespace
