// tractor/spawn/thread.hpp — the `thread` spawn backend: the child actor runs in this process,
// on its own thread with its own io_context, over the same transport and protocol.
//
// What differs from a process backend (and why):
// - No signals: `terminate()` asks the child's runtime to cancel its lifetime (what SIGTERM
//   does to a process actor); `kill()` asks the same and, if the thread has not ended within
//   the request's `abandon_after` (3 s by default, tractor's hard-kill timeout for its
//   in-process actors), abandons it: the thread is detached and left running, a warning is
//   logged, and the exit status says `abandoned`, which the runtime reports as an error. A
//   thread stuck in blocking code therefore outlives its scope until the process exits.
// - One process: the child shares the parent's pid, memory, descriptors, environment and
//   signal dispositions; a crash (a fault, `abort`) takes the whole process down, and a
//   Ctrl-C reaches every actor of the process at once. Its UDS name carries its uuid.
// - No parent-death signal is needed: the child cannot outlive the process.
#pragma once

#include <tractor/config.hpp>

#include <tractor/core/cancel_scope.hpp>
#include <tractor/log/log.hpp>
#include <tractor/spawn/backend.hpp>

#include <fmt/core.h>

#include <atomic>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>

namespace tractor::spawn {

/// How a thread actor's thread is named: this, then the actor's name.
inline constexpr std::string_view thread_name_prefix = "actor:";

/// A child actor running on a thread of this process.
class thread_actor final : public child_handle {
 public:
  /// Starts `req.run_child(req.boot)` on a new thread.
  static result<std::unique_ptr<thread_actor>> start(const boost::asio::any_io_executor& ex,
                                                     const spawn_request& req);

  /// A thread still running is asked to stop and waited for (bounded by `abandon_after`),
  /// then joined, or abandoned with a warning.
  ~thread_actor() override;

  pid_t pid() const noexcept override { return ::getpid(); }

  /// Waits until the thread has ended; after `kill()`, at most until `abandon_after` has
  /// passed since it, then the thread is abandoned.
  ///
  /// Cancellation: interrupted at once; the thread keeps running.
  awaitable<exit_status> wait() override;
  std::optional<exit_status> poll() override;
  void terminate() noexcept override { stop_->request(); }
  void kill() noexcept override;

 private:
  struct shared {
    std::atomic<bool> done{false};
    std::atomic<int> code{0};
    int efd = -1;  // written once the thread has ended
    ~shared() {
      if (efd >= 0) ::close(efd);
    }
  };
  thread_actor(const boost::asio::any_io_executor& ex, std::shared_ptr<shared> st,
               std::shared_ptr<stop_hook> stop, std::string name, clock::duration abandon_after)
      : st_(std::move(st)), stop_(std::move(stop)), done_(ex, st_->efd),
        name_(std::move(name)), abandon_after_(abandon_after) {}
  void abandon();

  std::shared_ptr<shared> st_;
  std::shared_ptr<stop_hook> stop_;
  std::thread thread_;
  /// Watches `st_->efd`, which `st_` owns (a thread abandoned by this handle still writes to
  /// it): released, never closed, when the handle goes.
  boost::asio::posix::stream_descriptor done_;
  std::string name_;
  clock::duration abandon_after_;
  std::optional<clock::time_point> killed_at_;
  std::optional<exit_status> status_;
};

/// The `thread` backend.
struct thread {
  static constexpr std::string_view name = "thread";
  /// The child gets a duplicate of `child_boot::channel_fd`, closed when its entry returns.
  static constexpr bool adopts_channel = true;
  /// And a duplicate of `child_boot::handover_fd`, which its entry closes.
  static constexpr bool carries_handover = true;
  /// `start` only starts a thread: called on the spawner's event loop.
  static constexpr bool start_blocks = false;

  static result<std::unique_ptr<child_handle>> start(const boost::asio::any_io_executor& ex,
                                                     const spawn_request& req) {
    BOOST_OUTCOME_TRY(auto t, thread_actor::start(ex, req));
    return std::unique_ptr<child_handle>(std::move(t));
  }
};

static_assert(backend<thread>);

}  // namespace tractor::spawn

#if TRACTOR_HEADER_ONLY
#include <tractor/spawn/impl/thread.ipp>
#endif
