// Definitions for tractor/runtime/handshake.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/runtime/handshake.hpp>

namespace tractor::runtime {

// -- definitions -------------------------------------------------------------------------

namespace detail {

/// The first message of a handshake as the peer's `Aid`, or `handshake_failed` saying what
/// came instead.
TRACTOR_DECL result<msg::Aid> peer_aid_of(const result<msg::msg>& first) {
  if (!first) {
    return error(make_error_code(wire_errc::handshake_failed),
                 "peer sent an invalid actor handshake: " + first.error().message());
  }
  const auto* aid = std::get_if<msg::Aid>(&first.value());
  if (!aid) {
    return error(make_error_code(wire_errc::handshake_failed),
                 "peer sent an invalid actor handshake: `" + std::string(msg::type_name(first.value())) +
                     "` instead of `Aid`");
  }
  return *aid;
}

}  // namespace detail

TRACTOR_DECL awaitable<result<msg::Aid>> handshake(transport::channel& ch, const msg::Aid& self,
                                                   clock::duration timeout, const msg::msg* then) {
  // Our Aid is written from this call (as any send writes when nothing else is under way):
  // the peer may be waiting for it. The wait for the peer's Aid is the checkpoint.
  // What goes behind our Aid leaves in the same write: the peer reads both at one wakeup.
  std::array<msg::msg, 2> hello{self, then ? *then : msg::msg()};
  auto sent = co_await ch.send_together(std::span<const msg::msg>(hello.data(), then ? 2 : 1));
  if (!sent) {
    co_return error(make_error_code(wire_errc::handshake_failed),
                    "handshake failed: could not send our Aid: " + sent.error().message());
  }
  // The peer's Aid may be here already (it spoke first): then nothing needs a deadline.
  std::optional<result<msg::msg>> arrived = ch.try_receive();
  if (!arrived) {
    auto waited = co_await fail_after(timeout, ch.receive());
    arrived.emplace(std::move(waited));
  }
  if (!*arrived && arrived->error() == errc::timeout) {
    co_return error(make_error_code(wire_errc::handshake_timeout), "peer sent no Aid within the handshake timeout");
  }
  co_return detail::peer_aid_of(*arrived);
}

}  // namespace tractor::runtime
