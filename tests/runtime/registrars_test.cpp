// A tree with several registrars (tractor's `registry_addrs`), under each backend and
// transport: its root registers it with every registrar that answers, one bound at two
// addresses counting once and an address where nobody is left out; lookups go on through
// the others when one registrar is gone; every registrar forgets the tree when it ends.
#include "tests/runtime/discovery_fixture.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <set>

#include <signal.h>

namespace {

template <class Tree>
class registrars_test : public discovery_test<Tree> {};
TYPED_TEST_SUITE(registrars_test, trees);

// The names a registrar lists.
std::multiset<std::string> names_in(const std::vector<registry_entry>& listed) {
  std::multiset<std::string> names;
  for (const auto& e : listed) names.insert(e.name);
  return names;
}

transport::multiaddr parsed(const std::string& s) {
  auto m = transport::multiaddr::parse(s);
  EXPECT_TRUE(m) << s;
  return std::move(m).value();
}

TYPED_TEST(registrars_test, a_tree_registers_with_every_registrar_and_lookups_outlive_one_of_them) {
  boost::asio::io_context ctx;
  // Where nobody is: a socket file nobody binds, or a TCP port bound but not listening.
  boost::asio::ip::tcp::socket reserved(ctx);
  std::string nobody = own_address("registrar-none");
  if (tractor::testing::cell().transport == "tcp") {
    reserved.open(boost::asio::ip::tcp::v4());
    reserved.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    nobody = "/ip4/127.0.0.1/tcp/" + std::to_string(reserved.local_endpoint().port());
  }
  // Two registrars in programs of their own, the first bound at two addresses.
  const std::string both = own_address("registrar-a1") + "," + own_address("registrar-a2");
  auto one = start_second<TypeParam>(ctx, "registrar", both, true);
  auto two = start_second<TypeParam>(ctx, "registrar", own_address("registrar-b"), true);
  const auto comma = one.registry.find(',');
  ASSERT_NE(comma, std::string::npos) << "the first registrar bound two addresses: " << one.registry;
  const transport::multiaddr one_a = parsed(one.registry.substr(0, comma));
  const transport::multiaddr one_b = parsed(one.registry.substr(comma + 1));
  const transport::multiaddr other = parsed(two.registry);
  root_options options;
  options.name = "first-root";
  options.registry_addrs = {one_a, one_b, other, parsed(nobody)};
  auto r = in_root<TypeParam>(
      [&](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
        runtime::actor* self = runtime::current_actor();
        EXPECT_FALSE(self->registry()) << "registrars answered: this root is none";
        EXPECT_EQ(self->registry_addrs(), (std::vector<transport::multiaddr>{one_a, other}))
            << "one address per registrar; none where nobody is";
        auto worker = co_await an.start_actor("worker", peers_only);
        if (!worker) co_return worker.error();
        // It serves its parent once it has registered.
        auto hi = co_await worker.value().template run<&peers::hello>("root");
        EXPECT_EQ(hi.value(), "hello root");
        // Each registrar lists the tree; the first through its second address too.
        const std::multiset<std::string> tree{"first-root", "registrar", "worker"};
        for (const auto& at : {one_a, one_b, other}) {
          auto listed = co_await list_registry(at);
          if (!listed) co_return listed.error();
          auto names = names_in(listed.value());
          if (at == one_a || at == one_b) names.erase(names.find("registrar"));  // listed at both of its addresses
          EXPECT_EQ(names, tree) << "at " << at.str();
        }
        {
          // A registrar that stops answering (its program stopped) holds no lookup up: every
          // registrar is asked at once, and the first that knows the name answers.
          ::kill(one.proc->pid(), SIGSTOP);
          auto while_stopped = co_await fail_after(std::chrono::seconds(10), find_actor<TypeParam>("worker"));
          EXPECT_TRUE(while_stopped) << while_stopped.error().message();
          // A name nobody registered is an answer only once every registrar gave it: the
          // stopped one's silence is an error naming it, after `registrar_answer`.
          runtime::timeouts& limits = runtime::current_actor()->limits();
          const auto usual = limits.registrar_answer;
          limits.registrar_answer = std::chrono::milliseconds(300);
          auto unknown = co_await fail_after(std::chrono::seconds(10), find_actor<TypeParam>("nobody"));
          limits.registrar_answer = usual;
          ::kill(one.proc->pid(), SIGCONT);
          EXPECT_FALSE(unknown);
          if (!unknown) {
            EXPECT_EQ(unknown.error(), errc::timeout);
            EXPECT_EQ(unknown.error().message(), "the registrar at " + one_a.str() + " is silent: no answer within 300 ms");
          }
        }
        // The first registrar goes; its program ends (a lookup racing that may still reach it).
        auto first = co_await get_registry<TypeParam>(one_a);
        if (!first) co_return first.error();
        EXPECT_TRUE(co_await first.value().cancel_actor());
        for (auto t0 = clock::now(); clock::now() - t0 < std::chrono::seconds(10);) {
          auto still = co_await list_registry(one_a);
          if (!still) break;
          co_await sleep_for(std::chrono::milliseconds(1));
        }
        // A child started now registers with the registrar that is left (and logs that it could
        // not with the other), and is found through it.
        auto late = co_await an.start_actor("late-worker", peers_only);
        if (!late) co_return late.error();
        auto late_hi = co_await late.value().template run<&peers::hello>("root");
        EXPECT_EQ(late_hi.value(), "hello root");
        auto found = co_await find_actor<TypeParam>("late-worker");
        EXPECT_TRUE(found) << found.error().message();
        if (found) {
          EXPECT_EQ(found.value().aid().uuid, late.value().aid().uuid);
        }
        auto missing = co_await find_actor<TypeParam>("nobody");
        EXPECT_FALSE(missing) << "not found, but one registrar could not be asked";
        if (!missing) {
          EXPECT_EQ(missing.error(), wire_errc::transport_closed);
          EXPECT_NE(missing.error().message().find("registrar at " + one_a.str() + " is unreachable"),
                    std::string::npos)
              << missing.error().message();
        }
        // Children that end unregister from the registrar that is left.
        EXPECT_TRUE(co_await worker.value().cancel_actor());
        EXPECT_TRUE(co_await late.value().cancel_actor());
        for (auto t0 = clock::now(); clock::now() - t0 < std::chrono::seconds(5);) {
          auto listed = co_await list_registry(other);
          if (!listed) co_return listed.error();
          if (names_in(listed.value()).size() == 2) break;
          co_await sleep_for(std::chrono::milliseconds(1));
        }
        auto after = co_await list_registry(other);
        if (!after) co_return after.error();
        EXPECT_EQ(names_in(after.value()), (std::multiset<std::string>{"first-root", "registrar"}));
        co_return success();
      },
      options);
  EXPECT_TRUE(r) << r.error().message();
  // The root unregistered too: a later root finds only the registrar there, then ends it.
  root_options later;
  later.name = "second-root";
  later.registry_addrs = {other};
  auto r2 = in_root<TypeParam>(
      [&](actor_nursery<TypeParam>&) -> awaitable<result<void>> {
        auto listed = co_await list_registry();
        for (auto t0 = clock::now(); listed && clock::now() - t0 < std::chrono::seconds(5);) {
          if (!names_in(listed.value()).contains("first-root")) break;  // (its unregistration is not awaited)
          co_await sleep_for(std::chrono::milliseconds(1));
          listed = co_await list_registry();
        }
        if (!listed) co_return listed.error();
        EXPECT_EQ(names_in(listed.value()), (std::multiset<std::string>{"registrar", "second-root"}));
        auto reg = co_await get_registry<TypeParam>();
        if (!reg) co_return reg.error();
        EXPECT_TRUE(co_await reg.value().cancel_actor());
        co_return success();
      },
      later);
  EXPECT_TRUE(r2) << r2.error().message();
  expect_ended_cleanly(ctx, {one.proc.get(), two.proc.get()});
}

}  // namespace
