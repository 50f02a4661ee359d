// Definitions for tractor/runtime/spawn_child.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp); and the
// steps of the spawn protocol.
#pragma once

#include <tractor/runtime/spawn_child.hpp>

#include <tractor/core/cancel_scope.hpp>

namespace tractor::runtime {

/// A request for a child of `a`: where its parent is, the tree's child entry and bounds.
TRACTOR_DECL spawn::spawn_request request_from(actor& a) {
  spawn::spawn_request req;
  req.boot.parent_addr = a.address().str();
  req.boot.parent_pid = ::getpid();
  req.run_child = a.pol().child_entry;
  req.abandon_after = a.limits().thread_abandon;
  req.start_timeout = a.limits().boot;
  return req;
}

/// Whether `a`'s children get their channel to it as a socketpair (a backend that adopts one,
/// under UDS) rather than connecting back. A transport with a handshake of its own (the shared-
/// memory one sets up its rings there) connects back, as every other connection of it does.
TRACTOR_DECL bool pairs_children(const actor& a) {
  return a.pol().spawn_adopts_channel && !a.pol().prove &&
         a.address().proto() == transport::multiaddr::protocol::unix_socket;
}

/// Starts `req` with the tree's backend (on the actor's spawner thread if its start blocks);
/// if `a` pairs its children, with a socketpair whose other end (our side of the child's
/// channel) goes to `paired`.
///
/// Cancellation: not interrupted once the backend was called (the child it starts is
/// returned); the cancellation takes effect at the caller's next wait.
TRACTOR_DECL awaitable<result<std::unique_ptr<spawn::child_handle>>> start_child(actor& a, spawn::spawn_request& req,
                                                                                std::shared_ptr<peer>& paired) {
  std::optional<transport::stream_socket> ours;
  if (pairs_children(a)) {
    auto pair = transport::local_pair(a.executor());
    if (!pair) co_return pair.error();
    boost::system::error_code ignored;  // set now, not by the first send on the spawn's path
    pair.value().first.non_blocking(true, ignored);
    ours.emplace(std::move(pair.value().first));
    req.boot.channel_fd = pair.value().second;
  }
  auto start = [&, ex = a.executor()] { return a.pol().spawn(ex, req); };
  std::optional<result<std::unique_ptr<spawn::child_handle>>> proc;
  if (a.pol().spawn_start_blocks) {
    auto started = co_await a.spawner().run(start);
    proc.emplace(std::move(started));
  } else {
    proc.emplace(start());
  }
  if (req.boot.channel_fd >= 0) ::close(req.boot.channel_fd);  // the child has its own
  if (*proc && ours) paired = a.make_peer(transport::connection{std::move(*ours)});
  co_return std::move(*proc);
}

/// What a child is sent to boot: its enabled modules, where the registrars are, and debug
/// mode (on or off, and where the root's terminal lock is).
TRACTOR_DECL msg::msg spawn_spec(actor& a, const std::vector<std::string>& enable_modules, bool debug_mode) {
  msg::SpawnSpec spec;
  for (const auto& ns : enable_modules) spec.enable_modules[ns] = ns;
  spec._runtime_vars["_is_root"] = "false";
  spec._runtime_vars["_debug_mode"] = debug_mode ? "1" : "0";
  spec._runtime_vars["_root_mailbox"] = a.debug().root_addr.empty() ? a.address().str() : a.debug().root_addr;
  for (const auto& reg : a.registry_addrs()) spec.reg_addrs.push_back(reg.to_wire());
  return spec;
}

/// The end of a child's boot once it has handshaken: takes its registration (when we are
/// the registrar) and sends its SpawnSpec with the answers; an error if it went away or sent
/// something else.
///
/// Cancellation: interrupted at once (the caller lets the child go).
TRACTOR_DECL awaitable<result<void>> finish_boot(actor& a, child_record& c,
                                                 const std::vector<std::string>& enable_modules, bool debug_mode) {
  std::vector<msg::msg> out;
  out.emplace_back(spawn_spec(a, enable_modules, debug_mode));
  if (a.registry()) {
    // The child registers with us right after binding (it is findable once we return), and
    // does not wait for its SpawnSpec to do so: its registration is taken first, and the
    // answers follow the SpawnSpec. Usually it came in one write with the handshake, and
    // needs no wait; else a child that dies instead ends the receive, and the boot timeout
    // bounds a silent one.
    result<void> registered = success();
    if (auto arrived = c.link->channel().try_receive()) {
      registered = admit_registration(a, *c.link, *arrived, out);
    } else {
      auto waited = co_await move_on_after(a.limits().boot, accept_registration(a, c.link, out));
      registered = waited ? *waited : result<void>(error(make_error_code(errc::timeout), "no registration"));
    }
    if (!registered) co_return registered.error();
  }
  for (const auto& m : out) {
    BOOST_OUTCOME_CO_TRY(co_await c.link->channel().send(m));
  }
  co_return success();
}

/// Kills a child whose boot did not finish (or was cancelled) and reaps it. Call it as a
/// cleanup (`finally`), which runs it shielded even in a cancelled task.
TRACTOR_DECL awaitable<void> let_half_started_go(child_record& c) {
  c.proc->kill();
  (void)co_await shield(wait_for_exit(c));
}

TRACTOR_DECL awaitable<result<std::shared_ptr<child_record>>> spawn_child(
    actor& a, std::string name, const std::vector<std::string>& enable_modules, std::optional<log::level> loglevel,
    std::optional<bool> debug_mode) {
  // Held until the child has booted or failed to (see `timeouts::concurrent_boots`).
  const capacity_limiter::slot booting = co_await a.booting().acquire();
  auto c = std::make_shared<child_record>();
  c->name = name;
  spawn::spawn_request req = request_from(a);
  req.boot.name = name;
  req.boot.parent_registers = a.registry() != nullptr;
  req.boot.loglevel = loglevel.value_or(a.log_identity().threshold);
  req.boot.taskdump = a.taskdump();
  if (a.pol().prove && transport::auth::enabled()) {
    // Our cookie, whatever gave it to us, is the child's: it connects back with it.
    auto cookie = transport::auth::cookie();
    if (!cookie) co_return cookie.error();
    req.boot.cookie = std::move(cookie).value();
  }
  std::shared_ptr<peer> paired;  // our end of the child's channel, if it is given one
  req.boot.uuid = new_uuid();
  const std::string uuid = req.boot.uuid;
  actor::expected_child slot;
  a.expect_child(uuid, slot);
  struct forget {
    actor& a;
    const std::string& uuid;
    ~forget() { a.forget_child(uuid); }
  } forget_on_exit{a, uuid};

  req.title = "_subactor[" + name + "@" + uuid.substr(0, 8) + "]";
  auto proc = co_await start_child(a, req, paired);
  if (!proc) {
    logs::spawn.runtime("cannot start {}: {}", name, proc.error().message());
    co_return error(make_error_code(runtime_errc::actor_failure),
                    "cannot start actor '" + name + "': " + spawn::with_descriptor_limit_hint(proc.error()).message());
  }
  c->proc = std::move(proc).value();
  logs::spawn.runtime("started {}@{} with the {} backend: pid {}, log level {}", name, logs::short8(uuid),
                      a.pol().spawn_name, c->proc->pid(), log::to_string(*req.boot.loglevel));

  std::optional<spawn::exit_status> died;
  std::optional<std::string> refused;  // why the paired handshake failed
  // Connect-back: the wait for it races the child's death.
  auto boot = [&](nursery& n) -> awaitable<void> {
    n.start_soon("exit watch of " + name + " during its boot", [&]() -> awaitable<void> {
      died = co_await wait_for_exit(*c);
      n.cancel();
    });
    (void)co_await move_on_after(a.limits().boot, slot.connected.wait());
    n.cancel();
  };
  // A given channel needs no race: the child's end closes when its entry ends (EOF).
  auto handshake_paired = [&]() -> awaitable<void> {
    auto hs = co_await move_on_after(a.limits().boot, paired->handshake(a.limits().handshake));
    if (!hs) co_return;  // the boot timeout: killed below
    if (*hs && hs->value().uuid == uuid) {
      slot.link = paired;
      co_return;
    }
    refused = *hs ? "answered the handshake as actor " + hs->value().uuid : hs->error().message();
    // Its exit status, if it comes soon, says better why.
    auto st = co_await move_on_after(a.limits().cancel_ack, wait_for_exit(*c));
    if (st) died = *st;
  };
  // Whatever ends the boot early (a failure, or a cancellation anywhere up to the SpawnSpec)
  // ends it the same way: the child is killed and reaped.
  std::optional<std::string> failed;  // why the boot failed
  bool booted = false;
  auto reach = [&]() -> awaitable<void> {
    if (paired) {
      co_await handshake_paired();
    } else {
      (void)co_await open_nursery(boot);
    }
    if (slot.link) {
      c->link = slot.link;
      auto finished = co_await finish_boot(a, *c, enable_modules, debug_mode.value_or(a.debug().enabled));
      if (!finished) failed = "went away during boot: " + finished.error().message();
    } else {
      failed = died      ? "died during boot (" + describe_child_exit(*died) + ")"
               : refused ? "failed its handshake: " + *refused
               : paired  ? "did not answer its handshake within the boot timeout"
                         : "did not connect back within the boot timeout";
    }
    booted = !failed;
  };
  auto unless_booted = [&]() -> awaitable<void> {
    if (!booted) co_await let_half_started_go(*c);
  };
  co_await finally(reach(), unless_booted());
  if (failed) logs::spawn.runtime("{} {}", name, *failed);
  if (booted) {
    logs::spawn.runtime("{} booted", name);
    a.track_child(c.get());
    c->listed_in = &a;
  }
  if (failed) co_return error(make_error_code(runtime_errc::actor_failure), "actor '" + name + "' " + *failed);
  co_return c;
}

}  // namespace tractor::runtime
