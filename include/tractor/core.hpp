// tractor/core.hpp — the in-actor structured-concurrency core: nurseries, cancel scopes,
// events, memory channels and the error model.
#pragma once

#include <tractor/core/blocking_worker.hpp>
#include <tractor/core/cancel_scope.hpp>
#include <tractor/core/capacity_limiter.hpp>
#include <tractor/core/error.hpp>
#include <tractor/core/event.hpp>
#include <tractor/core/memory_channel.hpp>
#include <tractor/core/nursery.hpp>
