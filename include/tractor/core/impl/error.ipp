// Definitions for tractor/core/error.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/core/error.hpp>

namespace tractor {

TRACTOR_DECL error::error(boost::system::error_code code, std::string message)
    : code_(code),
      payload_(std::make_shared<const detail::error_payload>(
          detail::error_payload{std::move(message), {}, {}, {}, {}})) {}

TRACTOR_DECL error error::from_errno(int err, const std::string& what) {
  const boost::system::error_code code(err, boost::system::system_category());
  return error(code, what + ": " + code.message());
}

TRACTOR_DECL error detail::box_caught(const boost::system::system_error& e, std::exception_ptr ep) noexcept {
  try {
    return error::with_details(e.code(), e.what(), current_exception_type_name(), std::move(ep), nullptr);
  } catch (...) {
    return error(e.code());  // no memory for the payload: keep at least the code
  }
}

TRACTOR_DECL error detail::box_caught(const std::exception& e, std::exception_ptr ep) noexcept {
  try {
    return error::with_details(make_error_code(errc::exception), e.what(), current_exception_type_name(),
                               std::move(ep), nullptr);
  } catch (...) {
    return error(make_error_code(errc::exception));
  }
}

TRACTOR_DECL error error::from_exception(std::exception_ptr ep) noexcept {
  if (!ep) return error(make_error_code(errc::exception));
  try {
    std::rethrow_exception(ep);
  } catch (const error_exception& e) {
    // Already one of ours: keep the original error, not a box around it.
    return e.error();
  } catch (const boost::system::system_error& e) {
    return detail::box_caught(e, ep);
  } catch (const std::exception& e) {
    return detail::box_caught(e, ep);
  } catch (...) {
    try {
      auto name = detail::current_exception_type_name();
      auto p = detail::error_payload{"exception of type " + name, name, ep, {}, {}};
      return error(make_error_code(errc::exception), std::make_shared<const detail::error_payload>(std::move(p)));
    } catch (...) {
      return error(make_error_code(errc::exception));  // no memory for the payload
    }
  }
}

TRACTOR_DECL error error::with_details(boost::system::error_code code, std::string message,
                                      std::string type_name, std::exception_ptr exception,
                                      std::shared_ptr<const error_details> details) {
  auto p = detail::error_payload{std::move(message), std::move(type_name), std::move(exception), {},
                                 std::move(details)};
  return error(code, std::make_shared<const detail::error_payload>(std::move(p)));
}

TRACTOR_DECL std::string error::message() const {
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

TRACTOR_DECL std::string error::type_name() const {
  if (payload_ && !payload_->type_name.empty()) return payload_->type_name;
  return code_.category().name();
}

TRACTOR_DECL void error::throw_exception() const {
  if (auto ep = exception()) std::rethrow_exception(ep);
  throw error_exception(*this);
}

TRACTOR_DECL error aggregate(std::vector<error> errors) {
  if (errors.empty()) return error();
  if (errors.size() == 1) return std::move(errors.front());
  auto p = detail::error_payload{{}, {}, {}, std::move(errors), {}};
  return error(make_error_code(errc::error_group),
               std::make_shared<const detail::error_payload>(std::move(p)));
}

TRACTOR_DECL error_exception::error_exception(tractor::error e)
    : std::runtime_error(e.message()), error_(std::move(e)) {}

TRACTOR_DECL bool is_cancellation(const std::exception_ptr& ep) noexcept {
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

TRACTOR_DECL void throw_cancelled() {
  throw boost::system::system_error(boost::asio::error::operation_aborted, "cancelled");
}

}  // namespace tractor
