// The TLS transport (transport/tls.hpp) at the wire: channels through a TLS session carry
// small and large messages, also when the socket fills and a write resumes where the session
// left off; and attackers are refused: a plain TCP peer, a certificate from another
// authority (either side), no certificate, the right certificate with a wrong cookie, a
// silent peer, random bytes. The certificates are tests/wire/tls/*.pem (make_certs.sh).
#include "tests/wire/tls_support.hpp"
#include "tests/wire/traffic.hpp"

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/core/event.hpp>
#include <tractor/transport/channel.hpp>

#include <gtest/gtest.h>

#include <random>

namespace tractor::testing::tls {
namespace {

namespace m = tractor::msg;

// A channel pair over one TLS connection.
struct channel_pair {
  std::unique_ptr<tp::channel> client, server;
};

// Runs `body` on a fresh pair of channels over one TLS connection (the tree's certificate on
// both sides).
template <class Body>
void with_tls_pair(Body body) {
  run_async([&]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto l = tp::tls::listen(ex, tp::tls::bind_addr("tls"));
    EXPECT_TRUE(l);
    if (!l) co_return;
    auto hs = co_await both_sides(l.value(), context_of("actor"), context_of("actor"));
    EXPECT_TRUE(hs.client && hs.server) << hs.describe();
    if (!hs.client || !hs.server) co_return;
    channel_pair p{tp::channel::make<codec::cereal_binary>(std::move(hs.client).value()),
                   tp::channel::make<codec::cereal_binary>(std::move(hs.server).value())};
    co_await body(p);
  }());
}

using traffic::pattern;

TEST(tls_test, a_channel_carries_small_and_large_messages_through_the_session) {
  with_tls_pair([&](channel_pair& p) -> awaitable<void> {
    EXPECT_TRUE(p.client->secure());
    // Small messages, then one of 3 MiB (written from its own buffer, read straight into place).
    co_await traffic::numbered_then_large(*p.client, *p.server, 3u << 20);
    // And back, from the accepting side.
    m::msg stop = m::Stop{"back"};
    EXPECT_TRUE(co_await p.server->send(std::move(stop)));
    auto back = co_await p.client->receive();
    EXPECT_TRUE(back && std::holds_alternative<m::Stop>(back.value()));
  });
}

// The sender writes far more than the socket holds before the peer reads anything: its
// write-through stops halfway into a TLS record, and the rest goes from the same bytes later
// (what OpenSSL requires of a retried write). Every byte arrives, in order.
TEST(tls_test, writes_resume_where_a_full_socket_stopped_them) {
  with_tls_pair([&](channel_pair& p) -> awaitable<void> {
    constexpr int count = 400;  // 400 x 40 KiB: many times what the sockets buffer
    event all_sent;
    (void)co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon("writer", p.client->run_writer());
      n.start_soon("sender", [&]() -> awaitable<void> {
        for (int i = 0; i < count; ++i) {
          m::msg y = m::Yield{std::to_string(i), m::raw_pld{pattern(40 * 1024 + i, i)}};
          if (!p.client->try_send(y)) {
            auto sent = co_await p.client->send(std::move(y));
            EXPECT_TRUE(sent) << sent.error().message();
          }
        }
        all_sent.set();
      });
      for (int i = 0; i < count; ++i) {
        auto got = co_await p.server->receive();
        EXPECT_TRUE(got);
        if (!got) break;
        const auto& y = std::get<m::Yield>(got.value());
        EXPECT_EQ(y.cid, std::to_string(i));
        EXPECT_EQ(y.pld.bytes, pattern(40 * 1024 + i, i)) << "message " << i;
      }
      co_await all_sent.wait();
      n.cancel();
    });
  });
}

TEST(tls_test, the_peer_hanging_up_reads_as_a_closed_transport) {
  with_tls_pair([&](channel_pair& p) -> awaitable<void> {
    p.client->close();
    auto got = co_await p.server->receive();
    EXPECT_FALSE(got);
    if (!got) {
      EXPECT_EQ(got.error(), wire_errc::transport_closed) << got.error().message();
    }
  });
}

TEST(tls_test, a_plain_tcp_peer_is_refused) {
  const auto r = against_server(context_of("actor"), [](tp::stream_socket& c) -> awaitable<void> {
    (void)co_await tp::auth::prove(c);  // the cookie exchange of plain TCP, no TLS
    c.close();
  });
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("does not speak TLS"), std::string::npos) << r.error().message();
}

TEST(tls_test, a_certificate_another_authority_signed_is_refused) {
  const auto hs = handshake_pair(context_of("stranger"), context_of("actor"));
  ASSERT_FALSE(hs.server);
  EXPECT_EQ(hs.server.error(), wire_errc::auth_failed);
  EXPECT_NE(hs.server.error().message().find("not one this tree's authority signed"), std::string::npos)
      << hs.server.error().message();
  EXPECT_FALSE(hs.client);
}

TEST(tls_test, a_server_another_authority_signed_is_refused_by_the_connecting_side) {
  const auto hs = handshake_pair(context_of("actor"), context_of("stranger"));
  ASSERT_FALSE(hs.client);
  EXPECT_NE(hs.client.error().message().find("not one this tree's authority signed"), std::string::npos)
      << hs.client.error().message();
  EXPECT_FALSE(hs.server);
}

TEST(tls_test, a_peer_without_a_certificate_is_refused) {
  const auto r = against_server_by_thread(context_of("actor"), raw_client{.certificate = false, .cookie = {}});
  ASSERT_FALSE(r.server);
  EXPECT_NE(r.server.error().message().find("presented no certificate"), std::string::npos) << r.server.error().message();
}

TEST(tls_test, the_right_certificate_with_a_wrong_cookie_is_refused) {
  const auto r = against_server_by_thread(context_of("actor"), raw_client{.cookie = "not-the-cookie"});
  EXPECT_TRUE(r.client_handshake_done) << "the TLS handshake itself succeeds";
  ASSERT_FALSE(r.server);
  EXPECT_NE(r.server.error().message().find("does not know this tree's cookie"), std::string::npos)
      << r.server.error().message();
}

TEST(tls_test, the_right_certificate_and_cookie_by_hand_are_accepted) {
  // The same hand-made client as above, with the cookie: shows that its refusals are the
  // server's judgement, not the client's clumsiness.
  const auto r = against_server_by_thread(context_of("actor"), raw_client{.cookie = tp::auth::cookie().value()});
  EXPECT_TRUE(r.server) << r.server.error().message();
}

TEST(tls_test, a_silent_peer_is_dropped_at_the_deadline) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = against_server(context_of("actor"), [](tp::stream_socket&) -> awaitable<void> { co_return; });
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("in time"), std::string::npos) << r.error().message();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, tp::auth::deadline());
}

// Random bytes, some dressed as the start of a TLS handshake record so that they reach
// OpenSSL's parser, never pass and never harm the accepting side.
TEST(tls_test, random_bytes_before_the_handshake_never_pass) {
  std::mt19937 rng(26);
  for (int round = 0; round < 150; ++round) {
    std::string junk(rng() % 400, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    if (round % 2 == 0 && junk.size() >= 5) junk.replace(0, 3, "\x16\x03\x01", 3);
    const auto r = against_server(context_of("actor"), [&](tp::stream_socket& c) -> awaitable<void> {
      co_await send_bytes(c, junk);
      c.close();
    });
    ASSERT_FALSE(r) << "round " << round;
    EXPECT_EQ(r.error(), wire_errc::auth_failed) << r.error().message();
  }
}

// A server that closes the connection before it answers (as an actor at its cap of
// connections still authenticating closes the oldest silent one): the connecting side's
// handshake says the transport was closed, which `runtime::connect_to` tries again on.
TEST(tls_test, a_server_closing_before_it_answers_reads_as_a_closed_transport) {
  run_async([&]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto l = tp::tcp::listen(ex, tp::tls::bind_addr("tls"));
    EXPECT_TRUE(l);
    if (!l) co_return;
    auto c = co_await tp::tcp::connect(ex, l.value().address());
    EXPECT_TRUE(c);
    if (!c) co_return;
    {
      auto s = co_await l.value().accept();  // and closed at once
      EXPECT_TRUE(s);
    }
    auto hs = co_await tp::tls_handshake(c.value(), context_of("actor"), tp::tls_role::client);
    EXPECT_FALSE(hs);
    if (!hs) {
      EXPECT_EQ(hs.error(), wire_errc::transport_closed) << hs.error().message();
    }
  }());
}

TEST(tls_test, missing_or_broken_files_are_named_in_the_error) {
  const auto missing = tp::tls_context::make({"/nonexistent/cert.pem", key_path("actor"), file("ca.pem")});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("/nonexistent/cert.pem"), std::string::npos) << missing.error().message();
  const auto mismatched = tp::tls_context::make({file("actor.pem"), key_path("stranger"), file("ca.pem")});
  ASSERT_FALSE(mismatched);
  EXPECT_NE(mismatched.error().message().find("does not match"), std::string::npos) << mismatched.error().message();
  const auto not_pem = tp::tls_context::make({file("actor.pem"), key_path("actor"), file("make_certs.sh")});
  ASSERT_FALSE(not_pem);
  EXPECT_NE(not_pem.error().message().find("make_certs.sh"), std::string::npos) << not_pem.error().message();
}

}  // namespace
}  // namespace tractor::testing::tls
