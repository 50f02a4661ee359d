// tractor/runtime/actor.hpp — the per-actor runtime: identity, IPC server, peers, RPC
// dispatch, and the child's boot sequence.
//
// Everything here is non-template: the policies a tree was composed from reach it as a small
// table of function pointers (`policies`), built once per tree type.
#pragma once

#include <tractor/config.hpp>

#include <tractor/core/blocking_worker.hpp>
#include <tractor/core/capacity_limiter.hpp>
#include <tractor/core/event.hpp>
#include <tractor/log/log.hpp>
#include <tractor/runtime/context_core.hpp>
#include <tractor/runtime/debug.hpp>
#include <tractor/runtime/detail/logs.hpp>
#include <tractor/runtime/peer.hpp>
#include <tractor/runtime/policies.hpp>
#include <tractor/runtime/registrar.hpp>
#include <tractor/spawn/backend.hpp>

#include <deque>
#include <tractor/transport/transport.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <set>
#include <span>
#include <string_view>
#include <thread>

#include <sys/prctl.h>

namespace tractor::runtime {

/// Timeouts of the runtime (tractor's defaults, DESIGN §7), and its one bound on bursts.
struct timeouts {
  /// How long connecting to another actor may take: the transport's connect and its
  /// authentication. A host that is down, or drops what is sent to it, would otherwise hold the
  /// caller for as long as the kernel retries (minutes, over TCP).
  clock::duration connect = std::chrono::seconds(10);
  clock::duration handshake = std::chrono::seconds(10);
  clock::duration cancel_ack = std::chrono::milliseconds(500);
  /// How long a registrar may take to answer a registration or a lookup (not a
  /// `wait_for_actor`, which waits for as long as it takes): one that has stopped answering
  /// (its program stopped, its host gone) is an error naming it, not a wait without end.
  clock::duration registrar_answer = std::chrono::seconds(10);
  clock::duration before_kill = std::chrono::milliseconds(1600);
  clock::duration boot = std::chrono::seconds(30);
  /// How long a context's caller waits for the callee to end after cancelling it.
  clock::duration context_cancel = std::chrono::milliseconds(616);
  /// How long a context block's normal exit waits for the callee's result (tractor's
  /// `Context.wait_for_result()` at a clean exit).
  clock::duration context_result = std::chrono::seconds(30);
  /// How long a thread actor (`spawn::thread`) asked to stop at the end of the kill ladder
  /// may take before it is abandoned (tractor's hard-kill timeout for in-process actors).
  clock::duration thread_abandon = std::chrono::seconds(3);
  /// How many children an actor boots at once (from its start until its SpawnSpec is sent);
  /// the rest wait their turn. A burst of a thousand `start_actor`s would otherwise start
  /// every child before the loop could answer the first one's handshake, and children would
  /// time out waiting. Zero: twice the CPUs, at least 4.
  std::size_t concurrent_boots = 0;
};

struct child_record;

/// What remote callers may run in an actor: whole namespaces (tractor's `enable_modules`)
/// and single functions (an interface's). Everything until `restrict` (the root's default).
class enablement {
 public:
  /// Nothing is callable but what is enabled from now on (a child, before its SpawnSpec's
  /// list).
  void restrict() noexcept { everything_ = false; }
  /// Enables namespace "math", or the one function "math.add" (a C++ namespace never
  /// contains a '.').
  void enable(std::string_view name) {
    if (const auto dot = name.rfind('.'); dot != std::string_view::npos) {
      functions_[std::string(name.substr(0, dot))].emplace(name.substr(dot + 1));
    } else {
      namespaces_.emplace(name);
    }
  }
  [[nodiscard]] bool allows(const std::string& ns, const std::string& func) const {
    if (everything_ || namespaces_.contains(ns)) return true;
    const auto it = functions_.find(ns);
    return it != functions_.end() && it->second.contains(func);
  }

 private:
  bool everything_ = true;
  std::set<std::string, std::less<>> namespaces_;
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> functions_;
};

/// One actor's runtime: its identity, IPC server and peers, the tasks it runs for remote
/// callers, its registrar (if it is one) and its lifetime. State changes only through the
/// operations below, so that what holds of it can be read from this class alone.
class actor {
 public:
  /// `in_process`: the actor shares its process with its parent (the `thread` backend).
  actor(boost::asio::any_io_executor ex, msg::Aid self, const policies& pol, bool in_process = false)
      : ex_(std::move(ex)),
        self_(std::move(self)),
        pol_(pol),
        in_process_(in_process),
        log_{self_.name, self_.uuid.substr(0, 8), log::process_threshold()} {}

  [[nodiscard]] const msg::Aid& aid() const noexcept { return self_; }
  [[nodiscard]] const policies& pol() const noexcept { return pol_; }
  [[nodiscard]] const boost::asio::any_io_executor& executor() const noexcept { return ex_; }
  /// Where this actor accepts connections (the first address it bound).
  [[nodiscard]] const transport::multiaddr& address() const { return listeners_.front().address(); }
  /// Every address it accepts connections at: one, except for a registrar bound at several
  /// registry addresses.
  [[nodiscard]] std::vector<transport::multiaddr> addresses() const {
    std::vector<transport::multiaddr> out;
    for (const auto& l : listeners_) out.push_back(l.address());
    return out;
  }
  /// Whether it accepts connections at `addr`.
  [[nodiscard]] bool listens_at(const transport::multiaddr& addr) const {
    return std::any_of(listeners_.begin(), listeners_.end(), [&](const auto& l) { return l.address() == addr; });
  }
  /// The timeouts this actor uses; tractor's defaults until a user changes them (through
  /// `actor_nursery::limits()`).
  [[nodiscard]] const timeouts& limits() const noexcept { return limits_; }
  [[nodiscard]] timeouts& limits() noexcept { return limits_; }
  [[nodiscard]] bool in_process() const noexcept { return in_process_; }
  /// The slots of children booting at once (`timeouts::concurrent_boots`), resized to it.
  [[nodiscard]] capacity_limiter& booting() {
    static const std::size_t cpus = std::thread::hardware_concurrency();  // (it reads /sys)
    booting_.set_total(limits_.concurrent_boots ? limits_.concurrent_boots : std::max<std::size_t>(4, 2 * cpus));
    return booting_;
  }
  /// The thread this actor's spawns run on when its backend's `start` blocks
  /// (`spawn::start_blocks`): the event loop goes on meanwhile. Started with the first such
  /// spawn, joined with the actor, after its children (which may die with that thread).
  [[nodiscard]] blocking_worker& spawner() noexcept { return spawner_; }

  /// Who this actor's log lines say wrote them, and its threshold (see tractor/log/log.hpp).
  [[nodiscard]] const log::identity& log_identity() const noexcept { return log_; }
  /// Logs from `l` up from now on; children it spawns inherit it unless told otherwise.
  void log_from(log::level l) noexcept { log_.threshold = l; }

  // -- the registrar ---------------------------------------------------------------------

  /// Where this actor registers: one address of each registrar of its tree (empty: nowhere).
  [[nodiscard]] const std::vector<transport::multiaddr>& registry_addrs() const noexcept { return registry_addrs_; }
  /// Registers with the registrars at `addrs` from now on (a child's SpawnSpec, a root that
  /// found some).
  void use_registrar(std::vector<transport::multiaddr> addrs) { registry_addrs_ = std::move(addrs); }
  /// The table, in the actor that is its tree's registrar; null elsewhere.
  [[nodiscard]] registrar* registry() noexcept { return registry_ ? &*registry_ : nullptr; }
  /// Makes this actor the registrar: it keeps the table, says so in its handshakes, and
  /// registers itself at every address it bound. Call after `bind`. Its tree registers with
  /// it at its first address: one registrar is one entry of `registry_addrs`.
  void become_registrar() {
    registry_.emplace();
    self_.is_registrar = true;
    std::vector<std::string> at;
    for (const auto& l : listeners_) at.push_back(l.address().str());
    (void)registry_->add(uid_of(self_), at, nullptr);  // an empty table refuses nothing
    registry_addrs_ = {address()};
  }

  // -- channels to other actors ------------------------------------------------------------

  /// The channel this actor opened to `addr` (lookups, `connect_to`), if it still has one.
  [[nodiscard]] std::shared_ptr<peer> peer_at(const std::string& addr) const {
    const auto it = peers_by_addr_.find(addr);
    return it != peers_by_addr_.end() && !it->second->gone() ? it->second : nullptr;
  }
  /// The channel this actor opened to an actor named `name`, if it still has one.
  [[nodiscard]] std::shared_ptr<peer> peer_named(std::string_view name) const {
    for (const auto& entry : peers_by_addr_) {
      if (!entry.second->gone() && entry.second->aid().name == name) return entry.second;
    }
    return nullptr;
  }
  /// Keeps `p`, opened to `addr`, for reuse while it lasts.
  void keep_peer(const std::string& addr, std::shared_ptr<peer> p) { peers_by_addr_[addr] = std::move(p); }
  /// Forgets the channel to `addr` if it is still `p`.
  void forget_peer(const std::string& addr, const std::shared_ptr<peer>& p) {
    if (auto it = peers_by_addr_.find(addr); it != peers_by_addr_.end() && it->second == p) peers_by_addr_.erase(it);
  }

  // -- serving ---------------------------------------------------------------------------

  /// Stops accepting connections (the address is given up); established channels go on.
  void close_server() {
    serving_ = false;
    for (auto& l : listeners_) l.close();
  }

  /// Only what `enable_modules` names is callable from now on (a child, at its SpawnSpec):
  /// namespaces ("math") and single functions ("math.add"). The root's default is every
  /// exposed function.
  template <class Names>
  void enable_only(const Names& names) {
    enabled_.restrict();
    for (const auto& name : names) enabled_.enable(name);
  }

  /// Binds the IPC server, at `at` if given, else at the transport's address for this actor;
  /// called again, it listens at one more address (before `accept_loop` starts).
  result<void> bind(const transport::multiaddr* at = nullptr);

  /// The nursery whose cancellation ends this actor (its tasks for remote callers, the
  /// channels it serves); null before the actor runs and after.
  [[nodiscard]] nursery* lifetime() const noexcept { return lifetime_; }
  /// Runs in `n` from now on (see `lifetime`), until `n` ends.
  void live_in(nursery* n) noexcept { lifetime_ = n; }

  /// Accepts peers at every address it bound until cancelled; each is handshaken in its own
  /// task in `n`, then either handed to the spawn waiting for it or served.
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

  /// The actor that spawned this one (a child's, from its handshake); none for a root.
  [[nodiscard]] const std::optional<msg::Aid>& parent() const noexcept { return parent_; }
  void set_parent(msg::Aid p) { parent_ = std::move(p); }

  /// The children this actor runs now, booted and not yet reaped (`child_record` keeps
  /// itself listed while it lives).
  [[nodiscard]] const std::vector<child_record*>& children() const noexcept { return children_; }
  void track_child(child_record* c) { children_.push_back(c); }
  void untrack_child(child_record* c) { std::erase(children_, c); }

  /// Debug mode here (see runtime/debug.hpp): whether it is on, where the root is, and in
  /// the root the tree's terminal lock.
  [[nodiscard]] debug_state& debug() noexcept { return debug_; }
  [[nodiscard]] const debug_state& debug() const noexcept { return debug_; }

  /// Whether this actor dumps its task tree on SIGUSR1 (see runtime/task_dump.hpp); its
  /// children inherit it.
  [[nodiscard]] bool taskdump() const noexcept { return taskdump_; }
  void enable_taskdump() noexcept { taskdump_ = true; }

  /// How many tasks this actor runs for remote callers right now (calls and contexts).
  [[nodiscard]] std::size_t running_tasks() const noexcept { return running_.size(); }

  // -- cancellation ----------------------------------------------------------------------

  /// Ends this actor at the request `s` of `by` (tractor's `Actor.cancel()`); `by` gets its
  /// `CancelAck` from `acknowledge_cancel`.
  void cancel_at_request(std::shared_ptr<peer> by, const msg::Start& s);

  /// Cancels this actor's lifetime; in debug mode, once nobody holds or waits for the
  /// terminal lock (the root keeps serving the lock's channels until then).
  /// `why` heads the log lines ("signal 15").
  void end_lifetime(std::string why);

  /// Cancels the running task `target` (of any peer) on behalf of `requester`, whom it
  /// reports as its canceller (tractor's `Actor._cancel_task()`); true if there was one.
  bool cancel_task(const std::string& target, const msg::uid& requester);

  /// Once this actor's lifetime has ended: acknowledges a peer's `self.cancel`, if that is
  /// what ended it (tractor's CancelAck after teardown).
  ///
  /// Cancellation: interrupted at once; the acknowledgement may then be lost.
  awaitable<void> acknowledge_cancel();

  /// A peer over `s`, not yet handshaken.
  std::shared_ptr<peer> make_peer(transport::connection c) const {
    return std::make_shared<peer>(pol_.make_channel(std::move(c), {}), self_, pol_);
  }

 private:
  /// Where this actor binds unless told otherwise.
  transport::multiaddr own_address() const;
  /// `accept_loop` at one of its addresses.
  awaitable<void> accept_at(transport::listener& l, nursery& n);
  awaitable<void> handshake_and_route(transport::stream_socket s, nursery& n);
  awaitable<void> handle_start(std::shared_ptr<peer> p, msg::Start s);
  /// The row answering `s`: an exposed function enabled here, or a runtime request.
  result<const exposed_fn*> find_function(const msg::Start& s) const;
  awaitable<void> reply(peer& p, msg::msg m);

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
  bool in_process_;
  log::identity log_;
  timeouts limits_;
  capacity_limiter booting_{4};
  blocking_worker spawner_;
  std::vector<transport::multiaddr> registry_addrs_;
  std::optional<registrar> registry_;
  std::map<std::string, std::shared_ptr<peer>> peers_by_addr_;
  /// What is callable here (see `enable_only`).
  enablement enabled_;
  nursery* lifetime_ = nullptr;
  /// Set when a peer asked this actor to cancel itself (`self.cancel`): who and which cid.
  std::optional<std::pair<std::shared_ptr<peer>, std::string>> cancel_requested_by_;
  /// The uid of that peer's actor: the canceller its running tasks report (tractor's
  /// `ContextCancelled.canceller`).
  std::optional<msg::uid> cancel_requester_;
  /// (A deque: `accept_at` holds each by reference.)
  std::deque<transport::listener> listeners_;
  std::optional<msg::Aid> parent_;
  std::vector<child_record*> children_;
  bool taskdump_ = false;
  debug_state debug_;
  bool serving_ = true;
  /// Set while accepts fail for want of descriptors (reported once per spell).
  bool out_of_descriptors_ = false;
  /// How long the accept loop waits for descriptors to come free before it tries again.
  static constexpr clock::duration accept_backoff = std::chrono::milliseconds(10);
  /// Accepted connections still authenticating, oldest first, and whether each has sent
  /// anything yet (see `handshake_and_route`).
  struct authenticating {
    transport::stream_socket* socket;
    bool spoke;
  };
  std::deque<authenticating> authenticating_;
  /// How many of them were closed to make room for a newer one.
  std::size_t evicted_ = 0;
  std::map<std::string, expected_child*> expected_;
};

/// The actor running on this thread, if any (set for the root's and each child's lifetime),
/// so code running inside an actor can open nurseries of its own.
inline actor*& current_actor() {
  static thread_local actor* current = nullptr;
  return current;
}

/// Makes `a` the current actor, and the writer of this thread's log lines, until destroyed.
struct current_actor_scope {
  explicit current_actor_scope(actor& a) : previous(current_actor()), logs_as(a.log_identity()) {
    current_actor() = &a;
  }
  ~current_actor_scope() { current_actor() = previous; }
  current_actor_scope(const current_actor_scope&) = delete;
  current_actor_scope& operator=(const current_actor_scope&) = delete;
  actor* previous;
  log::identity_scope logs_as;
};

/// A child actor's runtime, on a fresh io_context in the calling thread: bind, reach the
/// parent (over `boot.channel_fd`, or connecting back to `boot.parent_addr`), handshake,
/// register, receive SpawnSpec, serve the parent until it cancels us or goes away. Returns
/// the exit code. Every backend ends up here.
int run_child(const policies& pol, const spawn::child_boot& boot);

/// The entry of a process started by the `exec` backend: dies with its parent (a parent-death
/// signal), then `run_child` with the boot from its environment. Returns the exit code.
int child_main(const policies& pol);

/// True when this process was started as a child actor by the `exec` backend.
inline bool is_child_process() { return std::getenv(spawn::child_env::uuid) != nullptr; }

/// Waits for SIGINT or SIGTERM, records which in `which`, and ends `a`'s lifetime
/// (`actor::end_lifetime`). In debug mode SIGINT is the stopped actor's (runtime/debug.hpp):
/// a child leaves it to the root, and the root ignores it while anyone holds or waits for the
/// terminal.
///
/// Cancellation: interrupted at once; `which` is left as it was.
awaitable<void> cancel_on_signal(int& which, actor& a);

}  // namespace tractor::runtime

#if TRACTOR_HEADER_ONLY
#include <tractor/runtime/impl/actor.ipp>
#include <tractor/runtime/impl/debug.ipp>
#include <tractor/runtime/impl/dispatch.ipp>
#include <tractor/runtime/impl/requests.ipp>
#endif
