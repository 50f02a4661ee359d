// tractor/spawn/detail/handover.hpp — what a prestarted child is sent as its boot
// (spawn/prestarted.hpp): one packet on a SOCK_SEQPACKET pair, a `handover_head`, then the
// name, uuid, parent address, cookie and title, their sizes in the head; the channel to the
// parent, when the runtime made one, travels with it as SCM_RIGHTS. The forkserver's request
// carries the same packet. Private to spawn/ and the forkserver; tests forge packets with it.
#pragma once

#include <tractor/spawn/backend.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tractor::spawn::detail {

struct handover_head {
  std::uint32_t magic;
  std::int32_t parent_pid;
  std::uint8_t parent_registers;
  std::uint8_t taskdump;
  std::uint8_t loglevel;  // a log::level + 1; 0: none
  std::uint8_t with_channel;
  std::uint32_t sizes[5];  // name, uuid, parent address, cookie, title
};
inline constexpr std::uint32_t handover_magic = 0x74686f32;  // "tho2"
/// Bounds a boot (mostly its cookie); far below a packet's limit.
inline constexpr std::size_t max_handover = 64 * 1024;

/// The packet for `req`'s boot and title (its channel goes beside it).
inline std::string handover_packet(const spawn_request& req) {
  const child_boot& boot = req.boot;
  const std::string* fields[5] = {&boot.name, &boot.uuid, &boot.parent_addr, &boot.cookie, &req.title};
  handover_head head{handover_magic, boot.parent_pid, boot.parent_registers, boot.taskdump,
                     static_cast<std::uint8_t>(boot.loglevel ? static_cast<int>(*boot.loglevel) + 1 : 0),
                     boot.channel_fd >= 0, {}};
  std::string packet(sizeof head, '\0');
  for (int i = 0; i < 5; ++i) {
    head.sizes[i] = static_cast<std::uint32_t>(fields[i]->size());
    packet += *fields[i];
  }
  std::memcpy(packet.data(), &head, sizeof head);
  return packet;
}

/// Reads a packet of `handover_packet`'s from the front of `packet` into `boot`'s fields
/// (not its descriptors) and `title`, and steps past it; `with_channel`: whether a channel
/// was announced to travel beside it. False if the front of `packet` is not one.
inline bool read_boot(std::string_view& packet, child_boot& boot, std::string& title, bool& with_channel) {
  handover_head head{};
  if (packet.size() < sizeof head) return false;
  std::memcpy(&head, packet.data(), sizeof head);
  if (head.magic != handover_magic) return false;
  packet.remove_prefix(sizeof head);
  std::string* fields[5] = {&boot.name, &boot.uuid, &boot.parent_addr, &boot.cookie, &title};
  for (int i = 0; i < 5; ++i) {
    if (head.sizes[i] > packet.size()) return false;
    fields[i]->assign(packet.substr(0, head.sizes[i]));
    packet.remove_prefix(head.sizes[i]);
  }
  boot.parent_pid = head.parent_pid;
  boot.parent_registers = head.parent_registers != 0;
  boot.taskdump = head.taskdump != 0;
  boot.loglevel = head.loglevel ? std::optional<log::level>(static_cast<log::level>(head.loglevel - 1)) : std::nullopt;
  with_channel = head.with_channel != 0;
  return true;
}

}  // namespace tractor::spawn::detail
