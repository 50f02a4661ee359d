// Contexts' error and cancellation rules with real child actors over both transports
// (tractor's `Portal.open_context()` and `Context`): errors before and after started, failing
// blocks, cancels from either side and from a third actor, misuse, payload types, a context
// with oneself. Part of the context_test binary.
#include "tests/runtime/context_fixture.hpp"

namespace {

using namespace context_tests;

template <class Tree>
class context_cancel_test : public context_fixture<Tree> {};
TYPED_TEST_SUITE(context_cancel_test, trees);

TYPED_TEST(context_cancel_test, a_child_error_cancels_the_block_and_comes_out_boxed) {
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
  EXPECT_EQ(tractor::source_of(r.error()).substr(0, 5), "peer@");
}

TYPED_TEST(context_cancel_test, a_child_error_before_started_comes_out_of_open_context) {
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

TYPED_TEST(context_cancel_test, a_failing_block_cancels_the_child_and_its_error_goes_on) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    auto opened = co_await p.template open_context<&ctxfn::sleep_after_started>(
        [](caller_context<&ctxfn::sleep_after_started>&, int first) -> awaitable<result<void>> {
          EXPECT_EQ(first, 7);
          co_return error(make_error_code(errc::would_block), "the block failed");
        });
    EXPECT_FALSE(opened);
    EXPECT_EQ(opened ? "" : opened.error().message(), "the block failed");
    auto seen = co_await fail_after(20s, p.template run<&ctxfn::until_sleeper_cancelled>());
    EXPECT_TRUE(seen && seen.value()) << "the child's task was cancelled (the caller's block raised)";
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
}

TYPED_TEST(context_cancel_test, cancel_from_the_caller_is_absorbed) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    auto opened = co_await p.template open_context<&ctxfn::sleep_after_started>(
        [](caller_context<&ctxfn::sleep_after_started>& ctx, int) -> awaitable<result<void>> {
          co_await ctx.cancel();
          EXPECT_TRUE(ctx.cancel_called());
          auto outcome = co_await ctx.wait_for_result();  // the cancellation we asked for
          EXPECT_TRUE(!outcome && outcome.error() == runtime_errc::context_cancelled);
          EXPECT_EQ(outcome ? "" : tractor::canceller_of(outcome.error()).substr(0, 5), "root@");
          auto late = ctx.open_stream();
          EXPECT_TRUE(!late && late.error() == runtime_errc::context_cancelled) << "a stream opened after Context.cancel()";
          co_return success();
        });
    EXPECT_TRUE(opened) << "absorbed (our own ctx.cancel()): " << opened.error().message();
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
}

TYPED_TEST(context_cancel_test, a_child_cancelling_itself_is_context_cancelled_naming_it) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<&ctxfn::cancel_itself>(
        [](caller_context<&ctxfn::cancel_itself>&, int) -> awaitable<result<void>> {
          co_await ctxfn::forever();
          co_return success();
        });
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), runtime_errc::context_cancelled);
  EXPECT_EQ(tractor::canceller_of(r.error()).substr(0, 5), "peer@");
  EXPECT_NE(r.error().message().find("itself"), std::string::npos) << r.error().message();
}

TYPED_TEST(context_cancel_test, cancel_actor_on_the_peer_raises_context_cancelled_naming_us) {
  auto r = with_child<TypeParam>([](portal<TypeParam>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<&ctxfn::sleep_after_started>(
        [&p](caller_context<&ctxfn::sleep_after_started>&, int) -> awaitable<result<void>> {
          (void)co_await p.cancel_actor();  // not ctx.cancel(): a ContextCancelled, not absorbed
          co_await ctxfn::forever();
          co_return success();
        });
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), runtime_errc::context_cancelled) << r.error().message();
  EXPECT_EQ(tractor::canceller_of(r.error()).substr(0, 5), "root@");
}

// Opens a context on `F` in a fresh child, and leaves the block at once.
template <class Tree, auto F>
result<void> open_and_leave() {
  return with_child<Tree>([](portal<Tree>& p) -> awaitable<result<void>> {
    co_return co_await p.template open_context<F>(
        [](caller_context<F>&, int) -> awaitable<result<void>> { co_return success(); });
  });
}

TYPED_TEST(context_cancel_test, misuse_by_the_child_is_reported_to_the_caller) {
  auto twice = open_and_leave<TypeParam, &ctxfn::started_twice>();
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error(), runtime_errc::invalid_operation) << twice.error().message();
  EXPECT_NE(twice.error().message().find("started() called twice"), std::string::npos);

  auto early = open_and_leave<TypeParam, &ctxfn::stream_before_started>();
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error(), runtime_errc::invalid_operation) << early.error().message();
  EXPECT_NE(early.error().message().find("before started()"), std::string::npos);
}

TYPED_TEST(context_cancel_test, payloads_of_the_wrong_type_are_msg_type_errors_naming_the_message) {
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

TYPED_TEST(context_cancel_test, a_context_with_oneself_is_an_invalid_operation) {
  char arg0[] = "context_test";
  char* argv[] = {arg0, nullptr};
  result<void> r = success();
  (void)run_main<TypeParam>(1, argv, [&](root<TypeParam>&) -> awaitable<result<void>> {
    runtime::actor* self = runtime::current_actor();
    auto sock = co_await runtime::connect_to(self->pol(), self->address());
    if (!sock) co_return sock.error();
    auto ch = transport::channel::make<codec::cereal_binary>(std::move(sock).value());
    runtime::peer me(std::move(ch), self->aid(), self->pol());  // a peer that is this very actor
    auto hs = co_await me.handshake(std::chrono::seconds(10));
    if (!hs) co_return hs.error();
    runtime::context_body body = [](runtime::context_core&, msg::raw_pld) -> awaitable<result<void>> {
      co_return success();
    };
    msg::raw_pld no_args;  // (a named local: g++ 12 destroys braced temporaries in co_await twice)
    r = co_await runtime::run_caller_context(me, self->aid(), name_of<&ctxfn::counter>(), std::move(no_args),
                                             self->limits(), std::move(body));
    co_return success();
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), runtime_errc::invalid_operation);
  EXPECT_NE(r.error().message().find("Invalid Operation"), std::string::npos);
}

TYPED_TEST(context_cancel_test, a_third_actor_cancelling_the_callee_is_named_as_the_canceller) {
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
            co_await ctxfn::forever();  // ended by the callee's context_cancelled (tractor's ContextCancelled)
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
  EXPECT_EQ(tractor::canceller_of(outcome.error()), canceller_id) << "the third actor, not us nor the callee";
  EXPECT_EQ(tractor::source_of(outcome.error()).substr(0, 7), "callee@");
}

}  // namespace
