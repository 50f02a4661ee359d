// What the discovery suites share (discovery_test.cpp, registrars_test.cpp): the exposed
// functions of their actors, a root to run a body in, the second programs they start (the
// registrars of other programs among them) and the fixture that checks nothing outlives a test.
#pragma once

#include <tractor/discovery/discovery.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/matrix.hpp"
#include "tests/support/matrix_tree.hpp"
#include "tests/support/registry.hpp"
#include "tests/support/reaper.hpp"

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/transport/uds.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <initializer_list>

namespace peers {
// Set once this actor has been greeted.
inline thread_local tractor::event greeted;
inline tractor::awaitable<std::string> hello(std::string from) {
  greeted.set();
  co_return "hello " + from;
}
// Waits for `other` by name, greets it, and returns once it was greeted too (a one-shot
// child ends when it returns: the other could not reach it any more). Both one-shot
// children do this at once, each waiting on the other.
tractor::awaitable<tractor::result<std::string>> greet_when_there(std::string me, std::string other);
// Waits for `name` for at most 100 ms; true if it gave up.
tractor::awaitable<tractor::result<bool>> wait_briefly(std::string name);
inline tractor::awaitable<bool> close_own_server() {
  tractor::runtime::current_actor()->close_server();
  co_return true;
}
}  // namespace peers

namespace {

using namespace tractor;
using fns = exposed<&peers::hello, &peers::greet_when_there, &peers::close_own_server, &peers::wait_briefly>;
// The cell's tree (tests/support/matrix_tree.hpp): its backend and transport.
using cell_tree = tractor::testing::matrix_tree<codec::cereal_binary, fns>;
const actor_options peers_only{.enable_modules = {"peers"}};

// The tree of this process's test, from the environment its root set.
template <class F>
decltype(auto) on_tree(F f) {
  return f(std::type_identity<cell_tree>{});
}

template <class Tree>
awaitable<result<std::string>> greet_with(std::string me, std::string other) {
  auto p = co_await wait_for_actor<Tree>(other);
  if (!p) co_return p.error();
  auto answer = co_await p.value().template run<&peers::hello>(me);
  co_await peers::greeted.wait();
  co_return answer;
}

}  // namespace

namespace {

// Runs `body` in a root of tree `Tree` (registrar of this process's private registry unless
// `options` say otherwise); returns the body's result.
template <class Tree>
result<void> in_root(std::function<awaitable<result<void>>(actor_nursery<Tree>&)> body, root_options options = {}) {
  result<void> outcome = success();
  char arg0[] = "discovery_test";
  char* argv[] = {arg0, nullptr};
  const int code = run_main<Tree>(1, argv, std::move(options), [&](root<Tree>& r) -> awaitable<result<void>> {
    outcome = co_await r.open_nursery([&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
      co_return co_await body(an);
    });
    co_return success();
  });
  EXPECT_EQ(code, 0);
  return outcome;
}

// Polls the registry until `name` is gone (bounded): how long that took.
template <class Tree>
awaitable<result<clock::duration>> until_unregistered(std::string name) {
  const auto t0 = clock::now();
  for (;;) {
    auto addrs = co_await query_actor<Tree>(name);
    if (!addrs) co_return addrs.error();
    if (addrs.value().empty()) co_return clock::now() - t0;
    if (clock::now() - t0 > std::chrono::seconds(5)) co_return errc::timeout;
    co_await sleep_for(std::chrono::milliseconds(1));
  }
}

// A second program: a root of its own on `registry` (by DISCOVERY_TEST_MODE), started with
// this binary; it prints "ready <its registry address>" once up, and serves until cancelled.
// Waiting for that line blocks: only before this process's own root runs (a second program
// registering here needs this root's loop; that one is awaited with `wait_for_actor`).
struct second_program {
  std::unique_ptr<spawn::process> proc;
  std::string registry;  // the address it printed
};

template <class Tree>
second_program start_second(boost::asio::io_context& ctx, const std::string& mode, const std::string& registry,
                            bool wait_ready) {
  int out[2];
  EXPECT_EQ(::pipe(out), 0);
  auto p = spawn::exec_process(ctx.get_executor(), {.env = {{"DISCOVERY_TEST_MODE", mode},
                                                          {"TRACTOR_REGISTRY_ADDRS", registry}},
                                                  .stdout_fd = wait_ready ? out[1] : -1});
  ::close(out[1]);
  if (!wait_ready) {
    ::close(out[0]);
    return {std::move(p).value(), ""};
  }
  char buf[512] = {};
  std::size_t got = 0;
  while (got < sizeof buf - 1) {  // one line (blocks until the program is up)
    const ssize_t n = ::read(out[0], buf + got, 1);
    if (n <= 0 || buf[got] == '\n') break;
    ++got;
  }
  ::close(out[0]);
  const std::string line(buf, got);
  EXPECT_EQ(line.rfind("ready ", 0), 0u) << line;
  return {std::move(p).value(), line.size() > 6 ? line.substr(6) : ""};
}

// Waits (on `ctx`) for each second program to end; each must exit 0, as a peer's cancel
// ends it.
inline void expect_ended_cleanly(boost::asio::io_context& ctx, std::initializer_list<spawn::process*> programs) {
  tractor::testing::run_async(ctx, [&]() -> awaitable<void> {
    for (spawn::process* p : programs) {
      auto s = co_await p->wait();
      EXPECT_TRUE(s.success()) << s.describe();
    }
  }());
}

// An address of this cell's transport for a registrar program named `name`: a UNIX socket
// of this test's own, or TCP port 0 (the OS picks one).
inline std::string own_address(const std::string& name) {
  return tractor::testing::cell().transport != "tcp" ? transport::uds::bind_addr_of(name, ::getpid()).str()
                                                     : "/ip4/127.0.0.1/tcp/0";
}

template <class Tree>
class discovery_test : public tractor::testing::no_child_left {
 protected:
  void TearDown() override {
    no_child_left::TearDown();
    EXPECT_TRUE(tractor::testing::live_children_but_server().empty()) << "a second program outlived its test";
  }
};
using trees = ::testing::Types<cell_tree>;

}  // namespace
