// Channels under every transport x codec: every message type both ways after a handshake, sends
// that write through from the call, kept messages, concurrent senders, the writer task's batches.
#include "tests/wire/channel_fixture.hpp"

namespace {

using namespace tractor::testing::wire;
using tractor::testing::run_async;

// This program's UDS name prefix is its own, so a test can check that it left no listener.
[[maybe_unused]] ::testing::Environment* const private_dir_env =
    ::testing::AddGlobalTestEnvironment(new tractor::testing::private_runtime_dir);

TYPED_TEST_SUITE(channel_test, channel_combos);

template <class Codec>
std::vector<m::msg> every_message() {
  m::uid me{"a", "u1"};
  return {m::Aid{"a", "u1", 1, true, false},
          m::SpawnSpec{{}, {{"loglevel", "info"}}, {{"ns", "path"}}, {{"127.0.0.1", std::int64_t{1616}}}, std::nullopt},
          m::Start{"c1", "ns", "f", Codec::encode_payload(std::tuple<int, std::string>{1, "x"}), me},
          m::StartAck{"c1", "asyncfunc"},
          m::Stop{"c1"},
          m::CancelAck{"c1", true},
          m::Error{me, "E", "RemoteActorError", {me}, "m", "tb", std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt},
          m::Started{"c1", Codec::encode_payload(1)},
          m::Yield{"c1", Codec::encode_payload(std::string(100000, 'y'))},
          m::Return{"c1", Codec::encode_payload(std::vector<int>{1, 2})}};
}

TYPED_TEST(channel_test, handshake_then_every_message_type_both_ways) {
  using Codec = typename TestFixture::C;
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    auto [client, server] = co_await this->pair(l);
    for (const auto& sample : every_message<Codec>()) {
      EXPECT_TRUE(co_await client->send(sample));
      auto got = co_await server->receive();
      EXPECT_TRUE(got && got.value() == sample) << m::type_name(sample);
      EXPECT_TRUE(co_await server->send(sample));
      auto back = co_await client->receive();
      EXPECT_TRUE(back && back.value() == sample) << m::type_name(sample);
    }
  }(), 30s);
}

TYPED_TEST(channel_test, a_message_sent_with_the_handshake_and_the_answers_arrive_in_order) {
  using Codec = typename TestFixture::C;
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    auto client = this->wrap(co_await this->raw_connect(l));
    auto accepted = co_await l.accept();
    auto server = this->wrap(std::move(accepted).value());
    const m::msg request = m::Start{"c1", "self", "register_actor", Codec::encode_payload(7), {"client", "u"}};
    std::optional<result<m::msg>> first_after;
    auto n = co_await open_nursery([&](nursery& nur) -> awaitable<void> {
      // The server reads the request right behind the client's Aid, and only then answers.
      nur.start_soon([&]() -> awaitable<void> {
        auto hs = co_await tractor::runtime::handshake(*server, this->aid("server"), std::chrono::seconds(10));
        EXPECT_TRUE(hs && hs.value().name == "client");
        first_after = co_await server->receive();
        const std::vector<m::msg> answers{m::StartAck{"c1", "asyncfunc"},
                                          m::Return{"c1", Codec::encode_payload(8)}, m::Stop{"c2"}};
        for (const auto& a : answers) EXPECT_TRUE(co_await server->send(a));
      });
      auto hs = co_await tractor::runtime::handshake(*client, this->aid("client"), std::chrono::seconds(10),
                                                     &request);
      EXPECT_TRUE(hs && hs.value().name == "server");
      for (const char* expected : {"StartAck", "Return", "Stop"}) {
        auto got = co_await client->receive();
        EXPECT_TRUE(got && m::type_name(got.value()) == std::string_view(expected)) << expected;
      }
    });
    EXPECT_TRUE(n);
    EXPECT_TRUE(first_after && *first_after && first_after->value() == request);
  }());
}

TYPED_TEST(channel_test, a_handshake_and_a_send_write_from_the_call_and_finish_what_the_kernel_left) {
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    auto client = this->wrap(co_await this->raw_connect(l));
    auto accepted = co_await l.accept();
    auto server = this->wrap(std::move(accepted).value());
    // Larger than any socket buffer: the kernel takes part of it in the call, the rest later.
    const m::msg big = m::Yield{"1", m::raw_pld{std::string(8u << 20, 'b')}};
    auto n = co_await open_nursery([&](nursery& nur) -> awaitable<void> {
      nur.start_soon([&]() -> awaitable<void> {
        EXPECT_TRUE(co_await tractor::runtime::handshake(*server, this->aid("server"), std::chrono::seconds(10)));
        auto got = co_await server->receive();
        EXPECT_TRUE(got && got.value() == big);
        EXPECT_TRUE(co_await server->send(big));
        const m::msg stop = m::Stop{"2"};
        EXPECT_TRUE(co_await server->send(stop));
      });
      EXPECT_TRUE(co_await tractor::runtime::handshake(*client, this->aid("client"), std::chrono::seconds(10), &big));
      for (const char* want : {"Yield", "Stop"}) {
        auto got = co_await client->receive();
        EXPECT_TRUE(got && m::type_name(got.value()) == std::string_view(want)) << want;
      }
    });
    EXPECT_TRUE(n);
    // A frame the kernel takes whole is written in the call: no other ready task runs first.
    bool ran = false;
    boost::asio::post(this->ctx_, [&] { ran = true; });
    const m::msg small = m::Stop{"3"};
    EXPECT_TRUE(co_await client->send(small));
    EXPECT_FALSE(ran);
    auto got = co_await server->receive();
    EXPECT_TRUE(got && std::get<m::Stop>(got.value()).cid == "3");
    client->close();
    EXPECT_FALSE(co_await client->send(small)) << "a closed channel sends nothing";
  }(), 30s);
}

// Payloads larger than any socket buffer arrive byte for byte, each way, however the kernel
// splits their writes and reads (patterned, so that a piece written twice, skipped or put in
// the wrong place shows; letters, which every codec carries as they are).
TYPED_TEST(channel_test, large_payloads_arrive_byte_for_byte) {
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    auto [client, server] = co_await this->pair(l);
    for (const std::size_t size : {std::size_t{64} << 10, (std::size_t{3} << 20) + 7, std::size_t{9} << 20}) {
      std::string bytes(size, '\0');
      for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>('a' + (i * 7 + i / 4093) % 26);
      const m::msg sent = m::Yield{"p", m::raw_pld{bytes}};
      auto n = co_await open_nursery([&](nursery& nur) -> awaitable<void> {
        nur.start_soon([&]() -> awaitable<void> {
          m::msg copy = sent;
          EXPECT_TRUE(co_await client->send(std::move(copy)));
          auto back = co_await client->receive();
          EXPECT_TRUE(back && back.value() == sent) << size << " bytes, back";
        });
        auto got = co_await server->receive();
        EXPECT_TRUE(got && got.value() == sent) << size << " bytes";
        EXPECT_TRUE(co_await server->send(sent));
      });
      EXPECT_TRUE(n);
    }
  }(), 30s);
}

TYPED_TEST(channel_test, receiving_into_a_kept_message_sees_every_message_in_order) {
  using Codec = typename TestFixture::C;
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    auto [client, server] = co_await this->pair(l);
    auto all = every_message<Codec>();
    m::msg kept;
    auto r = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon([&]() -> awaitable<void> {  // the large Yield needs a concurrent reader
        for (int round = 0; round < 2; ++round) {
          for (const auto& sample : all) EXPECT_TRUE(co_await client->send(sample));
        }
      });
      for (std::size_t i = 0; i < 2 * all.size(); ++i) {
        auto ready = server->try_receive(kept);
        if (!ready) {
          auto got = co_await server->receive(kept);
          EXPECT_TRUE(got) << got.error().message();
        } else {
          EXPECT_TRUE(*ready);
        }
        EXPECT_EQ(kept, all[i % all.size()]) << i;
      }
    });
    EXPECT_TRUE(r);
    EXPECT_FALSE(server->try_receive(kept)) << "nothing more is buffered";
    client->close();
    auto eof = co_await server->receive(kept);
    EXPECT_TRUE(!eof && eof.error() == wire_errc::transport_closed);
  }(), 30s);
}

// A consumer that keeps one message across receives gets each stream item decoded into the
// payload buffer of the last (buffer reuse is the channel's own business).
TYPED_TEST(channel_test, a_kept_message_receives_the_next_stream_item_in_its_payload_buffer) {
  using Codec = typename TestFixture::C;
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    auto [client, server] = co_await this->pair(l);
    const std::string item(1000, 'x');
    for (int i = 0; i < 2; ++i) {
      m::msg y = m::Yield{"c1", Codec::encode_payload(item)};
      EXPECT_TRUE(co_await client->send(std::move(y)));
    }
    m::msg kept;
    auto first = co_await server->receive(kept);
    EXPECT_TRUE(first && std::holds_alternative<m::Yield>(kept));
    const char* buffer = std::holds_alternative<m::Yield>(kept) ? std::get<m::Yield>(kept).pld.bytes.data() : nullptr;
    auto second = co_await server->receive(kept);
    EXPECT_TRUE(second && std::holds_alternative<m::Yield>(kept));
    if (auto* y = std::get_if<m::Yield>(&kept)) {
      if (Codec::name == codec::cereal_binary::name) {  // a codec that decodes into kept storage
        EXPECT_EQ(y->pld.bytes.data(), buffer) << "decoded into the kept message's buffer";
      }
      const std::string again = codec::decode_pld<Codec, std::string>("Yield", y->pld).value();
      EXPECT_EQ(again, item);
    }
  }(), 30s);
}

TYPED_TEST(channel_test, concurrent_senders_never_interleave) {
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    auto [client, server] = co_await this->pair(l);
    std::vector<int> seen(4, 0);
    auto r = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      for (int t = 0; t < 4; ++t) {
        n.start_soon([&, t]() -> awaitable<void> {
          for (int i = 0; i < 200; ++i) {
            m::msg out = m::Stop{std::to_string(t) + ":" + std::to_string(i) + std::string(t * 50, '.')};
            auto s = co_await client->send(std::move(out));
            EXPECT_TRUE(s);
          }
        });
      }
      for (int k = 0; k < 800; ++k) {
        auto got = co_await server->receive();
        if (!got) {
          ADD_FAILURE() << got.error().message();
          co_return;
        }
        const auto& cid = std::get<m::Stop>(got.value()).cid;
        const int t = cid[0] - '0';
        // Per sender, order is kept.
        EXPECT_EQ(cid.substr(2, cid.find('.') == std::string::npos ? std::string::npos : cid.find('.') - 2),
                  std::to_string(seen[t]++));
      }
    });
    EXPECT_TRUE(r) << r.error().message();
    EXPECT_EQ(seen, (std::vector<int>{200, 200, 200, 200}));
  }());
}

// try_send never waits: it needs a writer task, room below the high-water mark and a small
// payload; control messages are taken whatever the mark (and without a writer they are
// written at once). Everything arrives in the order it was sent.
TYPED_TEST(channel_test, try_send_queues_for_the_writer_and_refuses_what_would_wait) {
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    auto [client, server] = co_await this->pair(l);
    const m::msg ack = m::StartAck{"0", "asyncfunc"};
    auto refused = client->try_send(ack);  // no writer task: the caller must `send`
    EXPECT_TRUE(!refused && refused.error() == errc::would_block);
    const m::msg stop0 = m::Stop{"0"};
    EXPECT_TRUE(client->try_send(stop0)) << "a control message is written at once without a writer";
    // Larger than any socket buffer, so the kernel takes only part of it at a time.
    const m::msg big = m::Yield{"1", m::raw_pld{std::string(8u << 20, 'b')}};
    auto r = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon(client->run_writer());
      co_await checkpoint();  // let the writer start
      EXPECT_TRUE(client->try_send(ack));
      auto large = client->try_send(big);
      EXPECT_TRUE(!large && large.error() == errc::would_block) << "a large payload is `send`'s";
      n.start_soon([&]() -> awaitable<void> { EXPECT_TRUE(co_await client->send(big)); });
      co_await checkpoint();  // `big` is being written
      // Fill the queue above the mark (`big`, queued, counts too).
      const m::msg filler = m::Started{"3", m::raw_pld{std::string(1000, 's')}};
      for (int i = 0; i < 100; ++i) (void)client->try_send(filler);
      auto over = client->try_send(ack);
      EXPECT_TRUE(!over && over.error() == errc::would_block) << "above the high-water mark";
      const m::msg stop = m::Stop{"4"};
      EXPECT_TRUE(client->try_send(stop)) << "a control message is taken above the mark";
      std::vector<std::string> order;
      for (;;) {
        auto got = co_await server->receive();
        if (!got) {
          ADD_FAILURE() << got.error().message();
          break;
        }
        order.push_back(std::string(m::type_name(got.value())));
        if (std::holds_alternative<m::Yield>(got.value())) {
          EXPECT_TRUE(got.value() == big);
        }
        if (auto* s = std::get_if<m::Stop>(&got.value()); s && s->cid == "4") break;
      }
      EXPECT_GE(order.size(), 4u);
      if (order.size() >= 4) {
        EXPECT_EQ(order[0], "Stop");
        EXPECT_EQ(order[1], "StartAck");
        EXPECT_EQ(order[2], "Yield");
        EXPECT_EQ(order.back(), "Stop");
      }
      n.cancel();
    });
    EXPECT_TRUE(r) << r.error().message();
  }(), 30s);
}

// try_send writes the first frame queued after a read from the call (an answer: the peer is
// likely waiting for it), unless it is a prelude (a StartAck waits for what it announces);
// the frames behind it wait for the writer task. Order is kept.
TYPED_TEST(channel_test, try_send_writes_the_first_answer_after_a_read_through) {
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    auto [client, server] = co_await this->pair(l);
    auto r = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon(client->run_writer());
      co_await checkpoint();  // let the writer start
      const m::msg ask = m::Stop{"question"};
      EXPECT_TRUE(co_await server->send(ask));
      EXPECT_TRUE(co_await client->receive());  // a read: the next frame is an answer
      const m::msg prelude = m::StartAck{"a0", "asyncfunc"};
      EXPECT_TRUE(client->try_send(prelude));
      EXPECT_EQ(server->socket().available(), 0u) << "a prelude waits for what it announces";
      const m::msg answer = m::Started{"a1", m::raw_pld{"x"}};
      EXPECT_TRUE(client->try_send(answer));
      const std::size_t on_the_wire = server->socket().available();
      EXPECT_GT(on_the_wire, 0u) << "the answer (and the prelude before it) left in the call";
      const m::msg later = m::Started{"a2", m::raw_pld{"y"}};
      EXPECT_TRUE(client->try_send(later));
      EXPECT_EQ(server->socket().available(), on_the_wire) << "a later frame waits for the writer";
      for (const char* cid : {"a0", "a1", "a2"}) {
        auto got = co_await server->receive();
        EXPECT_TRUE(got && m::type_name(got.value()) != "Stop") << cid;
      }
      n.cancel();
    });
    EXPECT_TRUE(r) << r.error().message();
  }(), 30s);
}

TYPED_TEST(channel_test, a_writer_task_batches_a_single_producer) {
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    tp::channel_options o;
    o.send_high_water = 4096;  // small, so back-pressure is exercised too
    auto [client, server] = co_await this->pair(l, o);
    auto r = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon(client->run_writer());
      n.start_soon([&]() -> awaitable<void> {
        for (int i = 0; i < 2000; ++i) {
          m::msg item = m::Stop{std::to_string(i)};
          EXPECT_TRUE(co_await client->send(std::move(item)));
        }
      });
      for (int i = 0; i < 2000; ++i) {
        auto got = co_await server->receive();
        EXPECT_TRUE(got && std::get<m::Stop>(got.value()).cid == std::to_string(i));
      }
      n.cancel();  // the writer runs until cancelled
    });
    EXPECT_TRUE(r) << r.error().message();
    // With the writer gone, sends write inline again.
    m::msg after = m::Stop{"after"};
    EXPECT_TRUE(co_await client->send(std::move(after)));
    EXPECT_TRUE(co_await server->receive());
  }());
}

}  // namespace
