#include "tools/reap/registry.hpp"

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/discovery/discovery.hpp>
#include <tractor/runtime/election.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/testing/reap.hpp>
#include <tractor/transport/tcp.hpp>
#include <tractor/transport/uds.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <cstdlib>

namespace tractor::tools {

namespace {

// The tools' own tree: they spawn nothing and expose nothing.
template <class Transport>
using tool_tree = tree<spawn::exec, Transport, codec::cereal_binary, exposed<>>;

// Whether the actor at `addr` is still there, and if not why.
awaitable<std::pair<bool, std::string>> check(const runtime::policies& pol, const transport::multiaddr& addr) {
  if (transport::uds::accepts(addr)) {
    const auto listening = testing::abstract_listeners(transport::uds::name_prefix());
    const bool alive = std::find(listening.begin(), listening.end(), addr.path()) != listening.end();
    co_return std::pair{alive, alive ? std::string() : "nothing listens there"};
  }
  auto ex = co_await boost::asio::this_coro::executor;
  std::optional<result<transport::stream_socket>> sock;
  auto attempt = [&]() -> awaitable<void> { sock.emplace(co_await pol.connect(ex, addr)); };
  (void)co_await move_on_after(std::chrono::seconds(1), attempt());
  if (!sock) co_return std::pair{false, std::string("no answer within 1 s")};
  if (!*sock) co_return std::pair{false, sock->error().message()};
  co_return std::pair{true, std::string()};
}

template <class Tree>
registry_view read_with(const transport::multiaddr& addr, bool forget_gone) {
  registry_view view{addr.str(), std::nullopt, {}};
  // Probe first: a root where no registrar answers would become the registrar.
  std::optional<runtime::probe_result> probed;
  {
    boost::asio::io_context ctx;
    boost::asio::co_spawn(
        ctx, [&]() -> awaitable<void> { probed = co_await runtime::probe_registry(Tree::policies(), addr); },
        boost::asio::detached);
    ctx.run();
  }
  if (probed != runtime::probe_result::registrar) {
    view.failure = probed == runtime::probe_result::absent       ? "no registrar (nothing listens there)"
                   : probed == runtime::probe_result::unanswered ? "no answer (" + runtime::probe_budget() + ")"
                                                                 : "not a registrar (something else answers there)";
    return view;
  }
  root_options options;
  options.name = "tractor-tools";
  options.registry_addrs = {addr};
  options.cancel_on_signals = false;
  char arg0[] = "tractor-tools";
  char* argv[] = {arg0, nullptr};
  const int code = run_main<Tree>(1, argv, options, [&](root<Tree>&) -> awaitable<result<void>> {
    const std::string self = runtime::current_actor()->aid().uuid;
    BOOST_OUTCOME_CO_TRY(auto entries, co_await list_registry());
    for (auto& e : entries) {
      if (e.uuid == self) continue;
      const auto [alive, why] = co_await check(Tree::policies(), e.address);
      view.entries.push_back({e.name, e.uuid, e.address.str(), alive, why});
      if (!alive && forget_gone) {
        auto forgotten = co_await delete_addr(e.address);
        if (!forgotten) view.entries.back().why += "; the registrar refused to forget it: " + forgotten.error().message();
      }
    }
    co_return success();
  });
  if (code != 0) view.failure = "the registrar did not answer the listing (exit code " + std::to_string(code) + ")";
  return view;
}

}  // namespace

std::vector<std::string> default_registrars() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("TRACTOR_REGISTRY_ADDRS"); env && *env) {
    const std::string all(env);
    for (std::size_t at = 0; at <= all.size();) {
      const auto comma = std::min(all.find(',', at), all.size());
      const std::string one = all.substr(at, comma - at);
      // Port 0 is where a root lets the OS choose: nobody can be asked there.
      if (!one.empty() && !one.ends_with("/tcp/0")) out.push_back(one);
      at = comma + 1;
    }
    return out;
  }
  return {transport::uds::default_registry().str(), transport::tcp::default_registry().str()};
}

registry_view read_registry(const std::string& address, bool forget_gone) {
  auto addr = transport::multiaddr::parse(address);
  if (!addr) return {address, "not an address: " + addr.error().message(), {}};
  if (transport::uds::accepts(addr.value())) return read_with<tool_tree<transport::uds>>(addr.value(), forget_gone);
  if (transport::tcp::accepts(addr.value())) return read_with<tool_tree<transport::tcp>>(addr.value(), forget_gone);
  return {address, "neither a UDS nor a TCP address", {}};
}

}  // namespace tractor::tools
