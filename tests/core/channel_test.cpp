#include <tractor/core/memory_channel.hpp>

#include "tests/support/async_test.hpp"

#include <tractor/core/cancel_scope.hpp>
#include <tractor/core/event.hpp>
#include <tractor/core/nursery.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using tractor::awaitable;
using tractor::errc;
using tractor::event;
using tractor::memory_channel;
using tractor::nursery;
using tractor::open_nursery;
using tractor::result;
using tractor::testing::run_async;

TEST(event_test, wakes_every_waiter_and_stays_set) {
  auto r = run_async([]() -> awaitable<int> {
    event ev;
    int woken = 0;
    auto n = co_await open_nursery([&](nursery& nur) -> awaitable<void> {
      for (int i = 0; i < 3; ++i) {
        nur.start_soon([&]() -> awaitable<void> {
          co_await ev.wait();
          ++woken;
        });
      }
      EXPECT_FALSE(ev.is_set());
      ev.set();
      ev.set();  // idempotent
      co_return;
    });
    EXPECT_TRUE(n);
    co_await ev.wait();  // already set: returns at once
    co_return woken;
  }());
  EXPECT_EQ(r, 3);
}

TEST(event_test, wait_is_cancellable) {
  auto r = run_async([]() -> awaitable<bool> {
    event ev;
    auto done = co_await tractor::move_on_after(1ms, ev.wait());
    EXPECT_FALSE(ev.is_set());
    co_return done;
  }());
  EXPECT_FALSE(r);
}

TEST(memory_channel_test, delivers_in_order_with_back_pressure) {
  auto r = run_async([]() -> awaitable<std::vector<std::string>> {
    memory_channel<int> ch(2);
    std::vector<std::string> log;
    auto n = co_await open_nursery([&](nursery& nur) -> awaitable<void> {
      nur.start_soon([&]() -> awaitable<void> {
        for (int i = 0; i < 4; ++i) {
          auto s = co_await ch.send(i);
          EXPECT_TRUE(s);
          log.push_back("sent" + std::to_string(i));
        }
        ch.close();
      });
      // The sender ran until the buffer was full and is now blocked on its third item.
      EXPECT_EQ(ch.size(), 2u);
      log.push_back("receiving");
      for (;;) {
        auto v = co_await ch.receive();
        if (!v) {
          EXPECT_EQ(v.error(), errc::end_of_channel);
          break;
        }
        log.push_back("got" + std::to_string(v.value()));
      }
    });
    EXPECT_TRUE(n);
    co_return log;
  }());
  EXPECT_EQ(r.front(), "sent0");
  EXPECT_EQ(r[1], "sent1");
  EXPECT_EQ(r[2], "receiving");
  std::vector<std::string> got;
  for (auto& s : r) {
    if (s.rfind("got", 0) == 0) got.push_back(s);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"got0", "got1", "got2", "got3"}));
}

TEST(memory_channel_test, close_drains_then_ends_and_refuses_senders) {
  run_async([]() -> awaitable<void> {
    memory_channel<std::string> ch(1);
    EXPECT_TRUE(ch.try_send("kept"));
    EXPECT_EQ(ch.try_send("full").error(), errc::would_block);
    auto n = co_await open_nursery([&](nursery& nur) -> awaitable<void> {
      nur.start_soon([&]() -> awaitable<void> {
        auto s = co_await ch.send("blocked");  // buffer full: waits, then the channel closes
        EXPECT_FALSE(s);
        EXPECT_EQ(s.error(), errc::channel_closed);
      });
      ch.close();
      co_return;
    });
    EXPECT_TRUE(n);
    EXPECT_EQ((co_await ch.send("late")).error(), errc::channel_closed);
    auto first = co_await ch.receive();
    EXPECT_TRUE(first && first.value() == "kept");
    for (int i = 0; i < 3; ++i) {  // end of channel, every time
      auto again = co_await ch.receive();
      EXPECT_FALSE(again);
      EXPECT_EQ(again.error(), errc::end_of_channel);
    }
    EXPECT_EQ(ch.try_receive().error(), errc::end_of_channel);
  }());
}

TEST(memory_channel_test, zero_capacity_is_a_rendezvous) {
  auto r = run_async([]() -> awaitable<std::vector<std::string>> {
    memory_channel<int> ch(0);
    std::vector<std::string> log;
    EXPECT_EQ(ch.try_send(1).error(), errc::would_block);
    auto n = co_await open_nursery([&](nursery& nur) -> awaitable<void> {
      nur.start_soon([&]() -> awaitable<void> {
        co_await ch.send(5);
        log.push_back("send-returned");
      });
      log.push_back("before-receive");
      auto v = co_await ch.receive();
      log.push_back("received" + std::to_string(v.value()));
    });
    EXPECT_TRUE(n);
    co_return log;
  }());
  EXPECT_EQ(r, (std::vector<std::string>{"before-receive", "received5", "send-returned"}));
}

TEST(memory_channel_test, in_place_sends_and_receives_into_a_kept_item) {
  auto r = run_async([]() -> awaitable<std::vector<std::string>> {
    memory_channel<std::string> ch(2);
    std::vector<std::string> log;
    EXPECT_TRUE(ch.try_emplace(3u, 'a'));
    EXPECT_TRUE(ch.try_emplace("bb"));
    std::string kept = "old";
    EXPECT_EQ(ch.try_emplace("never made").error(), errc::would_block);
    auto n = co_await open_nursery([&](nursery& nur) -> awaitable<void> {
      nur.start_soon([&]() -> awaitable<void> {
        co_await ch.send("cc");  // waits for room: the receive below moves it into the buffer
        log.push_back("sent");
      });
      co_await tractor::checkpoint();  // the sender is now waiting
      for (int i = 0; i < 3; ++i) {
        if (ch.try_receive(kept)) log.push_back(kept);
      }
      EXPECT_EQ(ch.try_receive(kept).error(), errc::would_block);
      EXPECT_EQ(kept, "cc") << "a failed receive leaves the kept item alone";
      ch.close();
      co_return;
    });
    EXPECT_TRUE(n);
    EXPECT_EQ(ch.try_receive(kept).error(), errc::end_of_channel);
    co_return log;
  }());
  EXPECT_EQ(r, (std::vector<std::string>{"aaa", "bb", "cc", "sent"}));
}

TEST(memory_channel_test, a_kept_item_receives_from_a_waiting_sender_without_a_buffer) {
  auto r = run_async([]() -> awaitable<int> {
    memory_channel<int> ch(0);
    int kept = 0;
    auto n = co_await open_nursery([&](nursery& nur) -> awaitable<void> {
      nur.start_soon([&]() -> awaitable<void> { (void)co_await ch.send(9); });
      co_await tractor::checkpoint();  // the sender is now waiting
      EXPECT_TRUE(ch.try_receive(kept));
    });
    EXPECT_TRUE(n);
    co_return kept;
  }());
  EXPECT_EQ(r, 9);
}

TEST(memory_channel_test, cancelled_receive_consumes_nothing) {
  auto r = run_async([]() -> awaitable<int> {
    memory_channel<int> ch(4);
    auto missed = co_await tractor::move_on_after(1ms, ch.receive());
    EXPECT_FALSE(missed.has_value());
    EXPECT_TRUE(ch.try_send(9));
    auto v = co_await ch.receive();
    co_return v.value();
  }());
  EXPECT_EQ(r, 9);
}

TEST(memory_channel_test, cancelled_send_withdraws_its_item) {
  auto r = run_async([]() -> awaitable<std::vector<int>> {
    memory_channel<int> ch(1);
    EXPECT_TRUE(ch.try_send(1));
    auto sent = co_await tractor::move_on_after(1ms, ch.send(2));  // buffer full: blocks
    EXPECT_FALSE(sent.has_value());
    EXPECT_TRUE(ch.try_send(3).error() == errc::would_block);
    std::vector<int> got;
    got.push_back((co_await ch.receive()).value());
    EXPECT_TRUE(ch.try_send(3));
    ch.close();
    while (auto v = co_await ch.receive()) got.push_back(v.value());
    co_return got;
  }());
  EXPECT_EQ(r, (std::vector<int>{1, 3}));
}

TEST(memory_channel_test, many_producers_one_consumer_lose_nothing) {
  auto r = run_async([]() -> awaitable<long> {
    memory_channel<int> ch(3);
    long sum = 0;
    int producers_left = 4;
    auto n = co_await open_nursery([&](nursery& nur) -> awaitable<void> {
      for (int p = 0; p < 4; ++p) {
        nur.start_soon([&, p]() -> awaitable<void> {
          for (int i = 0; i < 250; ++i) co_await ch.send(p * 1000 + i);
          if (--producers_left == 0) ch.close();
        });
      }
      while (auto v = co_await ch.receive()) sum += v.value();
    });
    EXPECT_TRUE(n);
    co_return sum;
  }());
  long expected = 0;
  for (int p = 0; p < 4; ++p)
    for (int i = 0; i < 250; ++i) expected += p * 1000 + i;
  EXPECT_EQ(r, expected);
}

}  // namespace
