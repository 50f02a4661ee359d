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
      : st_(std::move(st)), stop_(std::move(stop)), done_(ex, ::dup(st_->efd)),
        name_(std::move(name)), abandon_after_(abandon_after) {}
  void abandon();

  std::shared_ptr<shared> st_;
  std::shared_ptr<stop_hook> stop_;
  std::thread thread_;
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

  static result<std::unique_ptr<child_handle>> start(const boost::asio::any_io_executor& ex,
                                                     const spawn_request& req) {
    BOOST_OUTCOME_TRY(auto t, thread_actor::start(ex, req));
    return std::unique_ptr<child_handle>(std::move(t));
  }
};

static_assert(backend<thread>);

// -- definitions -------------------------------------------------------------------------

inline result<std::unique_ptr<thread_actor>> thread_actor::start(const boost::asio::any_io_executor& ex,
                                                                 const spawn_request& req) {
  if (!req.run_child) {
    return error(make_error_code(std::errc::invalid_argument), "thread backend: the request has no child entry");
  }
  auto st = std::make_shared<shared>();
  st->efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (st->efd < 0) {
    return error(boost::system::error_code(errno, boost::system::system_category()), "thread backend: eventfd");
  }
  auto stop = std::make_shared<stop_hook>();
  std::unique_ptr<thread_actor> t(new thread_actor(ex, st, stop, req.boot.name, req.abandon_after));
  child_boot boot = req.boot;
  boot.stop = stop;
  if (boot.channel_fd >= 0) {
    // The caller keeps its descriptor; this one is the thread's, closed when the entry ends.
    boot.channel_fd = ::fcntl(req.boot.channel_fd, F_DUPFD_CLOEXEC, 3);
    if (boot.channel_fd < 0) {
      return error(boost::system::error_code(errno, boost::system::system_category()), "thread backend: dup");
    }
  }
  // What `top -H`, `ps -L` and debuggers show for it (15 characters at most).
  const std::string title = (std::string(thread_name_prefix) + req.boot.name).substr(0, 15);
  try {
    t->thread_ = std::thread([st, entry = req.run_child, boot, title] {
      ::pthread_setname_np(::pthread_self(), title.c_str());
      const int code = entry(boot);
      if (boot.channel_fd >= 0) ::close(boot.channel_fd);
      st->code = code;
      st->done = true;
      const std::uint64_t one = 1;
      (void)!::write(st->efd, &one, sizeof one);
    });
  } catch (const std::system_error& e) {
    if (boot.channel_fd >= 0) ::close(boot.channel_fd);
    return error(e.code(), std::string("thread backend: cannot start a thread: ") + e.what());
  }
  return t;
}

inline thread_actor::~thread_actor() {
  if (!thread_.joinable()) return;
  if (!st_->done) {
    stop_->request();
    pollfd p{st_->efd, POLLIN, 0};
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(abandon_after_).count();
    (void)::poll(&p, 1, static_cast<int>(ms));
  }
  if (st_->done) {
    thread_.join();
  } else {
    abandon();
  }
}

inline std::optional<exit_status> thread_actor::poll() {
  if (status_) return status_;
  if (!st_->done) return std::nullopt;
  if (thread_.joinable()) thread_.join();
  status_ = exit_status{.exited = true, .code = st_->code, .signal = 0, .abandoned = false};
  return status_;
}

inline void thread_actor::kill() noexcept {
  if (status_ || killed_at_) return;
  killed_at_ = clock::now();
  stop_->request();
}

inline void thread_actor::abandon() {
  log::get_logger("tractor.spawn")
      .warning("thread actor '{}' did not stop within {} ms of being asked; abandoned (it keeps running until "
               "the process exits)",
               name_, std::chrono::duration_cast<std::chrono::milliseconds>(abandon_after_).count());
  thread_.detach();
  status_ = exit_status{.exited = false, .code = 0, .signal = SIGKILL, .abandoned = true};
}

inline awaitable<exit_status> thread_actor::wait() {
  auto ended = [this]() -> awaitable<void> {
    while (!poll()) {
      co_await done_.async_wait(boost::asio::posix::descriptor_base::wait_read, boost::asio::use_awaitable);
    }
  };
  for (;;) {
    if (poll()) co_return *status_;
    if (!killed_at_) {
      co_await ended();
      co_return *status_;
    }
    auto in_time = co_await move_on_at(*killed_at_ + abandon_after_, ended());
    if (!in_time && !poll()) abandon();
    co_return *status_;
  }
}

}  // namespace tractor::spawn
