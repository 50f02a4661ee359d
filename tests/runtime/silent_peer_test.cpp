// Connecting over TCP to an address where nothing answers (a host that is down, or a firewall
// that drops what is sent to it): the kernel retries such a connect for minutes; the runtime
// gives up within its bound (`timeouts::connect`) with an error naming the address, a root
// whose registry address is silent says so, and the actor that tried goes on working.
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/runtime/discovery_core.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/spawn/thread.hpp>
#include <tractor/transport/tcp.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/registry.hpp"
#include "tests/support/silent_address.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

namespace silent {
tractor::awaitable<int> add(int a, int b) { co_return a + b; }
}  // namespace silent

namespace {

using namespace std::chrono_literals;
using tree = tractor::tree<tractor::spawn::thread, tractor::transport::tcp, tractor::codec::cereal_binary,
                           tractor::exposed<&silent::add>>;
namespace tp = tractor::transport;
using tractor::clock;

[[maybe_unused]] ::testing::Environment* const program_env =
    ::testing::AddGlobalTestEnvironment(new tractor::testing::private_runtime_dir);

using tractor::testing::silent_address;

// Far below the minutes the kernel retries a connect that gets no answer: the bound, not the
// kernel, ended the wait.
constexpr auto watchdog = 20s;

TEST(silent_peer_test, a_connect_to_an_address_where_nothing_answers_fails_within_its_bound) {
  const silent_address silent;
  boost::asio::io_context ctx;
  const auto t0 = clock::now();
  auto r = tractor::testing::run_async(ctx, tractor::runtime::connect_to(tree::policies(), silent.addr(), 300ms));
  EXPECT_LT(clock::now() - t0, watchdog);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), tractor::errc::timeout) << r.error().message();
  EXPECT_EQ(r.error().message(), "cannot connect to " + silent.addr().str() + ": no answer within 300 ms");
}

TEST(silent_peer_test, a_root_whose_registry_address_never_answers_says_so) {
  const silent_address silent;
  boost::asio::io_context host;
  std::optional<tractor::result<void>> outcome;
  bool body_ran = false;
  auto body = [&](tractor::actor_nursery<tree>&) -> tractor::task<void> {
    body_ran = true;
    co_return tractor::success();
  };
  const auto t0 = clock::now();
  tractor::async_run_root<tree>(host.get_executor(), {.registry_addrs = {silent.addr()}}, body,
                                [&](tractor::result<void> r) { outcome = std::move(r); });
  host.run();
  EXPECT_LT(clock::now() - t0, watchdog);
  EXPECT_FALSE(body_ran) << "a root with no registrar does not start";
  ASSERT_TRUE(outcome.has_value());
  ASSERT_FALSE(*outcome);
  EXPECT_EQ(outcome->error(), tractor::errc::timeout) << outcome->error().message();
  const std::string said = "nothing answers at the registry address " + silent.addr().str() + " (3 tries of 1 s)";
  EXPECT_NE(outcome->error().message().find(said), std::string::npos)
      << outcome->error().message();
}

TEST(silent_peer_test, an_actor_that_connects_to_a_silent_address_gives_up_and_goes_on) {
  const silent_address silent;
  boost::asio::io_context host;
  std::optional<tractor::result<void>> outcome;
  std::optional<tractor::error> refused;
  int sum = 0;
  auto body = [&](tractor::actor_nursery<tree>& an) -> tractor::task<void> {
    tractor::runtime::current_actor()->limits().connect = 300ms;
    auto p = co_await tractor::connect_to<tree>(silent.addr());
    if (!p) refused = p.error();
    BOOST_OUTCOME_CO_TRY(auto worker, co_await an.start_actor<tractor::interface<&silent::add>>("worker"));
    BOOST_OUTCOME_CO_TRY(sum, co_await worker.run<&silent::add>(1, 2));
    an.cancel();
    co_return tractor::success();
  };
  const auto t0 = clock::now();
  tractor::async_run_root<tree>(host.get_executor(), {}, body, [&](tractor::result<void> r) { outcome = std::move(r); });
  host.run();
  EXPECT_LT(clock::now() - t0, watchdog);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(*outcome) << outcome->error().message();
  ASSERT_TRUE(refused.has_value()) << "nothing answered, yet the connection was made";
  EXPECT_EQ(*refused, tractor::errc::timeout) << refused->message();
  EXPECT_NE(refused->message().find("no answer within 300 ms"), std::string::npos) << refused->message();
  EXPECT_EQ(sum, 3) << "the actor goes on working";
}

}  // namespace
