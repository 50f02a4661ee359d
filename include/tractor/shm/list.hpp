// tractor/shm/list.hpp — a fixed-size list of values in shared memory (tractor's
// `open_shm_list` / `attach_shm_list`, over Python's ShareableList).
//
//     auto limits = tractor::open_shm_list<double>("limits", 8);      // the owner, zeroed
//     limits.value().set(0, 1.5);
//     // elsewhere: auto l = tractor::attach_shm_list<double>(token);   // read-only
//     double v = l.value().get(0).value();
//
// Each value is copied in and out whole. Nothing orders one value's write against another
// actor's read of it: a value larger than a machine word can be read half-written while it
// changes (as with ShareableList). A list attached read-only refuses `set` with `read_only`
// and its mapping is read-only.
#pragma once

#include <tractor/shm/segment.hpp>

#include <cstring>
#include <span>
#include <string>
#include <type_traits>

namespace tractor {

template <class T>
class shm_list {
 public:
  static_assert(std::is_trivially_copyable_v<T> && !std::is_const_v<T>,
                "shm_list holds trivially copyable values");

  explicit shm_list(shm_segment s) noexcept : seg_(std::move(s)) {}

  /// The value at `i`; `out_of_range` past the end.
  [[nodiscard]] result<T> get(std::size_t i) const {
    if (i >= size()) return out_of_range(i);
    T v;
    std::memcpy(&v, elements() + i, sizeof(T));
    return v;
  }
  /// Replaces the value at `i`; `read_only` through a read-only attachment, `out_of_range`
  /// past the end.
  result<void> set(std::size_t i, const T& v) {
    if (!seg_.writable()) {
      return error(make_error_code(shm_errc::read_only), "list " + token().name + " is attached read-only");
    }
    if (i >= size()) return out_of_range(i);
    std::memcpy(elements() + i, &v, sizeof(T));
    return success();
  }
  /// Every value, as a span over the shared memory (read-only view).
  [[nodiscard]] std::span<const T> values() const noexcept { return {elements(), size()}; }

  [[nodiscard]] std::size_t size() const noexcept { return static_cast<std::size_t>(seg_.token().capacity); }
  [[nodiscard]] bool read_only() const noexcept { return !seg_.writable(); }
  [[nodiscard]] const shm_token& token() const noexcept { return seg_.token(); }
  void close() noexcept { seg_.close(); }
  [[nodiscard]] bool is_open() const noexcept { return seg_.is_open(); }

 private:
  [[nodiscard]] T* elements() const noexcept { return reinterpret_cast<T*>(seg_.data()); }
  error out_of_range(std::size_t i) const {
    return error(make_error_code(shm_errc::out_of_range), "index " + std::to_string(i) + " past the end of list " +
                                                              token().name + " of " + std::to_string(size()));
  }

  shm_segment seg_;
};

/// Creates a list of `size` values named after `key`, holding `initial` (zeros after it).
/// This actor owns it.
template <class T>
result<shm_list<T>> open_shm_list(std::string_view key, std::size_t size, std::span<const T> initial = {}) {
  if (initial.size() > size) {
    return error(make_error_code(shm_errc::no_room), std::to_string(initial.size()) +
                                                         " initial values for a list of " + std::to_string(size));
  }
  BOOST_OUTCOME_TRY(auto seg, shm_segment::create(key, shm_detail::token_for<T>(shm_kind::list, size)));
  if (!initial.empty()) std::memcpy(seg.data(), initial.data(), initial.size_bytes());
  return shm_list<T>(std::move(seg));
}

/// Whether an attached list may be written.
enum class shm_access { read_only, read_write };

/// Attaches to the list `token` names (read-only unless asked), checking that it holds `T`.
template <class T>
result<shm_list<T>> attach_shm_list(const shm_token& token, shm_access access = shm_access::read_only) {
  BOOST_OUTCOME_TRY(auto seg, shm_detail::attach_as<T>(token, shm_kind::list, access == shm_access::read_write));
  return shm_list<T>(std::move(seg));
}

}  // namespace tractor
