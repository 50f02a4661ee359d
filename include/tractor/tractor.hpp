// tractor/tractor.hpp — the umbrella header: everything tractor offers today.
#pragma once

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/codec/cereal_json.hpp>
#include <tractor/core.hpp>
#include <tractor/discovery/discovery.hpp>
#include <tractor/msg/types.hpp>
#include <tractor/runtime/broadcast.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/shm.hpp>
#include <tractor/spawn/backend.hpp>
#include <tractor/spawn/forkserver.hpp>  // links tools/forkserver/forkserver.cc only if used
#include <tractor/spawn/thread.hpp>
#include <tractor/transport/channel.hpp>
#include <tractor/transport/shm.hpp>
#include <tractor/transport/tcp.hpp>
#include <tractor/transport/uds.hpp>
