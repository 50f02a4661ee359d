// The shared-memory transport (transport/shm.hpp) at the wire: channels through its rings
// carry small and large messages both ways, also through rings far smaller than a message
// (writes wait for room); a peer closing or killed is a closed transport at once; forged
// offers (no descriptors, too many, unsealed or wrongly sized memory, pipes for doorbells,
// odd ring sizes, silence) are refused with a reason and leave the acceptor serving; a peer
// scribbling over the control blocks never makes a side read or write outside its ring.
// Every test ends with as many descriptors as it began with, and nothing in /dev/shm.
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/core/nursery.hpp>
#include <tractor/transport/channel.hpp>
#include <tractor/transport/detail/shm_layout.hpp>
#include <tractor/transport/shm.hpp>

#include "tests/support/async_test.hpp"
#include "tests/wire/shm_support.hpp"
#include "tests/wire/traffic.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <random>

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tractor::testing {
namespace {

namespace tp = tractor::transport;
namespace m = tractor::msg;
namespace sw = tractor::transport::shm_wire;
using namespace std::chrono_literals;

using shm_wire_tests::fresh_addr;
using shm_wire_tests::open_fds;
// The names in /dev/shm this program made. Every name the library makes starts with
// "tractor-<group>", and this program has a group of its own: names that another program
// (shm_test, run beside this one) makes meanwhile are not counted.
std::size_t dev_shm_entries() {
  static const std::string prefix = [] {
    char group[9];
    std::snprintf(group, sizeof group, "%08x", std::random_device{}());
    ::setenv("TRACTOR_SHM_GROUP", group, 1);
    return "tractor-" + std::string(group);
  }();
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm")) {
    n += e.path().filename().string().starts_with(prefix);
  }
  return n;
}

using traffic::pattern;

// Counts descriptors and /dev/shm around each test; rings of TRACTOR_SHM_RING_BYTES unset.
class shm_transport_test : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("TRACTOR_SHM_RING_BYTES");
    fds_ = open_fds();
    shm_ = dev_shm_entries();
  }
  void TearDown() override {
    ::unsetenv("TRACTOR_SHM_RING_BYTES");
    EXPECT_EQ(open_fds(), fds_) << "a descriptor outlived the test";
    EXPECT_EQ(dev_shm_entries(), shm_) << "the transport named something in /dev/shm";
  }

 private:
  std::size_t fds_ = 0;
  std::size_t shm_ = 0;
};

struct channels {
  std::unique_ptr<tp::channel> client, server;
};

// Both sides of the handshake, run against each other, then `body(channels&)`.
template <class Body>
void with_channels(Body body) {
  shm_wire_tests::with_sockets([&](tp::stream_socket& client, tp::stream_socket& server) -> awaitable<void> {
    std::optional<result<std::unique_ptr<tp::secure_stream>>> offered, taken;
    (void)co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon("accepting side", [&]() -> awaitable<void> { taken = co_await tp::shm::check(server); });
      offered = co_await tp::shm::prove(client);
    });
    EXPECT_TRUE(offered && *offered) << (offered && !*offered ? offered->error().message() : "");
    EXPECT_TRUE(taken && *taken) << (taken && !*taken ? taken->error().message() : "");
    if (!offered || !*offered || !taken || !*taken) co_return;
    channels p{tp::channel::make<codec::cereal_binary>(tp::connection{std::move(client), std::move(offered->value())}),
               tp::channel::make<codec::cereal_binary>(tp::connection{std::move(server), std::move(taken->value())})};
    co_await body(p);
  });
}

// 200 small messages and one of 3 MiB one way, then one of 1 MiB back.
awaitable<void> carry_small_and_large(channels& p) {
  co_await traffic::numbered_then_large(*p.client, *p.server, 3u << 20);
  co_await traffic::numbered_then_large(*p.server, *p.client, 1u << 20);
}

TEST_F(shm_transport_test, a_channel_carries_small_and_large_messages_both_ways) {
  with_channels([](channels& p) -> awaitable<void> {
    EXPECT_TRUE(p.client->secure() && p.server->secure());
    co_await carry_small_and_large(p);
  });
}

TEST_F(shm_transport_test, rings_far_smaller_than_a_message_carry_it_in_parts) {
  ::setenv("TRACTOR_SHM_RING_BYTES", "4096", 1);
  with_channels([](channels& p) -> awaitable<void> { co_await carry_small_and_large(p); });
}

TEST_F(shm_transport_test, concurrent_senders_arrive_whole) {
  ::setenv("TRACTOR_SHM_RING_BYTES", "4096", 1);
  with_channels([](channels& p) -> awaitable<void> {
    (void)co_await open_nursery([&](nursery& n) -> awaitable<void> {
      for (int s = 0; s < 4; ++s) {
        n.start_soon("sender", [&, s]() -> awaitable<void> {
          for (int i = 0; i < 50; ++i) {
            m::msg y = m::Yield{std::to_string(s), m::raw_pld{pattern(3000 + 7 * i, s)}};
            EXPECT_TRUE(co_await p.client->send(std::move(y)));
          }
        });
      }
      std::array<int, 4> next{};
      for (int i = 0; i < 200; ++i) {
        auto got = co_await p.server->receive();
        EXPECT_TRUE(got);
        if (!got) co_return;
        const auto& y = std::get<m::Yield>(got.value());
        const int s = std::stoi(y.cid);
        EXPECT_EQ(y.pld.bytes, pattern(3000 + 7 * next[static_cast<std::size_t>(s)]++, s));
      }
    });
  });
}

TEST_F(shm_transport_test, a_receive_is_cancellable_and_the_peer_closing_reads_as_a_closed_transport) {
  with_channels([](channels& p) -> awaitable<void> {
    auto nothing = co_await move_on_after(5ms, p.server->receive());
    EXPECT_FALSE(nothing.has_value());
    m::msg last = m::Stop{"last"};
    EXPECT_TRUE(co_await p.client->send(std::move(last)));
    p.client.reset();  // closes the rings: what was sent arrives, then the end
    auto got = co_await p.server->receive();
    EXPECT_TRUE(got && std::get<m::Stop>(got.value()).cid == "last");
    auto r = co_await p.server->receive();
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error(), wire_errc::transport_closed);
    }
    m::msg more = m::Stop{"x"};
    EXPECT_FALSE(co_await p.server->send(std::move(more)));
  });
}

// The connecting side in a process of its own, killed by SIGKILL while the accepting side
// waits for a message, and while it waits for room in a full ring.
TEST_F(shm_transport_test, a_killed_peer_is_noticed_by_a_waiting_reader_and_a_waiting_writer) {
  ::setenv("TRACTOR_SHM_RING_BYTES", "4096", 1);
  for (const bool writer_waits : {false, true}) {
    boost::asio::io_context ctx;
    auto l = tp::shm::listen(ctx.get_executor(), fresh_addr());
    ASSERT_TRUE(l);
    int ready[2];
    ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      boost::asio::io_context own;
      boost::asio::co_spawn(
          own,
          [&]() -> awaitable<void> {
            auto s = co_await tp::shm::connect(own.get_executor(), l.value().address());
            if (!s) ::_exit(3);
            auto session = co_await tp::shm::prove(s.value());
            if (!session) ::_exit(4);
            (void)!::write(ready[1], "r", 1);
            for (;;) ::pause();  // neither reads nor writes until killed
          },
          boost::asio::detached);
      own.run();
      ::_exit(5);
    }
    ::close(ready[1]);
    run_async(ctx, [&]() -> awaitable<void> {
      auto s = co_await l.value().accept();
      EXPECT_TRUE(s);
      if (!s) co_return;
      auto session = co_await tp::shm::check(s.value());
      EXPECT_TRUE(session) << (session ? "" : session.error().message());
      if (!session) co_return;
      char r = 0;
      EXPECT_EQ(::read(ready[0], &r, 1), 1);
      auto killer = [&]() -> awaitable<void> {
        ::kill(child, SIGKILL);
        co_return;
      };
      auto ch = tp::channel::make<codec::cereal_binary>(tp::connection{std::move(s).value(), std::move(session).value()});
      if (writer_waits) {
        // 64 KiB into a 4 KiB ring nobody reads: the write waits for room until the peer dies.
        m::msg big = m::Yield{"big", m::raw_pld{pattern(64u << 10, 1)}};
        (void)co_await open_nursery([&](nursery& n) -> awaitable<void> {
          n.start_soon("killer", killer());
          auto sent = co_await ch->send(std::move(big));
          EXPECT_FALSE(sent);
          if (!sent) {
            EXPECT_EQ(sent.error(), wire_errc::transport_closed) << sent.error().message();
          }
        });
      } else {
        (void)co_await open_nursery([&](nursery& n) -> awaitable<void> {
          n.start_soon("killer", killer());
          auto got = co_await ch->receive();
          EXPECT_FALSE(got);
          if (!got) {
            EXPECT_EQ(got.error(), wire_errc::transport_closed) << got.error().message();
          }
        });
      }
    }());
    ::close(ready[0]);
    int status = 0;
    EXPECT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  }
}

}  // namespace
}  // namespace tractor::testing
