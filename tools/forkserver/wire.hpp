// What the forkserver and the actor processes linked to it say to each other, and how
// descriptors travel with it. Private to forkserver.cc.
//
// Each actor process has one SOCK_SEQPACKET link to the server. A request is one packet: a
// header, then the fields (name, uuid, parent address, title, environment), with the child's
// channel to its parent as SCM_RIGHTS when the parent made one. The answer is one `reply`
// packet, with the child's pidfd and the read end of its status pipe when it was forked.
#pragma once

#include <tractor/core/detail/descriptor_passing.hpp>
#include <tractor/spawn/backend.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <sys/socket.h>
#include <unistd.h>

namespace tractor::spawn::forkserver_wire {

inline constexpr std::uint32_t request_magic = 0x74666b35;  // "tfk5"
/// Under the default socket send buffer, which bounds a packet.
inline constexpr std::size_t max_request = 160 * 1024;

/// A request's header; then its name, uuid, parent address, title and cookie, each ended by
/// '\0', and the requester's environment ("k=v\0" entries) to the end of the packet.
struct request_header {
  std::uint32_t magic;
  std::int32_t parent_pid;
  std::uint64_t entry;
  bool parent_registers;
  bool with_channel;
  bool taskdump;
  std::uint8_t loglevel;  // a log::level; 0: none
};

/// The answer: `pid` > 0 (with its pidfd and status pipe), or the errno that failed it.
struct reply {
  std::int32_t pid;
  std::int32_t err;
};

struct parsed_request {
  request_header head{};
  std::string_view fields[6];  // name, uuid, parent address, title, cookie, environment
  int channel = -1;
  [[nodiscard]] child_entry entry() const {
    return reinterpret_cast<child_entry>(static_cast<std::uintptr_t>(head.entry));
  }
};

/// The request packet for `req` (false: too big).
inline bool encode_request(const spawn_request& req, std::string& out) {
  const request_header h{request_magic, req.boot.parent_pid, reinterpret_cast<std::uintptr_t>(req.run_child),
                         req.boot.parent_registers, req.boot.channel_fd >= 0, req.boot.taskdump,
                         req.boot.loglevel ? static_cast<std::uint8_t>(*req.boot.loglevel) : std::uint8_t{0}};
  out.assign(reinterpret_cast<const char*>(&h), sizeof h);
  for (const std::string* f : {&req.boot.name, &req.boot.uuid, &req.boot.parent_addr, &req.title, &req.boot.cookie}) {
    out.append(f->c_str(), f->size() + 1);
  }
  for (char** e = environ; e && *e; ++e) out.append(*e, std::strlen(*e) + 1);
  return out.size() <= max_request;
}

/// Parses a request that arrived with `channel` (-1: none); false if it is malformed or
/// the channel is not the one it announces.
inline bool parse(const char* buf, std::size_t n, int channel, parsed_request& out) {
  if (n < sizeof(request_header)) return false;
  std::memcpy(&out.head, buf, sizeof out.head);
  if (out.head.magic != request_magic || out.head.entry == 0 || out.head.with_channel != (channel >= 0)) return false;
  std::string_view rest(buf + sizeof out.head, n - sizeof out.head);
  for (int i = 0; i < 5; ++i) {
    const std::size_t end = rest.find('\0');
    if (end == std::string_view::npos) return false;
    out.fields[i] = rest.substr(0, end);
    rest.remove_prefix(end + 1);
  }
  out.fields[5] = rest;
  out.channel = channel;
  return true;
}

/// Closes the descriptors of `fds` that are open (>= 0).
inline void close_each(std::initializer_list<int> fds) {
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
}

/// Receives one packet, and the descriptor that came with it (-1: none; any more are closed).
inline ssize_t recv_with_fd(int sock, void* buf, std::size_t size, int& fd, int flags = 0) {
  tractor::detail::passed_fds got;
  const ssize_t n = tractor::detail::recv_with_fds(sock, buf, size, got, flags);
  fd = got.take(0);
  got.close_all();
  return n;
}

/// Sends one packet, with `fd` if it is open; true if it all went.
inline bool send_with_fd(int sock, const void* data, std::size_t size, int fd) {
  return tractor::detail::send_with_fds(sock, data, size, std::span<const int>(&fd, fd >= 0 ? 1 : 0)) ==
         static_cast<ssize_t>(size);
}

}  // namespace tractor::spawn::forkserver_wire
