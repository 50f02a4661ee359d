// The handshake: its failures, a peer that spoke first, and a handshake whose answer is
// checked when it arrives (`handshake_expecting`), under every transport x codec.
#include "tests/wire/channel_fixture.hpp"

namespace {

using namespace tractor::testing::wire;
using tractor::testing::run_async;

template <class Combo>
class channel_handshake_test : public channel_test<Combo> {};
TYPED_TEST_SUITE(channel_handshake_test, channel_combos);

TYPED_TEST(channel_handshake_test, handshake_failures_are_clear_errors) {
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    // Wrong first message.
    {
      auto client = this->wrap(co_await this->raw_connect(l));
      auto accepted = co_await l.accept();
      auto server = this->wrap(std::move(accepted).value());
      m::msg not_aid = m::Stop{"not-an-aid"};
      EXPECT_TRUE(co_await client->send(std::move(not_aid)));
      auto r = co_await server->handshake(this->aid("server"));
      EXPECT_FALSE(r);
      EXPECT_EQ(r.error(), wire_errc::handshake_failed);
      EXPECT_NE(r.error().message().find("`Stop` instead of `Aid`"), std::string::npos) << r.error().message();
    }
    // Nothing at all within the (short) timeout.
    {
      tp::channel_options quick;
      quick.handshake_timeout = 20ms;
      auto client = this->wrap(co_await this->raw_connect(l));
      auto accepted = co_await l.accept();
      auto server = this->wrap(std::move(accepted).value(), quick);
      auto r = co_await server->handshake(this->aid("server"));
      EXPECT_FALSE(r);
      EXPECT_EQ(r.error(), wire_errc::handshake_timeout);
    }
    // The peer hangs up instead.
    {
      auto client = this->wrap(co_await this->raw_connect(l));
      auto accepted = co_await l.accept();
      auto server = this->wrap(std::move(accepted).value());
      client->close();
      auto r = co_await server->handshake(this->aid("server"));
      EXPECT_FALSE(r);
      EXPECT_EQ(r.error(), wire_errc::handshake_failed);
    }
  }());
}

// A peer that spoke first: its Aid and what it sent behind it arrive in one read (taken
// without waiting); the handshake consumes the Aid alone, and what came behind it stays for
// the next receive.
TYPED_TEST(channel_handshake_test, a_handshake_whose_peer_spoke_first_keeps_what_came_behind_its_aid) {
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    auto p = co_await this->raw_pair(l);
    auto& client = p.client;
    auto& server = p.server;
    std::vector<m::msg> first;
    first.emplace_back(this->aid("client"));
    first.emplace_back(m::Stop{"behind-the-aid"});
    first.emplace_back(m::Stop{"and-another"});
    EXPECT_TRUE(co_await client->send_all(std::move(first)));
    auto hs = co_await server->handshake(this->aid("server"));
    EXPECT_TRUE(hs) << hs.error().message();
    if (hs) {
      EXPECT_EQ(hs.value().name, "client");
    }
    for (const char* cid : {"behind-the-aid", "and-another"}) {
      auto behind = co_await server->receive();
      EXPECT_TRUE(behind && std::holds_alternative<m::Stop>(behind.value()));
      if (behind && std::holds_alternative<m::Stop>(behind.value())) {
        EXPECT_EQ(std::get<m::Stop>(behind.value()).cid, cid);
      }
    }
    auto back = co_await client->receive();
    EXPECT_TRUE(back && std::holds_alternative<m::Aid>(back.value()));
  }());
}

// A handshake not waited for: the peer's identity is the expected one at once; the peer's
// Aid, when a receive meets it, is checked and passed over (and its fields taken), whether
// it arrives alone or with what follows it. A peer answering as another actor, or with
// something else, breaks the channel with a clear error.
TYPED_TEST(channel_handshake_test, a_handshake_not_waited_for_is_checked_when_the_answer_arrives) {
  auto l = this->listen();
  run_async(this->ctx_, [&]() -> awaitable<void> {
    const m::msg then = m::Stop{"sent-with-the-handshake"};
    m::Aid expected = this->aid("client");
    expected.pid.reset();  // the answer's own fields replace the expected ones
    {
      auto p = co_await this->raw_pair(l);
      EXPECT_TRUE(co_await p.server->handshake_expecting(this->aid("server"), then, expected));
      EXPECT_EQ(p.server->peer(), expected) << "the peer is known before it answered";
      // The peer answers, and sends right behind its Aid, in one write.
      const m::msg after = m::Stop{"after-the-aid"};
      auto hs = co_await p.client->handshake(this->aid("client"), &after);
      EXPECT_TRUE(hs && hs.value().name == "server");
      auto first = co_await p.client->receive();
      EXPECT_TRUE(first && first.value() == then);
      auto got = co_await p.server->receive();
      EXPECT_TRUE(got && got.value() == after) << "the Aid is passed over";
      EXPECT_EQ(p.server->peer(), this->aid("client"));
      // Later messages are plain ones; an Aid now is a message like any other.
      m::msg again = this->aid("client");
      EXPECT_TRUE(co_await p.client->send(again));
      m::msg kept;
      auto into = co_await p.server->receive(kept);
      EXPECT_TRUE(into && kept == again);
    }
    {
      // The answer alone, received into a kept message.
      auto p = co_await this->raw_pair(l);
      EXPECT_TRUE(co_await p.server->handshake_expecting(this->aid("server"), then, expected));
      EXPECT_TRUE(co_await p.client->handshake(this->aid("client")));
      const m::msg later = m::Stop{"later"};
      EXPECT_TRUE(co_await p.client->send(later));
      m::msg kept;
      auto into = co_await p.server->receive(kept);
      EXPECT_TRUE(into && kept == later);
    }
    {
      auto p = co_await this->raw_pair(l);
      m::Aid other = expected;
      other.uuid = "someone-else";
      EXPECT_TRUE(co_await p.server->handshake_expecting(this->aid("server"), then, other));
      EXPECT_TRUE(co_await p.client->handshake(this->aid("client")));
      auto got = co_await p.server->receive();
      EXPECT_FALSE(got);
      EXPECT_EQ(got.error(), wire_errc::handshake_failed);
      EXPECT_NE(got.error().message().find("as actor " + this->aid("client").uuid + ", not someone-else"),
                std::string::npos)
          << got.error().message();
      m::msg stop = m::Stop{"x"};
      EXPECT_FALSE(co_await p.server->send(stop)) << "the channel is broken";
    }
    {
      auto p = co_await this->raw_pair(l);
      EXPECT_TRUE(co_await p.server->handshake_expecting(this->aid("server"), then, expected));
      m::msg not_aid = m::Stop{"no-aid"};
      EXPECT_TRUE(co_await p.client->send(not_aid));
      auto got = co_await p.server->receive();
      EXPECT_FALSE(got);
      EXPECT_EQ(got.error(), wire_errc::handshake_failed);
      EXPECT_NE(got.error().message().find("`Stop` instead of `Aid`"), std::string::npos)
          << got.error().message();
    }
    {
      // A closed channel refuses.
      auto p = co_await this->raw_pair(l);
      p.server->close();
      auto sent = co_await p.server->handshake_expecting(this->aid("server"), then, expected);
      EXPECT_FALSE(sent);
      EXPECT_EQ(sent.error(), wire_errc::handshake_failed);
    }
  }());
}

}  // namespace
