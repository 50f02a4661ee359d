// tractor/transport/connection.hpp — the socket every transport produces, a session that
// secures a connection's bytes (TLS), and a connection that may carry one.
//
// A transport that only authenticates its peers (tcp, with the cookie) leaves the bytes as
// they are; one that encrypts them (tls) hands the channel a `secure_stream`, which the
// channel reads and writes through instead of the socket. The interface is small and erased
// (one virtual call per read or write, beside the cipher's cost), so that the channel stays
// one non-template class and links no TLS library unless a tree uses one.
#pragma once

#include <tractor/config.hpp>

#include <tractor/core/cancel_scope.hpp>

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/generic/stream_protocol.hpp>

#include <memory>
#include <span>
#include <tuple>

namespace tractor::transport {

/// The socket every transport produces.
using stream_socket = boost::asio::generic::stream_protocol::socket;
/// A listening socket of any family.
using acceptor_socket = boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol>;

/// The bytes of one connection, through a secure session. Every operation is given the
/// connection's socket (the session knows its descriptor, not the object, which moves).
class secure_stream {
 public:
  using io_result = std::tuple<boost::system::error_code, std::size_t>;

  virtual ~secure_stream() = default;

  /// Writes what it can of `b` now, without waiting: the bytes taken, or 0 with
  /// `would_block`. After `would_block` the next write must begin with the same bytes (the
  /// session may hold part of them, sent halfway).
  virtual std::size_t write_some(stream_socket& s, boost::asio::const_buffer b, boost::system::error_code& ec) = 0;

  /// Writes all of `pieces`, in order: the error, if any, and the bytes written.
  ///
  /// Cancellation: throws `operation_aborted` if this task is already cancelled (nothing was
  /// written); once writing, returns `operation_aborted` with the bytes written so far.
  virtual awaitable<io_result> write(stream_socket& s, std::span<const boost::asio::const_buffer> pieces) = 0;

  /// Reads at least one byte into `b` (`eof` when the peer closed).
  ///
  /// Cancellation: returns `operation_aborted`; nothing is lost.
  virtual awaitable<io_result> read_some(stream_socket& s, boost::asio::mutable_buffer b) = 0;

  /// Fills `b` (fewer bytes only with an error). By default, `read_some` until it is full.
  ///
  /// Cancellation: returns `operation_aborted` with the bytes read so far.
  virtual awaitable<io_result> read(stream_socket& s, boost::asio::mutable_buffer b);

  /// Tells the peer the session ends, if the socket takes it now (best effort). Idempotent.
  virtual void close(stream_socket& s) noexcept = 0;
};

/// A connected socket and, for a transport that secures its bytes, the session they go
/// through (null: the socket's bytes are the messages' own).
struct connection {
  stream_socket socket;
  std::unique_ptr<secure_stream> secure = {};
};

}  // namespace tractor::transport

#if TRACTOR_HEADER_ONLY
#include <tractor/transport/impl/connection.ipp>
#endif
