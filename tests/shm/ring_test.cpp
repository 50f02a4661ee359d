// Shared-memory rings within one process (the owner's mapping and an attached one, as two
// actors would have): messages whole and in order across the ring's end, waits for room and
// for data, cancellation, closing, the owner's cleanup, a corrupted header (fuzzed), which
// gives errors and never a read or write outside the segment, and the two sides on two CPUs,
// looking again before they sleep and not. A peer in another process: ring_peer_test.cpp.
#include <tractor/core.hpp>
#include <tractor/shm.hpp>

#include "tests/shm/ring_support.hpp"
#include "tests/support/async_test.hpp"
#include "tests/support/cpus.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace tractor;
using tractor::testing::pattern;
using tractor::testing::receive_cancelled_while_waiting;
using tractor::testing::run_async;
using tractor::testing::unique_key;

/// An owner's ring of `capacity` bytes and an attachment to it, on the current executor.
struct ring_pair {
  shm_ring owner;
  shm_ring peer;
};
awaitable<result<ring_pair>> make_pair_of(std::size_t capacity) {
  const auto ex = co_await boost::asio::this_coro::executor;
  auto owner = open_shm_ring(ex, unique_key("ring"), capacity);
  if (!owner) co_return owner.error();
  auto peer = attach_shm_ring(ex, owner.value().token());
  if (!peer) co_return peer.error();
  co_return ring_pair{std::move(owner).value(), std::move(peer).value()};
}

TEST(shm_ring_test, messages_arrive_whole_and_in_order_across_the_ring_s_end) {
  auto r = run_async([]() -> awaitable<result<void>> {
    BOOST_OUTCOME_CO_TRY(auto rings, co_await make_pair_of(256));
    std::size_t received = 0;
    std::string failure;
    auto outcome = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon("sender", [&]() -> awaitable<void> {
        for (std::size_t i = 0; i < 2000; ++i) {
          const auto m = pattern(i % 241, i);  // up to 240 bytes: most sends wait for room
          auto sent = co_await rings.owner.send(m);
          if (!sent) failure = "send " + std::to_string(i) + ": " + sent.error().message();
        }
        rings.owner.close_ring();
      });
      n.start_soon("receiver", [&]() -> awaitable<void> {
        std::vector<std::byte> into;
        for (;;) {
          auto got = co_await rings.peer.receive(into);
          if (!got) {
            if (got.error() != errc::end_of_channel) failure = got.error().message();
            break;
          }
          if (into != pattern(received % 241, received)) failure = "message " + std::to_string(received) + " differs";
          ++received;
        }
      });
      co_return;
    });
    if (!outcome) co_return outcome.error();
    EXPECT_EQ(failure, "");
    EXPECT_EQ(received, 2000u);
    co_return success();
  }());
  ASSERT_TRUE(r) << r.error().message();
}

TEST(shm_ring_test, a_full_ring_refuses_try_send_and_a_waiting_send_resumes_when_read) {
  auto r = run_async([]() -> awaitable<result<void>> {
    BOOST_OUTCOME_CO_TRY(auto rings, co_await make_pair_of(64));
    const auto m = pattern(20, 1);  // a frame of 24 bytes: two fit in 64
    EXPECT_TRUE(rings.owner.try_send(m));
    EXPECT_TRUE(rings.owner.try_send(m));
    EXPECT_EQ(rings.owner.try_send(m).error(), errc::would_block);
    EXPECT_EQ(rings.owner.try_send(pattern(57, 0)).error(), shm_errc::no_room) << "larger than the ring";
    EXPECT_TRUE(rings.owner.try_send(pattern(56, 0)).error() == errc::would_block) << "the largest message is not too large";
    bool third_sent = false;
    auto outcome = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon("blocked sender", [&]() -> awaitable<void> {
        auto sent = co_await rings.owner.send(m);
        third_sent = sent.has_value();
      });
      co_await checkpoint();
      EXPECT_FALSE(third_sent) << "no room yet";
      std::vector<std::byte> into;
      EXPECT_TRUE(rings.peer.try_receive(into));
      co_return;
    });
    if (!outcome) co_return outcome.error();
    EXPECT_TRUE(third_sent);
    EXPECT_EQ(rings.peer.used(), 48u);
    co_return success();
  }());
  ASSERT_TRUE(r) << r.error().message();
}

TEST(shm_ring_test, a_cancelled_receive_consumes_nothing) {
  auto r = run_async([]() -> awaitable<result<void>> {
    BOOST_OUTCOME_CO_TRY(auto rings, co_await make_pair_of(128));
    BOOST_OUTCOME_CO_TRY(const bool returned, co_await receive_cancelled_while_waiting(rings.peer));
    EXPECT_FALSE(returned);
    BOOST_OUTCOME_CO_TRYV(rings.owner.try_send(pattern(10, 3)));
    BOOST_OUTCOME_CO_TRY(auto m, co_await rings.peer.receive());
    EXPECT_EQ(m, pattern(10, 3));
    co_return success();
  }());
  ASSERT_TRUE(r) << r.error().message();
}

TEST(shm_ring_test, closing_ends_the_receiver_after_what_was_sent_and_refuses_sends) {
  auto r = run_async([]() -> awaitable<result<void>> {
    BOOST_OUTCOME_CO_TRY(auto rings, co_await make_pair_of(128));
    for (int i = 0; i < 3; ++i) {
      BOOST_OUTCOME_CO_TRYV(rings.owner.try_send(pattern(5, i)));
    }
    rings.owner.close_ring();
    EXPECT_EQ(rings.owner.try_send(pattern(5, 9)).error(), errc::channel_closed);
    for (int i = 0; i < 3; ++i) {
      BOOST_OUTCOME_CO_TRY(auto m, co_await rings.peer.receive());
      EXPECT_EQ(m, pattern(5, i));
    }
    auto end = co_await rings.peer.receive();
    EXPECT_EQ(end.error(), errc::end_of_channel);
    co_return success();
  }());
  ASSERT_TRUE(r) << r.error().message();
}

TEST(shm_ring_test, the_owner_removes_the_segment_and_its_doorbells_and_bad_rings_are_refused) {
  boost::asio::io_context io;
  shm_token t;
  {
    auto owner = open_shm_ring(io.get_executor(), unique_key("gone"), 4096);
    ASSERT_TRUE(owner) << owner.error().message();
    t = owner.value().token();
    EXPECT_TRUE(std::filesystem::exists("/dev/shm" + t.name));
    EXPECT_TRUE(std::filesystem::is_fifo("/dev/shm" + t.name + ".data"));
    EXPECT_TRUE(std::filesystem::is_fifo("/dev/shm" + t.name + ".room"));
  }
  for (const char* suffix : {"", ".data", ".room"}) {
    EXPECT_FALSE(std::filesystem::exists("/dev/shm" + t.name + suffix)) << suffix;
  }
  EXPECT_FALSE(attach_shm_ring(io.get_executor(), t));
  EXPECT_FALSE(open_shm_ring(io.get_executor(), unique_key("odd"), 1000)) << "not a power of two";
  EXPECT_FALSE(open_shm_ring(io.get_executor(), unique_key("tiny"), 32));
  auto array = open_shm_array<std::byte>(unique_key("not-a-ring"), 4096);
  ASSERT_TRUE(array);
  auto as_ring = attach_shm_ring(io.get_executor(), array.value().token());
  ASSERT_FALSE(as_ring);
  EXPECT_EQ(as_ring.error(), shm_errc::type_mismatch) << as_ring.error().message();
}

TEST(shm_ring_test, a_corrupted_header_gives_errors_never_a_stray_access) {
  boost::asio::io_context io;
  auto owner = open_shm_ring(io.get_executor(), unique_key("fuzz"), 256);
  ASSERT_TRUE(owner);
  auto peer = attach_shm_ring(io.get_executor(), owner.value().token());
  ASSERT_TRUE(peer);
  // Another process writing the header: a writable mapping of the same segment.
  auto raw = shm_segment::attach(owner.value().token(), true);
  ASSERT_TRUE(raw);
  std::mt19937_64 rng(12345);
  std::vector<std::byte> into;
  int errors = 0;
  for (int i = 0; i < 20000; ++i) {
    auto& h = raw.value().head();
    switch (rng() % 4) {
      case 0: h.first.store(rng() % 4 == 0 ? rng() : h.last.load() - (rng() % 512)); break;
      case 1: h.last.store(rng() % 4 == 0 ? rng() : h.first.load() + (rng() % 512)); break;
      case 2: {
        const std::uint32_t len = static_cast<std::uint32_t>(rng());
        std::memcpy(raw.value().data() + (rng() % 64) * 4, &len, sizeof len);
        break;
      }
      default: (void)owner.value().try_send(pattern(rng() % 300, i));
    }
    auto got = peer.value().try_receive(into);
    if (!got && got.error() == shm_errc::not_a_segment) ++errors;
    EXPECT_LE(into.size(), 256u) << "never more than the ring holds";
  }
  EXPECT_GT(errors, 0) << "corruption was seen";
}

// The sender and the receiver on two threads with loops of their own, on two CPUs: each side
// looks again while the other works (TRACTOR_SHM_SPIN_US), and the same messages arrive
// looking or not.
TEST(shm_ring_test, sides_on_two_cpus_carry_the_same_messages_looking_and_not) {
  const auto cpus = tractor::testing::usable_cpus();
  if (cpus.size() < 2) GTEST_SKIP() << "needs two CPUs";
  for (const char* spin : {"50", "0", "100000"}) {
    SCOPED_TRACE(std::string("TRACTOR_SHM_SPIN_US=") + spin);
    ::setenv("TRACTOR_SHM_SPIN_US", spin, 1);
    boost::asio::io_context sender_ctx;
    auto owner = open_shm_ring(sender_ctx.get_executor(), unique_key("cpus"), 256);
    ASSERT_TRUE(owner) << owner.error().message();
    std::string send_failure, receive_failure;
    std::size_t received = 0;
    std::thread receiver([&] {
      tractor::testing::pin_this_thread(cpus[1]);
      boost::asio::io_context ctx;
      auto peer = attach_shm_ring(ctx.get_executor(), owner.value().token());
      if (!peer) {
        receive_failure = peer.error().message();
        return;
      }
      run_async(ctx, [&]() -> awaitable<void> {
        std::vector<std::byte> into;
        for (;;) {
          auto got = co_await peer.value().receive(into);
          if (!got) {
            if (got.error() != errc::end_of_channel) receive_failure = got.error().message();
            co_return;
          }
          if (into != pattern(received % 241, received)) receive_failure = "message " + std::to_string(received) + " differs";
          ++received;
        }
      }());
    });
    std::thread sender([&] {
      tractor::testing::pin_this_thread(cpus[0]);
      run_async(sender_ctx, [&]() -> awaitable<void> {
        for (std::size_t i = 0; i < 2000; ++i) {
          const auto m = pattern(i % 241, i);  // most sends wait for room
          auto sent = co_await owner.value().send(m);
          if (!sent) send_failure = "send " + std::to_string(i) + ": " + sent.error().message();
        }
        owner.value().close_ring();
      }());
    });
    sender.join();
    receiver.join();
    EXPECT_EQ(send_failure, "");
    EXPECT_EQ(receive_failure, "");
    EXPECT_EQ(received, 2000u);
  }
  ::unsetenv("TRACTOR_SHM_SPIN_US");
}

}  // namespace
