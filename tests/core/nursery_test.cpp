#include <tractor/core/nursery.hpp>

#include "tests/support/async_test.hpp"

#include <tractor/core/cancel_scope.hpp>
#include <tractor/core/event.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace {

using tractor::awaitable;
using tractor::errc;
using tractor::event;
using tractor::nursery;
using tractor::open_nursery;
using tractor::result;
using tractor::testing::run_async;

struct boom : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Waits for `ev`; records whether it was cancelled instead.
awaitable<void> wait_and_record(event& ev, std::vector<std::string>& log, std::string name) {
  try {
    co_await ev.wait();
    log.push_back(name + ":done");
  } catch (...) {
    log.push_back(name + (tractor::is_cancellation(std::current_exception()) ? ":cancelled"
                                                                              : ":error"));
    throw;
  }
}

awaitable<void> fail_after_event(event& ev, std::string what) {
  co_await ev.wait();
  throw boom(what);
}

awaitable<result<void>> fail_with_result(event& ev) {
  co_await ev.wait();
  co_return errc::would_block;
}

event never;  // never set: waiting on it can only end by cancellation

TEST(nursery_test, returns_only_after_every_child_has_ended) {
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<result<void>> {
    event a, b;
    auto res = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon(wait_and_record(a, log, "a"));
      n.start_soon(wait_and_record(b, log, "b"));
      log.push_back("body:end");
      b.set();
      a.set();
      co_return;
    });
    log.push_back("nursery:returned");
    co_return res;
  }());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(log, (std::vector<std::string>{"body:end", "b:done", "a:done", "nursery:returned"}));
}

TEST(nursery_test, first_failing_child_cancels_siblings_and_body) {
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<result<void>> {
    event go;
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon(wait_and_record(never, log, "sibling"));
      n.start_soon(fail_after_event(go, "child failed"));
      go.set();
      try {
        co_await never.wait();
      } catch (...) {
        log.push_back("body:cancelled");
        throw;
      }
    });
  }());
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().is_group()) << "one error comes out bare";
  EXPECT_EQ(r.error().message(), "child failed");
  EXPECT_EQ(r.error().type_name(), "(anonymous namespace)::boom");
  EXPECT_EQ(log.size(), 2u);
  EXPECT_NE(std::find(log.begin(), log.end(), "sibling:cancelled"), log.end());
  EXPECT_NE(std::find(log.begin(), log.end(), "body:cancelled"), log.end());
}

TEST(nursery_test, failed_result_counts_like_an_exception) {
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<result<void>> {
    event go;
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon(wait_and_record(never, log, "sibling"));
      n.start_soon(fail_with_result(go));
      go.set();
      co_return;
    });
  }());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::would_block);
  EXPECT_EQ(log, std::vector<std::string>{"sibling:cancelled"});
}

TEST(nursery_test, body_failure_cancels_children) {
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<result<void>> {
    co_return co_await open_nursery([&](nursery& n) -> awaitable<result<void>> {
      n.start_soon(wait_and_record(never, log, "child"));
      co_return errc::timeout;
    });
  }());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timeout);
  EXPECT_EQ(log, std::vector<std::string>{"child:cancelled"});
}

TEST(nursery_test, several_children_failing_at_once_are_all_kept) {
  for (int count : {2, 3, 25}) {
    auto r = run_async([&]() -> awaitable<result<void>> {
      event go;
      co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
        for (int i = 0; i < count; ++i) n.start_soon(fail_after_event(go, "f" + std::to_string(i)));
        go.set();  // all wake in the same turn of the loop, before any cancellation lands
        co_return;
      });
    }());
    ASSERT_FALSE(r);
    ASSERT_TRUE(r.error().is_group());
    ASSERT_EQ(r.error().group_members().size(), static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      EXPECT_EQ(r.error().group_members()[static_cast<std::size_t>(i)].message(),
                "f" + std::to_string(i));
    }
  }
}

TEST(nursery_test, error_raised_while_being_cancelled_is_kept) {
  // The sibling is cancelled by the first failure and fails again in its cleanup: both
  // errors are reported, and the cancellation itself adds nothing.
  auto r = run_async([&]() -> awaitable<result<void>> {
    event go;
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon([]() -> awaitable<void> {
        co_await tractor::finally(never.wait(), []() -> awaitable<void> {
          throw boom("cleanup failed");
          co_return;
        }());
      });
      n.start_soon(fail_after_event(go, "first"));
      go.set();
      co_return;
    });
  }());
  ASSERT_FALSE(r);
  ASSERT_TRUE(r.error().is_group());
  ASSERT_EQ(r.error().group_members().size(), 2u);
  EXPECT_EQ(r.error().group_members()[0].message(), "first");
  EXPECT_EQ(r.error().group_members()[1].message(), "cleanup failed");
}

TEST(nursery_test, error_racing_an_outer_cancellation_wins) {
  // The enclosing scope is cancelled in the same turn in which a child's failure becomes
  // due: the failure is reported, not swallowed by the cancellation.
  auto r = run_async([&]() -> awaitable<std::optional<result<void>>> {
    tractor::cancel_scope scope;
    event go;
    co_return co_await scope.run(open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon(fail_after_event(go, "raced"));
      go.set();
      scope.cancel();
      co_await never.wait();
    }));
  }());
  ASSERT_TRUE(r.has_value()) << "the nursery's error must come out, not a bare cancellation";
  ASSERT_FALSE(*r);
  EXPECT_EQ(r->error().message(), "raced");
}

TEST(nursery_test, a_task_handle_cancels_that_task_alone) {
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<result<void>> {
    event sibling_may_finish;
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      tractor::task_handle victim;
      n.start_soon(wait_and_record(never, log, "victim"), &victim);
      n.start_soon(wait_and_record(sibling_may_finish, log, "sibling"));
      victim.cancel();
      victim.cancel();  // idempotent
      co_await tractor::checkpoint();
      EXPECT_FALSE(n.cancel_called()) << "the nursery itself is not cancelled";
      sibling_may_finish.set();
    });
  }());
  ASSERT_TRUE(r) << "a task cancelled through its handle is no error: " << r.error().message();
  EXPECT_EQ(log, (std::vector<std::string>{"victim:cancelled", "sibling:done"}));
}

TEST(nursery_test, a_task_handle_is_set_before_the_task_runs) {
  auto r = run_async([&]() -> awaitable<result<void>> {
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      tractor::task_handle self;
      // The task cancels itself through its own handle in its very first step.
      auto task = [&]() -> awaitable<void> {
        self.cancel();
        co_await never.wait();
        ADD_FAILURE() << "cancelled, it never gets here";
      };
      n.start_soon(task(), &self);
      co_await tractor::checkpoint();  // `task` (and its captures) outlive the task's end
    });
  }());
  EXPECT_TRUE(r) << r.error().message();
}

TEST(nursery_test, cancel_is_not_an_error) {
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<result<void>> {
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon(wait_and_record(never, log, "a"));
      n.start_soon(wait_and_record(never, log, "b"));
      n.cancel();
      EXPECT_TRUE(n.cancel_called());
      co_await never.wait();
    });
  }());
  EXPECT_TRUE(r) << r.error().message();
  EXPECT_EQ(log, (std::vector<std::string>{"a:cancelled", "b:cancelled"}));
}

TEST(nursery_test, task_started_into_a_cancelled_nursery_does_not_run) {
  bool ran = false;
  auto r = run_async([&]() -> awaitable<result<void>> {
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.cancel();
      n.start_soon([&]() -> awaitable<void> {
        ran = true;
        co_return;
      });
      co_return;
    });
  }());
  EXPECT_TRUE(r);
  EXPECT_FALSE(ran);
}

TEST(nursery_test, nested_nurseries_propagate_errors_and_cancellation) {
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<result<void>> {
    event go;
    co_return co_await open_nursery([&](nursery& outer) -> awaitable<result<void>> {
      outer.start_soon(wait_and_record(never, log, "outer-sibling"));
      co_return co_await open_nursery([&](nursery& inner) -> awaitable<void> {
        inner.start_soon(wait_and_record(never, log, "inner-sibling"));
        inner.start_soon(fail_after_event(go, "grandchild failed"));
        go.set();
        co_return;
      });
    });
  }());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "grandchild failed");
  EXPECT_EQ(log, (std::vector<std::string>{"inner-sibling:cancelled", "outer-sibling:cancelled"}));
}

TEST(nursery_test, outer_cancellation_reaches_grandchildren) {
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<bool> {
    tractor::cancel_scope scope;
    auto ran = co_await scope.run(open_nursery([&](nursery& outer) -> awaitable<void> {
      outer.start_soon(open_nursery([&](nursery& inner) -> awaitable<void> {
        inner.start_soon(wait_and_record(never, log, "grandchild"));
        co_await never.wait();
      }));
      outer.start_soon([&]() -> awaitable<void> {
        scope.cancel();
        co_return;
      });
      co_await never.wait();
    }));
    EXPECT_TRUE(scope.cancelled_caught());
    co_return ran.has_value();
  }());
  EXPECT_FALSE(r);
  EXPECT_EQ(log, std::vector<std::string>{"grandchild:cancelled"});
}

TEST(nursery_test, start_returns_the_started_value_and_keeps_the_task) {
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<result<void>> {
    event finish;
    co_return co_await open_nursery([&](nursery& n) -> awaitable<result<void>> {
      auto port = co_await n.start<int>([&](tractor::task_status<int> status) -> awaitable<void> {
        status.started(4242);
        EXPECT_FALSE(status.started(1)) << "only the first started() counts";
        co_await finish.wait();
        log.push_back("server:finished");
      });
      if (!port) co_return port.error();
      EXPECT_EQ(port.value(), 4242);
      log.push_back("started");
      finish.set();
      co_return tractor::success();
    });
  }());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(log, (std::vector<std::string>{"started", "server:finished"}));
}

TEST(nursery_test, start_whose_task_fails_before_started_reports_to_the_caller) {
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<result<void>> {
    co_return co_await open_nursery([&](nursery& n) -> awaitable<result<void>> {
      n.start_soon(wait_and_record(never, log, "sibling"));
      auto v = co_await n.start<int>([](tractor::task_status<int>) -> awaitable<void> {
        throw boom("failed to bind");
        co_return;
      });
      EXPECT_FALSE(v);
      EXPECT_EQ(v.error().message(), "failed to bind");
      EXPECT_FALSE(n.cancel_called()) << "a failure before started() is the caller's";
      log.push_back("body:saw-error");
      n.cancel();
      co_return tractor::success();
    });
  }());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(log, (std::vector<std::string>{"body:saw-error", "sibling:cancelled"}));
}

TEST(nursery_test, start_whose_task_ends_without_started_is_an_error) {
  auto r = run_async([&]() -> awaitable<result<void>> {
    co_return co_await open_nursery([&](nursery& n) -> awaitable<result<void>> {
      auto v = co_await n.start([](tractor::task_status<>) -> awaitable<void> { co_return; });
      if (!v) co_return v.error();
      co_return tractor::success();
    });
  }());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::task_not_started);
}

TEST(nursery_test, cancelling_a_start_caller_cancels_the_unstarted_task) {
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<result<void>> {
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      auto got = co_await tractor::move_on_after(
          std::chrono::milliseconds(5), n.start([&](tractor::task_status<>) -> awaitable<void> {
            co_await wait_and_record(never, log, "starting");
          }));
      EXPECT_FALSE(got.has_value());
      log.push_back("body:moved-on");
    });
  }());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(log, (std::vector<std::string>{"starting:cancelled", "body:moved-on"}));
}

TEST(nursery_test, start_soon_with_a_capturing_lambda_keeps_its_captures_alive) {
  auto r = run_async([&]() -> awaitable<result<int>> {
    int total = 0;
    event go;
    auto res = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      for (int i = 1; i <= 3; ++i) {
        std::string label = "item" + std::to_string(i);  // captured by value, outlives this loop
        n.start_soon([&total, &go, label, i]() -> awaitable<void> {
          co_await go.wait();
          total += i * static_cast<int>(label.size());
        });
      }
      go.set();
      co_return;
    });
    if (!res) co_return res.error();
    co_return total;
  }());
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value(), (1 + 2 + 3) * 5);
}

}  // namespace
