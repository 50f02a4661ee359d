// Definitions for tractor/core/cancel_scope.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/core/cancel_scope.hpp>

namespace tractor {

// -- cancel_scope ------------------------------------------------------------------------

TRACTOR_DECL void cancel_scope::cancel() {
  cancel_called_ = true;
  if (group_ && body_) group_->cancel_child(*body_);
}

TRACTOR_DECL void cancel_scope::set_deadline(clock::time_point deadline) {
  deadline_ = deadline;
  if (group_ && body_) watch();
}

TRACTOR_DECL void cancel_scope::set_shield(bool on) {
  shield_ = on;
  if (!on && group_ && group_->owner_cancelled()) group_->cancel();
}

TRACTOR_DECL void cancel_scope::body_ended(void* self) {
  auto* s = static_cast<cancel_scope*>(self);
  s->body_ = nullptr;
  s->stop_watching();
}

TRACTOR_DECL void cancel_scope::watch() {
  if (deadline_ == clock::time_point::max()) {
    stop_watching();
    return;
  }
  if (!timer_) timer_.emplace(group_->get_executor());
  if (!watching_ || !*watching_) watching_ = std::make_shared<bool>(true);
  // Re-arming cancels the wait before (its handler sees operation_aborted). A plain handler,
  // not a task: the scope's end never waits for it, and it does nothing once the scope's
  // work has ended (`watching_`), nor for a deadline moved later after it fired.
  timer_->expires_at(deadline_);
  timer_->async_wait([this, alive = watching_](const boost::system::error_code& ec) {
    if (ec || !*alive || clock::now() < deadline_) return;
    cancel();
  });
}

TRACTOR_DECL void cancel_scope::stop_watching() {
  if (watching_) *watching_ = false;
  if (timer_) timer_->cancel();
}

TRACTOR_DECL awaitable<cancel_scope::ending> cancel_scope::run_core(detail::task_group& group,
                                                            detail::child_outcome& outcome) {
  if (deadline_ != clock::time_point::max()) watch();
  group.notice = &notice_;
  co_await group.join(shield_);
  stop_watching();
  group_ = nullptr;
  body_ = nullptr;
  using kind = detail::child_outcome::kind;
  switch (outcome.state) {
    case kind::value: co_return ending::value;
    case kind::failed: co_return ending::failed;
    default:
      if (cancel_called_) {
        cancelled_caught_ = true;
        co_return ending::caught;
      }
      co_return ending::propagate;
  }
}

}  // namespace tractor
