// tractor/spawn/backend.hpp — the spawn-backend policy axis: how a child actor comes to run.
//
// A backend starts one child from a `spawn_request` and returns a `child_handle` the parent
// supervises (wait, poll, terminate, kill). The request carries everything any backend needs:
// the child's identity and its parent's address (`child_boot`), the process title, and the
// child runtime itself as a callable, for backends that do not exec a program (a fork from a
// clean thread runs it in the new process; a thread backend runs it on a new thread). The
// `exec` backend re-runs the binary instead, whose `run_main` reaches the same runtime.
//
//     static_assert(tractor::spawn::backend<tractor::spawn::exec>);
//     auto child = tractor::spawn::exec::start(ex, request);   // result<unique_ptr<child_handle>>
#pragma once

#include <tractor/config.hpp>

#include <tractor/core/cancel_scope.hpp>
#include <tractor/log/log.hpp>
#include <tractor/spawn/exec.hpp>

#include <concepts>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <unistd.h>

namespace tractor::spawn {

/// How another thread asks a thread actor to stop: a thread cannot be signalled, so its
/// runtime installs what stopping means (cancelling its lifetime) once it runs.
class stop_hook {
 public:
  /// Asks for the stop: now if the runtime installed its handler, else as soon as it does.
  void request() {
    std::lock_guard lock(m_);
    requested_ = true;
    if (on_stop_) on_stop_();
  }
  /// Called by the actor's runtime on its own thread; `f` must be callable from any thread.
  void install(std::function<void()> f) {
    std::lock_guard lock(m_);
    on_stop_ = std::move(f);
    if (requested_) on_stop_();
  }
  /// Called by the runtime before the objects `install`'s handler refers to go away.
  void clear() {
    std::lock_guard lock(m_);
    on_stop_ = nullptr;
  }

 private:
  std::mutex m_;
  std::function<void()> on_stop_;
  bool requested_ = false;
};

/// What a child needs to find its parent and know itself.
struct child_boot {
  std::string name;
  std::string uuid;
  std::string parent_addr;  // the parent's multiaddr, printed
  pid_t parent_pid = 0;
  /// Set by the `thread` backend only.
  std::shared_ptr<stop_hook> stop = {};
  /// A stream socket already connected to the parent (its runtime's end of a socketpair is
  /// the other), which the child adopts instead of connecting to `parent_addr`; -1: connect.
  /// Given only to backends that declare `adopts_channel`, which keep it open while the
  /// entry runs and closed once it has ended (the process exits, or the thread backend
  /// closes it), so that the parent sees the channel end when the entry does, whatever the
  /// entry did with it. An entry that uses the channel works on a duplicate.
  int channel_fd = -1;
  /// The parent keeps its tree's registry: the child sends its registration right behind its
  /// handshake, without waiting for the parent's answer (a round trip less at boot).
  bool parent_registers = false;
  /// The child's log threshold; none: the process's default.
  std::optional<log::level> loglevel = {};
  /// The child dumps its task tree on SIGUSR1 (and passes that on).
  bool taskdump = false;
  /// The tree's cookie (transport/auth.hpp), for a transport that authenticates; empty: the
  /// child finds its own. A secret: backends hand it over in memory or through a pipe, never
  /// on the command line or in the environment.
  std::string cookie = {};
  /// A child started ahead of its request (`spawn::prestarted`): a socket it receives its
  /// real boot from (the fields above, and its channel) before it does anything else; -1:
  /// none. Given only to backends that declare `carries_handover`, which give the child a
  /// descriptor of its own for it (the caller closes its copy once `start` has returned);
  /// the child's entry closes it once it has read its boot.
  int handover_fd = -1;
};

/// The child runtime's entry: runs it to its end and returns the exit code. A plain function
/// (no captures), so that it stays valid in a process forked from this program.
using child_entry = int (*)(const child_boot&);

/// One child to start.
struct spawn_request {
  child_boot boot;
  /// What `ps` shows for the child (tractor's `_subactor[name@uuid]`).
  std::string title;
  /// Called in the child by backends that do not exec a program; never called by `exec`.
  child_entry run_child = nullptr;
  /// `thread` backend: how long a child asked to stop by `kill()` may take before it is
  /// abandoned.
  clock::duration abandon_after = std::chrono::seconds(3);
  /// Backends that start a child through a helper (the forkserver): how long `start` waits
  /// for the helper's answer before it fails (the runtime passes its boot timeout).
  clock::duration start_timeout = std::chrono::seconds(30);
};

/// What a backend without per-program setup holds for the program: nothing.
struct no_session {};

namespace detail {
template <class B>
struct session_of {
  using type = no_session;
};
template <class B>
  requires requires { typename B::session; }
struct session_of<B> {
  using type = typename B::session;
};
}  // namespace detail

/// What backend `B` needs set up once per program (`B::session`, optional), as an RAII type
/// default-constructed before the program's first spawn and destroyed after its last:
/// `run_main` holds one for its tree's lifetime. The forkserver starts its server in it.
template <class B>
using session = typename detail::session_of<B>::type;

/// A spawn backend: a type with a `name` and a static `start`, and optionally a `session`
/// (see `spawn::session`) and the capability `adopts_channel`.
template <class B>
concept backend = requires(const boost::asio::any_io_executor& ex, const spawn_request& req) {
  { B::name } -> std::convertible_to<std::string_view>;
  { B::start(ex, req) } -> std::same_as<result<std::unique_ptr<child_handle>>>;
  requires std::default_initializable<session<B>>;
};

/// Whether backend `B` hands the child a socket already connected to its parent
/// (`child_boot::channel_fd`, declared by `static constexpr bool adopts_channel = true`):
/// the child then needs no connect-back, and the parent no accept. `start` must leave the
/// request's descriptor open (the caller closes its copy once `start` has returned).
template <class B>
inline constexpr bool adopts_channel = requires {
  requires B::adopts_channel;
};

/// Whether `B::start` may block its thread for long (an exec, a fork, a round trip to a
/// server): the runtime then calls it on a thread of its own, and the event loop (other
/// children's boots, the registrar's answers, Ctrl-C) goes on meanwhile. True unless `B`
/// declares `static constexpr bool start_blocks = false` (the `thread` backend, whose start
/// only starts a thread). A backend whose start blocks must be callable from any thread.
template <class B>
inline constexpr bool start_blocks = !requires {
  requires !B::start_blocks;
};

/// Whether backend `B` carries `child_boot::handover_fd` to the child (declared by `static
/// constexpr bool carries_handover = true`): what `spawn::prestarted` needs of a backend.
template <class B>
inline constexpr bool carries_handover = requires {
  requires B::carries_handover;
};

/// The environment variables an `exec` child finds its `child_boot` in.
namespace child_env {
inline constexpr const char* name = "TRACTOR_CHILD_NAME";
inline constexpr const char* uuid = "TRACTOR_CHILD_UUID";
inline constexpr const char* parent_addr = "TRACTOR_PARENT_ADDR";
inline constexpr const char* parent_pid = "TRACTOR_PARENT_PID";
inline constexpr const char* parent_registers = "TRACTOR_PARENT_REGISTERS";
inline constexpr const char* loglevel = "TRACTOR_CHILD_LOGLEVEL";
inline constexpr const char* taskdump = "TRACTOR_CHILD_TASKDUMP";
/// The descriptor the child reads its cookie from (a pipe), when it has one.
inline constexpr const char* cookie_fd = "TRACTOR_CHILD_COOKIE_FD";
/// The descriptor of `child_boot::handover_fd`, when the child has one.
inline constexpr const char* handover_fd = "TRACTOR_CHILD_HANDOVER_FD";
}  // namespace child_env

/// The `exec` backend: posix_spawn of the running binary with the child's boot in its
/// environment; the child's `run_main` sees it and becomes the child runtime.
struct exec {
  static constexpr std::string_view name = "exec";
  /// The handover socket is the child's descriptor 3 (a prestarted child has no cookie pipe).
  static constexpr bool carries_handover = true;

  static result<std::unique_ptr<child_handle>> start(const boost::asio::any_io_executor& ex,
                                                     const spawn_request& req);

  /// The boot an `exec` child was started with; nothing in a process not started by `exec`.
  static std::optional<child_boot> boot_from_env();
};

static_assert(backend<exec>);

}  // namespace tractor::spawn

#if TRACTOR_HEADER_ONLY
#include <tractor/spawn/impl/backend.ipp>
#endif
