#include <tractor/core/capacity_limiter.hpp>

#include "tests/support/async_test.hpp"

#include <tractor/core/event.hpp>
#include <tractor/core/nursery.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <vector>

namespace {

using tractor::awaitable;
using tractor::capacity_limiter;
using tractor::event;
using tractor::nursery;
using tractor::open_nursery;
using tractor::result;
using tractor::testing::run_async;

/// Takes a slot of `limit`, noting when it got one and how many were held then, and holds it
/// until `release` is set.
awaitable<void> hold(capacity_limiter& limit, int who, event& release, std::vector<int>& order, std::size_t& most) {
  auto slot = co_await limit.acquire();
  order.push_back(who);
  most = std::max(most, limit.borrowed());
  co_await release.wait();
}

TEST(capacity_limiter_test, lends_at_most_its_total_to_the_longest_waiters_first) {
  std::vector<int> order;
  std::size_t most = 0;
  auto r = run_async([&]() -> awaitable<result<void>> {
    capacity_limiter limit(2);
    std::array<event, 5> release;
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      for (int i = 0; i < 5; ++i) n.start_soon(hold(limit, i, release[static_cast<std::size_t>(i)], order, most));
      EXPECT_EQ(order, (std::vector<int>{0, 1}));  // the others wait
      release[1].set();                            // 1's slot goes to 2, the longest waiter
      release[0].set();                            // and 0's to 3
      while (order.size() < 4) co_await boost::asio::post(boost::asio::use_awaitable);
      EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
      release[2].set();
      release[3].set();
      release[4].set();
    });
  }());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(most, 2u);
}

TEST(capacity_limiter_test, a_cancelled_waiter_holds_nothing) {
  std::vector<int> order;
  std::size_t most = 0;
  std::size_t borrowed_at_end = 99;
  auto r = run_async([&]() -> awaitable<result<void>> {
    capacity_limiter limit(1);
    event release_a, release_c, never;
    co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon(hold(limit, 0, release_a, order, most));
      tractor::task_handle waiter;
      n.start_soon(hold(limit, 1, never, order, most), &waiter);
      waiter.cancel();  // it leaves the queue without a slot
      release_a.set();
      n.start_soon(hold(limit, 2, release_c, order, most));
      while (order.size() < 2) co_await boost::asio::post(boost::asio::use_awaitable);
      release_c.set();
    });
    borrowed_at_end = limit.borrowed();
    co_return tractor::success();
  }());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(order, (std::vector<int>{0, 2}));
  EXPECT_EQ(borrowed_at_end, 0u);
}

TEST(capacity_limiter_test, raising_the_total_lets_waiters_in) {
  std::vector<int> order;
  std::size_t most = 0;
  auto r = run_async([&]() -> awaitable<result<void>> {
    capacity_limiter limit(1);
    event release;
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      for (int i = 0; i < 3; ++i) n.start_soon(hold(limit, i, release, order, most));
      EXPECT_EQ(order.size(), 1u);
      limit.set_total(3);
      while (order.size() < 3) co_await boost::asio::post(boost::asio::use_awaitable);
      EXPECT_EQ(limit.borrowed(), 3u);
      release.set();
    });
  }());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(most, 3u);
}

}  // namespace
