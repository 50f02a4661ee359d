// A thousand actors in one nursery, under every spawn backend (UDS): started from a thousand
// tasks at once, each called once, then the nursery cancelled. Every one must answer, with
// its own value, and the fixture fails the test for any process, thread actor or listener
// left behind. Not timed: tools/bench/scale_bench measures the same run.
#include <tractor/testing.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>

namespace crowd {
/// Which member this is, times two (so an answer from the wrong actor or a default shows).
tractor::awaitable<int> twice(int i) { co_return 2 * i; }
}  // namespace crowd

namespace {

using fns = tractor::exposed<&crowd::twice>;
using namespace tractor::spawn;
using tractor::transport::uds;
using thread_tree = tractor::tree<thread, uds, tractor::codec::cereal_binary, fns>;
using trees = tractor::testing::tree_list<tractor::tree<exec, uds, tractor::codec::cereal_binary, fns>,
                                          tractor::tree<forkserver, uds, tractor::codec::cereal_binary, fns>, thread_tree>;

/// TRACTOR_SCALE_ACTORS, else 1,000.
int crowd_size() {
  const char* n = std::getenv("TRACTOR_SCALE_ACTORS");
  return n ? std::atoi(n) : 1000;
}

template <class Tree>
class scale_test : public tractor::testing::tree_test<Tree> {};
TYPED_TEST_SUITE(scale_test, trees::types, tractor::testing::tree_names);

TYPED_TEST(scale_test, a_thousand_actors_start_answer_and_go) {
  using tree = TypeParam;
  const int n = crowd_size();
  std::vector<std::optional<int>> answers(static_cast<std::size_t>(n));
  std::optional<tractor::error> failed;
  char arg0[] = "scale_test";
  char* argv[] = {arg0, nullptr};
  const int code = tractor::run_main<tree>(1, argv, [&](tractor::actor_nursery<tree>& an) -> tractor::task<void> {
    const tractor::actor_options members{.enable_modules = {"crowd"}};
    std::vector<std::optional<tractor::portal<tree>>> portals(static_cast<std::size_t>(n));
    BOOST_OUTCOME_CO_TRYV(co_await tractor::open_nursery([&](tractor::nursery& starts) -> tractor::task<void> {
      for (int i = 0; i < n; ++i) {
        starts.start_soon([&, i]() -> tractor::task<void> {
          BOOST_OUTCOME_CO_TRY(auto p, co_await an.start_actor("m" + std::to_string(i), members));
          portals[static_cast<std::size_t>(i)] = std::move(p);
          co_return tractor::success();
        });
      }
      co_return tractor::success();
    }));
    BOOST_OUTCOME_CO_TRYV(co_await tractor::open_nursery([&](tractor::nursery& calls) -> tractor::task<void> {
      for (int i = 0; i < n; ++i) {
        calls.start_soon([&, i]() -> tractor::task<void> {
          BOOST_OUTCOME_CO_TRY(auto v, co_await portals[static_cast<std::size_t>(i)]->template run<&crowd::twice>(i));
          answers[static_cast<std::size_t>(i)] = v;
          co_return tractor::success();
        });
      }
      co_return tractor::success();
    }));
    an.cancel();
    co_return tractor::success();
  });
  EXPECT_EQ(code, 0);
  int answered = 0;
  for (int i = 0; i < n; ++i) {
    const auto& a = answers[static_cast<std::size_t>(i)];
    if (a && *a == 2 * i) {
      ++answered;
    } else if (answered == i) {  // the first one wrong or missing, not a thousand lines
      ADD_FAILURE() << "member m" << i << (a ? " answered " + std::to_string(*a) : std::string(" did not answer"));
    }
  }
  EXPECT_EQ(answered, n);
}

/// What `out_of_descriptors_says_which_limit_and_how_to_raise_it` runs, in a process of its
/// own (this program again): with a hard limit of 64 descriptors, starts thread actors
/// (several descriptors each) until one cannot start, then cancels the rest. Prints the
/// root's exit code, how many started, and the error.
int start_until_out_of_descriptors() {
  const rlimit low{64, 64};
  if (::setrlimit(RLIMIT_NOFILE, &low) != 0) return 3;
  std::string why;
  int started = 0;
  char arg0[] = "scale_test";
  char* argv[] = {arg0, nullptr};
  const int code = tractor::run_main<thread_tree>(1, argv, [&](tractor::actor_nursery<thread_tree>& an) -> tractor::task<void> {
    for (int i = 0; i < 64; ++i) {
      auto p = co_await an.start_actor("m" + std::to_string(i));
      if (!p) {
        why = p.error().message();
        break;
      }
      ++started;
    }
    an.cancel();
    co_return tractor::success();
  });
  std::printf("%d %d %s", code, started, why.c_str());
  return 0;
}

// Out of descriptors: the failure to start a child names the limit and how to raise it, the
// children that did start are torn down, and the program carries on to its end.
TEST(scale_limits_test, out_of_descriptors_says_which_limit_and_how_to_raise_it) {
  if (std::getenv("TRACTOR_TEST_UBSAN")) {
    // UBSan's vptr check reads a vtable through a pipe it makes (the sanitizer's
    // IsAccessibleMemoryRange); with every descriptor in use that fails, and it reports a
    // valid object as one with an invalid vptr, which no suppression can silence.
    GTEST_SKIP() << "cannot run out of descriptors under UBSan's vptr check";
  }
  const std::string self = std::filesystem::read_symlink("/proc/self/exe");
  std::FILE* out = ::popen(("TRACTOR_SCALE_TEST_LOW_LIMIT=1 '" + self + "'").c_str(), "r");
  ASSERT_NE(out, nullptr);
  std::string report;
  char buf[512];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, out)) > 0;) report.append(buf, n);
  const int status = ::pclose(out);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the program did not carry on: status " << status;
  EXPECT_EQ(report.rfind("0 ", 0), 0u) << "the root failed: " << report;
  // Whichever runs out first, the parent's socketpair for the child or (a thread actor shares
  // this process's descriptors) the child's listener, the error names the actor and the limit.
  EXPECT_NE(report.find("actor 'm"), std::string::npos) << report;
  EXPECT_NE(report.find("limit of 64 open descriptors (RLIMIT_NOFILE"), std::string::npos) << report;
  EXPECT_NE(report.find("ulimit -Hn"), std::string::npos) << report;
}

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("TRACTOR_SCALE_TEST_LOW_LIMIT")) return start_until_out_of_descriptors();
  // As most systems start programs (soft 1,024, hard much higher): a thousand actors must not
  // need the user to raise the soft limit.
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_max > 1024) {
    lim.rlim_cur = 1024;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  return tractor::testing::run_tests<trees>(argc, argv);
}
