// Real child actors under supervision (tractor's `ActorNursery`): failures cancelling siblings
// and aggregated, children stuck in blocking code, nested trees relaying errors, boot failures,
// cancellation during spawn, and signals at the root. Part of the actor_test binary.
#include "tests/runtime/actor_fixture.hpp"

#include <tractor/discovery/discovery.hpp>

#include <thread>

namespace {

using namespace actor_tests;

template <class Tree>
class supervision_test : public actor_fixture<Tree> {};
TYPED_TEST_SUITE(supervision_test, trees, tree_names);

// tractor's one-cancels-all: an error in the body (here a `portal.run` on a daemon that
// fails) cancels every child; one error comes out bare, several as a group holding every
// one. Here `raising` one-shot children fail while being cancelled, which makes "several
// fail at once" deterministic; the sleeper, cancelled, adds nothing.
template <class Tree>
result<void> supervised(int raising) {
  return nursery_result<Tree>([=](actor_nursery<Tree>& an) -> awaitable<result<void>> {
    const actor_options math_only{.enable_modules = {"math"}};
    auto trigger = co_await an.start_actor("trigger", math_only);
    if (!trigger) co_return trigger.error();
    auto sleeper = co_await an.template run_in_actor<&math::sleep_forever>("sleeper");
    if (!sleeper) co_return sleeper.error();
    for (int i = 0; i < raising; ++i) {
      const std::string name = "raiser-" + std::to_string(i);
      const std::string why = "raised while cancelled " + std::to_string(i);
      auto f = co_await an.template run_in_actor<&math::fail_on_cancel>(name, why);
      if (!f) co_return f.error();
      // Only a function that runs can raise when cancelled: one cancelled before it started
      // has nothing to say. So the trigger fires once every raiser waits.
      auto raiser = f.value().actor_portal();
      auto waiting = co_await raiser.template run<&math::until_waiting_to_fail>();
      if (!waiting) co_return waiting.error();
    }
    const std::string why = "trigger";
    auto t = co_await trigger.value().template run<&math::explode>(why);
    co_return t.error();
  });
}

TYPED_TEST(supervision_test, an_error_in_the_body_cancels_every_child_and_comes_out_bare) {
  auto r = supervised<TypeParam>(0);
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().is_group()) << r.error().message();
  EXPECT_EQ(r.error(), runtime_errc::remote_actor_error);
  EXPECT_EQ(r.error().message(), "trigger");
  EXPECT_EQ(tractor::source_of(r.error()).substr(0, 8), "trigger@");
}

TYPED_TEST(supervision_test, children_failing_while_cancelled_join_the_group) {
  for (int raising : {1, 24}) {
    auto r = supervised<TypeParam>(raising);
    ASSERT_FALSE(r);
    ASSERT_TRUE(r.error().is_group()) << r.error().message();
    std::set<std::string> messages;
    for (const auto& e : r.error().group_members()) messages.insert(e.message());
    EXPECT_EQ(r.error().group_members().size(), static_cast<std::size_t>(raising) + 1) << r.error().message();
    EXPECT_EQ(messages.size(), static_cast<std::size_t>(raising) + 1) << r.error().message();
    EXPECT_TRUE(messages.contains("trigger"));
    EXPECT_TRUE(messages.contains("raised while cancelled 0"));
  }
}

TYPED_TEST(supervision_test, a_child_stuck_in_blocking_code_is_killed_and_the_error_still_reported) {
  if (thread_actors) this->expect_abandoned_threads();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = nursery_result<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    an.limits().cancel_ack = std::chrono::milliseconds(50);
    an.limits().before_kill = std::chrono::milliseconds(100);
    an.limits().thread_abandon = std::chrono::milliseconds(200);
    auto stuck = co_await an.template run_in_actor<&math::block_the_loop>("stuck");
    if (!stuck) co_return stuck.error();
    co_return error(make_error_code(errc::timeout), "original");
  });
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  // Graceful cancel unheard, SIGTERM unheard (the loop is blocked), then SIGKILL.
  EXPECT_LT(took, std::chrono::seconds(5));
  if (thread_actors) {
    // A thread cannot be killed: it is abandoned, which is an error of its own.
    ASSERT_TRUE(r.error().is_group()) << r.error().message();
    std::set<std::string> messages;
    for (const auto& e : r.error().group_members()) messages.insert(e.message());
    EXPECT_TRUE(messages.contains("original")) << r.error().message();
    EXPECT_NE(r.error().message().find("'stuck' ignored cancellation and was abandoned"), std::string::npos)
        << r.error().message();
    // Its listener stays while it runs (until this process exits): the fixture knows.
  } else {
    EXPECT_FALSE(r.error().is_group()) << "the killed child adds no error: " << r.error().message();
    EXPECT_EQ(r.error().message(), "original");
  }
}

TYPED_TEST(supervision_test, nested_trees_relay_groups_with_their_sources) {
  // root -> 2 spawners -> 2 failing grandchildren each: a group of 2 boxed groups, each
  // holding both of its grandchildren's errors (collected at each join, whatever the timing).
  auto r = nursery_result<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    for (const char* tag : {"left", "right"}) {
      const std::string t = tag;
      auto s = co_await an.template run_in_actor<&math::spawn_failing_grandchildren>("spawner-" + t, t);
      if (!s) co_return s.error();
    }
    co_return success();
  });
  ASSERT_FALSE(r);
  ASSERT_TRUE(r.error().is_group()) << r.error().message();
  const auto members = r.error().group_members();
  ASSERT_EQ(members.size(), 2u) << r.error().message();
  std::set<std::string> sources;
  for (const auto& boxed : members) {
    EXPECT_EQ(boxed, runtime_errc::remote_actor_error);
    EXPECT_EQ(boxed.type_name(), "BaseExceptionGroup") << boxed.message();
    EXPECT_EQ(tractor::source_of(boxed).substr(0, 8), "spawner-");
    const std::string tag(tractor::source_of(boxed).substr(8, tractor::source_of(boxed).find('@') - 8));
    sources.insert(tag);
    EXPECT_NE(boxed.message().find(tag + "-a failed"), std::string::npos) << boxed.message();
    EXPECT_NE(boxed.message().find(tag + "-b failed"), std::string::npos) << boxed.message();
  }
  EXPECT_EQ(sources, (std::set<std::string>{"left", "right"}));
}

TYPED_TEST(supervision_test, a_grandchild_error_keeps_its_source_and_relay_path) {
  auto r = nursery_result<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    const actor_options math_only{.enable_modules = {"math"}};
    auto mid = co_await an.start_actor("middle", math_only);
    if (!mid) co_return mid.error();
    const std::string tag = "deep";
    auto g = co_await mid.value().template run<&math::spawn_failing_grandchildren>(tag);
    EXPECT_FALSE(g);
    if (!g) {
      EXPECT_EQ(g.error().type_name(), "BaseExceptionGroup");
      EXPECT_EQ(tractor::source_of(g.error()).substr(0, 7), "middle@");
    }
    an.cancel();
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
}

TYPED_TEST(supervision_test, a_failing_body_with_idle_daemons_reaps_them_all) {
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    const actor_options math_only{.enable_modules = {"math"}};
    for (int i = 0; i < 2; ++i) {
      const std::string name = "idle-" + std::to_string(i);
      auto w = co_await an.start_actor(name, math_only);
      if (!w) co_return w.error();
    }
    co_return errc::timeout;  // the body fails: the daemons are cancelled and reaped
  });
  EXPECT_EQ(code, 1);
}

TYPED_TEST(supervision_test, a_child_dying_during_boot_is_an_actor_failure) {
  if (!tractor::testing::boot_faults_apply) GTEST_SKIP() << "a spare runs the tree's entry (see boot_faults)";
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    auto w = co_await an.start_actor("die-at-boot");
    EXPECT_FALSE(w);
    if (!w) {
      EXPECT_EQ(w.error(), runtime_errc::actor_failure);
      EXPECT_NE(w.error().message().find("died during boot (exited with status 7)"), std::string::npos)
          << w.error().message();
    }
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

TYPED_TEST(supervision_test, a_child_silent_past_the_boot_timeout_is_killed_and_an_actor_failure) {
  if (!tractor::testing::boot_faults_apply) GTEST_SKIP() << "a spare runs the tree's entry (see boot_faults)";
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    an.limits().boot = std::chrono::milliseconds(200);
    auto w = co_await an.start_actor("hang-at-boot");
    EXPECT_FALSE(w);
    if (!w) {
      EXPECT_EQ(w.error(), runtime_errc::actor_failure);
      EXPECT_NE(w.error().message().find("within the boot timeout"), std::string::npos) << w.error().message();
    }
    EXPECT_TRUE(tractor::testing::no_child_actor_left()) << "the silent child is killed and reaped";
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

// Spawns a child `name` that never finishes its boot and cancels the spawn at 300 ms (the
// boot limit is 60 s: only the cancellation can end the wait). The deadline only triggers the
// cancellation; whenever it lands during the boot, the outcome must be the same: no child
// left, no hang.
template <class Tree>
int cancel_a_spawn_that_never_finishes(const char* name, const char* never) {
  return run_tree<Tree>([name, never](actor_nursery<Tree>& an) -> awaitable<result<void>> {
    an.limits().boot = std::chrono::seconds(60);
    auto start = [&]() -> awaitable<void> {
      auto w = co_await an.start_actor(name);
      ADD_FAILURE() << "start_actor returned for a child that never " << never;
    };
    auto cancelled = co_await move_on_after(std::chrono::milliseconds(300), start());
    EXPECT_FALSE(cancelled) << "the scope was cancelled, not completed";
    EXPECT_TRUE(tractor::testing::no_child_actor_left()) << "the half-started child is reaped";
    co_return success();
  });
}

TYPED_TEST(supervision_test, cancellation_during_spawn_kills_and_reaps_the_half_started_child) {
  if (!tractor::testing::boot_faults_apply) GTEST_SKIP() << "a spare runs the tree's entry (see boot_faults)";
  const auto t0 = clock::now();
  EXPECT_EQ(cancel_a_spawn_that_never_finishes<TypeParam>("hang-at-boot", "booted"), 0);  // never connects back
  EXPECT_LT(clock::now() - t0, std::chrono::seconds(30)) << "cancelling the boot must not wait it out";
}

// The same once the child has handshaken, while we wait for its registration: the child is
// killed and reaped, and the name it bound goes with it (the fixture checks).
TYPED_TEST(supervision_test, cancellation_after_the_handshake_kills_reaps_and_forgets_the_child) {
  if (!tractor::testing::boot_faults_apply) GTEST_SKIP() << "a spare runs the tree's entry (see boot_faults)";
  EXPECT_EQ(cancel_a_spawn_that_never_finishes<TypeParam>("silent-after-handshake", "registered"), 0);
}

TYPED_TEST(supervision_test, a_grandchild_in_a_blocking_sleep_when_its_root_fails_leaves_no_survivor) {
  if (thread_actors) GTEST_SKIP() << "a thread cannot be killed (abandonment is the stuck-child test's)";
  const auto t0 = std::chrono::steady_clock::now();
  auto r = nursery_result<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    an.limits().cancel_ack = std::chrono::milliseconds(50);
    an.limits().before_kill = std::chrono::milliseconds(100);
    const actor_options math_only{.enable_modules = {"math"}};
    auto spawner = co_await an.start_actor("spawner", math_only);
    if (!spawner) co_return spawner.error();
    co_return co_await tractor::open_nursery([&](nursery& n) -> awaitable<result<void>> {
      n.start_soon([&]() -> awaitable<void> {
        auto held = co_await spawner.value().template run<&math::hold_blocked_grandchild>();
        (void)held;
      });
      auto ready = co_await spawner.value().template run<&math::until_grandchild_started>();
      if (!ready) co_return ready.error();
      co_return error(make_error_code(errc::timeout), "the root failed");
    });
  });
  // The spawner was killed by the ladder before it could kill its grandchild; the
  // grandchild's parent-death signal ended it, and it was reparented here.
  reap_orphans();
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "the root failed") << "the original error, bare";
  EXPECT_LT(took, std::chrono::seconds(10));
}

// tractor's `RuntimeFailure`: one root per process. Each refusal comes at once (run_main is
// a blocking call: a root that started would block the caller's loop, or return 0).
TYPED_TEST(supervision_test, a_second_root_in_a_process_is_refused_at_once) {
  int in_the_body = -1;
  int beside = -1;
  auto r = nursery_result<TypeParam>([&](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    in_the_body = second_root<TypeParam>();
    std::thread other([&] { beside = second_root<TypeParam>(); });
    other.join();
    const actor_options math_only{.enable_modules = {"math"}};
    auto worker = co_await an.start_actor("worker", math_only);
    if (!worker) co_return worker.error();
    auto code = co_await worker.value().template run<&math::nested_root>();
    EXPECT_EQ(code ? code.value() : -1, 1) << "refused inside a child's exposed function";
    auto sum = co_await worker.value().template run<&math::add>(1, 2);
    EXPECT_EQ(sum ? sum.value() : -1, 3) << "and the child still serves";
    an.cancel();
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
  EXPECT_EQ(in_the_body, 1) << "refused inside a root's body";
  EXPECT_EQ(beside, 1) << "refused on another thread while a root runs";
  EXPECT_EQ(second_root<TypeParam>(), 0) << "once the root has ended, a root may start again";
}

// Whether `name` has no listener left and no registrar entry, polled with a watchdog (10 s):
// a killed actor's parent and registrar notice when its channels end.
template <class Tree>
awaitable<bool> gone_without_a_trace(std::string name) {
  const auto give_up = clock::now() + std::chrono::seconds(10);
  for (;;) {
    bool listening = false;
    for (const auto& l : tractor::testing::listeners_left()) listening |= l.rfind(name + "@", 0) == 0;
    auto addrs = co_await query_actor<Tree>(name);
    if (!listening && addrs && addrs.value().empty()) co_return true;
    if (clock::now() > give_up) co_return false;
    co_await sleep_for(std::chrono::milliseconds(1));
  }
}

// SIGKILL of a child, and of a middle actor holding a grandchild: once the survivors have
// noticed, nothing of them is left (no process, listener or registrar entry).
TYPED_TEST(supervision_test, a_killed_child_or_middle_actor_leaves_nothing_behind) {
  if (thread_actors) GTEST_SKIP() << "a thread actor has no process of its own to kill";
  auto r = nursery_result<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    const actor_options math_only{.enable_modules = {"math"}};
    auto victim = co_await an.start_actor("victim", math_only);
    if (!victim) co_return victim.error();
    auto middle = co_await an.start_actor("middle", math_only);
    if (!middle) co_return middle.error();
    auto killed = co_await tractor::open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon([&]() -> awaitable<void> {
        auto held = co_await middle.value().template run<&math::hold_blocked_grandchild>();
        EXPECT_FALSE(held) << "its actor was killed";
      });
      auto ready = co_await middle.value().template run<&math::until_grandchild_started>();
      EXPECT_TRUE(ready && ready.value());
      for (const auto* p : {&victim.value(), &middle.value()}) {
        const auto pid = static_cast<pid_t>(p->aid().pid.value_or(0));
        EXPECT_GT(pid, 1);
        if (pid > 1) ::kill(pid, SIGKILL);
      }
    });
    EXPECT_TRUE(killed) << killed.error().message();
    for (const char* name : {"victim", "middle", "blocked"}) {
      EXPECT_TRUE(co_await gone_without_a_trace<TypeParam>(name)) << name << " left a listener or an entry";
    }
    an.cancel();
    co_return success();
  });
  reap_orphans();  // the grandchild, reparented here once its parent was killed
  EXPECT_TRUE(r) << r.error().message();
}

TYPED_TEST(supervision_test, sigint_at_the_root_cancels_the_tree_and_exits_non_zero) {
  auto s = signal_root<TypeParam>(SIGINT);
  EXPECT_TRUE(s.exited) << s.describe();
  EXPECT_EQ(s.code, 128 + SIGINT);
  EXPECT_TRUE(tractor::testing::live_children_but_server().empty()) << "a descendant survived";
}

TYPED_TEST(supervision_test, sigkill_of_the_root_leaves_no_survivor) {
  auto s = signal_root<TypeParam>(SIGKILL);
  EXPECT_EQ(s.signal, SIGKILL);
  EXPECT_TRUE(tractor::testing::live_children_but_server().empty()) << "a child outlived its killed root";
  // Nothing of the killed tree is left to sweep: its actors' names, the registrar's among
  // them, went with their processes (the fixture checks that no listener is left).
  EXPECT_TRUE(tractor::testing::listeners_left().empty());
}

}  // namespace
