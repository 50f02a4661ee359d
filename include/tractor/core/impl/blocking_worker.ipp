// Definitions for tractor/core/blocking_worker.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/core/blocking_worker.hpp>

namespace tractor {

TRACTOR_DECL blocking_worker::~blocking_worker() {
  {
    std::lock_guard lock(m_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

TRACTOR_DECL void blocking_worker::submit(std::unique_ptr<job> j) {
  {
    std::lock_guard lock(m_);
    jobs_.push_back(std::move(j));
    if (!thread_.joinable()) thread_ = std::thread([this] { serve(); });
  }
  wake_.notify_one();
}

TRACTOR_DECL void blocking_worker::serve() {
  std::unique_lock lock(m_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and nothing is left to run
    auto j = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    (*j)();
    j.reset();
    lock.lock();
  }
}

}  // namespace tractor
