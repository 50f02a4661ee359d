// Test helper: run one coroutine to completion on a fresh io_context, under a watchdog.
//
// The watchdog is a safety net, not a synchronisation device: tests order their steps with
// events and channels, and the watchdog only turns a hang into a loud failure.
#pragma once

#include <tractor/core/error.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>

namespace tractor::testing {

/// Runs `main` until it completes and returns its value (rethrowing its exception). Aborts
/// the test binary if it has not completed within `watchdog`: a hang must never pass.
template <class T>
T run_async(boost::asio::io_context& ctx, boost::asio::awaitable<T> main,
            std::chrono::steady_clock::duration watchdog = std::chrono::seconds(20)) {
  ctx.restart();
  std::exception_ptr failure;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  bool done = false;
  // Wrapped, so that T need not be default-constructible (co_spawn's own requirement).
  auto wrapper = [](boost::asio::awaitable<T> inner, auto* out) -> boost::asio::awaitable<void> {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(inner);
      out->emplace(true);
    } else {
      out->emplace(co_await std::move(inner));
    }
  };
  boost::asio::co_spawn(ctx, wrapper(std::move(main), &value), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  ctx.run_for(watchdog);
  if (!done) {
    std::fprintf(stderr, "watchdog: the test coroutine did not finish in time\n");
    std::fflush(stderr);
    std::abort();
  }
  // Whatever the coroutine left queued (there should be nothing) must run out too.
  ctx.restart();
  ctx.run_for(watchdog);
  if (failure) std::rethrow_exception(failure);
  if constexpr (!std::is_void_v<T>) return std::move(*value);
}

/// The same, on a fresh io_context.
template <class T>
T run_async(boost::asio::awaitable<T> main,
            std::chrono::steady_clock::duration watchdog = std::chrono::seconds(20)) {
  boost::asio::io_context ctx;
  return run_async(ctx, std::move(main), watchdog);
}

}  // namespace tractor::testing
