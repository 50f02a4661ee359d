// tractor/msg/wire_error.hpp — failures of the wire layer (codec, framing, transport,
// handshake), as a registered error enum. Every one is a value; none is thrown.
#pragma once

#include <tractor/core/error.hpp>
#include <tractor/core/detail/enum_category.hpp>

namespace tractor {

enum class wire_errc {
  /// The peer closed the connection or reset it (EOF, ECONNRESET, EPIPE).
  transport_closed = 1,
  /// A frame announced more bytes than the channel's maximum frame size.
  frame_too_large,
  /// The bytes of a frame do not decode to any message.
  malformed_frame,
  /// A payload does not decode to the type the receiver expects.
  msg_type_error,
  /// The peer's first message was not an `Aid`.
  handshake_failed,
  /// The peer sent no `Aid` within the handshake timeout.
  handshake_timeout,
  /// A multiaddr that does not parse.
  bad_address,
  /// A multiaddr that parses but names a protocol this transport does not speak.
  unsupported_address,
  /// The channel can no longer be used: an earlier send was interrupted mid-frame, or a
  /// frame could not be read completely.
  channel_broken,
  /// A TCP peer did not prove it knows the tree's cookie (transport/auth.hpp), or could not
  /// check our proof.
  auth_failed,
};

/// The category of `wire_errc`, named "tractor.wire".
[[nodiscard]] const boost::system::error_category& wire_category() noexcept;
[[nodiscard]] boost::system::error_code make_error_code(wire_errc e) noexcept;

}  // namespace tractor

template <>
struct boost::system::is_error_code_enum<tractor::wire_errc> : std::true_type {};

namespace tractor {

namespace detail {
template <>
struct enum_traits<wire_errc> {
  static constexpr const char* name = "tractor.wire";
  static constexpr std::uint64_t id = 0x7472'6163'746f'7202ULL;
  static constexpr const char* describe(wire_errc e) noexcept {
    switch (e) {
      case wire_errc::transport_closed: return "transport closed by peer";
      case wire_errc::frame_too_large: return "frame larger than the maximum frame size";
      case wire_errc::malformed_frame: return "malformed frame";
      case wire_errc::msg_type_error: return "payload does not match the expected type";
      case wire_errc::handshake_failed: return "peer sent an invalid actor handshake";
      case wire_errc::handshake_timeout: return "peer sent no handshake in time";
      case wire_errc::bad_address: return "malformed address";
      case wire_errc::unsupported_address: return "unsupported address";
      case wire_errc::channel_broken: return "channel broken";
      case wire_errc::auth_failed: return "TCP authentication failed";
    }
    return nullptr;
  }
};
}  // namespace detail

inline const boost::system::error_category& wire_category() noexcept {
  return detail::enum_category<wire_errc>::instance();
}

inline boost::system::error_code make_error_code(wire_errc e) noexcept {
  return {static_cast<int>(e), wire_category()};
}

}  // namespace tractor
