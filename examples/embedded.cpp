// A root inside a program that already owns its event loop (a server adding actors to
// itself): `async_run_root` runs the tree on the program's io_context, beside the program's
// own work, with run_main's guarantees (one root per process, every child reaped, every error
// in the result).
//
//     tools/bazel run //examples:embedded
#include <tractor/runtime/tree.hpp>
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/transport/uds.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fmt/core.h>

#include <string>
#include <unistd.h>

namespace shout {
tractor::awaitable<std::string> upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  co_return s + " (from pid " + std::to_string(::getpid()) + ")";
}
}  // namespace shout

using tree = tractor::tree<tractor::spawn::exec, tractor::transport::uds, tractor::codec::cereal_binary,
                           tractor::exposed<&shout::upper>>;
using shout_api = tractor::interface<&shout::upper>;

// --(doc-embedded-begin)--
int main() {
  // The exec backend re-runs this binary for each child: hand that run to the child runtime.
  if (auto code = tractor::run_if_child<tree>()) return *code;

  boost::asio::io_context io;  // the program's own event loop, with work of its own
  boost::asio::steady_timer heartbeat(io, std::chrono::milliseconds(1));
  heartbeat.async_wait([](boost::system::error_code) { fmt::print("host: its own work goes on\n"); });

  auto body = [](tractor::actor_nursery<tree>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto worker, co_await an.start_actor<shout_api>("worker"));
    BOOST_OUTCOME_CO_TRY(auto loud, co_await worker.run<&shout::upper>("hello from the host"));
    fmt::print("worker: {}\n", loud);
    an.cancel();
    co_return tractor::success();
  };
  int code = 0;
  tractor::async_run_root<tree>(io.get_executor(), {.name = "embedded"}, body, [&](tractor::result<void> r) {
    fmt::print("root: {}\n", r ? std::string("done, every child reaped") : r.error().message());
    code = r ? 0 : 1;
  });
  io.run();
  return code;
}
// --(doc-embedded-end)--
