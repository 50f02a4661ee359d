// Definitions for tractor/runtime/tree.hpp: thin typed front ends over the non-template
// spawn, supervision and call code below.
#pragma once

#include <tractor/core/cancel_scope.hpp>

namespace tractor {

namespace runtime {

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

/// Kills a child whose boot did not finish (or was cancelled) and reaps it. Its wait is shielded; a cancelled caller must also turn off
/// `throw_if_cancelled` around the call (Asio refuses to start an awaited coroutine in a
/// cancelled one otherwise).
inline awaitable<void> let_half_started_go(child_record& c) {
  c.proc->kill();
  (void)co_await shield(c.proc->wait());
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
  // ends it the same way: the child is killed and reaped.
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
    co_await let_half_started_go(*c);
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
  auto st = std::make_shared<runtime::one_shot_state>();
  one_shots_.started();
  tasks_.start_soon([&self = self_, &join = one_shots_, child = c.value(), kwargs = std::move(kwargs),
                     st]() mutable -> awaitable<void> {
    // Its error is collected when the nursery joins (`one_shot_join`), not returned here:
    // a one-shot failure does not cancel the body or its siblings.
    struct report_end {
      runtime::one_shot_join& join;
      const std::shared_ptr<runtime::one_shot_state>& st;
      ~report_end() { join.ended(st); }
    } on_exit{join, st};
    auto settled = co_await runtime::supervise_one_shot(self, child, name_of<F>(), std::move(kwargs), *st);
    (void)settled;  // also in `st`
  });
  co_return one_shot<Tree, F>(portal<Tree>(self_, c.value()->link), st);
}

template <class Tree, auto F>
awaitable<call_result_t<F>> one_shot<Tree, F>::wait_for_result() {
  co_await state_->done.wait();
  state_->taken = true;
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
  std::optional<runtime::one_shot_join> one_shots;  // outlives the tasks that report to it
  co_return co_await tractor::open_nursery([&](nursery& tasks) -> awaitable<result<void>> {
    one_shots.emplace(tasks);
    actor_nursery<Tree> an(*self, tasks, *one_shots);
    // However the body ends (a value, an error, or cancellation), one-shot results are
    // collected from then on.
    struct body_ends {
      runtime::one_shot_join& join;
      ~body_ends() { join.body_ended(); }
    } on_exit{*one_shots};
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
  // Checked first: a child's exposed function calling run_main is in a child process too.
  auto claim = runtime::root_claim::acquire();
  if (!claim) {
    fmt::print(stderr, "tractor: {}\n", claim.error().message());
    return 1;
  }
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
