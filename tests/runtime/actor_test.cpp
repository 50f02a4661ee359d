// Real child processes: this binary is both the test runner and, re-run by the exec
// backend, every child actor (see main() at the bottom).
#include <tractor/runtime/tree.hpp>

#include "tests/support/reaper.hpp"

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/transport/tcp.hpp>
#include <tractor/transport/uds.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>

namespace math {
tractor::awaitable<int> add(int a, int b) { co_return a + b; }
tractor::awaitable<tractor::result<int>> checked_div(int a, int b) {
  if (b == 0) co_return tractor::errc::would_block;
  co_return a / b;
}
tractor::awaitable<std::string> explode(std::string why) {
  throw std::runtime_error(why);
  co_return "";
}
tractor::awaitable<std::string> cmdline() {
  std::ifstream in("/proc/self/cmdline");
  std::string s;
  std::getline(in, s, '\0');
  co_return s;
}
}  // namespace math
namespace secret {
tractor::awaitable<int> hidden() { co_return 42; }
}  // namespace secret

namespace {

using namespace tractor;
using fns = exposed<&math::add, &math::checked_div, &math::explode, &math::cmdline, &secret::hidden>;
using uds_tree = tree<spawn::exec_backend, transport::uds, codec::cereal_binary, fns>;
using tcp_tree = tree<spawn::exec_backend, transport::tcp, codec::cereal_binary, fns>;

// The policy matrix: one body, run under each tree. The child picks the same tree from the
// environment it inherits.
template <class Tree>
int run_tree(std::function<awaitable<result<void>>(actor_nursery<Tree>&)> body) {
  ::setenv("ACTOR_TEST_TREE", Tree::transport_type::name.data(), 1);
  char arg0[] = "actor_test";
  char* argv[] = {arg0, nullptr};
  return run_main<Tree>(1, argv, [&](root<Tree>& r) -> awaitable<result<void>> {
    co_return co_await r.open_nursery([&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
      co_return co_await body(an);
    });
  });
}

template <class Tree>
class actor_test : public ::testing::Test {
 protected:
  void TearDown() override {
    EXPECT_TRUE(tractor::testing::live_children().empty()) << "a child actor outlived its test";
  }
};
using trees = ::testing::Types<uds_tree, tcp_tree>;
TYPED_TEST_SUITE(actor_test, trees);

TYPED_TEST(actor_test, daemon_runs_typed_calls_and_is_cancelled) {
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    const actor_options math_only{.enable_modules = {"math"}};
    auto worker = co_await an.start_actor("worker", math_only);
    EXPECT_TRUE(worker) << worker.error().message();
    if (!worker) co_return worker.error();
    auto three = co_await worker.value().template run<&math::add>(1, 2);
    EXPECT_EQ(three.value(), 3);
    auto title = co_await worker.value().template run<&math::cmdline>();
    EXPECT_EQ(title.value().rfind("_subactor[worker@", 0), 0u) << title.value();
    EXPECT_TRUE(co_await worker.value().cancel_actor());
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

TYPED_TEST(actor_test, remote_failures_come_back_as_errors) {
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    const actor_options math_only{.enable_modules = {"math"}};
    auto w = co_await an.start_actor("failing", math_only);
    if (!w) co_return w.error();
    const std::string why = "kaboom";
    auto boom = co_await w.value().template run<&math::explode>(why);
    EXPECT_FALSE(boom);
    EXPECT_EQ(boom.error(), runtime_errc::remote_actor_error);
    EXPECT_EQ(boom.error().type_name(), "std::runtime_error");
    EXPECT_EQ(boom.error().message(), "kaboom");
    EXPECT_EQ(boom.error().source().substr(0, 8), "failing@");

    auto div = co_await w.value().template run<&math::checked_div>(1, 0);
    EXPECT_FALSE(div);
    EXPECT_EQ(div.error(), errc::would_block) << "tractor's own codes come back as themselves";

    auto hidden = co_await w.value().template run<&secret::hidden>();
    EXPECT_FALSE(hidden);
    EXPECT_EQ(hidden.error(), runtime_errc::module_not_exposed);

    auto fine = co_await w.value().template run<&math::checked_div>(9, 3);
    EXPECT_EQ(fine.value(), 3) << "the actor keeps serving after failed calls";
    EXPECT_TRUE(co_await w.value().cancel_actor());
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

TYPED_TEST(actor_test, nursery_cancel_reaps_every_idle_daemon) {
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    const actor_options math_only{.enable_modules = {"math"}};
    for (int i = 0; i < 3; ++i) {
      std::string name = "idle-" + std::to_string(i);
      auto w = co_await an.start_actor(name, math_only);
      if (!w) co_return w.error();
    }
    EXPECT_EQ(tractor::testing::live_children().size(), 3u);
    an.cancel();
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

TYPED_TEST(actor_test, a_child_dying_during_boot_is_an_actor_failure) {
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    auto w = co_await an.start_actor("die-at-boot");
    EXPECT_FALSE(w);
    if (!w) {
      EXPECT_EQ(w.error(), runtime_errc::actor_failure);
      EXPECT_NE(w.error().message().find("died during boot (exited with status 7)"), std::string::npos)
          << w.error().message();
    }
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

}  // namespace

int main(int argc, char** argv) {
  if (tractor::runtime::is_child_process()) {
    const std::string name = std::getenv(tractor::runtime::child_env::name);
    if (name == "die-at-boot") return 7;
    const std::string which = std::getenv("ACTOR_TEST_TREE") ? std::getenv("ACTOR_TEST_TREE") : "";
    return which == "tcp" ? tractor::runtime::child_main(tcp_tree::policies())
                          : tractor::runtime::child_main(uds_tree::policies());
  }
  tractor::testing::become_subreaper();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
