// The forkserver's POSIX helpers: descriptors (closing, passing), the process title, signal
// dispositions. Private to tools/forkserver/forkserver.cc. What a freshly forked child calls
// of them (closing, passing, writing the title) uses only system calls and the caller's
// buffers: nothing a thread of the program could have held at the fork.
#pragma once

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tractor::spawn::forkserver_posix {

inline void close_range_from(unsigned lo, unsigned hi) {
  if (lo > hi) return;
  if (::syscall(SYS_close_range, lo, hi, 0) == 0) return;
  for (unsigned fd = lo; fd <= std::min(hi, 65535u); ++fd) ::close(static_cast<int>(fd));
}

/// Closes every descriptor but stdio, `keep` and `also` (if it is one: >= 0).
inline void close_all_but(int keep, int also = -1) {
  if (also < 0) also = keep;
  const unsigned lo = static_cast<unsigned>(std::min(keep, also));
  const unsigned hi = static_cast<unsigned>(std::max(keep, also));
  close_range_from(3, lo - 1);
  close_range_from(lo + 1, hi - 1);
  close_range_from(hi + 1, ~0u);
}

/// What `populate_mappings` does, at most.
struct populate_budget {
  std::size_t copies;  ///< bytes of private writable mappings (of at most 1 MiB each) copied
  std::size_t shared;  ///< bytes of read-only mappings (code, constants) given page tables
};

/// Makes, now rather than at first touch, this process's own copies of its small private
/// writable mappings (a fork shares them copy-on-write) and its page-table entries for its
/// read-only mappings: code, and the libraries' constants and relocated tables, where a boot
/// took about 20 read faults (a fork leaves those entries to be filled on demand). Kernels
/// before 5.14 lack MADV_POPULATE_*: then nothing is done.
inline void populate_mappings(populate_budget budget) {
  constexpr int populate_read = 22;   // MADV_POPULATE_READ, Linux 5.14
  constexpr int populate_write = 23;  // MADV_POPULATE_WRITE
  constexpr std::size_t largest_copy = std::size_t{1} << 20;
  const int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  auto one = [&](char* line) {  // "lo-hi perms offset dev inode [path]"
    char* end = nullptr;
    const unsigned long lo = std::strtoul(line, &end, 16);
    if (*end != '-') return;
    const unsigned long hi = std::strtoul(end + 1, &end, 16);
    if (hi <= lo) return;
    const std::size_t size = hi - lo;
    if (std::strncmp(end, " rw-p", 5) == 0 && size <= largest_copy && size <= budget.copies) {
      if (::madvise(reinterpret_cast<void*>(lo), size, populate_write) == 0) budget.copies -= size;
    } else if ((std::strncmp(end, " r-xp", 5) == 0 || std::strncmp(end, " r--p", 5) == 0) &&
               size <= budget.shared) {
      if (::madvise(reinterpret_cast<void*>(lo), size, populate_read) == 0) budget.shared -= size;
    }
  };
  char buf[4096];
  std::size_t have = 0;
  for (ssize_t n; (n = ::read(fd, buf + have, sizeof buf - have)) > 0;) {
    have += static_cast<std::size_t>(n);
    std::size_t at = 0;
    for (char* nl; (nl = static_cast<char*>(std::memchr(buf + at, '\n', have - at))) != nullptr;) {
      *nl = '\0';
      one(buf + at);
      at = static_cast<std::size_t>(nl - buf) + 1;
    }
    if (at == 0 && have == sizeof buf) at = have;  // a line longer than the buffer: skipped
    std::memmove(buf, buf + at, have - at);
    have -= at;
  }
  ::close(fd);
}

/// Where the original command line is in our memory (the same in every fork of us).
struct title_area {
  char* start = nullptr;
  std::size_t size = 0;
};

inline title_area find_title_area() noexcept {
  // /proc/self/stat fields 48 and 49 (after the parenthesised command name, whose spaces
  // would confuse a plain split) bound the original command line.
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return {};
  std::istringstream fields(stat.substr(close_paren + 2));
  std::string field;
  unsigned long arg_start = 0;
  unsigned long arg_end = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 48) arg_start = std::stoul(field);
    if (i == 49) {
      arg_end = std::stoul(field);
      break;
    }
  }
  if (arg_start == 0 || arg_end <= arg_start) return {};
  return {reinterpret_cast<char*>(arg_start), arg_end - arg_start};
}

inline void write_title(const title_area& area, std::string_view title) noexcept {
  if (!area.start) return;
  const std::size_t n = std::min(title.size(), area.size - 1);
  std::memset(area.start, 0, area.size);
  std::memcpy(area.start, title.data(), n);
}

inline void reset_signals() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; ++s) {
    if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
  }
}

/// A descriptor number above stdio: a program that closed its stdio must not have the link
/// end up as fd 0, 1 or 2.
inline int above_stdio(int fd) {
  if (fd > 2) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

inline bool send_with_fds(int sock, const void* data, std::size_t size, const int* fds, int nfds) {
  iovec iov{const_cast<void*>(data), size};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  if (nfds < 0 || nfds > 4) return false;
  if (nfds > 0) {
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  for (;;) {
    const ssize_t n = ::sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<std::size_t>(n) == size;
    if (errno != EINTR) return false;
  }
}

/// Receives one packet into `buf` (retrying on EINTR; `flags` as recv's), and into `fds`
/// the descriptors it carried, if they are at most `want`; otherwise they are closed. The
/// entries of `fds` left over hold -1.
inline ssize_t recv_with_fds(int sock, void* buf, std::size_t size, int* fds, int want, int flags = 0) {
  for (int i = 0; i < want; ++i) fds[i] = -1;
  iovec iov{buf, size};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags)) < 0 && errno == EINTR) {
  }
  int taken = 0;
  for (cmsghdr* c = n >= 0 ? CMSG_FIRSTHDR(&mh) : nullptr; c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const bool fits = count <= static_cast<std::size_t>(want - taken);
    for (std::size_t i = 0; i < count; ++i) {
      int got;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      if (fits) {
        fds[taken++] = got;
      } else {
        ::close(got);
      }
    }
  }
  return n;
}

/// Closes the descriptors of `fds` that are open (>= 0).
inline void close_each(std::initializer_list<int> fds) {
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
}

}  // namespace tractor::spawn::forkserver_posix
