// The native stack of another thread of this process, for the task-dump watchdog: when an
// actor's loop is wedged in a blocking call, its coroutines cannot be walked, but its thread's
// call stack says where it is stuck. The thread is sent a real-time signal whose handler
// records raw frame addresses (Boost.Stacktrace's async-signal-safe dump); the asking thread
// symbolises them (function, file, line) outside the handler.
#pragma once

#include <boost/stacktrace.hpp>

#include <atomic>
#include <csignal>
#include <mutex>
#include <string>

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tractor::runtime::detail {

/// The signal the watchdog interrupts a thread with (documented in the README).
inline int stack_signal() noexcept { return SIGRTMIN + 7; }

struct stack_capture {
  static constexpr std::size_t max_frames = 128;
  void* frames[max_frames];
  std::atomic<std::size_t> bytes{0};
  std::atomic<int> notify{-1};  // write end of a pipe, written once the frames are in

  static stack_capture& get() {
    static stack_capture c;
    return c;
  }
  static void on_signal(int) {
    stack_capture& c = get();
    const int fd = c.notify.load();
    if (fd < 0) return;  // a late signal, after its capture gave up
    const int saved = errno;
    c.bytes.store(boost::stacktrace::safe_dump_to(2, c.frames, sizeof c.frames), std::memory_order_release);
    const char byte = 's';
    (void)!::write(fd, &byte, 1);
    errno = saved;
  }
};

/// Thread `tid`'s stack, symbolised, or why there is none. Waits at most a second for the
/// thread to take the signal. One capture at a time per process. The handler stays installed
/// (it does nothing between captures), so that a signal arriving after its capture gave up
/// never meets the signal's default action.
inline std::string native_stack_of(pid_t tid) {
  static std::mutex one_at_a_time;
  std::lock_guard lock(one_at_a_time);
  stack_capture& c = stack_capture::get();
  // One pipe for the process's life: a late signal writes into it harmlessly, and its byte
  // is drained before the next capture.
  static int fds[2] = {-1, -1};
  static const bool ready = [] {
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return false;
    struct sigaction mine {};
    mine.sa_handler = &stack_capture::on_signal;
    sigemptyset(&mine.sa_mask);
    mine.sa_flags = SA_RESTART;
    return ::sigaction(stack_signal(), &mine, nullptr) == 0;
  }();
  if (!ready) return "(no stack: cannot set up the capture signal)\n";
  char drain[16];
  while (::read(fds[0], drain, sizeof drain) > 0) {
  }
  c.bytes.store(0);
  c.notify.store(fds[1]);
  std::string out;
  if (::syscall(SYS_tgkill, ::getpid(), tid, stack_signal()) != 0) {
    out = "(no stack: thread " + std::to_string(tid) + " is gone)\n";
  } else {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) {
      out = "(no stack: thread " + std::to_string(tid) + " did not take the signal within 1 s)\n";
    } else {
      const std::size_t n = c.bytes.load(std::memory_order_acquire);
      out = boost::stacktrace::to_string(boost::stacktrace::stacktrace::from_dump(c.frames, n * sizeof(void*)));
    }
  }
  c.notify.store(-1);
  return out;
}

}  // namespace tractor::runtime::detail
