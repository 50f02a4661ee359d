// tractor/runtime/election.hpp — a root's boot among registrars (tractor's `open_root_actor()`
// registrar election): what answers at each registry address, and whether the root registers
// with the registrars there or becomes the registrar itself.
#pragma once

#include <tractor/config.hpp>

#include <tractor/runtime/discovery_core.hpp>

namespace tractor::runtime {

/// What a registry address turned out to be (tractor's registry probe): `unanswered` when
/// nothing there even accepted the connection in time (a host that is down, or drops it).
enum class probe_result { registrar, occupied, absent, unanswered };

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

/// A root's boot (tractor's `open_root_actor()` registrar election): probes every registry
/// address at once. If registrars answer, binds its own address and will register with each
/// of them (one address per registrar: one bound at several answers at each); an address where
/// none answered is then warned about and left out. If nobody is at any of them (or an address
/// has port 0), binds them all itself and becomes the registrar. A bind lost to another root
/// starting at the same moment is probed again. An address that is occupied, or (when no
/// registrar answered) where nothing answers, is an error saying which.
///
/// Cancellation: interrupted at once.
awaitable<result<void>> boot_root(actor& a, const std::vector<transport::multiaddr>& candidates);

}  // namespace tractor::runtime

#if TRACTOR_HEADER_ONLY
#include <tractor/runtime/impl/election.ipp>
#endif
