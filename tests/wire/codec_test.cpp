#include <tractor/codec/cereal_binary.hpp>
#include <tractor/codec/cereal_json.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <random>
#include <vector>

// The largest single allocation made while `tracking` is on: the fuzz test's proof that a
// hostile frame never makes the decoder allocate more than a bounded amount.
namespace {
std::size_t largest_allocation = 0;
std::size_t allocations = 0;
bool tracking_allocations = false;
}  // namespace

void* operator new(std::size_t n) {
  if (tracking_allocations && n > largest_allocation) largest_allocation = n;
  if (tracking_allocations) ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace tractor;
namespace m = tractor::msg;

// -- the concept accepts every model and rejects broken ones ----------------------------

struct missing_decode {
  static constexpr std::string_view name = "x";
  static void encode(const m::msg&, std::string&) {}
  template <class T>
  static m::raw_pld encode_payload(const T&) { return {}; }
  template <class T>
  static result<T> decode_payload(const m::raw_pld&) { return T{}; }
};
struct throwing_style_decode : missing_decode {
  static m::msg decode(std::span<const std::byte>) { return m::Stop{}; }  // not a result
};
struct no_payloads {
  static constexpr std::string_view name = "x";
  static void encode(const m::msg&, std::string&) {}
  static result<m::msg> decode(std::span<const std::byte>) { return m::msg(m::Stop{}); }
};
static_assert(codec::codec<codec::cereal_binary>);
static_assert(codec::codec<codec::cereal_json>);
static_assert(!codec::codec<missing_decode>);
static_assert(!codec::codec<throwing_style_decode>);
static_assert(!codec::codec<no_payloads>);

// -- every message type round-trips under every codec -----------------------------------

template <class C>
std::vector<m::msg> samples() {
  m::uid caller{"root", "6f1c2b1e-0000-4000-8000-000000000001"};
  return {
      m::Aid{"doggy", "6f1c2b1e-0000-4000-8000-000000000001", 4242, std::nullopt, false},
      m::Aid{"registrar", "u2", 1, true, true},
      m::SpawnSpec{{{"init_main_from_path", "/bin/x"}},
                   {{"_is_root", "false"}, {"loglevel", "info"}},
                   {{"math", "/src/math.cpp"}},
                   {{"127.0.0.1", std::int64_t{1616}}, {"/run/tractor", std::string("r.sock")}},
                   std::nullopt},
      m::Start{"c1", "math", "add", C::encode_payload(std::tuple<int, int>{1, 2}), caller},
      m::StartAck{"c1", "context"},
      m::Stop{"c1"},
      m::CancelAck{"c2", true},
      m::Error{caller, "ValueError", "RemoteActorError", {caller, {"mid", "u3"}}, "boom",
               "trace...", std::nullopt, caller, "c1", C::encode_payload(7),
               std::map<std::string, std::string>{{"pld", "7"}}},
      m::Started{"c1", C::encode_payload(std::string("ready"))},
      m::Yield{"c1", C::encode_payload(std::vector<int>{1, 2, 3})},
      m::Return{"c1", C::encode_payload(3.5)},
  };
}

template <class C>
class codec_test : public ::testing::Test {};
using codecs = ::testing::Types<codec::cereal_binary, codec::cereal_json>;
TYPED_TEST_SUITE(codec_test, codecs);

template <class C>
result<m::msg> roundtrip(const m::msg& in) {
  std::string bytes;
  C::encode(in, bytes);
  return C::decode(std::as_bytes(std::span(bytes)));
}

TYPED_TEST(codec_test, every_message_type_round_trips) {
  std::size_t kinds = 0;
  std::vector<bool> seen(std::variant_size_v<m::msg>);
  for (const auto& sample : samples<TypeParam>()) {
    auto back = roundtrip<TypeParam>(sample);
    ASSERT_TRUE(back) << m::type_name(sample) << ": " << back.error().message();
    EXPECT_EQ(back.value(), sample) << m::type_name(sample);
    if (!seen[sample.index()]) ++kinds;
    seen[sample.index()] = true;
  }
  EXPECT_EQ(kinds, std::variant_size_v<m::msg>) << "a message type has no sample";
}

TYPED_TEST(codec_test, payloads_decode_to_the_expected_type_or_say_why_not) {
  auto p = TypeParam::encode_payload(std::string("hello"));
  auto ok = codec::decode_pld<TypeParam, std::string>("Yield", p);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok.value(), "hello");

  auto wrong = codec::decode_pld<TypeParam, std::vector<double>>("Started", p);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), wire_errc::msg_type_error);
  const std::string text = wrong.error().message();
  EXPECT_NE(text.find("`Started`"), std::string::npos) << text;
  EXPECT_NE(text.find("std::vector<double"), std::string::npos) << text;

  auto small = TypeParam::encode_payload(std::int64_t{5});
  auto narrower = codec::decode_pld<TypeParam, std::string>("Return", small);
  EXPECT_FALSE(narrower);
}

TYPED_TEST(codec_test, malformed_frames_are_values) {
  std::string good;
  TypeParam::encode(m::msg(m::Stop{"c1"}), good);
  // Every truncation of a valid frame is refused (or decodes to something; never crashes).
  for (std::size_t n = 0; n < good.size(); ++n) {
    auto r = TypeParam::decode(std::as_bytes(std::span(good.data(), n)));
    if (!r) {
      EXPECT_EQ(r.error(), wire_errc::malformed_frame);
    }
  }
  std::string garbage = "\xff\xfe garbage {[";
  auto g = TypeParam::decode(std::as_bytes(std::span(garbage)));
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error(), wire_errc::malformed_frame);
  // Nesting bombs are refused before parsing.
  std::string deep(100000, '[');
  EXPECT_FALSE(TypeParam::decode(std::as_bytes(std::span(deep))));
}

TYPED_TEST(codec_test, decoding_into_a_kept_message_matches_decode_for_any_sequence) {
  auto all = samples<TypeParam>();
  // Forward, backward, then each twice in a row: every change of type and every reuse.
  std::vector<m::msg> order(all.begin(), all.end());
  order.insert(order.end(), all.rbegin(), all.rend());
  for (const auto& s : all) order.insert(order.end(), {s, s});
  m::msg kept;
  for (const auto& sample : order) {
    std::string bytes;
    TypeParam::encode(sample, bytes);
    auto r = codec::decode_into<TypeParam>(std::as_bytes(std::span(bytes)), kept);
    ASSERT_TRUE(r) << m::type_name(sample) << ": " << r.error().message();
    EXPECT_EQ(kept, sample) << m::type_name(sample);
  }
  // A failure is a value and leaves `kept` usable for the next frame.
  std::string garbage = "\x08\xff garbage";
  auto bad = codec::decode_into<TypeParam>(std::as_bytes(std::span(garbage)), kept);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), wire_errc::malformed_frame);
  std::string good;
  TypeParam::encode(all.front(), good);
  ASSERT_TRUE(codec::decode_into<TypeParam>(std::as_bytes(std::span(good)), kept));
  EXPECT_EQ(kept, all.front());
}

TYPED_TEST(codec_test, encoding_a_payload_into_a_kept_one_matches_encode_payload) {
  m::raw_pld kept{"left over from an earlier, longer payload"};
  for (const std::string& v : {std::string("ab"), std::string(300, 'z'), std::string()}) {
    codec::encode_payload_into<TypeParam>(v, kept);
    EXPECT_EQ(kept, TypeParam::encode_payload(v));
  }
  codec::encode_payload_into<TypeParam>(42, kept);
  EXPECT_EQ(kept, TypeParam::encode_payload(42));
}

TEST(cereal_binary_test, encoding_small_payloads_into_a_kept_one_does_not_allocate) {
  using cb = codec::cereal_binary;
  m::raw_pld kept;
  cb::encode_payload_into(std::string(64, 'w'), kept);  // sizes it
  const std::string item(32, 'x');
  const std::pair<int, std::string> pair_item{7, "seven"};
  allocations = 0;
  tracking_allocations = true;
  for (int i = 0; i < 3; ++i) cb::encode_payload_into(item, kept);
  cb::encode_payload_into(pair_item, kept);
  tracking_allocations = false;
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ((cb::decode_payload<std::pair<int, std::string>>(kept).value()), pair_item);
}

TEST(cereal_binary_test, decoding_small_messages_into_a_kept_message_does_not_allocate) {
  using cb = codec::cereal_binary;
  m::msg kept;
  std::string bytes;
  for (int i = 0; i < 3; ++i) {
    bytes.clear();
    cb::encode(m::msg(m::Yield{"cid-" + std::to_string(i), cb::encode_payload(std::string(42 - i, 'y'))}), bytes);
    allocations = 0;
    tracking_allocations = i > 0;  // the first decode sizes the kept strings
    ASSERT_TRUE(cb::decode_into(std::as_bytes(std::span(bytes)), kept));
    tracking_allocations = false;
    EXPECT_EQ(std::get<m::Yield>(kept).cid, "cid-" + std::to_string(i));
    if (i > 0) {
      EXPECT_EQ(allocations, 0u) << "decode " << i;
    }
  }
}

TEST(cereal_binary_test, the_hot_path_writes_exactly_what_cereal_writes) {
  using cb = codec::cereal_binary;
  for (m::msg sample : {m::msg(m::Stop{"c1"}), m::msg(m::Started{"c2", cb::encode_payload(1)}),
                        m::msg(m::Yield{"c3", cb::encode_payload(std::string(70, 'y'))}),
                        m::msg(m::Return{"", {}})}) {
    std::string fast;
    cb::encode(sample, fast);
    std::string slow;
    codec::detail::binary_output ar(slow);
    codec::detail::save_envelope<codec::detail::binary_output, false>(ar, sample);
    EXPECT_EQ(fast, slow) << m::type_name(sample);
  }
}

// The split a channel writes large payloads with (head, then the payload's own bytes) is the
// whole encoding, for every message: split where the payload comes last, whole otherwise.
TEST(cereal_binary_test, a_split_encoding_is_the_whole_encoding) {
  using cb = codec::cereal_binary;
  for (m::msg sample : {m::msg(m::Stop{"c1"}), m::msg(m::Started{"c2", cb::encode_payload(1)}),
                        m::msg(m::Yield{"c3", cb::encode_payload(std::string(1 << 17, 'y'))}),
                        m::msg(m::Return{"", {}}), m::msg(m::Aid{"a", "u", 1, true, false}),
                        m::msg(m::Start{"c4", "ns", "f", cb::encode_payload(2), {"n", "u"}})}) {
    std::string whole;
    cb::encode(sample, whole);
    std::string head = "prefix";
    const std::string_view tail = cb::encode_split(sample, head);
    EXPECT_EQ(head.substr(6) + std::string(tail), whole) << m::type_name(sample);
    const bool carries = std::holds_alternative<m::Yield>(sample) || std::holds_alternative<m::Started>(sample) ||
                         std::holds_alternative<m::Return>(sample);
    EXPECT_EQ(tail.empty(), !carries || whole.size() == head.size() - 6) << m::type_name(sample);
  }
}

// The receiving side of the split: a frame's head read apart from its payload decodes to the
// message `decode` makes of the whole frame, and anything else is refused (decode decides).
TEST(cereal_binary_test, a_head_read_apart_from_its_payload_is_the_same_message) {
  using cb = codec::cereal_binary;
  const m::msg big = m::Yield{"c3", cb::encode_payload(std::string(1 << 17, 'y'))};
  std::string head;
  const std::string_view payload = cb::encode_split(big, head);
  const std::string whole = head + std::string(payload);
  const auto bytes = std::as_bytes(std::span(whole));
  m::msg into = m::Stop{"unrelated"};
  const auto at = cb::decode_head(bytes.first(head.size() + 10), whole.size(), into);
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, head.size());
  std::get<m::Yield>(into).pld.bytes.assign(payload);
  EXPECT_EQ(into, cb::decode(bytes).value());
  EXPECT_FALSE(cb::decode_head(bytes.first(5), whole.size(), into)) << "a head cut short";
  EXPECT_FALSE(cb::decode_head(bytes, whole.size() + 1, into)) << "a payload that does not fill the frame";
  std::string stop;
  cb::encode(m::msg(m::Stop{"s"}), stop);
  EXPECT_FALSE(cb::decode_head(std::as_bytes(std::span(stop)), stop.size(), into)) << "no payload to split";
}

TEST(cereal_binary_test, string_payloads_take_a_shortcut_to_the_same_bytes) {
  using cb = codec::cereal_binary;
  for (const std::string& v : {std::string(), std::string("x"), std::string(1000, 'y')}) {
    std::string slow;
    codec::detail::binary_output ar(slow);
    ar(v);
    EXPECT_EQ(cb::encode_payload(v).bytes, slow);
    EXPECT_EQ(cb::decode_payload<std::string>(m::raw_pld{slow}).value(), v);
  }
  auto trailing = cb::decode_payload<std::string>(m::raw_pld{cb::encode_payload(std::string("ab")).bytes + "!"});
  EXPECT_FALSE(trailing) << "bytes after the string are refused, as without the shortcut";

  auto p = cb::encode_payload(std::string(40, 's'));
  EXPECT_EQ(cb::steal_string(p), std::string(40, 's')) << "a stream item's string, from the payload's buffer";
  auto odd = m::raw_pld{cb::encode_payload(std::string("ab")).bytes + "!"};
  const auto before = odd;
  EXPECT_FALSE(cb::steal_string(odd));
  EXPECT_EQ(odd, before) << "not exactly one string: left untouched for the full decoder";
}

TEST(cereal_binary_test, a_lying_length_never_allocates_beyond_the_frame) {
  // Start's first field is a string: announce 2^62 bytes of it in a 20-byte frame.
  std::string frame;
  frame.push_back(static_cast<char>(2));  // tag of Start
  std::uint64_t huge = std::uint64_t{1} << 62;
  frame.append(reinterpret_cast<const char*>(&huge), sizeof(huge));
  frame.append("abcdefghijk");
  largest_allocation = 0;
  tracking_allocations = true;
  auto r = codec::cereal_binary::decode(std::as_bytes(std::span(frame)));
  tracking_allocations = false;
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("length exceeds the frame"), std::string::npos);
  EXPECT_LT(largest_allocation, std::size_t{4096});
}

TEST(cereal_binary_test, a_bool_byte_other_than_0_or_1_is_a_malformed_frame) {
  std::string frame;
  codec::cereal_binary::encode(m::msg(m::CancelAck{"c1", true}), frame);
  ASSERT_EQ(frame.back(), '\x01') << "CancelAck ends with its bool";
  frame.back() = '\x02';
  auto r = codec::cereal_binary::decode(std::as_bytes(std::span(frame)));
  ASSERT_FALSE(r) << "a bool byte of 2 decoded";
  EXPECT_EQ(r.error(), wire_errc::malformed_frame);
  EXPECT_NE(r.error().message().find("neither 0 nor 1"), std::string::npos) << r.error().message();
  frame.back() = '\x00';
  auto ok = codec::cereal_binary::decode(std::as_bytes(std::span(frame)));
  ASSERT_TRUE(ok);
  EXPECT_EQ(std::get<m::CancelAck>(ok.value()).pld, false);
}

TYPED_TEST(codec_test, random_and_mutated_frames_never_crash) {
  // Bounded: a fixed seed and count, so the test is fast and repeatable.
  std::mt19937_64 rng(20261126);
  std::vector<std::string> valid;
  for (const auto& s : samples<TypeParam>()) {
    std::string b;
    TypeParam::encode(s, b);
    valid.push_back(std::move(b));
  }
  std::size_t decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string frame;
    if (i % 2 == 0) {
      frame = valid[rng() % valid.size()];
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !frame.empty(); ++e) {
        const std::size_t at = rng() % frame.size();
        switch (rng() % 3) {
          case 0: frame[at] = static_cast<char>(rng()); break;
          case 1: frame.erase(at, 1 + rng() % 8); break;
          default: frame.insert(at, 1, static_cast<char>(rng())); break;
        }
      }
    } else {
      frame.resize(rng() % 64);
      for (auto& c : frame) c = static_cast<char>(rng());
    }
    tracking_allocations = true;
    auto r = TypeParam::decode(std::as_bytes(std::span(frame)));
    tracking_allocations = false;
    if (r) {
      ++decoded;
    } else {
      EXPECT_EQ(r.error(), wire_errc::malformed_frame);
    }
  }
  ::testing::Test::RecordProperty("decoded", static_cast<int>(decoded));
  // Frames here are under 300 bytes; the JSON parser's own pool allocates in 64 KiB chunks.
  EXPECT_LE(largest_allocation, std::size_t{128} << 10);
}

}  // namespace
