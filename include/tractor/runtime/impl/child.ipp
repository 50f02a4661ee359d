// Definitions for tractor/runtime/child.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/runtime/child.hpp>

#include <fcntl.h>

namespace tractor::runtime {

TRACTOR_DECL msg::Aid child_aid(const spawn::child_boot& boot) {
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
  std::optional<transport::connection> channel;
  bool parent_registers = false;
  bool in_process = false;
  std::optional<log::level> loglevel;
  bool taskdump = false;
};

TRACTOR_DECL awaitable<int> child_runtime(const policies& pol, msg::Aid self, boot_plan plan, stop_target& stop) {
  auto ex = co_await boost::asio::this_coro::executor;
  actor a(ex, self, pol, plan.in_process);
  if (plan.loglevel) a.log_from(*plan.loglevel);
  if (plan.taskdump) a.enable_taskdump();
  current_actor_scope is_current(a);
  // Bound before the handshake: our address goes with the registration right behind it.
  const result<void> bound = a.bind();
  const bool channel_given = plan.channel.has_value();
  if (!channel_given) {
    // Part of the boot, which its parent waits for as long (`timeouts::boot`).
    auto conn = co_await connect_to(pol, plan.parent_addr, a.limits().boot);
    if (!conn) {
      logs::spawn.error("cannot reach the parent at {}: {}", plan.parent_addr.str(), conn.error().message());
      co_return int(child_exit::cannot_reach_parent);
    }
    plan.channel.emplace(std::move(conn).value());
  }
  auto parent = std::make_shared<peer>(pol.make_channel(std::move(*plan.channel), {}), self, pol);
  // Registered right after binding, before serving the parent (tractor's `Actor.async_main()`
  // registration): over the parent channel when the parent is the registrar (which waits for it:
  // the child is findable as soon as the parent has its portal), else over a channel of our own,
  // below. A child told that its parent registers sends the request with its handshake; the
  // SpawnSpec crosses it.
  const std::string cid = new_uuid();
  std::optional<msg::msg> request;
  if (bound && plan.parent_registers) {
    request.emplace(registration_request(a, *parent, cid));
  }
  const msg::msg* then = request ? &*request : nullptr;
  auto hs = co_await parent->handshake(a.limits().handshake, then);
  if (!hs) {
    logs::spawn.error("handshake with the parent failed: {}", hs.error().message());
    co_return int(child_exit::handshake_failed);
  }
  a.set_parent(hs.value());
  logs::spawn.runtime("booting under {}@{} (pid {}){}", hs.value().name, logs::short8(hs.value().uuid),
                      hs.value().pid.value_or(0), channel_given ? " over the channel its backend gave" : "");
  if (!bound) {
    msg::msg e = box_error(bound.error(), self, std::nullopt);  // runtime-scoped: boot failed
    (void)co_await parent->send(std::move(e));
    co_return int(child_exit::cannot_bind);
  }
  const bool parent_registers = request || hs.value().is_registrar.value_or(false);
  std::optional<msg::SpawnSpec> spec;
  if (request) {
    auto registered = co_await finish_registration(*parent, cid, spec);
    if (!registered) co_return int(child_exit::cannot_register);
  } else if (parent_registers) {
    auto registered = co_await register_over_parent(a, *parent, spec);
    if (!registered) co_return int(child_exit::cannot_register);
  } else {
    auto first = co_await parent->channel().receive();
    if (!first || !std::holds_alternative<msg::SpawnSpec>(first.value())) {
      co_return int(child_exit::no_spawn_spec);
    }
    spec = std::get<msg::SpawnSpec>(std::move(first).value());
  }
  std::vector<std::string> enabled;
  for (const auto& [name, path] : spec->enable_modules) enabled.push_back(name);
  a.enable_only(enabled);
  std::vector<transport::multiaddr> registry;
  for (const auto& w : spec->reg_addrs) {
    if (auto m = transport::multiaddr::from_wire(w)) registry.push_back(std::move(m).value());
  }
  a.use_registrar(std::move(registry));
  // Debug mode, and where the tree's terminal lock is (tractor's `_runtime_vars`).
  a.debug().enabled = spec->_runtime_vars["_debug_mode"] == "1";
  a.debug().root_addr = spec->_runtime_vars["_root_mailbox"];
  logs::spawn.runtime("booted: serving the parent, enabled {}", fmt::join(enabled, ", "));
  std::vector<std::shared_ptr<peer>> registrations;
  int interrupted_by = 0;
  nursery* boot_scope = stop.scope;
  auto serve = [&](nursery& n) -> awaitable<void> {
    a.live_in(&n);
    stop.scope = &n;
    n.start_soon("accept loop", a.accept_loop(n));
    n.start_soon("SIGINT/SIGTERM watch", cancel_on_signal(interrupted_by, a));
    if (a.taskdump()) n.start_soon("task-dump watch", task_dump_watch(a));
    if (!parent_registers) {
      auto registered = co_await register_remotely(a, registrations);
      if (!registered) logs::registrar.error("could not register: {}", registered.error().message());
    }
    // The parent channel is this actor's lifeline: when it ends (cancel, or the parent
    // died), the actor ends.
    (void)co_await a.serve_peer(parent, n);
    n.cancel();
  };
  auto unregister = [&]() -> awaitable<void> {
    stop.scope = boot_scope;  // (the serving scope is gone)
    co_await unregister_remotely(a, registrations);
  };
  auto r = co_await finally(open_nursery(serve), unregister());
  co_await a.acknowledge_cancel();
  parent->channel().close();
  if (interrupted_by) co_return exit_code_for_signal(interrupted_by);
  if (stop.requested) co_return exit_code_for_signal(SIGTERM);
  co_return int(r ? child_exit::ok : child_exit::failed);
}

}  // namespace detail

TRACTOR_DECL int run_child(const policies& pol, const spawn::child_boot& started_with) {
  // A prestarted child learns who it is (and gets its channel) only now.
  spawn::child_boot handed;
  if (started_with.handover_fd >= 0) {
    handed = started_with;
    auto received = spawn::receive_handover(handed);
    if (!received) return int(received.error() == errc::cancelled ? child_exit::ok : child_exit::bad_boot);
  }
  const spawn::child_boot& given = started_with.handover_fd >= 0 ? handed : started_with;
  if (!given.cookie.empty()) transport::auth::use_cookie(given.cookie);
  // Asio reports a loop it cannot make (no descriptor for its epoll) by throwing; in a thread
  // actor that would end the whole program.
  std::optional<boost::asio::io_context> loop;
  try {
    loop.emplace();
  } catch (const std::exception&) {
    return int(child_exit::out_of_resources);
  }
  boost::asio::io_context& ctx = *loop;
  std::optional<transport::connection> channel;
  if (given.channel_fd >= 0) {
    // The backend closes its descriptor once we return (a handed-over one is ours to close);
    // we work on our own.
    const int fd = ::fcntl(given.channel_fd, F_DUPFD_CLOEXEC, 3);
    if (&given == &handed) ::close(given.channel_fd);
    if (fd < 0) return int(child_exit::bad_boot);
    auto adopted = transport::adopt_local(ctx.get_executor(), fd);
    if (!adopted) return int(child_exit::bad_boot);
    channel.emplace(transport::connection{std::move(adopted).value()});
  }
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
  int code = int(child_exit::failed);
  auto body = [&]() -> awaitable<void> {
    auto r = co_await open_nursery([&](nursery& boot_scope) -> awaitable<void> {
      stop->scope = &boot_scope;
      if (stop->requested) boot_scope.cancel();
      detail::boot_plan plan;
      plan.channel = std::move(channel);
      auto addr = transport::multiaddr::parse(given.parent_addr);
      if (!addr) {
        code = int(child_exit::bad_boot);
        co_return;
      }
      plan.parent_addr = std::move(addr).value();
      plan.parent_registers = given.parent_registers;
      plan.in_process = given.parent_pid == ::getpid();
      plan.loglevel = given.loglevel;
      plan.taskdump = given.taskdump;
      code = co_await detail::child_runtime(pol, child_aid(given), std::move(plan), *stop);
    });
    stop->scope = nullptr;
    if (!r) code = int(child_exit::failed);
    if (stop->requested && code == int(child_exit::failed)) code = exit_code_for_signal(SIGTERM);
  };
  boost::asio::co_spawn(ctx, body, [&](std::exception_ptr e) {
    if (e) code = int(child_exit::failed);
  });
  ctx.run();
  if (given.stop) given.stop->clear();
  return code;
}

TRACTOR_DECL int child_main(const policies& pol) {
  // A child must not outlive its parent: die with it, even if it was already gone.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const auto boot = spawn::exec::boot_from_env();
  if (!boot) return int(child_exit::not_a_child);
  if (boot->parent_pid != ::getppid()) return int(child_exit::parent_gone);
  ::prctl(PR_SET_NAME, boot->name.substr(0, 15).c_str());
  return run_child(pol, *boot);
}

}  // namespace tractor::runtime
