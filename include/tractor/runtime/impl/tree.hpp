// Definitions for tractor/runtime/tree.hpp: thin typed front ends over the non-template
// spawn, supervision and call code below.
#pragma once

#include <tractor/core/cancel_scope.hpp>

namespace tractor {

namespace runtime {

/// A child as its parent tracks it.
struct child_record {
  std::string name;
  std::unique_ptr<spawn::child_handle> proc;
  std::shared_ptr<peer> link;
  /// Set when the kill ladder had to abandon the child (a thread actor deaf to cancellation).
  std::optional<error> abandoned = {};
};

/// Removes the socket file of a child that could not remove it itself: a process killed by a
/// signal (never a thread actor: it shares our pid, and may still be running).
inline void forget_killed(actor& a, const child_record& c) {
  if (c.proc->pid() != ::getpid()) a.pol().forget_dead(c.name, c.proc->pid());
}

/// Asks the actor behind `p` to cancel itself; true once it acknowledged, false if it did not
/// within `timeout` or went away first.
inline awaitable<bool> request_cancel(peer& p, const msg::Aid& self, clock::duration timeout) {
  mailbox_lease lease(p);
  auto& box = lease.box();
  msg::msg start = msg::Start{lease.cid(), "self", "cancel", {}, uid_of(self)};
  bool acked = false;
  auto sent = co_await p.send(std::move(start));
  if (sent) {
    auto wait_ack = [&]() -> awaitable<void> {
      for (;;) {
        auto m = co_await box.receive();
        if (!m) co_return;
        if (auto* ack = std::get_if<msg::CancelAck>(&m.value())) {
          acked = ack->pld;
          co_return;
        }
      }
    };
    auto waited = co_await move_on_after(timeout, wait_ack());
    (void)waited;
  }
  co_return acked;
}

/// tractor's hard-kill ladder: graceful IPC cancel, then SIGTERM, then SIGKILL, each step
/// bounded; returns once the child has been reaped.
inline awaitable<void> cancel_ladder(actor& a, child_record& c) {
  // (Each co_await result is kept in a named local: g++ 12 mishandles co_await inside
  // conditions and temporaries in co_await operands.)
  if (c.proc->poll()) co_return;
  bool exited = false;
  auto graceful = [&](nursery& n) -> awaitable<void> {
    if (c.link && !c.link->gone()) {
      // Someone must read the child's answer: serve its channel while asking.
      n.start_soon([&]() -> awaitable<void> {
        std::function<void(msg::Start)> no_new_work = [](msg::Start) {};
        auto why = co_await c.link->serve(std::move(no_new_work));
        (void)why;
      });
      n.start_soon([&]() -> awaitable<void> {
        const bool acked = co_await request_cancel(*c.link, a.aid(), a.limits.cancel_ack);
        (void)acked;
      });
    }
    auto status = co_await move_on_after(a.limits.before_kill, c.proc->wait());
    exited = status.has_value();
    n.cancel();
  };
  auto asked = co_await open_nursery(graceful);
  (void)asked;
  if (exited) co_return;
  c.proc->terminate();
  auto terminated = co_await move_on_after(a.limits.cancel_ack, c.proc->wait());
  if (terminated) {
    if (!terminated->exited) forget_killed(a, c);
    co_return;
  }
  c.proc->kill();
  auto killed = co_await c.proc->wait();
  if (killed.abandoned) {
    c.abandoned = error(make_error_code(runtime_errc::actor_failure),
                        "actor '" + c.name + "' ignored cancellation and was abandoned (" +
                            killed.describe() + ")");
    co_return;
  }
  forget_killed(a, c);  // it could not remove its socket file itself
}

/// Serves a child's channel until its process exits; if cancelled first, walks the ladder.
/// A child the ladder had to abandon is an error, even when the supervision was cancelled.
inline awaitable<result<void>> supervise(actor& a, std::shared_ptr<child_record> c) {
  auto serve_until_exit = [&]() -> awaitable<void> {
    // Runs once the spawn that made the child has returned, not on its time; the yield is
    // inside the region whose end walks the ladder, so a child cancelled before its
    // supervision ran is still let go gracefully.
    co_await checkpoint();
    auto served = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon(a.serve_peer(c->link, n));
      auto status = co_await c->proc->wait();
      (void)status;
      n.cancel();
    });
    (void)served;
  };
  std::exception_ptr interrupted;
  try {
    co_await finally(serve_until_exit(), cancel_ladder(a, *c));
  } catch (...) {
    interrupted = std::current_exception();
  }
  if (c->abandoned) co_return *c->abandoned;
  if (interrupted) std::rethrow_exception(interrupted);
  co_return success();
}

/// Runs a one-shot child's single call, then lets it go (ladder); a failed call is returned
/// so that the actor nursery treats it as a failing child. The call's mailbox stays open
/// through the ladder: an error the child raised while being cancelled still arrives, and
/// is kept (cancellation never hides an error).
inline awaitable<result<void>> supervise_one_shot(actor& a, std::shared_ptr<child_record> c,
                                                  function_name fn, msg::raw_pld args,
                                                  event& done,
                                                  std::optional<result<msg::raw_pld>>& outcome) {
  mailbox_lease lease(*c->link);
  auto& box = lease.box();
  auto settle = [&](msg::msg& m) {
    if (outcome) return;
    if (auto* r = std::get_if<msg::Return>(&m)) outcome.emplace(std::move(r->pld));
    if (auto* e = std::get_if<msg::Error>(&m)) {
      // The cancellation this nursery asked for (the ladder's `self.cancel`) is no error.
      error err = c->link->unbox(*e);
      const bool ours = err == runtime_errc::context_cancelled &&
                        err.canceller() == describe_exactly(uid_of(a.aid()));
      if (!ours) outcome.emplace(std::move(err));
    }
  };
  auto run = [&]() -> awaitable<void> {
    auto served = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon(a.serve_peer(c->link, n));
      msg::msg start = msg::Start{lease.cid(), std::string(fn.ns), std::string(fn.func),
                                  std::move(args), uid_of(a.aid())};
      auto sent = co_await c->link->send(std::move(start));
      if (!sent) outcome.emplace(sent.error());
      while (!outcome) {
        auto m = co_await box.receive();
        if (!m) break;  // the child went away; the ladder below reaps it
        settle(m.value());
      }
      n.cancel();
    });
    (void)served;
  };
  auto let_go = [&]() -> awaitable<void> {
    co_await cancel_ladder(a, *c);
    for (auto m = box.try_receive(); m; m = box.try_receive()) settle(m.value());
    if (c->abandoned && (!outcome || *outcome)) outcome.emplace(*c->abandoned);
  };
  std::exception_ptr interrupted;
  try {
    co_await run();
  } catch (...) {
    interrupted = std::current_exception();
  }
  // Cancelled or not, the child is let go and its answer collected (shielded).
  const bool checked = co_await boost::asio::this_coro::throw_if_cancelled();
  co_await boost::asio::this_coro::throw_if_cancelled(false);
  co_await shield(let_go());
  co_await boost::asio::this_coro::throw_if_cancelled(checked);
  done.set();
  // An error the child raised wins over the cancellation that interrupted us.
  if (outcome && !*outcome) co_return outcome->error();
  if (interrupted) std::rethrow_exception(interrupted);
  co_return success();
}

/// A request for a child of `a`: where its parent is, the tree's child entry and bounds.
inline spawn::spawn_request request_from(actor& a) {
  spawn::spawn_request req;
  req.boot.parent_addr = a.address().str();
  req.boot.parent_pid = ::getpid();
  req.run_child = a.pol().child_entry;
  req.abandon_after = a.limits.thread_abandon;
  return req;
}

/// Whether `a`'s children get their channel to it as a socketpair (a backend that adopts one,
/// under UDS) rather than connecting back.
inline bool pairs_children(const actor& a) {
  return a.pol().spawn_adopts_channel && a.address().proto() == transport::multiaddr::protocol::unix_socket;
}

/// Starts `req` with the tree's backend; if `a` pairs its children, with a socketpair whose
/// other end (our side of the child's channel) goes to `paired`.
inline result<std::unique_ptr<spawn::child_handle>> start_child(actor& a, spawn::spawn_request& req,
                                                                std::shared_ptr<peer>& paired) {
  std::optional<transport::stream_socket> ours;
  if (pairs_children(a)) {
    BOOST_OUTCOME_TRY(auto pair, transport::local_pair(a.executor()));
    boost::system::error_code ignored;  // set now, not by the first send on the spawn's path
    pair.first.non_blocking(true, ignored);
    ours.emplace(std::move(pair.first));
    req.boot.channel_fd = pair.second;
  }
  auto proc = a.pol().spawn(a.executor(), req);
  if (req.boot.channel_fd >= 0) ::close(req.boot.channel_fd);  // the child has its own
  if (proc && ours) paired = a.make_peer(std::move(*ours));
  return proc;
}

/// Starts a child ahead of the next spawn (see `actor::spare`). If that fails, the next
/// spawn starts its child as usual (and reports what fails then).
inline void prepare_spare(actor& a) {
  if (a.spare) return;
  spawn::spawn_request req = request_from(a);
  req.ahead = true;
  req.boot.uuid = new_uuid();
  std::shared_ptr<peer> link;
  auto proc = start_child(a, req, link);
  if (proc && link) {
    std::string at = spare_address(a.pol(), req.boot.uuid).str();
    a.spare = actor::spare_child{std::move(proc).value(), std::move(link), req.boot.uuid, std::move(at)};
  }
}

/// The spare, given `boot` (whose uuid becomes the spare's; `registered` is set when we keep
/// the registry). Nothing if there is no spare, or it is not ready yet (it is kept for a
/// later spawn), or it has ended (it is let go).
inline std::optional<actor::spare_child> take_spare(actor& a, spawn::child_boot& boot) {
  if (!a.spare) return std::nullopt;
  spawn::child_boot given = boot;
  given.uuid = a.spare->uuid;
  given.registered = a.registry.has_value();
  if (!a.spare->proc->complete_boot(given)) {
    if (a.spare->proc->poll()) a.release_spare();
    return std::nullopt;
  }
  boot = std::move(given);
  std::optional<actor::spare_child> taken = std::move(a.spare);
  a.spare.reset();
  return taken;
}

/// What a child is sent to boot: its enabled modules, and where the registrars are.
inline msg::msg spawn_spec(actor& a, const std::vector<std::string>& enable_modules) {
  msg::SpawnSpec spec;
  for (const auto& ns : enable_modules) spec.enable_modules[ns] = ns;
  spec._runtime_vars["_is_root"] = "false";
  for (const auto& reg : a.registry_addrs) spec.reg_addrs.push_back(reg.to_wire());
  return spec;
}

/// The boot of a spare just taken as the child `boot` describes: our handshake with its
/// SpawnSpec right behind, in one write from this call, and its registration (when we keep
/// the registry) at the address it bound ahead. Its own handshake is not waited for: it is
/// checked when it arrives (see `channel::handshake_expecting`). An error if it went away.
///
/// Cancellation: as `channel::send_all_now` (the caller lets the child go).
inline awaitable<result<void>> boot_spare(actor& a, child_record& c, const spawn::child_boot& boot,
                                          const std::string& address,
                                          const std::vector<std::string>& enable_modules) {
  const msg::msg spec = spawn_spec(a, enable_modules);
  const msg::Aid expected = child_aid(boot);
  BOOST_OUTCOME_CO_TRY(co_await c.link->channel().handshake_expecting(a.aid(), spec, expected));
  if (boot.registered) {
    a.registry->add(uid_of(expected), {address}, c.link.get());
  }
  co_return success();
}

/// The end of a child's boot once it has handshaken: takes its registration (when we are
/// the registrar) and sends its SpawnSpec with the answers; an error if it went away or sent
/// something else.
///
/// Cancellation: interrupted at once (the caller lets the child go).
inline awaitable<result<void>> finish_boot(actor& a, child_record& c, const std::vector<std::string>& enable_modules) {
  std::vector<msg::msg> out;
  out.emplace_back(spawn_spec(a, enable_modules));
  if (a.registry) {
    // The child registers with us right after binding (it is findable once we return), and
    // does not wait for its SpawnSpec to do so: its registration is taken first, and the
    // answers leave with the SpawnSpec. Usually it came in one write with the handshake, and
    // needs no wait; else a child that dies instead ends the receive, and the boot timeout
    // bounds a silent one.
    result<void> registered = success();
    if (auto arrived = c.link->channel().try_receive()) {
      registered = admit_registration(a, *c.link, *arrived, out);
    } else {
      auto waited = co_await move_on_after(a.limits.boot, accept_registration(a, c.link, out));
      registered = waited ? *waited : result<void>(error(make_error_code(errc::timeout), "no registration"));
    }
    if (!registered) co_return registered.error();
  }
  co_return co_await c.link->channel().send_all_now(out);
}

/// Kills a child whose boot did not finish (or was cancelled), reaps it, and removes the
/// socket file it may have bound. Its wait is shielded; a cancelled caller must also turn off
/// `throw_if_cancelled` around the call (Asio refuses to start an awaited coroutine in a
/// cancelled one otherwise).
inline awaitable<void> let_half_started_go(actor& a, child_record& c) {
  c.proc->kill();
  (void)co_await shield(c.proc->wait());
  forget_killed(a, c);
}

/// Starts child `name` with the tree's spawn backend and waits until it has connected back
/// (racing its death and the boot timeout), then sends its SpawnSpec. A backend that adopts
/// a channel (forkserver, thread) under UDS gets one end of a socketpair instead: no
/// connect-back, no accept. (Under TCP the child connects back, so that the parent link
/// runs over the transport the tree chose.)
inline awaitable<result<std::shared_ptr<child_record>>> spawn_child(
    actor& a, std::string name, const std::vector<std::string>& enable_modules) {
  auto c = std::make_shared<child_record>();
  c->name = name;
  spawn::spawn_request req = request_from(a);
  req.boot.name = name;
  req.boot.parent_registers = a.registry.has_value();
  std::shared_ptr<peer> paired;  // our end of the child's channel, if it is given one
  auto spare = take_spare(a, req.boot);
  const bool from_spare = spare.has_value();
  if (from_spare) {
    c->proc = std::move(spare->proc);
    paired = std::move(spare->link);
  }
  if (!from_spare) req.boot.uuid = new_uuid();
  const std::string uuid = req.boot.uuid;
  actor::expected_child slot;
  if (!from_spare) a.expect_child(uuid, slot);  // a spare's channel is ours already
  struct forget {
    actor& a;
    const std::string& uuid;
    ~forget() { a.forget_child(uuid); }
  } forget_on_exit{a, uuid};

  if (!from_spare) {
    req.title = "_subactor[" + name + "@" + uuid.substr(0, 8) + "]";
    auto proc = start_child(a, req, paired);
    if (!proc) {
      co_return error(make_error_code(runtime_errc::actor_failure),
                      "cannot start actor '" + name + "': " + proc.error().message());
    }
    c->proc = std::move(proc).value();
  }

  std::optional<spawn::exit_status> died;
  std::optional<std::string> refused;  // why the paired handshake failed
  // Connect-back: the wait for it races the child's death.
  auto boot = [&](nursery& n) -> awaitable<void> {
    n.start_soon([&]() -> awaitable<void> {
      died = co_await c->proc->wait();
      n.cancel();
    });
    (void)co_await move_on_after(a.limits.boot, slot.connected.wait());
    n.cancel();
  };
  // A given channel needs no race: the child's end closes when its entry ends (EOF).
  auto handshake_paired = [&]() -> awaitable<void> {
    auto hs = co_await move_on_after(a.limits.boot, paired->channel().handshake(a.aid()));
    if (!hs) co_return;  // the boot timeout: killed below
    if (*hs && hs->value().uuid == uuid) {
      slot.link = paired;
      co_return;
    }
    refused = *hs ? "answered the handshake as actor " + hs->value().uuid : hs->error().message();
    // Its exit status, if it comes soon, says better why.
    auto st = co_await move_on_after(a.limits.cancel_ack, c->proc->wait());
    if (st) died = *st;
  };
  // Whatever ends the boot early (a failure, or a cancellation anywhere up to the SpawnSpec)
  // ends it the same way: the child is killed and reaped, its socket file removed.
  std::exception_ptr interrupted;
  std::optional<std::string> failed;  // why the boot failed
  try {
    if (from_spare) {
      // Its runtime is up, its server bound and its channel connected: it only needs its
      // boot, and has nothing left to fail at that a wait here would catch first.
      c->link = paired;
      auto sent = co_await boot_spare(a, *c, req.boot, spare->address, enable_modules);
      if (!sent) failed = "went away before it took its boot: " + sent.error().message();
    } else {
      if (paired) {
        co_await handshake_paired();
      } else {
        (void)co_await open_nursery(boot);
      }
      if (slot.link) {
        c->link = slot.link;
        auto finished = co_await finish_boot(a, *c, enable_modules);
        if (!finished) failed = "went away during boot: " + finished.error().message();
      } else {
        failed = died      ? "died during boot (" + died->describe() + ")"
                 : refused ? "failed its handshake: " + *refused
                 : paired  ? "did not answer its handshake within the boot timeout"
                           : "did not connect back within the boot timeout";
      }
    }
  } catch (...) {
    interrupted = std::current_exception();
  }
  if (interrupted || failed) {
    const bool checked = co_await boost::asio::this_coro::throw_if_cancelled();
    co_await boost::asio::this_coro::throw_if_cancelled(false);
    co_await let_half_started_go(a, *c);
    co_await boost::asio::this_coro::throw_if_cancelled(checked);
    if (interrupted) std::rethrow_exception(interrupted);
    co_return error(make_error_code(runtime_errc::actor_failure), "actor '" + name + "' " + *failed);
  }
  c->proc->booted();
  if (paired && a.pol().spawn_starts_ahead && !a.spare && a.lifetime) {
    // The next spawn's child, made after this spawn has returned (a task starts at once:
    // it first queues itself behind what is ready to run).
    a.lifetime->start_soon([&a]() -> awaitable<void> {
      co_await boost::asio::post(a.executor(), boost::asio::use_awaitable);
      prepare_spare(a);
      co_return;
    });
  }
  co_return c;
}

}  // namespace runtime

template <class Tree>
template <auto F, class... Args>
  requires std::is_invocable_v<decltype(F), Args...>
awaitable<call_result_t<F>> portal<Tree>::run(Args&&... args) {
  static_assert(Tree::exposed_type::template contains<F>,
                "portal::run<F>: F is not in the tree's tractor::exposed<...> list");
  using C = typename Tree::codec_type;
  const args_tuple_t<F> arguments{std::forward<Args>(args)...};
  auto kwargs = C::encode_payload(arguments);
  auto r = co_await runtime::call(*peer_, self_->aid(), name_of<F>(), std::move(kwargs),
                                  self_->limits.cancel_ack);
  if (!r) co_return r.error();
  using value_type = typename call_result_t<F>::value_type;
  if constexpr (std::is_void_v<value_type>) {
    co_return success();
  } else {
    co_return codec::decode_pld<C, value_type>("Return", r.value());
  }
}

template <class Tree>
template <auto F, class Body, class... Args>
  requires is_context_fn<F> && (!std::is_same_v<std::remove_cvref_t<Body>, stream_options>)
awaitable<result<void>> portal<Tree>::open_context(Body body, Args&&... args) {
  co_return co_await open_context<F>(stream_options{}, std::move(body), std::forward<Args>(args)...);
}

template <class Tree>
template <auto F, class Body, class... Args>
  requires is_context_fn<F>
awaitable<result<void>> portal<Tree>::open_context(stream_options buffering, Body body, Args&&... args) {
  static_assert(Tree::exposed_type::template contains<F>,
                "portal::open_context<F>: F is not in the tree's tractor::exposed<...> list");
  using C = typename Tree::codec_type;
  using ctx_t = caller_context<F>;
  const args_tuple_t<F> arguments{std::forward<Args>(args)...};
  auto kwargs = C::encode_payload(arguments);
  const clock::duration cancel_bound = self_->limits.context_cancel;
  runtime::context_body erased = [&body, cancel_bound](runtime::context_core& core,
                                                       msg::raw_pld first) -> awaitable<result<void>> {
    auto value = codec::decode_pld<C, typename ctx_t::started_type>("Started", first);
    if (!value) co_return value.error();
    ctx_t ctx(core, cancel_bound, static_cast<C*>(nullptr));
    co_return co_await body(ctx, std::move(value).value());
  };
  co_return co_await runtime::run_caller_context(*peer_, self_->aid(), name_of<F>(), std::move(kwargs),
                                                 self_->limits, std::move(erased), buffering);
}

template <class Tree>
awaitable<bool> portal<Tree>::cancel_actor() {
  return runtime::request_cancel(*peer_, self_->aid(), self_->limits.cancel_ack);
}

template <class Tree>
awaitable<result<portal<Tree>>> actor_nursery<Tree>::start_actor(std::string name,
                                                                actor_options options) {
  auto c = co_await runtime::spawn_child(self_, std::move(name), options.enable_modules);
  if (!c) co_return c.error();
  tasks_.start_soon(runtime::supervise(self_, c.value()));
  co_return portal<Tree>(self_, c.value()->link);
}

template <class Tree>
template <auto F, class... Args>
  requires std::is_invocable_v<decltype(F), Args...>
awaitable<result<one_shot<Tree, F>>> actor_nursery<Tree>::run_in_actor(std::string name,
                                                                       Args&&... args) {
  static_assert(Tree::exposed_type::template contains<F>,
                "run_in_actor<F>: F is not in the tree's tractor::exposed<...> list");
  using C = typename Tree::codec_type;
  const args_tuple_t<F> arguments{std::forward<Args>(args)...};
  auto kwargs = C::encode_payload(arguments);
  const std::vector<std::string> ns{std::string(name_of<F>().ns)};
  auto c = co_await runtime::spawn_child(self_, std::move(name), ns);
  if (!c) co_return c.error();
  using state = typename one_shot<Tree, F>::state;
  auto st = std::make_shared<state>();
  tasks_.start_soon([&self = self_, child = c.value(), kwargs = std::move(kwargs),
                     st]() mutable -> awaitable<result<void>> {
    co_return co_await runtime::supervise_one_shot(self, child, name_of<F>(), std::move(kwargs),
                                                   st->done, st->outcome);
  });
  co_return one_shot<Tree, F>(portal<Tree>(self_, c.value()->link), st);
}

template <class Tree, auto F>
awaitable<call_result_t<F>> one_shot<Tree, F>::wait_for_result() {
  co_await state_->done.wait();
  if (!state_->outcome) {
    co_return error(make_error_code(errc::cancelled), "the one-shot actor was cancelled");
  }
  auto& r = *state_->outcome;
  if (!r) co_return r.error();
  using value_type = typename call_result_t<F>::value_type;
  if constexpr (std::is_void_v<value_type>) {
    co_return success();
  } else {
    co_return codec::decode_pld<typename Tree::codec_type, value_type>("Return", r.value());
  }
}

template <class Tree>
template <class Body>
awaitable<result<void>> root<Tree>::open_nursery(Body body) {
  co_return co_await open_actor_nursery<Tree>(std::move(body));
}

template <class Tree, class Body>
awaitable<result<void>> open_actor_nursery(Body body) {
  runtime::actor* self = runtime::current_actor();
  if (!self) {
    co_return error(make_error_code(runtime_errc::actor_failure),
                    "open_actor_nursery called outside any actor");
  }
  co_return co_await tractor::open_nursery([&](nursery& tasks) -> awaitable<result<void>> {
    actor_nursery<Tree> an(*self, tasks);
    co_return co_await body(an);
  });
}

template <class Tree>
awaitable<result<portal<Tree>>> connect_to(const transport::multiaddr& address) {
  runtime::actor* self = runtime::current_actor();
  if (!self || !self->lifetime) {
    co_return error(make_error_code(runtime_errc::actor_failure), "connect_to called outside any actor");
  }
  auto p = co_await runtime::connect_peer(*self, address);
  if (!p) co_return p.error();
  co_return portal<Tree>(*self, std::move(p).value());
}

template <class Tree, class Body>
int run_main(int argc, char** argv, Body body) {
  return run_main<Tree>(argc, argv, root_options{}, std::move(body));
}

template <class Tree, class Body>
int run_main(int /*argc*/, char** /*argv*/, root_options options, Body body) {
  if (runtime::is_child_process()) return runtime::child_main(Tree::policies());
  // Forked before this root's event loop exists (unless the program started it earlier).
  std::optional<spawn::forkserver::session> forkserver;
  if constexpr (std::is_base_of_v<spawn::forkserver, typename Tree::spawn_type>) forkserver.emplace();
  boost::asio::io_context ctx;
  int code = 0;
  // The lambda itself goes to co_spawn, which keeps it alive while its coroutine runs (an
  // invoked temporary would leave the coroutine with dangling captures).
  boost::asio::co_spawn(
      ctx,
      [&]() -> awaitable<void> {
        runtime::actor a(ctx.get_executor(), msg::Aid{options.name, runtime::new_uuid(), ::getpid(), false, false},
                         Tree::policies());
        runtime::current_actor_scope is_current(a);
        const auto candidates = runtime::registry_candidates(a.pol(), options.registry_addrs);
        auto booted = co_await runtime::boot_root(a, candidates);
        if (!booted) {
          fmt::print(stderr, "tractor: cannot start the root actor: {}\n", booted.error().message());
          code = 1;
          co_return;
        }
        root<Tree> r(a);
        int interrupted_by = 0;
        std::shared_ptr<runtime::peer> registration;
        auto res = co_await tractor::open_nursery([&](nursery& n) -> awaitable<result<void>> {
          a.lifetime = &n;
          n.start_soon(a.accept_loop(n));
          // Ctrl-C (or SIGTERM) cancels the whole tree; every child is reaped before exit.
          n.start_soon(runtime::cancel_on_signal(n, interrupted_by));
          if (!a.registry) {  // another program's root is the registrar
            auto registered = co_await runtime::register_remotely(a);
            if (!registered) co_return registered.error();
            registration = registered.value();
          }
          auto out = co_await body(r);
          n.cancel();  // the body is done: stop serving
          co_return out;
        });
        a.release_spare();
        if (registration) co_await runtime::unregister_over(a, *registration);
        co_await a.acknowledge_cancel();
        if (!res) {
          fmt::print(stderr, "tractor: root failed: {}\n", res.error().message());
          code = 1;
        }
        if (interrupted_by) {
          fmt::print(stderr, "tractor: interrupted by signal {}; tree cancelled\n", interrupted_by);
          code = 128 + interrupted_by;
        }
      },
      [&](std::exception_ptr e) {
        if (e) code = 1;
      });
  ctx.run();
  return code;
}

}  // namespace tractor
