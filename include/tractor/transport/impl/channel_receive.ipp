// Definitions for tractor/transport/channel.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp); the
// receiving side (framing, large frames read straight into their message, the read buffer).
#pragma once

#include <tractor/transport/impl/channel.ipp>

#include <boost/asio/read.hpp>

#include <cstring>

namespace tractor::transport {

TRACTOR_DECL std::optional<result<msg::msg>> channel::try_receive() {
  if (large_.active) return std::nullopt;
  auto frame = next_frame();
  if (!frame) {
    if (broken_) return result<msg::msg>(broken_error());
    return std::nullopt;
  }
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;  // the frame's bytes stay in place
  return codec_.decode(*frame);
}

TRACTOR_DECL std::optional<result<void>> channel::try_receive(msg::msg& into) {
  if (large_.active) return std::nullopt;  // the rest of a large frame is still to be read
  auto frame = next_frame();
  if (!frame) {
    if (broken_) return result<void>(broken_error());
    return std::nullopt;
  }
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  return codec_.decode_into(*frame, into);
}

TRACTOR_DECL std::optional<std::span<const std::byte>> channel::next_frame() {
  const std::size_t avail = in_end_ - in_begin_;
  if (avail < 4) return std::nullopt;
  std::uint32_t size = 0;
  std::memcpy(&size, in_.data() + in_begin_, 4);
  if (size > options_.max_frame_size) {
    broken_ = true;
    broken_reason_ = error(make_error_code(wire_errc::frame_too_large),
                           "peer announced a frame of " + std::to_string(size) +
                               " bytes; the maximum is " + std::to_string(options_.max_frame_size));
    return std::nullopt;
  }
  if (avail - 4 < size) return std::nullopt;
  std::span<const std::byte> frame(in_.data() + in_begin_ + 4, size);
  in_begin_ += 4 + size;
  return frame;
}

TRACTOR_DECL awaitable<result<msg::msg>> channel::receive() {
  msg::msg m;
  auto got = co_await receive(m);
  if (!got) co_return std::move(got).error();
  co_return std::move(m);
}

TRACTOR_DECL bool channel::start_large() {
  const std::size_t avail = in_end_ - in_begin_;
  if (!codec_.decode_head || avail < 4) return false;
  std::uint32_t size = 0;
  std::memcpy(&size, in_.data() + in_begin_, 4);
  if (size < large_payload || size > options_.max_frame_size) return false;
  std::span<const std::byte> prefix(in_.data() + in_begin_ + 4, std::min<std::size_t>(avail - 4, size));
  msg::msg scratch;
  const auto head = codec_.decode_head(prefix, size, scratch);
  if (!head) return false;
  large_.head.assign(reinterpret_cast<const char*>(prefix.data()), *head);
  large_.payload.resize(size - *head);  // a buffer of this size, swapped back from the last
  large_.have = prefix.size() - *head;
  std::memcpy(large_.payload.data(), prefix.data() + *head, large_.have);
  in_begin_ += 4 + prefix.size();
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  large_.active = true;
  return true;
}

TRACTOR_DECL awaitable<result<void>> channel::receive_large(msg::msg& into) {
  if (large_.have < large_.payload.size()) {
    const auto rest = boost::asio::buffer(large_.payload.data() + large_.have, large_.payload.size() - large_.have);
    std::tuple<boost::system::error_code, std::size_t> got;
    if (secure_) {
      got = co_await secure_->read(socket_, rest);
    } else {
      got = co_await boost::asio::async_read(socket_, rest, detail::whole_buffers,
                                             boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    const auto [ec, n] = got;
    large_.have += n;
    if (ec == boost::asio::error::operation_aborted && !closed_locally_) throw_cancelled();
    if (ec) {
      broken_ = true;
      broken_reason_ = closed_locally_ ? broken_error() : detail::socket_error(ec, "receive");
      co_return broken_error();
    }
  }
  large_.active = false;
  const auto head =
      codec_.decode_head(std::as_bytes(std::span(large_.head)), large_.head.size() + large_.payload.size(), into);
  std::string* payload = head ? payload_of(into) : nullptr;
  if (!payload) co_return error(make_error_code(wire_errc::malformed_frame), "malformed frame: a large frame's head");
  payload->swap(large_.payload);
  co_return success();
}

TRACTOR_DECL awaitable<result<void>> channel::receive(msg::msg& into) {
  for (;;) {
    if (large_.active || start_large()) co_return co_await receive_large(into);
    if (auto ready = try_receive(into)) co_return std::move(*ready);
    auto more = co_await fill();
    if (!more) co_return std::move(more).error();
  }
}

TRACTOR_DECL void channel::make_room() {
  // Drop consumed bytes, then grow to hold at least the frame being read.
  if (in_begin_ > 0) {
    std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  std::size_t want = 64 * 1024;
  if (in_end_ >= 4) {
    std::uint32_t size = 0;
    std::memcpy(&size, in_.data(), 4);
    // A large frame whose head has not arrived yet may be one whose payload is read straight
    // into place (`start_large`): no room for all of it here, then.
    const bool may_split = codec_.decode_head && size >= large_payload && in_end_ - 4 < 4096;
    if (!may_split) want = std::max(want, std::size_t{size} + 4);
  }
  if (in_.size() < want) in_.resize(want);
  if (in_.size() == in_end_) in_.resize(in_.size() * 2);
}

TRACTOR_DECL result<void> channel::took(const boost::system::error_code& ec, std::size_t n) {
  in_end_ += n;
  ++reads_;
  if (!ec) return success();
  if (closed_locally_) return broken_error();
  auto e = detail::socket_error(ec, "receive");
  if (in_end_ > in_begin_ && e == wire_errc::transport_closed) {
    e = error(make_error_code(wire_errc::transport_closed),
              "peer closed the connection in the middle of a frame (" +
                  std::to_string(in_end_ - in_begin_) + " bytes of it received)");
  }
  broken_ = true;
  broken_reason_ = e;
  return e;
}

TRACTOR_DECL awaitable<result<void>> channel::fill() {
  if (broken_ || !socket_.is_open()) co_return broken_error();
  make_room();
  const auto room = boost::asio::buffer(in_.data() + in_end_, in_.size() - in_end_);
  std::tuple<boost::system::error_code, std::size_t> got;
  if (secure_) {
    got = co_await secure_->read_some(socket_, room);
  } else {
    got = co_await socket_.async_read_some(room, boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  const auto [ec, n] = got;
  if (ec == boost::asio::error::operation_aborted && !closed_locally_) throw_cancelled();
  co_return took(ec, n);
}

}  // namespace tractor::transport
