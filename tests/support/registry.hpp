// Test helper: a registry and a UDS name prefix of this test process's own, so that tests
// running side by side never share one (every root probes its registry address at boot and
// registers with whatever registrar answers there; and a test checks that it left no
// listener behind).
#pragma once

#include <tractor/transport/multiaddr.hpp>
#include <tractor/transport/uds.hpp>

#include "tools/reap/scan.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <algorithm>
#include <chrono>
#include <random>
#include <thread>
#include <string>
#include <vector>

#include <unistd.h>

namespace tractor::testing {

/// Points the UDS name prefix (XDG_RUNTIME_DIR) at one of this process's own: every
/// abstract socket under it is one of this test program's actors (the processes it starts
/// inherit it), so tests running side by side never see each other's. Call first in main,
/// before anything binds. Nothing is created: the names are abstract.
inline void use_private_runtime_dir() {
  std::random_device random;
  const std::string prefix = "/tmp/tractor-test." + std::to_string(::getpid()) + "." + std::to_string(random());
  ::setenv("XDG_RUNTIME_DIR", prefix.c_str(), 1);
}

/// The listening abstract sockets under this process's UDS name prefix (with
/// `use_private_runtime_dir`, this test program's own), by name below the prefix, from
/// /proc/net/unix: after a test, a listener that outlived it (its actor still runs).
inline std::vector<std::string> listeners_left() {
  const std::string prefix = transport::uds::name_prefix();
  std::vector<std::string> out;
  for (const auto& name : reap::abstract_listeners(prefix)) out.push_back(name.substr(prefix.size() + 1));
  return out;
}

/// The listeners an earlier test left on purpose (a thread actor it abandoned, running on
/// until this process exits); a test's SetUp records them.
inline std::vector<std::string>& listener_baseline() {
  static std::vector<std::string> baseline;
  return baseline;
}

/// `listeners_left()` less the baseline.
inline std::vector<std::string> new_listeners_left() {
  auto left = listeners_left();
  std::erase_if(left, [](const std::string& l) {
    return std::find(listener_baseline().begin(), listener_baseline().end(), l) != listener_baseline().end();
  });
  return left;
}

/// Fails the current test for each listener left under the name prefix beyond the baseline,
/// waiting a moment for one that is closing (10 s at most, a watchdog). For a test's
/// TearDown.
inline void expect_no_listener_left() {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto left = new_listeners_left();
  while (!left.empty() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    left = new_listeners_left();
  }
  for (const auto& name : left) ADD_FAILURE() << "a listener outlived its test: " << name;
}

/// For a test program without a main of its own: its name prefix, set before any test runs.
class private_runtime_dir : public ::testing::Environment {
 public:
  void SetUp() override { use_private_runtime_dir(); }
};

/// The registry addresses this process's roots use (TRACTOR_REGISTRY_ADDRS): an abstract
/// socket named after this process for UDS trees, a port the OS chooses for TCP trees. Call first in
/// main; processes started from here inherit it.
inline void use_private_registry() {
  const auto uds = transport::uds::bind_addr_of("registry-test", ::getpid());
  const std::string addrs = uds.str() + ",/ip4/127.0.0.1/tcp/0";
  ::setenv("TRACTOR_REGISTRY_ADDRS", addrs.c_str(), 0);
}

}  // namespace tractor::testing
