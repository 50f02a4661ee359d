#include <tractor/core/error.hpp>

#include <boost/asio/error.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace {

using tractor::errc;
using tractor::error;
using tractor::result;

struct custom_failure {};

/// What a layer above the core might attach to its errors.
struct where_from final : tractor::error_details {
  std::string place;
};
struct something_else final : tractor::error_details {};

result<int> parse(bool ok) {
  if (!ok) return errc::would_block;
  return 42;
}

result<int> twice(bool ok) {
  BOOST_OUTCOME_TRY(auto v, parse(ok));
  return v * 2;
}

TEST(error_test, enums_convert_and_compare) {
  error e = errc::timeout;
  EXPECT_EQ(e, errc::timeout);
  EXPECT_FALSE(e == errc::cancelled);
  EXPECT_STREQ(e.code().category().name(), "tractor");
  EXPECT_EQ(e.message(), "deadline passed");
  error with_text(tractor::make_error_code(errc::timeout), "waited 3 s for the peer");
  EXPECT_EQ(with_text, errc::timeout);
  EXPECT_EQ(with_text.message(), "waited 3 s for the peer");
}

TEST(error_test, result_carries_values_and_errors) {
  EXPECT_EQ(twice(true).value(), 84);
  auto r = twice(false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::would_block);
  EXPECT_THROW((void)r.value(), tractor::error_exception);
  try {
    (void)r.value();
  } catch (const tractor::error_exception& ex) {
    EXPECT_EQ(ex.error(), errc::would_block);
  }
}

TEST(error_test, exceptions_are_boxed_with_their_type) {
  auto boxed = error::from_exception(std::make_exception_ptr(std::invalid_argument("bad arg")));
  EXPECT_EQ(boxed, errc::exception);
  EXPECT_EQ(boxed.message(), "bad arg");
  EXPECT_EQ(boxed.type_name(), "std::invalid_argument");
  EXPECT_THROW(boxed.throw_exception(), std::invalid_argument);

  auto odd = error::from_exception(std::make_exception_ptr(custom_failure{}));
  EXPECT_EQ(odd.type_name(), "(anonymous namespace)::custom_failure");

  auto sys = error::from_exception(std::make_exception_ptr(
      boost::system::system_error(boost::asio::error::operation_aborted)));
  EXPECT_TRUE(sys.is_cancellation());
  EXPECT_TRUE(error(errc::cancelled).is_cancellation());
  EXPECT_FALSE(boxed.is_cancellation());
}

TEST(error_test, aggregate_keeps_every_error) {
  EXPECT_EQ(tractor::aggregate({}).code().value(), 0);
  auto one = tractor::aggregate({errc::timeout});
  EXPECT_FALSE(one.is_group());
  EXPECT_EQ(one, errc::timeout);

  auto inner = tractor::aggregate({errc::timeout, errc::would_block});
  auto outer = tractor::aggregate({inner, errc::channel_closed});
  ASSERT_TRUE(outer.is_group());
  ASSERT_EQ(outer.group_members().size(), 2u);
  EXPECT_TRUE(outer.group_members()[0].is_group()) << "nested groups keep their structure";
  EXPECT_EQ(outer.group_members()[1], errc::channel_closed);
  EXPECT_EQ(outer.message(),
            "2 errors: [2 errors: [deadline passed; operation would block]; channel closed]");
}

TEST(error_test, details_travel_with_the_error_and_its_copies_unread) {
  auto from = std::make_shared<where_from>();
  from->place = "over there";
  const error e = error::with_details(errc::timeout, "late", "late_error", nullptr, std::move(from));
  const error copy = e;  // NOLINT(performance-unnecessary-copy-initialization): what is checked
  EXPECT_EQ(copy, errc::timeout);
  EXPECT_EQ(copy.message(), "late");
  EXPECT_EQ(copy.type_name(), "late_error");
  ASSERT_NE(copy.details<where_from>(), nullptr);
  EXPECT_EQ(copy.details<where_from>()->place, "over there");
  EXPECT_EQ(copy.details<something_else>(), nullptr) << "details of another type are not these";
  EXPECT_EQ(error(errc::timeout).details<where_from>(), nullptr) << "a bare code has none";
  EXPECT_EQ(error(errc::timeout, "late").details<where_from>(), nullptr);
  // A group keeps each member's details with the member.
  const error group = tractor::aggregate({copy, errc::would_block});
  EXPECT_EQ(group.details<where_from>(), nullptr);
  ASSERT_NE(group.group_members()[0].details<where_from>(), nullptr);
}

}  // namespace
