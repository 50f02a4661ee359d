// What the forkserver and the actor processes linked to it say to each other. Private to
// tools/forkserver/forkserver.cc.
//
// An actor process's request is one packet: a header, then its fields (name, uuid, parent
// address, title, environment), and, as SCM_RIGHTS, the child's channel to its parent if the
// parent made one. It goes to the server, or, if the process holds a spare the server
// offered it, straight to that spare. What the server sends an actor process is one `reply`
// packet: the answer to its request, or the offer of a spare.
#pragma once

#include <tractor/spawn/backend.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tractor::spawn::forkserver_wire {

inline constexpr std::uint32_t request_magic = 0x74666b32;  // "tfk2"
inline constexpr std::size_t max_request = 160 * 1024;

// Request flags.
/// The request carries no environment: the child keeps the server's, which is the same.
inline constexpr std::uint32_t same_environment = 1;
/// The request carries the child's channel to its parent.
inline constexpr std::uint32_t with_channel = 2;
/// The parent keeps the registry (`child_boot::parent_registers`).
inline constexpr std::uint32_t parent_is_registrar = 4;

struct request_header {
  std::uint32_t magic;
  std::uint32_t flags;
  std::int32_t parent_pid;
  std::uint64_t entry;
  std::uint32_t sizes[5];  // name, uuid, parent address, title, environment block
};

/// The server's packets to an actor process.
struct reply {
  enum kind_t : std::int32_t {
    answer,  ///< to a request: `pid` (> 0) with its pidfd and status pipe, or `err`
    offer,   ///< a spare for its next request: its pidfd, status pipe and request socket
  };
  kind_t kind;
  std::int32_t pid;
  std::int32_t err;
};

/// A spare's notes to the server over its link.
struct spare_note {
  enum kind_t : std::uint32_t {
    ready = 1,  ///< prepared: it may be offered or forwarded a request
    taken = 2,  ///< the process it was offered to handed it a request, for `entry`
  };
  kind_t kind;
  std::uint64_t entry;
};

struct parsed_request {
  std::uint32_t flags = 0;
  pid_t parent_pid = 0;
  child_entry entry = nullptr;
  std::string_view fields[5];
  int channel = -1;  // received with it (with_channel)
};

/// The request packet for `req` (false: too big); `env` is the environment block, empty if
/// the flags say `same_environment`.
inline bool encode_request(const spawn_request& req, std::uint32_t flags, std::string_view env, std::string& out) {
  if (req.boot.channel_fd >= 0) flags |= with_channel;
  if (req.boot.parent_registers) flags |= parent_is_registrar;
  const std::string_view fields[5] = {req.boot.name, req.boot.uuid, req.boot.parent_addr, req.title, env};
  request_header h{request_magic, flags, static_cast<std::int32_t>(req.boot.parent_pid),
                   static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(req.run_child)),
                   {}};
  std::size_t total = sizeof h;
  for (int i = 0; i < 5; ++i) {
    h.sizes[i] = static_cast<std::uint32_t>(fields[i].size());
    total += fields[i].size();
  }
  if (total > max_request) return false;
  out.assign(reinterpret_cast<const char*>(&h), sizeof h);
  for (const auto& f : fields) out.append(f);
  return true;
}

/// Parses a request that arrived with `channel` (-1: none); false if it is malformed or the
/// channel is not the one its flags announce.
inline bool parse(const char* buf, std::size_t n, int channel, parsed_request& out) {
  if (n < sizeof(request_header)) return false;
  request_header h;
  std::memcpy(&h, buf, sizeof h);
  if (h.magic != request_magic || h.entry == 0) return false;
  if (((h.flags & with_channel) != 0) != (channel >= 0)) return false;
  std::size_t at = sizeof h;
  for (int i = 0; i < 5; ++i) {
    if (h.sizes[i] > n - at) return false;
    out.fields[i] = std::string_view(buf + at, h.sizes[i]);
    at += h.sizes[i];
  }
  out.flags = h.flags;
  out.parent_pid = h.parent_pid;
  out.entry = reinterpret_cast<child_entry>(static_cast<std::uintptr_t>(h.entry));
  out.channel = channel;
  return true;
}

}  // namespace tractor::spawn::forkserver_wire
