// The quickstart: a root process spawns two child actor processes, calls typed functions in
// them, gets a failure back as a value, and tears everything down — no process left behind.
//
//     tools/bazel run //examples:quickstart
//     g++ -std=c++20 -I include examples/quickstart.cpp -lfmt  # no Bazel
#include <tractor/runtime/tree.hpp>
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/transport/uds.hpp>

#include <fmt/core.h>

#include <stdexcept>
#include <string>
#include <unistd.h>

// --(doc-quickstart-begin)--
namespace math {
tractor::awaitable<int> add(int a, int b) { co_return a + b; }
tractor::awaitable<std::string> whoami() { co_return "pid " + std::to_string(::getpid()); }
tractor::awaitable<int> divide(int a, int b) {
  if (b == 0) throw std::domain_error("division by zero");
  co_return a / b;
}
}  // namespace math

using tree = tractor::tree<tractor::spawn::exec, tractor::transport::uds, tractor::codec::cereal_binary,
                           tractor::exposed<&math::add, &math::whoami, &math::divide>>;
using math_api = tractor::interface<&math::add, &math::whoami, &math::divide>;

int main(int argc, char** argv) {
  return tractor::run_main<tree>(argc, argv, [](tractor::actor_nursery<tree>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto alice, co_await an.start_actor<math_api>("alice"));  // a child process
    BOOST_OUTCOME_CO_TRY(auto bob, co_await an.start_actor<math_api>("bob"));
    BOOST_OUTCOME_CO_TRY(auto where, co_await alice.run<&math::whoami>());
    fmt::print("alice: {} (root: pid {})\n", where, ::getpid());
    BOOST_OUTCOME_CO_TRY(int sum, co_await bob.run<&math::add>(40, 2));  // checked against add
    fmt::print("bob: 40 + 2 = {}\n", sum);
    auto bad = co_await bob.run<&math::divide>(1, 0);  // thrown in bob, a value here
    if (!bad) fmt::print("bob failed: {} ({}, from {})\n", bad.error().message(), bad.error().type_name(),
                         tractor::source_of(bad.error()));
    const bool acked = co_await alice.cancel_actor();
    fmt::print("alice cancelled: {}\n", acked ? "acknowledged" : "not acknowledged");
    an.cancel();  // bob too; run_main returns once both processes are reaped
    co_return tractor::success();
  });
}
// --(doc-quickstart-end)--
