// tractor/runtime/debug.hpp — debug mode (tractor's `debug_mode=True`): an actor whose RPC
// task fails stops before relaying the error, with the terminal, for the user or a debugger;
// `tractor::pause()` stops the same way on purpose.
//
// A stop takes the tree-wide terminal lock from the root (FIFO: actors that fail meanwhile
// wait their turn), prints a report (what stopped it, its task tree, its native stack), then
// either runs the debugger command TRACTOR_DEBUGGER (`{pid}` replaced by the actor's pid; for
// example `gdb -p {pid}`) on the terminal and waits for it to end, or, with none, asks the
// user on the terminal: `c` continues, `r` prints the report again. Then the lock goes back,
// and the error goes on exactly as without debug mode. With no terminal (CI, output piped)
// the report goes to stderr, says so, and nobody waits.
//
// While anyone holds or waits for the lock, every actor's kill ladder waits before it starts
// (tractor's `maybe_wait_for_debugger`): no child of a stopped subtree is cancelled under the
// user's feet; the ladder's timeouts start once the lock is free. The lock is the holder's for
// as long as its channel to the root lives: a holder that dies (even SIGKILLed) frees it. In
// debug mode Ctrl-C belongs to whoever is stopped: the root does not cancel the tree for it
// while the lock is held or waited for, children leave SIGINT to the root, and a stop at the
// prompt reads Ctrl-C as a key.
//
// Turn it on with `root_options::debug_mode` or TRACTOR_DEBUG_MODE=1 (for the root); children
// inherit it under every backend, and `actor_options::debug_mode` overrides it for one child
// (and its descendants).
#pragma once

#include <tractor/config.hpp>

#include <tractor/core/capacity_limiter.hpp>
#include <tractor/core/detail/waiter_list.hpp>
#include <tractor/core/error.hpp>
#include <tractor/core/nursery.hpp>
#include <tractor/msg/types.hpp>

#include <optional>
#include <string>

namespace tractor::runtime {

class actor;

/// Debug mode's state in one actor; the lock's only in the root.
struct debug_state {
  /// Whether this actor stops when an RPC task fails.
  bool enabled = false;
  /// The root's address: where the tree's terminal lock is (empty in the root).
  std::string root_addr;
  /// Set while a task of this actor is stopped: a pause from there is refused.
  bool stopped = false;

  // -- the root's terminal lock -------------------------------------------------------------

  /// One holder at a time, the longest waiter next.
  capacity_limiter tty{1};
  /// Who holds it: the channel it asked over (null: the root itself) and its actor.
  struct holding {
    const void* via = nullptr;
    msg::uid who;
    capacity_limiter::slot slot;
  };
  std::optional<holding> holder;
  /// How many wait for it.
  std::size_t waiting = 0;
  /// Woken whenever the lock may have become free (see `busy`).
  tractor::detail::waiter_list freed;

  /// Whether anyone holds or waits for the lock.
  [[nodiscard]] bool busy() const noexcept { return holder.has_value() || waiting > 0; }
  /// Gives the lock back if the channel `via` holds it (the holder let go, or its channel ended).
  void release_held_by(const void* via);
};

/// Whether TRACTOR_DEBUG_MODE is "1".
bool debug_mode_from_env();

/// Whether a task that failed with `e` stops in debug mode: not for a cancellation (its own,
/// or relayed), nor for an error relayed from another actor (that one stopped where it
/// failed).
bool should_stop_for(const error& e);

/// Stops the calling task of `a` as described above, `why` heading its report; returns when
/// the user continues (at once with no terminal, or when the root cannot be reached).
///
/// Cancellation: not interrupted, waiting for the lock included (shielded): an actor that
/// failed stops for the user even if its caller gave up on it meanwhile. A caller already
/// cancelled when it calls is not stopped.
awaitable<void> debug_stop(actor& a, std::string why);

/// Returns once nobody holds or waits for the tree's terminal lock (at once outside debug
/// mode). The kill ladder calls it first.
///
/// Cancellation: interrupted at once.
awaitable<void> wait_for_debugger(actor& a);

}  // namespace tractor::runtime

namespace tractor {

/// tractor's `pause()`: stops the calling task as a failing one would in debug mode (a
/// breakpoint), whether or not debug mode is on, and returns when the user continues.
/// `invalid_operation` from an actor where a stop is under way already, or outside any actor.
///
/// Cancellation: once stopped, nothing interrupts the stop. In a cancelled scope, `pause()`
/// returns `errc::cancelled` without stopping, and `pause(true)` (tractor's `shield=True`)
/// stops even so. (Asio itself refuses to enter any coroutine from a cancelled task while
/// its throw-if-cancelled check is on, as it is outside cleanups: a cleanup run by
/// `finally` or `on_cancel` has it off, so that is where `pause(true)` is reached.)
awaitable<result<void>> pause(bool shielded = false);

}  // namespace tractor

#if TRACTOR_HEADER_ONLY
// The definitions need the whole actor; its header's end brings them (impl/debug.ipp).
#include <tractor/runtime/actor.hpp>
#endif
