// Boxing and unboxing errors across actors, without processes: what survives the trip.
#include <tractor/runtime/remote_error.hpp>

#include <gtest/gtest.h>

namespace {

using namespace tractor;
namespace rt = tractor::runtime;

struct registered_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const msg::Aid child{"child", "0123456789abcdef", 1, false, false};
const msg::Aid parent{"parent", "fedcba9876543210", 2, false, false};

TEST(remote_error_test, codes_round_trip_as_codes_and_unknown_categories_keep_their_name) {
  for (const error& e : {error(errc::timeout), error(wire_errc::msg_type_error, "bad pld"),
                         error(make_error_code(boost::system::errc::no_such_file_or_directory))}) {
    const auto back = rt::unbox_error(rt::box_error(e, child, "c1"));
    EXPECT_EQ(back.code(), e.code()) << e.message();
    EXPECT_EQ(back.message(), e.message());
    EXPECT_EQ(tractor::source_of(back), "child@01234567");
  }
  msg::Error foreign = rt::box_error(error(errc::timeout), child, "c1");
  foreign.src_type_str = "somebody.else:7";
  const auto unknown = rt::unbox_error(foreign);
  EXPECT_EQ(unknown, runtime_errc::remote_actor_error);
  EXPECT_EQ(unknown.type_name(), "somebody.else");
}

TEST(remote_error_test, exception_type_names_are_never_taken_for_codes) {
  const auto boxed = rt::box_error(error::from_exception(std::make_exception_ptr(registered_failure("no"))),
                                   child, "c1");
  EXPECT_EQ(boxed.src_type_str, "(anonymous namespace)::registered_failure");
  const auto plain = rt::unbox_error(boxed);
  EXPECT_EQ(plain, runtime_errc::remote_actor_error);
  EXPECT_EQ(plain.as<registered_failure>(), nullptr) << "not registered: text and type name only";
  EXPECT_EQ(plain.type_name(), boxed.src_type_str);
  EXPECT_EQ(plain.message(), "no");

  const auto rebuilt = rt::unbox_error(boxed, errors<registered_failure>::table());
  ASSERT_NE(rebuilt.as<registered_failure>(), nullptr);
  EXPECT_STREQ(rebuilt.as<registered_failure>()->what(), "no");
  EXPECT_NE(rebuilt.as<std::runtime_error>(), nullptr) << "caught as its bases too";
}

TEST(remote_error_test, a_relayed_error_keeps_its_origin_and_extends_its_path) {
  const auto at_parent = rt::unbox_error(rt::box_error(error(errc::timeout), child, "c1"));
  const auto relayed = rt::box_error(at_parent, parent, "c2");
  EXPECT_EQ(relayed.src_uid, (msg::uid{"child", "01234567"}));
  ASSERT_EQ(relayed.relay_path.size(), 2u);
  EXPECT_EQ(relayed.relay_path[1], rt::uid_of(parent));
  const auto at_root = rt::unbox_error(relayed);
  EXPECT_EQ(at_root, errc::timeout) << "a code stays a code across relays";
  EXPECT_EQ(tractor::source_of(at_root), "child@01234567");
  EXPECT_EQ(tractor::relay_path_of(at_root).size(), 2u);
}

}  // namespace
