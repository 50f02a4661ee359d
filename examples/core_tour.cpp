// The core tour: tractor's structured-concurrency core inside one actor.
//
// A nursery runs three "workers" that send results into a bounded channel, one of them too
// slow for its deadline; a collector reads the channel until it closes. Then a second nursery
// shows supervision: one task fails, its siblings are cancelled, and every error comes back.
//
//     tools/bazel run //examples:core_tour
#include <tractor/core.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <fmt/core.h>

#include <chrono>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;
using tractor::awaitable;

// --(doc-core-tour-begin)--
awaitable<void> worker(std::string name, std::chrono::milliseconds work,
                       tractor::memory_channel<std::string>& results) {
  // fail_after: the worker's own deadline; a timeout is a value, not an exception.
  auto r = co_await tractor::fail_after(50ms, tractor::sleep_for(work));
  // (Built before the co_await: g++ 12 evaluates both arms of a ?: inside a co_await operand.)
  std::string line = r ? name + " finished in " + std::to_string(work.count()) + " ms"
                       : name + " gave up: " + r.error().message();
  co_await results.send(std::move(line));
}

awaitable<tractor::result<void>> pipeline() {
  tractor::memory_channel<std::string> results(8);
  int running = 3;
  co_return co_await tractor::open_nursery([&](tractor::nursery& n) -> awaitable<void> {
    for (auto [name, ms] : {std::pair{"alpha", 5}, {"beta", 10}, {"gamma", 500}}) {
      n.start_soon([&, name, ms]() -> awaitable<void> {
        co_await worker(name, std::chrono::milliseconds(ms), results);
        if (--running == 0) results.close();
      });
    }
    // The body is a task too: it collects until every worker is done and the channel closes.
    while (auto line = co_await results.receive()) fmt::print("  {}\n", line.value());
  });
}
// --(doc-core-tour-end)--

awaitable<tractor::result<void>> supervision() {
  tractor::event go;
  co_return co_await tractor::open_nursery([&](tractor::nursery& n) -> awaitable<void> {
    for (int i = 1; i <= 2; ++i) {
      n.start_soon([&go, i]() -> awaitable<void> {
        co_await go.wait();
        throw std::runtime_error(fmt::format("task {} failed", i));
      });
    }
    n.start_soon([]() -> awaitable<void> {
      co_await tractor::finally(tractor::sleep_for(1h), []() -> awaitable<void> {
        fmt::print("  the sleeper was cancelled and cleaned up\n");
        co_return;
      }());
    });
    go.set();
    co_return;
  });
}

int main() {
  boost::asio::io_context io;
  int status = 0;
  boost::asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        fmt::print("1. a nursery of workers feeding a channel:\n");
        auto a = co_await pipeline();
        fmt::print("   nursery returned: {}\n", a ? std::string("success") : a.error().message());
        if (!a) status = 1;

        fmt::print("2. two failing tasks and a sleeper in one nursery:\n");
        auto b = co_await supervision();
        if (b) {
          status = 1;
        } else {
          fmt::print("   nursery returned {} errors, none lost:\n", b.error().group_members().size());
          for (const auto& e : b.error().group_members()) {
            fmt::print("   - {} ({})\n", e.message(), e.type_name());
          }
        }
      },
      [&](std::exception_ptr e) {
        if (e) status = 2;
      });
  io.run();
  return status;
}
