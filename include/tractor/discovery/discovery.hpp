// tractor/discovery/discovery.hpp — finding actors by name (tractor's discovery API), from any
// actor, for trees of type `Tree`.
//
//     auto p = co_await tractor::find_actor<tree, greeter_api>("greeter");  // result<portal>
//     if (p) auto hi = co_await p.value().run<&greeter::greet>("you");
//
// Every actor registers its name, uuid and address with each registrar of its tree right
// after it binds (the root of the first program on a registry address is the registrar; a
// root given several addresses where registrars answer registers its tree with each: see
// `root_options`), and is removed when it ends, when the channel it registered over closes,
// or when a lookup finds its address dead. A lookup returns a portal like a child's (run,
// open_context, cancel_actor) over a channel the calling actor opens, or reuses, to the found
// actor; the found actor's lifetime is not the caller's (no supervision).
//
// Outside an actor every lookup fails with `actor_failure`; with the registrar unreachable,
// with `transport_closed` naming its address.
#pragma once

#include <tractor/runtime/tree.hpp>

namespace tractor {

/// A portal, typed by interface `Api`, to the actor registered as `name` (the first, if
/// several are); `runtime_errc::actor_not_found` if there is none. An actor of that name the
/// calling actor already has a channel to is answered without the registrar. With several
/// registrars, all are asked at once and the first to answer that knows `name` wins (one
/// that hangs holds nothing up); not found while one of them could not be asked, or did not
/// answer within `timeouts::registrar_answer`, is that one's error. An address a registrar
/// gives that cannot be connected to is dead: that registrar is told to forget it (tractor's
/// `find_actor()` dropping a stale address) and the answer is `actor_not_found`.
///
/// Cancellation: interrupted at once.
template <class Tree, class Api = typename Tree::exposed_type>
task<portal<Tree, Api>> find_actor(std::string name);

/// Waits until an actor registers as `name` at the first registrar (or returns at once if one
/// is), then connects; the portal is typed by `Api`.
///
/// Cancellation: interrupted at once; the registrar stops waiting for us.
template <class Tree, class Api = typename Tree::exposed_type>
task<portal<Tree, Api>> wait_for_actor(std::string name);

/// The addresses registered for `name`, without connecting (empty if none), from the first
/// registrar that knows it.
///
/// Cancellation: interrupted at once.
template <class Tree>
awaitable<result<std::vector<transport::multiaddr>>> query_actor(std::string name);

/// A portal to the registrar (in the registrar itself: a channel to its own address). Its
/// `cancel_actor()` ends the registrar's program (tractor's `Portal.cancel_actor()` on a
/// registrar).
///
/// Cancellation: interrupted at once.
template <class Tree>
awaitable<result<portal<Tree>>> get_registry();

/// The same, for the registrar at `addr` (tractor's `get_registry(addr)`): any registrar, of
/// this tree or not.
///
/// Cancellation: interrupted at once.
template <class Tree>
awaitable<result<portal<Tree>>> get_registry(transport::multiaddr addr);

/// One registered address of one actor.
struct registry_entry {
  std::string name;
  std::string uuid;
  transport::multiaddr address;
};

/// Everything the (first) registrar holds, in registration order (tractor's
/// `get_registry()`).
///
/// Cancellation: interrupted at once.
awaitable<result<std::vector<registry_entry>>> list_registry();

/// Everything the registrar at `addr` holds.
///
/// Cancellation: interrupted at once.
awaitable<result<std::vector<registry_entry>>> list_registry(transport::multiaddr addr);

/// Tells the registrar to forget `addr`, an address found dead (tractor's
/// `Registrar.delete_addr`); the name and uuid it was registered under, if any.
///
/// Cancellation: interrupted at once.
awaitable<result<std::optional<msg::uid>>> delete_addr(const transport::multiaddr& addr);

/// Runs a root that serves its exposed functions, registered as `options.name`, until it is
/// cancelled: Ctrl-C or SIGTERM, or a peer's `cancel_actor()` (tractor's `run_daemon`).
/// Returns the exit code (0 after a peer's cancel, 128 + the signal after a signal).
template <class Tree>
int run_daemon(int argc, char** argv, root_options options);

// -- definitions -------------------------------------------------------------------------

namespace detail {
inline result<runtime::actor*> actor_for_lookup() {
  runtime::actor* self = runtime::current_actor();
  if (!self || !self->lifetime()) {
    return error(make_error_code(runtime_errc::actor_failure), "actor lookups need a running actor");
  }
  return self;
}
}  // namespace detail

template <class Tree, class Api>
task<portal<Tree, Api>> find_actor(std::string name) {
  BOOST_OUTCOME_CO_TRY(auto self, detail::actor_for_lookup());
  const std::string wanted = name;
  auto p = co_await runtime::find_peer(*self, std::move(name));
  if (!p) co_return p.error();
  if (!p.value()) {
    co_return error(make_error_code(runtime_errc::actor_not_found), "no actor registered as '" + wanted + "'");
  }
  co_return portal<Tree, Api>(*self, std::move(p).value());
}

template <class Tree, class Api>
task<portal<Tree, Api>> wait_for_actor(std::string name) {
  BOOST_OUTCOME_CO_TRY(auto self, detail::actor_for_lookup());
  auto p = co_await runtime::wait_for_peer(*self, std::move(name));
  if (!p) co_return p.error();
  co_return portal<Tree, Api>(*self, std::move(p).value());
}

template <class Tree>
awaitable<result<std::vector<transport::multiaddr>>> query_actor(std::string name) {
  BOOST_OUTCOME_CO_TRY(auto self, detail::actor_for_lookup());
  co_return co_await runtime::query_addrs(*self, std::move(name));
}

template <class Tree>
awaitable<result<portal<Tree>>> get_registry() {
  BOOST_OUTCOME_CO_TRY(auto self, detail::actor_for_lookup());
  BOOST_OUTCOME_CO_TRY(auto p, co_await runtime::connect_registrar(*self));
  co_return portal<Tree>(*self, std::move(p));
}

template <class Tree>
awaitable<result<portal<Tree>>> get_registry(transport::multiaddr addr) {
  BOOST_OUTCOME_CO_TRY(auto self, detail::actor_for_lookup());
  BOOST_OUTCOME_CO_TRY(auto p, co_await runtime::connect_registrar(*self, addr));
  co_return portal<Tree>(*self, std::move(p));
}

inline awaitable<result<std::vector<registry_entry>>> list_registry() {
  BOOST_OUTCOME_CO_TRY(auto self, detail::actor_for_lookup());
  BOOST_OUTCOME_CO_TRY(auto reg, runtime::first_registrar(*self));
  co_return co_await list_registry(std::move(reg));
}

inline awaitable<result<std::vector<registry_entry>>> list_registry(transport::multiaddr addr) {
  BOOST_OUTCOME_CO_TRY(auto self, detail::actor_for_lookup());
  std::tuple<> none;
  auto all = co_await runtime::ask_registrar_at<&runtime::requests::get_registry>(*self, addr, none);
  if (!all) co_return all.error();
  std::vector<registry_entry> out;
  for (const auto& who : all.value()) {
    for (const auto& at : who.addrs) {
      auto where = transport::multiaddr::parse(at);
      if (where) out.push_back(registry_entry{who.name, who.uuid, std::move(where).value()});
    }
  }
  co_return out;
}

inline awaitable<result<std::optional<msg::uid>>> delete_addr(const transport::multiaddr& addr) {
  BOOST_OUTCOME_CO_TRY(auto self, detail::actor_for_lookup());
  std::tuple<std::string> which{addr.str()};
  co_return co_await runtime::ask_registrar<&runtime::requests::delete_addr>(*self, which);
}

template <class Tree>
int run_daemon(int argc, char** argv, root_options options) {
  return run_main<Tree>(argc, argv, std::move(options), [](root<Tree>&) -> awaitable<result<void>> {
    for (;;) co_await sleep_for(std::chrono::hours(24));
    co_return success();
  });
}

}  // namespace tractor
