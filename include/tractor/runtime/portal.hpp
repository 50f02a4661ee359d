// tractor/runtime/portal.hpp — the typed front end of a tree: actor nurseries, the portals
// they hand out, and one-shot children (tractor's `ActorNursery`, `Portal`).
//
// A portal is typed by an interface (`tractor::interface<&math::add, ...>`), by default the
// tree's whole `exposed<...>` list: calling a function outside it, with arguments that do not
// convert, or with a type the tree's codec cannot encode is a compile error that says which.
#pragma once

#include <tractor/runtime/actor.hpp>
#include <tractor/runtime/context.hpp>
#include <tractor/runtime/detail/call_checks.hpp>
#include <tractor/runtime/spawn_child.hpp>
#include <tractor/runtime/supervise.hpp>

namespace tractor {

/// Per-child options.
struct actor_options {
  /// Namespaces whose exposed functions the child may run (tractor's `enable_modules`), on
  /// top of the functions of the interface it is started with, if any.
  std::vector<std::string> enable_modules = {};
  /// The child's log threshold, inherited by its own children; none: its parent's.
  std::optional<log::level> loglevel = std::nullopt;
  /// Debug mode for the child and its descendants (runtime/debug.hpp); none: its parent's.
  std::optional<bool> debug_mode = std::nullopt;
};

/// A handle to a running actor (a child, or one found or connected to), typed by interface
/// `Api`: every call is checked at compile time against it and the tree.
template <class Tree, class Api = typename Tree::exposed_type>
class portal {
 public:
  using interface_type = Api;

  /// Runs exposed function `F` in the actor with `args` and returns its value, decoded to
  /// `F`'s return type (tractor's `Portal.run()`).
  ///
  /// Cancellation: interrupted at once; the remote task is asked to cancel (tractor's
  /// `_cancel_task`), and its answer is dropped.
  template <auto F, class... Args>
  awaitable<call_result_t<F>> run(Args&&... args);

  /// Opens a context on context function `F` in the actor (tractor's `open_context`): sends
  /// the call, waits for the callee's `started(value)`, runs `body(ctx, value)` with this
  /// side of the context, and when the body ends waits (bounded) for the callee's result.
  /// Returns success, the body's error, or the callee's error (which also cancels the
  /// body). `body` is `task<void>(caller_context<F>&, started_type)`.
  ///
  /// Cancellation: the body is cancelled, the callee's task is asked to cancel (bounded),
  /// then the cancellation goes on.
  template <auto F, class Body, class... Args>
    requires is_context_fn<F> && (!std::is_same_v<std::remove_cvref_t<Body>, stream_options>)
  task<void> open_context(Body body, Args&&... args);

  /// As above, with this side's stream buffering set from the start (tractor's
  /// `open_context(allow_overruns=..., msg_buffer_size=...)`): a callee that streams right
  /// after `started()` may send before the block opens its stream.
  template <auto F, class Body, class... Args>
    requires is_context_fn<F>
  task<void> open_context(stream_options buffering, Body body, Args&&... args);

  /// Asks the actor to cancel itself and waits (bounded by the cancel-ack timeout) for its
  /// acknowledgement; true if it acknowledged (tractor's `Portal.cancel_actor()`).
  ///
  /// Cancellation: interrupted at once.
  awaitable<bool> cancel_actor();

  [[nodiscard]] const msg::Aid& aid() const { return peer_->aid(); }

  /// A portal over an established channel `p` of actor `self` (what spawning, `connect_to`
  /// and the lookups return).
  portal(runtime::actor& self, std::shared_ptr<runtime::peer> p) : self_(&self), peer_(std::move(p)) {}

  /// The same actor through a portal of another interface (checked against the tree only).
  template <class Other>
  [[nodiscard]] portal<Tree, Other> as() const {
    return portal<Tree, Other>(*self_, peer_);
  }

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

/// The scope children live in (tractor's `ActorNursery`): returns only after every child
/// has exited and been reaped. Daemon children (from `start_actor`) keep it open until they
/// are cancelled.
template <class Tree>
class actor_nursery {
 public:
  /// Starts a daemon child and returns its portal once it has connected back and received
  /// its SpawnSpec. With an interface (`start_actor<math_api>("bob")`) the portal is typed by
  /// it and the child enables exactly its functions; without one, the portal may call any
  /// function of the tree and the child enables `options.enable_modules`. A child that dies
  /// or does not connect during boot is `actor_failure`.
  ///
  /// Cancellation: interrupted at once; the half-started child is killed and reaped.
  template <class Api = typename Tree::exposed_type>
  task<portal<Tree, Api>> start_actor(std::string name, actor_options options = {});

  /// Starts a one-shot child that runs `F(args...)` and then exits (tractor's
  /// `run_in_actor`). Its result is taken with `wait_for_result`, or else collected when the
  /// nursery joins: a failure does not interrupt the body or the other children. Once the
  /// body has ended and every one-shot child has finished, if any failed, the remaining
  /// children are cancelled and the nursery returns every error (one bare, several as a
  /// group), whatever the order and timing of the failures.
  ///
  /// Cancellation: as `start_actor`.
  template <auto F, class... Args>
  task<one_shot<Tree, F>> run_in_actor(std::string name, Args&&... args);

  /// Cancels every child (graceful, then SIGTERM, then SIGKILL, each bounded).
  void cancel() { tasks_.cancel(); }

  /// The timeouts this actor uses (handshake, cancel ack, before kill, boot); tractor's
  /// defaults until changed.
  [[nodiscard]] runtime::timeouts& limits() noexcept { return self_.limits(); }

 private:
  template <class T, class B>
  friend task<void> open_actor_nursery(B body);
  actor_nursery(runtime::actor& self, nursery& tasks, runtime::one_shot_join& one_shots)
      : self_(self), tasks_(tasks), one_shots_(one_shots) {}
  runtime::actor& self_;
  nursery& tasks_;
  runtime::one_shot_join& one_shots_;
};

/// Opens an actor nursery in the actor this code runs in (the root, or a child: nested
/// trees), for trees of type `Tree`, and runs `body(actor_nursery<Tree>&)` in it. Errors of
/// the body and of the children's supervision are aggregated as in `open_nursery`; one-shot
/// children's errors are collected when it joins (see `actor_nursery::run_in_actor`).
/// Outside any actor it fails with `actor_failure`.
///
/// Cancellation: cancels every child (ladder as in `actor_nursery::cancel`), then goes on.
template <class Tree, class Body>
task<void> open_actor_nursery(Body body);

/// A portal to the actor listening at `address` (not necessarily a child: a sibling, an
/// actor of another tree), from the actor this code runs in. The connection is handshaken
/// and served by this actor until either side ends; the portal does everything a child's
/// portal does except supervise (the other actor's lifetime is not ours).
///
/// Cancellation: interrupted at once; nothing is left connected.
template <class Tree, class Api = typename Tree::exposed_type>
task<portal<Tree, Api>> connect_to(const transport::multiaddr& address);

}  // namespace tractor

#include <tractor/runtime/impl/portal.hpp>
