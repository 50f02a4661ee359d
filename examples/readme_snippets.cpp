// The README's smaller examples, compiled (and, where they need no second program, run) so
// that none lives only in Markdown: each region between `--(doc-NAME-begin)--` and
// `--(doc-NAME-end)--` appears verbatim in the README (//tools/checks:readme_snippets_test).
//
//     tools/bazel run //examples:readme_snippets
#include <tractor/tractor.hpp>

#include <fmt/core.h>

#include <string>
#include <vector>

namespace {
std::vector<int> seen;
void use(int x) { seen.push_back(x); }
}  // namespace

// --(doc-context-callee-begin)--
namespace feed {
tractor::task<int> counter(tractor::context<int, int>& ctx, int n) {
  BOOST_OUTCOME_CO_TRYV(co_await ctx.started(n));          // the caller's block starts
  BOOST_OUTCOME_CO_TRY(auto s, ctx.open_stream());          // msg_stream<int>
  for (int i = 0; i < n; ++i) {
    BOOST_OUTCOME_CO_TRYV(co_await s.send(i));
  }
  co_return n;                                              // the context's result
}
}  // namespace feed
// --(doc-context-callee-end)--

using tree = tractor::tree<tractor::spawn::thread, tractor::transport::uds, tractor::codec::cereal_binary,
                           tractor::exposed<&feed::counter>>;
using feed_api = tractor::interface<&feed::counter>;

tractor::task<void> count_to_ten(tractor::portal<tree, feed_api>& worker) {
  // --(doc-context-caller-begin)--
  auto r = co_await worker.open_context<&feed::counter>(
      [](tractor::caller_context<&feed::counter>& ctx, int first) -> tractor::task<void> {
        BOOST_OUTCOME_CO_TRY(auto s, ctx.open_stream());
        for (auto x = co_await s.receive(); x; x = co_await s.receive()) use(x.value());
        BOOST_OUTCOME_CO_TRY(int n, co_await ctx.wait_for_result());
        fmt::print("started with {}, streamed {} items, result {}\n", first, seen.size(), n);
        co_return tractor::success();
      },
      10);
  // --(doc-context-caller-end)--
  co_return r;
}

tractor::task<void> look_around() {
  // --(doc-discovery-begin)--
  auto p = co_await tractor::find_actor<tree, feed_api>("worker");   // result<portal<tree, feed_api>>
  auto q = co_await tractor::wait_for_actor<tree>("worker");          // waits until one registers
  auto addrs = co_await tractor::query_actor<tree>("worker");         // addresses only
  auto reg = co_await tractor::get_registry<tree>();                  // a portal to the registrar
  auto all = co_await tractor::list_registry();                       // name, uuid, address of each
  // --(doc-discovery-end)--
  if (!p || !q || !addrs || !reg || !all) co_return tractor::errc::would_block;
  fmt::print("found worker at {}; {} registered actors\n", addrs.value().front().str(), all.value().size());
  co_return tractor::success();
}

// Not run (it needs a second program to talk to): compiled only.
[[maybe_unused]] tractor::task<void> wire_tour(boost::asio::any_io_executor ex, tractor::msg::Aid my_aid) {
  using namespace std::chrono_literals;
  // --(doc-wire-begin)--
  namespace tp = tractor::transport;
  auto l = tp::uds::listen(ex, tp::uds::bind_addr("server")).value();   // /unix/.../server@PID
  auto sock = co_await tp::uds::connect(ex, l.address());               // from the peer
  auto ch = tp::channel::make<tractor::codec::cereal_binary>(std::move(sock).value());
  auto peer = co_await tractor::runtime::handshake(*ch, my_aid, 10s);  // each side sends its Aid first
  tractor::msg::msg item = tractor::msg::Yield{"cid", tractor::codec::cereal_binary::encode_payload(42)};
  auto sent = co_await ch->send(std::move(item));
  auto m = co_await ch->receive();                     // result<msg::msg>
  // --(doc-wire-end)--
  (void)peer;
  (void)sent;
  (void)m;
  co_return tractor::success();
}

int main(int argc, char** argv) {
  return tractor::run_main<tree>(argc, argv, [](tractor::actor_nursery<tree>& an) -> tractor::task<void> {
    BOOST_OUTCOME_CO_TRY(auto worker, co_await an.start_actor<feed_api>("worker"));
    BOOST_OUTCOME_CO_TRYV(co_await count_to_ten(worker));
    BOOST_OUTCOME_CO_TRYV(co_await look_around());
    an.cancel();
    co_return tractor::success();
  });
}
