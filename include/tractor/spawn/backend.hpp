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

#include <tractor/core/cancel_scope.hpp>
#include <tractor/spawn/exec.hpp>

#include <concepts>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <pthread.h>
#include <sched.h>
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

class deferred_boot;

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
  /// The parent has registered the child already, at the address its spare bound (a child
  /// started ahead, taken once ready): the child sends no registration, and `parent_registers`
  /// holds too.
  bool registered = false;
  /// Only prepare this process for a boot to come (a forkserver spare does this ahead of its
  /// request): do what costs a boot more the first time in a process (the transport's
  /// first address; a first handshake, its codec and buffers), bind nothing, start
  /// nothing, leave nothing behind, return 0. Nothing else is set.
  bool rehearse = false;
  /// If set, the child runtime calls it once, as soon as the child has booted (it has its
  /// SpawnSpec; its parent has its portal): the backend's business that can wait until the
  /// spawn is done (a forkserver spare tells its server then that it was taken). Runs in the
  /// child, on its runtime's thread.
  void (*on_booted)() = nullptr;
  /// Set for a child started ahead of its spawn (`spawn_request::ahead`), by its backend:
  /// the entry prepares what needs no identity (its event loop, its server's socket), waits
  /// until `channel_fd` has something to read, then takes the rest of its boot from here.
  /// If it has none then (its channel closed: it was never used), it returns 0.
  std::shared_ptr<deferred_boot> deferred = {};
};

/// The boot of a child started ahead, given once its spawn comes, and where its thread
/// waits for it. Written by the parent before its first message to the child, read by the
/// child once that message is there: the lock is uncontended, and only makes the hand-over
/// visible without relying on the socket.
///
/// Placement: a child waits on the CPU its parent ran on when it was started, and at the
/// hand-over is moved to the one its parent runs on then, if that is another: waking it
/// across cores costs its parent more than the rest of the spawn (on small VMs). It waits
/// and boots as `SCHED_BATCH`, so that being woken by the hand-over does not preempt its
/// parent: the spawn returns first, and the child boots once its parent's CPU is free. Once
/// booted, it takes back its CPUs and its scheduling class, on its own time.
class deferred_boot {
 public:
  /// `cpu`: where the spawning thread runs as the child is started ahead (-1: unknown).
  explicit deferred_boot(int cpu = -1) : cpu_(cpu) {}

  /// The child's side, once prepared (its server bound), before it waits: it can be given
  /// its boot from now on. Says which thread to move, moves it to the spawning thread's CPU
  /// already (where that thread will likely be when it gives the boot: the move then costs
  /// the spawn nothing), and makes it `SCHED_BATCH`.
  void ready() {
    std::lock_guard lock(m_);
    ready_ = true;
    if (::sched_getaffinity(0, sizeof mask_, &mask_) != 0) return;
    tid_ = ::gettid();
    if (cpu_ >= 0 && CPU_ISSET(cpu_, &mask_)) placed_ = place(0, cpu_);
    const sched_param none{};
    batch_ = ::sched_setscheduler(0, SCHED_BATCH, &none) == 0;
  }
  /// Whether `complete` would take a boot now.
  bool is_ready() {
    std::lock_guard lock(m_);
    return ready_ && !boot_;
  }
  /// The parent's side: the child's boot (its descriptors and stop hook stay the ones it was
  /// started with), and what to call its thread. False if it is not ready yet, or was
  /// already given one.
  bool complete(const child_boot& boot, std::string title) {
    std::lock_guard lock(m_);
    if (boot_ || !ready_) return false;
    boot_.emplace(boot);
    title_ = std::move(title);
    const int here = ::sched_getcpu();
    if (here >= 0 && tid_ > 0 && !(placed_ && here == cpu_)) {
      placed_ = place(tid_, here);
      cpu_ = here;
    }
    return true;
  }
  /// The child's side, once its channel has something to read: its boot, if it was given
  /// one; names the calling thread after it.
  std::optional<child_boot> take() {
    std::lock_guard lock(m_);
    if (boot_ && !title_.empty()) ::pthread_setname_np(::pthread_self(), title_.c_str());
    return boot_;
  }
  /// The child's side, once booted: gives its thread back every CPU it had, and the normal
  /// scheduling class.
  void booted() {
    std::lock_guard lock(m_);
    if (placed_) ::sched_setaffinity(0, sizeof mask_, &mask_);
    placed_ = false;
    const sched_param none{};
    if (batch_) ::sched_setscheduler(0, SCHED_OTHER, &none);
    batch_ = false;
  }

 private:
  static bool place(pid_t tid, int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return ::sched_setaffinity(tid, sizeof one, &one) == 0;
  }

  std::mutex m_;
  std::optional<child_boot> boot_;
  int cpu_;  // where the child is placed, or is to be
  std::string title_;
  bool ready_ = false;
  pid_t tid_ = 0;     // the child's thread, once ready
  cpu_set_t mask_{};  // its CPUs then
  bool placed_ = false;
  bool batch_ = false;
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
  /// Start the child ahead of its spawn, for backends that declare `starts_ahead`: `boot`
  /// holds only where its parent is (`parent_addr`, `parent_pid`), its channel
  /// (`channel_fd`) and its uuid (its server's address is made from it); the rest comes with
  /// `child_handle::complete_boot` when a spawn takes it.
  bool ahead = false;
};

/// A spawn backend: a type with a `name` and a static `start`.
template <class B>
concept backend = requires(const boost::asio::any_io_executor& ex, const spawn_request& req) {
  { B::name } -> std::convertible_to<std::string_view>;
  { B::start(ex, req) } -> std::same_as<result<std::unique_ptr<child_handle>>>;
};

/// Whether backend `B` hands the child a socket already connected to its parent
/// (`child_boot::channel_fd`, declared by `static constexpr bool adopts_channel = true`):
/// the child then needs no connect-back, and the parent no accept. `start` must leave the
/// request's descriptor open (the caller closes its copy once `start` has returned).
template <class B>
inline constexpr bool adopts_channel = requires {
  requires B::adopts_channel;
};

/// Whether backend `B` can start a child ahead of its spawn (`spawn_request::ahead`,
/// declared by `static constexpr bool starts_ahead = true`): a spawn that takes such a spare
/// only hands it its boot. Requires `adopts_channel`: the spare waits on its channel.
template <class B>
inline constexpr bool starts_ahead = requires {
  requires B::starts_ahead;
  requires adopts_channel<B>;
};

/// The environment variables an `exec` child finds its `child_boot` in.
namespace child_env {
inline constexpr const char* name = "TRACTOR_CHILD_NAME";
inline constexpr const char* uuid = "TRACTOR_CHILD_UUID";
inline constexpr const char* parent_addr = "TRACTOR_PARENT_ADDR";
inline constexpr const char* parent_pid = "TRACTOR_PARENT_PID";
inline constexpr const char* parent_registers = "TRACTOR_PARENT_REGISTERS";
}  // namespace child_env

/// The `exec` backend: posix_spawn of the running binary with the child's boot in its
/// environment; the child's `run_main` sees it and becomes the child runtime.
struct exec {
  static constexpr std::string_view name = "exec";

  static result<std::unique_ptr<child_handle>> start(const boost::asio::any_io_executor& ex,
                                                     const spawn_request& req) {
    exec_request r;
    r.env = {{child_env::name, req.boot.name},
             {child_env::uuid, req.boot.uuid},
             {child_env::parent_addr, req.boot.parent_addr},
             {child_env::parent_pid, std::to_string(req.boot.parent_pid)},
             {child_env::parent_registers, req.boot.parent_registers ? "1" : "0"}};
    r.argv0 = req.title;
    BOOST_OUTCOME_TRY(auto proc, exec_process(ex, r));
    return std::unique_ptr<child_handle>(std::move(proc));
  }

  /// The boot an `exec` child was started with; nothing in a process not started by `exec`.
  static std::optional<child_boot> boot_from_env() {
    const char* uuid = std::getenv(child_env::uuid);
    if (!uuid) return std::nullopt;
    auto var = [](const char* k) {
      const char* v = std::getenv(k);
      return std::string(v ? v : "");
    };
    child_boot boot{var(child_env::name), uuid, var(child_env::parent_addr),
                    static_cast<pid_t>(std::atoi(var(child_env::parent_pid).c_str()))};
    boot.parent_registers = var(child_env::parent_registers) == "1";
    return boot;
  }
};

static_assert(backend<exec>);

}  // namespace tractor::spawn
