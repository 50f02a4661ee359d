// How a side of a ring in shared memory looks again before it sleeps (shm/detail/look.hpp):
// the look begins within the caller's turn and lets its loop's other work run, gives up after
// its window and does not start where it cannot help; a cancelled caller stops looking;
// TRACTOR_SHM_SPIN_US is read and checked.
// And the transport with both sides on two CPUs, where each side looks while the other works,
// carries the same traffic looking and not looking (TRACTOR_SHM_SPIN_US=0).
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/core/cancel_scope.hpp>
#include <tractor/core/nursery.hpp>
#include <tractor/shm/detail/look.hpp>
#include <tractor/transport/channel.hpp>
#include <tractor/transport/shm.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/cpus.hpp"
#include "tests/wire/shm_support.hpp"
#include "tests/wire/traffic.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <initializer_list>
#include <thread>

namespace tractor::testing {
namespace {

namespace tp = tractor::transport;
namespace m = tractor::msg;
namespace sd = tractor::shm_detail;
using namespace std::chrono_literals;
using shm_wire_tests::fresh_addr;
using shm_wire_tests::open_fds;
using traffic::pattern;

// A peer's CPU no thread runs on: looking can always help.
const std::atomic<std::uint32_t> elsewhere{0xffff'ffffu};

TEST(shm_spin, a_look_lets_the_loops_other_work_run_and_sees_what_it_does) {
  run_async([]() -> awaitable<void> {
    bool set = false;
    bool seen = false;
    (void)co_await open_nursery([&](nursery& n) -> awaitable<void> {
      const auto is_set = [&] { return set; };
      n.start_soon("looker", [&, is_set]() -> awaitable<void> { seen = co_await sd::look_for(elsewhere, 10s, is_set); });
      n.start_soon("setter", [&]() -> awaitable<void> {
        set = true;
        co_return;
      });
      co_return;
    });
    EXPECT_TRUE(seen);
  }());
}

// A look begins within the caller's turn of the event loop: what is ready then is seen
// without a turn (which costs a system call), before the loop's other work runs.
TEST(shm_spin, a_look_begins_within_the_turn) {
  run_async([]() -> awaitable<void> {
    bool turned = false;
    bool turned_before_the_look_ended = true;
    bool seen = false;
    (void)co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon("looker", [&]() -> awaitable<void> {
        seen = co_await sd::look_for(elsewhere, 10s, [] { return true; });
        turned_before_the_look_ended = turned;
      });
      n.start_soon("other work", [&]() -> awaitable<void> {
        turned = true;
        co_return;
      });
      co_return;
    });
    EXPECT_TRUE(seen);
    EXPECT_TRUE(turned);
    EXPECT_FALSE(turned_before_the_look_ended);
  }());
}

TEST(shm_spin, a_look_gives_up_after_its_window) {
  run_async([]() -> awaitable<void> {
    const auto never = [] { return false; };
    EXPECT_FALSE(co_await sd::look_for(elsewhere, 2ms, never));
  }());
}

// Where looking cannot help, nothing is looked at, even what would be ready: a window of 0, a
// peer not seen working, a peer on this thread's CPU (the thread pinned, so that it stays
// there).
TEST(shm_spin, no_look_where_it_cannot_help) {
  std::thread pinned([] {
    pin_this_thread(usable_cpus().front());
    run_async([]() -> awaitable<void> {
      int looks = 0;
      const auto ready = [&] { return ++looks > 0; };
      const std::atomic<std::uint32_t> unseen{0};
      const std::atomic<std::uint32_t> here{sd::cpu_tag()};
      EXPECT_FALSE(co_await sd::look_for(elsewhere, 0us, ready));
      EXPECT_FALSE(co_await sd::look_for(unseen, 10s, ready));
      EXPECT_FALSE(co_await sd::look_for(here, 10s, ready));
      EXPECT_EQ(looks, 0);
      EXPECT_TRUE(co_await sd::look_for(elsewhere, 10s, ready));
    }());
  });
  pinned.join();
}

// A window far longer than the watchdog: the look ends only because it is cancelled, also
// with Asio's own check turned off (as the runtime does around some waits).
TEST(shm_spin, a_cancelled_look_stops_looking) {
  run_async([]() -> awaitable<void> {
    bool looked_to_the_end = false;
    const auto never = [] { return false; };
    auto look = [&]() -> awaitable<void> {
      co_await boost::asio::this_coro::throw_if_cancelled(false);
      (void)co_await sd::look_for(elsewhere, std::chrono::hours(1), never);
      looked_to_the_end = true;
    };
    const bool finished = co_await move_on_after(5ms, look());
    EXPECT_FALSE(finished);
    EXPECT_FALSE(looked_to_the_end);
  }());
}

// Each of `wrong` in environment variable `var` makes `read()` fail with an error naming `var`;
// `var` is unset afterwards.
template <class Read>
void expect_each_refused(const char* var, std::initializer_list<const char*> wrong, Read read) {
  for (const char* value : wrong) {
    ::setenv(var, value, 1);
    auto r = read();
    EXPECT_FALSE(r) << var << "=" << value;
    if (!r) {
      EXPECT_NE(r.error().message().find(var), std::string::npos) << r.error().message();
    }
  }
  ::unsetenv(var);
}

TEST(shm_spin, the_window_is_read_from_the_environment_and_checked) {
  ::unsetenv("TRACTOR_SHM_SPIN_US");
  EXPECT_EQ(tp::shm_spin().value(), 50us);
  ::setenv("TRACTOR_SHM_SPIN_US", "0", 1);
  EXPECT_EQ(tp::shm_spin().value(), 0us);
  ::setenv("TRACTOR_SHM_SPIN_US", "250", 1);
  EXPECT_EQ(tp::shm_spin().value(), 250us);
  expect_each_refused("TRACTOR_SHM_SPIN_US", {"-1", "abc", "12us", "2000000"}, [] { return tp::shm_spin(); });
}

// The rings' size goes through the same reading of the environment.
TEST(shm_spin, the_ring_size_is_read_from_the_environment_and_checked) {
  ::unsetenv("TRACTOR_SHM_RING_BYTES");
  EXPECT_EQ(tp::shm_ring_bytes().value(), std::size_t{1} << 20);
  ::setenv("TRACTOR_SHM_RING_BYTES", "4096", 1);
  EXPECT_EQ(tp::shm_ring_bytes().value(), 4096u);
  expect_each_refused("TRACTOR_SHM_RING_BYTES",
                      {"-4096", "+4096", " 4096", "4096B", "3000", "2048", "2147483648", "99999999999999999999999"},
                      [] { return tp::shm_ring_bytes(); });
}

constexpr int round_trips = 500;

// The connecting side: round trips of numbered messages, then one large message that a 4 KiB
// ring carries in parts (the writer waits for room), answered by a Stop.
awaitable<void> client_side(tp::channel& ch) {
  for (int i = 0; i < round_trips; ++i) {
    m::msg y = m::Yield{std::to_string(i), m::raw_pld{pattern(40 + i % 200, static_cast<unsigned>(i))}};
    EXPECT_TRUE(co_await ch.send(std::move(y)));
    auto back = co_await ch.receive();
    EXPECT_TRUE(back);
    if (!back) co_return;
    EXPECT_EQ(std::get<m::Yield>(back.value()).pld.bytes, pattern(40 + i % 200, static_cast<unsigned>(i)));
  }
  m::msg big = m::Yield{"big", m::raw_pld{pattern(3u << 20, 7)}};
  EXPECT_TRUE(co_await ch.send(std::move(big)));
  auto done = co_await ch.receive();
  EXPECT_TRUE(done && std::holds_alternative<m::Stop>(done.value()));
}

// The accepting side: echoes each numbered message, checks the large one, says it is done.
awaitable<void> server_side(tp::channel& ch) {
  for (int i = 0; i < round_trips; ++i) {
    auto got = co_await ch.receive();
    EXPECT_TRUE(got);
    if (!got) co_return;
    EXPECT_EQ(std::get<m::Yield>(got.value()).cid, std::to_string(i));
    EXPECT_TRUE(co_await ch.send(std::move(got).value()));
  }
  auto big = co_await ch.receive();
  EXPECT_TRUE(big);
  if (!big) co_return;
  EXPECT_EQ(std::get<m::Yield>(big.value()).pld.bytes, pattern(3u << 20, 7));
  m::msg done = m::Stop{"done"};
  EXPECT_TRUE(co_await ch.send(std::move(done)));
}

// The handshake on `s` (the connecting side proves, the accepting side checks), then `side`
// over the channel.
awaitable<void> after_handshake(tp::stream_socket s, bool connecting, awaitable<void> (*side)(tp::channel&)) {
  std::optional<result<std::unique_ptr<tp::secure_stream>>> session;
  if (connecting) {
    session = co_await tp::shm::prove(s);
  } else {
    session = co_await tp::shm::check(s);
  }
  EXPECT_TRUE(*session) << (*session ? "" : session->error().message());
  if (!*session) co_return;
  auto ch = tp::channel::make<codec::cereal_binary>(tp::connection{std::move(s), std::move(*session).value()});
  co_await side(*ch);
}

// Each side on a thread of its own with a loop of its own, the two threads on two CPUs.
void carry_on_two_cpus(int client_cpu, int server_cpu) {
  boost::asio::io_context server_ctx;
  auto l = tp::shm::listen(server_ctx.get_executor(), fresh_addr());
  ASSERT_TRUE(l);
  const auto address = l.value().address();
  std::thread server([&] {
    pin_this_thread(server_cpu);
    run_async(server_ctx, [&]() -> awaitable<void> {
      auto s = co_await l.value().accept();
      EXPECT_TRUE(s);
      if (s) co_await after_handshake(std::move(s).value(), false, server_side);
    }());
  });
  std::thread client([&] {
    pin_this_thread(client_cpu);
    boost::asio::io_context ctx;
    run_async(ctx, [&]() -> awaitable<void> {
      auto s = co_await tp::shm::connect(ctx.get_executor(), address);
      EXPECT_TRUE(s);
      if (s) co_await after_handshake(std::move(s).value(), true, client_side);
    }());
  });
  client.join();
  server.join();
}

TEST(shm_spin, both_sides_on_two_cpus_carry_the_same_traffic_looking_and_not) {
  const auto cpus = usable_cpus();
  if (cpus.size() < 2) GTEST_SKIP() << "needs two CPUs";
  const std::size_t fds = open_fds();
  ::setenv("TRACTOR_SHM_RING_BYTES", "4096", 1);
  for (const char* spin : {"50", "0", "100000"}) {
    SCOPED_TRACE(std::string("TRACTOR_SHM_SPIN_US=") + spin);
    ::setenv("TRACTOR_SHM_SPIN_US", spin, 1);
    carry_on_two_cpus(cpus[0], cpus[1]);
  }
  ::unsetenv("TRACTOR_SHM_SPIN_US");
  ::unsetenv("TRACTOR_SHM_RING_BYTES");
  EXPECT_EQ(open_fds(), fds) << "a descriptor outlived the test";
}

}  // namespace
}  // namespace tractor::testing
