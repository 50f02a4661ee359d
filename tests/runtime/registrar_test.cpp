// The registrar's table on its own: eviction by address, duplicate names, removal by channel
// and by dead address, waiting for a name, and the request dispatcher's refusals.
#include <tractor/runtime/registrar.hpp>

#include "tests/support/async_test.hpp"

#include <tractor/core/nursery.hpp>

#include <gtest/gtest.h>

namespace {

using tractor::runtime::registrar;
using uid = tractor::msg::uid;
using list = std::vector<std::string>;

TEST(registrar_test, an_address_belongs_to_one_actor_and_duplicate_names_are_kept) {
  registrar r;
  int via_a = 0, via_b = 0;
  r.add(uid{"w", "u1"}, {"/unix/a.sock"}, &via_a);
  r.add(uid{"w", "u2"}, {"/unix/b.sock"}, &via_b);
  EXPECT_EQ(r.entries().size(), 2u) << "two actors may share a name";
  EXPECT_EQ(r.find("w"), list{"/unix/a.sock"}) << "the first registered is found";
  r.add(uid{"w", "u1"}, {"/unix/a.sock", "/ip4/127.0.0.1/tcp/9"}, &via_a);
  EXPECT_EQ(r.find("w"), (list{"/unix/a.sock", "/ip4/127.0.0.1/tcp/9"})) << "no address twice";
  r.add(uid{"x", "u3"}, {"/unix/b.sock"}, &via_b);  // b.sock now belongs to x
  ASSERT_EQ(r.entries().size(), 2u) << "u2, left with no address, is evicted";
  EXPECT_EQ(r.find("x"), list{"/unix/b.sock"});
  EXPECT_EQ(r.delete_addr("/unix/b.sock"), (std::optional<uid>{uid{"x", "u3"}}));
  EXPECT_TRUE(r.find("x").empty());
  EXPECT_EQ(r.delete_addr("/unix/nobody.sock"), std::nullopt);
  r.remove_via(&via_a);
  EXPECT_TRUE(r.entries().empty()) << "what came over a closed channel is gone";
}

TEST(registrar_test, waiting_for_a_name_ends_when_it_registers) {
  registrar r;
  tractor::testing::run_async([&]() -> tractor::awaitable<void> {
    std::vector<std::string> found;
    auto waiter = [&]() -> tractor::awaitable<void> { found = co_await r.wait_for("late"); };
    auto done = co_await tractor::open_nursery([&](tractor::nursery& n) -> tractor::awaitable<void> {
      n.start_soon(waiter);
      co_await tractor::checkpoint();
      r.add(uid{"early", "u0"}, {"/unix/e.sock"}, nullptr);  // another name wakes nobody for good
      co_await tractor::checkpoint();
      EXPECT_TRUE(found.empty());
      r.add(uid{"late", "u1"}, {"/unix/l.sock"}, nullptr);
    });
    EXPECT_TRUE(done);
    EXPECT_EQ(found, list{"/unix/l.sock"});

    EXPECT_EQ(r.entries().size(), 2u);
  }());
}

}  // namespace
