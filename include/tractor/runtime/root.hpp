// tractor/runtime/root.hpp — the root actor: a program's entry into its tree (tractor's
// `open_root_actor()`), on an event loop of its own (`run_main`) or of the program's
// (`async_run_root`).
//
// The root's body takes the root's actor nursery (the flat form) or the root itself:
//
//     return tractor::run_main<tree>(argc, argv, [](tractor::actor_nursery<tree>& an)
//                                                    -> tractor::task<void> { ... });
//
// Either way the root binds its server, finds or becomes its tree's registrar, runs the
// body, then cancels and reaps every child before it returns.
#pragma once

#include <tractor/config.hpp>

#include <tractor/runtime/election.hpp>
#include <tractor/runtime/portal.hpp>
#include <tractor/runtime/root_claim.hpp>
#include <tractor/runtime/task_dump.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <optional>

#include <sys/resource.h>

namespace tractor {

/// How a root starts.
struct root_options {
  /// Its name (what other programs find it by).
  std::string name = "root";
  /// Where its tree's registrars are (tractor's `open_root_actor()` registrar election): every
  /// address is probed; the root and every actor of its tree register with each registrar that
  /// answers (an address where none answers is then left out, with a warning). If nobody
  /// answers anywhere, the root becomes the registrar, at every address (TCP port 0: at a port
  /// the OS chooses). Empty: TRACTOR_REGISTRY_ADDRS from the environment (comma-separated
  /// multiaddrs), else the transport's default (127.0.0.1:1616, registry@1616 under the UDS
  /// name prefix).
  std::vector<transport::multiaddr> registry_addrs = {};
  /// Whether SIGINT and SIGTERM cancel the tree (every child is reaped before the root ends).
  /// A program that embeds a root (`async_run_root`) and handles signals itself turns this off
  /// and cancels the root through its completion's cancellation slot instead.
  bool cancel_on_signals = true;
  /// The root's log threshold, inherited by its children (tractor's `loglevel=`);
  /// `TRACTOR_LOGLEVEL`, when set, overrides it. Neither: warning.
  std::optional<log::level> loglevel = std::nullopt;
  /// Dump the task tree of the whole tree on SIGUSR1 (see runtime/task_dump.hpp), in every
  /// actor under every backend; `TRACTOR_ENABLE_TASKDUMP=1` turns it on too.
  bool enable_taskdump = false;
  /// Stop an actor whose RPC task fails, with the terminal, before relaying the error (see
  /// runtime/debug.hpp), in every actor of the tree; `TRACTOR_DEBUG_MODE=1` turns it on too.
  bool debug_mode = false;
};

/// The root actor, handed to a body that takes it (`run_main`, `async_run_root`).
template <class Tree>
class root {
 public:
  /// Opens an actor nursery in the root; see `open_actor_nursery`.
  ///
  /// Cancellation: cancels every child (ladder as in `actor_nursery::cancel`), then goes on.
  template <class Body>
  task<void> open_nursery(Body body) {
    return open_actor_nursery<Tree>(std::move(body));
  }

  [[nodiscard]] runtime::actor& actor() noexcept { return self_; }

  explicit root(runtime::actor& a) : self_(a) {}

 private:
  runtime::actor& self_;
};

/// Runs `body` as the root actor, or — in a process started as a child by the `exec`
/// backend (the same binary, re-run) — the child runtime. `body` is
/// `task<void>(actor_nursery<Tree>&)` (run in the root's actor nursery) or
/// `task<void>(root<Tree>&)`. Returns the process exit code: 0, 1 if the root could not start
/// or the body failed (the error on stderr), 128 + the signal that cancelled the tree.
///
/// One root per process (tractor's `RuntimeFailure`): called where a root already runs — in
/// a root's body, in a child's exposed function, in a thread actor, or beside a root running
/// on another thread — it returns 1 at once, with the `runtime_failure` on stderr, and
/// touches nothing of the running one.
template <class Tree, class Body>
int run_main(int argc, char** argv, Body body);

/// The same, with the root's name, registry addresses and signal handling.
template <class Tree, class Body>
int run_main(int argc, char** argv, root_options options, Body body);

/// Runs `body` (as for `run_main`) as a root on executor `ex`, in a program that already
/// owns its event loop (a server adding actors to itself). The guarantees are run_main's:
/// one root per process, every child reaped before completion, every error in the result.
/// Completes with `void(result<void>)`: the body's and the tree's errors,
/// `runtime_failure` if a root already runs, or `errc::cancelled` naming the signal that
/// cancelled the tree.
///
/// A program using the `exec` backend must hand a re-run of itself to the child runtime
/// first thing in `main` (`run_if_child`); a program using the forkserver should start its
/// server there (`spawn::forkserver::start_server`), before it grows.
///
/// Cancellation: through the completion's cancellation slot (or, as a coroutine, its
/// parent's): every child is cancelled and reaped, then the operation completes with the
/// cancellation.
template <class Tree, class Body, class CompletionToken>
auto async_run_root(boost::asio::any_io_executor ex, root_options options, Body body,
                    CompletionToken&& token);

/// In a process the `exec` backend started as a child of a tree of type `Tree`: runs the
/// child runtime and returns its exit code (return it from `main`); elsewhere nothing. Only
/// programs that do not call `run_main` need it.
template <class Tree>
std::optional<int> run_if_child();

namespace runtime {

/// A root body with its tree's types erased: it gets the root's actor.
using root_body = std::function<task<void>(actor&)>;

/// How a root ended besides its result: the signal that cancelled the tree, if any, and
/// whether it started at all.
struct root_exit {
  int interrupted_by = 0;
  bool booted = false;
};

/// The descriptors a root's table is grown to as it starts (`spawn::reserve_descriptor_table`):
/// what a thousand children need (a thread actor holds eight in its parent's process, a forked
/// or exec'd child two or three).
inline constexpr rlim_t root_descriptor_reserve = 8192;

/// The root, non-template: binds, elects or finds the registrar, serves, runs `body`,
/// cancels and reaps every child, unregisters. Every tree's `run_main` and `async_run_root`
/// runs this, holding the process's `root_claim`.
///
/// Cancellation: every child is cancelled and reaped, then the cancellation goes on.
task<void> run_root(const policies& pol, root_options options, root_body body, root_exit& exit);

/// `run_main`'s root, on an event loop of its own, once the program is known to be a root and
/// its backend's session is held: what `run_main` returns.
int run_root_main(const policies& pol, root_options options, root_body body);

}  // namespace runtime

}  // namespace tractor

#include <tractor/runtime/impl/root.hpp>
#if TRACTOR_HEADER_ONLY
#include <tractor/runtime/impl/root.ipp>
#endif
