// A channel's faults under every transport x codec: cancelled and cut transfers of large
// frames, malformed input, oversized sends and a peer that vanishes. Each leaves a clear error
// and the rest of the process (the listener, other channels) working.
#include "tests/wire/channel_fixture.hpp"

#include <boost/asio/write.hpp>

namespace {

using namespace tractor::testing::wire;
using tractor::testing::run_async;

template <class Combo>
class channel_fault_test : public channel_test<Combo> {};
TYPED_TEST_SUITE(channel_fault_test, channel_combos);

// A large payload is taken from the send's own message into the queue, not copied: a send
// cancelled while its payload waits in the queue still delivers what it sent. A send
// cancelled while it is writing breaks the channel instead (part of a frame may be on the
// wire).
TYPED_TEST(channel_fault_test, a_large_payload_outlives_a_cancelled_sender_and_a_cut_write_breaks_the_channel) {
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    auto [client, server] = co_await this->pair(l);
    // Each larger than what loopback TCP buffers (~10 MiB at most): a write of one cannot
    // finish until the server reads.
    m::msg first = m::Yield{"1", m::raw_pld{std::string(24u << 20, 'a')}};
    const m::msg second = m::Yield{"2", m::raw_pld{std::string(8u << 20, 'b')}};
    auto r = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      // No writer task: the first sender writes, and waits for the kernel (it takes far less
      // than 8 MiB at once) until the server reads.
      n.start_soon([&]() -> awaitable<void> { EXPECT_TRUE(co_await client->send(first)); });
      co_await checkpoint();
      auto left = co_await open_nursery([&](nursery& s) -> awaitable<void> {
        s.start_soon([&]() -> awaitable<void> {
          (void)co_await client->send(second);
          ADD_FAILURE() << "the second send was not cancelled";
        });
        co_await checkpoint();  // queued behind the first, waiting
        s.cancel();
      });
      EXPECT_TRUE(left);
      // (Its send's own message is gone with it; the queue holds its payload.)
      for (const m::msg* want : std::initializer_list<const m::msg*>{&first, &second}) {
        auto got = co_await server->receive();
        EXPECT_TRUE(got && got.value() == *want) << (got ? std::string(m::type_name(got.value())) : got.error().message());
      }
    });
    EXPECT_TRUE(r);
    // Now the sender that is writing leaves: the channel cannot go on. (Larger than what
    // loopback TCP buffers, ~10 MiB at most, so that the write cannot finish unread.)
    const m::msg huge = m::Yield{"3", m::raw_pld{std::string(24u << 20, 'h')}};
    auto cut = co_await open_nursery([&](nursery& s) -> awaitable<void> {
      s.start_soon([&]() -> awaitable<void> {
        (void)co_await client->send(huge);
        ADD_FAILURE() << "the send was not cancelled";
      });
      co_await checkpoint();  // writing, and waiting for the kernel
      s.cancel();
    });
    EXPECT_TRUE(cut);
    const m::msg after = m::Stop{"after"};
    auto refused = co_await client->send(after);
    EXPECT_FALSE(refused) << "a channel whose frame was cut sends nothing more";
  }(), 30s);
}

// A large frame's payload is read straight into the message; a receive cancelled partway
// keeps what it read, and the next receive goes on from there.
TYPED_TEST(channel_fault_test, a_cancelled_receive_of_a_large_frame_goes_on_where_it_stopped) {
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    auto [client, server] = co_await this->pair(l);
    const m::msg big = m::Yield{"1", m::raw_pld{std::string(8u << 20, 'z')}};
    const m::msg after = m::Stop{"after"};
    m::msg kept;
    auto r = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon([&]() -> awaitable<void> {
        EXPECT_TRUE(co_await client->send(big));
        EXPECT_TRUE(co_await client->send(after));
      });
      auto cut = co_await open_nursery([&](nursery& s) -> awaitable<void> {
        s.start_soon([&]() -> awaitable<void> {
          (void)co_await server->receive(kept);
          ADD_FAILURE() << "the receive was not cancelled";
        });
        co_await checkpoint();
        co_await checkpoint();
        s.cancel();
      });
      EXPECT_TRUE(cut);
      auto got = co_await server->receive(kept);
      EXPECT_TRUE(got && kept == big);
      auto next = co_await server->receive();
      EXPECT_TRUE(next && next.value() == after);
    });
    EXPECT_TRUE(r);
  }(), 30s);
}

// Writes `bytes` raw, then (optionally) hangs up.
awaitable<void> write_raw(tp::stream_socket& s, std::string bytes) {
  co_await boost::asio::async_write(s, boost::asio::buffer(bytes), boost::asio::use_awaitable);
}

std::string frame_of(std::string body) {
  std::uint32_t n = static_cast<std::uint32_t>(body.size());
  return std::string(reinterpret_cast<const char*>(&n), 4) + body;
}

TYPED_TEST(channel_fault_test, bad_input_gives_clear_errors_and_the_listener_keeps_serving) {
  using Codec = typename TestFixture::C;
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    std::vector<std::string> outcomes;
    int good_served = 0;
    event server_done;
    auto r = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      // The server: each peer in its own task; a misbehaving one never stops the loop.
      n.start_soon([&]() -> awaitable<void> {
        for (int peers = 0; peers < 6; ++peers) {
          auto s = co_await l.accept();
          if (!s) co_return;
          n.start_soon([&, ch = std::shared_ptr<tp::channel>(this->wrap(std::move(s).value()))]() -> awaitable<void> {
            auto hs = co_await tractor::runtime::handshake(*ch, this->aid("server"), std::chrono::seconds(10));
            if (!hs) {
              outcomes.push_back(std::string(hs.error().code().category().name()) + ":" + hs.error().message());
              co_return;
            }
            for (;;) {
              auto got = co_await ch->receive();
              if (!got) {
                outcomes.push_back(got.error().message());
                if (!ch->is_open()) co_return;
                continue;  // a malformed frame leaves the channel usable
              }
              if (auto* y = std::get_if<m::Yield>(&got.value())) {
                auto v = codec::decode_pld<Codec, int>("Yield", y->pld);
                if (!v) {
                  outcomes.push_back(v.error().message());
                  continue;
                }
                ++good_served;
                m::msg reply = m::Yield{y->cid, Codec::encode_payload(v.value() + 1)};
                (void)co_await ch->send(std::move(reply));
              }
            }
          });
        }
        server_done.set();
      });

      std::string hello;
      Codec::encode(m::msg(this->aid("raw")), hello);
      // 1. Truncated: half a frame, then hang up.
      {
        auto s = co_await this->raw_connect(l);
        co_await write_raw(s, frame_of(hello));
        std::string stop;
        Codec::encode(m::msg(m::Stop{"c"}), stop);
        co_await write_raw(s, frame_of(stop).substr(0, 6));
      }
      // 2. Garbage bytes in a well-formed frame, then a good frame on the same channel.
      {
        auto s = co_await this->raw_connect(l);
        co_await write_raw(s, frame_of(hello) + frame_of("\x07garbage{[") );
        std::string y;
        Codec::encode(m::msg(m::Yield{"c2", Codec::encode_payload(41)}), y);
        co_await write_raw(s, frame_of(y));
        // Wait for the reply so the good frame is known to have been served.
        auto ch = this->wrap(std::move(s));
        auto aid_back = co_await ch->receive();
        EXPECT_TRUE(aid_back);
        auto reply = co_await ch->receive();
        EXPECT_TRUE(reply && std::holds_alternative<m::Yield>(reply.value()));
      }
      // 3. An absurd length prefix.
      {
        auto s = co_await this->raw_connect(l);
        co_await write_raw(s, frame_of(hello) + std::string("\xff\xff\xff\x7f", 4));
      }
      // 4. Wrong first message.
      {
        auto s = co_await this->raw_connect(l);
        std::string start;
        Codec::encode(m::msg(m::StartAck{"c", "asyncfunc"}), start);
        co_await write_raw(s, frame_of(start));
      }
      // 5. A payload of the wrong type, then a well-behaved peer.
      {
        auto client = this->wrap(co_await this->raw_connect(l));
        EXPECT_TRUE(co_await tractor::runtime::handshake(*client, this->aid("typed"), std::chrono::seconds(10)));
        m::msg wrong_type = m::Yield{"c3", Codec::encode_payload(std::string("not an int"))};
        m::msg right_type = m::Yield{"c4", Codec::encode_payload(1)};
        EXPECT_TRUE(co_await client->send(std::move(wrong_type)));
        EXPECT_TRUE(co_await client->send(std::move(right_type)));
        auto reply = co_await client->receive();
        EXPECT_TRUE(reply);
        if (reply) {
          auto v = codec::decode_pld<Codec, int>("Yield", std::get<m::Yield>(reply.value()).pld);
          EXPECT_EQ(v.value(), 2);
        }
      }
      // 6. A well-behaved peer, last: served as if nothing had happened.
      {
        auto client = this->wrap(co_await this->raw_connect(l));
        EXPECT_TRUE(co_await tractor::runtime::handshake(*client, this->aid("good"), std::chrono::seconds(10)));
        m::msg item = m::Yield{"c5", Codec::encode_payload(99)};
        EXPECT_TRUE(co_await client->send(std::move(item)));
        auto reply = co_await client->receive();
        EXPECT_TRUE(reply);
        client->close();
      }
      co_await server_done.wait();
      n.cancel();
    });
    EXPECT_TRUE(r) << r.error().message();
    EXPECT_EQ(good_served, 3);
    auto has = [&](std::string_view text) {
      for (auto& o : outcomes) {
        if (o.find(text) != std::string::npos) return true;
      }
      return false;
    };
    EXPECT_TRUE(has("in the middle of a frame")) << ::testing::PrintToString(outcomes);
    EXPECT_TRUE(has("malformed frame")) << ::testing::PrintToString(outcomes);
    EXPECT_TRUE(has("maximum is")) << ::testing::PrintToString(outcomes);
    EXPECT_TRUE(has("`StartAck` instead of `Aid`")) << ::testing::PrintToString(outcomes);
    EXPECT_TRUE(has("invalid `Yield` msg payload: expected int")) << ::testing::PrintToString(outcomes);
  }(), 30s);
}

TYPED_TEST(channel_fault_test, oversized_sends_are_refused_and_the_channel_stays_usable) {
  using Codec = typename TestFixture::C;
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    tp::channel_options small;
    small.max_frame_size = 1024;
    auto [client, server] = co_await this->pair(l, small);
    m::msg too_big = m::Yield{"c", Codec::encode_payload(std::string(4096, 'x'))};
    auto big = co_await client->send(std::move(too_big));
    EXPECT_FALSE(big);
    EXPECT_EQ(big.error(), wire_errc::frame_too_large);
    m::msg stop = m::Stop{"c"};
    EXPECT_TRUE(co_await client->send(std::move(stop)));
    auto got = co_await server->receive();
    EXPECT_TRUE(got && std::holds_alternative<m::Stop>(got.value()));
  }());
}

TYPED_TEST(channel_fault_test, a_vanished_peer_is_transport_closed_and_receive_is_cancellable) {
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    auto [client, server] = co_await this->pair(l);
    auto nothing = co_await move_on_after(5ms, server->receive());
    EXPECT_FALSE(nothing.has_value());
    client.reset();  // destroying a channel closes it
    auto r = co_await server->receive();
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error(), wire_errc::transport_closed);
    EXPECT_FALSE(co_await server->receive());  // and again, every time
  }());
}

}  // namespace
