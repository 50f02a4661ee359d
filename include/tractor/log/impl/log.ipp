// Definitions for tractor/log/log.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/log/log.hpp>

#include <tractor/core/detail/task_info.hpp>

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <memory>

namespace tractor::log {

namespace detail {

struct level_name {
  level l;
  std::string_view name;
};
inline constexpr std::array<level_name, 8> level_names{{{level::trace, "trace"},
                                                        {level::debug, "debug"},
                                                        {level::runtime, "runtime"},
                                                        {level::cancel, "cancel"},
                                                        {level::info, "info"},
                                                        {level::warning, "warning"},
                                                        {level::error, "error"},
                                                        {level::off, "off"}}};

/// spdlog's level for ours: it picks the colour, and lets a user's own sinks filter.
TRACTOR_DECL spdlog::level::level_enum spdlog_level(level l) noexcept {
  switch (l) {
    case level::trace: return spdlog::level::trace;
    case level::debug:
    case level::runtime: return spdlog::level::debug;
    case level::cancel:
    case level::info: return spdlog::level::info;
    case level::warning: return spdlog::level::warn;
    default: return spdlog::level::err;
  }
}

/// `%*`: the line's level, upper case, padded to the longest name.
class level_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string_view name = to_string(this_thread().writing);
    for (char c : name) dest.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    for (std::size_t i = name.size(); i < 7; ++i) dest.push_back(' ');
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<level_flag>();
  }
};

/// `%&`: the actor, as name@short-uuid ("-" outside any actor).
class actor_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    const identity* who = this_thread().who;
    if (!who) {
      dest.push_back('-');
      return;
    }
    dest.append(who->name.data(), who->name.data() + who->name.size());
    dest.push_back('@');
    dest.append(who->short_uuid.data(), who->short_uuid.data() + who->short_uuid.size());
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<actor_flag>();
  }
};

/// `%~`: "{task} " when the line comes from a named task (the core knows which task runs), else
/// nothing.
class task_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    const tractor::detail::task_info* task = tractor::detail::current_task();
    if (!task || task->name.empty()) return;
    dest.push_back('{');
    dest.append(task->name.data(), task->name.data() + task->name.size());
    dest.append(std::string_view("} "));
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<task_flag>();
  }
};

TRACTOR_DECL std::shared_ptr<spdlog::logger> make_sink() {
  auto out = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(spdlog::color_mode::automatic);
  auto l = std::make_shared<spdlog::logger>("tractor", std::move(out));
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<level_flag>('*').add_flag<actor_flag>('&').add_flag<task_flag>('~');
  f->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%*%$ %&[%P] %~%v");
  l->set_formatter(std::move(f));
  l->set_level(spdlog::level::trace);  // thresholds are ours, per actor
  return l;
}

}  // namespace detail

TRACTOR_DECL std::string_view to_string(level l) noexcept {
  for (const auto& n : detail::level_names) {
    if (n.l == l) return n.name;
  }
  return "?";
}

TRACTOR_DECL std::optional<level> parse_level(std::string_view name) noexcept {
  std::string lower(name.size(), '\0');
  std::transform(name.begin(), name.end(), lower.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  if (lower == "warn") return level::warning;
  if (lower == "critical") return level::error;
  for (const auto& n : detail::level_names) {
    if (n.name == lower) return n.l;
  }
  return std::nullopt;
}

TRACTOR_DECL std::optional<level> level_from_env() {
  const char* v = std::getenv("TRACTOR_LOGLEVEL");
  if (!v || !*v) return std::nullopt;
  if (auto l = parse_level(v)) return l;
  static const bool reported = [v] {
    detail::write(level::warning, "tractor", "TRACTOR_LOGLEVEL={} names no log level; ignored",
                  fmt::make_format_args(v));
    return true;
  }();
  (void)reported;
  return std::nullopt;
}

TRACTOR_DECL spdlog::logger& sink() {
  static const std::shared_ptr<spdlog::logger> l = detail::make_sink();
  return *l;
}

TRACTOR_DECL void detail::write(level l, std::string_view component, fmt::string_view format, fmt::format_args args) {
  // `vformat`, compiled in fmt's library, not `vformat_to`, a template that would bring fmt's
  // formatting engine into this file.
  std::string line(component);
  line += ": ";
  line += fmt::vformat(format, args);
  thread_state& s = this_thread();
  const level before = s.writing;
  s.writing = l;
  sink().log(spdlog_level(l), std::string_view(line));
  s.writing = before;
}

}  // namespace tractor::log
