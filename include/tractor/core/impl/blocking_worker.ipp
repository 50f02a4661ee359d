// Definitions for tractor/core/blocking_worker.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/core/blocking_worker.hpp>

namespace tractor {

TRACTOR_DECL blocking_worker::~blocking_worker() { join(); }

TRACTOR_DECL void blocking_worker::join() {
  // The pool's join, not its destructor alone: that stops the pool, dropping calls not yet run.
  if (pool_) pool_->join();
}

TRACTOR_DECL boost::asio::thread_pool& blocking_worker::pool() {
  std::call_once(started_, [this] { pool_.emplace(1); });
  return *pool_;
}

}  // namespace tractor
