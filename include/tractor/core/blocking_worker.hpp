// tractor/core/blocking_worker.hpp — a thread for calls that block, so that the event loop
// does not (trio's `to_thread.run_sync`, with one thread per worker).
//
//     tractor::blocking_worker worker;                  // lives as long as its users
//     int fd = co_await worker.run([&] { return ::open(path, O_RDONLY); });
//
// Calls run on the worker's thread one at a time, in the order they were made; the awaiting
// task resumes on its own executor with the call's value. The thread starts with the first
// call (a worker never used has none) and is joined when the worker is destroyed,
// after the calls already made.
#pragma once

#include <tractor/config.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <mutex>
#include <optional>
#include <type_traits>

namespace tractor {

/// One thread that runs blocking calls for tasks of event loops: Asio's `thread_pool` of one
/// thread, made with the first call.
class blocking_worker {
 public:
  blocking_worker() = default;
  blocking_worker(const blocking_worker&) = delete;
  blocking_worker& operator=(const blocking_worker&) = delete;
  /// Runs the calls already made, then joins the thread.
  ~blocking_worker();

  /// Runs `call()` on the worker's thread and returns its value (an exception it throws is
  /// rethrown here). `call` must not need the caller's event loop to finish.
  ///
  /// Cancellation: not interrupted. A blocking call cannot be, and what it made (a process,
  /// a descriptor) must reach the caller, so the caller waits for its end; the cancellation
  /// takes effect at the caller's next wait.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F&>> run(F call);

  /// Runs `call()` on the worker's thread without waiting for it: for work the worker's owner
  /// keeps to itself, and waits for with `join`. `call` must not throw.
  template <class F>
  void post(F call) {
    boost::asio::post(pool(), std::move(call));
  }

  /// Runs the calls already made, then joins the thread. No call may be made afterwards.
  void join();

 private:
  boost::asio::thread_pool& pool();

  std::once_flag started_;
  std::optional<boost::asio::thread_pool> pool_;
};

template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> blocking_worker::run(F call) {
  using value = std::invoke_result_t<F&>;
  // The caller resumes on its own executor: co_spawn completes through the caller's handler.
  if constexpr (std::is_void_v<value>) {
    auto on_worker = [&call]() -> boost::asio::awaitable<void> {
      call();
      co_return;
    };
    co_await boost::asio::co_spawn(pool(), on_worker, boost::asio::use_awaitable);
  } else {
    // co_spawn passes a value through a default-constructed one: an optional makes any do.
    auto on_worker = [&call]() -> boost::asio::awaitable<std::optional<value>> {
      co_return std::optional<value>(call());
    };
    std::optional<value> v = co_await boost::asio::co_spawn(pool(), on_worker, boost::asio::use_awaitable);
    co_return std::move(*v);
  }
}

}  // namespace tractor

#if TRACTOR_HEADER_ONLY
#include <tractor/core/impl/blocking_worker.ipp>
#endif
