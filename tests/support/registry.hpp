// Test helper: a registry of this test process's own, so that tests running side by side never
// share one (every root probes its registry address at boot and registers with whatever
// registrar answers there).
#pragma once

#include <tractor/transport/multiaddr.hpp>
#include <tractor/transport/uds.hpp>

#include <cstdlib>
#include <string>

#include <unistd.h>

namespace tractor::testing {

/// The registry addresses this process's roots use (TRACTOR_REGISTRY_ADDRS): a socket file
/// named after this process for UDS trees, a port the OS chooses for TCP trees. Call first in
/// main; processes started from here inherit it.
inline void use_private_registry() {
  const auto uds = transport::uds::bind_addr_of("registry-test", ::getpid());
  const std::string addrs = uds.str() + ",/ip4/127.0.0.1/tcp/0";
  ::setenv("TRACTOR_REGISTRY_ADDRS", addrs.c_str(), 0);
}

}  // namespace tractor::testing
