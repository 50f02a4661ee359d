// Test helper: the listening sockets a test leaves under its UDS name prefix (its runtime
// directory, which tractor::testing gives each test and each test program its own of).
#pragma once

#include <tractor/testing/fixture.hpp>
#include <tractor/testing/reap.hpp>
#include <tractor/transport/uds.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace tractor::testing {

/// The listening abstract sockets under this process's UDS name prefix, by name below the
/// prefix, from /proc/net/unix: after a test, a listener that outlived it (its actor still
/// runs).
inline std::vector<std::string> listeners_left() {
  const std::string prefix = transport::uds::name_prefix();
  std::vector<std::string> out;
  for (const auto& name : abstract_listeners(prefix)) out.push_back(name.substr(prefix.size() + 1));
  return out;
}

/// Fails the current test for each listener left under the name prefix, waiting a moment for
/// one that is closing (10 s at most, a watchdog). For a test's TearDown.
inline void expect_no_listener_left() {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto left = listeners_left();
  while (!left.empty() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    left = listeners_left();
  }
  for (const auto& name : left) ADD_FAILURE() << "a listener outlived its test: " << name;
}

/// For a test program without a main of its own (gtest_main): the program's runtime
/// directory, set before any test runs.
class private_runtime_dir : public ::testing::Environment {
 public:
  void SetUp() override { init_test_program(); }
};

}  // namespace tractor::testing
