// tractor/core/detail/descriptor_passing.hpp — one message with open descriptors attached
// (SCM_RIGHTS) over a UNIX socket. Shared by the forkserver (a child's channel to the server,
// its pidfd and status pipe back) and the shared-memory transport's handshake (its memory and
// doorbells).
#pragma once

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <span>

#include <sys/socket.h>
#include <unistd.h>

namespace tractor::detail {

/// The most descriptors one message carries here.
inline constexpr std::size_t max_passed_fds = 4;

/// The descriptors received with a message: this process's now (close-on-exec), owned by
/// whoever received them.
struct passed_fds {
  std::array<int, max_passed_fds> fd{-1, -1, -1, -1};
  std::size_t count = 0;
  /// More came than fit (those were closed), or the kernel dropped some.
  bool truncated = false;

  /// The `i`th one received, or -1.
  [[nodiscard]] int at(std::size_t i) const noexcept { return i < count ? fd[i] : -1; }
  /// Takes the `i`th one out (it is not closed by `close_all`); -1 if none.
  int take(std::size_t i) noexcept {
    const int got = at(i);
    if (i < count) fd[i] = -1;
    return got;
  }
  void close_all() noexcept {
    for (int& f : fd) {
      if (f >= 0) ::close(f);
      f = -1;
    }
    count = 0;
  }
};

/// Sends `size` bytes from `data` as one message, with `fds` attached (at most
/// `max_passed_fds`). `flags` are sendmsg's (MSG_NOSIGNAL is added); an interrupted call is
/// retried. Returns what sendmsg returns.
inline ssize_t send_with_fds(int sock, const void* data, std::size_t size, std::span<const int> fds, int flags = 0) {
  if (fds.size() > max_passed_fds) {
    errno = EINVAL;
    return -1;
  }
  iovec iov{const_cast<void*>(data), size};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_passed_fds)] = {};
  if (!fds.empty()) {
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  while ((n = ::sendmsg(sock, &mh, flags | MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  return n;
}

/// Receives one message of at most `size` bytes into `buf`, and the descriptors that came
/// with it into `out` (every one received is in `out` or closed, whatever the result). `flags`
/// are recvmsg's; an interrupted call is retried. Returns what recvmsg returns.
inline ssize_t recv_with_fds(int sock, void* buf, std::size_t size, passed_fds& out, int flags = 0) {
  out = passed_fds{};
  iovec iov{buf, size};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  // Room for more than we keep, to tell "too many" from "as many".
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * (max_passed_fds + 4))] = {};
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n < 0) return n;
  out.truncated = (mh.msg_flags & MSG_CTRUNC) != 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int got;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      if (out.count < max_passed_fds) {
        out.fd[out.count++] = got;
      } else {
        ::close(got);
        out.truncated = true;
      }
    }
  }
  return n;
}

}  // namespace tractor::detail
