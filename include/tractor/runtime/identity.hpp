// tractor/runtime/identity.hpp — how actors and calls are named: uuids, uids, descriptions.
#pragma once

#include <tractor/config.hpp>

#include <tractor/msg/types.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <unistd.h>

namespace tractor::runtime {

/// A fresh uuid4 string (cids and actor ids), from a per-thread xoshiro256** generator
/// seeded by the kernel: one `getrandom` per thread (and per forked process), not one per id
/// (Boost's default generator), nor the dozens of syscalls and the 5 KB state a seeded
/// mt19937 costs, which showed in every thread actor's boot.
std::string new_uuid();

/// tractor's `uid`: (name, uuid).
inline msg::uid uid_of(const msg::Aid& a) { return {a.name, a.uuid}; }

/// "name@1234abcd": how logs and errors name an actor.
inline std::string describe(const msg::uid& u) { return u.first + "@" + u.second.substr(0, 8); }

/// "name@<full uuid>": how a canceller is named in errors, exactly enough to be compared.
inline std::string describe_exactly(const msg::uid& u) { return u.first + "@" + u.second; }

/// The inverse of `describe` and `describe_exactly` (the uuid part is the 8-character prefix it kept).
inline msg::uid parse_described(std::string_view d) {
  const auto at = d.find('@');
  return {std::string(d.substr(0, at)),
          at == std::string_view::npos ? "" : std::string(d.substr(at + 1))};
}

}  // namespace tractor::runtime

#if TRACTOR_HEADER_ONLY
#include <tractor/runtime/impl/identity.ipp>
#endif
