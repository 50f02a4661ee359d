// What tractor-reap and tractor-ps read from registrars: each entry, and whether the actor
// behind it is still there.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace tractor::tools {

/// One registered address and what became of its actor.
struct registry_row {
  std::string name;
  std::string uuid;
  std::string address;
  bool alive = false;
  /// Why it counts as gone: "no listener at ...", "connection refused"...
  std::string why;
};

/// One registrar, as it answered (or did not).
struct registry_view {
  std::string registrar;
  /// Set when no registrar answered there, with what was found instead.
  std::optional<std::string> failure;
  std::vector<registry_row> entries;
};

/// The registrar addresses to look at: those in TRACTOR_REGISTRY_ADDRS, else each
/// transport's default (registry@1616 under the UDS name prefix, 127.0.0.1:1616).
std::vector<std::string> default_registrars();

/// Asks the registrar at `address` for its entries (as a short-lived root named
/// "tractor-tools", which registers there while it runs and is left out of the answer) and
/// checks each: a UDS address is alive while its name is listening; a TCP one while it
/// accepts a connection. With `forget_gone`, the registrar is told to forget each gone
/// address (tractor's `Registrar.delete_addr`). Never becomes a registrar itself: an address
/// where none answers is reported as such.
registry_view read_registry(const std::string& address, bool forget_gone);

}  // namespace tractor::tools
