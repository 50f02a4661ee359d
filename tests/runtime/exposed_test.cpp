#include <tractor/runtime/exposed.hpp>

#include "tests/support/async_test.hpp"

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/codec/cereal_json.hpp>

#include <gtest/gtest.h>

#include <stdexcept>

namespace math {
tractor::awaitable<int> add(int a, int b) { co_return a + b; }
tractor::awaitable<tractor::result<double>> half(int a) {
  if (a % 2) co_return tractor::errc::would_block;
  co_return a / 2.0;
}
tractor::awaitable<void> nothing() { co_return; }
namespace deep {
tractor::awaitable<std::string> shout(std::string s) { co_return s + "!"; }
struct tag {};
}  // namespace deep
template <class T>
tractor::awaitable<int> sized() { co_return static_cast<int>(sizeof(T)); }
}  // namespace math
tractor::awaitable<int> global_fn() { co_return 1; }

namespace {

using namespace tractor;
using tractor::testing::run_async;

static_assert(name_of<&math::add>().ns == "math");
static_assert(name_of<&math::add>().func == "add");
static_assert(name_of<&math::deep::shout>().ns == "math::deep");
static_assert(name_of<&global_fn>().ns == "main");
static_assert(name_of<&global_fn>().func == "global_fn");
// A template's arguments may name scopes of their own: the split is before the function.
static_assert(name_of<&math::sized<math::deep::tag>>().ns == "math");
static_assert(name_of<&math::sized<math::deep::tag>>().func.starts_with("sized<"));
static_assert(std::is_same_v<call_result_t<&math::add>, result<int>>);
static_assert(std::is_same_v<call_result_t<&math::half>, result<double>>);
static_assert(std::is_same_v<args_tuple_t<&math::deep::shout>, std::tuple<std::string>>);

using fns = exposed<&math::add, &math::half, &math::nothing, &math::deep::shout>;

template <class C>
class exposed_test : public ::testing::Test {};
using codecs = ::testing::Types<codec::cereal_binary, codec::cereal_json>;
TYPED_TEST_SUITE(exposed_test, codecs);

TYPED_TEST(exposed_test, thunks_decode_run_and_encode) {
  using C = TypeParam;
  constexpr auto table = fns::table<C>();
  static_assert(table.size() == 4);
  EXPECT_EQ(table[0].name.func, "add");
  run_async([&]() -> awaitable<void> {
    auto three = co_await table[0].invoke(C::encode_payload(std::tuple<int, int>{1, 2}), {});
    auto three_v = codec::decode_pld<C, int>("Return", three.value());
    EXPECT_EQ(three_v.value(), 3);

    auto odd = co_await table[1].invoke(C::encode_payload(std::tuple<int>{3}), {});
    EXPECT_FALSE(odd);
    EXPECT_EQ(odd.error(), errc::would_block);

    auto wrong_args = co_await table[0].invoke(C::encode_payload(std::string("not a tuple")), {});
    EXPECT_FALSE(wrong_args);
    EXPECT_EQ(wrong_args.error(), wire_errc::msg_type_error);

    auto shout = co_await table[3].invoke(C::encode_payload(std::tuple<std::string>{"hi"}), {});
    auto shout_v = codec::decode_pld<C, std::string>("Return", shout.value());
    EXPECT_EQ(shout_v.value(), "hi!");
  }());
}

}  // namespace
