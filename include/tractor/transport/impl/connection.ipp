// Definitions for tractor/transport/connection.hpp: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/transport/connection.hpp>

namespace tractor::transport {

TRACTOR_DECL awaitable<secure_stream::io_result> secure_stream::read(stream_socket& s, boost::asio::mutable_buffer b) {
  std::size_t total = 0;
  while (total < b.size()) {
    auto got = co_await read_some(s, b + total);
    total += std::get<1>(got);
    if (std::get<0>(got)) co_return io_result{std::get<0>(got), total};
  }
  co_return io_result{boost::system::error_code(), total};
}

}  // namespace tractor::transport
