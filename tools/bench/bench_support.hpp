// Helpers the benchmarks share: timing, medians, CPU pinning, and the raw UDS sockets their
// floors use.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <optional>
#include <vector>

#include <malloc.h>
#include <sched.h>
#include <sys/mman.h>
#include <spawn.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace bench {

using clk = std::chrono::steady_clock;

inline double ms_since(clk::time_point t0) {
  return std::chrono::duration<double, std::milli>(clk::now() - t0).count();
}

/// Takes `count` frames (a 4-byte length, then its bytes) out of 64 KiB reads; a frame larger
/// than that is read straight into place. `read_some(p, n)` reads at least one byte and returns
/// how many; `read_all(p, n)` reads exactly `n`.
template <class ReadSome, class ReadAll>
void receive_frames(long count, ReadSome read_some, ReadAll read_all) {
  std::vector<char> buf(1 << 16);
  std::vector<char> big;
  std::size_t have = 0;
  long seen = 0;
  while (seen < count) {
    have += read_some(buf.data() + have, buf.size() - have);
    std::size_t at = 0;
    while (have - at >= 4) {
      std::uint32_t len = 0;
      std::memcpy(&len, buf.data() + at, 4);
      if (len + 4 > buf.size()) {
        big.resize(len);
        const std::size_t part = have - at - 4;
        std::memcpy(big.data(), buf.data() + at + 4, part);
        read_all(big.data() + part, len - part);
        at = have;
        ++seen;
        break;
      }
      if (have - at - 4 < len) break;
      at += 4 + len;
      ++seen;
    }
    std::memmove(buf.data(), buf.data() + at, have - at);
    have -= at;
  }
}

/// Has the kernel read every page of `p[0, n)` once, as a socket's send of it would, by
/// writing it to an anonymous file: on hosts where the kernel's first access to a page of a
/// process costs far more than later ones (a VM whose hypervisor maps the page for the kernel
/// on first use), this separates that one-time cost from what is measured.
inline void kernel_read_once(const void* p, std::size_t n) {
  static const int sink = ::memfd_create("bench_kernel_read", MFD_CLOEXEC);
  if (sink < 0 || ::pwrite(sink, p, n, 0) != static_cast<ssize_t>(n)) std::abort();
}

/// What a page fault costs on this host: microseconds for the first write of each page of a
/// fresh anonymous mapping (`pages` of them). Every child a spawn benchmark starts, and every
/// first call into it, takes such faults (on fresh memory, on pages shared with its parent,
/// on code it runs for the first time), far more of them than a raw floor's child: where a
/// fault is dear (a VM whose hypervisor maps each page on first use), that alone sets ratios.
inline double page_fault_us(std::size_t pages = 4096) {
  const std::size_t size = pages * 4096;
  void* mapped = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) std::abort();
  auto* p = static_cast<volatile char*>(mapped);
  const auto t0 = clk::now();
  for (std::size_t at = 0; at < size; at += 4096) p[at] = 1;
  const double us = std::chrono::duration<double, std::micro>(clk::now() - t0).count() / static_cast<double>(pages);
  ::munmap(mapped, size);
  return us;
}

/// Puts malloc in the state of a program that has run for a while, and keeps it there: blocks
/// of up to 32 MiB come from its heap, and what is freed stays in the heap for the next block.
/// Without this, what a benchmark measures depends on what earlier phases left in the allocator
/// (glibc adjusts both thresholds as blocks come and go), and where the kernel's first touch
/// of a page is expensive (this VM), a block handed back to the kernel and faulted in again
/// costs as much as sending it.
inline void steady_malloc() {
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

/// VmRSS of process `pid` (0: this one) in KiB, or -1 if it cannot be read.
inline long rss_kib(pid_t pid = 0) {
  std::ifstream in(pid ? "/proc/" + std::to_string(pid) + "/status" : std::string("/proc/self/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

/// Pins thread `tid` (0: the calling thread) to one CPU; what that thread forks or spawns
/// from then on starts there too.
inline void pin(int cpu, pid_t tid = 0) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(tid, sizeof set, &set);
}

/// Pins a child actor process's main thread, its event loop's, to one CPU. A child does not
/// take the root's placement from the thread that awaits `start_actor`: the runtime starts
/// it from its spawner thread.
inline void pin_child(std::optional<std::int64_t> pid, int cpu) {
  if (pid && *pid > 0) pin(cpu, static_cast<pid_t>(*pid));
}

inline sockaddr_un uds_address(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  return sa;
}

/// A listening UDS socket at `path` (close-on-exec: no child inherits it); aborts on failure.
inline int uds_listen(const std::string& path) {
  ::unlink(path.c_str());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_un sa = uds_address(path);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 16) != 0) std::abort();
  return fd;
}

/// A UDS connection to `path`; the process exits if it cannot connect (children use it).
inline int uds_connect(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  const sockaddr_un sa = uds_address(path);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) std::_Exit(1);
  return fd;
}

/// The minimal child the spawn floors start: this same binary (same dynamic linking) run
/// with BENCH_MINIMAL=<path>. It connects to `path`, says it is ready (a byte), then idles
/// until told to go (a byte) or its parent goes (EOF); with BENCH_ECHO set, it answers each
/// byte with a byte until EOF instead. `main` calls this first.
inline void run_minimal_child_if_asked() {
  const char* path = std::getenv("BENCH_MINIMAL");
  if (!path) return;
  const bool echo = std::getenv("BENCH_ECHO") != nullptr;
  const int fd = uds_connect(path);
  char b = 1;
  if (::write(fd, &b, 1) != 1) std::_Exit(1);
  while (::read(fd, &b, 1) == 1 && echo && ::write(fd, &b, 1) == 1) {
  }
  std::_Exit(0);
}

/// Starts a minimal child connecting back to `path` (echoing: see run_minimal_child_if_asked).
inline pid_t spawn_minimal(const std::string& path, bool echo = false) {
  std::string env = "BENCH_MINIMAL=" + path;
  char* argv[] = {const_cast<char*>("minimal"), nullptr};
  char echo_env[] = "BENCH_ECHO=1";
  char* envp[] = {env.data(), echo ? echo_env : nullptr, nullptr};
  pid_t pid = 0;
  if (::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, envp) != 0) std::abort();
  return pid;
}

/// The median time from `start()` (which makes a child that connects to `path` and writes a
/// byte) until that byte arrives, over `rounds` children, one at a time.
template <class Start>
double raw_spawn_ms(const std::string& path, int rounds, Start start) {
  const int l = uds_listen(path);
  std::vector<double> samples;
  for (int i = 0; i < rounds; ++i) {
    const auto t0 = clk::now();
    const pid_t pid = start();
    const int c = ::accept(l, nullptr, nullptr);
    char b;
    if (::read(c, &b, 1) != 1) std::abort();
    samples.push_back(ms_since(t0));
    ::close(c);
    int ws;
    ::waitpid(pid, &ws, 0);
  }
  ::close(l);
  ::unlink(path.c_str());
  return median(samples);
}

}  // namespace bench
