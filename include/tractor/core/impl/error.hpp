// Definitions for tractor/core/error.hpp.
#pragma once

#include <tractor/core/detail/enum_category.hpp>

#include <boost/asio/error.hpp>
#include <boost/core/demangle.hpp>

#include <cxxabi.h>

#include <typeinfo>

namespace tractor {

namespace detail {

struct error_payload {
  std::string message;
  std::string type_name;  // of the boxed exception
  std::exception_ptr exception;
  std::vector<error> members;  // of a group
  std::shared_ptr<const error_details> details;
};

template <>
struct enum_traits<errc> {
  static constexpr const char* name = "tractor";
  static constexpr std::uint64_t id = 0x7472'6163'746f'7201ULL;
  static constexpr const char* describe(errc e) noexcept {
    switch (e) {
      case errc::cancelled: return "cancelled";
      case errc::timeout: return "deadline passed";
      case errc::end_of_channel: return "end of channel";
      case errc::channel_closed: return "channel closed";
      case errc::would_block: return "operation would block";
      case errc::error_group: return "several errors";
      case errc::exception: return "exception";
      case errc::task_not_started: return "task ended without calling started()";
      case errc::nursery_closed: return "nursery already closed";
    }
    return nullptr;
  }
};

// The name of the exception currently being handled, for any thrown type.
inline std::string current_exception_type_name() {
  const std::type_info* t = abi::__cxa_current_exception_type();
  return t ? boost::core::demangle(t->name()) : std::string("unknown exception");
}

}  // namespace detail

inline const boost::system::error_category& core_category() noexcept {
  return detail::enum_category<errc>::instance();
}

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), core_category()};
}

inline const error_details* error::raw_details() const noexcept {
  return payload_ ? payload_->details.get() : nullptr;
}

inline std::exception_ptr error::exception() const noexcept {
  return payload_ ? payload_->exception : nullptr;
}

inline bool error::is_group() const noexcept {
  return payload_ && code_ == errc::error_group;
}

inline std::span<const error> error::group_members() const noexcept {
  if (!is_group()) return {};
  return payload_->members;
}

inline bool error::is_cancellation() const noexcept {
  return code_ == errc::cancelled || code_ == boost::asio::error::operation_aborted;
}

}  // namespace tractor
