// Real child actors, calls and errors: this binary is both the test runner and every child
// actor (the exec backend re-runs it; see main() at the bottom). Supervision, teardown and
// signals are in supervision_test.cpp, in the same binary.
#include "tests/runtime/actor_fixture.hpp"

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>

namespace {

using namespace actor_tests;

template <class Tree>
class actor_test : public actor_fixture<Tree> {};
TYPED_TEST_SUITE(actor_test, trees, tree_names);

// The cell's tree is the real tree of the cell's backend and transport (and codec).
TYPED_TEST(actor_test, runs_under_its_cell_s_backend_and_transport) {
  const auto& p = TypeParam::policies();
  EXPECT_EQ(p.spawn_name, tractor::testing::cell().backend);
  EXPECT_EQ(p.transport_name, tractor::testing::cell().transport);
}

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
    EXPECT_EQ(tractor::source_of(boom.error()).substr(0, 8), "failing@");

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
      EXPECT_EQ(tractor::source_of(quota.error()).substr(0, 7), "strict@");
      EXPECT_THROW(quota.error().throw_exception(), app::quota_exceeded);
    }
    auto limit = co_await w.value().template run<&math::over_limit>();
    EXPECT_TRUE(!limit && limit.error() == app::app_errc::over_limit) << "a registered code is itself";
    EXPECT_EQ(limit ? "" : tractor::source_of(limit.error()).substr(0, 7), "strict@");

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
    auto sock = co_await runtime::connect_to(root->pol(), root->address());
    if (!sock) co_return sock.error();
    auto ch = transport::channel::make<C>(std::move(sock).value());
    const msg::Aid me{"raw-peer", "raw-uuid-0001", ::getpid(), false, false};
    auto hs = co_await tractor::runtime::handshake(*ch, me, std::chrono::seconds(10));
    if (!hs) co_return hs.error();
    auto send = [&](std::string cid, std::string ns, std::string func, msg::raw_pld kwargs) {
      msg::msg m = msg::Start{std::move(cid), std::move(ns), std::move(func), std::move(kwargs), {me.name, me.uuid}};
      return ch->send(std::move(m));
    };
    // The next message, as the error it carries (nothing if it is not an `Error`).
    auto receive_error = [&]() -> awaitable<std::optional<error>> {
      auto m = co_await ch->receive();
      if (!m || !std::holds_alternative<msg::Error>(m.value())) co_return std::nullopt;
      co_return runtime::unbox_error(std::get<msg::Error>(m.value()));
    };
    EXPECT_TRUE(co_await send("dup", "math", "sleep_forever", C::encode_payload(std::tuple<>{})));
    auto ack = co_await ch->receive();
    EXPECT_TRUE(ack && std::holds_alternative<msg::StartAck>(ack.value()));

    EXPECT_TRUE(co_await send("dup", "math", "add", C::encode_payload(std::tuple<int, int>{1, 2})));
    const auto refused = co_await receive_error();
    EXPECT_TRUE(refused);
    if (refused) {
      EXPECT_EQ(*refused, runtime_errc::protocol_error);
    }

    EXPECT_TRUE(co_await send("c-cancel", "self", "cancel_task", C::encode_payload(std::tuple<std::string>("dup"))));
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
    const auto unknown = co_await receive_error();
    EXPECT_TRUE(unknown);
    if (unknown) {
      EXPECT_EQ(*unknown, runtime_errc::unknown_function);
      EXPECT_NE(unknown->message().find("math.no_such_function"), std::string::npos) << unknown->message();
    }

    // A runtime request that does not exist: refused by name, as an unknown function is.
    EXPECT_TRUE(co_await send("c-self", "self", "no_such_request", C::encode_payload(std::tuple<>{})));
    const auto no_request = co_await receive_error();
    EXPECT_TRUE(no_request);
    if (no_request) {
      EXPECT_EQ(*no_request, runtime_errc::unknown_function);
      EXPECT_NE(no_request->message().find("no runtime request self.no_such_request"), std::string::npos)
          << no_request->message();
    }

    // Runtime requests are typed like a user's functions: arguments of the wrong type, or a
    // registration without an address, are refused with the reason, and the actor goes on.
    // (Payloads built as named locals: g++ 12 destroys braced temporaries in a co_await twice.)
    const std::tuple<runtime::registration> no_address{{"ghost", "ghost-uuid", {}}};
    msg::raw_pld no_address_pld = C::encode_payload(no_address);
    EXPECT_TRUE(co_await send("c-bad-args", "self", "cancel_task", C::encode_payload(std::tuple<int>{7})));
    EXPECT_TRUE(co_await send("c-no-addr", "self", "register_actor", std::move(no_address_pld)));
    std::map<std::string, error> refusals;
    while (refusals.size() < 2) {
      auto m = co_await ch->receive();
      if (!m) co_return m.error();
      if (const auto* e = std::get_if<msg::Error>(&m.value()); e && e->cid) refusals.emplace(*e->cid, runtime::unbox_error(*e));
    }
    EXPECT_EQ(refusals.at("c-bad-args"), wire_errc::msg_type_error) << refusals.at("c-bad-args").message();
    EXPECT_EQ(refusals.at("c-no-addr"), runtime_errc::invalid_operation);
    EXPECT_NE(refusals.at("c-no-addr").message().find("gives no address"), std::string::npos)
        << refusals.at("c-no-addr").message();

    EXPECT_TRUE(co_await send("c-again", "self", "cancel_task", C::encode_payload(std::tuple<std::string>("dup"))));
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
    EXPECT_EQ(tractor::testing::live_child_actors(), 3u)
        << tractor::testing::describe_threads() << tractor::testing::describe_child_processes();
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

TYPED_TEST(actor_test, an_interface_types_the_portal_and_enables_exactly_its_functions) {
  using add_api = interface<&math::add>;
  const int code = run_tree<TypeParam>([](actor_nursery<TypeParam>& an) -> task<void> {
    BOOST_OUTCOME_CO_TRY(auto w, co_await an.template start_actor<add_api>("typed"));
    static_assert(std::is_same_v<typename decltype(w)::interface_type, add_api>);
    BOOST_OUTCOME_CO_TRY(int three, co_await w.template run<&math::add>(1, 2));
    EXPECT_EQ(three, 3);
    // The same child through an untyped portal: a function of the same namespace that is not
    // in the interface was not enabled.
    auto untyped = w.template as<typename TypeParam::exposed_type>();
    auto div = co_await untyped.template run<&math::checked_div>(9, 3);
    EXPECT_TRUE(!div && div.error() == runtime_errc::module_not_exposed);
    if (!div) {
      EXPECT_NE(div.error().message().find("math.checked_div"), std::string::npos) << div.error().message();
    }
    EXPECT_TRUE(co_await w.cancel_actor());
    co_return success();
  });
  EXPECT_EQ(code, 0);
}

// async_run_root: a root on an event loop the program owns, beside the program's own work.
TYPED_TEST(actor_test, a_root_runs_inside_the_program_s_own_event_loop) {
  boost::asio::io_context host;
  std::optional<result<void>> first;
  std::optional<result<void>> second;
  bool host_work_ran = false;
  boost::asio::post(host, [&] { host_work_ran = true; });
  auto body = [](actor_nursery<TypeParam>& an) -> task<void> {
    BOOST_OUTCOME_CO_TRY(auto w, co_await an.template start_actor<interface<&math::add>>("embedded"));
    BOOST_OUTCOME_CO_TRY(int three, co_await w.template run<&math::add>(1, 2));
    EXPECT_EQ(three, 3);
    an.cancel();
    co_return success();
  };
  async_run_root<TypeParam>(host.get_executor(), {}, body, [&](result<void> r) { first = std::move(r); });
  // One root per process: a second is refused, and the first goes on untouched.
  async_run_root<TypeParam>(
      host.get_executor(), {}, [](actor_nursery<TypeParam>&) -> task<void> { co_return success(); },
      [&](result<void> r) { second = std::move(r); });
  host.run();
  EXPECT_TRUE(host_work_ran);
  ASSERT_TRUE(first && second);
  EXPECT_TRUE(*first) << first->error().message();
  EXPECT_TRUE(!*second && second->error() == runtime_errc::runtime_failure);
}

TYPED_TEST(actor_test, an_embedded_root_is_cancelled_through_its_completion_slot) {
  boost::asio::io_context host;
  boost::asio::cancellation_signal stop;
  std::optional<result<void>> outcome;
  auto body = [&stop](actor_nursery<TypeParam>& an) -> task<void> {
    BOOST_OUTCOME_CO_TRY(auto w, co_await an.template start_actor<interface<&math::add>>("held"));
    (void)w;
    // The program decides to stop the root while its child runs.
    const boost::asio::any_io_executor ex = co_await boost::asio::this_coro::executor;
    boost::asio::post(ex, [&stop] { stop.emit(boost::asio::cancellation_type::terminal); });
    co_await math::sleep_forever();
    co_return success();
  };
  async_run_root<TypeParam>(host.get_executor(), {}, body,
                            boost::asio::bind_cancellation_slot(
                                stop.slot(), [&](result<void> r) { outcome = std::move(r); }));
  host.run();
  ASSERT_TRUE(outcome);
  EXPECT_TRUE(!*outcome && outcome->error().is_cancellation());
  // (Waiting only for /proc: a thread actor joined before completion can stay listed there
  // for a moment, see `no_thread_named`.)
  EXPECT_TRUE(tractor::testing::no_child_actor_left()) << "the child was reaped before completion";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace actor_tests;
  if (const char* mode = std::getenv("ACTOR_TEST_MODE"); mode && std::string(mode) == "root_forever" &&
                                                           !tractor::runtime::is_child_process()) {
    return on_tree([](auto t) { return root_forever<typename decltype(t)::type>(); });
  }
  if (tractor::runtime::is_child_process()) {
    const std::string name = std::getenv(tractor::spawn::child_env::name);
    if (name == "die-at-boot") return 7;
    if (name == "silent-after-handshake") {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const auto boot = tractor::spawn::exec::boot_from_env();
      return boot ? actor_tests::silent_child(*boot) : 12;
    }
    if (name == "hang-at-boot") {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (;;) ::pause();
    }
    return on_tree([](auto t) { return tractor::runtime::child_main(decltype(t)::type::policies()); });
  }
  return run_cell_tests(argc, argv);
}
