// What the forkserver and the actor processes linked to it say to each other, and how
// descriptors travel with it. Private to forkserver.cc.
//
// Each actor process has one SOCK_SEQPACKET link to the server. A request is one packet: a
// header, then the fields (name, uuid, parent address, title, environment), with the child's
// channel to its parent and its handover socket (spawn::prestarted) as SCM_RIGHTS when it has
// them. The answer is one `reply` packet, with the child's pidfd and the read end of its
// status pipe when it was forked.
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

inline constexpr std::uint32_t request_magic = 0x74666b36;  // "tfk6"
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
  bool with_handover;
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
  int handover = -1;
  [[nodiscard]] child_entry entry() const {
    return reinterpret_cast<child_entry>(static_cast<std::uintptr_t>(head.entry));
  }
};

/// The request packet for `req` (false: too big).
inline bool encode_request(const spawn_request& req, std::string& out) {
  const request_header h{request_magic, req.boot.parent_pid, reinterpret_cast<std::uintptr_t>(req.run_child),
                         req.boot.parent_registers, req.boot.channel_fd >= 0, req.boot.handover_fd >= 0,
                         req.boot.taskdump,
                         req.boot.loglevel ? static_cast<std::uint8_t>(*req.boot.loglevel) : std::uint8_t{0}};
  out.assign(reinterpret_cast<const char*>(&h), sizeof h);
  for (const std::string* f : {&req.boot.name, &req.boot.uuid, &req.boot.parent_addr, &req.title, &req.boot.cookie}) {
    out.append(f->c_str(), f->size() + 1);
  }
  for (char** e = environ; e && *e; ++e) out.append(*e, std::strlen(*e) + 1);
  return out.size() <= max_request;
}

/// Parses a request that arrived with descriptors `fds` (the channel, then the handover, each
/// if announced; they stay `fds`'s); false if it is malformed or does not come with what it
/// announces.
inline bool parse(const char* buf, std::size_t n, const tractor::detail::passed_fds& fds, parsed_request& out) {
  if (n < sizeof(request_header)) return false;
  std::memcpy(&out.head, buf, sizeof out.head);
  if (out.head.magic != request_magic || out.head.entry == 0 ||
      fds.count != std::size_t{out.head.with_channel} + std::size_t{out.head.with_handover}) {
    return false;
  }
  out.channel = out.head.with_channel ? fds.at(0) : -1;
  out.handover = out.head.with_handover ? fds.at(fds.count - 1) : -1;
  std::string_view rest(buf + sizeof out.head, n - sizeof out.head);
  for (int i = 0; i < 5; ++i) {
    const std::size_t end = rest.find('\0');
    if (end == std::string_view::npos) return false;
    out.fields[i] = rest.substr(0, end);
    rest.remove_prefix(end + 1);
  }
  out.fields[5] = rest;
  return true;
}

/// Closes the descriptors of `fds` that are open (>= 0).
inline void close_each(std::initializer_list<int> fds) {
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
}

/// Sends one packet, with `fds` (those open); true if it all went.
inline bool send_packet(int sock, const void* data, std::size_t size, std::initializer_list<int> fds) {
  int open[2];
  std::size_t n = 0;
  for (int fd : fds) {
    if (fd >= 0 && n < 2) open[n++] = fd;
  }
  return tractor::detail::send_with_fds(sock, data, size, std::span<const int>(open, n)) == static_cast<ssize_t>(size);
}

}  // namespace tractor::spawn::forkserver_wire
