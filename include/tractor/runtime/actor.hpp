// tractor/runtime/actor.hpp — the per-actor runtime: identity, IPC server, peers, RPC
// dispatch, and the child's boot sequence.
//
// Everything here is non-template: the policies a tree was composed from reach it as a small
// table of function pointers (`policies`), built once per tree type.
#pragma once

#include <tractor/core/event.hpp>
#include <tractor/runtime/context_core.hpp>
#include <tractor/runtime/peer.hpp>
#include <tractor/runtime/registrar.hpp>
#include <tractor/spawn/backend.hpp>
#include <tractor/transport/transport.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <fmt/core.h>

#include <atomic>
#include <set>
#include <span>

#include <sys/prctl.h>

namespace tractor::runtime {

/// The composed policies, erased: how to spawn, listen, connect and frame, which functions
/// exist.
struct policies {
  std::string_view spawn_name;
  result<std::unique_ptr<spawn::child_handle>> (*spawn)(const boost::asio::any_io_executor&,
                                                        const spawn::spawn_request&);
  /// The child runtime for this tree, for backends that run it in a fork or a thread.
  spawn::child_entry child_entry;
  /// The backend takes a socket already connected to the parent (`spawn::adopts_channel`).
  bool spawn_adopts_channel;
  /// The backend can start a child ahead of its spawn (`spawn::starts_ahead`).
  bool spawn_starts_ahead;
  std::string_view transport_name;
  result<transport::listener> (*listen)(const boost::asio::any_io_executor&,
                                        const transport::multiaddr&);
  awaitable<result<transport::stream_socket>> (*connect)(const boost::asio::any_io_executor&,
                                                         const transport::multiaddr&);
  transport::multiaddr (*bind_addr)(std::string_view);
  std::unique_ptr<transport::channel> (*make_channel)(transport::stream_socket,
                                                      transport::channel_options);
  std::span<const exposed_fn> functions;
  std::span<const error_type> error_types;
  /// Where a tree's registrar is by default (tractor's 127.0.0.1:1616, registry@1616).
  transport::multiaddr (*default_registry)();
  bool (*accepts)(const transport::multiaddr&);
};

/// Timeouts of the runtime (tractor's defaults, DESIGN §7).
struct timeouts {
  clock::duration handshake = std::chrono::seconds(10);
  clock::duration cancel_ack = std::chrono::milliseconds(500);
  clock::duration before_kill = std::chrono::milliseconds(1600);
  clock::duration boot = std::chrono::seconds(30);
  /// How long a context's caller waits for the callee to end after cancelling it.
  clock::duration context_cancel = std::chrono::milliseconds(616);
  /// How long a context block's normal exit waits for the callee's result (R27).
  clock::duration context_result = std::chrono::seconds(30);
  /// How long a thread actor (`spawn::thread`) asked to stop at the end of the kill ladder
  /// may take before it is abandoned (tractor's hard-kill timeout for in-process actors).
  clock::duration thread_abandon = std::chrono::seconds(3);
};

class actor {
 public:
  actor(boost::asio::any_io_executor ex, msg::Aid self, const policies& pol)
      : ex_(std::move(ex)), self_(std::move(self)), pol_(pol) {}

  [[nodiscard]] const msg::Aid& aid() const noexcept { return self_; }
  [[nodiscard]] const policies& pol() const noexcept { return pol_; }
  [[nodiscard]] const boost::asio::any_io_executor& executor() const noexcept { return ex_; }
  [[nodiscard]] const transport::multiaddr& address() const { return listener_->address(); }
  timeouts limits;

  /// Where this actor registers: its tree's registrar (empty: nowhere).
  std::vector<transport::multiaddr> registry_addrs;
  /// The table, in the actor that is its tree's registrar (see `become_registrar`).
  std::optional<registrar> registry;
  /// Makes this actor the registrar: it keeps the table, says so in its handshakes, and
  /// registers itself. Call after `bind`.
  void become_registrar() {
    registry.emplace();
    self_.is_registrar = true;
    registry->add(uid_of(self_), {address().str()}, nullptr);
    registry_addrs = {address()};
  }
  /// Channels this actor opened to other actors' addresses (lookups, `connect_to`), reused
  /// while they last.
  std::map<std::string, std::shared_ptr<peer>> peers_by_addr;

  /// Stops accepting connections (the address is given up); established channels go on.
  void close_server() {
    serving_ = false;
    if (listener_) listener_->close();
  }

  /// Set for an actor sharing its process with its parent (the `thread` backend).
  bool in_process = false;

  /// Namespaces callable here; empty means every exposed function (the root's default).
  std::set<std::string> enabled_ns;

  /// Binds the IPC server, at `at` if given, else at the transport's address for this actor.
  result<void> bind(const transport::multiaddr* at = nullptr);

  /// Takes `server`, bound ahead (a spare's, at `spare_address`), as this actor's server.
  void adopt_server(transport::listener server) { listener_.emplace(std::move(server)); }

  /// A child started ahead of the next spawn (`spawn::starts_ahead` backends, under UDS):
  /// its handle, our end of its channel, and the uuid it was given (its server's address is
  /// made from it). Made after a spawn, taken by the next one once ready, let go with
  /// `release_spare` when this actor's lifetime ends.
  struct spare_child {
    std::unique_ptr<spawn::child_handle> proc;
    std::shared_ptr<runtime::peer> link;
    std::string uuid;
    std::string address;  // its `spare_address`, printed (kept: a spawn need not work it out)
  };
  std::optional<spare_child> spare;

  /// Lets the spare go: its channel is closed, which ends it, and it is waited for (its
  /// handle's destructor, bounded as for any thread actor).
  void release_spare() {
    if (!spare) return;
    spare->link->channel().close();
    spare.reset();
  }

  /// Accepts peers until cancelled; each is handshaken in its own task in `n`, then either
  /// handed to the spawn waiting for it or served.
  awaitable<void> accept_loop(nursery& n);

  /// Serves `p` (its `Start`s run as tasks in `n`) until it goes away; returns why.
  awaitable<error> serve_peer(std::shared_ptr<peer> p, nursery& n);

  /// Waits for the child `uuid` to connect back; the peer it connected with, or nothing if
  /// `give_up` fires first. Cancellation: interrupted at once.
  struct expected_child {
    event connected;
    std::shared_ptr<runtime::peer> link;
  };
  void expect_child(const std::string& uuid, expected_child& slot) { expected_[uuid] = &slot; }
  void forget_child(const std::string& uuid) { expected_.erase(uuid); }

  /// How many tasks this actor runs for remote callers right now (calls and contexts).
  [[nodiscard]] std::size_t running_tasks() const noexcept { return running_.size(); }

  /// Set when a peer asked this actor to cancel itself (`self.cancel`): who and which cid.
  std::optional<std::pair<std::shared_ptr<peer>, std::string>> cancel_requested_by;
  /// The uid of that peer's actor: the canceller its running tasks report (R31).
  std::optional<msg::uid> cancel_requester;
  /// The nursery whose cancellation ends this actor.
  nursery* lifetime = nullptr;

  /// Once this actor's lifetime has ended: acknowledges a peer's `self.cancel`, if that is
  /// what ended it (tractor's CancelAck after teardown).
  awaitable<void> acknowledge_cancel() {
    if (!cancel_requested_by) co_return;
    // (No structured binding here: g++ 12 mishandles them across a co_await.)
    std::shared_ptr<peer> by = cancel_requested_by->first;
    msg::msg ack = msg::CancelAck{cancel_requested_by->second, true};
    auto sent = co_await by->send(std::move(ack));
    (void)sent;
  }

  /// A peer over `s`, not yet handshaken (with this actor's handshake timeout).
  std::shared_ptr<peer> make_peer(transport::stream_socket s) const {
    transport::channel_options o;
    o.handshake_timeout = limits.handshake;
    return std::make_shared<peer>(pol_.make_channel(std::move(s), o), self_, pol_.error_types);
  }

 private:
  /// Where this actor binds unless told otherwise.
  transport::multiaddr own_address() const;
  awaitable<void> handshake_and_route(transport::stream_socket s, nursery& n);
  awaitable<void> handle_start(std::shared_ptr<peer> p, msg::Start s);
  /// `self.*` requests: cancel this actor, cancel one task, the registrar's requests.
  awaitable<void> handle_runtime_request(std::shared_ptr<peer> p, msg::Start s);
  /// The registrar's requests (`self.register_actor`, ...); refused unless this actor is one.
  awaitable<void> answer_registry(std::shared_ptr<peer> p, msg::Start s);
  awaitable<void> reply(peer& p, msg::msg m);

  /// Answers `self.cancel_task`: cancels the running task `target` (of any peer); true if
  /// there was one.
  bool cancel_task(const std::string& target, const msg::uid& requester);

  /// The tasks running for remote callers, by cid, so that they can be cancelled.
  struct running_task {
    task_handle task;
    std::optional<msg::uid> cancelled_by;
  };
  /// Starts the task answering `s` in `n`, registered for `cancel_task`.
  void start_task(std::shared_ptr<peer> p, msg::Start s, nursery& n);
  std::map<std::string, running_task> running_;

  boost::asio::any_io_executor ex_;
  msg::Aid self_;
  const policies& pol_;
  std::optional<transport::listener> listener_;
  bool serving_ = true;
  std::map<std::string, expected_child*> expected_;
};

/// The actor running on this thread, if any (set for the root's and each child's lifetime),
/// so code running inside an actor can open nurseries of its own.
inline actor*& current_actor() {
  static thread_local actor* current = nullptr;
  return current;
}

/// Makes `a` the current actor until destroyed.
struct current_actor_scope {
  explicit current_actor_scope(actor& a) : previous(current_actor()) { current_actor() = &a; }
  ~current_actor_scope() { current_actor() = previous; }
  current_actor_scope(const current_actor_scope&) = delete;
  current_actor_scope& operator=(const current_actor_scope&) = delete;
  actor* previous;
};

/// This process's claim to run the root actor: one root per process (tractor raises
/// `RuntimeFailure` for a second `open_root_actor()`). Released when destroyed.
class root_claim {
 public:
  root_claim(root_claim&& other) noexcept : held_(std::exchange(other.held_, false)) {}
  root_claim& operator=(root_claim&&) = delete;
  ~root_claim() {
    if (held_) running().store(false);
  }

  /// Claims the root, or fails at once with `runtime_failure`: when this thread already runs
  /// an actor (inside a root's body, a child's exposed function, a thread actor), or another
  /// root runs in this process.
  static result<root_claim> acquire();

 private:
  root_claim() = default;
  static std::atomic<bool>& running() {
    static std::atomic<bool> flag{false};
    return flag;
  }
  bool held_ = true;
};

inline result<root_claim> root_claim::acquire() {
  if (actor* a = current_actor()) {
    return error(make_error_code(runtime_errc::runtime_failure),
                 "a root actor cannot start inside actor '" + a->aid().name +
                     "': one root per process, and this code already runs in an actor");
  }
  if (running().exchange(true)) {
    return error(make_error_code(runtime_errc::runtime_failure),
                 "a root actor already runs in this process (one root per process)");
  }
  return root_claim();
}

/// A child actor's runtime, on a fresh io_context in the calling thread: bind, reach the
/// parent (over `boot.channel_fd`, or connecting back to `boot.parent_addr`), handshake,
/// register, receive SpawnSpec, serve the parent until it cancels us or goes away. Returns
/// the exit code. Every backend ends up here.
int run_child(const policies& pol, const spawn::child_boot& boot);

/// The entry of a process started by the `exec` backend: dies with its parent (a parent-death
/// signal), then `run_child` with the boot from its environment. Returns the exit code.
int child_main(const policies& pol);

/// Where a thread actor started ahead of its spawn (a spare) binds, and stays once taken:
/// it has no name yet, so the address is made from the uuid its parent gave it (the first 8
/// hex digits of the actor's uuid, as in the address of one started at its spawn).
transport::multiaddr spare_address(const policies& pol, std::string_view uuid);

/// True when this process was started as a child actor by the `exec` backend.
inline bool is_child_process() { return std::getenv(spawn::child_env::uuid) != nullptr; }

// -- definitions -------------------------------------------------------------------------

inline transport::multiaddr spare_address(const policies& pol, std::string_view uuid) {
  return pol.bind_addr("thread." + std::string(uuid.substr(0, 8)));
}

inline transport::multiaddr actor::own_address() const {
  // Thread actors share the process (and its pid) with their parent and siblings.
  return pol_.bind_addr(in_process ? self_.name + "." + self_.uuid.substr(0, 8) : self_.name);
}

inline result<void> actor::bind(const transport::multiaddr* at) {
  BOOST_OUTCOME_TRY(auto l, pol_.listen(ex_, at ? *at : own_address()));
  listener_.emplace(std::move(l));
  return success();
}

inline awaitable<void> actor::accept_loop(nursery& n) {
  for (;;) {
    auto s = co_await listener_->accept();
    if (!serving_) co_return;
    if (!s) continue;  // a failed accept (peer reset before we got it) harms nobody else
    n.start_soon(handshake_and_route(std::move(s).value(), n));
  }
}

inline awaitable<void> actor::handshake_and_route(transport::stream_socket s, nursery& n) {
  auto p = make_peer(std::move(s));
  auto hs = co_await p->channel().handshake(self_);
  if (!hs) co_return;  // dropped with its own clear error; the server keeps serving
  if (hs.value().is_probe) co_return;
  if (auto it = expected_.find(hs.value().uuid); it != expected_.end()) {
    it->second->link = p;
    it->second->connected.set();
    co_return;  // the spawner serves it from here
  }
  (void)co_await serve_peer(std::move(p), n);
}

inline awaitable<error> actor::serve_peer(std::shared_ptr<peer> p, nursery& n) {
  // Whatever registered over this channel is gone with it, however serving ends.
  struct forget_registrations {
    std::optional<registrar>& registry;
    const void* via;
    ~forget_registrations() {
      if (registry) registry->remove_via(via);
    }
  } on_exit{registry, p.get()};
  // A named local, not a temporary in the co_await operand: g++ 12 destroys such temporaries
  // twice (here: the captured shared_ptr).
  std::function<void(msg::Start)> on_start = [this, p, &n](msg::Start s) {
    start_task(p, std::move(s), n);
  };
  // While served, the peer's sends are queued and written by a writer task: a call's
  // StartAck and Return (or a stream's items) then leave in one write.
  std::optional<error> why;
  auto served = co_await open_nursery([&](nursery& io) -> awaitable<void> {
    io.start_soon(p->channel().run_writer());
    why = co_await p->serve(std::move(on_start));
    io.cancel();
  });
  (void)served;
  co_return why ? *why : error(make_error_code(errc::cancelled));
}

inline awaitable<void> actor::reply(peer& p, msg::msg m) {
  (void)co_await p.send(std::move(m));  // a peer gone meanwhile is its serve loop's business
}

inline void actor::start_task(std::shared_ptr<peer> p, msg::Start s, nursery& n) {
  // (`self.wait_for_actor` may wait long: registered below, so its caller can cancel it.)
  if (s.ns == "self" && s.func != "wait_for_actor") {
    n.start_soon(handle_runtime_request(std::move(p), std::move(s)));
    return;
  }
  auto [entry, fresh] = running_.try_emplace(s.cid);
  if (!fresh) {
    // A peer reusing the cid of a task still running here: refused, the running task kept.
    const error dup(make_error_code(runtime_errc::protocol_error),
                    "a task with cid " + s.cid + " is already running in " + describe(uid_of(self_)));
    n.start_soon([this, p, e = msg::msg(box_error(dup, self_, s.cid))]() -> awaitable<void> {
      co_await reply(*p, e);
    });
    return;
  }
  if (s.ns == "self") {
    n.start_soon(answer_registry(std::move(p), std::move(s)), &entry->second.task);
    return;
  }
  n.start_soon(handle_start(std::move(p), std::move(s)), &entry->second.task);
}

inline awaitable<void> actor::handle_runtime_request(std::shared_ptr<peer> p, msg::Start s) {
  if (s.func != "cancel" && s.func != "cancel_task") {
    co_await answer_registry(std::move(p), std::move(s));
    co_return;
  }
  msg::msg ack = msg::StartAck{s.cid, "asyncfunc"};
  co_await reply(*p, std::move(ack));
  if (s.func == "cancel") {
    cancel_requested_by = {p, s.cid};
    cancel_requester = s.uid;
    if (lifetime) lifetime->cancel();
    co_return;
  }
  bool cancelled = false;
  if (s.func == "cancel_task") {
    auto target = p->channel().decode_text(s.kwargs);
    cancelled = target && cancel_task(target.value(), s.uid);
  }
  msg::msg done = msg::CancelAck{s.cid, cancelled};
  co_await reply(*p, std::move(done));
}

inline awaitable<void> actor::handle_start(std::shared_ptr<peer> p, msg::Start s) {
  const std::string cid = s.cid;
  // Registered by `start_task`; forgotten when this task ends, however it ends.
  struct unregister {
    std::map<std::string, running_task>& running;
    const std::string& cid;
    ~unregister() { running.erase(cid); }
  } on_exit{running_, cid};

  const exposed_fn* found = nullptr;
  for (const auto& f : pol_.functions) {
    if (f.name.ns == s.ns && f.name.func == s.func) found = &f;
  }
  std::optional<error> refused;
  if (!found) {
    refused = error(make_error_code(runtime_errc::unknown_function),
                    "no exposed function " + s.ns + "." + s.func + " in " + describe(uid_of(self_)));
  } else if (!enabled_ns.empty() && !enabled_ns.contains(s.ns)) {
    refused = error(make_error_code(runtime_errc::module_not_exposed),
                    "namespace '" + s.ns + "' is not enabled in " + describe(uid_of(self_)));
  }
  if (refused) {
    msg::msg e = box_error(*refused, self_, cid);
    co_await reply(*p, std::move(e));
    co_return;
  }
  // A context's mailbox opens before this task first waits, so no item the caller sends
  // after its Start can miss it (the receive loop dispatches the next message only then).
  std::optional<context_core> ctx;
  struct close_box {
    peer& p;
    const std::string& cid;
    bool open;
    ~close_box() {
      if (open) p.close_mailbox(cid);
    }
  } on_exit_box{*p, cid, found->is_context};
  if (found->is_context) {
    ctx.emplace(*p, p->open_mailbox(cid), self_, cid, context_core::side::callee);
    ctx->cancel_self = [this, cid] { (void)cancel_task(cid, uid_of(self_)); };
  }
  msg::msg ack = msg::StartAck{cid, found->is_context ? "context" : "asyncfunc"};
  (void)co_await p->post(std::move(ack));  // leaves with the answer when that comes at once
  // The actor boundary: user exceptions become boxed errors for the caller. A cancellation
  // is this task's own (`self.cancel_task`, or the context cancelling itself), or this
  // actor's at a peer's request (both answered with an error naming the canceller, R31),
  // or the actor's teardown for another reason (passed through).
  result<msg::raw_pld> r = error();
  std::optional<msg::uid> cancelled_by;
  try {
    r = co_await found->invoke(s.kwargs, ctx ? &*ctx : nullptr);
  } catch (...) {
    if (!is_cancellation(std::current_exception())) {
      r = error::from_exception(std::current_exception());
    } else if (cancelled_by = running_.at(cid).cancelled_by; !cancelled_by && !cancel_requester) {
      throw;
    } else {
      if (!cancelled_by) cancelled_by = cancel_requester;
      const bool itself = *cancelled_by == uid_of(self_);
      r = error::cancelled_by(make_error_code(runtime_errc::context_cancelled),
                              "task " + s.ns + "." + s.func + " in " + describe(uid_of(self_)) +
                                  (itself ? " cancelled itself" : " cancelled by " + describe(*cancelled_by)),
                              describe_exactly(*cancelled_by));
    }
  }
  if (ctx) {
    // A misuse the function ignored still reaches the caller (R26); an open stream is closed
    // before the result, so the caller's receive ends first.
    if (r && ctx->misuse()) r = *ctx->misuse();
    ctx->close_stream();
  }
  msg::msg out = r ? msg::msg(msg::Return{cid, std::move(r).value()})
                   : msg::msg(box_error(r.error(), self_, cid));
  // The answer goes out even if this task is being cancelled (an error raised during
  // cancellation must reach the caller), so the send is not refused here.
  const bool checked = co_await boost::asio::this_coro::throw_if_cancelled();
  co_await boost::asio::this_coro::throw_if_cancelled(false);
  co_await reply(*p, std::move(out));
  co_await boost::asio::this_coro::throw_if_cancelled(checked);
}

inline bool actor::cancel_task(const std::string& target, const msg::uid& requester) {
  auto it = running_.find(target);
  if (it == running_.end()) return false;  // finished already (or never ran here)
  it->second.cancelled_by = requester;
  it->second.task.cancel();
  return true;
}

/// Waits for SIGINT or SIGTERM, records which, and cancels `n` (the actor's lifetime).
inline awaitable<void> cancel_on_signal(nursery& n, int& which) {
  boost::asio::signal_set signals(co_await boost::asio::this_coro::executor, SIGINT, SIGTERM);
  auto [ec, sig] = co_await signals.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  if (ec) co_return;
  which = sig;
  n.cancel();
}

}  // namespace tractor::runtime

#include <tractor/runtime/impl/registry_requests.hpp>
