// tractor's log lines taken apart, for tests that read a tree's stderr as a user does.
#pragma once

#include <algorithm>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace tractor::testing {

/// One line of the log, taken apart.
struct line {
  std::string level, actor, uuid, task, component, text;
  int pid = 0;
};

/// `l` taken apart if it has the shape of a log line: "2026-12-04 17:40:01.123 LEVEL
/// actor@1234abcd[pid] {task} component: text", the task part optional. (Parsed by hand:
/// g++ 12 misreports <regex> as maybe-uninitialized under the sanitizers.)
inline std::optional<line> parse_line(std::string_view l) {
  auto digits = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  auto take_until = [&l](char end) -> std::optional<std::string_view> {
    const auto at = l.find(end);
    if (at == std::string_view::npos) return std::nullopt;
    const std::string_view part = l.substr(0, at);
    l.remove_prefix(at + 1);
    return part;
  };
  static constexpr std::string_view stamp = "dddd-dd-dd dd:dd:dd.ddd ";
  if (l.size() < stamp.size()) return std::nullopt;
  for (std::size_t i = 0; i < stamp.size(); ++i) {
    if (stamp[i] == 'd' ? !digits(l.substr(i, 1)) : l[i] != stamp[i]) return std::nullopt;
  }
  l.remove_prefix(stamp.size());
  line out;
  const auto level = take_until(' ');
  if (!level || level->empty() ||
      !std::all_of(level->begin(), level->end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return std::nullopt;
  }
  out.level = *level;
  while (!l.empty() && l.front() == ' ') l.remove_prefix(1);
  const auto actor = take_until('@');
  const auto uuid = take_until('[');
  const auto pid = take_until(']');
  if (!actor || actor->empty() || actor->find(' ') != std::string_view::npos || !uuid || uuid->size() != 8 ||
      uuid->find_first_not_of("0123456789abcdef") != std::string_view::npos || !pid || !digits(*pid) ||
      l.empty() || l.front() != ' ') {
    return std::nullopt;
  }
  out.actor = *actor;
  out.uuid = *uuid;
  out.pid = std::stoi(std::string(*pid));
  l.remove_prefix(1);
  if (!l.empty() && l.front() == '{') {
    l.remove_prefix(1);
    const auto task = take_until('}');
    if (!task || l.empty() || l.front() != ' ') return std::nullopt;
    out.task = *task;
    l.remove_prefix(1);
  }
  const auto colon = l.find(": ");
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view component = l.substr(0, colon);
  if (component.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") !=
      std::string_view::npos) {
    return std::nullopt;
  }
  out.component = component;
  out.text = l.substr(colon + 2);
  return out;
}

inline std::vector<line> parse_log(const std::string& err, std::vector<std::string>& unparsed) {
  std::vector<line> out;
  std::istringstream in(err);
  std::string l;
  while (std::getline(in, l)) {
    if (auto parsed = parse_line(l)) {
      out.push_back(std::move(*parsed));
    } else {
      unparsed.push_back(l);
    }
  }
  return out;
}

}  // namespace tractor::testing
