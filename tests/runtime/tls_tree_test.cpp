// Actor trees over the TLS transport under every spawn backend: children connect back,
// register, answer calls, stream, fail as values and are found through the registrar, every
// connection a TLS session with the cookie checked inside; a plain TCP peer of the same cookie
// is refused by the tree. Also the transport-level TLS tests (tests/wire/tls_test.cpp), in
// this one program.
#include <tractor/testing.hpp>
#include <tractor/transport/tls.hpp>

#include "tests/wire/tls_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace vault {
tractor::awaitable<int> open(std::string code) {
  if (code != "1234") throw std::invalid_argument("wrong code " + code);
  co_return 42;
}
tractor::task<int> count(tractor::context<int, int>& ctx, int n) {
  BOOST_OUTCOME_CO_TRYV(co_await ctx.started(n));
  BOOST_OUTCOME_CO_TRY(auto s, ctx.open_stream());
  for (int i = 0; i < n; ++i) {
    BOOST_OUTCOME_CO_TRYV(co_await s.send(i));
  }
  co_return n;
}
// Whether this actor's cookie is `c`, and where else than in memory it can be read: its
// command line or environment ("" if neither).
tractor::awaitable<bool> has_cookie(std::string c) { co_return tractor::transport::auth::cookie().value() == c; }
tractor::awaitable<std::string> cookie_exposed() {
  const std::string c = tractor::transport::auth::cookie().value();
  std::string found_in;
  for (const char* where : {"/proc/self/cmdline", "/proc/self/environ"}) {
    std::ifstream in(where, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find(c) != std::string::npos) found_in += where;
  }
  co_return found_in;
}
// The names the registrar at `addr` lists, asked over a connection of this actor's own.
tractor::awaitable<std::vector<std::string>> listed_by(std::string addr) {
  auto listed = co_await tractor::list_registry(tractor::transport::multiaddr::parse(addr).value());
  if (!listed) throw std::runtime_error(listed.error().message());
  std::vector<std::string> names;
  for (const auto& e : listed.value()) names.push_back(e.name);
  co_return names;
}
}  // namespace vault

namespace {

using exposed =
    tractor::exposed<&vault::open, &vault::count, &vault::has_cookie, &vault::cookie_exposed, &vault::listed_by>;
using api =
    tractor::interface<&vault::open, &vault::count, &vault::has_cookie, &vault::cookie_exposed, &vault::listed_by>;
// --(doc-tls-tree-begin)--
using tls_tree = tractor::tree<tractor::spawn::forkserver, tractor::transport::tls,
                               tractor::codec::cereal_binary, exposed>;
// --(doc-tls-tree-end)--
using trees = tractor::testing::tree_list<
    tractor::tree<tractor::spawn::exec, tractor::transport::tls, tractor::codec::cereal_binary, exposed>, tls_tree,
    tractor::tree<tractor::spawn::thread, tractor::transport::tls, tractor::codec::cereal_binary, exposed>>;
using plain_tcp = tractor::tree<tractor::spawn::thread, tractor::transport::tcp, tractor::codec::cereal_binary, exposed>;

template <class Tree>
class tls_tree_test : public tractor::testing::tree_test<Tree> {};
TYPED_TEST_SUITE(tls_tree_test, trees::types, tractor::testing::tree_names);

template <class Tree, class Body>
int run_root(Body body, tractor::root_options options = {}) {
  char arg0[] = "tls_tree_test";
  char* argv[] = {arg0, nullptr};
  return tractor::run_main<Tree>(1, argv, std::move(options), std::move(body));
}

TYPED_TEST(tls_tree_test, children_call_stream_fail_and_are_found_over_tls) {
  int opened = 0;
  std::string refused;
  std::vector<int> streamed;
  int found = 0;
  const int code = run_root<TypeParam>([&](tractor::actor_nursery<TypeParam>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto teller, co_await an.template start_actor<api>("teller"));
    BOOST_OUTCOME_CO_TRY(opened, co_await teller.template run<&vault::open>(std::string("1234")));
    auto wrong = co_await teller.template run<&vault::open>(std::string("0000"));
    if (!wrong) refused = wrong.error().message();
    BOOST_OUTCOME_CO_TRYV(co_await teller.template open_context<&vault::count>(
        [&](tractor::caller_context<&vault::count>& ctx, int) -> tractor::task<void> {
          BOOST_OUTCOME_CO_TRY(auto s, ctx.open_stream());
          for (auto x = co_await s.receive(); x; x = co_await s.receive()) streamed.push_back(x.value());
          BOOST_OUTCOME_CO_TRYV(co_await ctx.wait_for_result());
          co_return tractor::success();
        },
        5));
    // Through the registrar (the root), a new connection: TLS too.
    BOOST_OUTCOME_CO_TRY(auto again, co_await tractor::find_actor<TypeParam, api>("teller"));
    BOOST_OUTCOME_CO_TRY(found, co_await again.template run<&vault::open>(std::string("1234")));
    an.cancel();
    co_return tractor::success();
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(opened, 42);
  EXPECT_NE(refused.find("wrong code 0000"), std::string::npos) << refused;
  EXPECT_EQ(streamed, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(found, 42);
}

TYPED_TEST(tls_tree_test, a_plain_tcp_peer_with_the_cookie_is_refused) {
  std::string why;
  bool still_answers = false;
  const int code = run_root<TypeParam>([&](tractor::actor_nursery<TypeParam>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto teller, co_await an.template start_actor<api>("teller"));
    tractor::runtime::actor* root = tractor::runtime::current_actor();
    auto plain = co_await tractor::runtime::connect_to(plain_tcp::policies(), root->address());
    if (!plain) why = plain.error().message();
    auto answer = co_await teller.template run<&vault::open>(std::string("1234"));
    still_answers = answer && answer.value() == 42;
    an.cancel();
    co_return tractor::success();
  });
  EXPECT_EQ(code, 0);
  EXPECT_FALSE(why.empty()) << "a plain TCP connection to a TLS tree authenticated";
  EXPECT_TRUE(still_answers);
}

// A root that finds nobody at its two registry addresses becomes the registrar at both, and
// serves TLS at each: its child asks it at the second over a TLS connection of its own, and a
// plain TCP probe there gets no answer.
TYPED_TEST(tls_tree_test, a_registrar_at_two_addresses_serves_tls_at_each) {
  const auto any_port = tractor::transport::multiaddr::parse("/ip4/127.0.0.1/tcp/0").value();
  std::size_t bound = 0;
  std::vector<std::string> listed;
  bool plain_answered = true;
  const int code = run_root<TypeParam>(
      [&](tractor::actor_nursery<TypeParam>& an) -> tractor::task<void> {
        BOOST_OUTCOME_CO_TRY(auto teller, co_await an.template start_actor<api>("teller"));
        const auto addrs = tractor::runtime::current_actor()->addresses();
        bound = addrs.size();
        if (bound != 2) co_return tractor::errc::would_block;
        BOOST_OUTCOME_CO_TRY(listed, co_await teller.template run<&vault::listed_by>(addrs.back().str()));
        plain_answered = co_await tractor::runtime::address_alive(plain_tcp::policies(), addrs.back());
        an.cancel();
        co_return tractor::success();
      },
      {.registry_addrs = {any_port, any_port}});
  EXPECT_EQ(code, 0);
  EXPECT_EQ(bound, 2u);
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, (std::vector<std::string>{"root", "root", "teller"})) << "the root at each address, its child";
  EXPECT_FALSE(plain_answered);
}

// A cookie the program sets itself (not TRACTOR_COOKIE, not the file) reaches each child
// through its spawn bootstrap: the children connect back with it, and it is in neither their
// command line nor their environment.
TYPED_TEST(tls_tree_test, the_cookie_reaches_children_through_their_bootstrap_only) {
  const std::string before = tractor::transport::auth::cookie().value();
  const std::string mine = "bootstrap-" + std::to_string(std::random_device{}());
  tractor::transport::auth::use_cookie(mine);
  bool child_has_it = false;
  bool grandchild_path_works = false;
  std::string leaked_in = "not asked";
  const int code = run_root<TypeParam>([&](tractor::actor_nursery<TypeParam>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto teller, co_await an.template start_actor<api>("teller"));
    BOOST_OUTCOME_CO_TRY(child_has_it, co_await teller.template run<&vault::has_cookie>(mine));
    BOOST_OUTCOME_CO_TRY(leaked_in, co_await teller.template run<&vault::cookie_exposed>());
    // A new connection to the child (through the registrar's answer), with the same cookie.
    BOOST_OUTCOME_CO_TRY(auto again, co_await tractor::find_actor<TypeParam, api>("teller"));
    BOOST_OUTCOME_CO_TRY(grandchild_path_works, co_await again.template run<&vault::has_cookie>(mine));
    an.cancel();
    co_return tractor::success();
  });
  tractor::transport::auth::use_cookie(before);
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(child_has_it);
  EXPECT_TRUE(grandchild_path_works);
  EXPECT_EQ(leaked_in, "");
}

}  // namespace

int main(int argc, char** argv) {
  tractor::testing::tls::use_test_certificates();
  return tractor::testing::run_tests<trees>(argc, argv);
}
