// Contexts and streams with real child actors over both transports (tractor's `MsgStream`:
// `Context.open_stream()`, `StreamOverrun`, `MsgStream.subscribe()`):
// ping-pong, iteration, the cheap paths, overruns, fan-out, an aggregator. This binary is
// also every child actor (see main() at the bottom); the cancellation rules are in
// context_cancel_test.cpp, in the same binary.
#include "tests/runtime/context_fixture.hpp"

namespace {

using namespace context_tests;

template <class Tree>
class context_test : public context_fixture<Tree> {};
TYPED_TEST_SUITE(context_test, trees);

// The cell's tree is the real tree of the cell's backend and transport (and codec).
TYPED_TEST(context_test, runs_under_its_cell_s_backend_and_transport) {
  const auto& p = TypeParam::policies();
  EXPECT_EQ(p.spawn_name, tractor::testing::cell().backend);
  EXPECT_EQ(p.transport_name, tractor::testing::cell().transport);
}

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
          // The child's overrun report (tractor's `StreamOverrun`) cancels this wait, as any error from the child cancels the caller's context.
          auto x = co_await s.value().receive();
          ADD_FAILURE() << "the child never sends";
          co_return success();
        });
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), runtime_errc::stream_overrun) << r.error().message();
  EXPECT_EQ(tractor::source_of(r.error()).substr(0, 5), "peer@");
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

// `MsgStream.subscribe()`: two local subscribers of one stream. The fast one reads 100 items and is cancelled
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
          EXPECT_TRUE(!lag && lag.error() == runtime_errc::lagged);
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

// A third actor's cancel (tractor's `ContextCancelled` and its `canceller`): the root streams
// from "callee" while "canceller" (a sibling, reached by address) cancels the callee; the
// root's context ends naming the canceller.
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

int main(int argc, char** argv) {
  using namespace context_tests;
  if (tractor::runtime::is_child_process()) {
    return on_tree([]<class Tree>(std::type_identity<Tree>) { return tractor::runtime::child_main(Tree::policies()); });
  }
  return tractor::testing::run_matrix_tests(argc, argv);
}
