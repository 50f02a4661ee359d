// tractor/core/blocking_worker.hpp — a thread for calls that block, so that the event loop
// does not (trio's `to_thread.run_sync`, with one thread per worker).
//
//     tractor::blocking_worker worker;                  // lives as long as its users
//     int fd = co_await worker.run([&] { return ::open(path, O_RDONLY); });
//
// Calls run on the worker's thread one at a time, in the order they were made; the awaiting
// task resumes on its own executor with the call's value. The thread starts with the first
// call and is joined when the worker is destroyed, after the calls already made.
#pragma once

#include <tractor/config.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

namespace tractor {

/// One thread that runs blocking calls for tasks of event loops.
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

 private:
  struct job {
    virtual ~job() = default;
    virtual void operator()() = 0;
  };
  void submit(std::unique_ptr<job> j);
  void serve();

  std::mutex m_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<job>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> blocking_worker::run(F call) {
  using value = std::invoke_result_t<F&>;
  using stored = std::conditional_t<std::is_void_v<value>, bool, value>;
  std::optional<stored> out;
  std::exception_ptr failed;
  auto initiate = [&](auto handler) {
    // The handler keeps its executor's loop running until it is posted back.
    using handler_type = decltype(handler);
    struct posting_job final : job {
      posting_job(handler_type h, F& c, std::optional<stored>& o, std::exception_ptr& e)
          : handler(std::move(h)), guard(boost::asio::get_associated_executor(handler)), call(c), out(o), failed(e) {}
      void operator()() override {
        try {
          if constexpr (std::is_void_v<value>) {
            call();
            out.emplace(true);
          } else {
            out.emplace(call());
          }
        } catch (...) {
          failed = std::current_exception();
        }
        auto ex = guard.get_executor();
        boost::asio::post(ex, std::move(handler));
        guard.reset();
      }
      handler_type handler;
      boost::asio::executor_work_guard<boost::asio::associated_executor_t<handler_type>> guard;
      F& call;
      std::optional<stored>& out;
      std::exception_ptr& failed;
    };
    submit(std::make_unique<posting_job>(std::move(handler), call, out, failed));
  };
  co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void()>(initiate,
                                                                                    boost::asio::use_awaitable);
  if (failed) std::rethrow_exception(failed);
  if constexpr (!std::is_void_v<value>) co_return std::move(*out);
}

}  // namespace tractor

#if TRACTOR_HEADER_ONLY
#include <tractor/core/impl/blocking_worker.ipp>
#endif
