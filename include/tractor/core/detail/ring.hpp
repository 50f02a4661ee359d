// A FIFO queue on one growable circular buffer. Unlike std::deque, which allocates a block
// per element once elements are large (a 512-byte wire message gets a block to itself), it
// allocates only when it grows: a queue in steady use never touches the allocator.
#pragma once

#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

namespace tractor::detail {

template <class T>
class ring {
 public:
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  void push_back(T value) { emplace_back(std::move(value)); }

  /// Appends an element made from `args` in place.
  template <class... Args>
  void emplace_back(Args&&... args) {
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_) % slots_.size()].emplace(std::forward<Args>(args)...);
    ++size_;
  }

  /// Removes and returns the oldest element. Precondition: not empty.
  T pop_front() {
    T v = std::move(*slots_[head_]);
    drop_front();
    return v;
  }

  /// Moves the oldest element into `out` and removes it (one move, none through a return
  /// value). Precondition: not empty.
  void pop_front_into(T& out) {
    out = std::move(*slots_[head_]);
    drop_front();
  }

 private:
  void drop_front() {
    slots_[head_].reset();
    head_ = (head_ + 1) % slots_.size();
    --size_;
  }

  void grow() {
    std::vector<std::optional<T>> bigger(slots_.empty() ? 4 : 2 * slots_.size());
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move(slots_[(head_ + i) % slots_.size()]);
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<std::optional<T>> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace tractor::detail
