// Debug mode under every spawn backend, driven through a real pseudo-terminal: the test runs
// this program again as a root in a terminal of its own (forkpty) and plays the user, reading
// the reports and typing `c`. Without a terminal (setsid, output piped), nobody waits.
#include <tractor/discovery/discovery.hpp>
#include <tractor/runtime/debug.hpp>
#include <tractor/testing.hpp>

#include "tests/runtime/debug_terminal.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include <sys/wait.h>
#include <unistd.h>

namespace bug {
/// Fails with `what`.
tractor::awaitable<tractor::result<int>> fail(std::string what) {
  co_return tractor::error(tractor::make_error_code(tractor::errc::would_block), "boom: " + what);
}
/// Pauses (a breakpoint), then answers 7.
tractor::awaitable<tractor::result<int>> pause_then_answer() {
  BOOST_OUTCOME_CO_TRYV(co_await tractor::pause());
  co_return 7;
}
/// What `pause` does in a cancelled scope, shielded and not, and while another pause of this
/// actor is under way; one word per finding.
tractor::awaitable<std::string> pause_checks() {
  std::string out;
  tractor::cancel_scope scope;
  const bool completed = co_await scope.run([&]() -> tractor::awaitable<void> {
    scope.cancel();
    // As in a cleanup (`finally`): Asio's throw-if-cancelled check is off.
    co_await boost::asio::this_coro::throw_if_cancelled(false);
    auto shielded = co_await tractor::pause(true);  // stops even so
    out += shielded ? "shielded-ok;" : "shielded-failed;";
    auto plain = co_await tractor::pause();  // does not stop here
    out += plain ? "unshielded-stopped;" : "unshielded-refused: " + plain.error().message() + ";";
    co_await boost::asio::this_coro::throw_if_cancelled(true);
    co_await tractor::sleep_for(std::chrono::hours(1));  // the scope's cancellation ends it here
  }());
  out += completed ? "scope-completed;" : "scope-cancelled;";
  std::optional<tractor::result<void>> second;
  (void)co_await tractor::open_nursery([&](tractor::nursery& n) -> tractor::awaitable<void> {
    n.start_soon([]() -> tractor::awaitable<void> { (void)co_await tractor::pause(); });
    n.start_soon([&]() -> tractor::awaitable<void> { second = co_await tractor::pause(); });
    co_return;
  });
  out += second && !*second ? "second-refused: " + second->error().message() + ";" : "second-not-refused;";
  co_return out;
}
}  // namespace bug

namespace {

using fns = tractor::exposed<&bug::fail, &bug::pause_then_answer, &bug::pause_checks>;
using namespace tractor::spawn;
using tractor::transport::uds;
template <class Spawn>
using tree_of = tractor::tree<Spawn, uds, tractor::codec::cereal_binary, fns>;
using trees = tractor::testing::tree_list<tree_of<exec>, tree_of<forkserver>, tree_of<thread>>;

const tractor::actor_options buggy{.enable_modules = {"bug"}};

// -- the programs the tests run (this binary, with TRACTOR_DEBUG_TEST_SCENARIO set) ---------

/// Two one-shot children fail at once; the nursery collects both errors when it joins.
template <class Tree>
tractor::task<void> two_failures(tractor::actor_nursery<Tree>& an) {
  BOOST_OUTCOME_CO_TRYV(co_await an.template run_in_actor<&bug::fail>("alice", std::string("alice")));
  BOOST_OUTCOME_CO_TRYV(co_await an.template run_in_actor<&bug::fail>("bob", std::string("bob")));
  co_return tractor::success();
}

/// A child pauses; the test cancels the root meanwhile (SIGTERM).
template <class Tree>
tractor::task<void> pause_in_child(tractor::actor_nursery<Tree>& an) {
  BOOST_OUTCOME_CO_TRY(auto p, co_await an.start_actor("pauser", buggy));
  BOOST_OUTCOME_CO_TRY(auto v, co_await p.template run<&bug::pause_then_answer>());
  std::printf("ANSWER %d\n", v);
  an.cancel();
  co_return tractor::success();
}

/// A child started with debug mode off fails (its parent has it on).
template <class Tree>
tractor::task<void> failure_with_debug_off(tractor::actor_nursery<Tree>& an) {
  const tractor::actor_options quiet{.enable_modules = {"bug"}, .debug_mode = false};
  BOOST_OUTCOME_CO_TRY(auto p, co_await an.start_actor("quiet", quiet));
  BOOST_OUTCOME_CO_TRY(auto v, co_await p.template run<&bug::fail>(std::string("quiet")));
  (void)v;
  co_return tractor::success();
}

/// `pause_checks` in a child.
template <class Tree>
tractor::task<void> pause_rules(tractor::actor_nursery<Tree>& an) {
  BOOST_OUTCOME_CO_TRY(auto p, co_await an.start_actor("checker", buggy));
  BOOST_OUTCOME_CO_TRY(auto found, co_await p.template run<&bug::pause_checks>());
  std::printf("CHECKS %s\n", found.c_str());
  an.cancel();
  co_return tractor::success();
}

template <class Tree>
int run_scenario(const std::string& which) {
  ::setenv(tractor::testing::tree_env, tractor::testing::tree_key<Tree>().c_str(), 1);  // for exec children
  tractor::result<void> outcome = tractor::success();
  char arg0[] = "debug_test";
  char* argv[] = {arg0, nullptr};
  tractor::root_options opts;
  opts.debug_mode = true;
  const int code = tractor::run_main<Tree>(1, argv, opts, [&](tractor::root<Tree>& r) -> tractor::task<void> {
    outcome = co_await r.open_nursery([&](tractor::actor_nursery<Tree>& an) -> tractor::task<void> {
      if (which == "pause") co_return co_await pause_in_child(an);
      if (which == "rules") co_return co_await pause_rules(an);
      if (which == "override") co_return co_await failure_with_debug_off(an);
      co_return co_await two_failures(an);
    });
    co_return tractor::success();
  });
  std::printf("RESULT %d %s\n", code, outcome ? "ok" : outcome.error().message().c_str());
  return 0;
}

int run_scenario_for(const std::string& backend, const std::string& which) {
  if (backend == "exec") return run_scenario<tree_of<exec>>(which);
  if (backend == "forkserver") return run_scenario<tree_of<forkserver>>(which);
  return run_scenario<tree_of<thread>>(which);
}

// -- the user's side ---------------------------------------------------------------------------

using debug_tests::terminal_session;

const char* const prompt = "[tractor debug] c: continue";

template <class Tree>
class debug_test : public tractor::testing::tree_test<Tree> {
 protected:
  static std::string backend() { return std::string(Tree::spawn_type::name); }
};
TYPED_TEST_SUITE(debug_test, trees::types, tractor::testing::tree_names);

TYPED_TEST(debug_test, two_failing_children_stop_in_turn_and_both_errors_reach_the_root) {
  terminal_session term(this->backend(), "two");
  ASSERT_TRUE(term.started());
  ASSERT_TRUE(term.wait_for(prompt)) << term.output();
  // One stopped with the terminal; the other waits for it.
  EXPECT_EQ(term.count("stopped ===="), 1) << term.output();
  const bool alice_first = term.output().find("tractor debug mode: alice") != std::string::npos;
  const std::string first = alice_first ? "alice" : "bob";
  const std::string second = alice_first ? "bob" : "alice";
  EXPECT_NE(term.output().find("boom: " + first), std::string::npos) << term.output();
  EXPECT_NE(term.output().find("-- its native stack --"), std::string::npos) << term.output();
  EXPECT_NE(term.output().find("-- its tasks --"), std::string::npos) << term.output();
  term.type("r\n");  // the report again
  ASSERT_TRUE(term.wait_for("tractor debug mode: " + first, 2)) << term.output();
  term.type("c\n");
  ASSERT_TRUE(term.wait_for("tractor debug mode: " + second)) << term.output();
  ASSERT_TRUE(term.wait_for(prompt, 3)) << term.output();
  EXPECT_NE(term.output().find("boom: " + second), std::string::npos) << term.output();
  term.type("c\n");
  ASSERT_TRUE(term.wait_for("RESULT ")) << term.output();
  const int status = term.finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // Both errors reached the root's nursery, as without debug mode.
  const std::size_t result = term.output().find("RESULT ");
  const std::string tail = term.output().substr(result);
  EXPECT_NE(tail.find("boom: alice"), std::string::npos) << tail;
  EXPECT_NE(tail.find("boom: bob"), std::string::npos) << tail;
}

TYPED_TEST(debug_test, the_lock_holder_killed_releases_the_lock) {
  if (auto why = tractor::testing::skip_on_backend<TypeParam, thread>("a thread actor cannot be killed alone")) {
    GTEST_SKIP() << *why;
  }
  terminal_session term(this->backend(), "two");
  ASSERT_TRUE(term.started());
  ASSERT_TRUE(term.wait_for(prompt)) << term.output();
  const bool alice_first = term.output().find("tractor debug mode: alice") != std::string::npos;
  const pid_t holder = term.reported_pid(alice_first ? "alice" : "bob");
  ASSERT_GT(holder, 0) << term.output();
  ASSERT_EQ(::kill(holder, SIGKILL), 0);
  ASSERT_TRUE(term.wait_for("tractor debug mode: " + std::string(alice_first ? "bob" : "alice"))) << term.output();
  ASSERT_TRUE(term.wait_for(prompt, 2)) << term.output();
  term.type("c\n");
  ASSERT_TRUE(term.wait_for("RESULT ")) << term.output();
  const int status = term.finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TYPED_TEST(debug_test, a_paused_child_stays_while_its_parent_is_cancelled_until_continued) {
  terminal_session term(this->backend(), "pause");
  ASSERT_TRUE(term.started());
  ASSERT_TRUE(term.wait_for(prompt)) << term.output();
  EXPECT_NE(term.output().find("tractor::pause()"), std::string::npos) << term.output();
  // Ctrl-C at the prompt is a key, not a cancellation of the tree.
  term.type("\x03r\n");
  ASSERT_TRUE(term.wait_for("tractor debug mode: pauser", 2)) << term.output();
  ASSERT_TRUE(term.wait_for(prompt, 2)) << term.output();
  EXPECT_EQ(term.count("signal 2"), 0) << term.output();
  // A SIGINT sent to the root itself is not a cancellation either while someone is stopped.
  ASSERT_EQ(::kill(term.pid(), SIGINT), 0);
  ASSERT_TRUE(term.wait_for("SIGINT ignored: in debug mode")) << term.output();
  // The root is cancelled: it waits for the paused child before it cancels anything.
  ASSERT_EQ(::kill(term.pid(), SIGTERM), 0);
  ASSERT_TRUE(term.wait_for("waiting for any stopped actor before cancelling this actor")) << term.output();
  const pid_t child = term.reported_pid("pauser");
  ASSERT_GT(child, 0) << term.output();
  EXPECT_EQ(::kill(child, 0), 0) << "the paused child is gone";
  EXPECT_EQ(term.count("signal 15: cancelling this actor"), 0) << term.output();
  term.type("c\n");
  ASSERT_TRUE(term.wait_for("signal 15: cancelling this actor")) << term.output();
  if (this->backend() != "thread") {
    // (A thread actor shares the process's SIGTERM, and ends of it once it goes on.)
    ASSERT_TRUE(term.wait_for("nobody is stopped; cancelling pauser")) << term.output();
  }
  ASSERT_TRUE(term.wait_for("RESULT ")) << term.output();
  EXPECT_EQ(term.count("ANSWER"), 0) << term.output();  // its caller was cancelled
  const int status = term.finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TYPED_TEST(debug_test, the_debugger_command_runs_on_the_terminal_for_the_stopped_actor) {
  terminal_session term(this->backend(), "pause", "echo debugger attached to {pid}; read answer");
  ASSERT_TRUE(term.started());
  ASSERT_TRUE(term.wait_for("debugger attached to ")) << term.output();
  const pid_t stopped = term.reported_pid("pauser");
  EXPECT_NE(term.output().find("debugger attached to " + std::to_string(stopped)), std::string::npos) << term.output();
  term.type("quit\n");  // the debugger ends: the actor goes on
  ASSERT_TRUE(term.wait_for("ANSWER 7")) << term.output();
  ASSERT_TRUE(term.wait_for("RESULT 0 ok")) << term.output();
  EXPECT_EQ(WEXITSTATUS(term.finish()), 0);
}

TYPED_TEST(debug_test, gdb_attaches_to_the_stopped_actor_and_ctrl_c_goes_to_gdb) {
  if (std::system("command -v gdb > /dev/null 2>&1") != 0) GTEST_SKIP() << "gdb is not installed";
  // What a user would configure, made quiet and non-interactive where gdb would ask (no
  // debuginfod download question, no pager, no confirmation at detach).
  terminal_session term(this->backend(), "pause",
                        "gdb -q -nx -iex 'set debuginfod enabled off' -iex 'set pagination off' "
                        "-iex 'set confirm off' -p {pid}");
  ASSERT_TRUE(term.started());
  ASSERT_TRUE(term.wait_for("(gdb) ")) << term.output();
  const pid_t stopped = term.reported_pid("pauser");
  ASSERT_GT(stopped, 0) << term.output();
  term.type("info proc\n");
  ASSERT_TRUE(term.wait_for("process " + std::to_string(stopped))) << term.output();
  ASSERT_TRUE(term.wait_for("(gdb) ", 2)) << term.output();
  term.type("thread apply all bt\n");
  ASSERT_TRUE(term.wait_for("(gdb) ", 3)) << term.output();
  EXPECT_NE(term.output().find("tractor::"), std::string::npos) << term.output();  // our frames, by name
  // The stopped actor runs under gdb; Ctrl-C stops it in gdb and cancels nothing.
  term.type("continue\n");
  ASSERT_TRUE(term.wait_for("Continuing.")) << term.output();
  term.type("\x03");
  ASSERT_TRUE(term.wait_for("received signal SIGINT")) << term.output();
  ASSERT_TRUE(term.wait_for("(gdb) ", 4)) << term.output();
  EXPECT_EQ(term.count("signal 2:"), 0) << term.output();
  EXPECT_EQ(::kill(stopped, 0), 0) << "the stopped actor is gone";
  term.type("detach\nquit\n");  // the debugger ends: the actor goes on
  ASSERT_TRUE(term.wait_for("ANSWER 7")) << term.output();
  ASSERT_TRUE(term.wait_for("RESULT 0 ok")) << term.output();
  EXPECT_EQ(WEXITSTATUS(term.finish()), 0);
}

TYPED_TEST(debug_test, a_debugger_command_that_cannot_start_is_reported_and_the_actor_goes_on) {
  terminal_session term(this->backend(), "pause", "no-such-debugger-here -p {pid}");
  ASSERT_TRUE(term.started());
  ASSERT_TRUE(term.wait_for("RESULT 0 ok")) << term.output();
  EXPECT_NE(term.output().find("the debugger command 'no-such-debugger-here -p "), std::string::npos) << term.output();
  EXPECT_NE(term.output().find("was not found; continuing"), std::string::npos) << term.output();
  EXPECT_NE(term.output().find("ANSWER 7"), std::string::npos) << term.output();
  EXPECT_EQ(WEXITSTATUS(term.finish()), 0);
}

/// This program run as `scenario` without a terminal (setsid), its output a pipe: what it
/// wrote, and its exit status.
std::pair<std::string, int> run_without_terminal(const std::string& backend, const std::string& scenario) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe");
  const std::string cmd = "TRACTOR_DEBUG_TEST_SCENARIO=" + scenario + " TRACTOR_DEBUG_TEST_BACKEND=" + backend +
                          " setsid '" + self + "' 2>&1 < /dev/null";
  std::FILE* out = ::popen(cmd.c_str(), "r");
  if (!out) return {"popen failed", -1};
  std::string text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, out)) > 0;) text.append(buf, n);
  return {text, ::pclose(out)};
}

TYPED_TEST(debug_test, pause_stops_a_cancelled_scope_only_shielded_and_refuses_a_second_pause) {
  const auto [text, status] = run_without_terminal(this->backend(), "rules");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_NE(text.find("CHECKS shielded-ok;unshielded-refused: tractor::pause() in a cancelled scope: not stopping;"
                      "scope-cancelled;second-refused: tractor::pause(): a task of this actor is already stopped;"),
            std::string::npos)
      << text;
  // Stopped twice: the shielded pause and the first of the two at once.
  int stops = 0;
  for (std::size_t at = text.find("checker@"); at != std::string::npos; at = text.find("checker@", at + 1)) {
    if (text.compare(at - 20, 20, "tractor debug mode: ") == 0) ++stops;
  }
  EXPECT_EQ(stops, 2) << text;
}

TYPED_TEST(debug_test, a_child_started_with_debug_mode_off_does_not_stop) {
  const auto [text, status] = run_without_terminal(this->backend(), "override");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(text.find("tractor debug mode: quiet"), std::string::npos) << text;
  const std::size_t result = text.find("RESULT ");
  ASSERT_NE(result, std::string::npos) << text;
  EXPECT_NE(text.find("boom: quiet", result), std::string::npos) << text;
}

TYPED_TEST(debug_test, a_cancel_request_to_the_root_waits_for_the_stopped_child) {
  terminal_session term(this->backend(), "pause");
  ASSERT_TRUE(term.started());
  ASSERT_TRUE(term.wait_for(prompt)) << term.output();
  // Another program asks the root (its tree's registrar) to cancel itself.
  char arg0[] = "canceller";
  char* argv[] = {arg0, nullptr};
  tractor::root_options opts;
  opts.name = "canceller";
  const int code = tractor::run_main<TypeParam>(1, argv, opts, [&](tractor::root<TypeParam>&) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto reg, co_await tractor::get_registry<TypeParam>());
    (void)co_await reg.cancel_actor();  // not acknowledged yet: the root waits for the user
    co_return tractor::success();
  });
  EXPECT_EQ(code, 0);
  ASSERT_TRUE(term.wait_for("debug mode: waiting for any stopped actor before cancelling this actor")) << term.output();
  const pid_t child = term.reported_pid("pauser");
  ASSERT_GT(child, 0) << term.output();
  EXPECT_EQ(::kill(child, 0), 0) << "the paused child is gone";
  term.type("c\n");
  ASSERT_TRUE(term.wait_for("RESULT ")) << term.output();
  const int status = term.finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TYPED_TEST(debug_test, without_a_terminal_the_report_is_printed_and_nobody_waits) {
  // Not a terminal: setsid leaves the program without one, its output a pipe.
  const auto [text, status] = run_without_terminal(this->backend(), "two");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(text.find(prompt), std::string::npos) << text;
  EXPECT_EQ(static_cast<int>(text.find("no terminal, so not stopping") != std::string::npos), 1) << text;
  const std::size_t result = text.find("RESULT ");
  ASSERT_NE(result, std::string::npos) << text;
  EXPECT_NE(text.find("boom: alice", result), std::string::npos) << text;
  EXPECT_NE(text.find("boom: bob", result), std::string::npos) << text;
}

}  // namespace

int main(int argc, char** argv) {
  const char* scenario = std::getenv("TRACTOR_DEBUG_TEST_SCENARIO");
  if (scenario && !tractor::runtime::is_child_process()) {
    return run_scenario_for(std::getenv("TRACTOR_DEBUG_TEST_BACKEND"), scenario);
  }
  return tractor::testing::run_tests<trees>(argc, argv);
}
