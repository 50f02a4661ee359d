// tractor-reap and tractor-ps against real three-level trees (root → a → b) under every spawn
// backend: tractor-ps shows the tree as it is; tractor-reap, told the root's pid, stops
// exactly the actor processes below it; after the root is SIGKILLed, the one process the tree
// leaked (a helper that b forked, titled as b) is found as an orphan and stopped; after the
// whole tree is SIGKILLed, tractor-reap --shm removes the segment b held. A decoy
// titled like an actor, outside both, survives every run. Each tree runs as a program of its
// own: this binary again, with REAP_TREE_MODE set.
#include <tractor/testing.hpp>

#include "tests/support/silent_address.hpp"
#include "tests/support/subprocess.hpp"

#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>

#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <csignal>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace reap_tree {
tractor::awaitable<int> pid() { co_return ::getpid(); }
// Leaves a process of its own running, titled as this actor (tests/support's fork_a_leak).
tractor::awaitable<int> start_helper() { co_return tractor::testing::fork_a_leak(); }
tractor::awaitable<bool> hold_b(bool with_helper);  // a's part: defined once the trees exist
// Opens a shared-memory array this actor holds until it ends: the segment's name.
tractor::awaitable<std::string> hold_segment() {
  static std::optional<tractor::shm_array<int>> held;
  auto a = tractor::open_shm_array<int>("reap-tree", 16);
  if (!a) co_return std::string();
  held.emplace(std::move(a).value());
  co_return held->token().name;
}
}  // namespace reap_tree

namespace {

using namespace std::chrono_literals;
using fns = tractor::exposed<&reap_tree::pid, &reap_tree::start_helper, &reap_tree::hold_b, &reap_tree::hold_segment>;
using api = tractor::interface<&reap_tree::pid, &reap_tree::start_helper, &reap_tree::hold_b, &reap_tree::hold_segment>;
template <class Spawn>
using tree_of = tractor::tree<Spawn, tractor::transport::uds, tractor::codec::cereal_binary, fns>;
using trees = tractor::testing::tree_list<tree_of<tractor::spawn::exec>, tree_of<tractor::spawn::forkserver>,
                                          tree_of<tractor::spawn::thread>>;

tractor::awaitable<void> sleep_forever() {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::hours(24));
  co_await t.async_wait(boost::asio::use_awaitable);
}

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// a: starts b, says b's pid (and its helper's), and holds b until cancelled.
template <class Tree>
tractor::awaitable<bool> hold_b_in(bool with_helper) {
  auto r = co_await tractor::open_actor_nursery<Tree>([&](tractor::actor_nursery<Tree>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto b, co_await an.template start_actor<api>("b"));
    BOOST_OUTCOME_CO_TRY(int b_pid, co_await b.template run<&reap_tree::pid>());
    say(fmt::format("b {}", b_pid));
    if (with_helper) {
      BOOST_OUTCOME_CO_TRY(int helper, co_await b.template run<&reap_tree::start_helper>());
      say(fmt::format("helper {}", helper));
    }
    if (std::getenv("REAP_TREE_SEGMENT")) {
      BOOST_OUTCOME_CO_TRY(std::string name, co_await b.template run<&reap_tree::hold_segment>());
      say("segment " + name);
    }
    say("ready");
    co_await sleep_forever();
    co_return tractor::success();
  });
  co_return r.has_value();
}

// Calls `f(std::type_identity<Tree>{})` for the tree this program runs (TRACTOR_TEST_TREE).
template <class F, class... Trees>
auto on_tree(tractor::testing::tree_list<Trees...>*, F f) {
  const char* key = std::getenv(tractor::testing::tree_env);
  using first = std::tuple_element_t<0, std::tuple<Trees...>>;
  decltype(f(std::type_identity<first>{})) out{};
  (void)((key && key == tractor::testing::tree_key<Trees>() ? (out = f(std::type_identity<Trees>{}), true) : false) ||
         ...);
  return out;
}

// The tree's program: root, a, b; each says its pid on stdout.
template <class Tree>
int tree_program(bool with_helper) {
  char arg0[] = "reap_tree_root";
  char* argv[] = {arg0, nullptr};
  return tractor::run_main<Tree>(1, argv, [&](tractor::actor_nursery<Tree>& an) -> tractor::task<void> {
    say(fmt::format("root {}", ::getpid()));
    BOOST_OUTCOME_CO_TRY(auto a, co_await an.template start_actor<api>("a"));
    BOOST_OUTCOME_CO_TRY(int a_pid, co_await a.template run<&reap_tree::pid>());
    say(fmt::format("a {}", a_pid));
    BOOST_OUTCOME_CO_TRY(bool held, co_await a.template run<&reap_tree::hold_b>(with_helper));
    (void)held;
    co_return tractor::success();
  });
}

std::string tool(const std::string& name) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  return srcdir && ws ? std::string(srcdir) + "/" + ws + "/tools/" + name : "tools/" + name;
}

// Runs a tool; its output (stdout and stderr) and exit status.
std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, ""};
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// The pids named on the program's "<who> <pid>" lines.
std::map<std::string, pid_t> pids_in(const std::string& out) {
  std::map<std::string, pid_t> pids;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string who;
    pid_t pid = 0;
    if (words >> who >> pid) pids[who] = pid;
  }
  return pids;
}

// The pids in the PID column of a tractor-reap table.
std::set<pid_t> stopped_in(const std::string& out) {
  std::set<pid_t> pids;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("stopped by") == std::string::npos && line.find("ended") == std::string::npos) continue;
    pids.insert(static_cast<pid_t>(std::atoi(line.c_str())));
  }
  return pids;
}

bool running(pid_t pid) {
  const auto p = tractor::testing::read_process(pid);
  return p && p->state != 'Z';
}

// A process titled like an actor that belongs to no tree here; it must survive every run.
class decoy {
 public:
  decoy() {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/bin/bash", "bash", "-c", "exec -a '_subactor[decoy@00000000]' sleep 600", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~decoy() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

template <class Tree>
class reap_tree_test : public tractor::testing::tree_test<Tree> {};
TYPED_TEST_SUITE(reap_tree_test, trees::types, tractor::testing::tree_names);

TYPED_TEST(reap_tree_test, ps_shows_the_tree_and_reap_stops_exactly_what_is_below_the_root) {
  constexpr bool threads = std::is_same_v<typename TypeParam::spawn_type, tractor::spawn::thread>;
  const decoy d;
  // Called "t": a forkserver's actors write their titles over the program's arguments, one
  // byte here, and must still be recognised.
  tractor::testing::subprocess program(std::map<std::string, std::string>{{"REAP_TREE_MODE", "tree"}}, {}, "t");
  ASSERT_TRUE(program.wait_for(0, "ready\n", 30s)) << program.out() << program.err();
  const auto pids = pids_in(program.out());
  ASSERT_EQ(pids.size(), 3u) << program.out();
  const pid_t root = pids.at("root");

  // tractor-ps: root at the top; a below it and b below a, as processes or as threads.
  const auto [ps_status, ps] = run(tool("tractor-ps"));
  EXPECT_EQ(ps_status, 0) << ps;
  auto row_of = [&](pid_t pid, const std::string& name) {
    std::istringstream lines(ps);
    for (std::string line; std::getline(lines, line);) {
      const auto at = line.find_first_not_of(' ');
      if (at != std::string::npos && line.compare(at, std::to_string(pid).size() + 1, std::to_string(pid) + " ") == 0 &&
          line.find(name) != std::string::npos) {
        return static_cast<int>(at / 2);  // the depth: two spaces a level
      }
    }
    return -1;
  };
  EXPECT_EQ(row_of(root, "(root)"), 0) << ps;
  if constexpr (threads) {
    // Thread actors: rows of their process (which of them started which is not in /proc).
    EXPECT_EQ(row_of(root, " a "), 1) << ps;
    EXPECT_EQ(row_of(root, " b "), 1) << ps;
  } else if constexpr (std::is_same_v<typename TypeParam::spawn_type, tractor::spawn::forkserver>) {
    // The forkserver forks every actor of the tree: a and b are its children, side by side,
    // each with its whole title (NAME shows "a@uuid" only for a title that ends with "]").
    const int a = row_of(pids.at("a"), " a@");
    EXPECT_EQ(a, 2) << ps;
    EXPECT_EQ(row_of(pids.at("b"), " b@"), a) << ps;
    EXPECT_EQ(ps.find("_subactor["), std::string::npos) << "a title cut short:\n" << ps;
  } else {
    const int a = row_of(pids.at("a"), "a@");
    EXPECT_EQ(a, 1) << ps;
    EXPECT_EQ(row_of(pids.at("b"), "b@"), a + 1) << ps;
  }

  // tractor-reap --pid root: every actor process below the root, nothing else.
  std::set<pid_t> below;
  for (const auto& p : tractor::testing::descendants(tractor::testing::scan_processes(), root)) {
    if (tractor::testing::is_tractor_process(p)) below.insert(p.pid);
  }
  if (threads) {
    EXPECT_TRUE(below.empty());
  } else {
    EXPECT_TRUE(below.contains(pids.at("a")) && below.contains(pids.at("b")));
  }
  const auto [status, out] = run(tool("tractor-reap") + " --pid " + std::to_string(root) + " --grace 5");
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find(fmt::format("{} to stop", below.size())), std::string::npos) << out;
  EXPECT_EQ(stopped_in(out), below) << out;
  for (const pid_t p : below) EXPECT_FALSE(running(p)) << p << " survived:\n" << out;
  EXPECT_TRUE(running(d.pid())) << "the decoy was stopped";

  // The root lives on (not an actor process of the library: the user's program); Ctrl-C ends it.
  ::kill(root, SIGINT);
  EXPECT_TRUE(program.finish(30s));
}

TYPED_TEST(reap_tree_test, after_the_root_is_killed_reap_stops_what_the_tree_leaked) {
  if (auto why = tractor::testing::skip_on_backend<TypeParam, tractor::spawn::thread>(
          "a thread actor's fork carries the root's title, not an actor's")) {
    GTEST_SKIP() << *why;
  }
  const decoy d;
  // The helper must be orphaned, as on a user's machine: no subreaper above it while it is.
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  struct subreaper_again {
    ~subreaper_again() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  } restore;
  tractor::testing::subprocess program(
      std::map<std::string, std::string>{{"REAP_TREE_MODE", "tree"}, {"REAP_TREE_HELPER", "1"}});
  ASSERT_TRUE(program.wait_for(0, "ready\n", 30s)) << program.out() << program.err();
  const auto pids = pids_in(program.out());
  ASSERT_EQ(pids.size(), 4u) << program.out();
  ::kill(pids.at("root"), SIGKILL);
  EXPECT_TRUE(program.finish(30s));
  // a and b die with their parents (the runtime asks the kernel for it); the helper does not.
  for (const char* who : {"a", "b"}) {
    const auto p = tractor::testing::read_process(pids.at(who));
    EXPECT_TRUE(!p || tractor::testing::wait_for_exit({*p}, 10s).empty()) << who << " outlived the root";
  }
  const pid_t helper = pids.at("helper");
  // Orphaned once the kernel has reparented it to pid 1 (watchdog: 10 s).
  std::optional<tractor::testing::process> h;
  for (auto until = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < until;) {
    h = tractor::testing::read_process(helper);
    if (!h || h->ppid == 1) break;
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(h && h->ppid == 1) << "the helper " << helper << " is not an orphan: parent "
                                 << (h ? std::to_string(h->ppid) : std::string("(gone)"));
  const auto [status, out] = run(tool("tractor-reap") + " --grace 1");
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find(fmt::format("{} ", helper)), std::string::npos) << out;
  EXPECT_TRUE(stopped_in(out).contains(helper)) << out;
  EXPECT_NE(out.find("orphaned"), std::string::npos) << out;
  EXPECT_FALSE(running(helper)) << out;
  EXPECT_TRUE(running(d.pid())) << "the decoy was stopped";
}

// b holds a shared-memory segment; every actor process of the tree is SIGKILLed at once, so no
// owner unlinks it; tractor-reap --shm (this program's group: TRACTOR_SHM_GROUP) removes it.
TYPED_TEST(reap_tree_test, after_the_whole_tree_is_killed_reap_removes_its_segments) {
  tractor::testing::subprocess program(
      std::map<std::string, std::string>{{"REAP_TREE_MODE", "tree"}, {"REAP_TREE_SEGMENT", "1"}});
  ASSERT_TRUE(program.wait_for(0, "ready\n", 30s)) << program.out() << program.err();
  const auto pids = pids_in(program.out());
  const auto at = program.out().find("segment /");
  ASSERT_NE(at, std::string::npos) << program.out();
  const std::string name = program.out().substr(at + 9, program.out().find('\n', at) - at - 9);
  ASSERT_TRUE(std::filesystem::exists("/dev/shm/" + name)) << name;
  std::vector<tractor::testing::process> tree;
  for (const char* who : {"root", "a", "b"}) {
    if (auto p = tractor::testing::read_process(pids.at(who))) tree.push_back(*p);
  }
  for (const auto& p : tree) ::kill(p.pid, SIGKILL);
  EXPECT_TRUE(program.finish(30s));
  EXPECT_TRUE(tractor::testing::wait_for_exit(tree, 10s).empty()) << "an actor of the tree outlived SIGKILL";
  ASSERT_TRUE(std::filesystem::exists("/dev/shm/" + name)) << "nobody unlinks what a SIGKILLed owner held";
  const auto [status, out] = run(tool("tractor-reap") + " --shm");
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find(name + " "), std::string::npos) << out;
  EXPECT_NE(out.find("removed"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists("/dev/shm/" + name)) << out;
}

// A registrar holding an entry whose actor is gone (registered by hand, at an address where
// nothing listens), beside live ones: tractor-ps --registry lists it as gone, tractor-reap
// --registry has the registrar forget it and nothing else; a registry address where nobody
// listens, or where nothing answers at all, is reported as such.
using registry_test = tractor::testing::tree_test<tree_of<tractor::spawn::exec>>;

TEST_F(registry_test, reap_forgets_the_entries_of_actors_that_are_gone) {
  using Tree = tree_of<tractor::spawn::exec>;
  const std::string ghost = tractor::transport::uds::bind_addr("ghost").str();  // nobody listens there
  const tractor::testing::silent_address silent;
  std::string ps, reaped, again, nobody, unanswered;
  std::vector<tractor::transport::multiaddr> ghost_after = {tractor::transport::uds::bind_addr("not asked")};
  std::vector<tractor::transport::multiaddr> b_after;
  char arg0[] = "registry_root";
  char* argv[] = {arg0, nullptr};
  const int code = tractor::run_main<Tree>(1, argv, [&](tractor::actor_nursery<Tree>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto b, co_await an.template start_actor<api>("b"));
    (void)b;
    auto* self = tractor::runtime::current_actor();
    std::tuple<tractor::runtime::registration> who{{"ghost", "0badc0de-0000-0000-0000-000000000000", {ghost}}};
    auto registered = co_await tractor::runtime::ask_registrar<&tractor::runtime::requests::register_actor>(*self, who);
    BOOST_OUTCOME_CO_TRYV(registered);
    // The tools are other programs: run them on a thread while this registrar serves.
    std::atomic<bool> done = false;
    std::thread tools([&] {
      ps = run(tool("tractor-ps") + " --registry").second;
      reaped = run(tool("tractor-reap") + " --registry").second;
      again = run(tool("tractor-reap") + " --registry --dry-run").second;
      nobody = run(tool("tractor-ps") + " --registry /unix/tmp/tractor-nobody-here/registry@1").second;
      unanswered = run(tool("tractor-ps") + " --registry " + silent.addr().str()).second;
      done = true;
    });
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (!done && std::chrono::steady_clock::now() < give_up) co_await tractor::sleep_for(5ms);
    tools.join();
    BOOST_OUTCOME_CO_TRY(ghost_after, co_await tractor::query_actor<Tree>("ghost"));
    BOOST_OUTCOME_CO_TRY(b_after, co_await tractor::query_actor<Tree>("b"));
    an.cancel();
    co_return tractor::success();
  });
  std::printf("tractor-ps --registry:\n%s\ntractor-reap --registry:\n%s\n", ps.c_str(), reaped.c_str());
  EXPECT_EQ(code, 0);
  EXPECT_NE(ps.find("GONE   " + ghost), std::string::npos) << ps;
  EXPECT_NE(ps.find("alive  /unix"), std::string::npos) << ps;
  EXPECT_NE(reaped.find("1 of an actor that is gone"), std::string::npos) << reaped;
  EXPECT_NE(reaped.find("forgotten (nothing listens there)"), std::string::npos) << reaped;
  EXPECT_NE(again.find("0 of an actor that is gone"), std::string::npos) << again;
  EXPECT_NE(nobody.find("no registrar (nothing listens there)"), std::string::npos) << nobody;
  EXPECT_NE(unanswered.find("no answer (3 tries of 1 s)"), std::string::npos) << unanswered;
  EXPECT_TRUE(ghost_after.empty()) << "the registrar still knows the ghost";
  EXPECT_EQ(b_after.size(), 1u) << "a live actor's entry was touched";
}

}  // namespace

tractor::awaitable<bool> reap_tree::hold_b(bool with_helper) {
  return on_tree(static_cast<trees*>(nullptr),
                 [&](auto t) { return hold_b_in<typename decltype(t)::type>(with_helper); });
}

int main(int argc, char** argv) {
  if (std::getenv("REAP_TREE_MODE") && !tractor::runtime::is_child_process()) {
    const bool helper = std::getenv("REAP_TREE_HELPER") != nullptr;
    return on_tree(static_cast<trees*>(nullptr),
                   [&](auto t) { return tree_program<typename decltype(t)::type>(helper); });
  }
  return tractor::testing::run_tests<trees>(argc, argv);
}
