// The smallest tree: the README shows it beside the same program in Python tractor.
//
//     tools/bazel run //examples:hello
#include <tractor/runtime/tree.hpp>
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/transport/uds.hpp>

#include <fmt/core.h>

// --(doc-hello-begin)--
namespace math {
tractor::awaitable<int> add(int a, int b) { co_return a + b; }
}  // namespace math

using tree = tractor::tree<tractor::spawn::exec, tractor::transport::uds, tractor::codec::cereal_binary,
                           tractor::exposed<&math::add>>;

int main(int argc, char** argv) {
  return tractor::run_main<tree>(argc, argv, [](tractor::actor_nursery<tree>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto bob, co_await an.start_actor<tractor::interface<&math::add>>("bob"));
    BOOST_OUTCOME_CO_TRY(int sum, co_await bob.run<&math::add>(40, 2));
    fmt::print("{}\n", sum);
    an.cancel();
    co_return tractor::success();
  });
}
// --(doc-hello-end)--
