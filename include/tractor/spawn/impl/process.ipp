// Definitions for tractor/spawn/process.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/spawn/process.hpp>

#include <algorithm>
#include <climits>

#include <fcntl.h>
#include <sys/eventfd.h>

namespace tractor::spawn {

// -- definitions -------------------------------------------------------------------------

TRACTOR_DECL result<std::unique_ptr<process>> process::adopt(const boost::asio::any_io_executor& ex,
                                                       pid_t pid) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    return error(boost::system::error_code(errno, boost::system::system_category()),
                 "pidfd_open(" + std::to_string(pid) + ") failed");
  }
  return std::unique_ptr<process>(new process(boost::asio::posix::stream_descriptor(ex, fd), pid));
}

TRACTOR_DECL process::~process() {
  if (status_) return;
  // Structured teardown should have waited already; this is the last line of defence.
  send(SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
  }
}

TRACTOR_DECL std::optional<exit_status> process::poll() {
  if (status_) return status_;
  int wstatus = 0;
  const pid_t r = ::waitpid(pid_, &wstatus, WNOHANG);
  if (r == pid_) status_ = exit_status::from_wait(wstatus);
  return status_;
}

TRACTOR_DECL awaitable<exit_status> process::wait() {
  while (!poll()) {
    // A pidfd becomes readable when its process exits.
    co_await pidfd_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                               boost::asio::use_awaitable);
  }
  co_return *status_;
}

TRACTOR_DECL rlim_t raise_descriptor_limit() noexcept {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    const rlim_t was = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return was;
  }
  return lim.rlim_cur;
}

TRACTOR_DECL void reserve_descriptor_table(rlim_t count) noexcept {
  rlimit lim{};
  if (count == 0 || ::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  const rlim_t highest = std::min<rlim_t>({count, lim.rlim_cur, INT_MAX}) - 1;
  const int any = ::eventfd(0, EFD_CLOEXEC);
  if (any < 0) return;
  // The lowest free descriptor at or above `highest`: the table grows to hold it, and no
  // descriptor in use is replaced.
  const int far = ::fcntl(any, F_DUPFD_CLOEXEC, static_cast<int>(highest));
  if (far >= 0) ::close(far);
  ::close(any);
}

TRACTOR_DECL std::string descriptor_limit_hint(int err) {
  if (err == ENFILE) {
    return "the system is out of open files (fs.file-max): raise it with sysctl, or end programs holding many";
  }
  if (err != EMFILE) return {};
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  return "this process has its limit of " + std::to_string(lim.rlim_cur) +
         " open descriptors (RLIMIT_NOFILE; tractor raised the soft limit to the hard one): raise the hard limit "
         "(`ulimit -Hn`, LimitNOFILE= in a systemd unit, nofile in /etc/security/limits.conf), or start fewer "
         "children from this actor";
}

TRACTOR_DECL error with_descriptor_limit_hint(const error& e) {
  auto hint = descriptor_limit_hint(e.code().value());
  if (hint.empty()) return e;
  return error(e.code(), e.message() + "; " + hint);
}

}  // namespace tractor::spawn
