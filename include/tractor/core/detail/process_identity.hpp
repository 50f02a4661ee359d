// tractor/core/detail/process_identity.hpp — a process named so that a reused pid cannot be
// taken for it: its pid, its start time and its pid namespace. Shared by the shared-memory
// ring (watching its peer), the UDS transport (names unique across pid namespaces) and the
// test reaper (signalling only the process it saw).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tractor::detail {

/// When `pid` started (field 22 of /proc/<pid>/stat, clock ticks since boot): with the pid,
/// it names one process even after the pid is reused. 0 if it cannot be read.
inline std::uint64_t process_start_time(pid_t pid) {
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  // Fields count from after the command name, which may hold spaces and parentheses.
  const char* at = std::strrchr(buf, ')');
  for (int field = 2; at && field < 22; ++field) at = std::strchr(at + 1, ' ');
  return at ? std::strtoull(at + 1, nullptr, 10) : 0;
}

/// This process's pid namespace (the inode of /proc/self/ns/pid): a pid means the same
/// process only within one. 0 if unknown.
inline std::uint64_t own_pid_namespace() {
  struct stat st {};
  return ::stat("/proc/self/ns/pid", &st) == 0 ? static_cast<std::uint64_t>(st.st_ino) : 0;
}

/// A pidfd of `pid`, kept only if that process is still the one that started at `start`; -1
/// otherwise, with errno ESRCH when it has ended (or its pid names another process now).
inline int pidfd_if_same(pid_t pid, std::uint64_t start) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return -1;
  // Read after the pidfd is held: if this is not the process that started then, that one
  // ended and the pid went to another.
  if (process_start_time(pid) != start) {
    ::close(fd);
    errno = ESRCH;
    return -1;
  }
  return fd;
}

}  // namespace tractor::detail
