// tractor/runtime/child.hpp — a child actor's runtime: bind, reach the parent (the channel
// its backend gave it, or a connect back), handshake with its registration right behind,
// receive SpawnSpec, serve the parent until it cancels us or goes away. Every spawn backend
// ends up in `run_child` (declared in actor.hpp).
#pragma once

#include <tractor/runtime/discovery_core.hpp>

#include <fcntl.h>

namespace tractor::runtime {

/// The identity a child takes from its boot (its pid is the process's it runs in).
inline msg::Aid child_aid(const spawn::child_boot& boot) {
  return msg::Aid{boot.name.empty() ? "child" : boot.name, boot.uuid, ::getpid(), false, false};
}

namespace detail {

/// What stopping a thread actor from another thread cancels: its boot, then its lifetime.
/// Touched only on the actor's own thread.
struct stop_target {
  nursery* scope = nullptr;
  bool requested = false;
};

/// The child's boot as `child_runtime` takes it: `channel` is the socket its backend gave
/// it (already connected to the parent), else it connects to `parent_addr`.
struct boot_plan {
  transport::multiaddr parent_addr;
  std::optional<transport::stream_socket> channel;
  bool parent_registers = false;
  bool in_process = false;
  void (*on_booted)() = nullptr;
  /// Set for a child started ahead: told once booted.
  spawn::deferred_boot* deferred = nullptr;
  /// A server bound before the child knew its name (a spare's, at its `spare_address`).
  std::optional<transport::listener> server;
  /// The parent has registered us already (`child_boot::registered`).
  bool registered = false;
};

inline awaitable<int> child_runtime(const policies& pol, msg::Aid self, boot_plan plan, stop_target& stop) {
  auto ex = co_await boost::asio::this_coro::executor;
  actor a(ex, self, pol);
  current_actor_scope is_current(a);
  a.in_process = plan.in_process;
  // Bound before the handshake: our address goes with the registration right behind it.
  result<void> bound = success();
  if (plan.server) {
    a.adopt_server(std::move(*plan.server));
  } else {
    bound = a.bind();
  }
  if (!plan.channel) {
    auto sock = co_await pol.connect(ex, plan.parent_addr);
    if (!sock) {
      fmt::print(stderr, "tractor child {}: {}\n", self.name, sock.error().message());
      co_return 2;
    }
    plan.channel.emplace(std::move(sock).value());
  }
  auto parent = std::make_shared<peer>(pol.make_channel(std::move(*plan.channel), {}), self, pol.error_types);
  // Registered right after binding, before serving the parent (R42): over the parent channel
  // when the parent is the registrar (which waits for it: the child is findable as soon as
  // the parent has its portal), else over a channel of our own, below. A child told that its
  // parent registers sends the request with its handshake; the SpawnSpec crosses it. A spare
  // was registered by its parent when taken (its address was known since it was made).
  const std::string cid = new_uuid();
  std::optional<msg::msg> request;
  if (bound && plan.parent_registers && !plan.registered) {
    request.emplace(registration_request(a, *parent, cid));
  }
  const msg::msg* then = request ? &*request : nullptr;
  auto hs = co_await parent->channel().handshake(self, then);
  if (!hs) co_return 3;
  if (!bound) {
    msg::msg e = box_error(bound.error(), self, std::nullopt);  // runtime-scoped: boot failed
    (void)co_await parent->send(std::move(e));
    co_return 5;
  }
  const bool parent_registers = plan.registered || request || hs.value().is_registrar.value_or(false);
  std::optional<msg::SpawnSpec> spec;
  if (request) {
    auto registered = co_await finish_registration(*parent, cid, spec);
    if (!registered) co_return 6;
  } else if (parent_registers && !plan.registered) {
    auto registered = co_await register_over_parent(a, *parent, spec);
    if (!registered) co_return 6;
  } else {
    auto first = co_await parent->channel().receive();
    if (!first || !std::holds_alternative<msg::SpawnSpec>(first.value())) co_return 4;
    spec = std::get<msg::SpawnSpec>(std::move(first).value());
  }
  if (plan.on_booted) plan.on_booted();
  if (plan.deferred) plan.deferred->booted();
  for (const auto& [ns, path] : spec->enable_modules) a.enabled_ns.insert(ns);
  if (a.enabled_ns.empty()) a.enabled_ns.insert("");  // nothing enabled: nothing callable
  for (const auto& w : spec->reg_addrs) {
    if (auto m = transport::multiaddr::from_wire(w)) a.registry_addrs.push_back(std::move(m).value());
  }
  std::shared_ptr<peer> registration;
  int interrupted_by = 0;
  nursery* boot_scope = stop.scope;
  auto r = co_await open_nursery([&](nursery& n) -> awaitable<void> {
    a.lifetime = &n;
    stop.scope = &n;
    n.start_soon(a.accept_loop(n));
    n.start_soon(cancel_on_signal(n, interrupted_by));
    if (!parent_registers) {
      auto registered = co_await register_remotely(a);
      if (registered) {
        registration = registered.value();
      } else {
        fmt::print(stderr, "tractor: {} could not register: {}\n", describe(uid_of(a.aid())),
                   registered.error().message());
      }
    }
    // The parent channel is this actor's lifeline: when it ends (cancel, or the parent
    // died), the actor ends.
    (void)co_await a.serve_peer(parent, n);
    n.cancel();
  });
  stop.scope = boot_scope;
  a.release_spare();
  if (registration) co_await unregister_over(a, *registration);
  co_await a.acknowledge_cancel();
  parent->channel().close();
  if (interrupted_by) co_return 128 + interrupted_by;
  if (stop.requested) co_return 128 + SIGTERM;
  co_return r ? 0 : 1;
}

/// What a forkserver spare does before its request (`child_boot::rehearse`): the parts of a
/// boot that cost more the first time in a process, done once ahead: working out its
/// address (the pid-namespace tag), and a handshake carrying a registration over a socketpair (an io_context, the codec,
/// channel buffers, the allocator's first blocks of those sizes). Measured in a spare's
/// child (tools/bench/spawn_bench): its handshake reached its write 8-10 us after it began
/// without this, 1-4 us with it. Nothing is bound, and nothing outlives the call.
inline void rehearse_boot(const policies& pol) {
  (void)pol.bind_addr("rehearsal");
  boost::asio::io_context ctx;
  auto body = [&]() -> awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    auto pair = transport::local_pair(ex);
    if (!pair) co_return;
    auto other = transport::adopt_local(ex, pair.value().second);
    if (!other) co_return;
    const msg::Aid self{"rehearsal", new_uuid(), ::getpid(), false, false};
    auto child = pol.make_channel(std::move(pair.value().first), {});
    auto parent = pol.make_channel(std::move(other).value(), {});
    msg::msg hello = self;
    if (!co_await parent->send(std::move(hello))) co_return;
    const std::vector<std::string> registration{self.name, self.uuid, "/unix/rehearsal"};
    const msg::msg request =
        msg::Start{new_uuid(), "self", "register_actor", child->encode_texts(registration), uid_of(self)};
    if (!co_await child->handshake(self, &request)) co_return;
    for (int i = 0; i < 2; ++i) {
      if (!co_await parent->receive()) co_return;
    }
  };
  boost::asio::co_spawn(ctx, body, [](std::exception_ptr) {});
  ctx.run();
}

/// A spare's wait for its spawn (`child_boot::deferred`): binds its server at its
/// `spare_address` while nobody waits, says it is ready, then waits until its parent
/// writes; the boot the parent gave it, or nothing if its channel just closed, or if it
/// could not bind (it is never ready then: its parent lets it go, and a spawn starts its
/// child as usual, which reports what fails).
///
/// Cancellation: interrupted at once (its stop, when its actor lets it go).
inline awaitable<std::optional<spawn::child_boot>> wait_to_be_taken(
    const policies& pol, const spawn::child_boot& given, transport::stream_socket& channel,
    std::optional<transport::listener>& server) {
  auto ex = co_await boost::asio::this_coro::executor;
  auto bound = pol.listen(ex, spare_address(pol, given.uuid));
  if (!bound) co_return std::nullopt;
  server.emplace(std::move(bound).value());
  given.deferred->ready();
  auto [ec] = co_await channel.async_wait(transport::stream_socket::wait_read,
                                          boost::asio::as_tuple(boost::asio::use_awaitable));
  if (ec == boost::asio::error::operation_aborted) throw_cancelled();
  co_return given.deferred->take();
}

}  // namespace detail

inline int run_child(const policies& pol, const spawn::child_boot& given) {
  if (given.rehearse) {
    detail::rehearse_boot(pol);
    return 0;
  }
  boost::asio::io_context ctx;
  std::optional<transport::stream_socket> channel;
  if (given.channel_fd >= 0) {
    // The backend closes its descriptor once we return; we work on our own.
    const int fd = ::fcntl(given.channel_fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return 11;
    auto adopted = transport::adopt_local(ctx.get_executor(), fd);
    if (!adopted) return 11;
    channel.emplace(std::move(adopted).value());
  }
  if (given.deferred && !channel) return 11;
  auto stop = std::make_shared<detail::stop_target>();
  if (given.stop) {
    // Called from the spawning thread: hop onto ours.
    given.stop->install([stop, ex = ctx.get_executor()] {
      boost::asio::post(ex, [stop] {
        stop->requested = true;
        if (stop->scope) stop->scope->cancel();
      });
    });
  }
  int code = 1;
  auto boot_and_run = [&](const spawn::child_boot& boot, std::optional<transport::listener> server)
      -> awaitable<int> {
    detail::boot_plan plan;
    plan.channel = std::move(channel);
    plan.server = std::move(server);
    auto addr = transport::multiaddr::parse(boot.parent_addr);
    if (!addr) co_return 11;
    plan.parent_addr = std::move(addr).value();
    plan.parent_registers = boot.parent_registers;
    plan.registered = boot.registered;
    plan.in_process = boot.parent_pid == ::getpid();
    plan.on_booted = boot.on_booted;
    plan.deferred = given.deferred.get();
    co_return co_await detail::child_runtime(pol, child_aid(boot), std::move(plan), *stop);
  };
  auto body = [&]() -> awaitable<void> {
    auto r = co_await open_nursery([&](nursery& boot_scope) -> awaitable<void> {
      stop->scope = &boot_scope;
      if (stop->requested) boot_scope.cancel();
      std::optional<transport::listener> server;
      if (!given.deferred) {
        code = co_await boot_and_run(given, std::move(server));
        co_return;
      }
      auto boot = co_await detail::wait_to_be_taken(pol, given, *channel, server);
      if (!boot) {
        code = 0;  // a spare never used
        co_return;
      }
      code = co_await boot_and_run(*boot, std::move(server));
    });
    stop->scope = nullptr;
    if (!r) code = 1;
    if (stop->requested && code == 1) code = 128 + SIGTERM;
  };
  boost::asio::co_spawn(ctx, body, [&](std::exception_ptr e) {
    if (e) code = 1;
  });
  ctx.run();
  if (given.stop) given.stop->clear();
  return code;
}

inline int child_main(const policies& pol) {
  // A child must not outlive its parent: die with it, even if it was already gone.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const auto boot = spawn::exec::boot_from_env();
  if (!boot) return 12;
  if (boot->parent_pid != ::getppid()) return 10;
  ::prctl(PR_SET_NAME, boot->name.substr(0, 15).c_str());
  return run_child(pol, *boot);
}

}  // namespace tractor::runtime
