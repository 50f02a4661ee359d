// Definitions for tractor/core/nursery.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/core/nursery.hpp>

#include <boost/asio/this_coro.hpp>

namespace tractor {

TRACTOR_DECL awaitable<result<void>> detail::open_nursery_core(nursery_body body, std::source_location where) {
  namespace this_coro = boost::asio::this_coro;
  nursery n(co_await this_coro::executor);
  const bool checked = co_await this_coro::throw_if_cancelled();
  co_await this_coro::throw_if_cancelled(false);
  // The body is a task like the others, so that the first failure can interrupt it too.
  std::exception_ptr spawn_failure;
  try {
    body.spawn_in(n, where);
  } catch (...) {
    spawn_failure = std::current_exception();
    n.group_.cancel();
  }
  static constexpr bool unshielded = false;
  co_await n.group_.join(unshielded);
  n.closed_ = true;
  co_await this_coro::throw_if_cancelled(checked);

  std::vector<error> errors = n.group_.take_errors();
  if (spawn_failure) errors.push_back(error::from_exception(spawn_failure));
  if (!errors.empty()) co_return aggregate(std::move(errors));
  if (n.group_.owner_cancelled()) throw_cancelled();
  co_return success();
}

}  // namespace tractor
