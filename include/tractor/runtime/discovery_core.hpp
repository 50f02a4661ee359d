// tractor/runtime/discovery_core.hpp — the non-template half of discovery: registering,
// lookups, and channels between any two actors. Electing the registrar at a root's boot is
// in election.hpp; the typed front is tractor/discovery/discovery.hpp.
#pragma once

#include <tractor/config.hpp>

#include <tractor/runtime/actor.hpp>

#include <cstdlib>

namespace tractor::runtime {

/// The registry probe's budget (`probe_registry`): this many attempts, each connected and
/// answered within `probe_attempt_bound`.
inline constexpr int probe_attempts = 3;
inline constexpr std::chrono::seconds probe_attempt_bound{1};
/// That budget as errors state it: "3 tries of 1 s".
std::string probe_budget();

/// The first of `a`'s registrars (`registry_addrs`); `actor_failure` if it knows none.
result<transport::multiaddr> first_registrar(const actor& a);

namespace detail {
/// "no answer within N ms".
std::string no_answer_within(clock::duration bound);
/// The error of a request the registrar at `reg` did not answer within `registrar_answer`.
error registrar_silent(const actor& a, const transport::multiaddr& reg);
/// Connects to `addr` (authenticating) and handshakes as a probe (tractor's `Aid.is_probe`,
/// which the peer leaves at that), within `probe_attempt_bound`: the peer's `Aid`; the
/// connect's error if it could not connect (`errc::timeout` if nothing accepted the
/// connection in time); nothing if it connected but no valid handshake came in time.
///
/// Cancellation: interrupted at once.
awaitable<result<std::optional<msg::Aid>>> probe_handshake(const policies& pol, const transport::multiaddr& addr);
}  // namespace detail

/// Connects to `addr` and, over a transport that authenticates (TCP), proves that this tree's
/// cookie is known here (see transport/auth.hpp): the socket every connection between actors
/// starts from. A connection the peer closes before it has answered (an actor making room
/// among connections still authenticating) is made again, three times in all. All of it within
/// `within`, else `errc::timeout` ("no answer within ..."). Errors name the address.
///
/// Cancellation: interrupted at once.
awaitable<result<transport::connection>> connect_to(const policies& pol, const transport::multiaddr& addr,
                                                    clock::duration within = timeouts{}.connect);

/// Whether an actor answers at `addr`: connected to (and authenticated with) within
/// `probe_attempt_bound`, and handshaken as a probe, which the actor there leaves at that.
///
/// Cancellation: interrupted at once.
awaitable<bool> address_alive(const policies& pol, const transport::multiaddr& addr);

/// A channel from `a` to the actor at `addr`: the one `a` already has to that address, or a
/// new one (handshaken, and served by `a` for as long as it lives).
///
/// Cancellation: interrupted at once; nothing is left connected.
awaitable<result<std::shared_ptr<peer>>> connect_peer(actor& a, const transport::multiaddr& addr);

/// The registrar's request `F` (one of `requests::register_actor` ... `delete_addr`), asked
/// with `args` of the registrar at `reg`: answered from `a`'s own table if that is `a`, else
/// over a channel to it. An unreachable registrar is `transport_closed` naming its address;
/// one that does not answer within `timeouts::registrar_answer` (every request but
/// `wait_for_actor`), `errc::timeout` naming it.
///
/// Cancellation: interrupted at once (a remote request is cancelled too).
template <auto F>
awaitable<result<typename request_codec<F>::value_type>> ask_registrar_at(actor& a, transport::multiaddr reg,
                                                                         args_tuple_t<F> args);

/// `ask_registrar_at` the first of `a`'s registrars.
///
/// Cancellation: interrupted at once (a remote request is cancelled too).
template <auto F>
awaitable<result<typename request_codec<F>::value_type>> ask_registrar(actor& a, args_tuple_t<F> args);

/// The channel to the registrar at `reg` for `a` (see `connect_peer`); `transport_closed`
/// naming that address if it cannot be reached.
///
/// Cancellation: interrupted at once.
awaitable<result<std::shared_ptr<peer>>> connect_registrar(actor& a, const transport::multiaddr& reg);

/// The same, for the first of `a`'s registrars.
///
/// Cancellation: interrupted at once.
awaitable<result<std::shared_ptr<peer>>> connect_registrar(actor& a);

/// Registers `a` (name, uuid, accept addresses: tractor's `Actor.async_main()` registration)
/// with each of its registrars over a channel of its own (an actor whose parent
/// is not a registrar, a root of another program), appending each channel that registered to
/// `registered`: kept open for `a`'s lifetime, they are what `unregister_remotely` closes. All
/// at once: a registrar that cannot be reached, refuses or is slow does not hold the others
/// up; the errors of all that failed come back together. Nothing if `a` is a registrar.
///
/// Cancellation: interrupted at once.
awaitable<result<void>> register_remotely(actor& a, std::vector<std::shared_ptr<peer>>& registered);

/// Unregisters `a` at each registrar of `registered` (`register_remotely`'s channels) and
/// closes those channels: all at once, not waiting for answers; each send is bounded by the
/// cancel ack timeout. It is teardown: an actor runs it as the cleanup of its serving scope
/// (`finally`, as tractor's `Actor.async_main()` unregisters in its `finally`), so that it
/// runs, shielded, however that scope ended.
///
/// Cancellation: interrupted at once (run it through `finally` to shield it).
awaitable<void> unregister_remotely(actor& a, const std::vector<std::shared_ptr<peer>>& registered);

/// The registrar's side of a child's registration over its parent channel, during its boot:
/// the child's first message after its handshake. Registers it and appends the answers
/// (StartAck, Return) to `replies`, for the caller to send with the child's SpawnSpec (one
/// write); or the error the child sent instead (it could not bind), or a protocol error.
///
/// Cancellation: interrupted at once.
awaitable<result<void>> accept_registration(actor& a, std::shared_ptr<peer> link, std::vector<msg::msg>& replies);

/// As `accept_registration`, for the child's message `m` once received (or the error that
/// ended the receive): registers it and appends the answers to `replies`.
result<void> admit_registration(actor& a, peer& link, const result<msg::msg>& m, std::vector<msg::msg>& replies);

/// The child's side of the same: the registration request (`cid` names it), to send over
/// its parent channel (right behind its handshake, when it knows the parent registers).
msg::msg registration_request(actor& a, peer& parent, const std::string& cid);

/// Then: waits for the answer to request `cid` over the (not yet served) parent channel, and
/// receives the SpawnSpec into `spec` meanwhile (the parent sends that first).
///
/// Cancellation: interrupted at once.
awaitable<result<void>> finish_registration(peer& parent, const std::string& cid, std::optional<msg::SpawnSpec>& spec);

/// Both: sends the request, then waits as `finish_registration`.
///
/// Cancellation: interrupted at once.
awaitable<result<void>> register_over_parent(actor& a, peer& parent, std::optional<msg::SpawnSpec>& spec);

/// The actor registered as `name`, as a channel to it: one `a` already has, else one to the
/// address given by the first registrar to answer that knows it (all are asked at once, the
/// others cancelled then); nullptr if none is registered anywhere, or if that address is
/// dead (then that registrar is told to forget it, tractor's `find_actor()` dropping a stale
/// address). Found nowhere while a registrar could not be asked is that registrar's error.
///
/// Cancellation: interrupted at once.
awaitable<result<std::shared_ptr<peer>>> find_peer(actor& a, std::string name);

/// Waits until an actor registers as `name` at the first registrar (as tractor's
/// `wait_for_actor()`) and returns a channel to it.
///
/// Cancellation: interrupted at once; the registrar stops waiting too.
awaitable<result<std::shared_ptr<peer>>> wait_for_peer(actor& a, std::string name);

/// The addresses registered for `name` at the first registrar to answer that knows it (none
/// if it is registered nowhere; asked as `find_peer` asks).
///
/// Cancellation: interrupted at once.
awaitable<result<std::vector<transport::multiaddr>>> query_addrs(actor& a, std::string name);

}  // namespace tractor::runtime

#include <tractor/runtime/impl/discovery_core.hpp>
#if TRACTOR_HEADER_ONLY
#include <tractor/runtime/impl/discovery_core.ipp>
#endif
