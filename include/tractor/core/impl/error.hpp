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
  std::string source;          // remote errors: the actor that raised it
  std::vector<std::string> relay_path;
  std::string canceller;  // cancellations: the actor that asked
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

inline error::error(boost::system::error_code code, std::string message)
    : code_(code),
      payload_(std::make_shared<const detail::error_payload>(
          detail::error_payload{std::move(message), {}, {}, {}, {}, {}, {}})) {}

inline error error::from_exception(std::exception_ptr ep) noexcept {
  if (!ep) return error(make_error_code(errc::exception));
  try {
    try {
      std::rethrow_exception(ep);
    } catch (const error_exception& e) {
      // Already one of ours: keep the original error, not a box around it.
      return e.error();
    } catch (const boost::system::system_error& e) {
      auto p = detail::error_payload{e.what(), detail::current_exception_type_name(), ep, {}, {}, {}, {}};
      return error(e.code(), std::make_shared<const detail::error_payload>(std::move(p)));
    } catch (const std::exception& e) {
      auto p = detail::error_payload{e.what(), detail::current_exception_type_name(), ep, {}, {}, {}, {}};
      return error(make_error_code(errc::exception),
                   std::make_shared<const detail::error_payload>(std::move(p)));
    } catch (...) {
      auto name = detail::current_exception_type_name();
      auto p = detail::error_payload{"exception of type " + name, name, ep, {}, {}, {}, {}};
      return error(make_error_code(errc::exception),
                   std::make_shared<const detail::error_payload>(std::move(p)));
    }
  } catch (...) {
    // Building the payload failed (out of memory): keep at least the code.
    return error(make_error_code(errc::exception));
  }
}

inline error error::remote(boost::system::error_code code, std::string type_name,
                          std::string message, std::string source,
                          std::vector<std::string> relay_path, std::exception_ptr rebuilt,
                          std::string canceller) {
  auto p = detail::error_payload{std::move(message), std::move(type_name), std::move(rebuilt), {},
                                 std::move(source), std::move(relay_path), std::move(canceller)};
  return error(code, std::make_shared<const detail::error_payload>(std::move(p)));
}

inline error error::cancelled_by(boost::system::error_code code, std::string message,
                                 std::string canceller) {
  auto p = detail::error_payload{std::move(message), {}, {}, {}, {}, {}, std::move(canceller)};
  return error(code, std::make_shared<const detail::error_payload>(std::move(p)));
}

inline std::string_view error::canceller() const noexcept {
  return payload_ ? std::string_view(payload_->canceller) : std::string_view();
}

inline std::string_view error::source() const noexcept {
  return payload_ ? std::string_view(payload_->source) : std::string_view();
}

inline std::span<const std::string> error::relay_path() const noexcept {
  if (!payload_) return {};
  return payload_->relay_path;
}

inline std::string error::message() const {
  if (is_group()) {
    std::string out = std::to_string(payload_->members.size()) + " errors: [";
    for (std::size_t i = 0; i < payload_->members.size(); ++i) {
      if (i) out += "; ";
      out += payload_->members[i].message();
    }
    return out + "]";
  }
  if (payload_ && !payload_->message.empty()) return payload_->message;
  return code_.message();
}

inline std::string error::type_name() const {
  if (payload_ && !payload_->type_name.empty()) return payload_->type_name;
  return code_.category().name();
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

inline void error::throw_exception() const {
  if (auto ep = exception()) std::rethrow_exception(ep);
  throw error_exception(*this);
}

inline error aggregate(std::vector<error> errors) {
  if (errors.empty()) return error();
  if (errors.size() == 1) return std::move(errors.front());
  auto p = detail::error_payload{{}, {}, {}, std::move(errors), {}, {}, {}};
  return error(make_error_code(errc::error_group),
               std::make_shared<const detail::error_payload>(std::move(p)));
}

inline error_exception::error_exception(tractor::error e)
    : std::runtime_error(e.message()), error_(std::move(e)) {}

inline bool is_cancellation(const std::exception_ptr& ep) noexcept {
  if (!ep) return false;
  try {
    std::rethrow_exception(ep);
  } catch (const boost::system::system_error& e) {
    return e.code() == boost::asio::error::operation_aborted || e.code() == errc::cancelled;
  } catch (const error_exception& e) {
    return e.error().is_cancellation();
  } catch (...) {
    return false;
  }
}

inline void throw_cancelled() {
  throw boost::system::system_error(boost::asio::error::operation_aborted, "cancelled");
}

}  // namespace tractor
