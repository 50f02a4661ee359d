#include <tractor/core/blocking_worker.hpp>

#include "tests/support/async_test.hpp"

#include <tractor/core/cancel_scope.hpp>
#include <tractor/core/nursery.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using tractor::awaitable;
using tractor::blocking_worker;
using tractor::nursery;
using tractor::open_nursery;
using tractor::result;
using tractor::testing::run_async;

/// Yields to the loop until `flag` is set (by the worker's thread).
awaitable<void> until(const std::atomic<bool>& flag) {
  while (!flag) co_await boost::asio::post(boost::asio::use_awaitable);
}

TEST(blocking_worker_test, a_call_blocks_its_thread_not_the_loop_and_calls_run_in_order) {
  blocking_worker worker;
  std::promise<int> go;
  std::atomic<bool> started{false};
  std::vector<int> order;  // written by the worker's thread only
  int first = 0;
  int second = 0;
  const auto loop_thread = std::this_thread::get_id();
  std::thread::id call_thread;
  auto r = run_async([&]() -> awaitable<result<void>> {
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon([&]() -> awaitable<void> {
        first = co_await worker.run([&] {
          call_thread = std::this_thread::get_id();
          started = true;
          order.push_back(1);
          return go.get_future().get() * 2;  // blocks until the loop below answers
        });
      });
      n.start_soon([&]() -> awaitable<void> {
        second = co_await worker.run([&] {
          order.push_back(2);
          return 7;
        });
      });
      co_await until(started);  // the loop runs while the first call blocks
      go.set_value(21);
    });
  }());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(first, 42);
  EXPECT_EQ(second, 7);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_NE(call_thread, loop_thread);
}

TEST(blocking_worker_test, an_exception_of_the_call_reaches_its_caller) {
  blocking_worker worker;
  bool caught = false;
  run_async([&]() -> awaitable<void> {
    try {
      co_await worker.run([]() -> int { throw std::runtime_error("refused"); });
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "refused";
    }
  }());
  EXPECT_TRUE(caught);
}

TEST(blocking_worker_test, a_cancelled_caller_gets_what_the_call_made_then_sees_the_cancellation) {
  blocking_worker worker;
  std::promise<void> go;
  std::atomic<bool> started{false};
  int got = 0;
  bool went_on = false;
  auto r = run_async([&]() -> awaitable<result<void>> {
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon([&]() -> awaitable<void> {
        got = co_await worker.run([&] {
          started = true;
          go.get_future().wait();
          return 5;
        });
        co_await tractor::checkpoint();
        went_on = true;
      });
      co_await until(started);
      n.cancel();      // while the call blocks
      go.set_value();  // it ends only now
    });
  }());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(got, 5) << "what the call made reached its caller";
  EXPECT_FALSE(went_on) << "the caller's next wait saw the cancellation";
}

}  // namespace
