// tractor/runtime/tree.hpp — composing a tree, its entry point, portals and actor nurseries.
//
//     namespace math { tractor::awaitable<int> add(int a, int b) { co_return a + b; } }
//     using tree = tractor::tree<tractor::spawn::exec, tractor::transport::uds,
//                                tractor::codec::cereal_binary, tractor::exposed<&math::add>>;
//
//     int main(int argc, char** argv) {
//       return tractor::run_main<tree>(argc, argv, [](tractor::root<tree>& root)
//           -> tractor::awaitable<tractor::result<void>> {
//         co_return co_await root.open_nursery([&](tractor::actor_nursery<tree>& an)
//             -> tractor::awaitable<tractor::result<void>> {
//           const tractor::actor_options opts{.enable_modules = {"math"}};
//           auto worker = co_await an.start_actor("worker", opts);
//           if (!worker) co_return worker.error();
//           auto three = co_await worker.value().run<&math::add>(1, 2);   // result<int>
//           co_await worker.value().cancel_actor();
//           co_return tractor::success();
//         });
//       });
//     }
//
// `run_main` is both ends: in a child started by the `exec` backend (the same binary, re-run)
// it becomes the child's runtime instead of calling the root body.
#pragma once

#include <tractor/runtime/actor.hpp>
#include <tractor/runtime/child.hpp>
#include <tractor/runtime/context.hpp>
#include <tractor/runtime/root_claim.hpp>
#include <tractor/runtime/spawn_child.hpp>
#include <tractor/runtime/supervise.hpp>

namespace tractor {

/// A tree's three policies, its exposed functions and the error types it rebuilds as
/// themselves when they come from another actor (see `tractor::errors`).
template <spawn::backend Spawn, transport::transport Transport, codec::codec Codec, class Exposed,
          class Errors = errors<>>
struct tree {
  using spawn_type = Spawn;
  using transport_type = Transport;
  using codec_type = Codec;
  using exposed_type = Exposed;
  using errors_type = Errors;

  /// The erased table the non-template runtime runs on.
  static const runtime::policies& policies() {
    static constexpr auto functions = Exposed::template table<Codec>();
    static const runtime::policies p{
        Spawn::name,
        &Spawn::start,
        [](const spawn::child_boot& boot) { return runtime::run_child(policies(), boot); },
        spawn::adopts_channel<Spawn>,
        Transport::name,
        &Transport::listen,
        &Transport::connect,
        &Transport::bind_addr,
        [](transport::stream_socket s, transport::channel_options o) {
          return transport::channel::make<Codec>(std::move(s), o);
        },
        functions,
        Errors::table(),
        &Transport::default_registry,
        &Transport::accepts,
    };
    return p;
  }
};

/// Per-child options.
struct actor_options {
  /// Namespaces whose exposed functions the child may run (tractor's `enable_modules`).
  std::vector<std::string> enable_modules = {};
};

/// How a root starts.
struct root_options {
  /// Its name (what other programs find it by).
  std::string name = "root";
  /// Where its tree's registrar is (tractor's `open_root_actor()` registrar election): if a
  /// registrar answers at the first address, the root registers there; if nobody does, the root
  /// becomes the registrar at that address (TCP port 0: at a port the OS chooses). Empty:
  /// TRACTOR_REGISTRY_ADDRS from the environment (comma-separated multiaddrs), else the transport's
  /// default (127.0.0.1:1616, registry@1616 under the UDS name prefix).
  std::vector<transport::multiaddr> registry_addrs = {};
};

/// A handle to a running child actor.
template <class Tree>
class portal {
 public:
  /// Runs exposed function `F` in the child with `args` and returns its value. Checked at
  /// compile time against `F`'s signature; the value is decoded to `F`'s return type.
  ///
  /// Cancellation: interrupted at once (the remote call finishes on its own).
  template <auto F, class... Args>
    requires std::is_invocable_v<decltype(F), Args...>
  awaitable<call_result_t<F>> run(Args&&... args);

  /// Opens a context on context function `F` in the child (tractor's `open_context`): sends
  /// the call, waits for the child's `started(value)`, runs `body(ctx, value)` with this
  /// side of the context, and when the body ends waits (bounded) for the child's result.
  /// Returns success, the body's error, or the child's error (which also cancels the
  /// body). `body` is `awaitable<result<void>>(caller_context<F>&, started_type)`.
  ///
  /// Cancellation: the body is cancelled, the child's task is asked to cancel (bounded),
  /// then the cancellation goes on.
  template <auto F, class Body, class... Args>
    requires is_context_fn<F> && (!std::is_same_v<std::remove_cvref_t<Body>, stream_options>)
  awaitable<result<void>> open_context(Body body, Args&&... args);

  /// As above, with this side's stream buffering set from the start (tractor's
  /// `open_context(allow_overruns=..., msg_buffer_size=...)`): a callee that streams right
  /// after `started()` may send before the block opens its stream.
  template <auto F, class Body, class... Args>
    requires is_context_fn<F>
  awaitable<result<void>> open_context(stream_options buffering, Body body, Args&&... args);

  /// Asks the child to cancel itself and waits (bounded by the cancel-ack timeout) for its
  /// acknowledgement; true if it acknowledged.
  ///
  /// Cancellation: interrupted at once.
  awaitable<bool> cancel_actor();

  [[nodiscard]] const msg::Aid& aid() const { return peer_->aid(); }

  /// A portal over an established channel `p` of actor `self` (what spawning, `connect_to`
  /// and the lookups return).
  portal(runtime::actor& self, std::shared_ptr<runtime::peer> p) : self_(&self), peer_(std::move(p)) {}

 private:
  runtime::actor* self_;
  std::shared_ptr<runtime::peer> peer_;
};

/// A one-shot child's pending result (from `actor_nursery::run_in_actor`).
template <class Tree, auto F>
class one_shot {
 public:
  /// Waits for the function's result (tractor's `Portal.wait_for_result()`). A result taken
  /// here is the caller's: if it is an error, the nursery does not report it again when it
  /// joins (return it from the body to fail the nursery with it).
  ///
  /// Cancellation: interrupted at once; the child is still supervised (and reaped) by its
  /// nursery, and its result is still collected when the nursery joins.
  awaitable<call_result_t<F>> wait_for_result();

  [[nodiscard]] const portal<Tree>& actor_portal() const noexcept { return portal_; }

 private:
  template <class>
  friend class actor_nursery;
  one_shot(portal<Tree> p, std::shared_ptr<runtime::one_shot_state> s)
      : portal_(std::move(p)), state_(std::move(s)) {}
  portal<Tree> portal_;
  std::shared_ptr<runtime::one_shot_state> state_;
};

/// The scope children live in: returns only after every child process has exited and been
/// reaped. Daemon children (from `start_actor`) keep it open until they are cancelled.
template <class Tree>
class actor_nursery {
 public:
  /// Starts a daemon child and returns its portal once it has connected back and received
  /// its SpawnSpec. A child that dies or does not connect during boot is `actor_failure`.
  ///
  /// Cancellation: interrupted at once; the half-started child is killed and reaped.
  awaitable<result<portal<Tree>>> start_actor(std::string name, actor_options options = {});

  /// Starts a one-shot child that runs `F(args...)` and then exits (tractor's
  /// `run_in_actor`). Its result is taken with `wait_for_result`, or else collected when the
  /// nursery joins: a failure does not interrupt the body or the other children. Once the
  /// body has ended and every one-shot child has finished, if any failed, the remaining
  /// children are cancelled and the nursery returns every error (one bare, several as a
  /// group), whatever the order and timing of the failures.
  ///
  /// Cancellation: as `start_actor`.
  template <auto F, class... Args>
    requires std::is_invocable_v<decltype(F), Args...>
  awaitable<result<one_shot<Tree, F>>> run_in_actor(std::string name, Args&&... args);

  /// Cancels every child (graceful, then SIGTERM, then SIGKILL, each bounded).
  void cancel() { tasks_.cancel(); }

  /// The timeouts this actor uses (handshake, cancel ack, before kill, boot); tractor's
  /// defaults until changed.
  [[nodiscard]] runtime::timeouts& limits() noexcept { return self_.limits; }

 private:
  template <class T, class B>
  friend awaitable<result<void>> open_actor_nursery(B body);
  actor_nursery(runtime::actor& self, nursery& tasks, runtime::one_shot_join& one_shots)
      : self_(self), tasks_(tasks), one_shots_(one_shots) {}
  runtime::actor& self_;
  nursery& tasks_;
  runtime::one_shot_join& one_shots_;
};

/// The root actor, handed to the body of `run_main`.
template <class Tree>
class root {
 public:
  /// Opens an actor nursery; see `actor_nursery`. Errors of the body and of the children's
  /// supervision are aggregated as in `open_nursery`; one-shot children's errors are
  /// collected when it joins (see `actor_nursery::run_in_actor`).
  ///
  /// Cancellation: cancels every child (ladder as in `actor_nursery::cancel`), then rethrows.
  template <class Body>
  awaitable<result<void>> open_nursery(Body body);

  [[nodiscard]] runtime::actor& actor() noexcept { return self_; }

 private:
  template <class T, class B>
  friend int run_main(int, char**, root_options, B);
  explicit root(runtime::actor& a) : self_(a) {}
  runtime::actor& self_;
};

/// Opens an actor nursery in the actor this code runs in (the root, or a child: nested
/// trees), for trees of type `Tree`. Outside any actor it fails with `actor_failure`.
///
/// Cancellation: as `root::open_nursery`.
template <class Tree, class Body>
awaitable<result<void>> open_actor_nursery(Body body);

/// A portal to the actor listening at `address` (not necessarily a child: a sibling, an
/// actor of another tree), from the actor this code runs in. The connection is handshaken
/// and served by this actor until either side ends; the portal does everything a child's
/// portal does except supervise (the other actor's lifetime is not ours).
///
/// Cancellation: interrupted at once; nothing is left connected.
template <class Tree>
awaitable<result<portal<Tree>>> connect_to(const transport::multiaddr& address);

/// Runs `body(root&)` as the root actor, or — in a process started as a child — the child
/// runtime. Returns the process exit code (non-zero if the body failed).
///
/// One root per process (tractor's `RuntimeFailure`): called where a root already runs — in
/// a root's body, in a child's exposed function, in a thread actor, or beside a root running
/// on another thread — it returns 1 at once, with the `runtime_failure` on stderr, and
/// touches nothing of the running one.
template <class Tree, class Body>
int run_main(int argc, char** argv, Body body);

/// The same, with the root's name and registry addresses.
template <class Tree, class Body>
int run_main(int argc, char** argv, root_options options, Body body);

}  // namespace tractor

#include <tractor/runtime/impl/tree.hpp>
