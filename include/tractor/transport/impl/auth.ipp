// tractor/transport/impl/auth.ipp — definitions of auth.hpp.
#pragma once

#include <tractor/transport/auth.hpp>

#include <tractor/log/log.hpp>

#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fmt/core.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tractor::transport::auth {

namespace detail {

inline constexpr std::string_view magic = "TRCAUTH1";
using block = std::array<unsigned char, 32>;

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

inline result<block> nonce() {
  block b{};
  if (::RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    return error(make_error_code(wire_errc::auth_failed), "no random bytes for a nonce (OpenSSL RAND_bytes)");
  }
  return b;
}

inline error failed(std::string why) { return error(make_error_code(wire_errc::auth_failed), std::move(why)); }

/// Reads exactly `n` bytes into `out`, within the deadline.
inline awaitable<result<void>> read_exactly(stream_socket& s, void* out, std::size_t n) {
  auto body = [&]() -> awaitable<result<void>> {
    boost::system::error_code ec;
    co_await boost::asio::async_read(s, boost::asio::buffer(out, n), boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    // Aborted: our deadline passed (or whoever waits on us was cancelled).
    if (ec == boost::asio::error::operation_aborted) co_return failed("the peer did not authenticate in time");
    if (ec) co_return failed("the peer closed the connection during authentication (" + ec.message() + ")");
    co_return success();
  };
  auto r = co_await fail_after(deadline(), body());
  if (!r && r.error().code() == make_error_code(errc::timeout)) co_return failed("the peer did not authenticate in time");
  co_return r;
}

inline awaitable<result<void>> write_all(stream_socket& s, const std::string& bytes) {
  boost::system::error_code ec;
  co_await boost::asio::async_write(s, boost::asio::buffer(bytes), boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  if (ec) co_return failed("cannot send during authentication: " + ec.message());
  co_return success();
}

inline std::string bytes(const block& b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

inline std::string cookie_path() {
  const char* config = std::getenv("XDG_CONFIG_HOME");
  if (config && *config) return std::string(config) + "/tractor/cookie";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.config/tractor/cookie";
}

inline double number_from_env(const char* var, double fallback) {
  const char* v = std::getenv(var);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  return end != v && *end == '\0' && d > 0 ? d : fallback;
}

}  // namespace detail

TRACTOR_DECL result<std::string> load_cookie() {
  if (const char* env = std::getenv("TRACTOR_COOKIE"); env && *env) return std::string(env);
  const std::string path = detail::cookie_path();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    // First use: 32 random bytes, hex, in a file only we may read (made whole, then linked in
    // place, so that a concurrent first use never reads half of one).
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    BOOST_OUTCOME_TRY(auto secret, detail::nonce());
    std::string hex;
    for (const unsigned char c : secret) hex += fmt::format("{:02x}", c);
    const std::string tmp = path + ".new." + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return detail::failed("cannot create the cookie file " + tmp + ": " + std::strerror(errno));
    const bool written = ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size());
    ::close(fd);
    if (!written || (::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST)) {
      ::unlink(tmp.c_str());
      return detail::failed("cannot create the cookie file " + path + ": " + std::strerror(errno));
    }
    ::unlink(tmp.c_str());
    if (::stat(path.c_str(), &st) != 0) return detail::failed("cannot read the cookie file " + path);
  }
  if ((st.st_mode & 077) != 0) {
    return detail::failed(fmt::format("the cookie file {} may be read by others (mode {:o}); chmod 600 it", path,
                                      st.st_mode & 0777));
  }
  if (st.st_uid != ::geteuid()) return detail::failed("the cookie file " + path + " belongs to another user");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  std::string c = content.str();
  while (!c.empty() && (c.back() == '\n' || c.back() == '\r' || c.back() == ' ')) c.pop_back();
  if (c.empty()) return detail::failed("the cookie file " + path + " is empty or unreadable");
  return c;
}

TRACTOR_DECL const result<std::string>& cookie() {
  static const result<std::string> c = load_cookie();
  return c;
}

TRACTOR_DECL bool enabled() {
  static const bool on = [] {
    const char* v = std::getenv("TRACTOR_TCP_AUTH");
    const bool off = v && std::string_view(v) == "off";
    if (off) {
      log::get_logger("tractor.auth")
          .warning("TRACTOR_TCP_AUTH=off: TCP connections are NOT authenticated; anyone who can reach this "
                   "process's port can call, cancel and register");
    }
    return !off;
  }();
  return on;
}

TRACTOR_DECL clock::duration deadline() {
  static const auto d = std::chrono::duration_cast<clock::duration>(
      std::chrono::duration<double>(detail::number_from_env("TRACTOR_AUTH_DEADLINE", 3.0)));
  return d;
}

TRACTOR_DECL std::size_t max_pending() {
  static const auto n = static_cast<std::size_t>(detail::number_from_env("TRACTOR_AUTH_PENDING_MAX", 64));
  return n;
}

TRACTOR_DECL awaitable<result<void>> prove(stream_socket& s) {
  if (!enabled()) co_return success();
  const auto& key = cookie();
  if (!key) co_return key.error();
  auto mine = detail::nonce();
  if (!mine) co_return mine.error();
  const std::string hello = std::string(detail::magic) + detail::bytes(mine.value());
  auto sent_hello = co_await detail::write_all(s, hello);
  if (!sent_hello) co_return sent_hello.error();
  std::array<unsigned char, detail::magic.size() + 64> answer{};
  auto got_answer = co_await detail::read_exactly(s, answer.data(), answer.size());
  if (!got_answer) co_return got_answer.error();
  if (std::memcmp(answer.data(), detail::magic.data(), detail::magic.size()) != 0) {
    co_return detail::failed("the peer does not speak tractor's TCP authentication");
  }
  detail::block theirs{};
  detail::block their_proof{};
  std::memcpy(theirs.data(), answer.data() + detail::magic.size(), 32);
  std::memcpy(their_proof.data(), answer.data() + detail::magic.size() + 32, 32);
  const auto expected = detail::proof(key.value(), "server", mine.value(), theirs);
  if (::CRYPTO_memcmp(expected.data(), their_proof.data(), expected.size()) != 0) {
    co_return detail::failed("the peer does not know this tree's cookie");
  }
  co_return co_await detail::write_all(s, detail::bytes(detail::proof(key.value(), "client", mine.value(), theirs)));
}

TRACTOR_DECL awaitable<result<void>> check(stream_socket& s) {
  if (!enabled()) co_return success();
  const auto& key = cookie();
  if (!key) co_return key.error();
  std::array<unsigned char, detail::magic.size() + 32> hello{};
  auto got_hello = co_await detail::read_exactly(s, hello.data(), hello.size());
  if (!got_hello) co_return got_hello.error();
  if (std::memcmp(hello.data(), detail::magic.data(), detail::magic.size()) != 0) {
    co_return detail::failed("the peer spoke before authenticating");
  }
  detail::block theirs{};
  std::memcpy(theirs.data(), hello.data() + detail::magic.size(), 32);
  auto mine = detail::nonce();
  if (!mine) co_return mine.error();
  const std::string answer =
      std::string(detail::magic) + detail::bytes(mine.value()) + detail::bytes(detail::proof(key.value(), "server", theirs, mine.value()));
  auto sent_answer = co_await detail::write_all(s, answer);
  if (!sent_answer) co_return sent_answer.error();
  detail::block their_proof{};
  auto got_proof = co_await detail::read_exactly(s, their_proof.data(), their_proof.size());
  if (!got_proof) co_return got_proof.error();
  const auto expected = detail::proof(key.value(), "client", theirs, mine.value());
  if (::CRYPTO_memcmp(expected.data(), their_proof.data(), expected.size()) != 0) {
    co_return detail::failed("the peer does not know this tree's cookie");
  }
  co_return success();
}

}  // namespace tractor::transport::auth
