// tractor/spawn/detail/title.hpp — a process's title (what `ps` shows as its command line),
// rewritten in place: the forkserver titles itself and the children it forks, and a
// prestarted child takes its real title once it is handed its boot. Private to spawn/.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

namespace tractor::spawn::detail {

/// Where the original command line is in our memory (the same in every fork):
/// /proc/self/stat fields 48 and 49, counted after the parenthesised command name; and, when
/// the environment's strings follow it (fields 50 and 51), those too, once copied out: a
/// program called "./app" leaves 6 bytes, too few for "_subactor[name@uuid]", and the kernel
/// shows a title that runs past the arguments into that area (what setproctitle does).
struct title_area {
  char* start = nullptr;
  std::size_t size = 0;
  bool found = false;  // looked for (in this process or the one it was forked from)
};

inline title_area& title_place() {
  static title_area place;
  return place;
}

inline title_area find_title_area() {
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t at = stat.rfind(')');
  if (at != std::string::npos) at = stat.find(' ', at);  // before field 3
  unsigned long bounds[4] = {0, 0, 0, 0};  // arg_start, arg_end, env_start, env_end
  for (int field = 3; at != std::string::npos && field <= 51; ++field, at = stat.find(' ', at + 1)) {
    if (field >= 48) bounds[field - 48] = std::strtoul(stat.c_str() + at + 1, nullptr, 10);
  }
  if (bounds[0] == 0 || bounds[1] <= bounds[0]) return {nullptr, 0, true};
  if (bounds[2] != bounds[1] || bounds[3] <= bounds[2]) {
    return {reinterpret_cast<char*>(bounds[0]), bounds[1] - bounds[0], true};
  }
  static std::vector<std::string> strings;  // the environment, out of the way
  static std::vector<char*> env;
  for (char** e = environ; *e; ++e) strings.emplace_back(*e);
  for (auto& v : strings) env.push_back(v.data());
  env.push_back(nullptr);
  environ = env.data();
  return {reinterpret_cast<char*>(bounds[0]), bounds[3] - bounds[0], true};
}

/// Makes `title` this process's title (finding where it goes the first time). Only for a
/// process of its own: a thread actor would retitle the program it runs in.
inline void write_title(std::string_view title) {
  title_area& place = title_place();
  if (!place.found) place = find_title_area();
  if (!place.start) return;
  // The new title first, then the rest cleared: a reader of /proc never sees an empty title
  // in between (the test fixture took such a spare for a leaked process).
  const std::size_t n = std::min(title.size(), place.size - 1);
  std::memcpy(place.start, title.data(), n);
  std::memset(place.start + n, 0, place.size - n);
}

}  // namespace tractor::spawn::detail
