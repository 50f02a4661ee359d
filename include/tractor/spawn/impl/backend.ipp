// Definitions for tractor/spawn/backend.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp); the `exec`
// backend.
#pragma once

#include <tractor/spawn/backend.hpp>

namespace tractor::spawn {

TRACTOR_DECL result<std::unique_ptr<child_handle>> exec::start(const boost::asio::any_io_executor& ex,
                                                             const spawn_request& req) {
  exec_request r;
  r.env = {{child_env::name, req.boot.name},
           {child_env::uuid, req.boot.uuid},
           {child_env::parent_addr, req.boot.parent_addr},
           {child_env::parent_pid, std::to_string(req.boot.parent_pid)},
           {child_env::parent_registers, req.boot.parent_registers ? "1" : "0"},
           {child_env::loglevel, req.boot.loglevel ? std::string(log::to_string(*req.boot.loglevel)) : ""},
           {child_env::taskdump, req.boot.taskdump ? "1" : "0"}};
  r.argv0 = req.title;
  if (req.boot.handover_fd >= 0) {
    // A prestarted child: everything secret comes later, through the handover.
    if (!req.boot.cookie.empty()) {
      return error(make_error_code(std::errc::invalid_argument),
                   "exec backend: a cookie and a handover in one request");
    }
    r.pass_fd = req.boot.handover_fd;
    r.env[child_env::handover_fd] = "3";
  }
  // The cookie goes through a pipe the child reads at boot: a command line is public, and an
  // environment outlives the boot in /proc.
  int cookie_pipe[2] = {-1, -1};
  if (!req.boot.cookie.empty()) {
    // Non-blocking: a cookie larger than the pipe's buffer (64 KiB) fails here, not hangs; the
    // child reads what is there up to the end, which the closed write end marks.
    if (::pipe2(cookie_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
      return error(boost::system::error_code(errno, boost::system::system_category()),
                   "cannot hand the cookie to a child (pipe)");
    }
    const bool written = ::write(cookie_pipe[1], req.boot.cookie.data(), req.boot.cookie.size()) ==
                         static_cast<ssize_t>(req.boot.cookie.size());
    ::close(cookie_pipe[1]);
    if (!written) {
      ::close(cookie_pipe[0]);
      return error(boost::system::error_code(EMSGSIZE, boost::system::system_category()),
                   "cannot hand the cookie to a child (it does not fit in a pipe)");
    }
    r.pass_fd = cookie_pipe[0];
    r.env[child_env::cookie_fd] = "3";
  }
  auto proc = exec_process(ex, r);
  if (cookie_pipe[0] >= 0) ::close(cookie_pipe[0]);
  if (!proc) return proc.error();
  return std::unique_ptr<child_handle>(std::move(proc).value());
}

namespace detail {
/// Reads (and closes) the descriptor an `exec` parent passed the cookie through.
inline std::string read_cookie_fd(int fd) {
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}
}  // namespace detail

TRACTOR_DECL std::optional<child_boot> exec::boot_from_env() {
  const char* uuid = std::getenv(child_env::uuid);
  if (!uuid) return std::nullopt;
  auto var = [](const char* k) {
    const char* v = std::getenv(k);
    return std::string(v ? v : "");
  };
  child_boot boot{var(child_env::name), uuid, var(child_env::parent_addr),
                  static_cast<pid_t>(std::atoi(var(child_env::parent_pid).c_str()))};
  boot.parent_registers = var(child_env::parent_registers) == "1";
  boot.loglevel = log::parse_level(var(child_env::loglevel));
  boot.taskdump = var(child_env::taskdump) == "1";
  if (var(child_env::cookie_fd) == "3") {
    boot.cookie = detail::read_cookie_fd(3);
    ::unsetenv(child_env::cookie_fd);  // the descriptor is gone: a program this one runs has none
  }
  if (var(child_env::handover_fd) == "3") {
    boot.handover_fd = 3;
    ::unsetenv(child_env::handover_fd);  // the descriptor is this process's only
  }
  return boot;
}

}  // namespace tractor::spawn
