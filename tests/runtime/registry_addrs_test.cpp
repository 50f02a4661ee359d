// A root given several registry addresses uses the first, and says so in a warning: tractor
// registers every actor with the registrar at each address, which is not done here yet, and
// a configuration that is not honoured must not pass in silence.
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/log/log.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/spawn/thread.hpp>
#include <tractor/transport/tcp.hpp>

#include "tests/support/registry.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

namespace registry_addrs {
tractor::awaitable<int> one() { co_return 1; }
}  // namespace registry_addrs

namespace {

using tree = tractor::tree<tractor::spawn::thread, tractor::transport::tcp, tractor::codec::cereal_binary,
                           tractor::exposed<&registry_addrs::one>>;

[[maybe_unused]] ::testing::Environment* const program_env =
    ::testing::AddGlobalTestEnvironment(new tractor::testing::private_runtime_dir);

/// Everything the process logs while it lives, beside stderr.
class captured_log {
 public:
  captured_log() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(text_)) {
    tractor::log::sink().sinks().push_back(sink_);
  }
  ~captured_log() {
    auto& sinks = tractor::log::sink().sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  captured_log(const captured_log&) = delete;
  captured_log& operator=(const captured_log&) = delete;
  [[nodiscard]] std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

TEST(registry_addrs_test, a_root_given_several_registry_addresses_uses_the_first_and_warns) {
  // Port 0: each root becomes the registrar at a port the OS picks, without a probe.
  const auto first = tractor::transport::multiaddr::parse("/ip4/127.0.0.1/tcp/0").value();
  const auto second = tractor::transport::multiaddr::parse("/ip4/127.0.0.1/tcp/0").value();
  const captured_log log;
  boost::asio::io_context host;
  std::optional<tractor::result<void>> outcome;
  bool registrar = false;
  auto body = [&](tractor::actor_nursery<tree>&) -> tractor::task<void> {
    registrar = tractor::runtime::current_actor()->registry() != nullptr;
    co_return tractor::success();
  };
  tractor::async_run_root<tree>(host.get_executor(), {.registry_addrs = {first, second}}, body,
                                [&](tractor::result<void> r) { outcome = std::move(r); });
  host.run();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(*outcome) << outcome->error().message();
  EXPECT_TRUE(registrar) << "the root became the registrar at the first address";
  const std::string said = "2 registry addresses given; only the first, " + first.str() + ", is used";
  EXPECT_NE(log.text().find(said), std::string::npos) << log.text();
}

TEST(registry_addrs_test, one_registry_address_brings_no_warning) {
  const auto only = tractor::transport::multiaddr::parse("/ip4/127.0.0.1/tcp/0").value();
  const captured_log log;
  boost::asio::io_context host;
  std::optional<tractor::result<void>> outcome;
  auto body = [&](tractor::actor_nursery<tree>&) -> tractor::task<void> { co_return tractor::success(); };
  tractor::async_run_root<tree>(host.get_executor(), {.registry_addrs = {only}}, body,
                                [&](tractor::result<void> r) { outcome = std::move(r); });
  host.run();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(*outcome) << outcome->error().message();
  EXPECT_EQ(log.text().find("registry addresses given"), std::string::npos) << log.text();
}

}  // namespace
