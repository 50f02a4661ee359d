// tractor/testing/matrix.hpp — one test body under every spawn backend × transport (tractor's
// `--spawn-backend` and `--tpt-proto` options, all at once), and a test program's main.
//
//     namespace math { tractor::awaitable<int> add(int a, int b) { co_return a + b; } }
//     using trees = tractor::testing::matrix<tractor::exposed<&math::add>>;
//
//     template <class Tree> class math_test : public tractor::testing::tree_test<Tree> {};
//     TYPED_TEST_SUITE(math_test, trees::types, tractor::testing::tree_names);
//
//     TYPED_TEST(math_test, adds) {
//       if (auto why = tractor::testing::skip_on_backend<TypeParam, tractor::spawn::thread>("needs a pid"))
//         GTEST_SKIP() << *why;
//       EXPECT_EQ(tractor::run_main<TypeParam>(...), 0);
//     }
//
//     int main(int argc, char** argv) { return tractor::testing::run_tests<trees>(argc, argv); }
//
// The `exec` backend starts a child by running the test program again: `run_tests` is then the
// child's runtime, for the tree the test that spawned it runs (`tree_test` names it in the
// environment the child inherits).
#pragma once

#include <tractor/testing/fixture.hpp>

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/spawn/forkserver.hpp>
#include <tractor/spawn/thread.hpp>
#include <tractor/transport/tcp.hpp>
#include <tractor/transport/uds.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace tractor::testing {

/// Trees for a typed test suite (`types`) and for `run_tests`.
template <class... Trees>
struct tree_list {
  using types = ::testing::Types<Trees...>;
};

/// Every spawn backend (exec, forkserver, thread) × transport (uds, tcp), with `Codec`, for
/// the exposed functions `Exposed` and the error types `Errors`.
template <class Exposed, class Errors = errors<>, class Codec = codec::cereal_binary>
struct matrix : tree_list<tree<spawn::exec, transport::uds, Codec, Exposed, Errors>,
                          tree<spawn::exec, transport::tcp, Codec, Exposed, Errors>,
                          tree<spawn::forkserver, transport::uds, Codec, Exposed, Errors>,
                          tree<spawn::forkserver, transport::tcp, Codec, Exposed, Errors>,
                          tree<spawn::thread, transport::uds, Codec, Exposed, Errors>,
                          tree<spawn::thread, transport::tcp, Codec, Exposed, Errors>> {};

/// GoogleTest's name generator for a typed suite over trees: "exec_uds_cereal_binary", so a
/// failure says which policies it ran under.
struct tree_names {
  template <class Tree>
  static std::string GetName(int) {
    return std::string(Tree::spawn_type::name) + "_" + std::string(Tree::transport_type::name) + "_" +
           std::string(Tree::codec_type::name);
  }
};

/// The environment variable naming, to an `exec` child, the tree of the test that started it.
inline constexpr const char* tree_env = "TRACTOR_TEST_TREE";

/// `Tree`'s name in `tree_env`: unique among the trees of one program.
template <class Tree>
std::string tree_key();

/// `actor_fixture` for a typed test over trees: also names `Tree` to the `exec` children the
/// test starts.
template <class Tree>
class tree_test : public actor_fixture {
 protected:
  using actor_fixture::actor_fixture;
  void SetUp() override;
};

/// Why the current test is skipped, if `Tree` spawns with one of `Backends`; nothing
/// otherwise (tractor's `skipon_spawn_backend`):
///     if (auto why = skip_on_backend<TypeParam, spawn::thread>("needs a pid")) GTEST_SKIP() << *why;
template <class Tree, class... Backends>
std::optional<std::string> skip_on_backend(std::string_view reason);

/// A test program's main: in an `exec` child, the child runtime of its tree (one of `Lists`'
/// trees, each a `tree_list` or `matrix`); otherwise `init_test_program()`, GoogleTest with
/// `leak_check_environment`, and every test. Returns the exit code.
template <class... Lists>
int run_tests(int argc, char** argv);

}  // namespace tractor::testing

#include <tractor/testing/impl/matrix.hpp>
