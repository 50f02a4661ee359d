// Test helper: a registry and a runtime dir of this test process's own, so that tests running
// side by side never share one (every root probes its registry address at boot and registers
// with whatever registrar answers there; and a test checks that it left no socket file).
#pragma once

#include <tractor/transport/multiaddr.hpp>
#include <tractor/transport/uds.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

namespace tractor::testing {

/// Points the UDS runtime dir (XDG_RUNTIME_DIR) at a directory of this process's own, removed
/// when it exits: every socket file in it is one of this test program's actors (the processes
/// it starts inherit it). Call first in main, before anything binds.
inline void use_private_runtime_dir() {
  static const pid_t owner = ::getpid();
  static std::string dir = "/tmp/tractor-test.XXXXXX";  // (pids repeat across sandboxes)
  if (::mkdtemp(dir.data()) == nullptr) return;  // then the shared dir it is
  ::setenv("XDG_RUNTIME_DIR", dir.c_str(), 1);
  // A forked child that exits through `exit` runs this too: only the owner removes it.
  std::atexit([] {
    std::error_code ec;
    if (::getpid() == owner) std::filesystem::remove_all(dir, ec);
  });
}

/// The socket files in the UDS runtime dir (with `use_private_runtime_dir`, this test
/// program's own): after a test, an actor's or a listener's file that outlived it.
inline std::vector<std::string> socket_files_left() {
  std::vector<std::string> out;
  auto dir = transport::uds::runtime_dir();
  if (!dir) return out;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir.value(), ec)) {
    if (f.is_socket(ec)) out.push_back(f.path().filename().string());
  }
  return out;
}

/// Fails the current test for each socket file left in the runtime dir, and removes it (so
/// that the next test starts clean). For a test's TearDown.
inline void expect_no_socket_file_left() {
  for (const auto& f : socket_files_left()) {
    ADD_FAILURE() << "a socket file outlived its test: " << f;
    std::error_code ec;
    std::filesystem::remove(std::filesystem::path(transport::uds::runtime_dir().value()) / f, ec);
  }
}

/// For a test program without a main of its own: its runtime dir, set before any test runs.
class private_runtime_dir : public ::testing::Environment {
 public:
  void SetUp() override { use_private_runtime_dir(); }
};

/// The registry addresses this process's roots use (TRACTOR_REGISTRY_ADDRS): a socket file
/// named after this process for UDS trees, a port the OS chooses for TCP trees. Call first in
/// main; processes started from here inherit it.
inline void use_private_registry() {
  const auto uds = transport::uds::bind_addr_of("registry-test", ::getpid());
  const std::string addrs = uds.str() + ",/ip4/127.0.0.1/tcp/0";
  ::setenv("TRACTOR_REGISTRY_ADDRS", addrs.c_str(), 0);
}

}  // namespace tractor::testing
