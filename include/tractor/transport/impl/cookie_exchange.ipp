// tractor/transport/impl/cookie_exchange.ipp — definitions of the cookie exchange declared in
// tcp.hpp (`auth::prove`, `auth::check`): the one part of TCP's authentication that needs
// OpenSSL's libcrypto (HMAC-SHA256, constant-time comparison), compiled with the tcp transport.
#pragma once

#include <tractor/transport/tcp.hpp>

#include <tractor/transport/detail/auth_random.hpp>

#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstring>
#include <string>
#include <string_view>

namespace tractor::transport::auth {

namespace detail {

inline constexpr std::string_view magic = "TRCAUTH1";

/// HMAC-SHA256(key, side | a | b).
inline block proof(std::string_view key, std::string_view side, const block& a, const block& b) {
  std::string data(side);
  data.append(reinterpret_cast<const char*>(a.data()), a.size());
  data.append(reinterpret_cast<const char*>(b.data()), b.size());
  block out{};
  unsigned int len = 0;
  ::HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), out.data(), &len);
  return out;
}

/// The code of a read or write that failed during the exchange: `closed` where the peer had
/// closed the connection, else `auth_failed`.
inline wire_errc code_of(const boost::system::error_code& ec, wire_errc closed) {
  const bool gone = ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset ||
                    ec == boost::asio::error::broken_pipe;
  return gone ? closed : wire_errc::auth_failed;
}

/// Reads exactly `n` bytes into `out` (through `over` if not null), within the deadline.
inline awaitable<result<void>> read_exactly(stream_socket& s, secure_stream* over, void* out, std::size_t n,
                                            wire_errc closed = wire_errc::auth_failed) {
  auto body = [&]() -> awaitable<result<void>> {
    boost::system::error_code ec;
    if (over) {
      auto got = co_await over->read(s, boost::asio::buffer(out, n));
      ec = std::get<0>(got);
    } else {
      co_await boost::asio::async_read(s, boost::asio::buffer(out, n),
                                       boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
    // Aborted: our deadline passed (or whoever waits on us was cancelled).
    if (ec == boost::asio::error::operation_aborted) co_return failed("the peer did not authenticate in time");
    if (ec) {
      co_return error(make_error_code(code_of(ec, closed)),
                      "the peer closed the connection during authentication (" + ec.message() + ")");
    }
    co_return success();
  };
  auto r = co_await fail_after(deadline(), body());
  if (!r && r.error().code() == make_error_code(errc::timeout)) {
    co_return failed("the peer did not authenticate in time");
  }
  co_return r;
}

/// Writes all of `bytes` (through `over` if not null).
inline awaitable<result<void>> write_all(stream_socket& s, secure_stream* over, const std::string& bytes,
                                         wire_errc closed = wire_errc::auth_failed) {
  boost::system::error_code ec;
  if (over) {
    const boost::asio::const_buffer piece = boost::asio::buffer(bytes);
    auto wrote = co_await over->write(s, std::span(&piece, 1));
    ec = std::get<0>(wrote);
  } else {
    co_await boost::asio::async_write(s, boost::asio::buffer(bytes),
                                      boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
  if (ec) co_return error(make_error_code(code_of(ec, closed)), "cannot send during authentication: " + ec.message());
  co_return success();
}

inline std::string bytes(const block& b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

inline awaitable<result<void>> prove(stream_socket& s, secure_stream* over) {
  if (!enabled()) co_return success();
  const auto key = cookie();
  if (!key) co_return key.error();
  auto mine = random_block();
  if (!mine) co_return mine.error();
  const std::string hello = std::string(magic) + bytes(mine.value());
  auto sent_hello = co_await write_all(s, over, hello, wire_errc::transport_closed);
  if (!sent_hello) co_return sent_hello.error();
  std::array<unsigned char, magic.size() + 64> answer{};
  // Closed before it answered: an actor at its cap of connections still authenticating closes
  // the oldest silent one, and a hello that came late on a loaded host may be it.
  auto got_answer = co_await read_exactly(s, over, answer.data(), answer.size(), wire_errc::transport_closed);
  if (!got_answer) co_return got_answer.error();
  if (std::memcmp(answer.data(), magic.data(), magic.size()) != 0) {
    co_return failed("the peer does not speak tractor's TCP authentication");
  }
  block theirs{};
  block their_proof{};
  std::memcpy(theirs.data(), answer.data() + magic.size(), 32);
  std::memcpy(their_proof.data(), answer.data() + magic.size() + 32, 32);
  const auto expected = proof(key.value(), "server", mine.value(), theirs);
  if (::CRYPTO_memcmp(expected.data(), their_proof.data(), expected.size()) != 0) {
    co_return failed("the peer does not know this tree's cookie");
  }
  co_return co_await write_all(s, over, bytes(proof(key.value(), "client", mine.value(), theirs)));
}

inline awaitable<result<void>> check(stream_socket& s, secure_stream* over) {
  if (!enabled()) co_return success();
  const auto key = cookie();
  if (!key) co_return key.error();
  std::array<unsigned char, magic.size() + 32> hello{};
  auto got_hello = co_await read_exactly(s, over, hello.data(), hello.size());
  if (!got_hello) co_return got_hello.error();
  if (std::memcmp(hello.data(), magic.data(), magic.size()) != 0) {
    co_return failed("the peer spoke before authenticating");
  }
  block theirs{};
  std::memcpy(theirs.data(), hello.data() + magic.size(), 32);
  auto mine = random_block();
  if (!mine) co_return mine.error();
  const std::string answer =
      std::string(magic) + bytes(mine.value()) + bytes(proof(key.value(), "server", theirs, mine.value()));
  auto sent_answer = co_await write_all(s, over, answer);
  if (!sent_answer) co_return sent_answer.error();
  block their_proof{};
  auto got_proof = co_await read_exactly(s, over, their_proof.data(), their_proof.size());
  if (!got_proof) co_return got_proof.error();
  const auto expected = proof(key.value(), "client", theirs, mine.value());
  if (::CRYPTO_memcmp(expected.data(), their_proof.data(), expected.size()) != 0) {
    co_return failed("the peer does not know this tree's cookie");
  }
  co_return success();
}

}  // namespace detail

TRACTOR_DECL awaitable<result<void>> prove(stream_socket& s) { return detail::prove(s, nullptr); }
TRACTOR_DECL awaitable<result<void>> check(stream_socket& s) { return detail::check(s, nullptr); }
TRACTOR_DECL awaitable<result<void>> prove(stream_socket& s, secure_stream& over) { return detail::prove(s, &over); }
TRACTOR_DECL awaitable<result<void>> check(stream_socket& s, secure_stream& over) { return detail::check(s, &over); }


}  // namespace tractor::transport::auth
