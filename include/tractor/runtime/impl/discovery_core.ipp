// Definitions for tractor/runtime/discovery_core.hpp that are not templates: compiled once
// (src/) under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/runtime/discovery_core.hpp>

#include <tractor/core/cancel_scope.hpp>

namespace tractor::runtime {

/// How many connections `connect_to` makes at most when the peer closes each before it has
/// answered the authentication.
inline constexpr int connect_attempts = 3;

namespace detail {

inline awaitable<result<transport::connection>> connect_and_prove(const policies& pol,
                                                                  const transport::multiaddr& addr) {
  auto ex = co_await boost::asio::this_coro::executor;
  for (int attempt = 1;; ++attempt) {
    auto sock = co_await pol.connect(ex, addr);
    if (!sock) co_return sock.error();
    if (!pol.prove) co_return transport::connection{std::move(sock).value()};
    auto proven = co_await pol.prove(sock.value());
    if (proven) co_return transport::connection{std::move(sock).value(), std::move(proven).value()};
    // Closed before the peer answered: under a flood of connections that never authenticate,
    // the actor makes room by closing the oldest silent one, which a hello delayed on a loaded
    // host can be. A new connection is another turn; nothing was said on this one.
    if (attempt < connect_attempts && proven.error() == wire_errc::transport_closed) continue;
    co_return error(proven.error().code(), "cannot authenticate with " + addr.str() + ": " + proven.error().message());
  }
}

}  // namespace detail

TRACTOR_DECL awaitable<result<transport::connection>> connect_to(const policies& pol, const transport::multiaddr& addr,
                                                                   clock::duration within) {
  auto connected = co_await fail_after(within, detail::connect_and_prove(pol, addr));
  if (connected || connected.error() != errc::timeout) co_return connected;
  co_return error(make_error_code(errc::timeout),
                  "cannot connect to " + addr.str() + ": " + detail::no_answer_within(within));
}

namespace detail {

TRACTOR_DECL awaitable<result<std::optional<msg::Aid>>> probe_handshake(const policies& pol,
                                                                        const transport::multiaddr& addr) {
  using answer = result<std::optional<msg::Aid>>;
  // The connect, then the handshake in what is left of the attempt.
  const auto until = clock::now() + probe_attempt_bound;
  auto conn = co_await connect_to(pol, addr, probe_attempt_bound);
  if (!conn) co_return answer(conn.error());
  auto ch = pol.make_channel(std::move(conn).value(), {});
  const msg::Aid me{"probe", new_uuid(), ::getpid(), std::nullopt, true};
  auto hs = co_await move_on_at(until, handshake(*ch, me, probe_attempt_bound));
  ch->close();
  if (!hs || !*hs) co_return answer(std::nullopt);
  co_return answer(std::optional<msg::Aid>(std::move(*hs).value()));
}

}  // namespace detail

TRACTOR_DECL std::string probe_budget() {
  return std::to_string(probe_attempts) + " tries of " + std::to_string(probe_attempt_bound.count()) + " s";
}

TRACTOR_DECL awaitable<bool> address_alive(const policies& pol, const transport::multiaddr& addr) {
  if (!pol.accepts(addr)) co_return false;
  auto answer = co_await detail::probe_handshake(pol, addr);
  co_return answer && answer.value().has_value();
}

namespace detail {

TRACTOR_DECL std::string no_answer_within(clock::duration bound) {
  return "no answer within " + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(bound).count()) +
         " ms";
}

TRACTOR_DECL error registrar_silent(const actor& a, const transport::multiaddr& reg) {
  return {make_error_code(errc::timeout),
          "the registrar at " + reg.str() + " is silent: " + no_answer_within(a.limits().registrar_answer)};
}

}  // namespace detail

TRACTOR_DECL result<transport::multiaddr> first_registrar(const actor& a) {
  if (a.registry_addrs().empty()) {
    return error(make_error_code(runtime_errc::actor_failure), describe(uid_of(a.aid())) + " knows no registrar");
  }
  return a.registry_addrs().front();
}

TRACTOR_DECL awaitable<result<std::shared_ptr<peer>>> connect_peer(actor& a, const transport::multiaddr& addr) {
  const std::string key = addr.str();
  if (auto known = a.peer_at(key)) co_return known;
  if (!a.lifetime()) {
    co_return error(make_error_code(runtime_errc::actor_failure), "no actor is running to connect from");
  }
  auto sock = co_await connect_to(a.pol(), addr, a.limits().connect);
  if (!sock) co_return sock.error();
  auto p = std::make_shared<peer>(a.pol().make_channel(std::move(sock).value(), {}), a.aid(), a.pol());
  auto hs = co_await p->handshake(a.limits().handshake);
  if (!hs) co_return hs.error();
  a.keep_peer(key, p);
  // Served (its calls answered, its answers routed) for as long as this actor lives.
  nursery& lifetime = *a.lifetime();
  lifetime.start_soon("channel to " + p->aid().name, [&a, p, key, &lifetime]() -> awaitable<void> {
    (void)co_await a.serve_peer(p, lifetime);
    a.forget_peer(key, p);
  });
  co_return p;
}

TRACTOR_DECL awaitable<result<std::shared_ptr<peer>>> connect_registrar(actor& a, const transport::multiaddr& reg) {
  auto p = co_await connect_peer(a, reg);
  if (!p) {
    co_return error(make_error_code(wire_errc::transport_closed),
                    "the registrar at " + reg.str() + " is unreachable: " + p.error().message());
  }
  co_return p;
}

TRACTOR_DECL awaitable<result<std::shared_ptr<peer>>> connect_registrar(actor& a) {
  BOOST_OUTCOME_CO_TRY(auto reg, first_registrar(a));
  co_return co_await connect_registrar(a, reg);
}

TRACTOR_DECL registration registration_of(actor& a) {
  registration who{a.aid().name, a.aid().uuid, {}};
  for (const auto& at : a.addresses()) who.addrs.push_back(at.str());
  return who;
}

TRACTOR_DECL awaitable<result<void>> register_remotely(actor& a, std::vector<std::shared_ptr<peer>>& registered) {
  if (a.registry()) co_return success();
  std::vector<error> failed;
  auto register_at = [&a, &registered, &failed](const transport::multiaddr& reg) -> awaitable<void> {
    auto p = co_await connect_registrar(a, reg);
    result<void> r = success();
    if (p) {
      // (Arguments reach co_await operands as named locals only: g++ 12 mishandles temporaries
      // with destructors, braced ones above all, there.)
      std::tuple<registration> args{registration_of(a)};
      r = co_await detail::ask_over<&requests::register_actor>(a, reg, p.value(), std::move(args));
    } else {
      r = p.error();
    }
    if (r) {
      registered.push_back(p.value());
    } else {
      failed.emplace_back(r.error().code(),
                          "cannot register with the registrar at " + reg.str() + ": " + r.error().message());
    }
  };
  if (a.registry_addrs().size() == 1) {
    co_await register_at(a.registry_addrs().front());
  } else {
    // With every registrar at once: one that is gone, or slow to answer, does not keep the
    // others from knowing us (nor the actor from serving for longer than the slowest).
    auto all = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      for (const transport::multiaddr& reg : a.registry_addrs()) {
        n.start_soon("registration at " + reg.str(), register_at(reg));
      }
      co_return;
    });
    if (!all) co_return all.error();  // cancelled
  }
  if (failed.empty()) co_return success();
  co_return aggregate(std::move(failed));
}

namespace detail {
/// Tells the registrar behind `via` that `a` is leaving (not waiting for the answer: the send
/// is bounded by the cancel ack timeout), then closes `via`.
inline awaitable<void> say_goodbye(actor& a, peer& via) {
  msg::msg m = via.requests().start<&requests::unregister_actor>(new_uuid(), {uid_of(a.aid())}, uid_of(a.aid()));
  auto sent = co_await move_on_after(a.limits().cancel_ack, via.send(std::move(m)));
  (void)sent;
  via.channel().close();
}
}  // namespace detail

TRACTOR_DECL awaitable<void> unregister_remotely(actor& a, const std::vector<std::shared_ptr<peer>>& registered) {
  if (registered.empty()) co_return;
  // All at once: registrars that do not take the message cost one bound, not one each.
  auto all = co_await open_nursery([&](nursery& n) -> awaitable<void> {
    for (const auto& via : registered) n.start_soon("unregistration", detail::say_goodbye(a, *via));
    co_return;
  });
  (void)all;  // (a goodbye fails nothing: it only sends, within its bound)
}

TRACTOR_DECL result<void> admit_registration(actor& a, peer& link, const result<msg::msg>& m,
                                       std::vector<msg::msg>& replies) {
  if (!m) return m.error();
  if (auto* e = std::get_if<msg::Error>(&m.value())) return link.unbox(*e);
  constexpr function_name fn = request_name<&requests::register_actor>();
  const auto* s = std::get_if<msg::Start>(&m.value());
  const bool is_registration = s && s->ns == fn.ns && s->func == fn.func;
  auto args = is_registration ? link.requests().of<&requests::register_actor>().decode_args(s->kwargs)
                              : result<std::tuple<registration>>(errc::would_block);
  if (!args || std::get<0>(args.value()).addrs.empty()) {
    return error(make_error_code(runtime_errc::protocol_error),
                 "expected the child's registration, got " + std::string(msg::type_name(m.value())));
  }
  const registration& who = std::get<0>(args.value());
  BOOST_OUTCOME_TRY(a.registry()->add({who.name, who.uuid}, who.addrs, &link));
  replies.emplace_back(msg::StartAck{s->cid, "asyncfunc"});
  replies.emplace_back(msg::Return{s->cid, link.requests().no_value()});
  return success();
}

TRACTOR_DECL awaitable<result<void>> accept_registration(actor& a, std::shared_ptr<peer> link,
                                                   std::vector<msg::msg>& replies) {
  auto m = co_await link->channel().receive();
  co_return admit_registration(a, *link, m, replies);
}

TRACTOR_DECL msg::msg registration_request(actor& a, peer& parent, const std::string& cid) {
  return parent.requests().start<&requests::register_actor>(cid, {registration_of(a)}, uid_of(a.aid()));
}

TRACTOR_DECL awaitable<result<void>> register_over_parent(actor& a, peer& parent, std::optional<msg::SpawnSpec>& spec) {
  const std::string cid = new_uuid();
  msg::msg m = registration_request(a, parent, cid);
  BOOST_OUTCOME_CO_TRY(co_await parent.send(std::move(m)));
  co_return co_await finish_registration(parent, cid, spec);
}

TRACTOR_DECL awaitable<result<void>> finish_registration(peer& parent, const std::string& cid,
                                                   std::optional<msg::SpawnSpec>& spec) {
  bool registered = false;
  while (!registered || !spec) {
    auto r = co_await parent.channel().receive();
    if (!r) co_return r.error();
    if (auto* s = std::get_if<msg::SpawnSpec>(&r.value())) spec = std::move(*s);
    if (auto* e = std::get_if<msg::Error>(&r.value())) co_return parent.unbox(*e);
    if (auto* ret = std::get_if<msg::Return>(&r.value()); ret && ret->cid == cid) registered = true;
  }
  co_return success();
}

namespace detail {

/// Where a lookup found `name`: its addresses, and which registrar gave them.
struct found_at {
  std::vector<std::string> addrs;
  const transport::multiaddr* registrar = nullptr;
};

/// Asks every registrar for `name` at once (as tractor's `find_actor()`): the first answer
/// that knows it, and the other requests are cancelled. Nothing found is an answer only when
/// every registrar gave it: else the errors of those that could not be asked.
inline awaitable<result<found_at>> look_up(actor& a, const std::string& name) {
  auto ask_at = [&a, &name](const transport::multiaddr& reg) {
    std::tuple<std::string> find_actor_args{name};
    return ask_registrar_at<&requests::find_actor>(a, reg, std::move(find_actor_args));
  };
  const std::vector<transport::multiaddr>& regs = a.registry_addrs();
  if (regs.size() <= 1) {  // (a registrar asking itself answers without leaving this task)
    BOOST_OUTCOME_CO_TRY(auto reg, first_registrar(a));
    BOOST_OUTCOME_CO_TRY(auto addrs, co_await ask_at(reg));
    co_return found_at{std::move(addrs), &regs.front()};
  }
  std::vector<error> failed;
  std::optional<found_at> found;
  auto all = co_await open_nursery([&](nursery& n) -> awaitable<void> {
    for (const transport::multiaddr& reg : regs) {
      n.start_soon("lookup at " + reg.str(), [&ask_at, &reg, &n, &failed, &found]() -> awaitable<void> {
        auto addrs = co_await ask_at(reg);
        if (found) co_return;  // (another answered first; this one may have been cancelled)
        if (!addrs) {
          failed.push_back(addrs.error());
        } else if (!addrs.value().empty()) {
          found = found_at{std::move(addrs).value(), &reg};
          n.cancel();
        }
      });
    }
    co_return;
  });
  if (found) co_return std::move(*found);
  if (!all) co_return all.error();  // cancelled
  if (!failed.empty()) co_return aggregate(std::move(failed));
  co_return found_at{};
}

}  // namespace detail

TRACTOR_DECL awaitable<result<std::shared_ptr<peer>>> find_peer(actor& a, std::string name) {
  // An actor of that name we already have a channel to needs no registrar (as tractor).
  if (auto known = a.peer_named(name)) co_return known;
  BOOST_OUTCOME_CO_TRY(auto found, co_await detail::look_up(a, name));
  if (found.addrs.empty()) co_return std::shared_ptr<peer>();
  const std::string addr = found.addrs.front();
  auto where = transport::multiaddr::parse(addr);
  std::optional<result<std::shared_ptr<peer>>> p;
  if (where) p = co_await connect_peer(a, where.value());
  if (p && *p) co_return std::move(*p);
  // Registered, but dead: the registrar that gave it forgets that address (tractor's
  // `find_actor()` dropping a stale address).
  std::tuple<std::string> delete_addr_args{addr};
  const transport::multiaddr reg = *found.registrar;
  auto forgot = co_await ask_registrar_at<&requests::delete_addr>(a, reg, std::move(delete_addr_args));
  (void)forgot;
  co_return std::shared_ptr<peer>();
}

TRACTOR_DECL awaitable<result<std::shared_ptr<peer>>> wait_for_peer(actor& a, std::string name) {
  std::tuple<std::string> wait_for_actor_args{name};
  auto addrs = co_await ask_registrar<&requests::wait_for_actor>(a, std::move(wait_for_actor_args));
  if (!addrs) co_return addrs.error();
  if (addrs.value().empty()) {
    co_return error(make_error_code(runtime_errc::protocol_error),
                    "the registrar found " + name + " without an address");
  }
  auto where = transport::multiaddr::parse(addrs.value().front());
  if (!where) co_return where.error();
  co_return co_await connect_peer(a, where.value());
}

TRACTOR_DECL awaitable<result<std::vector<transport::multiaddr>>> query_addrs(actor& a, std::string name) {
  BOOST_OUTCOME_CO_TRY(auto found, co_await detail::look_up(a, name));
  std::vector<transport::multiaddr> out;
  for (const auto& s : found.addrs) {
    if (auto m = transport::multiaddr::parse(s)) out.push_back(std::move(m).value());
  }
  co_return out;
}

}  // namespace tractor::runtime
