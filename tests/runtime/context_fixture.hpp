// The context tests' shared part: the context functions every child actor runs, the trees of
// the policy matrix (this binary's spawn backend x both transports) and the helpers that run
// a root with one child. Included by context_test.cpp and context_cancel_test.cpp, which make
// one binary.
#pragma once

#include <tractor/runtime/tree.hpp>

#include <tractor/runtime/broadcast.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/matrix.hpp"
#include "tests/support/matrix_tree.hpp"
#include "tests/support/registry.hpp"
#include "tests/support/reaper.hpp"

#include <tractor/codec/cereal_binary.hpp>

#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <numeric>
#include <set>
#include <stdexcept>

namespace ctxfn {
using tractor::awaitable;
using tractor::context;
using tractor::result;

inline awaitable<void> forever() {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::hours(1));
  co_await t.async_wait(boost::asio::use_awaitable);
}

// started(n), then n items 0..n-1, then returns n.
inline awaitable<result<int>> counter(context<int, int>& ctx, int n) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(n));
  auto s = ctx.open_stream();
  if (!s) co_return s.error();
  for (int i = 0; i < n; ++i) {
    BOOST_OUTCOME_CO_TRY(co_await s.value().send(i));
  }
  co_return n;
}

// Answers every item x with x + 1 until the caller closes its side; returns the count.
inline awaitable<result<int>> ping_pong(context<int, int>& ctx) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(0));
  auto s = ctx.open_stream();
  if (!s) co_return s.error();
  int n = 0;
  for (;;) {
    auto x = co_await s.value().receive();
    if (!x && x.error() == tractor::errc::end_of_channel) co_return n;
    if (!x) co_return x.error();
    BOOST_OUTCOME_CO_TRY(co_await s.value().send(x.value() + 1));
    ++n;
  }
}

// Opens its stream and closes it at once.
inline awaitable<result<int>> close_at_once(context<int, int>& ctx) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(0));
  auto s = ctx.open_stream();
  if (!s) co_return s.error();
  s.value().close();
  co_return 0;
}

// Echoes items with a stream of `buffer` items, but only once `release_echo` was called.
inline thread_local tractor::event echo_released;
inline awaitable<bool> release_echo() {
  echo_released.set();
  co_return true;
}
inline awaitable<result<int>> held_echo(context<int, int>& ctx, int buffer, bool allow_overruns) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(0));
  auto s = ctx.open_stream({.buffer = static_cast<std::size_t>(buffer), .allow_overruns = allow_overruns});
  if (!s) co_return s.error();
  co_await echo_released.wait();
  int n = 0;
  for (;;) {
    auto x = co_await s.value().receive();
    if (!x && x.error() == tractor::errc::end_of_channel) co_return n;
    if (!x) co_return x.error();
    BOOST_OUTCOME_CO_TRY(co_await s.value().send(x.value()));
    ++n;
  }
}

// Set when a task of this actor running `sleep_after_started` saw its cancellation.
inline thread_local tractor::event sleeper_cancelled;
inline awaitable<result<int>> sleep_after_started(context<int, int>& ctx) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(7));
  auto note = []() -> awaitable<void> {
    sleeper_cancelled.set();
    co_return;
  };
  co_await tractor::finally(forever(), note());
  co_return 0;
}
inline awaitable<bool> until_sleeper_cancelled() {
  co_await sleeper_cancelled.wait();
  co_return true;
}

inline awaitable<result<int>> fail_after_started(context<int, int>& ctx, std::string why) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(1));
  throw std::runtime_error(why);
}

inline awaitable<result<int>> fail_before_started(context<int, int>&, std::string why) {
  throw std::runtime_error(why);
  co_return 0;
}

inline awaitable<result<int>> started_twice(context<int, int>& ctx) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(1));
  (void)co_await ctx.started(2);  // ignored here: the runtime still reports it
  co_return 0;
}

inline awaitable<result<int>> stream_before_started(context<int, int>& ctx) {
  auto s = ctx.open_stream();
  if (!s) co_return s.error();
  co_return 0;
}

inline awaitable<result<int>> cancel_itself(context<int, int>& ctx) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(1));
  ctx.cancel();
  co_await forever();
  co_return 0;
}

// Two versions of one wire name, as when caller and callee were built from different
// declarations: the caller uses the first overload of each, the callee runs the second
// (the dispatch table takes the last entry of a name).
inline awaitable<result<int>> typed_started(context<int, int>&) { co_return 0; }
inline awaitable<result<int>> typed_started(context<std::string, int>& ctx) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started("not an int"));
  co_return 0;
}
inline awaitable<result<int>> typed_items(context<int, int>&) { co_return 0; }
inline awaitable<result<std::string>> typed_items(context<int, std::string>& ctx) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(1));
  auto s = ctx.open_stream();
  if (!s) co_return s.error();
  BOOST_OUTCOME_CO_TRY(co_await s.value().send("not an int either"));
  co_return std::string("nor is this");
}
// How many remote tasks this actor runs, counting this call itself.
inline awaitable<int> tasks_running() {
  co_return static_cast<int>(tractor::runtime::current_actor()->running_tasks());
}

// This actor's own address, and a request to cancel the actor at an address (a sibling).
inline awaitable<std::string> my_address() { co_return tractor::runtime::current_actor()->address().str(); }
inline awaitable<result<bool>> cancel_actor_at(std::string address);  // defined once the trees exist

// Starts two streamers of 0..n-1, merges their streams without duplicates and streams the
// result on (defined once the trees exist).
inline awaitable<result<int>> aggregate(context<int, int>& ctx, int n);

using started_int = awaitable<result<int>> (*)(context<int, int>&);
using started_string = awaitable<result<int>> (*)(context<std::string, int>&);
using items_int = awaitable<result<int>> (*)(context<int, int>&);
using items_string = awaitable<result<std::string>> (*)(context<int, std::string>&);
constexpr started_int callers_started = &typed_started;
constexpr started_string callees_started = &typed_started;
constexpr items_int callers_items = &typed_items;
constexpr items_string callees_items = &typed_items;

}  // namespace ctxfn

namespace context_tests {

using namespace tractor;
using namespace std::chrono_literals;

using fns = exposed<&ctxfn::counter, &ctxfn::ping_pong, &ctxfn::close_at_once, &ctxfn::release_echo,
                    &ctxfn::held_echo, &ctxfn::sleep_after_started, &ctxfn::until_sleeper_cancelled,
                    &ctxfn::fail_after_started, &ctxfn::fail_before_started, &ctxfn::started_twice,
                    &ctxfn::stream_before_started, &ctxfn::cancel_itself, ctxfn::callers_started,
                    ctxfn::callees_started, ctxfn::callers_items, ctxfn::callees_items,
                    &ctxfn::aggregate, &ctxfn::my_address, &ctxfn::cancel_actor_at,
                    &ctxfn::tasks_running>;
// The cell's tree (tests/support/matrix_tree.hpp): its backend and transport.
using cell_tree = tractor::testing::matrix_tree<codec::cereal_binary, fns>;

// Calls `f(std::type_identity<Tree>{})` with the tree of this process (a child's too).
template <class F>
decltype(auto) on_tree(F f) {
  return f(std::type_identity<cell_tree>{});
}

template <class Tree>
awaitable<result<int>> aggregate_with(context<int, int>& ctx, int n) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(0));
  auto up = ctx.open_stream();
  if (!up) co_return up.error();
  std::set<int> seen;
  auto merged = co_await open_actor_nursery<Tree>([&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
    const actor_options opts{.enable_modules = {"ctxfn"}};
    auto a = co_await an.start_actor("streamer-a", opts);
    if (!a) co_return a.error();
    auto b = co_await an.start_actor("streamer-b", opts);
    if (!b) co_return b.error();
    auto both = co_await open_nursery([&](nursery& tasks) -> awaitable<void> {
      for (portal<Tree>* from : {&a.value(), &b.value()}) {
        tasks.start_soon([&, from]() -> awaitable<result<void>> {
          // No back-pressure across actors: the buffer holds a whole stream, from the start.
          const stream_options whole{.buffer = 1024};
          co_return co_await from->template open_context<&ctxfn::counter>(
              whole,
              [&](caller_context<&ctxfn::counter>& c, int) -> awaitable<result<void>> {
                auto down = c.open_stream(whole);
                if (!down) co_return down.error();
                for (auto x = co_await down.value().receive(); x; x = co_await down.value().receive()) {
                  if (!seen.insert(x.value()).second) continue;
                  BOOST_OUTCOME_CO_TRY(co_await up.value().send(x.value()));
                }
                co_return success();
              },
              n);
        });
      }
      co_return;
    });
    an.cancel();
    co_return both;
  });
  if (!merged) co_return merged.error();
  co_return static_cast<int>(seen.size());
}

// Runs `body(portal)` in a root with one daemon child, "peer"; returns the body's result.
template <class Tree>
result<void> with_child(std::function<awaitable<result<void>>(portal<Tree>&)> body) {
  result<void> outcome = success();
  char arg0[] = "context_test";
  char* argv[] = {arg0, nullptr};
  const int code = run_main<Tree>(1, argv, [&](root<Tree>& r) -> awaitable<result<void>> {
    outcome = co_await r.open_nursery([&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
      const actor_options opts{.enable_modules = {"ctxfn"}};
      auto p = co_await an.start_actor("peer", opts);
      if (!p) co_return p.error();
      auto out = co_await body(p.value());
      an.cancel();
      co_return out;
    });
    co_return success();
  });
  EXPECT_EQ(code, 0);
  return outcome;
}

template <class Tree>
class context_fixture : public tractor::testing::no_child_left {};
using trees = ::testing::Types<cell_tree>;

template <class Tree>
awaitable<result<bool>> cancel_actor_at_with(const std::string& address) {
  auto where = transport::multiaddr::parse(address);
  if (!where) co_return where.error();
  auto sibling = co_await connect_to<Tree>(where.value());
  if (!sibling) co_return sibling.error();
  co_return co_await sibling.value().cancel_actor();
}

}  // namespace context_tests

inline tractor::awaitable<tractor::result<bool>> ctxfn::cancel_actor_at(std::string address) {
  using namespace context_tests;
  co_return co_await on_tree([&]<class Tree>(std::type_identity<Tree>) { return cancel_actor_at_with<Tree>(address); });
}

inline tractor::awaitable<tractor::result<int>> ctxfn::aggregate(context<int, int>& ctx, int n) {
  using namespace context_tests;
  co_return co_await on_tree([&]<class Tree>(std::type_identity<Tree>) { return aggregate_with<Tree>(ctx, n); });
}
