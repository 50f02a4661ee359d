// A peer on its own, over a socket pair: stream items reach their mailbox, and a payload its
// consumer hands back is the buffer a later item is decoded into.
#include <tractor/runtime/peer.hpp>
#include <tractor/runtime/tree.hpp>

#include "tests/support/async_test.hpp"

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/core/nursery.hpp>
#include <tractor/spawn/thread.hpp>
#include <tractor/transport/uds.hpp>

#include <gtest/gtest.h>

namespace {

using namespace tractor;
namespace m = tractor::msg;
using plain_tree = tree<spawn::thread, transport::uds, codec::cereal_binary, exposed<>>;

TEST(peer_test, a_recycled_payload_buffer_receives_the_next_stream_item) {
  boost::asio::io_context ctx;
  tractor::testing::run_async(ctx, [&]() -> awaitable<void> {
    auto pair = transport::local_pair(ctx.get_executor());
    EXPECT_TRUE(pair);
    if (!pair) co_return;
    auto theirs = transport::adopt_local(ctx.get_executor(), pair.value().second);
    EXPECT_TRUE(theirs);
    if (!theirs) co_return;
    auto sender = transport::channel::make<codec::cereal_binary>(std::move(theirs).value());
    runtime::peer p(transport::channel::make<codec::cereal_binary>(std::move(pair.value().first)), m::Aid{},
                    plain_tree::policies());
    auto& box = p.open_mailbox("c1");
    const std::string item(1000, 'x');
    auto send_item = [&]() -> awaitable<void> {
      m::msg y = m::Yield{"c1", codec::cereal_binary::encode_payload(item)};
      EXPECT_TRUE(co_await sender->send(std::move(y)));
    };
    auto r = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon([&]() -> awaitable<void> {
        auto why = co_await p.serve([](m::Start) {});
        (void)why;
      });
      co_await send_item();
      auto first = co_await box.receive();
      EXPECT_TRUE(first && std::holds_alternative<m::Yield>(first.value()));
      if (!first || !std::holds_alternative<m::Yield>(first.value())) co_return n.cancel();
      // The consumer decodes the payload and hands its buffer back, as a stream does.
      m::raw_pld taken = std::move(std::get<m::Yield>(first.value()).pld);
      const char* buffer = taken.bytes.data();
      EXPECT_EQ((codec::decode_pld<codec::cereal_binary, std::string>("Yield", taken).value()), item);
      p.recycle(std::move(taken));
      // Two more, both on the wire before the peer reads again (it lets the work the first
      // item started run before it waits for the next, and this task does not yield in
      // between): the next it decodes goes into the buffer handed back.
      co_await send_item();
      co_await send_item();
      auto second = co_await box.receive();
      EXPECT_TRUE(second && std::holds_alternative<m::Yield>(second.value()));
      if (second && std::holds_alternative<m::Yield>(second.value())) {
        const auto& pld = std::get<m::Yield>(second.value()).pld;
        EXPECT_EQ(pld.bytes.data(), buffer) << "decoded into the recycled buffer";
        EXPECT_EQ((codec::decode_pld<codec::cereal_binary, std::string>("Yield", pld).value()), item);
      }
      auto third = co_await box.receive();
      EXPECT_TRUE(third && std::holds_alternative<m::Yield>(third.value()));
      n.cancel();
    });
    EXPECT_TRUE(r);
  }());
}

}  // namespace
