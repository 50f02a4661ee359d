// tractor/log/log.hpp — per-actor logging (tractor's `get_logger`, `loglevel=`), over spdlog.
//
//     auto log = tractor::log::get_logger("feeds");
//     log.info("subscribed to {}", symbol);
//
// prints, on stderr, one line that says who wrote it:
//
//     2026-12-04 17:40:01.123 INFO    bob@3f2a1c9d[4711] {feeds::subscribe from root} feeds: subscribed to ES
//
// level, time, the actor's name and short uuid, its pid, the task that logged (when there is
// one) and the logger's name. Levels are tractor's: the standard five plus `runtime` (the
// runtime's own events) and `cancel` (cancellation and teardown), ordered
// trace < debug < runtime < cancel < info < warning < error.
//
// Every actor has its own threshold, so thread actors sharing a process each log as
// themselves, at their own level. The root's is `TRACTOR_LOGLEVEL` if set (it overrides the
// code, as in tractor), else `root_options::loglevel`, else `warning`: a normal run prints
// nothing from the runtime. A child takes `actor_options::loglevel`, else its parent's, and
// passes it on to its own children under every spawn backend.
//
// Output goes through one spdlog logger per process (`sink()`): coloured only when stderr is
// a terminal; add sinks or change the pattern there. Its pattern has three flags of ours:
// `%*` the level, `%&` the actor, `%~` the task. They are filled from the logging thread, so
// sinks must format synchronously (spdlog's default; not its async logger).
#pragma once

#include <tractor/config.hpp>

#include <fmt/core.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace tractor::log {

/// tractor's log levels, least severe first (the values are tractor's, Python's scale).
enum class level : std::uint8_t {
  trace = 5,
  debug = 10,
  runtime = 15,
  cancel = 16,
  info = 20,
  warning = 30,
  error = 40,
  off = 255,
};

/// "trace", "debug", "runtime", "cancel", "info", "warning", "error" or "off".
[[nodiscard]] std::string_view to_string(level l) noexcept;

/// The level named `name`, any case ("warn" and "critical" accepted too); nothing if none is.
[[nodiscard]] std::optional<level> parse_level(std::string_view name) noexcept;

/// `TRACTOR_LOGLEVEL`, if it names a level. A value that names none is reported once, at
/// warning, and ignored.
[[nodiscard]] std::optional<level> level_from_env();

/// Who logs on this thread, and from what level: one per actor, installed by the runtime on
/// the actor's thread for its lifetime.
struct identity {
  std::string name;
  std::string short_uuid;
  level threshold = level::warning;
};

/// Makes `who` the identity of this thread's log lines until destroyed (nests).
class identity_scope {
 public:
  explicit identity_scope(const identity& who) noexcept;
  ~identity_scope();
  identity_scope(const identity_scope&) = delete;
  identity_scope& operator=(const identity_scope&) = delete;

 private:
  const identity* previous_;
};

/// The identity of this thread's log lines; null outside any actor.
[[nodiscard]] const identity* current_identity() noexcept;

/// The threshold of lines written outside any actor (before a root starts, in helper
/// threads): `TRACTOR_LOGLEVEL`, else warning.
[[nodiscard]] level process_threshold() noexcept;

namespace detail {
/// Formats and writes one line (the non-template core under `logger`).
void write(level l, std::string_view component, fmt::string_view format, fmt::format_args args);
}  // namespace detail

/// A named source of log lines (tractor's `get_logger(name)`). Cheap to copy; checking the
/// threshold is one thread-local read, so a disabled line costs no formatting.
class logger {
 public:
  constexpr explicit logger(std::string_view component = "tractor") : component_(component) {}

  /// Whether a line at `l` would be written by this thread now.
  [[nodiscard]] bool enabled(level l) const noexcept {
    const identity* who = current_identity();
    return l >= (who ? who->threshold : process_threshold());
  }

  template <class... Args>
  void log(level l, fmt::format_string<Args...> format, Args&&... args) const {
    if (enabled(l)) detail::write(l, component_, format, fmt::make_format_args(args...));
  }
  template <class... Args>
  void trace(fmt::format_string<Args...> f, Args&&... a) const { log(level::trace, f, std::forward<Args>(a)...); }
  template <class... Args>
  void debug(fmt::format_string<Args...> f, Args&&... a) const { log(level::debug, f, std::forward<Args>(a)...); }
  template <class... Args>
  void runtime(fmt::format_string<Args...> f, Args&&... a) const { log(level::runtime, f, std::forward<Args>(a)...); }
  template <class... Args>
  void cancel(fmt::format_string<Args...> f, Args&&... a) const { log(level::cancel, f, std::forward<Args>(a)...); }
  template <class... Args>
  void info(fmt::format_string<Args...> f, Args&&... a) const { log(level::info, f, std::forward<Args>(a)...); }
  template <class... Args>
  void warning(fmt::format_string<Args...> f, Args&&... a) const { log(level::warning, f, std::forward<Args>(a)...); }
  template <class... Args>
  void error(fmt::format_string<Args...> f, Args&&... a) const { log(level::error, f, std::forward<Args>(a)...); }

  [[nodiscard]] std::string_view name() const noexcept { return component_; }

 private:
  std::string_view component_;
};

/// A logger named `component` (tractor's `get_logger`); the name must outlive it (a literal).
[[nodiscard]] inline logger get_logger(std::string_view component = "tractor") { return logger(component); }

/// The spdlog logger every actor of this process writes through, created on first use with
/// a stderr sink (coloured on a terminal) and the pattern described above.
[[nodiscard]] spdlog::logger& sink();

}  // namespace tractor::log

#include <tractor/log/impl/log.hpp>
#if TRACTOR_HEADER_ONLY
#include <tractor/log/impl/log.ipp>
#endif
