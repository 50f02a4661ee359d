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
#include <mutex>
#include <optional>
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

/// Reads exactly `n` bytes into `out` (through `over` if not null), within the deadline.
inline awaitable<result<void>> read_exactly(stream_socket& s, secure_stream* over, void* out, std::size_t n) {
  auto body = [&]() -> awaitable<result<void>> {
    boost::system::error_code ec;
    if (over) {
      auto got = co_await over->read(s, boost::asio::buffer(out, n));
      ec = std::get<0>(got);
    } else {
      co_await boost::asio::async_read(s, boost::asio::buffer(out, n), boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
    // Aborted: our deadline passed (or whoever waits on us was cancelled).
    if (ec == boost::asio::error::operation_aborted) co_return failed("the peer did not authenticate in time");
    if (ec) co_return failed("the peer closed the connection during authentication (" + ec.message() + ")");
    co_return success();
  };
  auto r = co_await fail_after(deadline(), body());
  if (!r && r.error().code() == make_error_code(errc::timeout)) co_return failed("the peer did not authenticate in time");
  co_return r;
}

inline awaitable<result<void>> write_all(stream_socket& s, secure_stream* over, const std::string& bytes) {
  boost::system::error_code ec;
  if (over) {
    const boost::asio::const_buffer piece = boost::asio::buffer(bytes);
    auto wrote = co_await over->write(s, std::span(&piece, 1));
    ec = std::get<0>(wrote);
  } else {
    co_await boost::asio::async_write(s, boost::asio::buffer(bytes), boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
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

namespace detail {
struct cookie_state {
  std::mutex m;
  std::optional<result<std::string>> value;
};
inline cookie_state& process_cookie() {
  static cookie_state s;
  return s;
}
}  // namespace detail

TRACTOR_DECL result<std::string> cookie() {
  auto& s = detail::process_cookie();
  std::lock_guard lock(s.m);
  if (!s.value) s.value.emplace(load_cookie());
  return *s.value;
}

TRACTOR_DECL void use_cookie(std::string c) {
  auto& s = detail::process_cookie();
  std::lock_guard lock(s.m);
  s.value.emplace(std::move(c));
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

namespace detail {

inline awaitable<result<void>> prove(stream_socket& s, secure_stream* over) {
  if (!enabled()) co_return success();
  const auto key = cookie();
  if (!key) co_return key.error();
  auto mine = nonce();
  if (!mine) co_return mine.error();
  const std::string hello = std::string(magic) + bytes(mine.value());
  auto sent_hello = co_await write_all(s, over, hello);
  if (!sent_hello) co_return sent_hello.error();
  std::array<unsigned char, magic.size() + 64> answer{};
  auto got_answer = co_await read_exactly(s, over, answer.data(), answer.size());
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
  auto mine = nonce();
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
