// The runtime's loggers, one per part, so that a line says which part of the runtime wrote it.
#pragma once

#include <tractor/log/log.hpp>
#include <tractor/msg/types.hpp>

#include <algorithm>
#include <string_view>

namespace tractor::runtime::logs {

inline constexpr log::logger spawn{"tractor.spawn"};        // spawn and boot
inline constexpr log::logger ipc{"tractor.ipc"};            // channels and handshakes
inline constexpr log::logger rpc{"tractor.rpc"};            // calls served, errors relayed
inline constexpr log::logger cancel{"tractor.cancel"};      // cancel requests, acks, the ladder
inline constexpr log::logger registrar{"tractor.registrar"};
inline constexpr log::logger root{"tractor.root"};

/// The first 8 characters of a uuid, as log lines show it; no copy.
inline std::string_view short8(const std::string& uuid) noexcept { return std::string_view(uuid).substr(0, 8); }

/// An actor's uid as log lines show it (name@short uuid), formatted only if the line is
/// written: arguments of a disabled line cost nothing.
struct short_uid {
  const msg::uid& uid;
};

}  // namespace tractor::runtime::logs

// Written piece by piece: `fmt::format_to` here would instantiate fmt's whole formatting
// engine (floats included) in every file that logs a uid, where fmt's compiled library
// already has it; that was much of those files' compile time.
template <>
struct fmt::formatter<tractor::runtime::logs::short_uid> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const tractor::runtime::logs::short_uid& u, Context& ctx) const {
    const std::string_view name = u.uid.first;
    const std::string_view id = tractor::runtime::logs::short8(u.uid.second);
    auto out = std::copy(name.begin(), name.end(), ctx.out());
    *out++ = '@';
    return std::copy(id.begin(), id.end(), out);
  }
};
