// tractor/runtime/handshake.hpp — tractor's actor handshake: the first exchange on every
// channel between two actors. Each side sends its `Aid` first, then waits (bounded) for the
// other's; no other message is accepted before it. The channel itself knows nothing of it:
// it frames and sends whatever the runtime gives it.
#pragma once

#include <tractor/config.hpp>

#include <tractor/core/cancel_scope.hpp>
#include <tractor/transport/channel.hpp>

#include <array>
#include <span>

namespace tractor::runtime {

/// Sends `self`, then `then` right behind it if not null (a message the peer reads after the
/// handshake, sent without waiting for the peer's `Aid`: a child's registration with a
/// parent that keeps the registry), and waits up to `timeout` for the peer's `Aid`. A peer
/// that sends anything else fails with `wire_errc::handshake_failed`, one that sends nothing
/// in time with `wire_errc::handshake_timeout`. What the peer sent behind its `Aid` stays
/// for the next receive.
///
/// Cancellation: interrupted at once (`operation_aborted`).
awaitable<result<msg::Aid>> handshake(transport::channel& ch, const msg::Aid& self, clock::duration timeout,
                                      const msg::msg* then = nullptr);

}  // namespace tractor::runtime

#if TRACTOR_HEADER_ONLY
#include <tractor/runtime/impl/handshake.ipp>
#endif
