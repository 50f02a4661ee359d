// Definitions for tractor/runtime/requests.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp); they
// need the actor, so tractor/runtime/actor.hpp includes them.
#pragma once

#include <tractor/runtime/actor.hpp>
#include <tractor/runtime/discovery_core.hpp>

namespace tractor::runtime::requests {

TRACTOR_DECL awaitable<void> cancel(request& r) {
  r.answered = true;
  r.self.cancel_at_request(r.from, r.start);
  co_return;
}

TRACTOR_DECL awaitable<void> cancel_task(request& r, std::string cid) {
  const bool cancelled = r.self.cancel_task(cid, r.start.uid);
  r.answered = true;
  if (!r.from) co_return;
  msg::msg ack = msg::CancelAck{r.start.cid, cancelled};
  (void)co_await r.from->send(std::move(ack));  // a peer gone meanwhile is its serve loop's business
}

namespace detail {
/// The registrar's table, or the error refusing request `func` in an actor that has none.
TRACTOR_DECL result<registrar*> table_of(request& r) {
  if (auto* table = r.self.registry()) return table;
  return error(make_error_code(runtime_errc::invalid_operation),
               describe(uid_of(r.self.aid())) + " is not a registrar (self." + r.start.func + ")");
}
}  // namespace detail

TRACTOR_DECL awaitable<result<void>> register_actor(request& r, registration who) {
  BOOST_OUTCOME_CO_TRY(auto table, detail::table_of(r));
  if (who.addrs.empty()) {
    co_return error(make_error_code(runtime_errc::invalid_operation),
                    "self.register_actor: actor " + who.name + " gives no address");
  }
  co_return table->add({who.name, who.uuid}, who.addrs, r.from.get());
}

TRACTOR_DECL awaitable<result<void>> unregister_actor(request& r, msg::uid who) {
  BOOST_OUTCOME_CO_TRY(auto table, detail::table_of(r));
  BOOST_OUTCOME_CO_TRY(table->remove(who, r.from.get()));
  co_return success();
}

TRACTOR_DECL awaitable<result<std::vector<std::string>>> find_actor(request& r, std::string name) {
  BOOST_OUTCOME_CO_TRY(auto table, detail::table_of(r));
  co_return table->find(name);
}

TRACTOR_DECL awaitable<result<std::vector<std::string>>> wait_for_actor(request& r, std::string name) {
  BOOST_OUTCOME_CO_TRY(auto table, detail::table_of(r));
  co_return co_await table->wait_for(std::move(name));
}

TRACTOR_DECL awaitable<result<std::vector<registration>>> get_registry(request& r) {
  BOOST_OUTCOME_CO_TRY(auto table, detail::table_of(r));
  std::vector<registration> out;
  for (const auto& e : table->entries()) out.push_back({e.uid.first, e.uid.second, e.addrs});
  co_return out;
}

TRACTOR_DECL awaitable<result<std::optional<msg::uid>>> delete_addr(request& r, std::string addr) {
  BOOST_OUTCOME_CO_TRY(auto table, detail::table_of(r));
  // Any actor may report an address dead, so the registrar checks: a live actor's entry
  // stays. (The registrar's own word, a request without a peer, is taken as it is.)
  if (auto parsed = transport::multiaddr::parse(addr); parsed && r.from) {
    const bool alive = co_await address_alive(r.self.pol(), parsed.value());
    if (alive) {
      co_return error(make_error_code(boost::system::errc::permission_denied),
                      "refused: an actor still answers at " + addr + "; only its owner may unregister it");
    }
  }
  co_return table->delete_addr(addr);
}

}  // namespace tractor::runtime::requests
