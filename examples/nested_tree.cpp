// A nested tree: the root starts two team leads; each lead opens its own actor nursery and
// runs one-shot workers in grandchild processes. One worker fails: its error reaches the
// root as a value naming the worker it came from and the lead it was relayed through, and
// every process of the tree is reaped. Under the forkserver backend: the leads' workers are
// forked by the same server as the leads (no grown process is ever forked).
//
//     tools/bazel run //examples:nested_tree
//     g++ -std=c++20 -DSPDLOG_COMPILED_LIB -I include examples/nested_tree.cpp tools/forkserver/forkserver.cc -lspdlog -lfmt
#include <tractor/runtime/tree.hpp>
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/spawn/forkserver.hpp>
#include <tractor/transport/uds.hpp>

#include <fmt/core.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <unistd.h>

// Every actor prints to the same terminal: flush at once, so lines appear in order.
template <class... Args>
void say(fmt::format_string<Args...> f, Args&&... args) {
  fmt::print(f, std::forward<Args>(args)...);
  std::fflush(stdout);
}

namespace team {
tractor::awaitable<int> square(int x) {
  if (x < 0) throw std::invalid_argument("cannot square a negative input: " + std::to_string(x));
  co_return x * x;
}
// Defined once the tree exists: opens a nursery of workers in this (child) actor.
tractor::task<int> lead(std::string team, int first, int last);
}  // namespace team

using tree = tractor::tree<tractor::spawn::forkserver, tractor::transport::uds,
                           tractor::codec::cereal_binary,
                           tractor::exposed<&team::square, &team::lead>>;
using lead_api = tractor::interface<&team::lead>;

tractor::task<int> team::lead(std::string team, int first, int last) {
  int sum = 0;
  auto r = co_await tractor::open_actor_nursery<tree>([&](tractor::actor_nursery<tree>& an) -> tractor::task<void> {
    std::vector<tractor::one_shot<tree, &team::square>> workers;
    for (int i = first; i <= last; ++i) {
      std::string name = team + "-worker" + std::to_string(i - first);
      BOOST_OUTCOME_CO_TRY(auto w, co_await an.run_in_actor<&team::square>(std::move(name), i));
      workers.push_back(std::move(w));
    }
    for (auto& w : workers) {
      BOOST_OUTCOME_CO_TRY(int v, co_await w.wait_for_result());
      sum += v;
    }
    co_return tractor::success();
  });
  if (!r) co_return r.error();
  say("{} (pid {}): squares of {}..{} from {} worker processes sum to {}\n", team, ::getpid(),
      first, last, last - first + 1, sum);
  co_return sum;
}

tractor::task<void> root_body(tractor::actor_nursery<tree>& an) {
  say("root (pid {}): starting two team leads\n", ::getpid());
  BOOST_OUTCOME_CO_TRY(auto a, co_await an.start_actor<lead_api>("team-a"));
  BOOST_OUTCOME_CO_TRY(auto b, co_await an.start_actor<lead_api>("team-b"));

  BOOST_OUTCOME_CO_TRY(int sum, co_await a.run<&team::lead>("team-a", 1, 3));
  say("root: team-a answered {}\n", sum);

  auto failed = co_await b.run<&team::lead>("team-b", -1, 1);  // one worker fails
  if (!failed) {
    std::string path;
    for (const auto& hop : tractor::relay_path_of(failed.error())) path += (path.empty() ? "" : " -> ") + hop;
    say("root: team-b failed: {} ({} raised in {}, relayed through {})\n", failed.error().message(),
        failed.error().type_name(), tractor::source_of(failed.error()), path);
  }
  an.cancel();  // both leads (and anything they still run) are cancelled and reaped
  co_return tractor::success();
}

// --(doc-forkserver-main-begin)--
int main(int argc, char** argv) {
  (void)tractor::spawn::forkserver::start_server();  // first thing: small, one thread
  return tractor::run_main<tree>(argc, argv, root_body);
}
// --(doc-forkserver-main-end)--
