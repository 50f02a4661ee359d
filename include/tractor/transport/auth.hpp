// tractor/transport/auth.hpp — cookie authentication of TCP connections, before any tractor
// message (Erlang distribution's shared cookie, with a challenge from each side).
//
// Both sides prove that they know the tree's cookie without sending it: the connecting side
// sends a fresh nonce; the accepting side answers with a nonce of its own and
// HMAC-SHA256(cookie, "server" | client nonce | server nonce); the connecting side checks that
// (constant-time) and answers HMAC-SHA256(cookie, "client" | client nonce | server nonce),
// which the accepting side checks. Each proof covers both nonces, so a recorded exchange
// replayed on a new connection fails: the other side's nonce is new. It costs the connecting
// side one round trip (its proof travels with its first tractor frame). It authenticates the
// peer at connection time; it does not encrypt or sign the frames that follow (a TLS
// transport does that).
//
// The cookie is TRACTOR_COOKIE when set, else the content of
// `$XDG_CONFIG_HOME/tractor/cookie` (`~/.config/tractor/cookie`), created with mode 0600 and
// 32 random bytes (hex) on first use, and refused if its group or others may read it; or
// what the program gave `use_cookie`. A child actor gets its parent's cookie through its spawn
// bootstrap (in memory, or for an `exec` child through a pipe), never on its command line or
// in its environment. TRACTOR_TCP_AUTH=off turns authentication off on both sides, with a
// warning logged once per process.
#pragma once

#include <tractor/config.hpp>

#include <tractor/core/cancel_scope.hpp>
#include <tractor/core/error.hpp>
#include <tractor/transport/connection.hpp>
#include <tractor/transport/transport.hpp>

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

/// The connecting side's part, on a socket just connected. Fails (`wire_errc::auth_failed`)
/// if the peer does not answer the challenge within `deadline()` or does not know the cookie;
/// the caller closes the socket.
///
/// Cancellation: interrupted at once (`operation_aborted`).
awaitable<result<void>> prove(stream_socket& s);

/// The accepting side's part, on a socket just accepted. Reads a fixed number of bytes at
/// each step (nothing else is read before the peer has proven itself), and fails
/// (`wire_errc::auth_failed`) on anything but a valid proof within `deadline()`.
///
/// Cancellation: interrupted at once (`operation_aborted`).
awaitable<result<void>> check(stream_socket& s);

/// As `prove` and `check`, inside secure session `over` (transport/tls.hpp).
///
/// Cancellation: interrupted at once (`operation_aborted`).
awaitable<result<void>> prove(stream_socket& s, secure_stream& over);
awaitable<result<void>> check(stream_socket& s, secure_stream& over);

}  // namespace tractor::transport::auth

#if TRACTOR_HEADER_ONLY
#include <tractor/transport/impl/auth.ipp>
#endif
