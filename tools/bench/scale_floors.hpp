// The scale benchmark's floors: N raw children that connect back to a UDS listener, write a
// byte, then echo bytes until end-of-file, started back to back (start one, accept it, then
// the next) or concurrently (start all, then accept all). Calls: a byte each way per child;
// teardown: close every connection, then reap all. Private to scale_bench.cpp.
#pragma once

#include "tools/bench/bench_support.hpp"

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bench {

/// How long each phase of a run took, in milliseconds.
struct phases {
  double spawn = 0, calls = 0, teardown = 0;
  double total() const { return spawn + calls + teardown; }
};

/// A raw child's side: connect to `path`, say ready, echo until end-of-file.
inline void echo_child(const std::string& path) {
  const int fd = bench::uds_connect(path);
  char b = 1;
  if (::write(fd, &b, 1) != 1) std::_Exit(1);
  while (::read(fd, &b, 1) == 1) {
    if (::write(fd, &b, 1) != 1) break;
  }
  ::close(fd);
}

/// N children made by `start` (returns a pid, or 0 for a thread it keeps itself) and `reap`
/// (waits for every child): back to back or all at once.
inline phases raw_floor(const std::string& path, int n, bool burst, const std::function<pid_t()>& start,
                 const std::function<void(std::vector<pid_t>&)>& reap) {
  const int l = bench::uds_listen(path);
  ::listen(l, 4096);  // a burst of children connects before the first is accepted
  std::vector<pid_t> pids;
  std::vector<int> conns;
  phases p;
  auto t0 = bench::clk::now();
  const auto take = [&] {
    const int c = ::accept(l, nullptr, nullptr);
    char b;
    if (c < 0 || ::read(c, &b, 1) != 1) std::abort();
    conns.push_back(c);
  };
  for (int i = 0; i < n; ++i) {
    pids.push_back(start());
    if (!burst) take();
  }
  while (static_cast<int>(conns.size()) < n) take();
  p.spawn = bench::ms_since(t0);
  t0 = bench::clk::now();
  for (int c : conns) {
    char b = 2;
    if (::write(c, &b, 1) != 1 || ::read(c, &b, 1) != 1) std::abort();
  }
  p.calls = bench::ms_since(t0);
  t0 = bench::clk::now();
  for (int c : conns) ::close(c);
  reap(pids);
  p.teardown = bench::ms_since(t0);
  ::close(l);
  ::unlink(path.c_str());
  return p;
}

inline void reap_processes(std::vector<pid_t>& pids) {
  for (pid_t pid : pids) {
    int ws;
    ::waitpid(pid, &ws, 0);
  }
}

inline phases fork_floor(const std::string& path, int n, bool burst) {
  return raw_floor(path, n, burst, [&] {
    const pid_t pid = ::fork();
    if (pid == 0) {
      echo_child(path);
      std::_Exit(0);
    }
    return pid;
  }, reap_processes);
}

inline phases posix_spawn_floor(const std::string& path, int n, bool burst) {
  return raw_floor(path, n, burst, [&] { return bench::spawn_minimal(path, true); }, reap_processes);
}

inline phases thread_floor(const std::string& path, int n, bool burst) {
  std::vector<std::thread> threads;
  threads.reserve(n);
  return raw_floor(path, n, burst, [&] {
    threads.emplace_back([&path] { echo_child(path); });
    return pid_t{0};
  }, [&](std::vector<pid_t>&) {
    for (auto& t : threads) t.join();
  });
}

}  // namespace bench
