// tractor/runtime/spawn_child.hpp — the parent's side of a child's boot (tractor's
// `_spawn.new_proc` up to the portal): start the child with the tree's spawn backend, reach
// it (its connect-back, or the channel a backend hands over), take its registration when
// this actor is the registrar, and send its SpawnSpec. The child's side is child.hpp.
#pragma once

#include <tractor/config.hpp>

#include <tractor/runtime/child.hpp>
#include <tractor/runtime/supervise.hpp>

#include <memory>
#include <string>
#include <vector>

namespace tractor::runtime {

/// Starts child `name` of `a` with the tree's spawn backend and waits until it has connected
/// back (racing its death and the boot timeout), then sends its SpawnSpec enabling
/// `enable_modules`; it logs from `loglevel`, else from `a`'s threshold. A backend that adopts
/// a channel (forkserver, thread) under UDS gets one end of a socketpair instead: no
/// connect-back, no accept. (Under TCP the child connects
/// back, so that the parent link runs over the transport the tree chose.) A child that dies,
/// fails its handshake or stays silent past the boot timeout is killed, reaped and reported
/// as `actor_failure`.
///
/// Cancellation: the half-started child is killed and reaped (shielded), then the
/// cancellation goes on.
awaitable<result<std::shared_ptr<child_record>>> spawn_child(actor& a, std::string name,
                                                             const std::vector<std::string>& enable_modules,
                                                             std::optional<log::level> loglevel = std::nullopt,
                                                             std::optional<bool> debug_mode = std::nullopt);

}  // namespace tractor::runtime

#if TRACTOR_HEADER_ONLY
#include <tractor/runtime/impl/spawn_child.ipp>
#endif
