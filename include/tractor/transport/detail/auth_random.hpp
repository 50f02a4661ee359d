// What the cookie file and the cookie exchange share (auth.ipp, cookie_exchange.ipp): random
// bytes from the kernel and the error they fail with.
#pragma once

#include <tractor/core/error.hpp>
#include <tractor/msg/wire_error.hpp>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include <sys/random.h>

namespace tractor::transport::auth::detail {

using block = std::array<unsigned char, 32>;

inline error failed(std::string why) { return error(make_error_code(wire_errc::auth_failed), std::move(why)); }

/// 32 bytes from the kernel's generator (getrandom(2), which waits only until the generator
/// is first seeded after boot): a nonce, or a new cookie.
inline result<block> random_block() {
  block b{};
  for (std::size_t got = 0; got < b.size();) {
    const ssize_t n = ::getrandom(b.data() + got, b.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed(std::string("no random bytes (getrandom: ") + std::strerror(errno) + ")");
    got += static_cast<std::size_t>(n);
  }
  return b;
}

}  // namespace tractor::transport::auth::detail
