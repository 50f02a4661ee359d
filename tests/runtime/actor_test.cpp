// Real child processes: this binary is both the test runner and, re-run by the exec
// backend, every child actor (see main() at the bottom).
#include <tractor/runtime/tree.hpp>

#include "tests/support/async_test.hpp"
#include "tests/support/matrix.hpp"
#include "tests/support/registry.hpp"
#include "tests/support/reaper.hpp"

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/codec/cereal_json.hpp>
#include <tractor/transport/tcp.hpp>
#include <tractor/transport/uds.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include <boost/asio/steady_timer.hpp>

#include <sys/prctl.h>

// Error types the test trees register, and one they do not.
namespace app {
struct quota_exceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct unregistered_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
enum class app_errc { over_limit = 1 };
class app_category_impl : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "app"; }
  std::string message(int v) const override { return v == 1 ? "over the limit" : "app error"; }
};
inline const boost::system::error_category& app_category() {
  static const app_category_impl c;
  return c;
}
inline boost::system::error_code make_error_code(app_errc e) { return {static_cast<int>(e), app_category()}; }
}  // namespace app
template <>
struct boost::system::is_error_code_enum<app::app_errc> : std::true_type {};

namespace math {
tractor::awaitable<int> add(int a, int b) { co_return a + b; }
tractor::awaitable<int> over_quota(std::string why) {
  throw app::quota_exceeded(why);
  co_return 0;
}
tractor::awaitable<tractor::result<int>> over_limit() { co_return app::app_errc::over_limit; }
tractor::awaitable<int> unregistered(std::string why) {
  throw app::unregistered_failure(why);
  co_return 0;
}
tractor::awaitable<tractor::result<int>> checked_div(int a, int b) {
  if (b == 0) co_return tractor::errc::would_block;
  co_return a / b;
}
tractor::awaitable<std::string> explode(std::string why) {
  throw std::runtime_error(why);
  co_return "";
}
tractor::awaitable<std::string> cmdline() {
  std::ifstream in("/proc/self/cmdline");
  std::string s;
  std::getline(in, s, '\0');
  co_return s;
}
tractor::awaitable<int> fail_after_ms(int ms, std::string why) {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(ms));
  co_await t.async_wait(boost::asio::use_awaitable);
  throw std::runtime_error(why);
}
tractor::awaitable<int> sleep_forever() {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::hours(1));
  co_await t.async_wait(boost::asio::use_awaitable);
  co_return 0;
}
tractor::awaitable<int> block_the_loop() {
  for (;;) ::sleep(3600);  // blocking, and deaf to EINTR: only SIGKILL ends this actor
  co_return 0;
}
tractor::awaitable<int> fail_on_cancel(std::string why) {
  auto complain = [why]() -> tractor::awaitable<void> {
    throw std::runtime_error(why);
    co_return;
  };
  co_return co_await tractor::finally(sleep_forever(), complain());
}
// Set in the child when a task of `wait_to_be_cancelled` sees its cancellation.
inline thread_local tractor::event a_task_was_cancelled;
tractor::awaitable<int> wait_to_be_cancelled() {
  auto note = []() -> tractor::awaitable<void> {
    a_task_was_cancelled.set();
    co_return;
  };
  co_return co_await tractor::finally(sleep_forever(), note());
}
// Returns once some task of this actor was cancelled by its caller.
tractor::awaitable<bool> until_a_task_was_cancelled() {
  co_await a_task_was_cancelled.wait();
  co_return true;
}
// A child that opens its own actor nursery (defined below, once the trees exist): one
// grandchild fails, the other fails while being cancelled, so the spawner's nursery fails
// with a group of two, which the spawner returns to its caller.
tractor::awaitable<tractor::result<int>> spawn_failing_grandchildren(std::string tag);
// A child that starts a grandchild stuck in blocking code and holds it until cancelled;
// `until_grandchild_started` returns once the grandchild is running.
tractor::awaitable<tractor::result<int>> hold_blocked_grandchild();
inline thread_local tractor::event grandchild_started;
tractor::awaitable<bool> until_grandchild_started() {
  co_await grandchild_started.wait();
  co_return true;
}
}  // namespace math
namespace secret {
tractor::awaitable<int> hidden() { co_return 42; }
}  // namespace secret

namespace {

using namespace tractor;
using fns = exposed<&math::add, &math::checked_div, &math::explode, &math::cmdline,
                    &math::fail_after_ms, &math::sleep_forever, &math::fail_on_cancel, &math::block_the_loop,
                    &math::spawn_failing_grandchildren, &math::wait_to_be_cancelled,
                    &math::until_a_task_was_cancelled, &math::over_quota, &math::over_limit,
                    &math::unregistered, &math::hold_blocked_grandchild,
                    &math::until_grandchild_started,
                    &secret::hidden>;
using errs = errors<app::quota_exceeded, app::app_errc>;
using test_spawn = tractor::testing::boot_faults<tractor::testing::matrix_spawn>;
using uds_tree = tree<test_spawn, transport::uds, codec::cereal_binary, fns, errs>;
using tcp_tree = tree<test_spawn, transport::tcp, codec::cereal_binary, fns, errs>;
using json_tree = tree<test_spawn, transport::uds, codec::cereal_json, fns, errs>;
using tractor::testing::thread_actors;

// The codec axis runs under one backend (exec), beside the transports.
constexpr bool codec_axis = std::is_same_v<tractor::testing::matrix_spawn, spawn::exec>;

// How a test's root tells the actors it spawns (and re-runs of this binary) its tree.
template <class Tree>
std::string tree_key() {
  return std::string(Tree::transport_type::name) + "+" + std::string(Tree::codec_type::name);
}

// Calls `f(std::type_identity<Tree>{})` with the tree this process's test root uses.
template <class F>
decltype(auto) on_tree(F f) {
  const char* key = std::getenv("ACTOR_TEST_TREE");
  const std::string which = key ? key : "";
  if constexpr (codec_axis) {
    if (which == tree_key<json_tree>()) return f(std::type_identity<json_tree>{});
  }
  if (which == tree_key<tcp_tree>()) return f(std::type_identity<tcp_tree>{});
  return f(std::type_identity<uds_tree>{});
}

template <class Tree>
awaitable<result<int>> failing_grandchildren(std::string tag) {
  auto r = co_await open_actor_nursery<Tree>([&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
    const std::string calm = tag + "-b raised while cancelled";
    auto b = co_await an.template run_in_actor<&math::fail_on_cancel>(tag + "-b", calm);
    if (!b) co_return b.error();
    const std::string loud = tag + "-a failed";
    auto a = co_await an.template run_in_actor<&math::explode>(tag + "-a", loud);
    if (!a) co_return a.error();
    co_return success();
  });
  if (!r) co_return r.error();
  co_return 0;
}

template <class Tree>
awaitable<result<int>> blocked_grandchild() {
  auto r = co_await open_actor_nursery<Tree>([&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
    auto g = co_await an.template run_in_actor<&math::block_the_loop>("blocked");
    if (!g) co_return g.error();
    math::grandchild_started.set();
    co_await math::sleep_forever();
    co_return success();
  });
  if (!r) co_return r.error();
  co_return 0;
}

}  // namespace

tractor::awaitable<tractor::result<int>> math::hold_blocked_grandchild() {
  return on_tree([](auto t) { return blocked_grandchild<typename decltype(t)::type>(); });
}

tractor::awaitable<tractor::result<int>> math::spawn_failing_grandchildren(std::string tag) {
  return on_tree([&](auto t) { return failing_grandchildren<typename decltype(t)::type>(tag); });
}

namespace {

// The policy matrix: one body, run under each tree. The child picks the same tree from the
// environment it inherits.
template <class Tree>
int run_tree(std::function<awaitable<result<void>>(actor_nursery<Tree>&)> body) {
  ::setenv("ACTOR_TEST_TREE", tree_key<Tree>().c_str(), 1);
  char arg0[] = "actor_test";
  char* argv[] = {arg0, nullptr};
  return run_main<Tree>(1, argv, [&](root<Tree>& r) -> awaitable<result<void>> {
    co_return co_await r.open_nursery([&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
      co_return co_await body(an);
    });
  });
}

// The actor nursery's own result (run_tree only reports the exit code).
template <class Tree>
result<void> nursery_result(std::function<awaitable<result<void>>(actor_nursery<Tree>&)> body) {
  result<void> outcome = success();
  ::setenv("ACTOR_TEST_TREE", tree_key<Tree>().c_str(), 1);
  char arg0[] = "actor_test";
  char* argv[] = {arg0, nullptr};
  (void)run_main<Tree>(1, argv, [&](root<Tree>& r) -> awaitable<result<void>> {
    outcome = co_await r.open_nursery([&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
      co_return co_await body(an);
    });
    co_return success();
  });
  return outcome;
}

template <class Tree>
class actor_test : public ::testing::Test {
 protected:
  void SetUp() override { tractor::testing::thread_baseline() = tractor::testing::live_threads(); }
  void TearDown() override {
    EXPECT_TRUE(tractor::testing::live_child_processes().empty()) << "a child actor outlived its test";
    if (!abandons_threads) {
      EXPECT_EQ(tractor::testing::live_child_actors(), 0u) << "a thread actor outlived its test";
    }
  }
  /// Set by a test that leaves a thread actor deaf to cancellation (abandoned, running on).
  bool abandons_threads = false;
};
using trees = std::conditional_t<codec_axis, ::testing::Types<uds_tree, tcp_tree, json_tree>,
                                 ::testing::Types<uds_tree, tcp_tree>>;
TYPED_TEST_SUITE(actor_test, trees);

TYPED_TEST(actor_test, daemon_runs_typed_calls_and_is_cancelled) {
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    const actor_options math_only{.enable_modules = {"math"}};
    auto worker = co_await an.start_actor("worker", math_only);
    EXPECT_TRUE(worker) << worker.error().message();
    if (!worker) co_return worker.error();
    auto three = co_await worker.value().template run<&math::add>(1, 2);
    EXPECT_EQ(three.value(), 3);
    if (!thread_actors) {  // a thread actor shares the process and its title
      auto title = co_await worker.value().template run<&math::cmdline>();
      EXPECT_EQ(title.value().rfind("_subactor[worker@", 0), 0u) << title.value();
    }
    EXPECT_TRUE(co_await worker.value().cancel_actor());
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

TYPED_TEST(actor_test, remote_failures_come_back_as_errors) {
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    const actor_options math_only{.enable_modules = {"math"}};
    auto w = co_await an.start_actor("failing", math_only);
    if (!w) co_return w.error();
    const std::string why = "kaboom";
    auto boom = co_await w.value().template run<&math::explode>(why);
    EXPECT_FALSE(boom);
    EXPECT_EQ(boom.error(), runtime_errc::remote_actor_error);
    EXPECT_EQ(boom.error().type_name(), "std::runtime_error");
    EXPECT_EQ(boom.error().message(), "kaboom");
    EXPECT_EQ(boom.error().source().substr(0, 8), "failing@");

    auto div = co_await w.value().template run<&math::checked_div>(1, 0);
    EXPECT_FALSE(div);
    EXPECT_EQ(div.error(), errc::would_block) << "tractor's own codes come back as themselves";

    auto hidden = co_await w.value().template run<&secret::hidden>();
    EXPECT_FALSE(hidden);
    EXPECT_EQ(hidden.error(), runtime_errc::module_not_exposed);

    auto fine = co_await w.value().template run<&math::checked_div>(9, 3);
    EXPECT_EQ(fine.value(), 3) << "the actor keeps serving after failed calls";
    EXPECT_TRUE(co_await w.value().cancel_actor());
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

TYPED_TEST(actor_test, registered_error_types_come_back_as_themselves) {
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    const actor_options math_only{.enable_modules = {"math"}};
    auto w = co_await an.start_actor("strict", math_only);
    if (!w) co_return w.error();
    const std::string why = "42 of 10 used";
    auto quota = co_await w.value().template run<&math::over_quota>(why);
    EXPECT_TRUE(!quota && quota.error() == runtime_errc::remote_actor_error);
    if (!quota) {
      const auto* rebuilt = quota.error().template as<app::quota_exceeded>();
      EXPECT_NE(rebuilt, nullptr) << "a registered exception type is rebuilt as itself";
      EXPECT_EQ(rebuilt ? std::string(rebuilt->what()) : "", why);
      EXPECT_EQ(quota.error().type_name(), "app::quota_exceeded");
      EXPECT_EQ(quota.error().source().substr(0, 7), "strict@");
      EXPECT_THROW(quota.error().throw_exception(), app::quota_exceeded);
    }
    auto limit = co_await w.value().template run<&math::over_limit>();
    EXPECT_TRUE(!limit && limit.error() == app::app_errc::over_limit) << "a registered code is itself";
    EXPECT_EQ(limit ? "" : limit.error().source().substr(0, 7), "strict@");

    auto other = co_await w.value().template run<&math::unregistered>(why);
    EXPECT_TRUE(!other && other.error() == runtime_errc::remote_actor_error);
    if (!other) {
      EXPECT_EQ(other.error().template as<app::unregistered_failure>(), nullptr);
      EXPECT_EQ(other.error().type_name(), "app::unregistered_failure") << "the type name is kept";
      EXPECT_EQ(other.error().message(), why) << "and so is the text";
    }
    EXPECT_TRUE(co_await w.value().cancel_actor());
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

TYPED_TEST(actor_test, a_cancelled_call_cancels_its_remote_task) {
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    const actor_options math_only{.enable_modules = {"math"}};
    auto w = co_await an.start_actor("worker", math_only);
    if (!w) co_return w.error();
    auto call = [&]() -> awaitable<void> {
      auto never = co_await w.value().template run<&math::wait_to_be_cancelled>();
      ADD_FAILURE() << "the remote task cannot finish on its own";
    };
    // The deadline only triggers the caller's cancellation; the check below waits for the
    // remote task's own report, however long that takes (bounded by the watchdog).
    auto finished = co_await move_on_after(std::chrono::milliseconds(200), call());
    EXPECT_FALSE(finished);
    auto seen = co_await fail_after(std::chrono::seconds(20),
                                    w.value().template run<&math::until_a_task_was_cancelled>());
    EXPECT_TRUE(seen && seen.value()) << (seen ? "" : seen.error().message());
    auto still_serving = co_await w.value().template run<&math::add>(2, 2);
    EXPECT_EQ(still_serving.value(), 4);
    EXPECT_TRUE(co_await w.value().cancel_actor());
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

// The protocol as a raw peer speaks it, against this test's own root actor: a reused cid is
// refused, `self.cancel_task` cancels the task and names the canceller, and cancelling a
// finished task is acknowledged with false.
TYPED_TEST(actor_test, cancel_task_duplicate_cids_and_unknown_names_at_the_protocol_level) {
  using C = typename TypeParam::codec_type;
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>&) -> awaitable<result<void>> {
    runtime::actor* root = runtime::current_actor();
    auto ex = co_await boost::asio::this_coro::executor;
    auto sock = co_await TypeParam::transport_type::connect(ex, root->address());
    if (!sock) co_return sock.error();
    auto ch = transport::channel::make<C>(std::move(sock).value());
    const msg::Aid me{"raw-peer", "raw-uuid-0001", ::getpid(), false, false};
    auto hs = co_await ch->handshake(me);
    if (!hs) co_return hs.error();
    auto send = [&](std::string cid, std::string ns, std::string func, msg::raw_pld kwargs) {
      msg::msg m = msg::Start{std::move(cid), std::move(ns), std::move(func), std::move(kwargs), {me.name, me.uuid}};
      return ch->send(std::move(m));
    };
    EXPECT_TRUE(co_await send("dup", "math", "sleep_forever", C::encode_payload(std::tuple<>{})));
    auto ack = co_await ch->receive();
    EXPECT_TRUE(ack && std::holds_alternative<msg::StartAck>(ack.value()));

    EXPECT_TRUE(co_await send("dup", "math", "add", C::encode_payload(std::tuple<int, int>{1, 2})));
    auto refused = co_await ch->receive();
    EXPECT_TRUE(refused && std::holds_alternative<msg::Error>(refused.value()));
    if (refused && std::holds_alternative<msg::Error>(refused.value())) {
      EXPECT_EQ(runtime::unbox_error(std::get<msg::Error>(refused.value())), runtime_errc::protocol_error);
    }

    EXPECT_TRUE(co_await send("c-cancel", "self", "cancel_task", C::encode_payload(std::string("dup"))));
    std::optional<msg::CancelAck> cancel_ack;
    std::optional<msg::Error> task_end;
    for (int i = 0; i < 3; ++i) {  // StartAck and CancelAck for c-cancel, the task's Error
      auto m = co_await ch->receive();
      if (!m) co_return m.error();
      if (auto* a = std::get_if<msg::CancelAck>(&m.value())) cancel_ack = *a;
      if (auto* e = std::get_if<msg::Error>(&m.value())) task_end = *e;
    }
    EXPECT_TRUE(cancel_ack && cancel_ack->cid == "c-cancel" && cancel_ack->pld);
    EXPECT_TRUE(task_end && task_end->cid == "dup");
    if (task_end) {
      EXPECT_EQ(task_end->canceller, (msg::uid{me.name, me.uuid})) << "the canceller is named";
      EXPECT_EQ(runtime::unbox_error(*task_end), runtime_errc::context_cancelled);
    }

    // A name no exposed function has (a portal cannot even spell it: run<F> is checked).
    EXPECT_TRUE(co_await send("c-unknown", "math", "no_such_function", C::encode_payload(std::tuple<>{})));
    auto unknown = co_await ch->receive();
    EXPECT_TRUE(unknown && std::holds_alternative<msg::Error>(unknown.value()));
    if (unknown && std::holds_alternative<msg::Error>(unknown.value())) {
      const auto e = runtime::unbox_error(std::get<msg::Error>(unknown.value()));
      EXPECT_EQ(e, runtime_errc::unknown_function);
      EXPECT_NE(e.message().find("math.no_such_function"), std::string::npos) << e.message();
    }

    EXPECT_TRUE(co_await send("c-again", "self", "cancel_task", C::encode_payload(std::string("dup"))));
    for (int i = 0; i < 2; ++i) {
      auto m = co_await ch->receive();
      if (!m) co_return m.error();
      const auto* a = std::get_if<msg::CancelAck>(&m.value());
      EXPECT_TRUE(!a || !a->pld) << "nothing left to cancel";
    }
    ch->close();
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

TYPED_TEST(actor_test, nursery_cancel_reaps_every_idle_daemon) {
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    const actor_options math_only{.enable_modules = {"math"}};
    for (int i = 0; i < 3; ++i) {
      std::string name = "idle-" + std::to_string(i);
      auto w = co_await an.start_actor(name, math_only);
      if (!w) co_return w.error();
    }
    EXPECT_EQ(tractor::testing::live_child_actors(), 3u);
    an.cancel();
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

TYPED_TEST(actor_test, one_shot_children_return_results) {
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    auto sum = co_await an.template run_in_actor<&math::add>("adder", 20, 22);
    if (!sum) co_return sum.error();
    auto v = co_await sum.value().wait_for_result();
    EXPECT_EQ(v.value(), 42);
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

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

TYPED_TEST(actor_test, one_failing_child_cancels_the_rest_and_comes_out_bare) {
  auto r = supervised<TypeParam>(0, true);
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().is_group());
  EXPECT_EQ(r.error(), runtime_errc::remote_actor_error);
  EXPECT_EQ(r.error().message(), "trigger");
  EXPECT_EQ(r.error().source().substr(0, 8), "trigger@");
}

TYPED_TEST(actor_test, several_failing_children_come_out_as_a_group_of_all) {
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

TYPED_TEST(actor_test, a_child_stuck_in_blocking_code_is_killed_and_the_error_still_reported) {
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
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(transport::uds::runtime_dir().value(), ec)) {
      if (f.path().filename().string().rfind("stuck.", 0) == 0) std::filesystem::remove(f.path(), ec);
    }
  } else {
    EXPECT_FALSE(r.error().is_group()) << "the killed child adds no error: " << r.error().message();
    EXPECT_EQ(r.error().message(), "original");
  }
}

TYPED_TEST(actor_test, nested_trees_relay_groups_with_their_sources) {
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

TYPED_TEST(actor_test, a_grandchild_error_keeps_its_source_and_relay_path) {
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

TYPED_TEST(actor_test, a_failing_body_with_idle_daemons_reaps_them_all) {
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

TYPED_TEST(actor_test, a_child_dying_during_boot_is_an_actor_failure) {
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

TYPED_TEST(actor_test, cancellation_during_spawn_kills_and_reaps_the_half_started_child) {
  const auto t0 = clock::now();
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> awaitable<result<void>> {
    an.limits().boot = std::chrono::seconds(60);  // only the cancellation can end the wait
    auto start = [&]() -> awaitable<void> {
      auto w = co_await an.start_actor("hang-at-boot");  // never connects back
      ADD_FAILURE() << "start_actor returned for a child that never booted";
    };
    // The deadline only triggers the cancellation; whenever it lands during the boot, the
    // outcome must be the same: no child left, no hang.
    auto cancelled = co_await move_on_after(std::chrono::milliseconds(300), start());
    EXPECT_FALSE(cancelled) << "the scope was cancelled, not completed";
    EXPECT_EQ(tractor::testing::live_child_actors(), 0u) << "the half-started child is reaped";
    co_return success();
  });
  EXPECT_EQ(code, 0);
  EXPECT_LT(clock::now() - t0, std::chrono::seconds(30)) << "cancelling the boot must not wait it out";
}

// Removes the socket files of dead actors whose names start with one of `prefixes`: those
// of actors SIGKILLed together with their parent, which nobody was left to remove (as in
// tractor). Returns how many it removed.
std::size_t remove_stale_socket_files(std::initializer_list<std::string_view> prefixes) {
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(transport::uds::runtime_dir().value(), ec)) {
    const std::string n = f.path().filename().string();
    for (auto prefix : prefixes) {
      if (n.rfind(prefix, 0) != 0 || n.find('@') == std::string::npos) continue;
      // Only files of this pid namespace: a pid from another (a test running beside this
      // one in its own sandbox) says nothing here, and its owner may well be alive.
      const std::string owner_part = n.substr(n.find('@') + 1);
      const pid_t owner = std::atoi(owner_part.c_str());
      const std::string ours = std::to_string(owner) + transport::detail::pid_namespace_tag() + ".sock";
      if (owner_part != ours) continue;
      if (::kill(owner, 0) != 0 && std::filesystem::remove(f.path(), ec)) ++removed;
    }
  }
  return removed;
}

// Orphans (if any) were reparented to this process (the subreaper): reaps them as they die.
// A survivor would block here, so an alarm is the watchdog (its default action ends this
// binary, loudly).
void reap_orphans() {
  ::alarm(20);
  while (!tractor::testing::live_children().empty()) {
    int ws = 0;
    (void)::waitpid(-1, &ws, 0);
  }
  ::alarm(0);
}

TYPED_TEST(actor_test, a_grandchild_in_a_blocking_sleep_when_its_root_fails_leaves_no_survivor) {
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

// A root in its own process that starts two children, says "ready" on stdout, and waits.
template <class Tree>
int root_forever() {
  char arg0[] = "actor_test_root";
  char* argv[] = {arg0, nullptr};
  return run_main<Tree>(1, argv, [](root<Tree>& r) -> awaitable<result<void>> {
    co_return co_await r.open_nursery([&](actor_nursery<Tree>& an) -> awaitable<result<void>> {
      const actor_options math_only{.enable_modules = {"math"}};
      for (int i = 0; i < 2; ++i) {
        const std::string name = "held-" + std::to_string(i);
        auto w = co_await an.start_actor(name, math_only);
        if (!w) co_return w.error();
      }
      std::printf("ready\n");
      std::fflush(stdout);
      co_await math::sleep_forever();
      co_return success();
    });
  });
}

// Runs a root as a subprocess, waits for it to be ready, signals it, and returns how it
// ended once it and every descendant are gone (this process is their subreaper).
template <class Tree>
spawn::exit_status signal_root(int sig) {
  boost::asio::io_context ctx;
  int out[2];
  EXPECT_EQ(::pipe(out), 0);
  auto root = spawn::exec_process(ctx.get_executor(), {.env = {{"ACTOR_TEST_MODE", "root_forever"},
                                                               {"ACTOR_TEST_TREE", tree_key<Tree>()}},
                                                       .stdout_fd = out[1]});
  ::close(out[1]);
  char buf[16] = {};
  const ssize_t n = ::read(out[0], buf, sizeof buf - 1);  // blocks until "ready"
  ::close(out[0]);
  EXPECT_GT(n, 0);
  EXPECT_EQ(std::string(buf), "ready\n");
  EXPECT_EQ(tractor::testing::live_children().size(), 1u) << "only the root is our child";
  ::kill(root.value()->pid(), sig);
  spawn::exit_status status;
  tractor::testing::run_async(ctx, [&]() -> awaitable<void> {
    status = co_await root.value()->wait();
  }());
  reap_orphans();
  return status;
}

TYPED_TEST(actor_test, sigint_at_the_root_cancels_the_tree_and_exits_non_zero) {
  auto s = signal_root<TypeParam>(SIGINT);
  EXPECT_TRUE(s.exited) << s.describe();
  EXPECT_EQ(s.code, 128 + SIGINT);
  EXPECT_TRUE(tractor::testing::live_children().empty()) << "a descendant survived";
}

TYPED_TEST(actor_test, sigkill_of_the_root_leaves_no_survivor) {
  auto s = signal_root<TypeParam>(SIGKILL);
  EXPECT_EQ(s.signal, SIGKILL);
  EXPECT_TRUE(tractor::testing::live_children().empty()) << "a child outlived its killed root";
  // Nobody was left to remove the killed actors' socket files (as in tractor); children
  // that saw their parent channel close before they were killed removed theirs.
  (void)remove_stale_socket_files({"held-"});
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

int main(int argc, char** argv) {
  if (const char* mode = std::getenv("ACTOR_TEST_MODE"); mode && std::string(mode) == "root_forever" &&
                                                           !tractor::runtime::is_child_process()) {
    return on_tree([](auto t) { return root_forever<typename decltype(t)::type>(); });
  }
  if (tractor::runtime::is_child_process()) {
    const std::string name = std::getenv(tractor::spawn::child_env::name);
    if (name == "die-at-boot") return 7;
    if (name == "hang-at-boot") {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (;;) ::pause();
    }
    return on_tree([](auto t) { return tractor::runtime::child_main(decltype(t)::type::policies()); });
  }
  tractor::testing::become_subreaper();
  tractor::testing::use_private_registry();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
