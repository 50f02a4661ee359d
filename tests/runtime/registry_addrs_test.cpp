// A root that finds no registrar at any of its registry addresses becomes the registrar at
// every one of them (as tractor's), and one it cannot bind is an error naming it. A tree with
// several registrars of other programs: registrars_test.cpp.
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/discovery/discovery.hpp>
#include <tractor/spawn/thread.hpp>
#include <tractor/transport/tcp.hpp>

#include "tests/support/registry.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace registry_addrs {
tractor::awaitable<int> one() { co_return 1; }
}  // namespace registry_addrs

namespace {

using tree = tractor::tree<tractor::spawn::thread, tractor::transport::tcp, tractor::codec::cereal_binary,
                           tractor::exposed<&registry_addrs::one>>;
using tractor::transport::multiaddr;

[[maybe_unused]] ::testing::Environment* const program_env =
    ::testing::AddGlobalTestEnvironment(new tractor::testing::private_runtime_dir);

TEST(registry_addrs_test, a_root_that_finds_no_registrar_becomes_one_at_every_address) {
  // Port 0: nobody's, without a probe; the OS picks a port for each.
  const auto first = multiaddr::parse("/ip4/127.0.0.1/tcp/0").value();
  const auto second = multiaddr::parse("/ip4/127.0.0.1/tcp/0").value();
  boost::asio::io_context host;
  std::optional<tractor::result<void>> outcome;
  auto body = [&](tractor::actor_nursery<tree>&) -> tractor::task<void> {
    tractor::runtime::actor* self = tractor::runtime::current_actor();
    EXPECT_TRUE(self->registry() != nullptr);
    const auto bound = self->addresses();
    EXPECT_EQ(bound.size(), 2u);
    if (bound.size() != 2) co_return tractor::errc::would_block;
    EXPECT_EQ(self->registry_addrs(), std::vector<multiaddr>{bound.front()}) << "its tree registers once";
    auto listed = co_await tractor::list_registry();
    if (!listed) co_return listed.error();
    std::vector<multiaddr> own;
    for (const auto& e : listed.value()) {
      if (e.name == "root") own.push_back(e.address);
    }
    EXPECT_EQ(own, bound) << "registered at both";
    // It accepts (and answers a handshake) at the second address too.
    const bool answers = co_await tractor::runtime::address_alive(self->pol(), bound.back());
    EXPECT_TRUE(answers) << bound.back().str();
    co_return tractor::success();
  };
  tractor::async_run_root<tree>(host.get_executor(), {.registry_addrs = {first, second}}, body,
                                [&](tractor::result<void> r) { outcome = std::move(r); });
  host.run();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(*outcome) << outcome->error().message();
}

TEST(registry_addrs_test, a_registry_address_the_root_cannot_bind_is_an_error_naming_it) {
  boost::asio::io_context host;
  // Bound, not listening: a connection there is refused (nobody is there), and binding it
  // fails.
  boost::asio::ip::tcp::socket reserved(host);
  reserved.open(boost::asio::ip::tcp::v4());
  reserved.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto taken = multiaddr::tcp(boost::asio::ip::make_address("127.0.0.1"), reserved.local_endpoint().port());
  const auto first = multiaddr::parse("/ip4/127.0.0.1/tcp/0").value();
  std::optional<tractor::result<void>> outcome;
  bool ran = false;
  auto body = [&](tractor::actor_nursery<tree>&) -> tractor::task<void> {
    ran = true;
    co_return tractor::success();
  };
  tractor::async_run_root<tree>(host.get_executor(), {.registry_addrs = {first, taken}}, body,
                                [&](tractor::result<void> r) { outcome = std::move(r); });
  host.run();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_FALSE(ran);
  ASSERT_FALSE(*outcome);
  EXPECT_NE(outcome->error().message().find("cannot become the registrar at " + taken.str() + " too"),
            std::string::npos)
      << outcome->error().message();
}

}  // namespace
