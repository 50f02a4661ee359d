// Shared-memory rings whose other side is another process (forked from the test, as another
// actor on the host would be): a sender that ends gives its finished messages, then
// `peer_gone`; so does a receiver that ends under a waiting sender; an end that comes while
// this side is not waiting is noticed at its next wait all the same; and a wait on both the
// doorbell and the peer's process can be cancelled.
#include <tractor/core.hpp>
#include <tractor/shm.hpp>

#include "tests/shm/ring_support.hpp"
#include "tests/support/async_test.hpp"

#include <gtest/gtest.h>

#include <boost/asio/posix/stream_descriptor.hpp>

#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace tractor;
using namespace std::chrono_literals;
using tractor::testing::pattern;
using tractor::testing::receive_cancelled_while_waiting;
using tractor::testing::rings_never_look;
using tractor::testing::run_async;
using tractor::testing::unique_key;

/// A process forked from this one, attached to the ring `token` names, that runs `act` on its
/// attachment once as it starts and once more at each `again()`, says each time whether that
/// worked (a byte on a pipe), and lives until `release()` or `kill()`.
class ring_peer_process {
 public:
  template <class Act>
  ring_peer_process(const shm_token& token, Act act) {
    int ready[2];
    int hold[2];
    if (::pipe(ready) != 0 || ::pipe(hold) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(hold[1]);
      boost::asio::io_context io;
      auto ring = attach_shm_ring(io.get_executor(), token);
      for (char b = 0;;) {
        const char ok = ring && act(ring.value()) ? 'y' : 'n';
        (void)!::write(ready[1], &ok, 1);
        if (::read(hold[0], &b, 1) != 1) ::_exit(0);  // the test closed its end
      }
    }
    ::close(ready[1]);
    ::close(hold[0]);
    ready_ = ready[0];
    hold_ = hold[1];
    acted_ = pid_ > 0 && heard_ok();
  }
  ~ring_peer_process() {
    release();
    reap();
    if (ready_ >= 0) ::close(ready_);
  }
  ring_peer_process(const ring_peer_process&) = delete;  // one owner of the process and its pipes
  ring_peer_process& operator=(const ring_peer_process&) = delete;
  [[nodiscard]] bool acted() const { return acted_; }
  /// Runs `act` once more; true if it worked.
  bool again() {
    const char b = 'a';
    return hold_ >= 0 && ::write(hold_, &b, 1) == 1 && heard_ok();
  }
  /// The process ends.
  void release() {
    if (hold_ >= 0) ::close(hold_);
    hold_ = -1;
  }
  /// The process is killed, and gone when this returns.
  void kill() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
    reap();
  }

 private:
  bool heard_ok() {
    char ok = 'n';
    return ::read(ready_, &ok, 1) == 1 && ok == 'y';
  }
  void reap() {
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  pid_t pid_ = -1;
  int ready_ = -1;
  int hold_ = -1;
  bool acted_ = false;
};

/// A peer process that sends `pattern(9, k)` as it starts (k = 0) and at each `again()` (k =
/// 1, 2...).
ring_peer_process numbered_sender(const shm_token& token) {
  return ring_peer_process(token, [k = std::size_t{0}](shm_ring& mine) mutable {
    return mine.try_send(pattern(9, k++)).has_value();
  });
}

TEST(shm_ring_peer_test, a_sender_s_process_ending_gives_its_finished_messages_then_peer_gone) {
  auto r = run_async([]() -> awaitable<result<void>> {
    const auto ex = co_await boost::asio::this_coro::executor;
    BOOST_OUTCOME_CO_TRY(auto ring, open_shm_ring(ex, unique_key("sender-dies"), 256));
    ring_peer_process sender(ring.token(), [](shm_ring& mine) {
      for (int i = 0; i < 3; ++i) {
        if (!mine.try_send(pattern(7, i))) return false;
      }
      return true;
    });
    EXPECT_TRUE(sender.acted());
    for (int i = 0; i < 3; ++i) {
      BOOST_OUTCOME_CO_TRY(auto m, co_await ring.receive());
      EXPECT_EQ(m, pattern(7, i));
    }
    std::optional<result<std::vector<std::byte>>> last;
    auto outcome = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon("receiver", [&]() -> awaitable<void> { last = co_await ring.receive(); });
      co_await checkpoint();  // (it may wait first, or find the process gone: both end the same)
      sender.release();
      co_return;
    });
    if (!outcome) co_return outcome.error();
    EXPECT_TRUE(last && !*last && last->error() == shm_errc::peer_gone)
        << (last && !*last ? last->error().message() : "a message, or no answer");
    if (last && !*last) {
      EXPECT_NE(last->error().message().find("its sender (pid "), std::string::npos) << last->error().message();
    }
    co_return success();
  }());
  ASSERT_TRUE(r) << r.error().message();
}

TEST(shm_ring_peer_test, a_sender_waiting_for_room_gets_peer_gone_when_the_receiver_s_process_ends) {
  auto r = run_async([]() -> awaitable<result<void>> {
    const auto ex = co_await boost::asio::this_coro::executor;
    BOOST_OUTCOME_CO_TRY(auto ring, open_shm_ring(ex, unique_key("receiver-dies"), 64));
    const auto m = pattern(20, 1);  // two fit
    BOOST_OUTCOME_CO_TRYV(ring.try_send(m));
    BOOST_OUTCOME_CO_TRYV(ring.try_send(m));
    ring_peer_process receiver(ring.token(), [](shm_ring& mine) {
      std::vector<std::byte> into;
      return mine.try_receive(into).has_value();
    });
    EXPECT_TRUE(receiver.acted());
    BOOST_OUTCOME_CO_TRYV(ring.try_send(m));  // full again
    std::optional<result<void>> sent;
    auto outcome = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon("sender", [&]() -> awaitable<void> { sent = co_await ring.send(m); });
      co_await checkpoint();
      receiver.release();
      co_return;
    });
    if (!outcome) co_return outcome.error();
    EXPECT_TRUE(sent && !*sent && sent->error() == shm_errc::peer_gone)
        << (sent && !*sent ? sent->error().message() : "sent, or no answer");
    co_return success();
  }());
  ASSERT_TRUE(r) << r.error().message();
}

/// Returns once this thread's event loop has taken the readiness of its descriptors from the
/// kernel at least once (a pipe made readable before the wait completes only that way).
awaitable<void> loop_has_polled() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) co_return;
  const char b = 1;
  (void)!::write(p[1], &b, 1);
  boost::asio::posix::stream_descriptor readable(co_await boost::asio::this_coro::executor, p[0]);
  co_await readable.async_wait(boost::asio::posix::descriptor_base::wait_read, boost::asio::use_awaitable);
  ::close(p[1]);
}

// The receiver waits once while its sender is known (which starts watching that process),
// then the sender is killed while the receiver does not wait, and the receiver's loop goes
// on polling meanwhile: the next wait must still end with `peer_gone`, not wait forever for a
// doorbell nobody will ring.
TEST(shm_ring_peer_test, a_sender_that_ends_while_nobody_waits_is_noticed_at_the_next_wait) {
  const rings_never_look sleeping;  // every wait sleeps: the watch starts at the first
  auto r = run_async([]() -> awaitable<result<void>> {
    const auto ex = co_await boost::asio::this_coro::executor;
    BOOST_OUTCOME_CO_TRY(auto ring, open_shm_ring(ex, unique_key("ends-unwatched"), 256));
    ring_peer_process sender = numbered_sender(ring.token());
    EXPECT_TRUE(sender.acted());
    BOOST_OUTCOME_CO_TRY(auto first, co_await ring.receive());
    EXPECT_EQ(first, pattern(9, 0));
    std::optional<result<std::vector<std::byte>>> second;
    auto outcome = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon("receiver", [&]() -> awaitable<void> { second = co_await ring.receive(); });
      co_await checkpoint();  // the receiver sleeps, watching the sender's process
      EXPECT_TRUE(sender.again());
      co_return;
    });
    if (!outcome) co_return outcome.error();
    EXPECT_TRUE(second && *second && second->value() == pattern(9, 1));
    sender.kill();
    co_await loop_has_polled();
    auto last = co_await move_on_after(10s, ring.receive());  // a watchdog: the failure is a hang
    EXPECT_TRUE(last && !*last && last->error() == shm_errc::peer_gone)
        << (!last ? std::string("still waiting after 10 s") : *last ? std::string("a message") : last->error().message());
    co_return success();
  }());
  ASSERT_TRUE(r) << r.error().message();
}

// A receive asleep on both its doorbell and its sender's process (one wait for the two) is
// cancelled: it returns nothing, takes nothing, and the ring carries the next message.
TEST(shm_ring_peer_test, a_receive_waiting_on_a_watched_sender_can_be_cancelled) {
  const rings_never_look sleeping;
  auto r = run_async([]() -> awaitable<result<void>> {
    const auto ex = co_await boost::asio::this_coro::executor;
    BOOST_OUTCOME_CO_TRY(auto ring, open_shm_ring(ex, unique_key("cancel-watched"), 256));
    ring_peer_process sender = numbered_sender(ring.token());
    EXPECT_TRUE(sender.acted());
    BOOST_OUTCOME_CO_TRY(auto first, co_await ring.receive());  // the sender is known from here
    EXPECT_EQ(first, pattern(9, 0));
    BOOST_OUTCOME_CO_TRY(const bool returned, co_await receive_cancelled_while_waiting(ring));
    EXPECT_FALSE(returned);
    EXPECT_TRUE(sender.again());
    BOOST_OUTCOME_CO_TRY(auto next, co_await ring.receive());
    EXPECT_EQ(next, pattern(9, 1));
    co_return success();
  }());
  ASSERT_TRUE(r) << r.error().message();
}

}  // namespace
