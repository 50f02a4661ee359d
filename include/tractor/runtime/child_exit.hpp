// tractor/runtime/child_exit.hpp — what a child actor's exit code says: how its runtime
// ended, or at which step of its boot it gave up. A signal that ended it is `128 + signal`
// when its runtime saw it (Ctrl-C, SIGTERM, a thread actor's stop) and cancelled gracefully.
#pragma once

#include <tractor/spawn/process.hpp>

#include <csignal>
#include <string>
#include <string_view>

namespace tractor::runtime {

enum class child_exit : int {
  ok = 0,                  ///< served until its parent let it go
  failed = 1,              ///< its lifetime ended with an error
  cannot_reach_parent = 2, ///< the connect back to its parent failed
  handshake_failed = 3,    ///< its parent did not answer the handshake
  no_spawn_spec = 4,       ///< its parent sent something else than its SpawnSpec
  cannot_bind = 5,         ///< its server could not bind (its parent was told why)
  cannot_register = 6,     ///< its registration with the registrar failed
  parent_gone = 10,        ///< its parent (exec), or the forkserver, had died before it started
  bad_boot = 11,           ///< its boot, or its forkserver request, was unusable
  not_a_child = 12,        ///< (exec) started without a boot in its environment
  out_of_resources = 13,   ///< it could not make its event loop (out of descriptors or memory)
};

/// The code for a runtime that ended on `sig` (its graceful answer to the signal).
[[nodiscard]] constexpr int exit_code_for_signal(int sig) noexcept { return 128 + sig; }

/// What `code` means as a child actor's exit code, or "" if it means nothing in particular.
[[nodiscard]] constexpr std::string_view meaning(int code) noexcept {
  switch (static_cast<child_exit>(code)) {
    case child_exit::ok: return "";
    case child_exit::failed: return "its runtime failed";
    case child_exit::cannot_reach_parent: return "it could not connect back to its parent";
    case child_exit::handshake_failed: return "its handshake with its parent failed";
    case child_exit::no_spawn_spec: return "its parent sent no SpawnSpec";
    case child_exit::cannot_bind: return "its server could not bind";
    case child_exit::cannot_register: return "its registration failed";
    case child_exit::parent_gone: return "its parent had died";
    case child_exit::bad_boot: return "its boot was unusable";
    case child_exit::not_a_child: return "it was started without a boot";
    case child_exit::out_of_resources: return "it could not make its event loop (out of descriptors or memory)";
  }
  return "";
}

/// `s` described, with what the code means for a child actor.
[[nodiscard]] inline std::string describe_child_exit(const spawn::exit_status& s) {
  const std::string_view why = s.exited ? meaning(s.code) : std::string_view();
  return why.empty() ? s.describe() : s.describe() + ": " + std::string(why);
}

}  // namespace tractor::runtime
