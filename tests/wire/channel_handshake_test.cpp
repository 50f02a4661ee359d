// tractor's handshake (runtime/handshake.hpp) over a bare channel: its failures, and a peer
// that spoke first, under every transport x codec.
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
      auto r = co_await tractor::runtime::handshake(*server, this->aid("server"), std::chrono::seconds(10));
      EXPECT_FALSE(r);
      EXPECT_EQ(r.error(), wire_errc::handshake_failed);
      EXPECT_NE(r.error().message().find("`Stop` instead of `Aid`"), std::string::npos) << r.error().message();
    }
    // Nothing at all within the (short) timeout.
    {
      auto client = this->wrap(co_await this->raw_connect(l));
      auto accepted = co_await l.accept();
      auto server = this->wrap(std::move(accepted).value());
      auto r = co_await tractor::runtime::handshake(*server, this->aid("server"), 20ms);
      EXPECT_FALSE(r);
      EXPECT_EQ(r.error(), wire_errc::handshake_timeout);
    }
    // The peer hangs up instead.
    {
      auto client = this->wrap(co_await this->raw_connect(l));
      auto accepted = co_await l.accept();
      auto server = this->wrap(std::move(accepted).value());
      client->close();
      auto r = co_await tractor::runtime::handshake(*server, this->aid("server"), std::chrono::seconds(10));
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
    for (const auto& m : first) EXPECT_TRUE(co_await client->send(m));
    auto hs = co_await tractor::runtime::handshake(*server, this->aid("server"), std::chrono::seconds(10));
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

}  // namespace
