// Test helper: this process's children (and, as tractor::testing makes a test program a
// subreaper, orphaned grandchildren), listed from /proc, so a test can check at any moment
// that none survives (the fixture's own check runs at teardown).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <filesystem>

#include <unistd.h>

namespace tractor::testing {

/// The pids of this process's live children (all threads), from /proc.
inline std::set<pid_t> live_children() {
  std::set<pid_t> out;
  const std::string base = "/proc/" + std::to_string(::getpid()) + "/task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(base, ec)) {
    std::ifstream in(task.path() / "children");
    pid_t pid = 0;
    while (in >> pid) out.insert(pid);
  }
  return out;
}

/// The pids of `parent`'s children (those its main thread forked), from /proc: a forkserver's
/// actors, clerk and spare.
inline std::set<pid_t> children_of(pid_t parent) {
  std::set<pid_t> out;
  std::ifstream in("/proc/" + std::to_string(parent) + "/task/" + std::to_string(parent) + "/children");
  for (pid_t pid = 0; in >> pid;) out.insert(pid);
  return out;
}

/// A fixture for tests that start processes: none may be alive before, or outlive the test.
class no_child_left_test : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(live_children().empty()); }
  void TearDown() override { EXPECT_TRUE(live_children().empty()) << "a child outlived its test"; }
};

}  // namespace tractor::testing
