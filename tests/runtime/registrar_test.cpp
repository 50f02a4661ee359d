// The registrar's table on its own: eviction by address, duplicate names, removal by channel
// and by dead address, waiting for a name, and the request dispatcher's refusals.
#include <tractor/runtime/registrar.hpp>

#include "tests/support/async_test.hpp"

#include <tractor/core/nursery.hpp>

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace {

using tractor::runtime::registrar;
using uid = tractor::msg::uid;
using list = std::vector<std::string>;

TEST(registrar_test, an_address_belongs_to_one_actor_and_duplicate_names_are_kept) {
  registrar r;
  int via_a = 0, via_b = 0;
  ASSERT_TRUE(r.add(uid{"w", "u1"}, {"/unix/a.sock"}, &via_a));
  ASSERT_TRUE(r.add(uid{"w", "u2"}, {"/unix/b.sock"}, &via_b));
  EXPECT_EQ(r.entries().size(), 2u) << "two actors may share a name";
  EXPECT_EQ(r.find("w"), list{"/unix/a.sock"}) << "the first registered is found";
  ASSERT_TRUE(r.add(uid{"w", "u1"}, {"/unix/a.sock", "/ip4/127.0.0.1/tcp/9"}, &via_a));
  EXPECT_EQ(r.find("w"), (list{"/unix/a.sock", "/ip4/127.0.0.1/tcp/9"})) << "no address twice";
  ASSERT_TRUE(r.add(uid{"x", "u3"}, {"/unix/b.sock"}, &via_b));  // b's owner moves b.sock to x
  ASSERT_EQ(r.entries().size(), 2u) << "u2, left with no address, is evicted";
  EXPECT_EQ(r.find("x"), list{"/unix/b.sock"});
  EXPECT_EQ(r.delete_addr("/unix/b.sock"), (std::optional<uid>{uid{"x", "u3"}}));
  EXPECT_TRUE(r.find("x").empty());
  EXPECT_EQ(r.delete_addr("/unix/nobody.sock"), std::nullopt);
  r.remove_via(&via_a);
  EXPECT_TRUE(r.entries().empty()) << "what came over a closed channel is gone";
}

// Issue 26's registrar ownership: an entry is its registering connection's; nobody else may
// overwrite it, take one of its addresses, or unregister it.
TEST(registrar_test, only_the_connection_that_registered_an_entry_changes_it) {
  registrar r;
  int owner = 0, intruder = 0;
  ASSERT_TRUE(r.add(uid{"w", "u1"}, {"/unix/a.sock"}, &owner));
  const auto overwrite = r.add(uid{"w", "u1"}, {"/unix/evil.sock"}, &intruder);
  ASSERT_FALSE(overwrite);
  EXPECT_EQ(overwrite.error().code(), make_error_code(boost::system::errc::permission_denied));
  EXPECT_NE(overwrite.error().message().find("only its owner may change it"), std::string::npos);
  const auto steal = r.add(uid{"evil", "u9"}, {"/unix/a.sock"}, &intruder);
  ASSERT_FALSE(steal);
  EXPECT_NE(steal.error().message().find("an address of w@u1"), std::string::npos) << steal.error().message();
  const auto unregister = r.remove(uid{"w", "u1"}, &intruder);
  ASSERT_FALSE(unregister);
  EXPECT_NE(unregister.error().message().find("only its owner may unregister it"), std::string::npos);
  EXPECT_EQ(r.find("w"), list{"/unix/a.sock"}) << "untouched";
  EXPECT_EQ(r.remove(uid{"w", "u1"}, &owner).value(), true);
  EXPECT_EQ(r.remove(uid{"w", "u1"}, &owner).value(), false) << "gone already";
}

// Thousands of entries: what the indexes find is what the rules say (the oldest of a name,
// an address's one holder), after registrations, moves, closed channels and dead addresses.
TEST(registrar_test, thousands_of_entries_keep_the_rules) {
  registrar r;
  constexpr int actors = 3000;
  std::array<int, 10> channels{};
  const auto addr = [](int i) { return "/unix/a" + std::to_string(i) + ".sock"; };
  const auto channel = [&](int i) { return &channels[(i / 1000 + i) % 10]; };  // 7, 1007, 2007: 7, 8, 9
  for (int i = 0; i < actors; ++i) {  // names repeat every 1,000: three actors a name
    ASSERT_TRUE(r.add(uid{"n" + std::to_string(i % 1000), "u" + std::to_string(i)}, {addr(i)}, channel(i)));
  }
  ASSERT_EQ(r.entries().size(), std::size_t{actors});
  EXPECT_EQ(r.find("n7"), list{addr(7)}) << "the oldest of three";
  r.remove_via(&channels[7]);  // n7's oldest goes, the next is 1007
  EXPECT_EQ(r.entries().size(), std::size_t{actors - actors / 10});
  EXPECT_EQ(r.find("n7"), list{addr(1007)});
  EXPECT_EQ(r.delete_addr(addr(1007)), (std::optional<uid>{uid{"n7", "u1007"}}));
  EXPECT_EQ(r.find("n7"), list{addr(2007)});
  // 8's channel moves its address to a new actor: 8, left with none, goes; n8 is now 1008.
  ASSERT_TRUE(r.add(uid{"n8", "u3008"}, {addr(8)}, channel(8)));
  EXPECT_EQ(r.find("n8"), list{addr(1008)});
  EXPECT_EQ(r.delete_addr(addr(8)), (std::optional<uid>{uid{"n8", "u3008"}}));
  EXPECT_EQ(r.entries().size(), std::size_t{actors - actors / 10 - 2}) << "7s, 1007 and 8 gone; 3008 came and went";
  EXPECT_FALSE(r.add(uid{"thief", "u9"}, {addr(9)}, &channels[0])) << "9's address is its channel's";
  for (auto& c : channels) r.remove_via(&c);
  EXPECT_TRUE(r.entries().empty());
  EXPECT_TRUE(r.find("n1").empty());
  EXPECT_EQ(r.delete_addr(addr(1)), std::nullopt) << "no index kept a forgotten address";
}

TEST(registrar_test, waiting_for_a_name_ends_when_it_registers) {
  registrar r;
  tractor::testing::run_async([&]() -> tractor::awaitable<void> {
    std::vector<std::string> found;
    auto waiter = [&]() -> tractor::awaitable<void> { found = co_await r.wait_for("late"); };
    auto done = co_await tractor::open_nursery([&](tractor::nursery& n) -> tractor::awaitable<void> {
      n.start_soon(waiter);
      co_await tractor::checkpoint();
      (void)r.add(uid{"early", "u0"}, {"/unix/e.sock"}, nullptr);  // another name wakes nobody for good
      co_await tractor::checkpoint();
      EXPECT_TRUE(found.empty());
      (void)r.add(uid{"late", "u1"}, {"/unix/l.sock"}, nullptr);
    });
    EXPECT_TRUE(done);
    EXPECT_EQ(found, list{"/unix/l.sock"});

    EXPECT_EQ(r.entries().size(), 2u);
  }());
}

}  // namespace
