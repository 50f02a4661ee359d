// tractor/shm/array.hpp — a fixed-capacity array of records in shared memory with shared
// `first` and `last` indexes (tractor's `open_shm_ndarray` / `attach_shm_ndarray`).
//
//     auto prices = tractor::open_shm_array<tick>("prices", 1 << 20);   // the owner writes
//     prices.value().push(batch);                                        // appends at `last`
//     co_await feed.run<&quote::follow>(prices.value().token());         // hand it on
//     // in the other actor:
//     auto view = tractor::attach_shm_array<tick>(token);                // read-only
//     for (const tick& t : view.value().last(10)) ...
//
// One writer (the owner) appends with `push` and adds history in front with `prepend`;
// readers in any actor on the host see `[first, last)`. The writer stores the records before
// it publishes the index that covers them, so a reader never sees an index ahead of its data.
// A reader is a `shm_array<const T>`: it has no `push` or `prepend` (they do not compile),
// and its mapping is read-only.
#pragma once

#include <tractor/shm/segment.hpp>

#include <cstring>
#include <span>
#include <string>
#include <type_traits>

namespace tractor {

/// An array of `T` in a shared-memory segment; `shm_array<const T>` for a reader.
template <class T>
class shm_array {
 public:
  using value_type = std::remove_const_t<T>;
  static_assert(std::is_trivially_copyable_v<value_type>, "shm_array holds trivially copyable records only");
  static constexpr bool read_only = std::is_const_v<T>;

  explicit shm_array(shm_segment s) noexcept : seg_(std::move(s)) {}

  /// Appends `records` at `last` and returns the new `last`; `no_room` (nothing written) if
  /// they do not fit before the capacity. Owner only: a reader's call does not compile.
  result<std::size_t> push(std::span<const value_type> records);
  result<std::size_t> push(const value_type& record) { return push(std::span<const value_type>(&record, 1)); }

  /// Writes `records` just before `first` and returns the new `first`; `no_room` if fewer
  /// than `records.size()` slots are left in front. Owner only, as `push`.
  result<std::size_t> prepend(std::span<const value_type> records);

  /// The records `[first, last)` as they are now.
  [[nodiscard]] std::span<T> view() const noexcept {
    const std::size_t f = first_index(), l = last_index();
    return {elements() + f, l - f};
  }
  /// The last `n` records (fewer if the array holds fewer).
  [[nodiscard]] std::span<T> last(std::size_t n = 1) const noexcept {
    const std::size_t f = first_index(), l = last_index();
    const std::size_t k = n < l - f ? n : l - f;
    return {elements() + (l - k), k};
  }

  [[nodiscard]] std::size_t first_index() const noexcept {
    return static_cast<std::size_t>(seg_.head().first.load(std::memory_order_acquire));
  }
  [[nodiscard]] std::size_t last_index() const noexcept {
    return static_cast<std::size_t>(seg_.head().last.load(std::memory_order_acquire));
  }
  [[nodiscard]] std::size_t size() const noexcept { return last_index() - first_index(); }
  [[nodiscard]] std::size_t capacity() const noexcept { return static_cast<std::size_t>(seg_.token().capacity); }

  /// What another actor attaches with (`attach_shm_array<T>(token)`).
  [[nodiscard]] const shm_token& token() const noexcept { return seg_.token(); }
  /// Unmaps; the owner also unlinks the segment's name (as destruction does).
  void close() noexcept { seg_.close(); }
  [[nodiscard]] bool is_open() const noexcept { return seg_.is_open(); }

 private:
  [[nodiscard]] T* elements() const noexcept { return reinterpret_cast<T*>(seg_.data()); }

  shm_segment seg_;
};

/// Creates an array of `capacity` records named after `key` (segment.hpp), empty, with
/// `first` = `last` = `start` (leave room in front for `prepend`). This actor owns it.
template <class T>
result<shm_array<T>> open_shm_array(std::string_view key, std::size_t capacity, std::size_t start = 0) {
  static_assert(!std::is_const_v<T>, "the owner of an array writes it");
  if (start > capacity) {
    return error(make_error_code(shm_errc::no_room), "start index " + std::to_string(start) +
                                                         " past the capacity " + std::to_string(capacity));
  }
  BOOST_OUTCOME_TRY(auto seg, shm_segment::create(key, shm_detail::token_for<T>(shm_kind::array, capacity)));
  seg.head().first.store(start, std::memory_order_relaxed);
  seg.head().last.store(start, std::memory_order_release);
  return shm_array<T>(std::move(seg));
}

/// Attaches read-only to the array `token` names, checking that it holds records of `T`.
template <class T>
result<shm_array<const T>> attach_shm_array(const shm_token& token) {
  BOOST_OUTCOME_TRY(auto seg, shm_detail::attach_as<T>(token, shm_kind::array, /*writable=*/false));
  return shm_array<const T>(std::move(seg));
}

// -- definitions --------------------------------------------------------------------------

template <class T>
result<std::size_t> shm_array<T>::push(std::span<const value_type> records) {
  static_assert(!read_only, "tractor: shm_array<const T> is a reader's: only the owner pushes");
  auto& h = seg_.head();
  const auto l = h.last.load(std::memory_order_relaxed);  // only this writer moves it
  if (records.size() > capacity() - l) {
    return error(make_error_code(shm_errc::no_room),
                 "no room for " + std::to_string(records.size()) + " records at index " + std::to_string(l) +
                     " of " + token().name + " (capacity " + std::to_string(capacity()) + ")");
  }
  if (!records.empty()) std::memcpy(elements() + l, records.data(), records.size_bytes());
  h.last.store(l + records.size(), std::memory_order_release);
  return static_cast<std::size_t>(l + records.size());
}

template <class T>
result<std::size_t> shm_array<T>::prepend(std::span<const value_type> records) {
  static_assert(!read_only, "tractor: shm_array<const T> is a reader's: only the owner prepends");
  auto& h = seg_.head();
  const auto f = h.first.load(std::memory_order_relaxed);
  if (records.size() > f) {
    return error(make_error_code(shm_errc::no_room), "no room for " + std::to_string(records.size()) +
                                                         " records before index " + std::to_string(f) + " of " +
                                                         token().name);
  }
  if (!records.empty()) std::memcpy(elements() + (f - records.size()), records.data(), records.size_bytes());
  h.first.store(f - records.size(), std::memory_order_release);
  return static_cast<std::size_t>(f - records.size());
}

}  // namespace tractor
