// tractor/spawn/process.hpp — child process handles: what every spawn backend returns.
//
// A handle owns its child until the child has been reaped: `wait()` waits on a pidfd (so the
// wait is an ordinary cancellable Asio wait, no SIGCHLD handler, no polling), `poll()` reaps
// without waiting, `terminate()`/`kill()` signal through the pidfd (never a recycled pid).
// Destroying a handle whose child still runs kills and reaps it: a handle never leaks a
// process or a zombie.
//
//     auto p = tractor::spawn::exec_process(ex, {.program = "/bin/sleep", .args = {"5"}});
//     p.value()->terminate();
//     tractor::spawn::exit_status s = co_await p.value()->wait();   // s.signal == SIGTERM
#pragma once

#include <tractor/config.hpp>

#include <tractor/core/error.hpp>
#include <tractor/core/nursery.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>

#include <optional>
#include <string>

#include <csignal>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tractor::spawn {

/// How a child ended.
struct exit_status {
  /// True if it called exit (then `code` holds the status), false if a signal ended it.
  bool exited = false;
  int code = 0;
  int signal = 0;
  /// A thread actor that did not stop when asked and was left running (threads cannot be
  /// killed); `signal` is then SIGKILL, the step it stood for.
  bool abandoned = false;

  [[nodiscard]] bool success() const noexcept { return exited && code == 0; }
  [[nodiscard]] std::string describe() const {
    if (abandoned) return "abandoned: a thread actor that ignored cancellation";
    return exited ? "exited with status " + std::to_string(code)
                  : "killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
  }
  [[nodiscard]] static exit_status from_wait(int wstatus) noexcept {
    exit_status s;
    s.exited = WIFEXITED(wstatus);
    s.code = s.exited ? WEXITSTATUS(wstatus) : 0;
    s.signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
    return s;
  }
};

/// A running child actor, whatever started it. Backends that are not processes (threads)
/// implement the same interface with their own meaning of terminate and kill.
class child_handle {
 public:
  virtual ~child_handle() = default;

  /// The child's pid (for thread actors: this process's pid).
  [[nodiscard]] virtual pid_t pid() const noexcept = 0;

  /// Waits until the child has ended and returns how.
  ///
  /// Cancellation: interrupted at once (`operation_aborted`); the child keeps running and
  /// the handle stays usable.
  virtual awaitable<exit_status> wait() = 0;

  /// How the child ended, if it has; never waits.
  virtual std::optional<exit_status> poll() = 0;

  /// Asks the child to stop (SIGTERM for processes).
  virtual void terminate() noexcept = 0;

  /// Stops the child now (SIGKILL for processes).
  virtual void kill() noexcept = 0;
};

/// A child process signalled through a pidfd (never a recycled pid). How it is reaped is
/// the subclass's: its own child (`process`) or the forkserver's (`forked_process`).
class pidfd_child : public child_handle {
 public:
  pid_t pid() const noexcept override { return pid_; }
  void terminate() noexcept override { send(SIGTERM); }
  void kill() noexcept override { send(SIGKILL); }

  /// Sends `sig` unless the child has already been reaped.
  void send(int sig) noexcept {
    if (status_) return;
    ::syscall(SYS_pidfd_send_signal, pidfd_.native_handle(), sig, nullptr, 0);
  }

 protected:
  pidfd_child(boost::asio::posix::stream_descriptor pidfd, pid_t pid) : pidfd_(std::move(pidfd)), pid_(pid) {}

  boost::asio::posix::stream_descriptor pidfd_;
  pid_t pid_;
  std::optional<exit_status> status_;
};

/// A child process of this process, watched through a pidfd.
class process final : public pidfd_child {
 public:
  /// Takes ownership of child `pid`. Fails only if the kernel has no pidfd support.
  static result<std::unique_ptr<process>> adopt(const boost::asio::any_io_executor& ex, pid_t pid);

  ~process() override;

  awaitable<exit_status> wait() override;
  std::optional<exit_status> poll() override;

 private:
  process(boost::asio::posix::stream_descriptor pidfd, pid_t pid) : pidfd_child(std::move(pidfd), pid) {}
};

/// Raises this process's soft limit on open descriptors (RLIMIT_NOFILE) to its hard limit, as
/// Go's runtime does at start. A parent holds descriptors for each child (its channel and
/// pidfd; a thread actor also its loop and listener), so a thousand children outgrow the
/// usual soft limit of 1,024 long before the hard one. The root and the forkserver call it as
/// they start; whatever they start inherits it. Returns the soft limit now in force.
rlim_t raise_descriptor_limit() noexcept;

/// Grows this process's descriptor table now, to hold `count` descriptors (at most its soft
/// limit). The kernel grows the table as descriptors are opened, doubling it, and in a process
/// of more than one thread each growth waits for an RCU grace period (`expand_fdtable`), so
/// the thread that opens the descriptor stalls: the event loop, as it accepts a child's
/// connection or makes its channel. Grown once while the process likely has one thread, the
/// table (which never shrinks) spares the loop those stalls. The root calls it as it starts.
void reserve_descriptor_table(rlim_t count) noexcept;

/// For an error out of descriptors (`err` EMFILE or ENFILE): which limit was hit and how to
/// raise it; empty for any other error.
std::string descriptor_limit_hint(int err);

/// `e` itself, or, if it is EMFILE or ENFILE, `e` with `descriptor_limit_hint` after its message.
error with_descriptor_limit_hint(const error& e);

}  // namespace tractor::spawn

#if TRACTOR_HEADER_ONLY
#include <tractor/spawn/impl/process.ipp>
#endif
