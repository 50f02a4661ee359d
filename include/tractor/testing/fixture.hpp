// tractor/testing/fixture.hpp — a GoogleTest fixture for tests that start actor trees
// (tractor's `reap_subactors_per_test`, its session-wide reaper, and hang triage).
//
// Per test, `actor_fixture`:
// - makes the test process a child subreaper, so that a grandchild whose parent died is
//   reparented to it and stays visible;
// - gives the test a runtime directory of its own (XDG_RUNTIME_DIR, under which every UDS
//   name of its actors lives) and a registrar address of its own (TRACTOR_REGISTRY_ADDRS), so
//   that tests never find each other's actors; the processes the test starts inherit both;
// - turns task dumps on (TRACTOR_ENABLE_TASKDUMP=1) for the hang guard;
// - at teardown, gives what the test started `settle` to end by itself, then stops each
//   process still running with tractor's ladder and fails the test naming every leaked
//   process, thread actor, listening socket and shared-memory segment;
// - runs a hang guard: past the test's deadline it fails the test with the tree's task dump,
//   cancels the tree as Ctrl-C would, then stops every process the test started; a test that
//   still does not end is reported on stderr and the program exits.
//
// `run_tests` (matrix.hpp) adds the program-wide check: whatever is left when every test has
// run fails the program. A test program without `run_tests` calls `init_test_program()` first
// in its main and adds `leak_check_environment` itself.
#pragma once

#include <tractor/config.hpp>

#include <tractor/testing/reap.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace tractor::testing {

/// How the fixture runs a test. Each duration bounds a wait that only a faulty test reaches.
struct fixture_options {
  /// How long a test may run before the hang guard steps in; zero: no guard.
  /// TRACTOR_TEST_DEADLINE (seconds, may be fractional) overrides it.
  std::chrono::milliseconds deadline = std::chrono::seconds(60);
  /// How long what the test started gets at teardown to end by itself before it counts as
  /// leaked (a grandchild noticing its parent's end, a thread actor being joined).
  std::chrono::milliseconds settle = std::chrono::seconds(5);
  /// The ladder's wait between SIGINT, SIGTERM and SIGKILL.
  std::chrono::milliseconds grace = std::chrono::seconds(1);
  /// Turn task dumps on for the test's roots, so that the hang guard can show the tree.
  bool enable_taskdump = true;
};

/// Sets this program up for actor tests: a child subreaper, a runtime directory of its own
/// under /tmp (abstract UDS names: nothing is created on disk) that each test's directory
/// lies under, and a registrar address of its own. Call first in main, before anything binds.
void init_test_program();

/// The main of a test program whose tests start no `exec` children of their own (else see
/// `run_tests` in matrix.hpp): `init_test_program()`, GoogleTest with
/// `leak_check_environment`, and every test. Returns the exit code.
int run_all_tests(int argc, char** argv);

/// This program's runtime directory (`init_test_program`); empty before it.
const std::string& program_runtime_dir();

/// What is running or present at one moment, to tell what a test added.
struct snapshot {
  /// Thread ids of this process's thread actors.
  std::set<pid_t> threads = {};
  /// Abstract UDS names listening under the prefix the snapshot was taken for.
  std::set<std::string> listeners = {};
  /// /dev/shm segments named by this library.
  std::set<std::string> shm = {};
};

/// Takes a snapshot, listing listeners under the UDS prefix `uds_prefix`.
snapshot take_snapshot(const std::string& uds_prefix);

/// What a test (or the whole program) left behind.
struct leftovers {
  /// Processes still running after `settle`, and how the ladder stopped them.
  std::vector<stop_report> processes = {};
  /// Thread actors still running, as "tid actor:name".
  std::vector<std::string> threads = {};
  std::vector<std::string> listeners = {};
  /// Segments that appeared during the test and that no process maps or holds open (a
  /// test program running beside this one keeps its own in use); removed once listed.
  std::vector<std::string> shm = {};

  [[nodiscard]] bool empty() const noexcept;
  /// One line per leftover, e.g. "leaked process 1234 `_subactor[w@1a2b3c4d]` (stopped by
  /// SIGTERM)".
  [[nodiscard]] std::vector<std::string> lines() const;
};

/// Finds what is there beyond `before`: this process's descendants (forkservers aside), its
/// thread actors, listeners under `uds_prefix` and segments; waits up to `settle` for them to
/// go by themselves, then stops the processes left with the ladder (`grace` apart), waits for
/// the zombies among its children and removes the segments. Blocks the calling thread.
leftovers collect_leftovers(const snapshot& before, const std::string& uds_prefix, std::chrono::milliseconds settle,
                            std::chrono::milliseconds grace);

/// The per-test fixture described above. Derive a test's fixture from it (or use it as is
/// with TEST_F); a derived SetUp or TearDown calls this one's.
class actor_fixture : public ::testing::Test {
 public:
  /// The test process's pid: the parent of the test's roots (what tractor's
  /// `reap_subactors_per_test` gives a test).
  [[nodiscard]] pid_t parent_pid() const noexcept;
  /// This test's runtime directory (XDG_RUNTIME_DIR while it runs).
  [[nodiscard]] const std::string& runtime_dir() const noexcept { return runtime_dir_; }
  /// The UDS name prefix of this test's actors.
  [[nodiscard]] std::string uds_prefix() const;
  /// Thread actors still running at teardown, and their listeners, are left on purpose (a
  /// test of abandoning a thread actor deaf to cancellation): they are not reported, here or
  /// by the program-wide check.
  void expect_abandoned_threads() noexcept { abandons_threads_ = true; }

 protected:
  actor_fixture() = default;
  explicit actor_fixture(fixture_options o) : options_(o) {}

  void SetUp() override;
  void TearDown() override;

  fixture_options options_ = {};

 private:
  void watch(std::chrono::milliseconds deadline);
  void finish_guard();

  std::string runtime_dir_ = {};
  std::optional<std::string> taskdump_before_ = {};
  snapshot before_ = {};
  bool abandons_threads_ = false;
  std::mutex m_ = {};
  std::condition_variable cv_ = {};
  bool finished_ = false;
  std::thread guard_ = {};
};

/// The program-wide check, for `::testing::AddGlobalTestEnvironment`: after the last test,
/// fails the program for anything left under its runtime directory beyond what tests left on
/// purpose, and stops it.
class leak_check_environment : public ::testing::Environment {
 public:
  void TearDown() override;
};

/// Asks this process for its task dump (SIGUSR1, when a root with task dumps enabled handles
/// it) and returns it, or "" if there is none or it did not come within `within`.
std::string request_task_dump(std::chrono::milliseconds within);

}  // namespace tractor::testing

#if TRACTOR_HEADER_ONLY
#include <tractor/testing/impl/fixture.ipp>
#endif
