// Contexts and streams with real child processes over both transports (tractor's rules
// R25-R37). This binary is also every child actor (see main() at the bottom).
#include <tractor/runtime/tree.hpp>

#include <tractor/runtime/broadcast.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/matrix.hpp"
#include "tests/support/registry.hpp"
#include "tests/support/reaper.hpp"

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/transport/tcp.hpp>
#include <tractor/transport/uds.hpp>

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

awaitable<void> forever() {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::hours(1));
  co_await t.async_wait(boost::asio::use_awaitable);
}

// started(n), then n items 0..n-1, then returns n.
awaitable<result<int>> counter(context<int, int>& ctx, int n) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(n));
  auto s = ctx.open_stream();
  if (!s) co_return s.error();
  for (int i = 0; i < n; ++i) {
    BOOST_OUTCOME_CO_TRY(co_await s.value().send(i));
  }
  co_return n;
}

// Answers every item x with x + 1 until the caller closes its side; returns the count.
awaitable<result<int>> ping_pong(context<int, int>& ctx) {
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
awaitable<result<int>> close_at_once(context<int, int>& ctx) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(0));
  auto s = ctx.open_stream();
  if (!s) co_return s.error();
  s.value().close();
  co_return 0;
}

// Echoes items with a stream of `buffer` items, but only once `release_echo` was called.
inline thread_local tractor::event echo_released;
awaitable<bool> release_echo() {
  echo_released.set();
  co_return true;
}
awaitable<result<int>> held_echo(context<int, int>& ctx, int buffer, bool allow_overruns) {
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
awaitable<result<int>> sleep_after_started(context<int, int>& ctx) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(7));
  auto note = []() -> awaitable<void> {
    sleeper_cancelled.set();
    co_return;
  };
  co_await tractor::finally(forever(), note());
  co_return 0;
}
awaitable<bool> until_sleeper_cancelled() {
  co_await sleeper_cancelled.wait();
  co_return true;
}

awaitable<result<int>> fail_after_started(context<int, int>& ctx, std::string why) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(1));
  throw std::runtime_error(why);
}

awaitable<result<int>> fail_before_started(context<int, int>&, std::string why) {
  throw std::runtime_error(why);
  co_return 0;
}

awaitable<result<int>> started_twice(context<int, int>& ctx) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(1));
  (void)co_await ctx.started(2);  // ignored here: the runtime still reports it
  co_return 0;
}

awaitable<result<int>> stream_before_started(context<int, int>& ctx) {
  auto s = ctx.open_stream();
  if (!s) co_return s.error();
  co_return 0;
}

awaitable<result<int>> cancel_itself(context<int, int>& ctx) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(1));
  ctx.cancel();
  co_await forever();
  co_return 0;
}

// Two versions of one wire name, as when caller and callee were built from different
// declarations: the caller uses the first overload of each, the callee runs the second
// (the dispatch table takes the last entry of a name).
awaitable<result<int>> typed_started(context<int, int>&) { co_return 0; }
awaitable<result<int>> typed_started(context<std::string, int>& ctx) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started("not an int"));
  co_return 0;
}
awaitable<result<int>> typed_items(context<int, int>&) { co_return 0; }
awaitable<result<std::string>> typed_items(context<int, std::string>& ctx) {
  BOOST_OUTCOME_CO_TRY(co_await ctx.started(1));
  auto s = ctx.open_stream();
  if (!s) co_return s.error();
  BOOST_OUTCOME_CO_TRY(co_await s.value().send("not an int either"));
  co_return std::string("nor is this");
}
// How many remote tasks this actor runs, counting this call itself.
awaitable<int> tasks_running() {
  co_return static_cast<int>(tractor::runtime::current_actor()->running_tasks());
}

// This actor's own address, and a request to cancel the actor at an address (a sibling).
awaitable<std::string> my_address() { co_return tractor::runtime::current_actor()->address().str(); }
awaitable<result<bool>> cancel_actor_at(std::string address);  // defined once the trees exist

// Starts two streamers of 0..n-1, merges their streams without duplicates and streams the
// result on (defined once the trees exist).
awaitable<result<int>> aggregate(context<int, int>& ctx, int n);

using started_int = awaitable<result<int>> (*)(context<int, int>&);
using started_string = awaitable<result<int>> (*)(context<std::string, int>&);
using items_int = awaitable<result<int>> (*)(context<int, int>&);
using items_string = awaitable<result<std::string>> (*)(context<int, std::string>&);
constexpr started_int callers_started = &typed_started;
constexpr started_string callees_started = &typed_started;
constexpr items_int callers_items = &typed_items;
constexpr items_string callees_items = &typed_items;

}  // namespace ctxfn

namespace {

using namespace tractor;
using namespace std::chrono_literals;

using fns = exposed<&ctxfn::counter, &ctxfn::ping_pong, &ctxfn::close_at_once, &ctxfn::release_echo,
                    &ctxfn::held_echo, &ctxfn::sleep_after_started, &ctxfn::until_sleeper_cancelled,
                    &ctxfn::fail_after_started, &ctxfn::fail_before_started, &ctxfn::started_twice,
                    &ctxfn::stream_before_started, &ctxfn::cancel_itself, ctxfn::callers_started,
                    ctxfn::callees_started, ctxfn::callers_items, ctxfn::callees_items,
                    &ctxfn::aggregate, &ctxfn::my_address, &ctxfn::cancel_actor_at,
                    &ctxfn::tasks_running>;
using uds_tree = tree<tractor::testing::matrix_spawn, transport::uds, codec::cereal_binary, fns>;
using tcp_tree = tree<tractor::testing::matrix_spawn, transport::tcp, codec::cereal_binary, fns>;

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
  ::setenv("CONTEXT_TEST_TREE", Tree::transport_type::name.data(), 1);
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
class context_test : public ::testing::Test {
 protected:
  void SetUp() override { tractor::testing::thread_baseline() = tractor::testing::live_threads(); }
  void TearDown() override {
    EXPECT_TRUE(tractor::testing::live_child_processes().empty()) << "a child actor outlived its test";
    EXPECT_EQ(tractor::testing::live_child_actors(), 0u) << "a thread actor outlived its test";
  }
};
using trees = ::testing::Types<uds_tree, tcp_tree>;
TYPED_TEST_SUITE(context_test, trees);

TYPED_TEST(context_test, ping_pong_ten_messages_then_the_result) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<&ctxfn::ping_pong>(
        [](caller_context<&ctxfn::ping_pong>& ctx, int first) -> awaitable<result<void>> {
          EXPECT_EQ(first, 0);
          auto s = ctx.open_stream();
          if (!s) co_return s.error();
          for (int i = 0; i < 10; ++i) {
            BOOST_OUTCOME_CO_TRY(co_await s.value().send(i * 10));
            auto back = co_await s.value().receive();
            if (!back) co_return back.error();
            EXPECT_EQ(back.value(), i * 10 + 1);
          }
          s.value().close();
          auto n = co_await ctx.wait_for_result();
          EXPECT_EQ(n.value(), 10);
          co_return success();
        });
  });
  EXPECT_TRUE(r) << r.error().message();
}

TYPED_TEST(context_test, iterating_a_stream_until_its_end) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<&ctxfn::counter>(
        [](caller_context<&ctxfn::counter>& ctx, int first) -> awaitable<result<void>> {
          EXPECT_EQ(first, 10);
          auto s = ctx.open_stream();
          if (!s) co_return s.error();
          std::vector<int> got;
          for (auto x = co_await s.value().receive(); x; x = co_await s.value().receive()) got.push_back(x.value());
          std::vector<int> want(10);
          std::iota(want.begin(), want.end(), 0);
          EXPECT_EQ(got, want);
          auto again = co_await s.value().receive();
          EXPECT_TRUE(!again && again.error() == errc::end_of_channel) << "end of stream stays";
          auto reopen = ctx.open_stream();
          EXPECT_TRUE(!reopen && reopen.error() == runtime_errc::invalid_operation) << "one stream per context";
          auto n = co_await ctx.wait_for_result();
          EXPECT_EQ(n.value(), 10);
          co_return success();
        },
        10);
  });
  EXPECT_TRUE(r) << r.error().message();
}

TYPED_TEST(context_test, the_cheap_paths_deliver_the_same_stream) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    const stream_options whole{.buffer = 256};
    auto counted = co_await p.template open_context<&ctxfn::counter>(
        whole,
        [&](caller_context<&ctxfn::counter>& ctx, int) -> awaitable<result<void>> {
          auto s = ctx.open_stream(whole);
          if (!s) co_return s.error();
          std::vector<int> got;
          for (;;) {
            auto ready = s.value().try_receive();  // buffered items without waiting
            if (!ready) ready.emplace(co_await s.value().receive());
            if (!*ready) {
              EXPECT_EQ(ready->error(), errc::end_of_channel);
              break;
            }
            got.push_back(ready->value());
          }
          std::vector<int> want(200);
          std::iota(want.begin(), want.end(), 0);
          EXPECT_EQ(got, want);
          auto after = s.value().try_receive();
          EXPECT_TRUE(after && !*after && after->error() == errc::end_of_channel) << "the end, without waiting";
          co_return success();
        },
        200);
    if (!counted) co_return counted.error();
    co_return co_await p.template open_context<&ctxfn::ping_pong>(
        [](caller_context<&ctxfn::ping_pong>& ctx, int) -> awaitable<result<void>> {
          auto s = ctx.open_stream();
          if (!s) co_return s.error();
          for (int i = 0; i < 5; ++i) {
            auto queued = s.value().try_send(i);
            EXPECT_TRUE(queued && *queued) << "queued without a coroutine";
            auto back = co_await s.value().receive();
            if (!back) co_return back.error();
            EXPECT_EQ(back.value(), i + 1);
          }
          s.value().close();
          co_return success();
        });
  });
  EXPECT_TRUE(r) << r.error().message();
}

// Every way out of a context leaves no task behind in the child: a normal end, a failing
// block, an absorbed cancel, a child error, a misuse.
TYPED_TEST(context_test, no_path_leaves_a_task_behind_in_the_child) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    auto only_this_call = [&]() -> awaitable<void> {
      auto n = co_await p.template run<&ctxfn::tasks_running>();
      EXPECT_EQ(n.value(), 1) << "the query itself, nothing else";
    };
    auto fine = co_await p.template open_context<&ctxfn::counter>(
        [](caller_context<&ctxfn::counter>& ctx, int) -> awaitable<result<void>> {
          auto s = ctx.open_stream();
          if (!s) co_return s.error();
          for (auto x = co_await s.value().receive(); x; x = co_await s.value().receive()) {
          }
          co_return success();
        },
        5);
    EXPECT_TRUE(fine);
    co_await only_this_call();
    auto failed_block = co_await p.template open_context<&ctxfn::sleep_after_started>(
        [](caller_context<&ctxfn::sleep_after_started>&, int) -> awaitable<result<void>> {
          co_return error(make_error_code(errc::would_block), "block failed");
        });
    EXPECT_FALSE(failed_block);
    auto seen = co_await fail_after(20s, p.template run<&ctxfn::until_sleeper_cancelled>());
    EXPECT_TRUE(seen);
    co_await only_this_call();
    auto absorbed = co_await p.template open_context<&ctxfn::sleep_after_started>(
        [](caller_context<&ctxfn::sleep_after_started>& ctx, int) -> awaitable<result<void>> {
          co_await ctx.cancel();
          (void)co_await ctx.wait_for_result();
          co_return success();
        });
    EXPECT_TRUE(absorbed);
    co_await only_this_call();
    auto child_failed = co_await p.template open_context<&ctxfn::fail_after_started>(
        [](caller_context<&ctxfn::fail_after_started>&, int) -> awaitable<result<void>> {
          co_await ctxfn::forever();
          co_return success();
        },
        std::string("boom"));
    EXPECT_FALSE(child_failed);
    co_await only_this_call();
    auto misuse = co_await p.template open_context<&ctxfn::started_twice>(
        [](caller_context<&ctxfn::started_twice>&, int) -> awaitable<result<void>> { co_return success(); });
    EXPECT_FALSE(misuse);
    co_await only_this_call();
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
}

TYPED_TEST(context_test, a_stream_closed_at_once_by_the_child_ends_at_once) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<&ctxfn::close_at_once>(
        [](caller_context<&ctxfn::close_at_once>& ctx, int) -> awaitable<result<void>> {
          auto s = ctx.open_stream();
          if (!s) co_return s.error();
          auto x = co_await s.value().receive();
          EXPECT_TRUE(!x && x.error() == errc::end_of_channel);
          co_return success();
        });
  });
  EXPECT_TRUE(r) << r.error().message();
}

TYPED_TEST(context_test, sixty_five_items_into_a_child_that_never_opens_its_stream_overrun) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<&ctxfn::sleep_after_started>(
        [](caller_context<&ctxfn::sleep_after_started>& ctx, int) -> awaitable<result<void>> {
          auto s = ctx.open_stream();
          if (!s) co_return s.error();
          for (int i = 0; i < 65; ++i) {
            auto sent = co_await s.value().send(i);
            if (!sent) co_return sent.error();
          }
          // The child's overrun report cancels this wait (R28, R36).
          auto x = co_await s.value().receive();
          ADD_FAILURE() << "the child never sends";
          co_return success();
        });
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), runtime_errc::stream_overrun) << r.error().message();
  EXPECT_EQ(r.error().source().substr(0, 5), "peer@");
}

// Echo through a one-item buffer: the items arrive before the child reads any.
template <class Tree>
result<void> held_echo(bool allow_overruns) {
  return with_child<Tree>([=](portal<Tree>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<&ctxfn::held_echo>(
        [&p](caller_context<&ctxfn::held_echo>& ctx, int) -> awaitable<result<void>> {
          auto s = ctx.open_stream();
          if (!s) co_return s.error();
          for (int i = 0; i < 10; ++i) {
            BOOST_OUTCOME_CO_TRY(co_await s.value().send(i));
          }
          // Sent after the items on the same channel, so it is handled after them.
          auto released = co_await p.template run<&ctxfn::release_echo>();
          if (!released) co_return released.error();
          for (int i = 0; i < 10; ++i) {
            auto x = co_await s.value().receive();
            if (!x) co_return x.error();
            EXPECT_EQ(x.value(), i);
          }
          s.value().close();
          auto n = co_await ctx.wait_for_result();
          EXPECT_EQ(n.value(), 10);
          co_return success();
        },
        1, allow_overruns);
  });
}

TYPED_TEST(context_test, echo_through_a_one_item_buffer_overruns_unless_allowed) {
  auto strict = held_echo<TypeParam>(false);
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error(), runtime_errc::stream_overrun) << strict.error().message();
  auto lenient = held_echo<TypeParam>(true);
  EXPECT_TRUE(lenient) << lenient.error().message();
}

TYPED_TEST(context_test, a_child_error_cancels_the_block_and_comes_out_boxed) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<&ctxfn::fail_after_started>(
        [](caller_context<&ctxfn::fail_after_started>&, int) -> awaitable<result<void>> {
          co_await ctxfn::forever();  // not a context operation: cancelled by the child's error
          co_return success();
        },
        std::string("child broke"));
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), runtime_errc::remote_actor_error);
  EXPECT_EQ(r.error().message(), "child broke");
  EXPECT_EQ(r.error().type_name(), "std::runtime_error");
  EXPECT_EQ(r.error().source().substr(0, 5), "peer@");
}

TYPED_TEST(context_test, a_child_error_before_started_comes_out_of_open_context) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<&ctxfn::fail_before_started>(
        [](caller_context<&ctxfn::fail_before_started>&, int) -> awaitable<result<void>> {
          ADD_FAILURE() << "the block never runs";
          co_return success();
        },
        std::string("no start"));
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "no start");
}

TYPED_TEST(context_test, a_failing_block_cancels_the_child_and_its_error_goes_on) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    auto opened = co_await p.template open_context<&ctxfn::sleep_after_started>(
        [](caller_context<&ctxfn::sleep_after_started>&, int first) -> awaitable<result<void>> {
          EXPECT_EQ(first, 7);
          co_return error(make_error_code(errc::would_block), "the block failed");
        });
    EXPECT_FALSE(opened);
    EXPECT_EQ(opened ? "" : opened.error().message(), "the block failed");
    auto seen = co_await fail_after(20s, p.template run<&ctxfn::until_sleeper_cancelled>());
    EXPECT_TRUE(seen && seen.value()) << "the child's task was cancelled (R29)";
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
}

TYPED_TEST(context_test, cancel_from_the_caller_is_absorbed) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    auto opened = co_await p.template open_context<&ctxfn::sleep_after_started>(
        [](caller_context<&ctxfn::sleep_after_started>& ctx, int) -> awaitable<result<void>> {
          co_await ctx.cancel();
          EXPECT_TRUE(ctx.cancel_called());
          auto outcome = co_await ctx.wait_for_result();  // the cancellation we asked for
          EXPECT_TRUE(!outcome && outcome.error() == runtime_errc::context_cancelled);
          EXPECT_EQ(outcome ? "" : outcome.error().canceller().substr(0, 5), "root@");
          auto late = ctx.open_stream();
          EXPECT_TRUE(!late && late.error() == runtime_errc::context_cancelled) << "R32";
          co_return success();
        });
    EXPECT_TRUE(opened) << "absorbed (R30): " << opened.error().message();
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
}

TYPED_TEST(context_test, a_child_cancelling_itself_is_context_cancelled_naming_it) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<&ctxfn::cancel_itself>(
        [](caller_context<&ctxfn::cancel_itself>&, int) -> awaitable<result<void>> {
          co_await ctxfn::forever();
          co_return success();
        });
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), runtime_errc::context_cancelled);
  EXPECT_EQ(r.error().canceller().substr(0, 5), "peer@");
  EXPECT_NE(r.error().message().find("itself"), std::string::npos) << r.error().message();
}

TYPED_TEST(context_test, cancel_actor_on_the_peer_raises_context_cancelled_naming_us) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<&ctxfn::sleep_after_started>(
        [&p](caller_context<&ctxfn::sleep_after_started>&, int) -> awaitable<result<void>> {
          (void)co_await p.cancel_actor();  // not ctx.cancel(): not absorbed (R31)
          co_await ctxfn::forever();
          co_return success();
        });
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), runtime_errc::context_cancelled) << r.error().message();
  EXPECT_EQ(r.error().canceller().substr(0, 5), "root@");
}

TYPED_TEST(context_test, misuse_by_the_child_is_reported_to_the_caller) {
  auto twice = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<&ctxfn::started_twice>(
        [](caller_context<&ctxfn::started_twice>&, int) -> awaitable<result<void>> { co_return success(); });
  });
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error(), runtime_errc::invalid_operation) << twice.error().message();
  EXPECT_NE(twice.error().message().find("started() called twice"), std::string::npos);

  auto early = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<&ctxfn::stream_before_started>(
        [](caller_context<&ctxfn::stream_before_started>&, int) -> awaitable<result<void>> { co_return success(); });
  });
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error(), runtime_errc::invalid_operation) << early.error().message();
  EXPECT_NE(early.error().message().find("before started()"), std::string::npos);
}

TYPED_TEST(context_test, payloads_of_the_wrong_type_are_msg_type_errors_naming_the_message) {
  static_assert(name_of<ctxfn::callers_started>().func == name_of<ctxfn::callees_started>().func);
  auto started = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<ctxfn::callers_started>(
        [](caller_context<ctxfn::callers_started>&, int) -> awaitable<result<void>> {
          ADD_FAILURE() << "the started value does not decode: the block never runs";
          co_return success();
        });
  });
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error(), wire_errc::msg_type_error);
  EXPECT_NE(started.error().message().find("`Started`"), std::string::npos) << started.error().message();
  EXPECT_NE(started.error().message().find("expected int"), std::string::npos) << started.error().message();

  auto items = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<ctxfn::callers_items>(
        [](caller_context<ctxfn::callers_items>& ctx, int) -> awaitable<result<void>> {
          auto s = ctx.open_stream();
          if (!s) co_return s.error();
          auto item = co_await s.value().receive();
          EXPECT_TRUE(!item && item.error() == wire_errc::msg_type_error);
          if (!item) {
            EXPECT_NE(item.error().message().find("`Yield`"), std::string::npos) << item.error().message();
          }
          auto end = co_await ctx.wait_for_result();
          EXPECT_TRUE(!end && end.error() == wire_errc::msg_type_error);
          EXPECT_NE(end ? std::string::npos : end.error().message().find("`Return`"), std::string::npos);
          co_return success();
        });
  });
  EXPECT_TRUE(items) << items.error().message();
}

TYPED_TEST(context_test, a_context_with_oneself_is_an_invalid_operation) {
  char arg0[] = "context_test";
  char* argv[] = {arg0, nullptr};
  result<void> r = success();
  (void)run_main<TypeParam>(1, argv, [&](root<TypeParam>&) -> awaitable<result<void>> {
    runtime::actor* self = runtime::current_actor();
    auto ex = co_await boost::asio::this_coro::executor;
    auto sock = co_await TypeParam::transport_type::connect(ex, self->address());
    if (!sock) co_return sock.error();
    auto ch = transport::channel::make<codec::cereal_binary>(std::move(sock).value());
    auto hs = co_await ch->handshake(self->aid());
    if (!hs) co_return hs.error();
    runtime::peer me(std::move(ch), self->aid());  // a peer that is this very actor
    runtime::context_body body = [](runtime::context_core&, msg::raw_pld) -> awaitable<result<void>> {
      co_return success();
    };
    msg::raw_pld no_args;  // (a named local: g++ 12 destroys braced temporaries in co_await twice)
    r = co_await runtime::run_caller_context(me, self->aid(), name_of<&ctxfn::counter>(), std::move(no_args),
                                             self->limits, std::move(body));
    co_return success();
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), runtime_errc::invalid_operation);
  EXPECT_NE(r.error().message().find("Invalid Operation"), std::string::npos);
}

TYPED_TEST(context_test, a_receiver_that_overran_learns_of_it_after_the_items_it_kept) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<&ctxfn::counter>(
        [&p](caller_context<&ctxfn::counter>& ctx, int) -> awaitable<result<void>> {
          // The child streams 100 items at once; this call's answer comes after all of them.
          auto after = co_await p.template run<&ctxfn::release_echo>();
          if (!after) co_return after.error();
          auto s = ctx.open_stream();
          if (!s) co_return s.error();
          for (int i = 0; i < 64; ++i) {
            auto x = co_await s.value().receive();
            if (!x) co_return x.error();
            EXPECT_EQ(x.value(), i);
          }
          auto lost = co_await s.value().receive();
          EXPECT_TRUE(!lost && lost.error() == runtime_errc::stream_overrun) << "not a silent end";
          co_return success();
        },
        100);
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), runtime_errc::stream_overrun) << r.error().message();
}

// R39: two local subscribers of one stream. The fast one reads 100 items and is cancelled
// mid-wait; the slow one, which had read nothing, is told it lagged, then gets every item
// still kept and the rest of the stream, pulling them itself.
TYPED_TEST(context_test, fan_out_to_local_subscribers_with_a_lagging_one) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    const stream_options whole{.buffer = 512};
    co_return co_await p.template open_context<&ctxfn::counter>(
        whole,
        [&](caller_context<&ctxfn::counter>& ctx, int) -> awaitable<result<void>> {
          auto s = ctx.open_stream(whole);
          if (!s) co_return s.error();
          broadcast<int> fan(s.value(), 50);
          auto fast = fan.subscribe();
          auto slow = fan.subscribe();
          std::vector<int> fast_got;
          cancel_scope fast_scope;
          auto read_fast = [&]() -> awaitable<void> {
            for (;;) {
              if (fast_got.size() == 100) fast_scope.cancel();  // cancelled at its next wait
              auto x = co_await fast.receive();
              if (!x) co_return;
              fast_got.push_back(x.value());
            }
          };
          const bool fast_finished = co_await fast_scope.run(read_fast());
          EXPECT_FALSE(fast_finished);
          std::vector<int> want(100);
          std::iota(want.begin(), want.end(), 0);
          EXPECT_EQ(fast_got, want);

          auto lag = co_await slow.receive();
          EXPECT_TRUE(!lag && lag.error() == errc::lagged);
          std::vector<int> slow_got;
          for (auto x = co_await slow.receive(); x; x = co_await slow.receive()) slow_got.push_back(x.value());
          std::vector<int> rest(250);
          std::iota(rest.begin(), rest.end(), 50);
          EXPECT_EQ(slow_got, rest) << "the 50 kept items, then the rest of the stream";
          auto after = co_await slow.receive();
          EXPECT_TRUE(!after && after.error() == errc::end_of_channel);
          co_return success();
        },
        300);
  });
  EXPECT_TRUE(r) << r.error().message();
}

// R31, third actor: the root streams from "callee" while "canceller" (a sibling, reached by
// address) cancels the callee; the root's context ends naming the canceller.
TYPED_TEST(context_test, a_third_actor_cancelling_the_callee_is_named_as_the_canceller) {
  ::setenv("CONTEXT_TEST_TREE", TypeParam::transport_type::name.data(), 1);
  char arg0[] = "context_test";
  char* argv[] = {arg0, nullptr};
  result<void> outcome = success();
  std::string canceller_id;
  const int code = run_main<TypeParam>(1, argv, [&](root<TypeParam>& r) -> awaitable<result<void>> {
    co_return co_await r.open_nursery([&](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
      const actor_options opts{.enable_modules = {"ctxfn"}};
      auto callee = co_await an.start_actor("callee", opts);
      if (!callee) co_return callee.error();
      auto canceller = co_await an.start_actor("canceller", opts);
      if (!canceller) co_return canceller.error();
      canceller_id = canceller.value().aid().name + "@" + canceller.value().aid().uuid;
      auto where = co_await callee.value().template run<&ctxfn::my_address>();
      if (!where) co_return where.error();
      outcome = co_await callee.value().template open_context<&ctxfn::sleep_after_started>(
          [&](caller_context<&ctxfn::sleep_after_started>& ctx, int) -> awaitable<result<void>> {
            auto asked = co_await canceller.value().template run<&ctxfn::cancel_actor_at>(where.value());
            if (!asked) co_return asked.error();
            co_await ctxfn::forever();  // ended by the callee's context_cancelled (R28)
            EXPECT_FALSE(ctx.cancel_called());
            co_return success();
          });
      an.cancel();
      co_return success();
    });
  });
  EXPECT_EQ(code, 0);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error(), runtime_errc::context_cancelled) << outcome.error().message();
  EXPECT_EQ(outcome.error().canceller(), canceller_id) << "the third actor, not us nor the callee";
  EXPECT_EQ(outcome.error().source().substr(0, 7), "callee@");
}

TYPED_TEST(context_test, an_aggregator_merges_two_streamers_without_duplicates) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    const stream_options whole{.buffer = 1024};
    co_return co_await p.template open_context<&ctxfn::aggregate>(
        whole,
        [&](caller_context<&ctxfn::aggregate>& ctx, int) -> awaitable<result<void>> {
          auto s = ctx.open_stream(whole);
          if (!s) co_return s.error();
          std::vector<int> got;
          for (auto x = co_await s.value().receive(); x; x = co_await s.value().receive()) got.push_back(x.value());
          std::sort(got.begin(), got.end());
          std::vector<int> want(1000);
          std::iota(want.begin(), want.end(), 0);
          EXPECT_EQ(got, want) << "exactly 0..999, each once";
          auto unique = co_await ctx.wait_for_result();
          EXPECT_EQ(unique.value(), 1000);
          co_return success();
        },
        1000);
  });
  EXPECT_TRUE(r) << r.error().message();
}

}  // namespace

template <class Tree>
awaitable<result<bool>> cancel_actor_at_with(const std::string& address) {
  auto where = transport::multiaddr::parse(address);
  if (!where) co_return where.error();
  auto sibling = co_await connect_to<Tree>(where.value());
  if (!sibling) co_return sibling.error();
  co_return co_await sibling.value().cancel_actor();
}

tractor::awaitable<tractor::result<bool>> ctxfn::cancel_actor_at(std::string address) {
  const char* which = std::getenv("CONTEXT_TEST_TREE");
  if (which && std::string(which) == "tcp") co_return co_await cancel_actor_at_with<tcp_tree>(address);
  co_return co_await cancel_actor_at_with<uds_tree>(address);
}

tractor::awaitable<tractor::result<int>> ctxfn::aggregate(context<int, int>& ctx, int n) {
  const char* which = std::getenv("CONTEXT_TEST_TREE");
  if (which && std::string(which) == "tcp") co_return co_await aggregate_with<tcp_tree>(ctx, n);
  co_return co_await aggregate_with<uds_tree>(ctx, n);
}

int main(int argc, char** argv) {
  if (tractor::runtime::is_child_process()) {
    const char* which = std::getenv("CONTEXT_TEST_TREE");
    return which && std::string(which) == "tcp" ? tractor::runtime::child_main(tcp_tree::policies())
                                                : tractor::runtime::child_main(uds_tree::policies());
  }
  tractor::testing::become_subreaper();
  tractor::testing::use_private_registry();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
