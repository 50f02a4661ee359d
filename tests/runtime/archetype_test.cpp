// The policy concepts: the library's models and the archetypes (tests/support/archetypes.hpp)
// are accepted, broken models are refused, and a tree composed of the three archetypes runs
// actors: spawns, calls, cancels, and leaves nothing behind.
#include <tractor/codec/cereal_json.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/spawn/forkserver.hpp>
#include <tractor/transport/shm.hpp>
#include <tractor/transport/tcp.hpp>

#include "tests/support/archetypes.hpp"
#include "tests/support/matrix.hpp"
#include "tests/support/registry.hpp"

#include <gtest/gtest.h>

namespace {

using namespace tractor;
namespace arch = tractor::testing::archetypes;

static_assert(spawn::backend<arch::backend>);
static_assert(transport::transport<arch::transport>);
static_assert(codec::codec<arch::codec>);
static_assert(std::is_same_v<spawn::session<arch::backend>, spawn::no_session>);
static_assert(std::is_same_v<spawn::session<spawn::forkserver>, spawn::forkserver::session>);
static_assert(!spawn::adopts_channel<arch::backend>);
static_assert(spawn::start_blocks<arch::backend>);
static_assert(!spawn::carries_handover<arch::backend>);
static_assert(spawn::carries_handover<spawn::exec> && spawn::carries_handover<spawn::forkserver> &&
              spawn::carries_handover<spawn::thread>);

// Broken transports: each lacks one member, or has it with another signature.
struct no_default_registry {
  static constexpr std::string_view name = "x";
  static bool accepts(const transport::multiaddr&);
  static transport::multiaddr bind_addr(std::string_view);
  static result<transport::listener> listen(const boost::asio::any_io_executor&, const transport::multiaddr&);
  static awaitable<result<transport::stream_socket>> connect(const boost::asio::any_io_executor&,
                                                             const transport::multiaddr&);
};
struct blocking_connect : arch::transport {
  static result<tractor::transport::stream_socket> connect(const boost::asio::any_io_executor&,
                                                           const tractor::transport::multiaddr&);
};
struct listen_throws_style : arch::transport {
  static tractor::transport::listener listen(const boost::asio::any_io_executor&,
                                             const tractor::transport::multiaddr&);
};
// Authentication is both sides or neither, each an awaitable on the socket.
struct proves_but_never_checks : arch::transport {
  static awaitable<result<void>> prove(tractor::transport::stream_socket&);
};
struct authenticates_blocking : arch::transport {
  static result<void> prove(tractor::transport::stream_socket&);
  static result<void> check(tractor::transport::stream_socket&);
};
struct authenticates : arch::transport {
  static awaitable<result<void>> prove(tractor::transport::stream_socket&);
  static awaitable<result<void>> check(tractor::transport::stream_socket&);
};
static_assert(transport::transport<transport::uds> && transport::transport<transport::tcp>);
static_assert(transport::authenticates<transport::tcp> && !transport::authenticates<transport::uds>);
static_assert(transport::transport<transport::shm> && transport::authenticates<transport::shm>);
static_assert(transport::transport<authenticates> && transport::authenticates<authenticates>);
static_assert(!transport::transport<proves_but_never_checks>);
static_assert(!transport::transport<authenticates_blocking>);
static_assert(!transport::transport<no_default_registry>);
static_assert(!transport::transport<blocking_connect>);
static_assert(!transport::transport<listen_throws_style>);

// A backend whose session cannot be default-constructed is refused.
struct needs_config {
  explicit needs_config(int);
};
struct session_needs_arguments : arch::backend {
  using session = needs_config;
};
static_assert(!spawn::backend<session_needs_arguments>);

}  // namespace

namespace calc {
tractor::awaitable<int> twice(int x) { co_return 2 * x; }
}  // namespace calc

namespace {

using archetype_tree = tree<arch::backend, arch::transport, arch::codec, exposed<&calc::twice>>;

TEST(archetype_test, a_tree_of_the_three_archetypes_spawns_calls_and_cancels) {
  const std::size_t threads_before = tractor::testing::live_threads();
  char arg0[] = "archetype_test";
  char* argv[] = {arg0, nullptr};
  int answer = 0;
  const int code = run_main<archetype_tree>(1, argv, [&](root<archetype_tree>& r) -> awaitable<result<void>> {
    co_return co_await r.open_nursery([&](actor_nursery<archetype_tree>& an) -> awaitable<result<void>> {
      const actor_options calc_only{.enable_modules = {"calc"}};
      auto child = co_await an.start_actor("doubler", calc_only);
      if (!child) co_return child.error();
      auto twice = co_await child.value().template run<&calc::twice>(21);
      if (!twice) co_return twice.error();
      answer = twice.value();
      an.cancel();
      co_return success();
    });
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(answer, 42);
  // (Waiting only for /proc: a joined thread can stay listed there for a moment.)
  EXPECT_TRUE(tractor::testing::eventually([&] { return tractor::testing::live_threads() == threads_before; }))
      << "the child's thread outlived its tree";
  EXPECT_TRUE(tractor::testing::listeners_left().empty()) << "a listener outlived its tree";
}

}  // namespace

int main(int argc, char** argv) {
  return tractor::testing::run_all_tests(argc, argv);
}
