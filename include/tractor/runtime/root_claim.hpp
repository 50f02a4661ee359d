// tractor/runtime/root_claim.hpp — one root actor per process (tractor's `RuntimeFailure`
// for a second `open_root_actor()`, in the root's process or inside a child's RPC).
#pragma once

#include <tractor/runtime/actor.hpp>

#include <atomic>
#include <utility>

namespace tractor::runtime {

/// This process's claim to run the root actor: one root per process (tractor raises
/// `RuntimeFailure` for a second `open_root_actor()`). Released when destroyed.
class root_claim {
 public:
  root_claim(root_claim&& other) noexcept : held_(std::exchange(other.held_, false)) {}
  root_claim& operator=(root_claim&&) = delete;
  ~root_claim() {
    if (held_) running().store(false);
  }

  /// Claims the root, or fails at once with `runtime_failure`: when this thread already runs
  /// an actor (inside a root's body, a child's exposed function, a thread actor), or another
  /// root runs in this process.
  static result<root_claim> acquire();

 private:
  root_claim() = default;
  static std::atomic<bool>& running() {
    static std::atomic<bool> flag{false};
    return flag;
  }
  bool held_ = true;
};

inline result<root_claim> root_claim::acquire() {
  if (actor* a = current_actor()) {
    return error(make_error_code(runtime_errc::runtime_failure),
                 "a root actor cannot start inside actor '" + a->aid().name +
                     "': one root per process, and this code already runs in an actor");
  }
  if (running().exchange(true)) {
    return error(make_error_code(runtime_errc::runtime_failure),
                 "a root actor already runs in this process (one root per process)");
  }
  return root_claim();
}

}  // namespace tractor::runtime
