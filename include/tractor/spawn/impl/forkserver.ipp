// Definitions for tractor/spawn/forkserver.hpp that are not templates: compiled once, with the
// backend's helper (tools/forkserver/forkserver.cc), under TRACTOR_SEPARATE_COMPILATION, else
// included by that header (tractor/config.hpp).
#pragma once

#include <tractor/spawn/forkserver.hpp>

namespace tractor::spawn {

// -- definitions -------------------------------------------------------------------------

TRACTOR_DECL result<std::unique_ptr<child_handle>> forkserver::start(const boost::asio::any_io_executor& ex,
                                                               const spawn_request& req) {
  BOOST_OUTCOME_TRY(auto c, detail::fork_through_server(req));
  return std::unique_ptr<child_handle>(new forked_process(ex, c));
}

TRACTOR_DECL forked_process::~forked_process() {
  if (status_) return;
  // Structured teardown should have waited already; this is the last line of defence.
  send(SIGKILL);
  const int fd = status_pipe_.native_handle();
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  int wstatus = 0;
  while (::read(fd, &wstatus, sizeof wstatus) < 0 && errno == EINTR) {
  }
}

TRACTOR_DECL std::optional<exit_status> forked_process::poll() {
  if (status_) return status_;
  int wstatus = 0;
  const ssize_t n = ::read(status_pipe_.native_handle(), &wstatus, sizeof wstatus);
  if (n == sizeof wstatus) {
    status_ = exit_status::from_wait(wstatus);
  } else if (n == 0) {
    // The server went away without reporting: its children die with it (parent-death signal).
    status_ = exit_status{.exited = false, .code = 0, .signal = SIGKILL, .abandoned = false};
  }
  return status_;
}

TRACTOR_DECL awaitable<exit_status> forked_process::wait() {
  while (!poll()) {
    co_await status_pipe_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                                     boost::asio::use_awaitable);
  }
  co_return *status_;
}

}  // namespace tractor::spawn
