// Discovery with real actors under each backend and transport (tractor's registrar:
// `register_actor`, `find_actor`, `wait_for_actor`, `delete_addr`): registration and lookup by
// name, waiting for each other, a second program sharing the registry, stale entries, a
// remote registrar cancelled, duplicate names. Several registrars: registrars_test.cpp. This
// binary is also every child actor and the second programs (see main() at the bottom).
#include "tests/runtime/discovery_fixture.hpp"

tractor::awaitable<tractor::result<std::string>> peers::greet_when_there(std::string me, std::string other) {
  return on_tree([&](auto t) { return greet_with<typename decltype(t)::type>(me, other); });
}

namespace {
template <class Tree>
awaitable<result<bool>> wait_briefly_with(std::string name) {
  auto found = co_await move_on_after(std::chrono::milliseconds(100), wait_for_actor<Tree>(name));
  co_return !found.has_value();
}
}  // namespace

tractor::awaitable<tractor::result<bool>> peers::wait_briefly(std::string name) {
  return on_tree([&](auto t) { return wait_briefly_with<typename decltype(t)::type>(name); });
}

namespace {

TYPED_TEST_SUITE(discovery_test, trees);

// The cell's tree is the real tree of the cell's backend and transport (and codec).
TYPED_TEST(discovery_test, runs_under_its_cell_s_backend_and_transport) {
  const auto& p = TypeParam::policies();
  EXPECT_EQ(p.spawn_name, tractor::testing::cell().backend);
  EXPECT_EQ(p.transport_name, tractor::testing::cell().transport);
}

TYPED_TEST(discovery_test, a_child_is_found_by_name_and_gone_promptly_after_cancel) {
  auto r = in_root<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    auto child = co_await an.start_actor("findme", peers_only);
    if (!child) co_return child.error();
    auto found = co_await find_actor<TypeParam>("findme");  // registered before start_actor returned
    if (!found) co_return found.error();
    {
      auto hi = co_await found.value().template run<&peers::hello>("root");
      EXPECT_EQ(hi.value(), "hello root");
      EXPECT_EQ(found.value().aid().uuid, child.value().aid().uuid);
    }
    auto nobody = co_await find_actor<TypeParam>("nobody");
    EXPECT_TRUE(!nobody && nobody.error() == runtime_errc::actor_not_found);
    if (!nobody) {
      EXPECT_EQ(nobody.error().message(), "no actor registered as 'nobody'");
    }
    {
      // Found again over the channel this root already has, even once the registrar forgot it.
      auto other = co_await an.start_actor("cached", peers_only);
      if (!other) co_return other.error();
      auto first = co_await find_actor<TypeParam>("cached");
      EXPECT_TRUE(first);
      auto addrs = co_await query_actor<TypeParam>("cached");
      if (!addrs || addrs.value().empty()) co_return errc::would_block;
      std::tuple<std::string> dead{addrs.value().front().str()};
      auto forgot = co_await runtime::ask_registrar<&runtime::requests::delete_addr>(*runtime::current_actor(),
                                                                                    std::move(dead));
      EXPECT_TRUE(forgot && forgot.value() && forgot.value()->first == "cached");
      auto again = co_await find_actor<TypeParam>("cached");
      EXPECT_TRUE(again && again.value().aid().uuid == other.value().aid().uuid);
      EXPECT_TRUE(co_await other.value().cancel_actor());
    }
    EXPECT_TRUE(co_await child.value().cancel_actor());
    auto took = co_await until_unregistered<TypeParam>("findme");
    if (!took) co_return took.error();
    EXPECT_LT(took.value(), std::chrono::seconds(1)) << "gone promptly";
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
}

TYPED_TEST(discovery_test, two_children_wait_for_each_other_by_name_and_exchange_greetings) {
  auto r = in_root<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    auto alice = co_await an.template run_in_actor<&peers::greet_when_there>("alice", "alice", "bob");
    if (!alice) co_return alice.error();
    auto bob = co_await an.template run_in_actor<&peers::greet_when_there>("bob", "bob", "alice");
    if (!bob) co_return bob.error();
    auto from_alice = co_await fail_after(std::chrono::seconds(20), alice.value().wait_for_result());
    auto from_bob = co_await fail_after(std::chrono::seconds(20), bob.value().wait_for_result());
    EXPECT_EQ(from_alice.value(), "hello alice") << "bob answered alice";
    EXPECT_EQ(from_bob.value(), "hello bob");
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
}

TYPED_TEST(discovery_test, a_separate_program_registers_here_and_is_called_from_here) {
  boost::asio::io_context ctx;
  std::unique_ptr<spawn::process> second;
  auto r = in_root<TypeParam>([&](actor_nursery<TypeParam>&) -> awaitable<result<void>> {
    runtime::actor* self = runtime::current_actor();
    EXPECT_TRUE(self->registry()) << "this root is the registrar";
    second = start_second<TypeParam>(ctx, "second_root", self->address().str(), false).proc;
    auto p = co_await fail_after(std::chrono::seconds(20), wait_for_actor<TypeParam>("second"));
    if (!p) co_return p.error();
    EXPECT_NE(p.value().aid().pid, ::getpid());
    auto hi = co_await p.value().template run<&peers::hello>("the first program");
    EXPECT_EQ(hi.value(), "hello the first program");
    EXPECT_TRUE(co_await p.value().cancel_actor()) << "a peer's cancel ends a daemon";
    auto took = co_await until_unregistered<TypeParam>("second");
    EXPECT_TRUE(took) << "it unregistered";
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
  ASSERT_TRUE(second);
  expect_ended_cleanly(ctx, {second.get()});
}

TYPED_TEST(discovery_test, a_child_that_closed_its_transport_is_not_found_and_its_entry_is_gone) {
  auto r = in_root<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    auto child = co_await an.start_actor("closer", peers_only);
    if (!child) co_return child.error();
    auto closed = co_await child.value().template run<&peers::close_own_server>();
    EXPECT_TRUE(closed && closed.value());
    auto before = co_await query_actor<TypeParam>("closer");
    EXPECT_EQ(before.value().size(), 1u) << "still registered: nobody knows it is dead yet";
    auto found = co_await find_actor<TypeParam>("closer");
    EXPECT_TRUE(!found && found.error() == runtime_errc::actor_not_found) << "its address is dead";
    auto after = co_await query_actor<TypeParam>("closer");
    EXPECT_TRUE(after && after.value().empty()) << "the stale entry is gone (find_actor had the registrar delete_addr it)";
    auto still = co_await child.value().template run<&peers::hello>("parent");
    EXPECT_EQ(still.value(), "hello parent") << "its parent channel still works";
    an.cancel();
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
}

TYPED_TEST(discovery_test, cancelling_a_remote_registrar_makes_lookups_fail_clearly) {
  boost::asio::io_context ctx;
  // A registrar in another program, on a registry address of its own.
  auto registrar = start_second<TypeParam>(ctx, "registrar", own_address("registrar-test"), true);
  auto where = transport::multiaddr::parse(registrar.registry);
  ASSERT_TRUE(where) << registrar.registry;
  root_options options;
  options.registry_addrs = {where.value()};
  auto r = in_root<TypeParam>(
      [&](actor_nursery<TypeParam>&) -> awaitable<result<void>> {
        EXPECT_FALSE(runtime::current_actor()->registry()) << "this root registered there instead";
        auto listed = co_await list_registry();
        if (!listed) co_return listed.error();
        std::set<std::string> names;
        for (const auto& e : listed.value()) names.insert(e.name);
        EXPECT_TRUE(names.contains("registrar") && names.contains("root"));
        auto reg = co_await get_registry<TypeParam>();
        if (!reg) co_return reg.error();
        EXPECT_TRUE(co_await reg.value().cancel_actor());
        // Its program ends; a lookup racing that may still reach it, or fail mid-call.
        for (auto t0 = clock::now(); clock::now() - t0 < std::chrono::seconds(10);) {
          auto racing = co_await find_actor<TypeParam>("anyone");
          if (!racing && racing.error() != runtime_errc::actor_not_found) break;
          co_await sleep_for(std::chrono::milliseconds(1));
        }
        auto lost = co_await find_actor<TypeParam>("anyone");
        EXPECT_FALSE(lost);
        if (!lost) {
          EXPECT_EQ(lost.error(), wire_errc::transport_closed);
          EXPECT_NE(lost.error().message().find("registrar at " + registrar.registry + " is unreachable"),
                    std::string::npos)
              << lost.error().message();
        }
        co_return success();
      },
      options);
  EXPECT_TRUE(r) << r.error().message();
  expect_ended_cleanly(ctx, {registrar.proc.get()});
}

TYPED_TEST(discovery_test, a_wait_for_an_actor_is_cancellable_and_the_registrar_stops_waiting) {
  auto r = in_root<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    auto here = co_await move_on_after(std::chrono::milliseconds(50), wait_for_actor<TypeParam>("never"));
    EXPECT_FALSE(here) << "a local wait (this root is the registrar) is cancelled";
    auto child = co_await an.start_actor("impatient", peers_only);
    if (!child) co_return child.error();
    auto gave_up = co_await child.value().template run<&peers::wait_briefly>("never");
    EXPECT_TRUE(gave_up && gave_up.value()) << "the child's wait, at this registrar, was cancelled";
    // The child's cancelled request cancels the registrar's waiting task (self.cancel_task).
    runtime::actor* self = runtime::current_actor();
    for (auto t0 = clock::now(); self->running_tasks() != 0 && clock::now() - t0 < std::chrono::seconds(5);) {
      co_await sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(self->running_tasks(), 0u) << "no wait left behind at the registrar";
    an.cancel();
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
}

TYPED_TEST(discovery_test, duplicate_names_are_both_registered) {
  auto r = in_root<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    auto one = co_await an.start_actor("twin", peers_only);
    if (!one) co_return one.error();
    auto two = co_await an.start_actor("twin", peers_only);
    if (!two) co_return two.error();
    auto listed = co_await list_registry();
    if (!listed) co_return listed.error();
    std::set<std::string> twins;
    for (const auto& e : listed.value()) {
      if (e.name == "twin") twins.insert(e.uuid);
    }
    EXPECT_EQ(twins, (std::set<std::string>{one.value().aid().uuid, two.value().aid().uuid}));
    auto first = co_await find_actor<TypeParam>("twin");
    EXPECT_TRUE(first && first.value().aid().uuid == one.value().aid().uuid)
        << "the first registered is found";
    an.cancel();
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
}

// The second programs: a plain root registering at the registry it was given, or a
// registrar of its own; each says where its registry is (a registrar: every address it
// bound, comma-separated), then serves until cancelled.
template <class Tree>
int second_program_main(const std::string& mode) {
  root_options options;
  options.name = mode == "registrar" ? "registrar" : "second";
  char arg0[] = "discovery_test_second";
  char* argv[] = {arg0, nullptr};
  return run_main<Tree>(1, argv, options, [](root<Tree>&) -> awaitable<result<void>> {
    runtime::actor* self = runtime::current_actor();
    std::string where = self->registry_addrs().front().str();
    if (self->registry()) {
      where.clear();
      for (const auto& at : self->addresses()) where += (where.empty() ? "" : ",") + at.str();
    }
    std::printf("ready %s\n", where.c_str());
    std::fflush(stdout);
    for (;;) co_await sleep_for(std::chrono::hours(24));
    co_return success();
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (tractor::runtime::is_child_process()) {
    return on_tree([](auto t) { return tractor::runtime::child_main(decltype(t)::type::policies()); });
  }
  if (const char* mode = std::getenv("DISCOVERY_TEST_MODE")) {
    return on_tree([&](auto t) { return second_program_main<typename decltype(t)::type>(mode); });
  }
  return tractor::testing::run_matrix_tests(argc, argv);
}
