// Definitions for tractor/runtime/election.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/runtime/election.hpp>

#include <tractor/core/cancel_scope.hpp>

#include <set>

namespace tractor::runtime {

namespace detail {

/// What the registry probe found at one address; the registrar's uuid if one answered.
struct probed {
  probe_result seen = probe_result::absent;
  std::string registrar;
};

inline awaitable<probed> probe_at(const policies& pol, const transport::multiaddr& addr) {
  using namespace std::chrono_literals;
  for (int attempt = 1;; ++attempt) {
    probed found{probe_result::occupied, {}};
    auto answer = co_await detail::probe_handshake(pol, addr);
    if (!answer) {
      // Refused: nobody there. Not accepted in time: nothing answers (yet). Anything else (a
      // peer without our cookie) occupies it.
      const auto code = answer.error().code();
      const bool something_there = code == make_error_code(wire_errc::auth_failed) ||
                                  code == make_error_code(wire_errc::transport_closed);
      found.seen = something_there ? probe_result::occupied : probe_result::absent;
      if (code == make_error_code(errc::timeout)) found.seen = probe_result::unanswered;
      if (found.seen != probe_result::absent) logs::ipc.warning("registry probe: {}", answer.error().message());
    } else if (const auto& peer = answer.value(); peer && peer->is_registrar.value_or(false)) {
      found = {probe_result::registrar, peer->uuid};
    }
    const bool try_again = found.seen == probe_result::occupied || found.seen == probe_result::unanswered;
    if (!try_again || attempt == probe_attempts) co_return found;
    co_await sleep_for(50ms * attempt);
  }
}

/// A TCP address of port 0: the OS picks a port at the bind; nobody can be there.
inline bool ephemeral(const transport::multiaddr& addr) {
  return addr.proto() == transport::multiaddr::protocol::tcp && addr.port() == 0;
}

/// `probe_at` every address at once (tractor probes its `registry_addrs` concurrently);
/// an `ephemeral` one is absent without a probe. Cancelled, the cancellation.
inline awaitable<result<std::vector<probed>>> probe_all(const policies& pol,
                                                        const std::vector<transport::multiaddr>& addrs) {
  std::vector<probed> found(addrs.size());
  auto all = co_await open_nursery([&](nursery& n) -> awaitable<void> {
    for (std::size_t i = 0; i < addrs.size(); ++i) {
      if (ephemeral(addrs[i])) continue;
      n.start_soon("registry probe of " + addrs[i].str(), [&pol, &addrs, &found, i]() -> awaitable<void> {
        found[i] = co_await probe_at(pol, addrs[i]);
      });
    }
    co_return;
  });
  // (The probes return no errors: what they found is in `found`.)
  if (!all) co_return all.error();
  co_return found;
}

}  // namespace detail

TRACTOR_DECL awaitable<probe_result> probe_registry(const policies& pol, const transport::multiaddr& addr) {
  auto found = co_await detail::probe_at(pol, addr);
  co_return found.seen;
}

TRACTOR_DECL std::vector<transport::multiaddr> registry_candidates(const policies& pol,
                                                             const std::vector<transport::multiaddr>& configured) {
  if (!configured.empty()) return configured;
  std::vector<transport::multiaddr> out;
  if (const char* env = std::getenv("TRACTOR_REGISTRY_ADDRS")) {
    const std::string_view all(env);
    for (std::size_t at = 0; at <= all.size();) {
      const std::size_t end = std::min(all.find(',', at), all.size());
      auto m = transport::multiaddr::parse(all.substr(at, end - at));
      if (m && pol.accepts(m.value())) out.push_back(std::move(m).value());
      at = end + 1;
    }
  }
  if (out.empty()) out.push_back(pol.default_registry());
  return out;
}

TRACTOR_DECL awaitable<result<void>> boot_root(actor& a, const std::vector<transport::multiaddr>& candidates) {
  for (int round = 0;; ++round) {
    BOOST_OUTCOME_CO_TRY(auto found, co_await detail::probe_all(a.pol(), candidates));
    // One address per registrar that answered (one bound at several answers at each).
    std::vector<transport::multiaddr> registrars;
    std::set<std::string> seen;
    const transport::multiaddr* silent = nullptr;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      const probe_result what = found[i].seen;
      if (what == probe_result::occupied) {
        co_return error(make_error_code(runtime_errc::actor_failure),
                        "the registry address " + candidates[i].str() +
                            " is taken by something that is not a tractor registrar");
      }
      if (what == probe_result::unanswered && !silent) silent = &candidates[i];
      if (what == probe_result::registrar && seen.insert(found[i].registrar).second) {
        registrars.push_back(candidates[i]);
      }
    }
    if (!registrars.empty()) {
      for (std::size_t i = 0; i < candidates.size(); ++i) {
        if (found[i].seen == probe_result::absent || found[i].seen == probe_result::unanswered) {
          logs::registrar.warning("no registrar at {}: registering with the {} that answered", candidates[i].str(),
                                  registrars.size() == 1 ? "one" : std::to_string(registrars.size()));
        }
      }
      BOOST_OUTCOME_CO_TRY(a.bind());
      a.use_registrar(std::move(registrars));
      co_return success();
    }
    if (silent) {
      co_return error(make_error_code(errc::timeout), "nothing answers at the registry address " + silent->str() +
                                                          " (" + probe_budget() +
                                                          "): a host that is down, or drops connections");
    }
    // Nobody anywhere: this root becomes the registrar, at every address (as tractor's).
    auto bound = a.bind(&candidates.front());
    if (bound) {
      for (std::size_t i = 1; i < candidates.size(); ++i) {
        auto also = a.bind(&candidates[i]);
        if (!also) {
          co_return error(also.error().code(), "cannot become the registrar at " + candidates[i].str() + " too: " +
                                                   also.error().message());
        }
      }
      a.become_registrar();
      co_return success();
    }
    // Another root may have bound it since the probe: then it is the registrar.
    const auto& first = candidates.front();
    if (detail::ephemeral(first) || round == 1) {
      co_return error(bound.error().code(),
                      "cannot become the registrar at " + first.str() + ": " + bound.error().message());
    }
  }
}

}  // namespace tractor::runtime
