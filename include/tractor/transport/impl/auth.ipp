// tractor/transport/impl/auth.ipp — definitions of auth.hpp.
#pragma once

#include <tractor/transport/auth.hpp>

#include <tractor/log/log.hpp>
#include <tractor/transport/detail/auth_random.hpp>

#include <fmt/core.h>

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
    BOOST_OUTCOME_TRY(auto secret, detail::random_block());
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

}  // namespace tractor::transport::auth
