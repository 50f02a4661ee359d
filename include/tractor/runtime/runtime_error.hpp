// tractor/runtime/runtime_error.hpp — failures of the actor runtime, as a registered enum.
#pragma once

#include <tractor/core/error.hpp>
#include <tractor/core/detail/enum_category.hpp>

namespace tractor {

enum class runtime_errc {
  /// User code in another actor raised, or returned a failed result; the error carries the
  /// boxed type name, message, source actor and relay path.
  remote_actor_error = 1,
  /// The function is not exposed, or its namespace is not enabled for that actor.
  module_not_exposed,
  /// No exposed function has that name.
  unknown_function,
  /// A child actor died or failed before it was ready.
  actor_failure,
  /// A peer answered with a message the protocol does not allow at that point.
  protocol_error,
  /// A context (or a remote task) was cancelled; `error::canceller()` names who asked.
  context_cancelled,
  /// A stream's receiver had no room for an item (and did not allow overruns).
  stream_overrun,
  /// An operation not allowed in this state: `started()` twice, a stream before `started()`
  /// or reopened, a context with oneself.
  invalid_operation,
  /// The runtime cannot do what was asked in this process (tractor's `RuntimeFailure`): a
  /// second root where one already runs.
  runtime_failure,
  /// No actor is registered under the name looked up (`find_actor`).
  actor_not_found,
  /// A broadcast subscriber fell further behind than the broadcast keeps; the items it
  /// missed were skipped.
  lagged,
};

[[nodiscard]] const boost::system::error_category& runtime_category() noexcept;
[[nodiscard]] boost::system::error_code make_error_code(runtime_errc e) noexcept;

}  // namespace tractor

template <>
struct boost::system::is_error_code_enum<tractor::runtime_errc> : std::true_type {};

namespace tractor {

namespace detail {
template <>
struct enum_traits<runtime_errc> {
  static constexpr const char* name = "tractor.runtime";
  static constexpr std::uint64_t id = 0x7472'6163'746f'7203ULL;
  static constexpr const char* describe(runtime_errc e) noexcept {
    switch (e) {
      case runtime_errc::remote_actor_error: return "remote actor error";
      case runtime_errc::module_not_exposed: return "module not exposed";
      case runtime_errc::unknown_function: return "unknown function";
      case runtime_errc::actor_failure: return "actor failure";
      case runtime_errc::protocol_error: return "protocol error";
      case runtime_errc::context_cancelled: return "context cancelled";
      case runtime_errc::stream_overrun: return "stream overrun";
      case runtime_errc::invalid_operation: return "invalid operation";
      case runtime_errc::runtime_failure: return "runtime failure";
      case runtime_errc::actor_not_found: return "actor not found";
      case runtime_errc::lagged: return "subscriber lagged behind";
    }
    return nullptr;
  }
};
}  // namespace detail

inline const boost::system::error_category& runtime_category() noexcept {
  return detail::enum_category<runtime_errc>::instance();
}

inline boost::system::error_code make_error_code(runtime_errc e) noexcept {
  return {static_cast<int>(e), runtime_category()};
}

}  // namespace tractor
