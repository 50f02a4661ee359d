// The testing library's fixture, shown failing tests: each `inner` test below misbehaves on
// purpose and is run by an outer test in a program of its own (this binary again, filtered to
// it), which checks that the fixture failed it, said why, and cleaned up after it.
#include <tractor/testing.hpp>

#include "tests/support/subprocess.hpp"

#include <gtest/gtest.h>

#include <fmt/core.h>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <csignal>
#include <map>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace stuck {
// Leaves a process of its own running (tests/support's fork_a_leak): a leak.
tractor::awaitable<int> start_helper() { co_return tractor::testing::fork_a_leak(); }
tractor::awaitable<int> sleep_forever() {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::hours(1));
  co_await t.async_wait(boost::asio::use_awaitable);
  co_return 0;
}
}  // namespace stuck

namespace {

using namespace std::chrono_literals;
using tree = tractor::tree<tractor::spawn::exec, tractor::transport::uds, tractor::codec::cereal_binary,
                           tractor::exposed<&stuck::start_helper, &stuck::sleep_forever>>;
using trees = tractor::testing::tree_list<tree>;

bool inner() { return std::getenv("FIXTURE_TEST_INNER") != nullptr; }

class inner_test : public tractor::testing::tree_test<tree> {
 protected:
  inner_test() : tree_test(tractor::testing::fixture_options{.settle = 500ms, .grace = 200ms}) {}
};

// A child actor starts a process of its own and never stops it: when the tree has ended,
// that process is still running (reparented to this process, the subreaper).
TEST_F(inner_test, leaks_a_process) {
  if (!inner()) GTEST_SKIP() << "run by fixture.fails_a_test_that_leaks_a_process";
  char arg0[] = "leaky_root";
  char* argv[] = {arg0, nullptr};
  int helper = 0;
  const int code = tractor::run_main<tree>(1, argv, [&](tractor::actor_nursery<tree>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto leaky, co_await an.start_actor<tractor::interface<&stuck::start_helper>>("leaky"));
    BOOST_OUTCOME_CO_TRY(helper, co_await leaky.run<&stuck::start_helper>());
    an.cancel();
    co_return tractor::success();
  });
  EXPECT_EQ(code, 0);
  std::printf("helper: pid %d\n", helper);
}

// A root whose body waits forever, with a child: the hang guard must end it.
TEST_F(inner_test, hangs) {
  if (!inner()) GTEST_SKIP() << "run by fixture.ends_a_hung_test_with_its_task_dump";
  char arg0[] = "hung_root";
  char* argv[] = {arg0, nullptr};
  const int code = tractor::run_main<tree>(1, argv, [](tractor::actor_nursery<tree>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto s, co_await an.run_in_actor<&stuck::sleep_forever>("sleeper"));
    (void)s;
    co_await stuck::sleep_forever();
    co_return tractor::success();
  });
  std::printf("hung root ended with %d\n", code);
}

using fixture = tractor::testing::actor_fixture;

// Runs one inner test in a program of its own; its exit status and its output.
std::pair<int, std::string> run_inner(const std::string& test, std::map<std::string, std::string> env = {}) {
  env["FIXTURE_TEST_INNER"] = "1";
  tractor::testing::subprocess p(env, {"--gtest_filter=inner_test." + test});
  const auto status = p.finish(60s);
  const int code = status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
  return {code, p.out() + p.err()};
}

TEST_F(fixture, fails_a_test_that_leaks_a_process) {
  const auto [code, out] = run_inner("leaks_a_process");
  EXPECT_EQ(code, 1) << out;
  const auto at = out.find("helper: pid ");
  ASSERT_NE(at, std::string::npos) << out;
  const pid_t helper = std::atoi(out.c_str() + at + 12);
  EXPECT_NE(out.find(fmt::format("leaked process {} `_subactor[leaky@", helper)), std::string::npos) << out;
  EXPECT_NE(out.find("(stopped by SIGKILL)"), std::string::npos) << out;
  EXPECT_NE(out.find("[  FAILED  ] inner_test.leaks_a_process"), std::string::npos) << out;
  // Stopped by the inner program's fixture (had it survived, this process, the subreaper,
  // would now hold it, and this test's own teardown would report it).
  EXPECT_NE(::kill(helper, 0), 0);
}

TEST_F(fixture, ends_a_hung_test_with_its_task_dump) {
  const auto [code, out] = run_inner("hangs", {{"TRACTOR_TEST_DEADLINE", "1"}});
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("the test passed its deadline of 1000 ms; its task dump:"), std::string::npos) << out;
  EXPECT_NE(out.find("=== actor root@"), std::string::npos) << out;
  EXPECT_NE(out.find("=== actor sleeper@"), std::string::npos) << "the child's dump too:\n" << out;
  // The guard cancelled the tree as Ctrl-C would: the root ended, reaping its child.
  EXPECT_NE(out.find("hung root ended with 130"), std::string::npos) << out;
  EXPECT_EQ(out.find("leaked"), std::string::npos) << out;
}

TEST_F(fixture, gives_each_test_a_runtime_directory_of_its_own) {
  const char* dir = std::getenv("XDG_RUNTIME_DIR");
  ASSERT_NE(dir, nullptr);
  EXPECT_EQ(std::string(dir), runtime_dir());
  EXPECT_EQ(runtime_dir().rfind(tractor::testing::program_runtime_dir() + "/", 0), 0u) << runtime_dir();
  const char* registry = std::getenv("TRACTOR_REGISTRY_ADDRS");
  ASSERT_NE(registry, nullptr);
  EXPECT_NE(std::string(registry).find(uds_prefix() + "/registry@"), std::string::npos) << registry;
  EXPECT_EQ(parent_pid(), ::getpid());
}

}  // namespace

int main(int argc, char** argv) { return tractor::testing::run_tests<trees>(argc, argv); }
