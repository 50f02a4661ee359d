// Real child actors under supervision (tractor's R8-R14): failures cancelling siblings and
// aggregated, children stuck in blocking code, nested trees relaying errors, boot failures,
// cancellation during spawn, and signals at the root. Part of the actor_test binary.
#include "tests/runtime/actor_fixture.hpp"

namespace {

using namespace actor_tests;

template <class Tree>
class supervision_test : public actor_fixture<Tree> {};
TYPED_TEST_SUITE(supervision_test, trees);

// R8-R14: the first failing child cancels its siblings; one error comes out bare, several
// as a group holding every one. Here `raising` children fail while being cancelled, which
// makes "several fail at once" deterministic.
template <class Tree>
result<void> supervised(int raising, bool with_daemon) {
  return nursery_result<Tree>([=](actor_nursery<Tree>& an) -> awaitable<result<void>> {
    if (with_daemon) {
      const actor_options math_only{.enable_modules = {"math"}};
      auto d = co_await an.start_actor("bystander", math_only);
      if (!d) co_return d.error();
    }
    auto sleeper = co_await an.template run_in_actor<&math::sleep_forever>("sleeper");
    if (!sleeper) co_return sleeper.error();
    for (int i = 0; i < raising; ++i) {
      const std::string name = "raiser-" + std::to_string(i);
      const std::string why = "raised while cancelled " + std::to_string(i);
      auto f = co_await an.template run_in_actor<&math::fail_on_cancel>(name, why);
      if (!f) co_return f.error();
    }
    const std::string why = "trigger";
    auto t = co_await an.template run_in_actor<&math::explode>("trigger", why);
    if (!t) co_return t.error();
    co_return success();
  });
}

TYPED_TEST(supervision_test, one_failing_child_cancels_the_rest_and_comes_out_bare) {
  auto r = supervised<TypeParam>(0, true);
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().is_group());
  EXPECT_EQ(r.error(), runtime_errc::remote_actor_error);
  EXPECT_EQ(r.error().message(), "trigger");
  EXPECT_EQ(r.error().source().substr(0, 8), "trigger@");
}

TYPED_TEST(supervision_test, several_failing_children_come_out_as_a_group_of_all) {
  for (int raising : {1, 24}) {
    auto r = supervised<TypeParam>(raising, false);
    ASSERT_FALSE(r);
    ASSERT_TRUE(r.error().is_group()) << r.error().message();
    std::set<std::string> messages;
    for (const auto& e : r.error().group_members()) messages.insert(e.message());
    EXPECT_EQ(messages.size(), static_cast<std::size_t>(raising) + 1) << r.error().message();
    EXPECT_TRUE(messages.contains("trigger"));
    EXPECT_TRUE(messages.contains("raised while cancelled 0"));
  }
}

TYPED_TEST(supervision_test, a_child_stuck_in_blocking_code_is_killed_and_the_error_still_reported) {
  this->abandons_threads = thread_actors;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = nursery_result<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    an.limits().cancel_ack = std::chrono::milliseconds(50);
    an.limits().before_kill = std::chrono::milliseconds(100);
    an.limits().thread_abandon = std::chrono::milliseconds(200);
    auto stuck = co_await an.template run_in_actor<&math::block_the_loop>("stuck");
    if (!stuck) co_return stuck.error();
    const std::string why = "original";
    auto t = co_await an.template run_in_actor<&math::explode>("trigger", why);
    if (!t) co_return t.error();
    co_return success();
  });
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  // Graceful cancel unheard, SIGTERM unheard (the loop is blocked), then SIGKILL.
  EXPECT_LT(took, std::chrono::seconds(5));
  if constexpr (thread_actors) {
    // A thread cannot be killed: it is abandoned, which is an error of its own.
    ASSERT_TRUE(r.error().is_group()) << r.error().message();
    std::set<std::string> messages;
    for (const auto& e : r.error().group_members()) messages.insert(e.message());
    EXPECT_TRUE(messages.contains("original")) << r.error().message();
    EXPECT_NE(r.error().message().find("'stuck' ignored cancellation and was abandoned"), std::string::npos)
        << r.error().message();
    // Its socket file stays while it runs (until this process exits): not a leak to report.
    // (Ours only: a run beside this one may have a stuck actor of its own.)
    const std::string ours = "@" + std::to_string(::getpid()) + transport::detail::pid_namespace_tag() + ".sock";
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(transport::uds::runtime_dir().value(), ec)) {
      const std::string n = f.path().filename().string();
      if (n.rfind("stuck.", 0) == 0 && n.ends_with(ours)) std::filesystem::remove(f.path(), ec);
    }
  } else {
    EXPECT_FALSE(r.error().is_group()) << "the killed child adds no error: " << r.error().message();
    EXPECT_EQ(r.error().message(), "original");
  }
}

TYPED_TEST(supervision_test, nested_trees_relay_groups_with_their_sources) {
  // root -> 2 spawners -> 2 failing grandchildren each: a group of 2 boxed groups.
  auto r = nursery_result<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    for (const char* tag : {"left", "right"}) {
      const std::string t = tag;
      auto s = co_await an.template run_in_actor<&math::spawn_failing_grandchildren>("spawner-" + t, t);
      if (!s) co_return s.error();
    }
    co_return success();
  });
  ASSERT_FALSE(r);
  const auto members = r.error().group_members();
  // The first spawner fails with its own group of two. The second is cancelled by the
  // first, at a moment that varies with load: it reports its group of two, or one
  // grandchild's error relayed through it with its original source, or — cancelled before
  // anything in it failed — nothing (then the first group comes out bare).
  if (!r.error().is_group() || r.error().group_members().size() != 2) {
    EXPECT_EQ(r.error().type_name(), "BaseExceptionGroup") << r.error().message();
    EXPECT_NE(r.error().message().find("-a failed"), std::string::npos);
    EXPECT_NE(r.error().message().find("raised while cancelled"), std::string::npos);
    return;
  }
  const auto& first = members[0];
  EXPECT_EQ(first.type_name(), "BaseExceptionGroup");
  EXPECT_EQ(first.source().substr(0, 8), "spawner-");
  EXPECT_NE(first.message().find("-a failed"), std::string::npos) << first.message();
  EXPECT_NE(first.message().find("raised while cancelled"), std::string::npos) << first.message();
  const auto& second = members[1];
  if (second.type_name() == "BaseExceptionGroup") {
    EXPECT_EQ(second.source().substr(0, 8), "spawner-");
  } else {
    EXPECT_EQ(second.type_name(), "std::runtime_error");
    EXPECT_NE(second.source().find("-b@"), std::string::npos) << second.source();
    ASSERT_EQ(second.relay_path().size(), 2u) << "grandchild, then spawner";
    EXPECT_EQ(second.relay_path()[1].substr(0, 8), "spawner-");
  }
}

TYPED_TEST(supervision_test, a_grandchild_error_keeps_its_source_and_relay_path) {
  auto r = nursery_result<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    const actor_options math_only{.enable_modules = {"math"}};
    auto mid = co_await an.start_actor("middle", math_only);
    if (!mid) co_return mid.error();
    const std::string tag = "deep";
    auto g = co_await mid.value().template run<&math::spawn_failing_grandchildren>(tag);
    EXPECT_FALSE(g);
    if (!g) {
      EXPECT_EQ(g.error().type_name(), "BaseExceptionGroup");
      EXPECT_EQ(g.error().source().substr(0, 7), "middle@");
    }
    an.cancel();
    co_return success();
  });
  EXPECT_TRUE(r) << r.error().message();
}

TYPED_TEST(supervision_test, a_failing_body_with_idle_daemons_reaps_them_all) {
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    const actor_options math_only{.enable_modules = {"math"}};
    for (int i = 0; i < 2; ++i) {
      const std::string name = "idle-" + std::to_string(i);
      auto w = co_await an.start_actor(name, math_only);
      if (!w) co_return w.error();
    }
    co_return errc::timeout;  // the body fails: the daemons are cancelled and reaped
  });
  EXPECT_EQ(code, 1);
}

TYPED_TEST(supervision_test, a_child_dying_during_boot_is_an_actor_failure) {
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    auto w = co_await an.start_actor("die-at-boot");
    EXPECT_FALSE(w);
    if (!w) {
      EXPECT_EQ(w.error(), runtime_errc::actor_failure);
      EXPECT_NE(w.error().message().find("died during boot (exited with status 7)"), std::string::npos)
          << w.error().message();
    }
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

TYPED_TEST(supervision_test, a_child_silent_past_the_boot_timeout_is_killed_and_an_actor_failure) {
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    an.limits().boot = std::chrono::milliseconds(200);
    auto w = co_await an.start_actor("hang-at-boot");
    EXPECT_FALSE(w);
    if (!w) {
      EXPECT_EQ(w.error(), runtime_errc::actor_failure);
      EXPECT_NE(w.error().message().find("within the boot timeout"), std::string::npos) << w.error().message();
    }
    EXPECT_TRUE(tractor::testing::no_child_actor_left()) << "the silent child is killed and reaped";
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

// Spawns a child `name` that never finishes its boot and cancels the spawn at 300 ms (the
// boot limit is 60 s: only the cancellation can end the wait). The deadline only triggers the
// cancellation; whenever it lands during the boot, the outcome must be the same: no child
// left, no hang.
template <class Tree>
int cancel_a_spawn_that_never_finishes(const char* name, const char* never) {
  return run_tree<Tree>([name, never](actor_nursery<Tree>& an) -> awaitable<result<void>> {
    an.limits().boot = std::chrono::seconds(60);
    auto start = [&]() -> awaitable<void> {
      auto w = co_await an.start_actor(name);
      ADD_FAILURE() << "start_actor returned for a child that never " << never;
    };
    auto cancelled = co_await move_on_after(std::chrono::milliseconds(300), start());
    EXPECT_FALSE(cancelled) << "the scope was cancelled, not completed";
    EXPECT_TRUE(tractor::testing::no_child_actor_left()) << "the half-started child is reaped";
    co_return success();
  });
}

TYPED_TEST(supervision_test, cancellation_during_spawn_kills_and_reaps_the_half_started_child) {
  const auto t0 = clock::now();
  EXPECT_EQ(cancel_a_spawn_that_never_finishes<TypeParam>("hang-at-boot", "booted"), 0);  // never connects back
  EXPECT_LT(clock::now() - t0, std::chrono::seconds(30)) << "cancelling the boot must not wait it out";
}

// The same once the child has handshaken, while we wait for its registration: the child is
// killed and reaped, and the socket file it bound is removed (the fixture checks).
TYPED_TEST(supervision_test, cancellation_after_the_handshake_kills_reaps_and_forgets_the_child) {
  EXPECT_EQ(cancel_a_spawn_that_never_finishes<TypeParam>("silent-after-handshake", "registered"), 0);
}

TYPED_TEST(supervision_test, a_grandchild_in_a_blocking_sleep_when_its_root_fails_leaves_no_survivor) {
  if (thread_actors) GTEST_SKIP() << "a thread cannot be killed (abandonment is the stuck-child test's)";
  const auto t0 = std::chrono::steady_clock::now();
  auto r = nursery_result<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    an.limits().cancel_ack = std::chrono::milliseconds(50);
    an.limits().before_kill = std::chrono::milliseconds(100);
    const actor_options math_only{.enable_modules = {"math"}};
    auto spawner = co_await an.start_actor("spawner", math_only);
    if (!spawner) co_return spawner.error();
    co_return co_await tractor::open_nursery([&](nursery& n) -> awaitable<result<void>> {
      n.start_soon([&]() -> awaitable<void> {
        auto held = co_await spawner.value().template run<&math::hold_blocked_grandchild>();
        (void)held;
      });
      auto ready = co_await spawner.value().template run<&math::until_grandchild_started>();
      if (!ready) co_return ready.error();
      co_return error(make_error_code(errc::timeout), "the root failed");
    });
  });
  // The spawner was killed by the ladder before it could kill its grandchild; the
  // grandchild's parent-death signal ended it, and it was reparented here.
  reap_orphans();
  (void)remove_stale_socket_files({"blocked@"});  // if it had bound before it was killed
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "the root failed") << "the original error, bare";
  EXPECT_LT(took, std::chrono::seconds(10));
}

TYPED_TEST(supervision_test, sigint_at_the_root_cancels_the_tree_and_exits_non_zero) {
  auto s = signal_root<TypeParam>(SIGINT);
  EXPECT_TRUE(s.exited) << s.describe();
  EXPECT_EQ(s.code, 128 + SIGINT);
  EXPECT_TRUE(tractor::testing::live_children().empty()) << "a descendant survived";
}

TYPED_TEST(supervision_test, sigkill_of_the_root_leaves_no_survivor) {
  auto s = signal_root<TypeParam>(SIGKILL);
  EXPECT_EQ(s.signal, SIGKILL);
  EXPECT_TRUE(tractor::testing::live_children().empty()) << "a child outlived its killed root";
  // Nobody was left to remove the killed actors' socket files (as in tractor), nor those of
  // thread actors started as spares (named after their uuid) and of the spares still
  // waiting; children that saw their parent channel close before they were killed removed
  // theirs.
  (void)remove_stale_socket_files({"held-", "thread."});
  if constexpr (std::is_same_v<typename TypeParam::transport_type, transport::uds>) {
    // The root was the registrar of this process's registry: its file stays, dead.
    const std::string path = transport::uds::bind_addr_of("registry-test", ::getpid()).path();
    boost::asio::io_context io;
    boost::asio::local::stream_protocol::socket probe(io);
    boost::system::error_code ec;
    probe.connect(boost::asio::local::stream_protocol::endpoint(path), ec);
    EXPECT_EQ(ec, boost::asio::error::connection_refused) << "the killed root's own file, dead: " << path;
    ::unlink(path.c_str());
  }
}

}  // namespace
