// Test helper: an archetype of each policy concept (spawn backend, transport, codec): the
// least a model must have for the runtime to compose it into a tree, with every member the
// runtime uses and the signature it expects. A user writing a policy starts from these; the
// archetype test composes all three into a tree and runs actors over it, so they stay
// checked against the runtime. The work itself is delegated to the library's models.
#pragma once

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/spawn/thread.hpp>
#include <tractor/transport/uds.hpp>

#include <memory>
#include <string_view>

namespace tractor::testing::archetypes {

/// A spawn backend: a name and a static `start`. Optional, not used here: `adopts_channel`
/// (the child is handed a connected socket: see `spawn::adopts_channel`), `carries_handover`
/// (the child is handed `child_boot::handover_fd`, what `spawn::prestarted` needs) and a
/// per-program `session` type (see `spawn::session`). Without them the child connects back.
struct backend {
  static constexpr std::string_view name = "archetype-spawn";
  static result<std::unique_ptr<tractor::spawn::child_handle>> start(const boost::asio::any_io_executor& ex,
                                                            const tractor::spawn::spawn_request& req) {
    return tractor::spawn::thread::start(ex, req);
  }
};

/// A transport: addresses it serves, where actors bind, the default registrar, listening
/// and connecting.
struct transport {
  static constexpr std::string_view name = "archetype-transport";
  static bool accepts(const tractor::transport::multiaddr& a) { return tractor::transport::uds::accepts(a); }
  static tractor::transport::multiaddr bind_addr(std::string_view actor_name) {
    return tractor::transport::uds::bind_addr(actor_name);
  }
  static tractor::transport::multiaddr default_registry() { return tractor::transport::uds::default_registry(); }
  static result<tractor::transport::listener> listen(const boost::asio::any_io_executor& ex, const tractor::transport::multiaddr& a) {
    return tractor::transport::uds::listen(ex, a);
  }
  static awaitable<result<tractor::transport::stream_socket>> connect(const boost::asio::any_io_executor& ex,
                                                             const tractor::transport::multiaddr& a) {
    return tractor::transport::uds::connect(ex, a);
  }
};

/// A codec: messages to bytes and back (decoding never throws), and payloads of any type
/// the exposed functions use. Optional, not used here: `decode_into`, `encode_payload_into`.
struct codec {
  static constexpr std::string_view name = "archetype-codec";
  static void encode(const msg::msg& m, std::string& out) { tractor::codec::cereal_binary::encode(m, out); }
  static result<msg::msg> decode(std::span<const std::byte> in) { return tractor::codec::cereal_binary::decode(in); }
  template <class T>
  static msg::raw_pld encode_payload(const T& value) {
    return tractor::codec::cereal_binary::encode_payload(value);
  }
  template <class T>
  static result<T> decode_payload(const msg::raw_pld& p) {
    return tractor::codec::cereal_binary::decode_payload<T>(p);
  }
};

}  // namespace tractor::testing::archetypes
