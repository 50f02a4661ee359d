// tractor/runtime/child.hpp — a child actor's runtime: bind, reach the parent (the channel
// its backend gave it, or a connect back), handshake with its registration right behind,
// receive SpawnSpec, serve the parent until it cancels us or goes away. Every spawn backend
// ends up in `run_child` (declared in actor.hpp).
#pragma once

#include <tractor/config.hpp>

#include <tractor/runtime/child_exit.hpp>
#include <tractor/runtime/discovery_core.hpp>
#include <tractor/runtime/task_dump.hpp>
#include <tractor/spawn/prestarted.hpp>

namespace tractor::runtime {

/// The identity a child takes from its boot (its pid is the process's it runs in).
msg::Aid child_aid(const spawn::child_boot& boot);

}  // namespace tractor::runtime

#if TRACTOR_HEADER_ONLY
#include <tractor/runtime/impl/child.ipp>
#endif
