// The process's side of task dumps on SIGUSR1. The signal handler only writes a byte to a
// pipe; a thread of the runtime's own (the dump thread) reads it and asks the process's top
// actor (the root, or the child this process was started for; thread actors under it are
// reached through it, over IPC) for its dump on that actor's own loop, never walking tasks
// from the handler or from another thread. The dump thread writes what comes back to
// stderr, to $TMPDIR/tractor-taskdump-<pid>.log and to /dev/tty when there is one. If the
// loop does not answer within a second, it is wedged in a blocking call: the dump thread
// prints that thread's native stack instead (see native_stack.hpp).
//
// The thread runs while an actor of this process is enrolled, and is joined when the last
// leaves. SIGUSR1's disposition is taken only if it was the default (or ignored) when the
// first actor enrolled, and put back to that when the last leaves; a program that installed
// its own SIGUSR1 handler keeps it, and gets dumps only through `dump_task_tree()`.
#pragma once

#include <tractor/runtime/detail/logs.hpp>
#include <tractor/runtime/detail/native_stack.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tractor::runtime::detail {

/// Where a dump goes: stderr, the per-process log file (whose path is written first), and
/// the controlling terminal when there is one (test runners and CI capture stdio).
inline void write_dump(const std::string& text) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string path =
      std::string(tmp && *tmp ? tmp : "/tmp") + "/tractor-taskdump-" + std::to_string(::getpid()) + ".log";
  const std::string head =
      "tractor: task dump of pid " + std::to_string(::getpid()) + ", also appended to " + path + "\n";
  auto put = [](int fd, const std::string& s) {
    for (std::size_t at = 0; at < s.size();) {
      const ssize_t n = ::write(fd, s.data() + at, s.size() - at);
      if (n <= 0) return;
      at += static_cast<std::size_t>(n);
    }
  };
  // The file first: whoever reads stderr can read the file once the dump has appeared.
  if (const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600); fd >= 0) {
    put(fd, text);
    ::close(fd);
  }
  put(2, head + text);
  if (const int fd = ::open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC); fd >= 0) {
    put(fd, head + text);
    ::close(fd);
  }
}

class dump_service {
 public:
  /// One enrolled actor: how to ask its loop for a dump, and its loop's thread.
  struct slot {
    boost::asio::any_io_executor ex;
    pid_t tid = 0;
    std::string name;
    std::string uuid;
    /// Set by the actor on its loop; called there to start a dump (see `task_dump_watch`).
    std::function<void()> wake;
    // Filled by the actor, read by the dump thread.
    std::mutex m;
    std::condition_variable answered;
    bool started = false;  // the loop got to the request
    std::optional<std::string> dump;
    bool left = false;
  };

  static dump_service& get() {
    static dump_service s;
    return s;
  }

  /// At exit, an actor may still be enrolled (a thread actor abandoned in a blocking call):
  /// the dump thread stops waiting for it and is joined.
  ~dump_service() {
    std::unique_lock lock(m_);
    if (!thread_.joinable()) return;
    for (const auto& s : all_) {
      std::lock_guard slot_lock(s->m);
      s->left = true;
      s->answered.notify_all();
    }
    stop(lock);
  }

  /// Enrolls the actor whose loop runs on the calling thread; starts the dump thread and
  /// takes SIGUSR1 if it is the first. SIGUSR1 asks the `top` one (the process's own actor;
  /// the others are thread actors under it, reached through it).
  std::shared_ptr<slot> enroll(boost::asio::any_io_executor ex, std::string name, std::string uuid, bool top) {
    auto s = std::make_shared<slot>();
    s->ex = std::move(ex);
    s->tid = static_cast<pid_t>(::syscall(SYS_gettid));
    s->name = std::move(name);
    s->uuid = std::move(uuid);
    std::lock_guard lock(m_);
    if (top && !top_) top_ = s;
    all_.push_back(s);
    if (all_.size() == 1) start();
    return s;
  }

  /// The thread of the enrolled actor `uuid` (a thread actor of this process), if any.
  std::optional<pid_t> thread_of(const std::string& uuid) {
    std::lock_guard lock(m_);
    for (const auto& s : all_) {
      if (s->uuid == uuid) return s->tid;
    }
    return std::nullopt;
  }

  /// The actor of `s` is ending; the last one out stops the dump thread and gives SIGUSR1
  /// back.
  void leave(const std::shared_ptr<slot>& s) {
    {
      std::lock_guard slot_lock(s->m);
      s->left = true;
    }
    s->answered.notify_all();
    std::unique_lock lock(m_);
    if (top_ == s) top_.reset();
    std::erase(all_, s);
    if (all_.empty()) stop(lock);
  }

  /// Called by the actor with its dump.
  static void answer(slot& s, std::string dump) {
    {
      std::lock_guard lock(s.m);
      s.dump = std::move(dump);
    }
    s.answered.notify_all();
  }

 private:
  static int& pipe_w() {
    static int fd = -1;
    return fd;
  }
  static void on_signal(int) {
    const int saved = errno;
    const char byte = 'd';
    (void)!::write(pipe_w(), &byte, 1);
    errno = saved;
  }

  void start() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
    pipe_r_ = fds[0];
    pipe_w() = fds[1];
    struct sigaction current {};
    ::sigaction(SIGUSR1, nullptr, &current);
    took_signal_ = current.sa_handler == SIG_DFL || current.sa_handler == SIG_IGN;
    if (took_signal_) {
      previous_ = current;
      struct sigaction mine {};
      mine.sa_handler = &dump_service::on_signal;
      sigemptyset(&mine.sa_mask);
      mine.sa_flags = SA_RESTART;
      ::sigaction(SIGUSR1, &mine, nullptr);
    } else {
      logs::root.warning("SIGUSR1 has a handler of the program's own: task dumps on SIGUSR1 are off");
    }
    thread_ = std::thread([this, fd = pipe_r_] { run(fd); });
  }

  /// The pipe goes with its thread: an actor enrolling while the thread is joined (the lock
  /// is not held then) starts a thread and a pipe of its own.
  void stop(std::unique_lock<std::mutex>& lock) {
    if (took_signal_) ::sigaction(SIGUSR1, &previous_, nullptr);
    const int r = pipe_r_;
    const int w = pipe_w();
    pipe_r_ = pipe_w() = -1;
    const char quit = 'q';
    (void)!::write(w, &quit, 1);
    std::thread t = std::move(thread_);
    lock.unlock();
    if (t.joinable()) t.join();
    ::close(r);
    ::close(w);
    lock.lock();
  }

  /// The dump thread: one dump per SIGUSR1 on pipe `fd`, until told to quit.
  void run(int fd) {
    for (;;) {
      char byte = 0;
      const ssize_t n = ::read(fd, &byte, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || byte == 'q') return;
      std::shared_ptr<slot> s;
      {
        std::lock_guard lock(m_);
        s = top_;
      }
      if (s) dump_one(s);
    }
  }

  /// Asks `s`'s loop for its dump; if it does not get to it within a second, writes its
  /// thread's native stack, then waits on for the dump (or the actor's end). Taking longer
  /// once started is no wedge: its children each have a second to answer.
  static void dump_one(const std::shared_ptr<slot>& held) {
    slot& s = *held;
    {
      std::lock_guard lock(s.m);
      if (s.left) return;
      s.dump.reset();
      s.started = false;
    }
    boost::asio::post(s.ex, [held] {
      {
        std::lock_guard lock(held->m);
        held->started = true;
      }
      held->answered.notify_all();
      if (held->wake) held->wake();
    });
    std::unique_lock lock(s.m);
    if (!s.answered.wait_for(lock, std::chrono::seconds(1), [&] { return s.started || s.left; })) {
      lock.unlock();
      write_dump("actor " + s.name + " (pid " + std::to_string(::getpid()) +
                 "): its event loop did not get to the dump within 1 s (blocked in a call?); the watchdog's native "
                 "stack of its thread " + std::to_string(s.tid) + ":\n" + native_stack_of(s.tid));
      lock.lock();
    }
    s.answered.wait(lock, [&] { return s.dump || s.left; });
    if (s.dump) {
      std::string text = std::move(*s.dump);
      s.dump.reset();
      lock.unlock();
      write_dump(text);
    }
  }

  std::mutex m_;
  std::shared_ptr<slot> top_;
  std::vector<std::shared_ptr<slot>> all_;  // every enrolled actor; the thread runs while any is
  int pipe_r_ = -1;
  bool took_signal_ = false;
  struct sigaction previous_ {};
  std::thread thread_;
};

}  // namespace tractor::runtime::detail
