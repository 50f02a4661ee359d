// Definitions for tractor/transport/channel.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp); the
// sending side.
#pragma once

#include <tractor/transport/channel.hpp>

#include <boost/asio/write.hpp>

#include <cstring>

namespace tractor::transport {

namespace detail {
/// A completion condition for reading or writing everything: Asio's transfer_all without its
/// cap of 64 KiB per system call, so that a large payload goes through in as few calls (and
/// turns of the event loop) as the socket allows rather than sixteen per MiB.
inline constexpr auto whole_buffers = [](const boost::system::error_code& ec, std::size_t) -> std::size_t {
  return ec ? 0 : static_cast<std::size_t>(-1);
};
}  // namespace detail

TRACTOR_DECL void channel::close() noexcept {
  closed_locally_ = true;
  if (secure_ && socket_.is_open()) secure_->close(socket_);
  boost::system::error_code ignored;
  socket_.shutdown(boost::asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  flushed_.notify_all();
  queued_.notify_all();
}

TRACTOR_DECL error channel::broken_error() const {
  if (broken_reason_) return *broken_reason_;
  if (closed_locally_) {
    return error(make_error_code(wire_errc::transport_closed), "channel closed locally");
  }
  return error(make_error_code(wire_errc::channel_broken));
}

TRACTOR_DECL std::size_t channel::queued_bytes() const {
  std::size_t n = out_.size();
  for (const auto& e : out_external_) n += e.bytes.size();
  return n;
}

template <class M>
auto* channel::payload_of(M& m) {
  using pointer = decltype(&std::get<msg::Yield>(m).pld.bytes);  // const as `m` is
  return std::visit(
      [](auto& x) -> pointer {
        if constexpr (requires { x.pld.bytes; }) {
          return &x.pld.bytes;
        } else {
          return nullptr;
        }
      },
      m);
}

TRACTOR_DECL result<void> channel::enqueue(const msg::msg& m, msg::msg* owned) {
  const std::size_t start = out_.size();
  out_.append(4, '\0');
  std::string_view payload;
  if (owned && codec_.encode_split) {
    payload = codec_.encode_split(m, out_);
  } else {
    codec_.encode(m, out_);
  }
  const std::size_t size = out_.size() - start - 4 + payload.size();
  if (size > options_.max_frame_size || size > 0xffff'ffffu) {
    out_.resize(start);
    return error(make_error_code(wire_errc::frame_too_large),
                 "a `" + std::string(msg::type_name(m)) + "` of " + std::to_string(size) +
                     " bytes exceeds the maximum frame size of " +
                     std::to_string(options_.max_frame_size));
  }
  std::string* bytes = owned ? payload_of(*owned) : nullptr;
  if (payload.size() >= large_payload && bytes && bytes->data() == payload.data()) {
    out_external_.push_back(external{out_.size(), std::move(*bytes)});  // the buffer, not a copy
  } else {
    out_.append(payload);
  }
  const std::uint32_t le = static_cast<std::uint32_t>(size);  // x86-64: already little-endian
  std::memcpy(out_.data() + start, &le, 4);
  return success();
}

TRACTOR_DECL awaitable<result<void>> channel::send(msg::msg m) {
  if (broken_ || !socket_.is_open()) co_return broken_error();
  bool held = false;  // by back-pressure: the writer task is streaming a burst
  if (background_writer_ && !msg::is_control(m)) {
    while (queued_bytes() > options_.send_high_water && background_writer_) {
      held = true;
      co_await flushed_.async_wait(boost::asio::use_awaitable);
      if (broken_ || !socket_.is_open()) co_return broken_error();
    }
  }
  BOOST_OUTCOME_CO_TRY(enqueue(m, &m));
  // Behind a burst, the frame joins the writer's next batch instead of writing through.
  if (!held) {
    if (auto done = write_through()) co_return std::move(*done);
  }
  co_return co_await write_queued();
}

TRACTOR_DECL awaitable<result<void>> channel::send_together(std::span<const msg::msg> ms) {
  if (broken_ || !socket_.is_open()) co_return broken_error();
  for (const auto& m : ms) {
    BOOST_OUTCOME_CO_TRY(enqueue(m, nullptr));
  }
  if (auto done = write_through()) co_return std::move(*done);
  co_return co_await write_queued();
}

TRACTOR_DECL std::optional<result<void>> channel::write_through() {
  // Write-through when idle; what the kernel does not take goes with the next batch.
  if (writer_active_ || !out_external_.empty()) return std::nullopt;
  auto written = write_inline();
  if (!written || out_.empty()) return written;
  return std::nullopt;
}

TRACTOR_DECL result<void> channel::try_send(const msg::msg& m) {
  if (broken_ || !socket_.is_open()) return broken_error();
  const bool control = msg::is_control(m);
  if (!control && (!background_writer_ || queued_bytes() > options_.send_high_water)) return errc::would_block;
  // A large payload is `send`'s, which takes it over instead of copying it.
  const std::string* payload = payload_of(m);
  if (payload && payload->size() >= large_payload) return errc::would_block;
  BOOST_OUTCOME_TRY(enqueue(m, nullptr));
  if (background_writer_) {
    // The first frame queued after a read is likely an answer the peer waits for: it goes
    // now; the frames behind it in a burst wait for the writer, and leave together. (A
    // prelude waits for what it announces.)
    if (!writer_active_ && out_external_.empty() && wrote_through_at_ != reads_ && !msg::is_prelude(m)) {
      wrote_through_at_ = reads_;
      BOOST_OUTCOME_TRY(write_inline());
      if (out_.empty()) return success();
    }
    wake_writer_soon();
    return success();
  }
  if (writer_active_ || !out_external_.empty()) return success();  // leaves with the write under way
  return write_inline();
}

TRACTOR_DECL void channel::wake_writer_soon() {
  if (wake_posted_) return;
  wake_posted_ = true;
  boost::asio::post(socket_.get_executor(), [alive = std::weak_ptr<const bool>(alive_), this] {
    if (alive.expired()) return;
    wake_posted_ = false;
    if (!out_.empty() && !writer_active_) queued_.notify_all();
  });
}

TRACTOR_DECL result<void> channel::write_inline() {
  boost::system::error_code ec;
  if (!socket_.non_blocking()) socket_.non_blocking(true, ec);
  std::size_t n = 0;
  if (!ec) {
    n = secure_ ? secure_->write_some(socket_, boost::asio::buffer(out_), ec)
                : socket_.write_some(boost::asio::buffer(out_), ec);
  }
  if (ec && ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) {
    break_on_write_error(ec);
    return broken_error();
  }
  out_.erase(0, n);
  if (!out_.empty()) queued_.notify_all();
  return success();
}

TRACTOR_DECL void channel::break_on_write_error(const boost::system::error_code& ec) {
  broken_ = true;
  if (!closed_locally_) broken_reason_ = detail::socket_error(ec, "send");
}

TRACTOR_DECL awaitable<result<void>> channel::write_queued() {
  if (broken_ || !socket_.is_open()) co_return broken_error();
  if (background_writer_) {
    queued_.notify_all();
    co_return success();
  }
  // What is queued goes out with the next batch to start.
  const std::uint64_t mine = batches_started_ + 1;
  while (batches_done_ < mine) {
    if (broken_ || !socket_.is_open()) co_return broken_error();
    if (!writer_active_) {
      co_await write_batches();
    } else {
      co_await flushed_.async_wait(boost::asio::use_awaitable);
    }
  }
  co_return success();
}

TRACTOR_DECL awaitable<void> channel::write_batches() {
  writer_active_ = true;
  std::exception_ptr interrupted;
  std::vector<boost::asio::const_buffer> pieces;
  while (!out_.empty() && !broken_) {
    writing_.clear();
    writing_external_.clear();
    std::swap(out_, writing_);
    std::swap(out_external_, writing_external_);
    ++batches_started_;
    pieces.clear();
    std::size_t at = 0;
    for (const auto& e : writing_external_) {
      pieces.push_back(boost::asio::buffer(writing_.data() + at, e.at - at));
      pieces.push_back(boost::asio::buffer(e.bytes.data(), e.bytes.size()));
      at = e.at;
    }
    pieces.push_back(boost::asio::buffer(writing_.data() + at, writing_.size() - at));
    try {
      boost::system::error_code ec;
      if (secure_) {
        auto wrote = co_await secure_->write(socket_, pieces);
        ec = std::get<0>(wrote);
      } else {
        auto wrote = co_await boost::asio::async_write(socket_, pieces, detail::whole_buffers,
                                                       boost::asio::as_tuple(boost::asio::use_awaitable));
        ec = std::get<0>(wrote);
      }
      if (ec) {
        // Part of a frame may be on the wire: nothing can be sent after it.
        broken_ = true;
        if (ec == boost::asio::error::operation_aborted && !closed_locally_) {
          broken_reason_ = error(make_error_code(wire_errc::channel_broken),
                                 "a send was cancelled in the middle of a frame");
          interrupted = std::make_exception_ptr(
              boost::system::system_error(boost::asio::error::operation_aborted));
        } else {
          break_on_write_error(ec);
        }
      } else {
        ++batches_done_;
      }
    } catch (...) {
      // Refused before the write started (this task was already cancelled): no byte of the
      // batch went out, so it goes back to the front of the queue for another writer.
      --batches_started_;
      for (auto& e : out_external_) e.at += writing_.size();
      writing_ += out_;
      writing_external_.insert(writing_external_.end(), std::make_move_iterator(out_external_.begin()),
                               std::make_move_iterator(out_external_.end()));
      std::swap(out_, writing_);
      std::swap(out_external_, writing_external_);
      writing_external_.clear();
      interrupted = std::current_exception();
      break;
    }
    writing_external_.clear();
    flushed_.notify_all();
  }
  writer_active_ = false;
  flushed_.notify_all();
  queued_.notify_all();
  if (interrupted) std::rethrow_exception(interrupted);
}

TRACTOR_DECL awaitable<void> channel::run_writer() {
  background_writer_ = true;
  std::exception_ptr ended;
  try {
    while (!broken_ && socket_.is_open()) {
      if (out_.empty() || writer_active_) {
        const tractor::detail::wait_note_scope note(tractor::detail::wait_note{.what = "messages to send"});
        co_await queued_.async_wait(boost::asio::use_awaitable);
        continue;
      }
      co_await write_batches();
    }
  } catch (...) {
    ended = std::current_exception();
  }
  background_writer_ = false;
  flushed_.notify_all();  // senders held by the high-water mark write inline from now on
  if (ended) std::rethrow_exception(ended);
}

}  // namespace tractor::transport
