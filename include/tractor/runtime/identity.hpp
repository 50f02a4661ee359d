// tractor/runtime/identity.hpp — how actors and calls are named: uuids, uids, descriptions.
#pragma once

#include <tractor/msg/types.hpp>

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <atomic>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include <pthread.h>

namespace tractor::runtime {

namespace detail {
// Bumped in every forked child, so a generator inherited through fork() reseeds instead of
// repeating its parent's ids.
inline std::atomic<unsigned> fork_generation{0};
inline const bool fork_hook_installed =
    ::pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); }) == 0;
}  // namespace detail

/// A fresh uuid4 string (cids and actor ids). From a per-thread generator seeded by the OS,
/// since Boost's default generator asks the kernel for entropy on every call (a syscall on
/// every remote call's cid).
inline std::string new_uuid() {
  struct generator {
    // Seeded explicitly: Boost's generator leaves std::mt19937_64 default-seeded (it does
    // not detect the engine's overloaded `seed`), which would give every process the same
    // sequence of ids.
    std::mt19937_64 engine{seeded()};
    boost::uuids::basic_random_generator<std::mt19937_64> gen{engine};
    unsigned generation = detail::fork_generation.load();
    static std::mt19937_64 seeded() {
      std::random_device dev;
      std::seed_seq seq{dev(), dev(), dev(), dev(), dev(), dev(), dev(), dev()};
      return std::mt19937_64(seq);
    }
  };
  static thread_local std::optional<generator> g;
  if (!g || g->generation != detail::fork_generation.load()) g.emplace();
  return boost::uuids::to_string(g->gen());
}

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
