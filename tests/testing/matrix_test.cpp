// A user's test of their own actors, written with <tractor/testing.hpp> alone: one body runs
// under every spawn backend × transport, each test in its own runtime directory with its own
// registrar, and a test that leaves anything behind fails. This file is also the example of
// README's "Testing your actors".
#include <tractor/testing.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include <unistd.h>

namespace shop {
tractor::awaitable<int> price(std::string item) {
  if (item == "unicorn") throw std::out_of_range("no price for " + item);
  co_return item == "apple" ? 3 : 5;
}
tractor::awaitable<int> pid() { co_return ::getpid(); }
tractor::awaitable<std::string> runtime_dir() {
  const char* dir = std::getenv("XDG_RUNTIME_DIR");
  co_return dir ? dir : "";
}
}  // namespace shop

namespace {

// Runs `body` as the root of a tree of `Tree`; returns run_main's exit code.
template <class Tree, class Body>
int run_root(Body body) {
  char arg0[] = "shop_test";
  char* argv[] = {arg0, nullptr};
  return tractor::run_main<Tree>(1, argv, std::move(body));
}

// --(doc-usage-begin)--
using trees = tractor::testing::matrix<tractor::exposed<&shop::price, &shop::pid, &shop::runtime_dir>>;
using shop_api = tractor::interface<&shop::price, &shop::pid, &shop::runtime_dir>;

template <class Tree>
class shop_test : public tractor::testing::tree_test<Tree> {};
TYPED_TEST_SUITE(shop_test, trees::types, tractor::testing::tree_names);

TYPED_TEST(shop_test, a_child_process_has_a_pid_of_its_own) {
  if (auto why = tractor::testing::skip_on_backend<TypeParam, tractor::spawn::thread>("thread actors share a pid")) {
    GTEST_SKIP() << *why;
  }
  int child_pid = 0;
  const int code = run_root<TypeParam>([&](tractor::actor_nursery<TypeParam>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto clerk, co_await an.template start_actor<shop_api>("clerk"));
    BOOST_OUTCOME_CO_TRY(child_pid, co_await clerk.template run<&shop::pid>());
    an.cancel();
    co_return tractor::success();
  });
  EXPECT_EQ(code, 0);
  EXPECT_NE(child_pid, this->parent_pid());
}
// --(doc-usage-end)--

TYPED_TEST(shop_test, a_clerk_answers_and_fails_as_a_value) {
  int apple = 0;
  std::string unicorn;
  std::string clerk_dir;
  const int code = run_root<TypeParam>([&](tractor::actor_nursery<TypeParam>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto clerk, co_await an.template start_actor<shop_api>("clerk"));
    BOOST_OUTCOME_CO_TRY(apple, co_await clerk.template run<&shop::price>(std::string("apple")));
    auto bad = co_await clerk.template run<&shop::price>(std::string("unicorn"));
    if (!bad) unicorn = bad.error().message();
    BOOST_OUTCOME_CO_TRY(clerk_dir, co_await clerk.template run<&shop::runtime_dir>());
    an.cancel();
    co_return tractor::success();
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(apple, 3);
  EXPECT_NE(unicorn.find("no price for unicorn"), std::string::npos) << unicorn;
  EXPECT_EQ(clerk_dir, this->runtime_dir()) << "the child runs in the test's own runtime directory";
}

TEST(skip_on_backend, names_the_backend_and_the_reason) {
  using thread_tree = tractor::tree<tractor::spawn::thread, tractor::transport::uds, tractor::codec::cereal_binary,
                                    tractor::exposed<&shop::pid>>;
  using exec_tree = tractor::tree<tractor::spawn::exec, tractor::transport::uds, tractor::codec::cereal_binary,
                                  tractor::exposed<&shop::pid>>;
  const auto skipped = tractor::testing::skip_on_backend<thread_tree, tractor::spawn::thread>("shares a pid");
  ASSERT_TRUE(skipped);
  EXPECT_EQ(*skipped, "skipped on spawn backend thread: shares a pid");
  EXPECT_FALSE((tractor::testing::skip_on_backend<exec_tree, tractor::spawn::thread, tractor::spawn::forkserver>("")));
  EXPECT_EQ(tractor::testing::tree_names::GetName<exec_tree>(0), "exec_uds_cereal_binary");
}

}  // namespace

int main(int argc, char** argv) { return tractor::testing::run_tests<trees>(argc, argv); }
