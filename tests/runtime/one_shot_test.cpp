// One-shot children (`run_in_actor`) under supervision, as tractor defines it: their errors
// are collected when the actor nursery joins, whatever the moment they fail, and never
// cancel the body or their siblings on arrival. Part of the actor_test binary.
#include "tests/runtime/actor_fixture.hpp"

namespace {

using namespace actor_tests;

template <class Tree>
class one_shot_test : public actor_fixture<Tree> {};
TYPED_TEST_SUITE(one_shot_test, trees, tree_names);

// When the one-shot children fail: at once (while the body is still spawning their
// siblings), once the body has spawned them all (the body releases each), or only after the
// body has returned (a task beside the nursery releases them).
enum class moment { at_once, after_spawning, after_the_body };

// A root whose actor nursery spawns `count` failing one-shot children ("fail 0"...) and
// `daemons` idle daemons, failing at `when`, and returns success itself. Returns what the
// actor nursery returned.
template <class Tree>
result<void> failing_one_shots(int count, moment when, int daemons = 0) {
  char arg0[] = "actor_test";
  char* argv[] = {arg0, nullptr};
  result<void> outcome = success();
  std::vector<portal<Tree>> to_release;
  event body_done;
  auto body = [&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
    struct set_on_exit {
      event& e;
      ~set_on_exit() { e.set(); }
    } done{body_done};
    const actor_options math_only{.enable_modules = {"math"}};
    for (int i = 0; i < daemons; ++i) {
      auto d = co_await an.start_actor("daemon-" + std::to_string(i), math_only);
      if (!d) co_return d.error();
    }
    for (int i = 0; i < count; ++i) {
      const std::string name = "one-shot-" + std::to_string(i);
      const std::string why = "fail " + std::to_string(i);
      if (when == moment::at_once) {
        auto f = co_await an.template run_in_actor<&math::explode>(name, why);
        if (!f) co_return f.error();
      } else {
        auto f = co_await an.template run_in_actor<&math::fail_when_released>(name, why);
        if (!f) co_return f.error();
        to_release.push_back(f.value().actor_portal());
      }
    }
    if (when == moment::after_spawning) {
      for (auto& p : to_release) {
        // A child released before gets its failure out at once: its answer may not come.
        auto released = co_await p.template run<&math::release>();
        (void)released;
      }
    }
    co_return success();
  };
  const int code = run_main<Tree>(1, argv, [&](root<Tree>& r) -> awaitable<result<void>> {
    auto joined = co_await tractor::open_nursery([&](nursery& n) -> awaitable<void> {
      if (when == moment::after_the_body) {
        n.start_soon([&]() -> awaitable<void> {
          co_await body_done.wait();
          for (auto& p : to_release) {
            auto released = co_await p.template run<&math::release>();
            (void)released;
          }
        });
      }
      outcome = co_await r.open_nursery(body);
    });
    to_release.clear();  // portals must not outlive the root's event loop
    co_return joined;
  });
  EXPECT_EQ(code, 0);
  return outcome;
}

// Checks that `r` holds exactly the errors "fail 0" ... "fail <count - 1>", each a remote
// error from its own child.
void expect_exactly_the_failures(const result<void>& r, int count) {
  ASSERT_FALSE(r);
  std::vector<error> errors;
  if (count == 1) {
    ASSERT_FALSE(r.error().is_group()) << r.error().message();
    errors.push_back(r.error());
  } else {
    ASSERT_TRUE(r.error().is_group()) << r.error().message();
    errors.assign(r.error().group_members().begin(), r.error().group_members().end());
  }
  ASSERT_EQ(errors.size(), static_cast<std::size_t>(count)) << r.error().message();
  std::set<std::string> messages;
  for (const auto& e : errors) {
    EXPECT_EQ(e, runtime_errc::remote_actor_error) << e.message();
    const std::string n = e.message().substr(e.message().rfind(' ') + 1);
    EXPECT_EQ(tractor::source_of(e).substr(0, tractor::source_of(e).find('@')), "one-shot-" + n) << "its own child's error";
    messages.insert(e.message());
  }
  EXPECT_EQ(messages.size(), static_cast<std::size_t>(count)) << r.error().message();
}

TYPED_TEST(one_shot_test, every_failure_is_collected_at_join_whatever_the_moment) {
  for (const moment when : {moment::at_once, moment::after_spawning, moment::after_the_body}) {
    for (const int count : {2, 3, 25}) {
      SCOPED_TRACE(::testing::Message() << count << " children failing at moment " << static_cast<int>(when));
      expect_exactly_the_failures(failing_one_shots<TypeParam>(count, when), count);
    }
  }
}

TYPED_TEST(one_shot_test, failing_one_shots_beside_daemons_give_every_error_and_cancel_the_daemons) {
  for (const moment when : {moment::at_once, moment::after_the_body}) {
    SCOPED_TRACE(::testing::Message() << "moment " << static_cast<int>(when));
    // The body never cancels its daemons: once every one-shot has failed, the join does.
    expect_exactly_the_failures(failing_one_shots<TypeParam>(3, when, 2), 3);
  }
}

TYPED_TEST(one_shot_test, a_failure_interrupts_neither_the_body_nor_a_sibling) {
  int calls = 0;
  auto r = nursery_result<TypeParam>([&](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    const std::string why = "fail 0";
    auto failing = co_await an.template run_in_actor<&math::explode>("one-shot-0", why);
    if (!failing) co_return failing.error();
    auto adder = co_await an.template run_in_actor<&math::add>("adder", 40, 2);
    if (!adder) co_return adder.error();
    const actor_options math_only{.enable_modules = {"math"}};
    auto worker = co_await an.start_actor("worker", math_only);
    if (!worker) co_return worker.error();
    for (int i = 0; i < 20; ++i) {
      auto sum = co_await worker.value().template run<&math::add>(i, 1);
      if (!sum) co_return sum.error();
      calls += sum.value() == i + 1;
    }
    auto v = co_await adder.value().wait_for_result();
    EXPECT_TRUE(v) << v.error().message();
    EXPECT_EQ(v ? v.value() : 0, 42);
    co_return success();  // the worker is cancelled by the join: the one-shot failed
  });
  EXPECT_EQ(calls, 20) << "the body ran to its end";
  expect_exactly_the_failures(r, 1);
}

TYPED_TEST(one_shot_test, a_result_the_body_took_is_the_bodys) {
  for (const bool returned : {false, true}) {
    auto r = nursery_result<TypeParam>([&](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
      const std::string why = "fail 0";
      auto failing = co_await an.template run_in_actor<&math::explode>("one-shot-0", why);
      if (!failing) co_return failing.error();
      auto v = co_await failing.value().wait_for_result();
      EXPECT_FALSE(v);
      if (v) co_return success();
      EXPECT_EQ(v.error().message(), "fail 0");
      if (returned) co_return v.error();  // the body fails with it: reported once
      co_return success();                // handled: nothing to report
    });
    if (returned) {
      expect_exactly_the_failures(r, 1);
    } else {
      EXPECT_TRUE(r) << r.error().message();
    }
  }
}

}  // namespace
