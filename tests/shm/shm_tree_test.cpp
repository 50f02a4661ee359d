// Shared memory between actors, under every spawn backend × transport: a child reads an
// array its parent owns and writes into its list; a ring carries messages between two
// children; a parent attaches to what a child
// publishes, and the child's teardown (by cancellation) unlinks it; an actor of another
// subtree finds the publisher through the registrar and reads its array. The fixture fails a
// test that leaves a segment (or anything else) behind.
#include <tractor/discovery/discovery.hpp>
#include <tractor/shm.hpp>
#include <tractor/testing.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace feed {

struct tick {
  std::int64_t seq;
  double price;
};

// --(doc-shm-reader-begin)--
/// The sum of the prices of the array `token` names (attached read-only here).
tractor::awaitable<tractor::result<double>> sum_prices(tractor::shm_token token) {
  BOOST_OUTCOME_CO_TRY(auto ticks, tractor::attach_shm_array<tick>(token));
  double sum = 0;
  for (const tick& t : ticks.view()) sum += t.price;
  co_return sum;
}
// --(doc-shm-reader-end)--

/// Writes `value` at `index` of the list `token` names, attached writable.
tractor::awaitable<tractor::result<int>> mark(tractor::shm_token token, std::uint64_t index, double value) {
  BOOST_OUTCOME_CO_TRY(auto list, tractor::attach_shm_list<double>(token, tractor::shm_access::read_write));
  BOOST_OUTCOME_CO_TRYV(list.set(static_cast<std::size_t>(index), value));
  co_return 0;
}

/// What this actor publishes, while `publish` runs.
inline thread_local std::optional<tractor::shm_token> published;

/// Opens an array of `n` ticks (seq i, price i / 2), reports its token, and holds it until
/// cancelled.
tractor::task<int> publish(tractor::context<tractor::shm_token>& ctx, int n) {
  auto opened = tractor::open_shm_array<tick>("quotes", static_cast<std::size_t>(n));
  if (!opened) co_return opened.error();
  auto& ticks = opened.value();
  for (int i = 0; i < n; ++i) {
    BOOST_OUTCOME_CO_TRYV(ticks.push(tick{i, i / 2.0}));
  }
  published = ticks.token();
  struct forget {
    ~forget() { published.reset(); }
  } on_exit;
  BOOST_OUTCOME_CO_TRYV(co_await ctx.started(ticks.token()));
  co_await tractor::sleep_for(std::chrono::hours(1));
  co_return 0;
}

/// The bytes of ring message `i`: `i % 200 + 1` bytes, each `i + k`.
std::vector<std::byte> ring_message(int i) {
  std::vector<std::byte> m(static_cast<std::size_t>(i % 200 + 1));
  for (std::size_t k = 0; k < m.size(); ++k) m[k] = static_cast<std::byte>(i + static_cast<int>(k));
  return m;
}

/// Opens a 4 KiB ring, reports its token, sends `n` messages through it (waiting for room: they
/// are far more than it holds) and closes it. Returns how many it sent.
tractor::task<int> fill_ring(tractor::context<tractor::shm_token>& ctx, int n) {
  const auto ex = co_await boost::asio::this_coro::executor;
  auto ring = tractor::open_shm_ring(ex, "frames", 4096);
  if (!ring) co_return ring.error();
  BOOST_OUTCOME_CO_TRYV(co_await ctx.started(ring.value().token()));
  for (int i = 0; i < n; ++i) {
    const auto m = ring_message(i);
    BOOST_OUTCOME_CO_TRYV(co_await ring.value().send(m));
  }
  ring.value().close_ring();
  co_return n;
}

/// Attaches to the ring `token` names and receives until it is closed and drained: how many
/// messages arrived, each checked against `ring_message` (a wrong one ends it with an error).
tractor::awaitable<tractor::result<int>> drain_ring(tractor::shm_token token) {
  const auto ex = co_await boost::asio::this_coro::executor;
  BOOST_OUTCOME_CO_TRY(auto ring, tractor::attach_shm_ring(ex, token));
  std::vector<std::byte> m;
  for (int i = 0;; ++i) {
    auto got = co_await ring.receive(m);
    if (!got && got.error() == tractor::errc::end_of_channel) co_return i;
    if (!got) co_return got.error();
    if (m != ring_message(i)) {
      co_return tractor::error(tractor::make_error_code(tractor::errc::would_block),
                               "ring message " + std::to_string(i) + " arrived wrong");
    }
  }
}

/// The token of what this actor publishes.
tractor::awaitable<tractor::result<tractor::shm_token>> published_token() {
  if (!published) co_return tractor::error(tractor::make_error_code(tractor::errc::would_block), "nothing published");
  co_return *published;
}

/// Finds `producer` through the registrar and sums the prices of what it publishes.
template <class Spawn, class Transport>
tractor::task<double> sum_from(std::string producer);

/// Starts a child of its own ("consumer") and has it do `sum_from(producer)`.
template <class Spawn, class Transport>
tractor::task<double> team_sum(std::string producer);

}  // namespace feed

namespace {

template <class Spawn, class Transport>
using tree_of = tractor::tree<Spawn, Transport, tractor::codec::cereal_binary,
                              tractor::exposed<&feed::sum_prices, &feed::mark, &feed::publish, &feed::published_token, &feed::fill_ring, &feed::drain_ring,
                                               &feed::sum_from<Spawn, Transport>, &feed::team_sum<Spawn, Transport>>>;
using namespace tractor::spawn;
using tractor::transport::tcp;
using tractor::transport::uds;
using trees = tractor::testing::tree_list<tree_of<exec, uds>, tree_of<exec, tcp>, tree_of<forkserver, uds>,
                                          tree_of<forkserver, tcp>, tree_of<thread, uds>, tree_of<thread, tcp>>;

const tractor::actor_options feed_actor{.enable_modules = {"feed"}};

/// Prices 0, 0.5, 1, ... of `n` ticks, summed.
double price_sum(int n) { return (n - 1) * n / 4.0; }

bool segment_exists(const tractor::shm_token& t) { return std::filesystem::exists("/dev/shm" + t.name); }

std::string unique_key(const std::string& what) {
  static std::mt19937_64 rng(std::random_device{}());
  return what + "-" + std::to_string(rng() % 1000000000);
}

template <class Tree, class Body>
int run_root(Body body) {
  char arg0[] = "shm_tree_test";
  char* argv[] = {arg0, nullptr};
  return tractor::run_main<Tree>(1, argv, std::move(body));
}

}  // namespace

template <class Spawn, class Transport>
tractor::task<double> feed::sum_from(std::string producer) {
  BOOST_OUTCOME_CO_TRY(auto p, co_await tractor::wait_for_actor<tree_of<Spawn, Transport>>(producer));
  BOOST_OUTCOME_CO_TRY(auto token, co_await p.template run<&feed::published_token>());
  co_return co_await feed::sum_prices(token);
}

template <class Spawn, class Transport>
tractor::task<double> feed::team_sum(std::string producer) {
  using tree = tree_of<Spawn, Transport>;
  double sum = 0;
  BOOST_OUTCOME_CO_TRYV(co_await tractor::open_actor_nursery<tree>([&](tractor::actor_nursery<tree>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto consumer, co_await an.start_actor("consumer", feed_actor));
    BOOST_OUTCOME_CO_TRY(sum, co_await consumer.template run<&feed::sum_from<Spawn, Transport>>(producer));
    an.cancel();
    co_return tractor::success();
  }));
  co_return sum;
}

namespace {

template <class Tree>
class shm_tree_test : public tractor::testing::tree_test<Tree> {};
TYPED_TEST_SUITE(shm_tree_test, trees::types, tractor::testing::tree_names);

TYPED_TEST(shm_tree_test, a_child_reads_the_parent_s_array_and_writes_into_its_list) {
  constexpr int n = 10000;
  const std::string key = unique_key("ticks");
  auto flags = tractor::open_shm_list<double>(unique_key("flags"), 4);
  ASSERT_TRUE(flags) << flags.error().message();
  double sum = 0;
  const int code = run_root<TypeParam>([&](tractor::actor_nursery<TypeParam>& an) -> tractor::task<void> {
    // --(doc-shm-owner-begin)--
    // This actor owns the array: it writes, and unlinks it when `ticks` goes.
    auto ticks = tractor::open_shm_array<feed::tick>(key, n);
    if (!ticks) co_return ticks.error();
    for (int i = 0; i < n; ++i) {
      BOOST_OUTCOME_CO_TRYV(ticks.value().push(feed::tick{i, i / 2.0}));
    }
    BOOST_OUTCOME_CO_TRY(auto reader, co_await an.start_actor("reader", feed_actor));
    BOOST_OUTCOME_CO_TRY(sum, co_await reader.template run<&feed::sum_prices>(ticks.value().token()));
    // --(doc-shm-owner-end)--
    BOOST_OUTCOME_CO_TRYV(co_await reader.template run<&feed::mark>(flags.value().token(), std::uint64_t{2}, 6.5));
    an.cancel();
    co_return tractor::success();
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(sum, price_sum(n));
  EXPECT_EQ(flags.value().get(2).value(), 6.5) << "the child's write is in the parent's list";
}

TYPED_TEST(shm_tree_test, the_parent_reads_what_a_child_publishes_until_its_teardown_unlinks_it) {
  std::optional<tractor::shm_token> token;
  std::size_t seen = 0;
  double last_price = 0;
  const int code = run_root<TypeParam>([&](tractor::actor_nursery<TypeParam>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto producer, co_await an.start_actor("producer", feed_actor));
    co_return co_await producer.template open_context<&feed::publish>(
        [&](tractor::caller_context<&feed::publish>&, tractor::shm_token t) -> tractor::task<void> {
          token = t;
          BOOST_OUTCOME_CO_TRY(auto ticks, tractor::attach_shm_array<feed::tick>(t));
          seen = ticks.size();
          last_price = ticks.last().front().price;
          an.cancel();  // the producer is cancelled while it holds the array
          co_return tractor::success();
        },
        500);
  });
  EXPECT_EQ(code, 0);
  ASSERT_TRUE(token);
  EXPECT_EQ(seen, 500u);
  EXPECT_EQ(last_price, 249.5);
  EXPECT_TRUE(token->name.find("-quotes") != std::string::npos) << token->name;
  EXPECT_FALSE(segment_exists(*token)) << "the cancelled producer's teardown unlinks " << token->name;
}

TYPED_TEST(shm_tree_test, an_actor_of_another_subtree_finds_the_publisher_through_the_registrar) {
  double sum = 0;
  const int code = run_root<TypeParam>([&](tractor::actor_nursery<TypeParam>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto producer, co_await an.start_actor("producer", feed_actor));
    co_return co_await producer.template open_context<&feed::publish>(
        [&](tractor::caller_context<&feed::publish>&, tractor::shm_token) -> tractor::task<void> {
          BOOST_OUTCOME_CO_TRY(auto team, co_await an.start_actor("team", feed_actor));
          using spawn_t = typename TypeParam::spawn_type;
          using transport_t = typename TypeParam::transport_type;
          BOOST_OUTCOME_CO_TRY(sum, co_await team.template run<&feed::team_sum<spawn_t, transport_t>>(std::string("producer")));
          an.cancel();
          co_return tractor::success();
        },
        2000);
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(sum, price_sum(2000));
}

// Three actors: the writer owns a ring, the root hands its token to the reader, a sibling;
// messages far more than the ring holds arrive whole and in order, and the ring is gone after.
TYPED_TEST(shm_tree_test, a_ring_carries_messages_between_two_child_actors) {
  constexpr int n = 3000;
  int sent = 0;
  int received = 0;
  std::optional<tractor::shm_token> token;
  const int code = run_root<TypeParam>([&](tractor::actor_nursery<TypeParam>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto writer, co_await an.start_actor("writer", feed_actor));
    BOOST_OUTCOME_CO_TRY(auto reader, co_await an.start_actor("reader", feed_actor));
    BOOST_OUTCOME_CO_TRYV(co_await writer.template open_context<&feed::fill_ring>(
        [&](tractor::caller_context<&feed::fill_ring>& ctx, tractor::shm_token t) -> tractor::task<void> {
          token = t;
          BOOST_OUTCOME_CO_TRY(received, co_await reader.template run<&feed::drain_ring>(t));
          BOOST_OUTCOME_CO_TRY(sent, co_await ctx.wait_for_result());
          co_return tractor::success();
        },
        n));
    an.cancel();
    co_return tractor::success();
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(sent, n);
  EXPECT_EQ(received, n);
  ASSERT_TRUE(token);
  EXPECT_FALSE(segment_exists(*token)) << "the writer unlinks its ring when it is done: " << token->name;
}

}  // namespace

int main(int argc, char** argv) { return tractor::testing::run_tests<trees>(argc, argv); }
