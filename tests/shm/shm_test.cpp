// Shared-memory arrays and lists within one process (another mapping of the same segment is
// what another actor gets): push, prepend and views; readers attached read-only; the owner
// unlinking the name; tokens through both codecs; and attaching to what is not a segment of
// the expected type, which fails with an error saying so and leaves everything else working.
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/codec/cereal_json.hpp>
#include <tractor/shm.hpp>
#include <tractor/testing/reap.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace tractor;

struct tick {
  std::int64_t time;
  double price;
  std::int32_t volume;
};

/// A key no other test run uses (runs of this test may share /dev/shm).
std::string unique_key(const std::string& what) {
  static std::mt19937_64 rng(std::random_device{}());
  return what + "-" + std::to_string(rng() % 1000000000);
}

bool exists_in_dev_shm(const shm_token& t) { return std::filesystem::exists("/dev/shm" + t.name); }

TEST(shm_array_test, pushes_and_prepends_are_seen_by_a_reader) {
  auto made = open_shm_array<tick>(unique_key("ticks"), 100, 10);
  ASSERT_TRUE(made) << made.error().message();
  auto& a = made.value();
  EXPECT_TRUE(a.token().name.starts_with("/tractor-")) << a.token().name;
  EXPECT_TRUE(exists_in_dev_shm(a.token()));
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a.first_index(), 10u);

  auto reader = attach_shm_array<tick>(a.token());
  ASSERT_TRUE(reader) << reader.error().message();
  auto& r = reader.value();
  EXPECT_EQ(r.size(), 0u);
  EXPECT_TRUE(r.last(3).empty());

  std::vector<tick> batch;
  for (int i = 0; i < 5; ++i) batch.push_back({i, 100.0 + i, i * 10});
  auto last = a.push(batch);
  ASSERT_TRUE(last) << last.error().message();
  EXPECT_EQ(last.value(), 15u);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r.view()[0].price, 100.0);
  const auto tail = r.last(2);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].time, 3);
  EXPECT_EQ(tail[1].volume, 40);
  EXPECT_EQ(r.last(50).size(), 5u) << "clamped to what the array holds";

  const std::array<tick, 2> history{tick{-2, 98.0, 1}, tick{-1, 99.0, 2}};
  auto first = a.prepend(history);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first.value(), 8u);
  ASSERT_EQ(r.size(), 7u);
  EXPECT_EQ(r.view().front().time, -2);
  EXPECT_EQ(r.view().back().time, 4);
  EXPECT_TRUE(a.push(tick{5, 105.0, 50}));
  EXPECT_EQ(r.last().front().time, 5);
}

TEST(shm_array_test, a_push_or_prepend_without_room_writes_nothing) {
  auto made = open_shm_array<std::uint32_t>(unique_key("small"), 4, 1);
  ASSERT_TRUE(made);
  auto& a = made.value();
  const std::array<std::uint32_t, 4> four{1, 2, 3, 4};
  auto full = a.push(four);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), shm_errc::no_room);
  EXPECT_NE(full.error().message().find("no room for 4 records at index 1"), std::string::npos) << full.error().message();
  EXPECT_EQ(a.size(), 0u);
  const std::array<std::uint32_t, 2> two{7, 8};
  EXPECT_EQ(a.prepend(two).error(), shm_errc::no_room);
  EXPECT_TRUE(a.push(std::span<const std::uint32_t>(four.data(), 3)));
  EXPECT_TRUE(a.prepend(std::span<const std::uint32_t>(two.data(), 1)));
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(a.push(std::uint32_t{9}).error(), shm_errc::no_room);
  EXPECT_FALSE(open_shm_array<int>(unique_key("start"), 4, 5)) << "a start past the capacity";
}

TEST(shm_array_test, the_owner_unlinks_on_close_and_on_destruction_and_readers_keep_their_mapping) {
  shm_token t;
  std::optional<shm_array<const int>> kept;
  {
    auto made = open_shm_array<int>(unique_key("owned"), 8);
    ASSERT_TRUE(made);
    t = made.value().token();
    ASSERT_TRUE(made.value().push(42));
    auto r = attach_shm_array<int>(t);
    ASSERT_TRUE(r);
    kept.emplace(std::move(r).value());
    auto moved = std::move(made).value();  // the moved-from array owns nothing
    EXPECT_TRUE(exists_in_dev_shm(t));
  }
  EXPECT_FALSE(exists_in_dev_shm(t)) << "the owner's destruction unlinks " << t.name;
  EXPECT_EQ(kept->view().front(), 42) << "a reader's mapping outlives the name";
  auto late = attach_shm_array<int>(t);
  ASSERT_FALSE(late);
  EXPECT_TRUE(late.error().code() == boost::system::errc::no_such_file_or_directory) << late.error().message();
  EXPECT_NE(late.error().message().find(t.name), std::string::npos) << late.error().message();

  auto again = open_shm_array<int>(unique_key("closed"), 8);
  ASSERT_TRUE(again);
  const auto t2 = again.value().token();
  again.value().close();
  EXPECT_FALSE(again.value().is_open());
  EXPECT_FALSE(exists_in_dev_shm(t2));
  again.value().close();  // idempotent
}

TEST(shm_array_test, attaching_as_another_type_or_kind_is_refused) {
  auto made = open_shm_array<tick>(unique_key("typed"), 16);
  ASSERT_TRUE(made);
  const auto& t = made.value().token();
  EXPECT_EQ(attach_shm_array<double>(t).error(), shm_errc::type_mismatch);
  EXPECT_EQ(attach_shm_list<tick>(t).error(), shm_errc::type_mismatch) << "an array is not a list";
  // A token that lies about the type is caught by the segment's own header.
  auto forged = t;
  forged.type_hash ^= 1;
  forged.kind = static_cast<std::uint32_t>(shm_kind::array);
  auto seg = shm_segment::attach(forged, false);
  ASSERT_FALSE(seg);
  EXPECT_EQ(seg.error(), shm_errc::type_mismatch);
  EXPECT_NE(seg.error().message().find("not the array of 16 elements"), std::string::npos) << seg.error().message();
  // ... and one that claims more elements than the segment has.
  auto bigger = t;
  bigger.capacity = 1 << 20;
  EXPECT_EQ(shm_segment::attach(bigger, false).error(), shm_errc::not_a_segment);
  EXPECT_TRUE(attach_shm_array<tick>(t)) << "the segment is still fine";
}

TEST(shm_array_test, names_that_are_not_segments_of_this_library_are_refused) {
  auto model = open_shm_array<int>(unique_key("model"), 4);
  ASSERT_TRUE(model);
  shm_token t = model.value().token();  // a real array's token, renamed below
  for (const std::string& bad : {std::string(), std::string("/etc/passwd"), std::string("/tractor-../x"), std::string("tractor-abc"), std::string("/other-name")}) {
    t.name = bad;
    auto r = attach_shm_array<int>(t);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), shm_errc::not_a_segment) << bad << ": " << r.error().message();
  }
  // A file in /dev/shm with our prefix but garbage inside (a crashed writer, or another program).
  const std::string name = "/tractor-0000000000000000-" + unique_key("garbage");
  const int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  std::vector<char> junk(4096, 'x');
  ASSERT_EQ(::write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  ::close(fd);
  t.name = name;
  auto r = attach_shm_array<int>(t);
  ::shm_unlink(name.c_str());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), shm_errc::not_a_segment) << r.error().message();
  EXPECT_NE(r.error().message().find("not made by this library"), std::string::npos) << r.error().message();
}

TEST(shm_array_test, keys_must_make_a_file_name) {
  for (const std::string& bad : {std::string(), std::string("a/b"), std::string("sp ace"), std::string(201, 'k'),
                                std::string("nul\0x", 5)}) {
    auto r = open_shm_array<int>(bad, 4);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), shm_errc::bad_key) << r.error().message();
  }
  EXPECT_TRUE(open_shm_array<int>(std::string(200, 'k'), 4));
}

TEST(shm_array_test, a_killed_owner_leaves_a_consistent_array_that_the_reaper_sweep_finds) {
  // The owner is a process of its own, SIGKILLed after a push: no destructor runs.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const std::string key = unique_key("killed");
  const pid_t owner = ::fork();
  ASSERT_GE(owner, 0);
  if (owner == 0) {
    ::close(pipe_fds[0]);
    auto a = open_shm_array<std::uint64_t>(key, 1000);
    if (!a) ::_exit(1);
    const std::array<std::uint64_t, 3> three{7, 8, 9};
    (void)a.value().push(three);
    const std::string& name = a.value().token().name;
    (void)!::write(pipe_fds[1], name.data(), name.size());
    ::close(pipe_fds[1]);
    for (;;) ::pause();
  }
  ::close(pipe_fds[1]);
  char buf[512];
  const ssize_t got = ::read(pipe_fds[0], buf, sizeof buf);
  ::close(pipe_fds[0]);
  ASSERT_GT(got, 0);
  shm_token t;
  t.name.assign(buf, static_cast<std::size_t>(got));
  t.kind = static_cast<std::uint32_t>(shm_kind::array);
  t.elem_size = sizeof(std::uint64_t);
  t.type_hash = shm_detail::type_hash<std::uint64_t>();
  t.capacity = 1000;
  ::kill(owner, SIGKILL);
  ASSERT_EQ(::waitpid(owner, nullptr, 0), owner);

  EXPECT_TRUE(exists_in_dev_shm(t)) << "nothing unlinked it";
  {
    auto r = attach_shm_array<std::uint64_t>(t);
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r.value().size(), 3u) << "what was published before the kill";
    EXPECT_EQ(r.value().last().front(), 9u);
    const auto held = tractor::testing::orphaned_shm_segments();
    EXPECT_EQ(std::count(held.begin(), held.end(), t.name.substr(1)), 0) << "mapped here: not an orphan";
  }
  const auto orphans = tractor::testing::orphaned_shm_segments();
  ASSERT_EQ(std::count(orphans.begin(), orphans.end(), t.name.substr(1)), 1) << "the sweep finds " << t.name;
  ASSERT_EQ(::shm_unlink(t.name.c_str()), 0);  // what tractor-reap --shm does with it
  EXPECT_FALSE(exists_in_dev_shm(t));
}

// A ring's doorbells are FIFOs beside its segment: the sweep takes one whose ring is gone (a
// SIGKILLed tree leaves both), never one whose ring is in use.
TEST(shm_sweep_test, finds_doorbells_left_without_their_ring_and_keeps_those_of_a_ring_in_use) {
  auto made = open_shm_array<std::uint64_t>(unique_key("held"), 4, 1);
  ASSERT_TRUE(made) << made.error().message();
  const std::string in_use = made.value().token().name.substr(1) + ".room";
  const std::string lonely = "tractor-" + unique_key("0000000000000000-gone") + ".data";
  ASSERT_EQ(::mkfifo(("/dev/shm/" + in_use).c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo(("/dev/shm/" + lonely).c_str(), 0600), 0);
  const auto orphans = tractor::testing::orphaned_shm_segments();
  EXPECT_EQ(std::count(orphans.begin(), orphans.end(), lonely), 1) << "a doorbell whose ring is gone";
  EXPECT_EQ(std::count(orphans.begin(), orphans.end(), in_use), 0) << "the doorbell of a ring in use";
  ::unlink(("/dev/shm/" + in_use).c_str());
  ::unlink(("/dev/shm/" + lonely).c_str());
}

TEST(shm_list_test, values_are_shared_and_a_read_only_list_refuses_writes) {
  const std::array<double, 3> init{1.5, 2.5, 3.5};
  auto made = open_shm_list<double>(unique_key("limits"), 5, init);
  ASSERT_TRUE(made) << made.error().message();
  auto& l = made.value();
  EXPECT_EQ(l.size(), 5u);
  EXPECT_EQ(l.get(1).value(), 2.5);
  EXPECT_EQ(l.get(4).value(), 0.0) << "zeros after the initial values";
  EXPECT_EQ(l.get(5).error(), shm_errc::out_of_range);

  auto reader = attach_shm_list<double>(l.token());
  ASSERT_TRUE(reader);
  EXPECT_TRUE(reader.value().read_only());
  auto refused = reader.value().set(0, 9.0);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), shm_errc::read_only);
  EXPECT_EQ(reader.value().get(0).value(), 1.5);

  auto writer = attach_shm_list<double>(l.token(), shm_access::read_write);
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer.value().set(4, 7.25));
  EXPECT_EQ(l.get(4).value(), 7.25);
  EXPECT_EQ(reader.value().values()[4], 7.25);
  EXPECT_EQ(l.set(9, 1.0).error(), shm_errc::out_of_range);
  EXPECT_FALSE((open_shm_list<double>(unique_key("over"), 2, init))) << "more initial values than room";
}

template <class C>
void round_trip_token() {
  auto made = open_shm_array<tick>(unique_key("token"), 32);
  ASSERT_TRUE(made);
  const msg::raw_pld p = C::template encode_payload<shm_token>(made.value().token());
  auto back = C::template decode_payload<shm_token>(p);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back.value(), made.value().token());
  ASSERT_TRUE(made.value().push(tick{1, 2.0, 3}));
  auto r = attach_shm_array<tick>(back.value());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r.value().view().front().price, 2.0);
}

TEST(shm_token_test, travels_through_every_codec) {
  round_trip_token<codec::cereal_binary>();
  round_trip_token<codec::cereal_json>();
}

TEST(shm_error_test, errors_have_their_own_category) {
  const error e = make_error_code(shm_errc::no_room);
  EXPECT_STREQ(e.code().category().name(), "tractor.shm");
  EXPECT_EQ(e.message(), "no room left in the shared-memory array");
}

}  // namespace
