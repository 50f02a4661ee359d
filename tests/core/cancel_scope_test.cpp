#include <tractor/core/cancel_scope.hpp>

#include "tests/support/async_test.hpp"

#include <tractor/core/event.hpp>

#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using tractor::awaitable;
using tractor::cancel_scope;
using tractor::errc;
using tractor::event;
using tractor::nursery;
using tractor::open_nursery;
using tractor::result;
using tractor::testing::run_async;
namespace asio = boost::asio;

event never;

awaitable<int> value_after(event& ev, int v) {
  co_await ev.wait();
  co_return v;
}

awaitable<int> ready_value(int v) { co_return v; }

TEST(cancel_scope_test, move_on_after_gives_nothing_when_the_deadline_passes) {
  auto r = run_async([]() -> awaitable<std::optional<int>> {
    co_return co_await tractor::move_on_after(1ms, value_after(never, 1));
  }());
  EXPECT_FALSE(r.has_value());
}

TEST(cancel_scope_test, move_on_after_gives_the_value_in_time) {
  auto r = run_async([]() -> awaitable<std::optional<int>> {
    co_return co_await tractor::move_on_after(10s, ready_value(7));
  }());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 7);
}

TEST(cancel_scope_test, fail_after_times_out_with_an_error) {
  auto r = run_async([]() -> awaitable<result<int>> {
    co_return co_await tractor::fail_after(1ms, value_after(never, 1));
  }());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timeout);

  // A body returning result<U> gives result<U>, not result<result<U>>.
  auto flat = run_async([]() -> awaitable<result<int>> {
    co_return co_await tractor::fail_after(10s, []() -> awaitable<result<int>> {
      co_return errc::would_block;
    }());
  }());
  ASSERT_FALSE(flat);
  EXPECT_EQ(flat.error(), errc::would_block);
}

TEST(cancel_scope_test, explicit_cancel_from_a_sibling_task) {
  auto r = run_async([]() -> awaitable<result<void>> {
    cancel_scope scope;
    event armed;
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon([&]() -> awaitable<void> {
        co_await armed.wait();
        scope.cancel();
      });
      auto got = co_await scope.run([&]() -> awaitable<int> {
        armed.set();
        co_return co_await value_after(never, 3);
      }());
      EXPECT_FALSE(got.has_value());
      EXPECT_TRUE(scope.cancel_called());
      EXPECT_TRUE(scope.cancelled_caught());
    });
  }());
  EXPECT_TRUE(r) << r.error().message();
}

TEST(cancel_scope_test, cancelled_before_running_never_starts_the_work) {
  bool ran = false;
  auto r = run_async([&]() -> awaitable<bool> {
    cancel_scope scope;
    scope.cancel();
    co_return co_await scope.run([&]() -> awaitable<void> {
      ran = true;
      co_return;
    }());
  }());
  EXPECT_FALSE(r);
  EXPECT_FALSE(ran);
}

TEST(cancel_scope_test, deadline_interrupts_a_pending_socket_read) {
  auto r = run_async([]() -> awaitable<std::string> {
    auto ex = co_await asio::this_coro::executor;
    asio::local::stream_protocol::socket a(ex), b(ex);
    asio::local::connect_pair(a, b);
    std::array<char, 5> buf{};
    auto timed_out = co_await tractor::fail_after(
        5ms, asio::async_read(a, asio::buffer(buf), asio::use_awaitable));
    EXPECT_FALSE(timed_out);
    EXPECT_EQ(timed_out.error(), errc::timeout);
    // The socket is unharmed: the next read gets what is written now.
    co_await asio::async_write(b, asio::buffer(std::string("hello")), asio::use_awaitable);
    co_await asio::async_read(a, asio::buffer(buf), asio::use_awaitable);
    co_return std::string(buf.data(), buf.size());
  }());
  EXPECT_EQ(r, "hello");
}

TEST(cancel_scope_test, scope_does_not_absorb_its_callers_cancellation) {
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<std::optional<int>> {
    cancel_scope outer;
    auto got = co_await outer.run([&]() -> awaitable<int> {
      cancel_scope inner;
      try {
        co_await inner.run([&]() -> awaitable<void> {
          outer.cancel();
          co_await never.wait();
        }());
      } catch (...) {
        log.push_back(tractor::is_cancellation(std::current_exception()) ? "inner:passed-through"
                                                                         : "inner:error");
        EXPECT_FALSE(inner.cancelled_caught());
        throw;
      }
      co_return 1;
    }());
    EXPECT_TRUE(outer.cancelled_caught());
    co_return got;
  }());
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(log, std::vector<std::string>{"inner:passed-through"});
}

TEST(cancel_scope_test, cancellation_is_level_triggered) {
  // Swallowing the cancellation does not help: every later wait is interrupted too.
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<bool> {
    co_return co_await tractor::move_on_after(1ms, [&]() -> awaitable<void> {
      try {
        co_await never.wait();
      } catch (...) {
        log.push_back("first");
      }
      try {
        co_await tractor::sleep_for(10s);
      } catch (...) {
        log.push_back("second");
        throw;
      }
    }());
  }());
  EXPECT_FALSE(r);
  EXPECT_EQ(log, (std::vector<std::string>{"first", "second"}));
}

TEST(cancel_scope_test, shielded_cleanup_still_runs_after_cancel) {
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<bool> {
    event cleanup_may_finish;
    auto finished = co_await tractor::move_on_after(1ms, tractor::finally(
        [&]() -> awaitable<void> {
          co_await never.wait();
        }(),
        [&]() -> awaitable<void> {
          log.push_back("cleanup:start");
          // Real waits inside the cleanup, after the cancellation: they must not be refused.
          co_await tractor::sleep_for(1ms);
          co_await open_nursery([&](nursery& n) -> awaitable<void> {
            n.start_soon([&]() -> awaitable<void> {
              cleanup_may_finish.set();
              co_return;
            });
            co_await cleanup_may_finish.wait();
          });
          log.push_back("cleanup:done");
        }()));
    co_return finished;
  }());
  EXPECT_FALSE(r);
  EXPECT_EQ(log, (std::vector<std::string>{"cleanup:start", "cleanup:done"}));
}

// on_cancel: a body that finishes returns its value and no cleanup runs; a cancelled one
// has its cleanup run to completion (with real waits), shielded, and the cancellation goes on.
TEST(cancel_scope_test, on_cancel_cleans_up_only_after_a_cancellation) {
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<int> {
    auto cleanup = [&](const char* what) -> awaitable<void> {
      co_await tractor::checkpoint();  // a wait inside the cleanup: not refused
      log.push_back(what);
    };
    const int seven = co_await tractor::on_cancel([]() -> awaitable<int> { co_return 7; }(), cleanup("finished"));
    auto interrupted = co_await tractor::move_on_after(
        1ms, tractor::on_cancel([&]() -> awaitable<int> {
          co_await never.wait();
          co_return 0;
        }(), cleanup("cancelled")));
    co_return interrupted ? -1 : seven;
  }());
  EXPECT_EQ(r, 7);
  EXPECT_EQ(log, (std::vector<std::string>{"cancelled"}));
}

TEST(cancel_scope_test, shield_keeps_outer_cancellation_out_until_it_is_done) {
  std::vector<std::string> log;
  auto r = run_async([&]() -> awaitable<result<void>> {
    cancel_scope outer;
    event in_shield, release;
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon([&]() -> awaitable<void> {
        co_await in_shield.wait();
        outer.cancel();  // arrives while the shielded work is waiting
        release.set();
      });
      auto done = co_await outer.run([&]() -> awaitable<void> {
        co_await tractor::shield([&]() -> awaitable<void> {
          in_shield.set();
          co_await release.wait();
          log.push_back("shielded:done");
        }());
        co_await tractor::checkpoint();  // the first checkpoint after the shield
        log.push_back("after-shield:unreachable");
      }());
      EXPECT_FALSE(done);
      log.push_back("outer:caught");
    });
  }());
  EXPECT_TRUE(r) << r.error().message();
  EXPECT_EQ(log, (std::vector<std::string>{"shielded:done", "outer:caught"}));
}

// The shield with a notice: the caller's cancellation does not interrupt the work, it tells
// it (once), and the work ends in its own way; the caller's next wait is then interrupted.
TEST(cancel_scope_test, a_shield_with_a_notice_tells_its_work_instead_of_interrupting_it) {
  std::vector<std::string> log;
  int notices = 0;
  auto r = run_async([&]() -> awaitable<result<void>> {
    cancel_scope outer;
    event waiting, told;
    co_return co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon([&]() -> awaitable<void> {
        co_await waiting.wait();
        outer.cancel();
        outer.cancel();  // told once however often
      });
      auto done = co_await outer.run([&]() -> awaitable<void> {
        // (Named: a coroutine lambda must outlive the coroutine it makes.)
        auto body = [&]() -> awaitable<int> {
          waiting.set();
          co_await told.wait();  // not interrupted: woken by the notice
          log.push_back("work:told");
          co_await tractor::checkpoint();  // still shielded: no interruption
          co_return 7;
        };
        auto work = body();
        std::function<void()> notice = [&] {
          ++notices;
          told.set();
        };
        const int v = co_await tractor::shield(std::move(work), std::move(notice));
        log.push_back("value:" + std::to_string(v));
        co_await tractor::checkpoint();  // the caller's first wait after the shield
        log.push_back("after-shield:unreachable");
      }());
      EXPECT_FALSE(done);
      log.push_back("outer:caught");
    });
  }());
  EXPECT_TRUE(r) << r.error().message();
  EXPECT_EQ(notices, 1);
  EXPECT_EQ(log, (std::vector<std::string>{"work:told", "value:7", "outer:caught"}));
}

// Cancelled before the shield waits for its work (here by the work itself, as it starts),
// the shield tells its work as soon as it waits.
TEST(cancel_scope_test, a_shield_cancelled_as_its_work_starts_tells_it_when_it_waits) {
  int notices = 0;
  const int r = run_async([&]() -> awaitable<int> {
    cancel_scope outer;
    event told;
    int v = 0;
    auto done = co_await outer.run([&]() -> awaitable<void> {
      auto body = [&]() -> awaitable<int> {
        outer.cancel();
        co_return co_await value_after(told, 5);
      };
      auto work = body();
      std::function<void()> notice = [&] {
        ++notices;
        told.set();
      };
      v = co_await tractor::shield(std::move(work), std::move(notice));
    }());
    EXPECT_TRUE(done);  // the work returned (no wait of its own came after the shield)
    co_return v;
  }());
  EXPECT_EQ(r, 5);
  EXPECT_EQ(notices, 1);
}

TEST(cancel_scope_test, deadline_can_move_while_running) {
  auto r = run_async([]() -> awaitable<std::vector<std::string>> {
    std::vector<std::string> log;
    // Extended: the work finishes although the first deadline has passed meanwhile.
    cancel_scope extended(tractor::clock::now() + 1ms);
    extended.set_deadline(tractor::clock::now() + 60s);
    event go;
    auto got = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon([&]() -> awaitable<void> {
        co_await tractor::sleep_for(5ms);
        go.set();
      });
      auto v = co_await extended.run(value_after(go, 5));
      log.push_back(v ? "extended:value" : "extended:cancelled");
    });
    EXPECT_TRUE(got);
    // Shortened: a scope with no deadline gets one while it waits.
    cancel_scope shortened;
    auto v = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      event started;
      n.start_soon([&]() -> awaitable<void> {
        co_await started.wait();
        shortened.set_deadline(tractor::clock::now());
      });
      auto w = co_await shortened.run([&]() -> awaitable<int> {
        started.set();
        co_return co_await value_after(never, 1);
      }());
      log.push_back(w ? "shortened:value" : "shortened:cancelled");
    });
    EXPECT_TRUE(v);
    // Extended while it waits: the deadline armed first no longer counts.
    cancel_scope moved(tractor::clock::now() + 20ms);
    event later;
    auto m = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      event running;
      n.start_soon([&]() -> awaitable<void> {
        co_await running.wait();
        moved.set_deadline(tractor::clock::now() + 60s);
        co_await tractor::sleep_for(40ms);  // past the first deadline
        later.set();
      });
      auto w = co_await moved.run([&]() -> awaitable<int> {
        running.set();
        co_return co_await value_after(later, 2);
      }());
      log.push_back(w ? "moved:value" : "moved:cancelled");
    });
    EXPECT_TRUE(m);
    co_return log;
  }());
  EXPECT_EQ(r, (std::vector<std::string>{"extended:value", "shortened:cancelled", "moved:value"}));
}

TEST(cancel_scope_test, exceptions_pass_through_a_scope) {
  EXPECT_THROW(run_async([]() -> awaitable<std::optional<int>> {
                 co_return co_await tractor::move_on_after(10s, []() -> awaitable<int> {
                   throw std::logic_error("bad");
                   co_return 0;
                 }());
               }()),
               std::logic_error);
}

}  // namespace
