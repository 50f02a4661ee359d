// Seeing inside a running tree, as a user does: the tree runs as a program of its own (this
// binary, run again) whose stderr the test reads. Logs: every line names its actor, short
// uuid and pid; each actor logs from its own level (root_options, actor_options, inherited
// by grandchildren, TRACTOR_LOGLEVEL over the code); a default run prints nothing. Task
// dumps: SIGUSR1 to the root of a three-level tree prints every actor's tasks and waits
// (which context each wait serves, on which side), to stderr, the log file and the
// controlling terminal; a loop wedged in a blocking call gets its thread's native stack from
// the watchdog.
// Built once per spawn backend (the policy matrix's backend axis).
#include "tests/runtime/observe_trees.hpp"
#include "tests/support/log_lines.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

namespace observe_tests {

using tractor::testing::line;
using tractor::testing::parse_log;

struct run_result {
  std::string out, err;
  std::map<std::string, int> pids;
  std::string usr1;  // SIGUSR1's disposition while the tree ran
  std::vector<line> lines;
  std::vector<std::string> unparsed;
};

/// Runs the log tree with `env` and waits (30 s watchdog) for it and every actor to end.
run_result run_log_tree(std::map<std::string, std::string> env) {
  env["OBSERVE_TEST_PROGRAM"] = "log_tree";
  for (const char* k : {"TRACTOR_LOGLEVEL", "OBSERVE_ROOT_LEVEL", "OBSERVE_BOB_LEVEL"}) env.try_emplace(k, "");
  tractor::testing::subprocess p(env);
  const auto status = p.finish(30s);
  run_result r{p.out(), p.err(), {}, {}, {}, {}};
  EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "stderr:\n" << r.err;
  std::istringstream pids(r.out);
  std::string kv;
  while (pids >> kv) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    if (kv.substr(0, eq) == "usr1") {
      r.usr1 = kv.substr(eq + 1);
    } else {
      r.pids[kv.substr(0, eq)] = std::stoi(kv.substr(eq + 1));
    }
  }
  r.lines = parse_log(r.err, r.unparsed);
  // Reap whatever the program left to us (the subreaper): nothing may be left.
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  EXPECT_TRUE(tractor::testing::live_children_but_server().empty()) << "an actor of the program outlived it";
  return r;
}

/// The levels of `actor`'s lines from component `component`.
std::set<std::string> levels_of(const run_result& r, const std::string& actor, const std::string& component) {
  std::set<std::string> out;
  for (const auto& l : r.lines) {
    if (l.actor == actor && l.component == component) out.insert(l.level);
  }
  return out;
}

bool has_runtime_lines(const run_result& r, const std::string& actor) {
  for (const auto& l : r.lines) {
    if (l.actor == actor && l.component.rfind("tractor.", 0) == 0 && l.level == "RUNTIME") return true;
  }
  return false;
}

TEST(observe_test, each_actor_logs_as_itself_from_its_own_level) {
  const auto r = run_log_tree({{"OBSERVE_ROOT_LEVEL", "info"}, {"OBSERVE_BOB_LEVEL", "debug"}});
  ASSERT_EQ(r.pids.size(), 4u) << r.out << r.err;
  EXPECT_TRUE(r.unparsed.empty()) << "a line without the prefix: " << (r.unparsed.empty() ? "" : r.unparsed[0]);
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << "coloured output on a pipe";
  using levels = std::set<std::string>;
  EXPECT_EQ(levels_of(r, "root", "app"), (levels{"INFO"}));
  EXPECT_EQ(levels_of(r, "bob", "app"), (levels{"DEBUG", "INFO"}));
  EXPECT_EQ(levels_of(r, "carol", "app"), (levels{"DEBUG", "INFO"})) << "carol inherits bob's level";
  EXPECT_EQ(levels_of(r, "dave", "app"), (levels{"INFO"})) << "dave inherits the root's level";
  EXPECT_TRUE(has_runtime_lines(r, "bob"));
  EXPECT_TRUE(has_runtime_lines(r, "carol"));
  EXPECT_FALSE(has_runtime_lines(r, "root"));
  EXPECT_FALSE(has_runtime_lines(r, "dave"));
  std::map<std::string, std::set<std::string>> uuids;
  for (const auto& l : r.lines) {
    ASSERT_TRUE(r.pids.contains(l.actor)) << "a line from an unknown actor " << l.actor;
    EXPECT_EQ(l.pid, r.pids.at(l.actor)) << "the pid of " << l.actor << "'s line: " << l.text;
    uuids[l.actor].insert(l.uuid);
  }
  for (const auto& [actor, ids] : uuids) EXPECT_EQ(ids.size(), 1u) << actor << " logs under one uuid";
  if (tractor::testing::thread_actors) {
    EXPECT_EQ(r.pids.at("bob"), r.pids.at("root")) << "thread actors share the process";
  } else {
    EXPECT_NE(r.pids.at("bob"), r.pids.at("root"));
    EXPECT_NE(r.pids.at("carol"), r.pids.at("bob"));
  }
  // A runtime event names what happened: carol's boot under bob, bob serving greet for root.
  bool carol_started = false, call_served = false;
  for (const auto& l : r.lines) {
    carol_started |= l.actor == "bob" && l.component == "tractor.spawn" && l.text.rfind("started carol@", 0) == 0;
    call_served |= l.actor == "bob" && l.component == "tractor.rpc" && l.text.find("obs.greet for root@") != std::string::npos;
  }
  EXPECT_TRUE(carol_started) << r.err;
  EXPECT_TRUE(call_served) << r.err;
  // A line written from a task names it: bob's greeting comes from the RPC task for root.
  bool named = false;
  for (const auto& l : r.lines) {
    if (l.actor == "bob" && l.component == "app") {
      named = true;
      EXPECT_EQ(l.task.rfind("observe_tests::obs.greet for root@", 0), 0u) << "the task of: " << l.text;
    }
  }
  EXPECT_TRUE(named);
}

TEST(observe_test, a_default_run_prints_nothing_from_the_runtime) {
  const auto r = run_log_tree({});
  EXPECT_EQ(r.pids.size(), 4u) << r.out;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.usr1, "default") << "with task dumps off, SIGUSR1 is left alone";
}

TEST(observe_test, tractor_loglevel_overrides_the_code) {
  const auto r = run_log_tree({{"TRACTOR_LOGLEVEL", "runtime"}, {"OBSERVE_ROOT_LEVEL", "error"}});
  EXPECT_EQ(levels_of(r, "root", "app"), (std::set<std::string>{"INFO"}));
  EXPECT_TRUE(has_runtime_lines(r, "root"));
  EXPECT_TRUE(has_runtime_lines(r, "dave")) << "children inherit the level the root runs at";
  EXPECT_EQ(levels_of(r, "dave", "app"), (std::set<std::string>{"INFO"})) << "runtime is above debug";
}

// A cancelled nursery asks each child once, as soon as that child's supervision is told of the
// cancellation (or not at all, if the child has exited by then, as a thread actor may have);
// the ladder does not ask again, and the acknowledgement is logged once, when the child's
// channel has been read to its end.
TEST(observe_test, each_child_of_a_cancelled_nursery_is_asked_once) {
  const auto r = run_log_tree({{"TRACTOR_LOGLEVEL", "cancel"}});
  for (const std::string child : {"bob", "dave"}) {
    const auto said = [&](const std::string& text) {
      return std::count_if(r.lines.begin(), r.lines.end(), [&](const line& l) {
        return l.actor == "root" && l.component == "tractor.cancel" && l.text == text;
      });
    };
    EXPECT_EQ(said("asking " + child + " to cancel"), 1) << r.err;
    EXPECT_LE(said(child + " acknowledged our cancel request"), 1) << r.err;
    EXPECT_EQ(said(child + " did not acknowledge our cancel request in time"), 0) << r.err;
  }
}

TEST(observe_test, levels_parse_by_name) {
  using tractor::log::level;
  EXPECT_EQ(tractor::log::parse_level("DEBUG"), level::debug);
  EXPECT_EQ(tractor::log::parse_level("warn"), level::warning);
  EXPECT_EQ(tractor::log::parse_level("cancel"), level::cancel);
  EXPECT_EQ(tractor::log::parse_level("verbose"), std::nullopt);
  EXPECT_LT(level::debug, level::runtime);
  EXPECT_LT(level::runtime, level::cancel);
  EXPECT_LT(level::cancel, level::info);
  for (auto l : {level::trace, level::debug, level::runtime, level::cancel, level::info, level::warning, level::error}) {
    EXPECT_EQ(tractor::log::parse_level(tractor::log::to_string(l)), l);
  }
}

/// The section of `dump` that describes actor `name`: from its header to the next header.
std::string section_of(const std::string& dump, const std::string& name) {
  const auto at = dump.find("=== actor " + name + "@");
  if (at == std::string::npos) return {};
  const auto next = dump.find("=== actor ", at + 1);
  return dump.substr(at, next == std::string::npos ? std::string::npos : next - at);
}

/// Removes every dump file the program said it wrote ("also appended to PATH").
void remove_dump_files(const std::string& err) {
  static constexpr std::string_view announced = "also appended to ";
  for (auto at = err.find(announced); at != std::string::npos; at = err.find(announced, at + 1)) {
    const auto from = at + announced.size();
    const auto to = err.find_first_of(" \n", from);
    const std::string path = err.substr(from, to == std::string::npos ? std::string::npos : to - from);
    if (path.ends_with(".log")) std::remove(path.c_str());
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs the dump tree over `transport`, sends SIGUSR1 to its root once all are blocked, and
/// checks the dump: every actor's section, in tree order, with each blocked task's wait; on
/// stderr and in the log file.
void check_dump_tree(const std::string& transport) {
  SCOPED_TRACE("transport " + transport);
  tractor::testing::subprocess p(std::map<std::string, std::string>{{"OBSERVE_TEST_PROGRAM", "dump_tree"}, {"OBSERVE_TRANSPORT", transport}});
  ASSERT_TRUE(p.wait_for(0, "ready\n", 30s)) << "the tree did not come up:\n" << p.err();
  EXPECT_NE(p.out().find("usr1=handler"), std::string::npos) << "dumps on: SIGUSR1 is the runtime's";
  ::kill(p.pid(), SIGUSR1);
  // The dump ends with dave's section (the root's last child), the last thing written.
  const bool complete = p.read_until([&] {
    const auto d = p.err().find("=== actor dave@");
    return d != std::string::npos && p.err().find("napper", d) != std::string::npos;
  }, 30s);
  const std::string err = p.err();
  ASSERT_TRUE(complete) << "no complete dump on stderr:\n" << err;
  const std::string log_path = (std::getenv("TMPDIR") ? std::string(std::getenv("TMPDIR")) : "/tmp") +
                               "/tractor-taskdump-" + std::to_string(p.pid()) + ".log";
  EXPECT_NE(err.find("also appended to " + log_path), std::string::npos) << err;
  const std::string root = section_of(err, "root"), bob = section_of(err, "bob");
  const std::string carol = section_of(err, "carol"), dave = section_of(err, "dave");
  for (const auto* s : {&root, &bob, &carol, &dave}) EXPECT_FALSE(s->empty()) << err;
  EXPECT_LT(err.find("=== actor root@"), err.find("=== actor bob@"));
  EXPECT_LT(err.find("=== actor bob@"), err.find("=== actor carol@")) << "carol comes under bob";
  EXPECT_LT(err.find("=== actor carol@"), err.find("=== actor dave@"));
  EXPECT_NE(root.find("parent: none"), std::string::npos) << root;
  EXPECT_NE(root.find("children: bob@"), std::string::npos) << root;
  EXPECT_NE(bob.find("parent: root@"), std::string::npos) << bob;
  EXPECT_NE(bob.find("children: carol@"), std::string::npos) << bob;
  EXPECT_NE(root.find("spawn backend " + tractor::testing::cell().backend), std::string::npos) << root;
  // Each blocked task's wait.
  EXPECT_NE(bob.find("receive on a memory channel 'never' (holding 0 of 1"), std::string::npos) << bob;
  EXPECT_NE(bob.find("obs.lead_and_block"), std::string::npos) << "the RPC task's name: " << bob;
  EXPECT_NE(carol.find("task napper: waits for sleep ("), std::string::npos) << carol;
  EXPECT_NE(dave.find("task napper: waits for sleep ("), std::string::npos) << dave;
  // Which context each wait serves, and on which side.
  EXPECT_NE(bob.find("for context observe_tests::obs.nap with carol@"), std::string::npos) << bob;
  EXPECT_NE(bob.find("(caller side, cid "), std::string::npos) << bob;
  EXPECT_NE(bob.find("for context observe_tests::obs.lead_and_block<"), std::string::npos) << bob;
  EXPECT_NE(bob.find("> with root@"), std::string::npos) << bob;
  EXPECT_NE(bob.find("(callee side, cid "), std::string::npos) << bob;
  EXPECT_NE(carol.find("for context observe_tests::obs.nap with bob@"), std::string::npos) << carol;
  EXPECT_NE(carol.find("(callee side, cid "), std::string::npos) << carol;
  // A stream receiver: the root waits for an item from dave.
  EXPECT_NE(root.find("receive on a memory channel 'mailbox' (holding 0 of 64, 0 sender(s) waiting), for a stream item"),
            std::string::npos) << root;
  EXPECT_NE(root.find("for context observe_tests::obs.nap with dave@"), std::string::npos) << root;
  EXPECT_NE(root.find("(caller side, cid "), std::string::npos) << root;
  EXPECT_NE(root.find("for context observe_tests::obs.lead_and_block<"), std::string::npos) << root;
  EXPECT_NE(root.find("task accept loop"), std::string::npos) << root;
  // The same in the log file.
  const std::string file = read_file(log_path);
  EXPECT_NE(file.find("=== actor carol@"), std::string::npos) << file;
  EXPECT_NE(file.find("receive on a memory channel"), std::string::npos);
  ::kill(p.pid(), SIGINT);
  const auto status = p.finish(30s);
  EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 128 + SIGINT) << p.err();
  EXPECT_NE(p.out().find("usr1 after=default"), std::string::npos) << "SIGUSR1 given back: " << p.out();
  remove_dump_files(p.err());
  EXPECT_FALSE(std::ifstream(log_path).good()) << "the dump file is left behind";
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  EXPECT_TRUE(tractor::testing::live_children_but_server().empty()) << "an actor of the program outlived it";
}

TEST(observe_test, sigusr1_to_the_root_dumps_every_actor_s_tasks_in_tree_order) {
  check_dump_tree("uds");
  check_dump_tree("tcp");
}

TEST(observe_test, a_dump_also_goes_to_the_controlling_terminal) {
  // The program's session has a pseudo-terminal of its own; stderr stays a pipe, so what
  // reaches the terminal went through /dev/tty.
  tractor::testing::subprocess p(
      std::map<std::string, std::string>{{"OBSERVE_TEST_PROGRAM", "dump_tree"}, {"OBSERVE_TRANSPORT", "uds"}}, {},
      "/proc/self/exe", /*terminal=*/true);
  ASSERT_GT(p.pid(), 0) << "no pseudo-terminal";
  ASSERT_TRUE(p.wait_for(0, "ready\n", 30s)) << "the tree did not come up:\n" << p.err();
  ::kill(p.pid(), SIGUSR1);
  const bool on_terminal = p.read_until([&] {
    const auto d = p.tty().find("=== actor dave@");
    return d != std::string::npos && p.tty().find("napper", d) != std::string::npos;
  }, 30s);
  EXPECT_TRUE(on_terminal) << "terminal:\n" << p.tty() << "\nstderr:\n" << p.err();
  EXPECT_NE(p.tty().find("tractor: task dump of pid " + std::to_string(p.pid())), std::string::npos) << p.tty();
  EXPECT_NE(p.tty().find("=== actor root@"), std::string::npos) << p.tty();
  EXPECT_NE(p.err().find("=== actor dave@"), std::string::npos) << "stderr as well: " << p.err();
  ::kill(p.pid(), SIGINT);
  const auto status = p.finish(30s);
  EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 128 + SIGINT) << p.err();
  remove_dump_files(p.err());
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  EXPECT_TRUE(tractor::testing::live_children_but_server().empty()) << "an actor of the program outlived it";
}

TEST(observe_test, a_wedged_loop_gets_its_native_stack_printed_by_the_watchdog) {
  tractor::testing::subprocess p(std::map<std::string, std::string>{{"OBSERVE_TEST_PROGRAM", "wedge_tree"}});
  ASSERT_TRUE(p.wait_for(0, "ready\n", 30s)) << p.err();
  ASSERT_TRUE(p.wait_for(0, "wedging\n", 30s)) << p.err();
  ::kill(p.pid(), SIGUSR1);
  const bool stack = p.read_until([&] {
    const auto at = p.err().find("did not get to the dump within 1 s");
    return at != std::string::npos && p.err().find("obs::wedge", at) != std::string::npos;
  }, 30s);
  EXPECT_TRUE(stack) << "no native stack naming obs::wedge:\n" << p.err();
  EXPECT_NE(p.err().find("stuck"), std::string::npos);
  ::kill(p.pid(), SIGINT);
  (void)p.finish(60s);
  remove_dump_files(p.err());
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  EXPECT_TRUE(tractor::testing::live_children_but_server().empty()) << "an actor of the program outlived it";
}

}  // namespace observe_tests

int main(int argc, char** argv) {
  using namespace observe_tests;
  const char* transport = std::getenv("OBSERVE_TRANSPORT");
  const bool tcp = transport && std::string(transport) == "tcp";
  if (tractor::runtime::is_child_process()) {
    return tcp ? tractor::runtime::child_main(tree_of<tractor::transport::tcp>::policies())
               : tractor::runtime::child_main(tree_of<tractor::transport::uds>::policies());
  }
  if (const char* program = std::getenv("OBSERVE_TEST_PROGRAM")) {
    const std::string name = program;
    if (name == "log_tree") return log_tree();
    if (name == "dump_tree") return tcp ? dump_tree<tractor::transport::tcp>() : dump_tree<tractor::transport::uds>();
    if (name == "wedge_tree") return wedge_tree();
    return 2;
  }
  return tractor::testing::run_matrix_tests(argc, argv);
}
