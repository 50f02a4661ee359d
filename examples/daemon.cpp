// A daemon and the programs that find it by name (tractor's `run_daemon` and discovery).
//
//     bazel-bin/examples/daemon serve          # terminal 1: a root named "greeter", until Ctrl-C
//     bazel-bin/examples/daemon call Ada       # terminal 2: finds "greeter" and calls it
//     bazel-bin/examples/daemon stop           # asks the daemon to cancel itself
//
// The first root on the registry address (here the UDS default, the abstract name
// registry@1616 under the UDS name prefix; TRACTOR_REGISTRY_ADDRS points elsewhere) becomes the registrar; every
// later one registers with it, so separate programs find each other by name.
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/discovery/discovery.hpp>
#include <tractor/transport/uds.hpp>

#include <fmt/core.h>

#include <string>

#include <unistd.h>

namespace greeter {
tractor::awaitable<std::string> greet(std::string who) {
  co_return "hello, " + who + ", from the greeter (pid " + std::to_string(::getpid()) + ")";
}
}  // namespace greeter

using tree = tractor::tree<tractor::spawn::exec, tractor::transport::uds, tractor::codec::cereal_binary,
                           tractor::exposed<&greeter::greet>>;
using greeter_api = tractor::interface<&greeter::greet>;
using greeter_portal = tractor::portal<tree, greeter_api>;

namespace {

// Runs `body(greeter's portal)` in a short-lived root named "client".
template <class Body>
int with_greeter(int argc, char** argv, Body body) {
  tractor::root_options client;
  client.name = "client";
  return tractor::run_main<tree>(argc, argv, client, [&](tractor::root<tree>&) -> tractor::task<void> {
    auto found = co_await tractor::find_actor<tree, greeter_api>("greeter");
    if (!found && found.error() == tractor::runtime_errc::actor_not_found) {
      co_return tractor::error(found.error().code(), found.error().message() + ": start `daemon serve` first");
    }
    if (!found) co_return found.error();
    co_return co_await body(found.value());
  });
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "serve") {
    tractor::root_options daemon;
    daemon.name = "greeter";
    fmt::print("greeter: serving until Ctrl-C or `daemon stop`\n");
    std::fflush(stdout);
    return tractor::run_daemon<tree>(argc, argv, daemon);
  }
  if (mode == "call") {
    const std::string who = argc > 2 ? argv[2] : "world";
    return with_greeter(argc, argv, [&](greeter_portal& p) -> tractor::task<void> {
      BOOST_OUTCOME_CO_TRY(auto line, co_await p.run<&greeter::greet>(who));
      fmt::print("{}\n", line);
      co_return tractor::success();
    });
  }
  if (mode == "stop") {
    return with_greeter(argc, argv, [](greeter_portal& p) -> tractor::task<void> {
      const bool acked = co_await p.cancel_actor();
      fmt::print("greeter {}\n", acked ? "stopped" : "did not acknowledge");
      co_return tractor::success();
    });
  }
  fmt::print(stderr, "usage: daemon serve | call [name] | stop\n");
  return 2;
}
