// Definitions for tractor/log/log.hpp that a disabled line reads inline: the thread's
// identity and the process's threshold.
#pragma once

namespace tractor::log {

namespace detail {

struct thread_state {
  const identity* who = nullptr;
  level writing = level::info;  // the level of the line being formatted
};

inline thread_state& this_thread() noexcept {
  static thread_local thread_state s;
  return s;
}

}  // namespace detail

inline level process_threshold() noexcept {
  static const level l = level_from_env().value_or(level::warning);
  return l;
}

inline const identity* current_identity() noexcept { return detail::this_thread().who; }

inline identity_scope::identity_scope(const identity& who) noexcept : previous_(detail::this_thread().who) {
  detail::this_thread().who = &who;
}
inline identity_scope::~identity_scope() { detail::this_thread().who = previous_; }

}  // namespace tractor::log
