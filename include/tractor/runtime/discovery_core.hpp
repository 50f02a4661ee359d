// tractor/runtime/discovery_core.hpp — the non-template half of discovery: electing the
// registrar at a root's boot, registering, lookups, and channels between any two actors.
// The typed front is tractor/discovery/discovery.hpp.
#pragma once

#include <tractor/config.hpp>

#include <tractor/runtime/actor.hpp>

#include <cstdlib>

namespace tractor::runtime {

/// What a registry address turned out to be (tractor's registry probe): `unanswered` when
/// nothing there even accepted the connection in time (a host that is down, or drops it).
enum class probe_result { registrar, occupied, absent, unanswered };

/// The registry probe's budget (`probe_registry`): this many attempts, each connected and
/// answered within `probe_attempt_bound`.
inline constexpr int probe_attempts = 3;
inline constexpr std::chrono::seconds probe_attempt_bound{1};
/// That budget as errors state it: "3 tries of 1 s".
std::string probe_budget();

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

/// Connects to `addr` and handshakes as a probe (tractor's `Aid.is_probe`): a peer that says
/// it is a registrar is one; a connection refused means nobody is there; a connection not
/// accepted within the attempt, "unanswered"; anything else (no valid handshake, a peer that
/// is not a registrar) is "occupied". Up to `probe_attempts` attempts of at most
/// `probe_attempt_bound` each, 0.05 s x attempt apart, while the answer is "occupied" or
/// "unanswered".
///
/// Cancellation: interrupted at once.
awaitable<probe_result> probe_registry(const policies& pol, const transport::multiaddr& addr);

/// The registry addresses a root uses: `configured` if given, else those in the environment
/// variable TRACTOR_REGISTRY_ADDRS (comma-separated multiaddrs) that the tree's transport
/// takes, else the transport's default (tractor's 127.0.0.1:1616, registry@1616).
std::vector<transport::multiaddr> registry_candidates(const policies& pol,
                                                      const std::vector<transport::multiaddr>& configured);

/// A root's boot (tractor's `open_root_actor()` registrar election): probes its registry address;
/// if a registrar answers there, binds its own address and will register with it; if nobody is
/// there (or the address has port 0), binds the registry address itself and becomes the registrar.
/// A bind lost to another root starting at the same moment is probed again. An address that is
/// occupied, or where nothing answers, is an error saying which.
///
/// Cancellation: interrupted at once.
awaitable<result<void>> boot_root(actor& a, const std::vector<transport::multiaddr>& candidates);

/// A channel from `a` to the actor at `addr`: the one `a` already has to that address, or a
/// new one (handshaken, and served by `a` for as long as it lives).
///
/// Cancellation: interrupted at once; nothing is left connected.
awaitable<result<std::shared_ptr<peer>>> connect_peer(actor& a, const transport::multiaddr& addr);

/// The registrar's request `F` (one of `requests::register_actor` ... `delete_addr`), asked
/// with `args`: answered from `a`'s own table if `a` is the registrar, else over a channel
/// to the registrar. An unreachable registrar is `transport_closed` naming its address.
///
/// Cancellation: interrupted at once (a remote request is cancelled too).
template <auto F>
awaitable<result<typename request_codec<F>::value_type>> ask_registrar(actor& a, args_tuple_t<F> args);

/// The registrar's channel for `a` (see `connect_peer`); `transport_closed` naming its
/// address if it cannot be reached.
///
/// Cancellation: interrupted at once.
awaitable<result<std::shared_ptr<peer>>> connect_registrar(actor& a);

/// Registers `a` (name, uuid, accept address) with the registrar over `via` (tractor's
/// `Actor.async_main()` registration).
///
/// Cancellation: interrupted at once.
awaitable<result<void>> register_over(actor& a, peer& via);

/// Registers `a` with its registrar over a channel of its own (an actor whose parent is not the
/// registrar, a root of another program); the channel, kept open for `a`'s lifetime, is what
/// `unregister_over` closes. Nothing (and no channel) if `a` has no registry address.
///
/// Cancellation: interrupted at once.
awaitable<result<std::shared_ptr<peer>>> register_remotely(actor& a);

/// Unregisters `a` over `via` (not waiting for the answer: the send is bounded by the cancel
/// ack timeout) and closes `via`. Runs shielded: it is teardown.
awaitable<void> unregister_over(actor& a, peer& via);

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
/// address the registrar gives; nullptr if none is registered, or if that address is dead
/// (then the registrar is told to forget it, tractor's `find_actor()` dropping a stale address).
///
/// Cancellation: interrupted at once.
awaitable<result<std::shared_ptr<peer>>> find_peer(actor& a, std::string name);

/// Waits until an actor registers as `name` (tractor's `wait_for_actor()`) and returns a channel to
/// it.
///
/// Cancellation: interrupted at once; the registrar stops waiting too.
awaitable<result<std::shared_ptr<peer>>> wait_for_peer(actor& a, std::string name);

/// The addresses registered for `name` (none if it is not registered).
///
/// Cancellation: interrupted at once.
awaitable<result<std::vector<transport::multiaddr>>> query_addrs(actor& a, std::string name);

}  // namespace tractor::runtime

#include <tractor/runtime/impl/discovery_core.hpp>
#if TRACTOR_HEADER_ONLY
#include <tractor/runtime/impl/discovery_core.ipp>
#endif
