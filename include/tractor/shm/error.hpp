// tractor/shm/error.hpp — what can go wrong with shared-memory segments (tractor::shm_errc).
// Failures of the system calls themselves come as system errors (errno), with the segment's
// name in the message.
#pragma once

#include <tractor/core/detail/enum_category.hpp>
#include <tractor/core/error.hpp>

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <string>

namespace tractor {

enum class shm_errc {
  /// A key that cannot be part of a segment's name (empty, too long, or a character other
  /// than letters, digits, '.', '_' and '-').
  bad_key = 1,
  /// The named segment is not one this library made, or is damaged (bad magic, too small
  /// for what its header claims).
  not_a_segment,
  /// The segment holds another kind of object, or elements of another type or size, than
  /// the one attaching expects.
  type_mismatch,
  /// A push or prepend needs more room than the array has left on that side.
  no_room,
  /// A write through a list attached read-only.
  read_only,
  /// An index past the end of a list.
  out_of_range,
  /// The process at the other end of a ring ended while this side waited for it.
  peer_gone,
};

[[nodiscard]] const boost::system::error_category& shm_category() noexcept;
[[nodiscard]] boost::system::error_code make_error_code(shm_errc e) noexcept;

}  // namespace tractor

template <>
struct boost::system::is_error_code_enum<tractor::shm_errc> : std::true_type {};

namespace tractor {

namespace detail {
template <>
struct enum_traits<shm_errc> {
  static constexpr const char* name = "tractor.shm";
  static constexpr std::uint64_t id = 0x7472'6163'746f'7206ULL;
  static constexpr const char* describe(shm_errc e) noexcept {
    switch (e) {
      case shm_errc::bad_key: return "bad shared-memory key";
      case shm_errc::not_a_segment: return "not a tractor shared-memory segment";
      case shm_errc::type_mismatch: return "shared-memory segment of another type";
      case shm_errc::no_room: return "no room left in the shared-memory array";
      case shm_errc::read_only: return "shared-memory object attached read-only";
      case shm_errc::out_of_range: return "index out of range";
      case shm_errc::peer_gone: return "the process at the other end of the ring is gone";
    }
    return nullptr;
  }
};
}  // namespace detail

inline const boost::system::error_category& shm_category() noexcept {
  return detail::enum_category<shm_errc>::instance();
}

inline boost::system::error_code make_error_code(shm_errc e) noexcept { return {static_cast<int>(e), shm_category()}; }

namespace shm_detail {
/// A failed system call's error `err` (an errno), saying what was being done.
inline error system_error(int err, const std::string& what) { return error::from_errno(err, what); }
}  // namespace shm_detail

}  // namespace tractor
