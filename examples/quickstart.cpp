// The quickstart: a root process spawns two child actor processes, calls typed functions in
// them, gets a failure back as a value, and tears everything down — no process left behind.
//
//     tools/bazel run //examples:quickstart
#include <tractor/runtime/tree.hpp>
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/transport/uds.hpp>

#include <fmt/core.h>

#include <stdexcept>
#include <unistd.h>

namespace math {
tractor::awaitable<int> add(int a, int b) { co_return a + b; }
tractor::awaitable<std::string> whoami() {
  co_return "pid " + std::to_string(::getpid()) + ", parent " + std::to_string(::getppid());
}
tractor::awaitable<int> divide(int a, int b) {
  if (b == 0) throw std::domain_error("division by zero");
  co_return a / b;
}
}  // namespace math

// --(doc-actor-tree-begin)--
using tree = tractor::tree<tractor::spawn::exec, tractor::transport::uds,
                           tractor::codec::cereal_binary,
                           tractor::exposed<&math::add, &math::whoami, &math::divide>>;

int main(int argc, char** argv) {
  return tractor::run_main<tree>(argc, argv, [](tractor::root<tree>& root)
                                                 -> tractor::awaitable<tractor::result<void>> {
    fmt::print("root: pid {}\n", ::getpid());
    co_return co_await root.open_nursery([&](tractor::actor_nursery<tree>& an)
                                             -> tractor::awaitable<tractor::result<void>> {
      const tractor::actor_options math_only{.enable_modules = {"math"}};
      auto alice = co_await an.start_actor("alice", math_only);
      if (!alice) co_return alice.error();
      auto bob = co_await an.start_actor("bob", math_only);
      if (!bob) co_return bob.error();

      auto where = co_await alice.value().run<&math::whoami>();
      if (!where) co_return where.error();
      fmt::print("alice: {}\n", where.value());
      auto sum = co_await bob.value().run<&math::add>(40, 2);
      if (!sum) co_return sum.error();
      fmt::print("bob: 40 + 2 = {}\n", sum.value());

      auto bad = co_await bob.value().run<&math::divide>(1, 0);  // thrown in bob, a value here
      if (!bad) {
        fmt::print("bob failed: {} ({}, from {})\n", bad.error().message(),
                   bad.error().type_name(), bad.error().source());
      }
      const bool acked = co_await alice.value().cancel_actor();
      fmt::print("alice cancelled: {}\n", acked ? "acknowledged" : "not acknowledged");
      an.cancel();  // bob too; the nursery returns once both processes are reaped
      co_return tractor::success();
    });
  });
}
// --(doc-actor-tree-end)--
