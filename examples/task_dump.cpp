// Task-tree dumps: a root with two children, one waiting forever on a channel receive, one
// asleep in a nested nursery. Once all are up it prints `ready`; then SIGUSR1 to the root
// prints what every task of the tree waits on, actor by actor (to stderr, to
// $TMPDIR/tractor-taskdump-<pid>.log and to the terminal). Ctrl-C ends it.
//
//     tools/bazel run //examples:task_dump &     # prints: ready (root pid 12345) ...
//     kill -USR1 12345
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/transport/uds.hpp>

#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <unistd.h>

namespace demo {
// Waits forever for a message nobody sends.
tractor::task<int> listen(tractor::context<int>& ctx) {
  BOOST_OUTCOME_CO_TRYV(co_await ctx.started(0));
  tractor::memory_channel<int> inbox(4, "inbox");  // named: dumps say which channel
  auto message = co_await inbox.receive();
  co_return message ? message.value() : -1;
}

// Sleeps for an hour in a nursery of its own.
tractor::task<int> doze(tractor::context<int>& ctx) {
  BOOST_OUTCOME_CO_TRYV(co_await ctx.started(0));
  BOOST_OUTCOME_CO_TRYV(co_await tractor::open_nursery([](tractor::nursery& n) -> tractor::awaitable<void> {
    n.start_soon("dozer", tractor::sleep_for(std::chrono::hours(1)));
    co_return;
  }));
  co_return 0;
}
}  // namespace demo

using tree = tractor::tree<tractor::spawn::exec, tractor::transport::uds, tractor::codec::cereal_binary,
                           tractor::exposed<&demo::listen, &demo::doze>>;
using demo_api = tractor::interface<&demo::listen, &demo::doze>;

int main(int argc, char** argv) {
  tractor::root_options options;
  options.enable_taskdump = true;  // or TRACTOR_ENABLE_TASKDUMP=1
  return tractor::run_main<tree>(argc, argv, options, [](tractor::actor_nursery<tree>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto listener, co_await an.start_actor<demo_api>("listener"));
    BOOST_OUTCOME_CO_TRY(auto sleeper, co_await an.start_actor<demo_api>("sleeper"));
    co_return co_await listener.open_context<&demo::listen>(
        [&](tractor::caller_context<&demo::listen>&, int) -> tractor::task<void> {
          co_return co_await sleeper.open_context<&demo::doze>(
              [](tractor::caller_context<&demo::doze>&, int) -> tractor::task<void> {
                fmt::print("ready (root pid {}): kill -USR1 {} dumps every task; Ctrl-C ends\n", ::getpid(), ::getpid());
                std::fflush(stdout);
                co_await tractor::sleep_for(std::chrono::hours(1));
                co_return tractor::success();
              });
        });
  });
}
