// The runtime layer's non-template definitions, compiled once (TRACTOR_SEPARATE_COMPILATION).

// A coroutine frame of a function defined in an included file holds its lambdas; g++ warns
// about that for headers, assuming several definitions. This file is its one definition.
#pragma GCC diagnostic ignored "-Wsubobject-linkage"
#include <tractor/runtime/impl/actor.ipp>
#include <tractor/runtime/impl/child.ipp>
#include <tractor/runtime/impl/context.ipp>
#include <tractor/runtime/impl/context_core.ipp>
#include <tractor/runtime/impl/debug.ipp>
#include <tractor/runtime/impl/discovery_core.ipp>
#include <tractor/runtime/impl/election.ipp>
#include <tractor/runtime/impl/dispatch.ipp>
#include <tractor/runtime/impl/handshake.ipp>
#include <tractor/runtime/impl/identity.ipp>
#include <tractor/runtime/impl/peer.ipp>
#include <tractor/runtime/impl/remote_error.ipp>
#include <tractor/runtime/impl/requests.ipp>
#include <tractor/runtime/impl/root.ipp>
#include <tractor/runtime/impl/spawn_child.ipp>
#include <tractor/runtime/impl/supervise.ipp>
#include <tractor/runtime/impl/task_dump.ipp>
