// The compile-time floor for tools/bench/compile_time.sh: a minimal TCP echo server on Asio's
// C++20 coroutines (what any coroutine Asio program pays to compile), not a benchmark itself.
#include <boost/asio.hpp>

#include <cstdio>

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<void> echo(tcp::socket socket) {
  char data[4096];
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(data), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    auto [wec, written] = co_await asio::async_write(socket, asio::buffer(data, n), asio::as_tuple(asio::use_awaitable));
    if (wec) co_return;
  }
}

asio::awaitable<void> listen(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), asio::detached);
  }
}

int main() {
  asio::io_context ctx;
  tcp::acceptor acceptor(ctx, {asio::ip::address_v4::loopback(), 0});
  std::printf("echo server on port %u\n", acceptor.local_endpoint().port());
  asio::co_spawn(ctx, listen(acceptor), asio::detached);
  ctx.run();
}
