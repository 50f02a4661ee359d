// Test helper: runs this test binary again as a separate program (a whole actor tree, say)
// with its stdout and stderr captured, so a test can read what a user would see on the
// terminal. Waits are on the program's output and exit, each bounded by a watchdog. The
// program can also get a pseudo-terminal of its own as its controlling terminal (stdin), so
// a test sees what it writes to /dev/tty.
#pragma once

#include <chrono>
#include <csignal>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace tractor::testing {

/// Forks a process that ignores SIGINT and SIGTERM and holds none of the caller's stdio, and
/// returns its pid without waiting for it: what a user's actor may leak. Being a fork, it
/// carries the caller's process title.
inline pid_t fork_a_leak() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    for (int fd = 0; fd <= 2; ++fd) ::dup2(null, fd);
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGTERM, SIG_IGN);
    for (;;) ::pause();
  }
  return pid;
}

class subprocess {
 public:
  /// Starts /proc/self/exe with the environment of this process changed by `env` (an empty
  /// value removes the variable).
  explicit subprocess(const std::map<std::string, std::string>& env) : subprocess(env, std::vector<std::string>{}) {}

  /// The same, with arguments, and the name the program is called by (its argv[0]). With
  /// `terminal`, the program starts a session whose controlling terminal (and stdin) is a
  /// new pseudo-terminal; what it writes there is `tty()`.
  explicit subprocess(const std::map<std::string, std::string>& env, std::vector<std::string> args,
                      std::string argv0 = "/proc/self/exe", bool terminal = false) {
    std::vector<std::string> vars;
    for (char** e = environ; *e; ++e) {
      const std::string kv = *e;
      const auto eq = kv.find('=');
      if (eq != std::string::npos && env.contains(kv.substr(0, eq))) continue;
      vars.push_back(kv);
    }
    for (const auto& [k, v] : env) {
      if (!v.empty()) vars.push_back(k + "=" + v);
    }
    std::vector<char*> envp;
    for (auto& v : vars) envp.push_back(v.data());
    envp.push_back(nullptr);
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    char terminal_name[128] = {};
    if (terminal) {
      // A session leader opening a terminal without O_NOCTTY makes it its controlling one
      // (setsid runs before the file actions).
      fds_[2] = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (fds_[2] < 0 || ::grantpt(fds_[2]) != 0 || ::unlockpt(fds_[2]) != 0 ||
          ::ptsname_r(fds_[2], terminal_name, sizeof terminal_name) != 0) {
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
        return;  // pid() is -1: nothing started
      }
      posix_spawn_file_actions_addopen(&fa, 0, terminal_name, O_RDWR, 0);
      posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    }
    char self[] = "/proc/self/exe";
    std::vector<char*> argv{argv0.data()};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, self, &fa, &attr, argv.data(), envp.data()) != 0) pid_ = -1;
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    ::close(err[1]);
    fds_[0] = out[0];
    fds_[1] = err[0];
  }
  subprocess(const subprocess&) = delete;
  subprocess& operator=(const subprocess&) = delete;
  ~subprocess() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] const std::string& out() const noexcept { return text_[0]; }
  [[nodiscard]] const std::string& err() const noexcept { return text_[1]; }
  /// What the program wrote to its terminal (with a terminal's "\r\n" line ends).
  [[nodiscard]] const std::string& tty() const noexcept { return text_[2]; }

  /// Reads the program's output until `done()` holds or `within` passes; whether it held.
  bool read_until(const std::function<bool()>& done, std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (!done()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_some(static_cast<int>(left.count()))) return done();
    }
    return true;
  }

  /// Waits until stdout (`stream` 0), stderr (1) or the terminal (2) contains `text`.
  bool wait_for(int stream, const std::string& text, std::chrono::milliseconds within) {
    return read_until([&] { return text_[stream].find(text) != std::string::npos; }, within);
  }

  /// Reads everything until the program closes its output, then reaps it: its wait status, or
  /// nothing if it did not end within `within` (it is then killed).
  std::optional<int> finish(std::chrono::milliseconds within) {
    const bool closed = read_until([&] { return fds_[0] < 0 && fds_[1] < 0; }, within);
    if (fds_[2] >= 0) {
      ::close(fds_[2]);  // the terminal hangs up; what the program wrote there was read
      fds_[2] = -1;
    }
    if (!closed) return std::nullopt;
    int st = 0;
    if (::waitpid(pid_, &st, 0) != pid_) return std::nullopt;
    status_ = st;
    return st;
  }

 private:
  /// One poll on the open pipes; false if nothing is open or the poll timed out.
  bool read_some(int timeout_ms) {
    pollfd p[3];
    int n = 0;
    int which[3];
    for (int i = 0; i < 3; ++i) {
      if (fds_[i] >= 0) {
        p[n] = pollfd{fds_[i], POLLIN, 0};
        which[n++] = i;
      }
    }
    if (n == 0) return false;
    const int ready = ::poll(p, static_cast<nfds_t>(n), timeout_ms);
    if (ready <= 0) return false;
    for (int k = 0; k < n; ++k) {
      if (!p[k].revents) continue;
      char buf[65536];
      const ssize_t got = ::read(fds_[which[k]], buf, sizeof buf);
      if (got > 0) {
        text_[which[k]].append(buf, static_cast<std::size_t>(got));
      } else {
        ::close(fds_[which[k]]);
        fds_[which[k]] = -1;
      }
    }
    return true;
  }

  pid_t pid_ = -1;
  int fds_[3] = {-1, -1, -1};  // stdout, stderr, the terminal's master side
  std::string text_[3];
  std::optional<int> status_;
};

}  // namespace tractor::testing
