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

  void push_back(T value) {
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_) % slots_.size()].emplace(std::move(value));
    ++size_;
  }

  /// Removes and returns the oldest element. Precondition: not empty.
  T pop_front() {
    std::optional<T>& slot = slots_[head_];
    T v = std::move(*slot);
    slot.reset();
    head_ = (head_ + 1) % slots_.size();
    --size_;
    return v;
  }

 private:
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
