// tractor/transport/auth.hpp — the tree's cookie and the settings of cookie authentication
// (Erlang distribution's shared cookie, with a challenge from each side), which the runtime
// applies to TCP connections before any tractor message. The exchange itself (`auth::prove`,
// `auth::check`, over OpenSSL's HMAC-SHA256) is tcp.hpp's: a tree that uses no TCP links no
// libcrypto.
//
// The cookie is TRACTOR_COOKIE when set, else the content of
// `$XDG_CONFIG_HOME/tractor/cookie` (`~/.config/tractor/cookie`), created with mode 0600 and
// 32 random bytes (hex, from getrandom(2)) on first use, and refused if its group or others
// may read it; or what the program gave `use_cookie`. A child actor gets its parent's cookie
// through its spawn bootstrap (in memory, or for an `exec` child through a pipe), never on its
// command line or in its environment. TRACTOR_TCP_AUTH=off turns authentication off on both
// sides, with a warning logged once per process.
#pragma once

#include <tractor/config.hpp>

#include <tractor/core/cancel_scope.hpp>
#include <tractor/core/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace tractor::transport::auth {

/// Reads the cookie as described above (TRACTOR_COOKIE, else the file, made if missing).
/// Errors say which file and why (unreadable, readable by others, empty).
result<std::string> load_cookie();

/// This process's cookie: the one given to `use_cookie`, else loaded on first use and kept (an
/// error stays an error).
result<std::string> cookie();

/// Makes `c` this process's cookie (and its children's, through their bootstrap): for a
/// program that keeps its secret elsewhere than TRACTOR_COOKIE or the cookie file, and for a
/// child runtime given its parent's. Call it before the first connection; connections
/// authenticate with the cookie of the moment they start.
void use_cookie(std::string c);

/// Whether TCP connections are authenticated: yes unless TRACTOR_TCP_AUTH=off.
bool enabled();

/// How long one side waits for the other's part of the exchange: TRACTOR_AUTH_DEADLINE
/// (seconds), else 3 s.
clock::duration deadline();

/// How many accepted connections an actor lets authenticate at once; beyond that the oldest of
/// them is closed to let the new one try: TRACTOR_AUTH_PENDING_MAX, else 64.
std::size_t max_pending();

}  // namespace tractor::transport::auth

#if TRACTOR_HEADER_ONLY
#include <tractor/transport/impl/auth.ipp>
#endif
