// Definitions for tractor/spawn/thread.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/spawn/thread.hpp>

namespace tractor::spawn {

// -- definitions -------------------------------------------------------------------------

TRACTOR_DECL result<std::unique_ptr<thread_actor>> thread_actor::start(const boost::asio::any_io_executor& ex,
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
  // The caller keeps its descriptors; these are the thread's: the channel's closed when the
  // entry ends, the handover's by the entry itself.
  for (int* fd : {&boot.channel_fd, &boot.handover_fd}) {
    if (*fd >= 0 && (*fd = ::fcntl(*fd, F_DUPFD_CLOEXEC, 3)) < 0) {
      const int e = errno;
      if (boot.channel_fd >= 0 && fd != &boot.channel_fd) ::close(boot.channel_fd);
      return error(boost::system::error_code(e, boost::system::system_category()), "thread backend: dup");
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
    for (int fd : {boot.channel_fd, boot.handover_fd}) {
      if (fd >= 0) ::close(fd);
    }
    return error(e.code(), std::string("thread backend: cannot start a thread: ") + e.what());
  }
  return t;
}

TRACTOR_DECL thread_actor::~thread_actor() {
  (void)done_.release();
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

TRACTOR_DECL std::optional<exit_status> thread_actor::poll() {
  if (status_) return status_;
  if (!st_->done) return std::nullopt;
  if (thread_.joinable()) thread_.join();
  status_ = exit_status{.exited = true, .code = st_->code, .signal = 0, .abandoned = false};
  return status_;
}

TRACTOR_DECL void thread_actor::kill() noexcept {
  if (status_ || killed_at_) return;
  killed_at_ = clock::now();
  stop_->request();
}

TRACTOR_DECL void thread_actor::abandon() {
  log::get_logger("tractor.spawn")
      .warning("thread actor '{}' did not stop within {} ms of being asked; abandoned (it keeps running until "
               "the process exits)",
               name_, std::chrono::duration_cast<std::chrono::milliseconds>(abandon_after_).count());
  thread_.detach();
  status_ = exit_status{.exited = false, .code = 0, .signal = SIGKILL, .abandoned = true};
}

TRACTOR_DECL awaitable<exit_status> thread_actor::wait() {
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
