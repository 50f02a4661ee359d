// A running TCP tree attacked on its listening ports: a peer that speaks tractor's handshake
// without authenticating, and one that authenticates with a wrong cookie. Each is refused
// before any message is read; the actors go on answering, and the registrar is unchanged.
// Inside the tree, an actor may not unregister another's entry nor have a live one forgotten.
// A client whose connection is closed before it is answered (an actor making room among
// connections still authenticating) connects again, a bounded number of times.
#include <tractor/discovery/discovery.hpp>
#include <tractor/runtime/discovery_core.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/spawn/thread.hpp>
#include <tractor/transport/tcp.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/registry.hpp"

#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace attack {
tractor::awaitable<int> add(int a, int b) { co_return a + b; }
// From inside an actor that is not the registrar: unregister someone else's entry, or report
// a live actor's address dead. Each answers the registrar's refusal ("" if it was obeyed).
tractor::awaitable<std::string> unregister_other(std::string name, std::string uuid) {
  auto* self = tractor::runtime::current_actor();
  std::tuple<tractor::msg::uid> who{{name, uuid}};
  auto r = co_await tractor::runtime::ask_registrar<&tractor::runtime::requests::unregister_actor>(*self, who);
  co_return r ? "" : r.error().message();
}
tractor::awaitable<std::string> forget_live(std::string addr) {
  auto r = co_await tractor::delete_addr(tractor::transport::multiaddr::parse(addr).value());
  co_return r ? "" : r.error().message();
}
}  // namespace attack

namespace {

using namespace std::chrono_literals;
using tree = tractor::tree<tractor::spawn::thread, tractor::transport::tcp, tractor::codec::cereal_binary,
                           tractor::exposed<&attack::add, &attack::unregister_other, &attack::forget_live>>;
using attack_api = tractor::interface<&attack::add, &attack::unregister_other, &attack::forget_live>;
namespace tp = tractor::transport;

[[maybe_unused]] ::testing::Environment* const program_env =
    ::testing::AddGlobalTestEnvironment(new tractor::testing::private_runtime_dir);

// Whether the peer at `addr` hangs up on a connection that sends `bytes` and waits.
tractor::awaitable<bool> hung_up_on(const tp::multiaddr& addr, std::string bytes) {
  auto ex = co_await boost::asio::this_coro::executor;
  auto s = co_await tp::tcp::connect(ex, addr);
  if (!s) co_return false;
  boost::system::error_code ec;
  co_await boost::asio::async_write(s.value(), boost::asio::buffer(bytes),
                                    boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  std::string answer(200, '\0');
  (void)co_await boost::asio::async_read(s.value(), boost::asio::buffer(answer),
                                         boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  co_return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
}

TEST(auth_attack_test, unauthenticated_peers_cause_no_call_no_cancel_and_no_registrar_change) {
  ASSERT_TRUE(tp::auth::enabled());
  std::vector<std::string> before, after;
  std::vector<bool> refused;
  int sum = 0;
  std::string unregistered, forgotten;
  char arg0[] = "auth_attack_test";
  char* argv[] = {arg0, nullptr};
  const int code = tractor::run_main<tree>(1, argv, [&](tractor::actor_nursery<tree>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto worker, co_await an.start_actor<attack_api>("worker"));
    auto listed = co_await tractor::list_registry();
    if (!listed) co_return listed.error();
    for (const auto& e : listed.value()) before.push_back(e.name + " " + e.address.str());
    for (const auto& e : listed.value()) {
      // tractor's handshake as an unauthenticated peer would start it (a length-prefixed
      // frame), and the authentication's first step with a nonce but then a wrong proof.
      refused.push_back(co_await hung_up_on(e.address, std::string("\x00\x00\x00\x40", 4) + std::string(64, 'a')));
      refused.push_back(co_await hung_up_on(e.address, "TRCAUTH1" + std::string(32, 'n') + std::string(32, 'p')));
    }
    BOOST_OUTCOME_CO_TRY(sum, co_await worker.run<&attack::add>(40, 2));
    // An authenticated actor of the tree is no owner of another's entry either.
    const auto& root = tractor::runtime::current_actor()->aid();
    BOOST_OUTCOME_CO_TRY(unregistered, co_await worker.run<&attack::unregister_other>(root.name, root.uuid));
    BOOST_OUTCOME_CO_TRY(forgotten,
                         co_await worker.run<&attack::forget_live>(tractor::runtime::current_actor()->address().str()));
    auto again = co_await tractor::list_registry();
    if (!again) co_return again.error();
    for (const auto& e : again.value()) after.push_back(e.name + " " + e.address.str());
    an.cancel();
    co_return tractor::success();
  });
  EXPECT_EQ(code, 0);
  ASSERT_EQ(before.size(), 2u) << "the root and its worker";
  EXPECT_EQ(refused, std::vector<bool>(4, true)) << "each attempt is hung up on";
  EXPECT_EQ(sum, 42) << "the worker still answers";
  EXPECT_EQ(after, before) << "the registrar is unchanged";
  EXPECT_NE(unregistered.find("only its owner may unregister it"), std::string::npos) << unregistered;
  EXPECT_NE(forgotten.find("an actor still answers at"), std::string::npos) << forgotten;
}

// A slowloris: 1,000 connections that never authenticate, held open against a running actor.
// Past the cap the silent ones are closed to make room, the rest at the deadline; meanwhile the
// actor answers a call, and a new client still connects and authenticates; in the end the
// actor has closed every one of them.
TEST(auth_attack_test, idle_connections_are_capped_closed_at_the_deadline_and_calls_go_on) {
  int sum = 0;
  bool newcomer_got_in = false;
  std::size_t opened = 0, closed_by_the_actor = 0;
  double call_ms = 0;
  char arg0[] = "auth_attack_test";
  char* argv[] = {arg0, nullptr};
  const int code = tractor::run_main<tree>(1, argv, [&](tractor::actor_nursery<tree>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto worker, co_await an.start_actor<attack_api>("worker"));
    BOOST_OUTCOME_CO_TRY(auto addrs, co_await tractor::query_actor<tree>("worker"));
    if (addrs.empty()) co_return tractor::errc::would_block;
    auto ex = co_await boost::asio::this_coro::executor;
    std::vector<tp::stream_socket> idle;
    for (int i = 0; i < 1000; ++i) {
      auto s = co_await tp::tcp::connect(ex, addrs.front());
      if (s) idle.push_back(std::move(s).value());
    }
    opened = idle.size();
    const auto t0 = std::chrono::steady_clock::now();
    BOOST_OUTCOME_CO_TRY(sum, co_await worker.run<&attack::add>(1, 2));
    call_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    newcomer_got_in = co_await tractor::runtime::address_alive(tractor::runtime::current_actor()->pol(), addrs.front());
    for (auto& s : idle) {
      // Each ends from the actor's side: evicted by a newer one, else at its deadline.
      auto read_one = [&]() -> tractor::awaitable<bool> {
        char b = 0;
        boost::system::error_code ec;
        co_await boost::asio::async_read(s, boost::asio::buffer(&b, 1),
                                         boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        co_return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
      };
      auto ended = co_await tractor::move_on_after(tp::auth::deadline() + 10s, read_one());
      closed_by_the_actor += ended && *ended;
    }
    an.cancel();
    co_return tractor::success();
  });
  std::printf("a call among %zu idle connections took %.2f ms\n", opened, call_ms);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(opened, 1000u);
  EXPECT_EQ(sum, 3) << "the actor answered while they were open";
  EXPECT_TRUE(newcomer_got_in) << "a new client connected and authenticated during the flood";
  EXPECT_EQ(closed_by_the_actor, opened);
}

// A listener that closes each of the first `closing` connections it accepts before answering
// (as an actor at its cap of connections still authenticating closes the oldest silent one)
// and authenticates the rest: how `connect_to` fares against it, and how many it made.
std::pair<tractor::result<void>, int> connect_against_closing(int closing) {
  boost::asio::io_context ctx;
  int accepted = 0;
  auto r = tractor::testing::run_async(ctx, [&]() -> tractor::awaitable<tractor::result<void>> {
    auto ex = co_await boost::asio::this_coro::executor;
    BOOST_OUTCOME_CO_TRY(auto l, tp::tcp::listen(ex, tp::tcp::bind_addr("closing")));
    std::optional<tractor::result<void>> connected;
    auto outcome = co_await tractor::open_nursery([&](tractor::nursery& n) -> tractor::awaitable<void> {
      n.start_soon("listener", [&]() -> tractor::awaitable<void> {
        for (;;) {
          auto s = co_await l.accept();
          if (!s) co_return;
          if (++accepted <= closing) continue;  // closed at once: the socket goes with this turn
          (void)co_await tp::auth::check(s.value());
        }
      });
      auto c = co_await tractor::runtime::connect_to(tree::policies(), l.address());
      connected.emplace(c ? tractor::result<void>(tractor::success()) : tractor::result<void>(c.error()));
      n.cancel();
    });
    if (!outcome) co_return outcome.error();
    co_return *connected;
  }());
  return {r, accepted};
}

TEST(auth_attack_test, a_connection_closed_before_the_answer_is_made_again_three_times_in_all) {
  const auto [twice, made] = connect_against_closing(2);
  EXPECT_TRUE(twice) << twice.error().message();
  EXPECT_EQ(made, 3);
  const auto [always, tries] = connect_against_closing(1000);
  ASSERT_FALSE(always);
  EXPECT_EQ(always.error(), tractor::wire_errc::transport_closed) << always.error().message();
  EXPECT_NE(always.error().message().find("cannot authenticate with"), std::string::npos) << always.error().message();
  EXPECT_EQ(tries, 3);
}

}  // namespace
