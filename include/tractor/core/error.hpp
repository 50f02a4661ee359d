// tractor/core/error.hpp — the error model: error codes, rich errors, `result<T>`.
//
// Every expected failure in tractor is a value: `tractor::result<T>` holds either a `T` or a
// `tractor::error`. An `error` is a `boost::system::error_code` (so it compares against the
// registered enums below and against Asio's codes) plus, when there is more to say, a shared
// payload: a message, a boxed exception with its type name, or the members of an error group.
//
//     tractor::result<int> parse(std::string_view s) {
//       if (s.empty()) return tractor::errc::would_block;          // an enum converts
//       return 42;
//     }
//     auto r = parse("");
//     if (!r && r.error() == tractor::errc::would_block) { ... }
//
// Several errors never collapse into one: `aggregate()` keeps a single error bare and wraps two
// or more into a group (`errc::error_group`) holding every one, in the order they happened.
//
// Cancellation is not an error. It unwinds as Asio's `operation_aborted` (the exception Asio
// itself throws from a cancelled `co_await`) and is absorbed by the scope that was cancelled;
// `is_cancellation()` recognises it wherever it shows up.
#pragma once

#include <tractor/config.hpp>

#include <boost/asio/cancellation_state.hpp>
#include <boost/outcome/bad_access.hpp>
#include <boost/outcome/basic_result.hpp>
#include <boost/outcome/try.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tractor {

// -- error codes -------------------------------------------------------------------------

/// Failures of the structured-concurrency core. Registered with Boost.System, so each value
/// converts to `boost::system::error_code` and to `tractor::error`.
enum class errc {
  /// The operation was cancelled by an enclosing scope (mostly seen inside error groups and
  /// logs; live cancellation unwinds as `operation_aborted`).
  cancelled = 1,
  /// A deadline set with `fail_after` passed before the work finished.
  timeout,
  /// A memory channel was closed by its sender and every buffered item has been received.
  end_of_channel,
  /// A send on a memory channel that has been closed.
  channel_closed,
  /// A non-blocking operation (`try_send`, `try_receive`) could not complete now.
  would_block,
  /// Two or more errors; `error::group_members()` holds every one of them.
  error_group,
  /// An exception escaped a task; `error::exception()` holds it.
  exception,
  /// A task started with `nursery::start()` ended without calling `task_status::started()`.
  task_not_started,
  /// A task was started into a nursery that has already closed.
  nursery_closed,
};

/// The category of `tractor::errc`, named "tractor".
[[nodiscard]] const boost::system::error_category& core_category() noexcept;

/// ADL hook that lets `errc` convert to `boost::system::error_code`.
[[nodiscard]] boost::system::error_code make_error_code(errc e) noexcept;

}  // namespace tractor

template <>
struct boost::system::is_error_code_enum<tractor::errc> : std::true_type {};

namespace tractor {

// -- error -------------------------------------------------------------------------------

namespace detail {
struct error_payload;
}  // namespace detail

/// What a layer above the core attaches to an error (`error::with_details`) and reads back
/// (`error::details<D>()`): a base to derive from, nothing more.
struct error_details {
  virtual ~error_details() = default;
};

/// A failure: an error code plus, when there is more to say, a message, a boxed exception or
/// the members of an error group. Cheap to copy (the payload is shared and immutable).
class error {
 public:
  /// An empty error (code 0). Exists only so `result<T>` may default its storage.
  error() noexcept = default;

  /// An error with just a code.
  error(boost::system::error_code code) noexcept : code_(code) {}  // NOLINT: implicit by design

  /// An error from any registered error enum (`tractor::errc`, Asio's enums, ...).
  template <class Enum>
    requires boost::system::is_error_code_enum<Enum>::value
  error(Enum e) noexcept : code_(make_error_code(e)) {}  // NOLINT: implicit by design

  /// An error with a code and a message that says what went wrong in this instance.
  error(boost::system::error_code code, std::string message);

  /// A failed system call's error: the code is `err` (an errno), and the message says what was
  /// being done, then what the system says of `err` ("socketpair: Too many open files").
  [[nodiscard]] static error from_errno(int err, const std::string& what);

  /// Boxes an exception: the code is `errc::exception`, or the exception's own code when it is
  /// a `boost::system::system_error` or a `tractor::error_exception`.
  [[nodiscard]] static error from_exception(std::exception_ptr ep) noexcept;

  /// An error with a code and message, the type name of what was raised (empty: the code's
  /// category names it), the exception it is (may be null), and `details` that the layer
  /// which made it attaches and reads back (the runtime: where an error came from across
  /// actors, runtime/remote_error.hpp). The core carries `details` with the error and its
  /// copies and never reads them.
  [[nodiscard]] static error with_details(boost::system::error_code code, std::string message,
                                          std::string type_name, std::exception_ptr exception,
                                          std::shared_ptr<const error_details> details);

  /// The details attached with `with_details`, as a `D`, if they are one; null otherwise.
  /// Valid as long as this error (or a copy) lives.
  template <class D>
  [[nodiscard]] const D* details() const noexcept {
    return dynamic_cast<const D*>(raw_details());
  }

  /// The code; compare it, or the error itself, against enums: `e == errc::timeout`.
  [[nodiscard]] const boost::system::error_code& code() const noexcept { return code_; }

  /// A one-line description: the message when there is one, else the code's text. Groups list
  /// every member.
  [[nodiscard]] std::string message() const;

  /// The boxed exception's type name, or the code's category name.
  [[nodiscard]] std::string type_name() const;

  /// The boxed exception, if this error came from one.
  [[nodiscard]] std::exception_ptr exception() const noexcept;

  /// The boxed exception as an `E` (or a type derived from it), if it is one; valid as long
  /// as this error (or a copy) lives.
  template <class E>
  [[nodiscard]] const E* as() const noexcept {
    const auto ep = exception();
    if (!ep) return nullptr;
    try {
      std::rethrow_exception(ep);
    } catch (const E& e) {
      return &e;  // the object the exception_ptr holds, not a copy
    } catch (...) {
    }
    return nullptr;
  }

  /// True for an error group (two or more errors).
  [[nodiscard]] bool is_group() const noexcept;

  /// The members of a group; empty for any other error.
  [[nodiscard]] std::span<const error> group_members() const noexcept;

  /// True when this error is (only) a cancellation: `errc::cancelled`, Asio's
  /// `operation_aborted`, or a boxed exception carrying either.
  [[nodiscard]] bool is_cancellation() const noexcept;

  /// Throws: the boxed exception itself when there is one, else an `error_exception`.
  [[noreturn]] void throw_exception() const;

  friend bool operator==(const error& e, const boost::system::error_code& c) noexcept {
    return e.code_ == c;
  }
  template <class Enum>
    requires boost::system::is_error_code_enum<Enum>::value
  friend bool operator==(const error& e, Enum c) noexcept {
    return e.code_ == make_error_code(c);
  }

 private:
  friend error aggregate(std::vector<error> errors);
  error(boost::system::error_code code, std::shared_ptr<const detail::error_payload> payload)
      : code_(code), payload_(std::move(payload)) {}

  [[nodiscard]] const error_details* raw_details() const noexcept;

  boost::system::error_code code_;
  std::shared_ptr<const detail::error_payload> payload_;
};

/// Folds errors into one, losing none: an empty list gives an empty error, one error is
/// returned bare, two or more become an `errc::error_group` holding each (nested groups are
/// kept as members, not flattened, so their structure survives).
[[nodiscard]] error aggregate(std::vector<error> errors);

/// The exception form of an `error`, thrown by `result<T>::value()` on failure and by
/// `error::throw_exception()` when no original exception is boxed.
class error_exception : public std::runtime_error {
 public:
  explicit error_exception(tractor::error e);
  [[nodiscard]] const tractor::error& error() const noexcept { return error_; }

 private:
  tractor::error error_;
};

/// True when `ep` is a cancellation (see `error::is_cancellation`).
[[nodiscard]] bool is_cancellation(const std::exception_ptr& ep) noexcept;

namespace detail {
/// `error::from_exception` for an exception already caught as what it is (`ep`: that very
/// exception). A catch site that names these types boxes without rethrowing `ep` to find
/// them; each rethrow is a second unwind, and cancellation unwinds every task it ends.
[[nodiscard]] error box_caught(const boost::system::system_error& e, std::exception_ptr ep) noexcept;
[[nodiscard]] error box_caught(const std::exception& e, std::exception_ptr ep) noexcept;
}  // namespace detail

/// Throws the exception Asio itself uses for a cancelled operation, so that our waits and
/// Asio's look the same to callers.
[[noreturn]] void throw_cancelled();

/// `throw_cancelled()` if `state` (the calling task's) says it was cancelled: where Asio does
/// not check by itself, after a wait that completed anyway or between waits of our own.
inline void throw_on_cancellation(const boost::asio::cancellation_state& state) {
  if (state.cancelled() != boost::asio::cancellation_type::none) throw_cancelled();
}

// -- result ------------------------------------------------------------------------------

namespace detail {
/// `value()` on a failed result throws the error (see `error::throw_exception`).
struct throw_error_policy : boost::outcome_v2::policy::base {
  template <class Impl>
  static constexpr void wide_value_check(Impl&& self) {
    if (!base::_has_value(self)) {
      if (base::_has_error(self)) base::_error(static_cast<Impl&&>(self)).throw_exception();
      throw boost::outcome_v2::bad_result_access("no value");
    }
  }
  template <class Impl>
  static constexpr void wide_error_check(Impl&& self) {
    if (!base::_has_error(self)) throw boost::outcome_v2::bad_result_access("no error");
  }
  template <class Impl>
  static constexpr void wide_exception_check(Impl&& self) {
    wide_error_check(static_cast<Impl&&>(self));
  }
};
}  // namespace detail

/// A `T` or a `tractor::error`. Use `BOOST_OUTCOME_CO_TRY` / `BOOST_OUTCOME_CO_TRYX` to
/// propagate failures from coroutines.
template <class T>
using result = boost::outcome_v2::basic_result<T, error, detail::throw_error_policy>;

using boost::outcome_v2::failure;
using boost::outcome_v2::success;

}  // namespace tractor

#include <tractor/core/impl/error.hpp>
#if TRACTOR_HEADER_ONLY
#include <tractor/core/impl/error.ipp>
#endif
