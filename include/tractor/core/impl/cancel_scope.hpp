// Definitions for tractor/core/cancel_scope.hpp.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>

namespace tractor {

template <class T>
awaitable<scope_result<T>> cancel_scope::run(awaitable<T> body) {
  namespace this_coro = boost::asio::this_coro;
  assert(!group_ && "a cancel_scope runs its work once at a time");
  detail::task_group group(co_await this_coro::executor);
  group.cancel_on_error = false;  // the scope decides what the body's end means
  group.what = "cancel scope";
  group.deadline = &deadline_;
  std::optional<detail::non_void<T>> value;
  detail::child_outcome outcome;
  outcome.on_end = &cancel_scope::body_ended;
  outcome.ctx = this;

  auto c = group.add();
  c->report = &outcome;
  if (cancel_called_) c->cancel_requested = true;  // cancelled before it ran: never starts
  group_ = &group;
  body_ = &*c;
  const bool checked = co_await this_coro::throw_if_cancelled();
  co_await this_coro::throw_if_cancelled(false);
  if constexpr (std::is_void_v<T>) {
    group.launch(c, std::move(body));
  } else {
    group.launch(c, std::move(body), &value);
  }
  const ending how = co_await run_core(group, outcome);
  co_await this_coro::throw_if_cancelled(checked);

  switch (how) {
    case ending::value:
      if constexpr (std::is_void_v<T>) co_return true;
      else co_return std::move(value);
    case ending::failed:
      if constexpr (detail::is_result<T>::value) co_return T(std::move(*outcome.failure));
      else outcome.failure->throw_exception();
    case ending::caught:
      if constexpr (std::is_void_v<T>) co_return false;
      else co_return std::nullopt;
    case ending::propagate: break;
  }
  throw_cancelled();
}

// -- helpers -----------------------------------------------------------------------------

template <class T>
awaitable<scope_result<T>> move_on_at(clock::time_point deadline, awaitable<T> body) {
  cancel_scope scope(deadline);
  co_return co_await scope.run(std::move(body));
}

template <class T>
awaitable<scope_result<T>> move_on_after(clock::duration timeout, awaitable<T> body) {
  return move_on_at(clock::now() + timeout, std::move(body));
}

template <class T>
awaitable<flat_result_t<T>> fail_at(clock::time_point deadline, awaitable<T> body) {
  cancel_scope scope(deadline);
  auto r = co_await scope.run(std::move(body));
  if (!r) co_return error(make_error_code(errc::timeout), "deadline passed (fail_after)");
  if constexpr (std::is_void_v<T>) co_return success();
  else co_return std::move(*r);
}

template <class T>
awaitable<flat_result_t<T>> fail_after(clock::duration timeout, awaitable<T> body) {
  return fail_at(clock::now() + timeout, std::move(body));
}

template <class T>
awaitable<T> shield(awaitable<T> body, std::function<void()> notice) {
  cancel_scope scope;
  scope.set_shield(true);
  scope.on_caller_cancelled(std::move(notice));
  auto r = co_await scope.run(std::move(body));
  // Nothing else holds this scope, so nothing can have cancelled it.
  if constexpr (!std::is_void_v<T>) co_return std::move(*r);
}

template <class T>
awaitable<T> shield(awaitable<T> body) {
  return shield(std::move(body), std::function<void()>{});
}

namespace detail {
/// `finally` (`always`) and `on_cancel` (only after an exception).
template <class T>
awaitable<T> with_cleanup(awaitable<T> body, awaitable<void> cleanup, bool always) {
  namespace this_coro = boost::asio::this_coro;
  std::optional<non_void<T>> value;
  std::exception_ptr body_failure;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(body);
    } else {
      value.emplace(co_await std::move(body));
    }
  } catch (...) {
    body_failure = std::current_exception();
  }
  if (always || body_failure) {
    // The body may have been cancelled; the cleanup runs regardless.
    const bool checked = co_await this_coro::throw_if_cancelled();
    co_await this_coro::throw_if_cancelled(false);
    std::exception_ptr cleanup_failure;
    try {
      co_await shield(std::move(cleanup));
    } catch (...) {
      cleanup_failure = std::current_exception();
    }
    co_await this_coro::throw_if_cancelled(checked);
    if (cleanup_failure) {
      if (!body_failure || is_cancellation(body_failure)) std::rethrow_exception(cleanup_failure);
      throw error_exception(aggregate(
          {error::from_exception(body_failure), error::from_exception(cleanup_failure)}));
    }
  }
  if (body_failure) std::rethrow_exception(body_failure);
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}
}  // namespace detail

template <class T>
awaitable<T> finally(awaitable<T> body, awaitable<void> cleanup) {
  return detail::with_cleanup(std::move(body), std::move(cleanup), true);
}

template <class T>
awaitable<T> on_cancel(awaitable<T> body, awaitable<void> cleanup) {
  return detail::with_cleanup(std::move(body), std::move(cleanup), false);
}

inline awaitable<void> checkpoint() {
  co_await boost::asio::post(co_await boost::asio::this_coro::executor, boost::asio::use_awaitable);
}

inline awaitable<void> sleep_until(clock::time_point when) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, when);
  const detail::wait_note_scope note(detail::wait_note{.what = "sleep", .until = when});
  co_await timer.async_wait(boost::asio::use_awaitable);
}

inline awaitable<void> sleep_for(clock::duration duration) {
  return sleep_until(clock::now() + duration);
}

}  // namespace tractor
