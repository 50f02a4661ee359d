// The user's side of debug_test: this program run again as a scenario, in a pseudo-terminal
// of its own (forkpty), its output read as it comes and keys typed into it.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

namespace debug_tests {

/// This program run as a scenario in a terminal of its own; what it wrote is read as it comes.
class terminal_session {
 public:
  terminal_session(const std::string& backend, const std::string& scenario, const std::string& debugger = "") {
    const std::string self = std::filesystem::read_symlink("/proc/self/exe");
    pid_ = ::forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      ::setenv("TRACTOR_DEBUG_TEST_SCENARIO", scenario.c_str(), 1);
      ::setenv("TRACTOR_DEBUG_TEST_BACKEND", backend.c_str(), 1);
      ::setenv("TRACTOR_LOGLEVEL", "cancel", 1);
      if (!debugger.empty()) ::setenv("TRACTOR_DEBUGGER", debugger.c_str(), 1);
      ::execl(self.c_str(), self.c_str(), nullptr);
      std::_Exit(127);
    }
  }
  ~terminal_session() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
  }
  [[nodiscard]] bool started() const { return pid_ > 0; }
  [[nodiscard]] pid_t pid() const { return pid_; }

  /// Reads until `text` has appeared `times` times in all the output so far (a watchdog of
  /// 60 s, not a timing); false if the program ended or the watchdog fired first.
  bool wait_for(const std::string& text, int times = 1) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (count(text) < times) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{master_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(master_, buf, sizeof buf);
      if (n <= 0) return count(text) >= times;  // the program ended
      out_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  void type(const std::string& keys) { (void)!::write(master_, keys.data(), keys.size()); }
  /// Waits for the program's end; its exit status.
  int finish() {
    (void)wait_for("\x01never");  // to end of output
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  [[nodiscard]] const std::string& output() const { return out_; }
  [[nodiscard]] int count(const std::string& text) const {
    int n = 0;
    for (std::size_t at = out_.find(text); at != std::string::npos; at = out_.find(text, at + 1)) ++n;
    return n;
  }
  /// The pid in the report whose header names `actor` ("(pid N) stopped").
  [[nodiscard]] pid_t reported_pid(const std::string& actor) const {
    const std::size_t at = out_.find("tractor debug mode: " + actor);
    if (at == std::string::npos) return 0;
    const std::size_t pid_at = out_.find("(pid ", at);
    return pid_at == std::string::npos ? 0 : static_cast<pid_t>(std::atoi(out_.c_str() + pid_at + 5));
  }

 private:
  int master_ = -1;
  pid_t pid_ = -1;
  std::string out_;
};

}  // namespace debug_tests
