// tractor/transport/channel.hpp — a framed message channel between two actors.
//
// A channel owns one connected socket and speaks tractor's framing: a 4-byte little-endian
// length, then one encoded message. Two ways to send: `send` (awaitable: writes through when
// no write is under way, waits at the high-water mark; `send_together` for a few small
// messages that leave in one write) and `try_send` (never waits: queued for the writer task,
// which sends everything queued in one write). Concurrent senders never interleave. A large
// payload is taken over by `send` and written from its own buffer, header and payload
// gathered into one write, never copied into a frame; one received is
// read straight into its message. Reading parses every complete frame
// already buffered before it reads again.
//
//     auto ch = tractor::transport::channel::make<tractor::codec::cereal_binary>(std::move(sock));
//     tractor::msg::msg stop = tractor::msg::Stop{"c1"};
//     co_await ch->send(std::move(stop));   // (g++ 12: no braced temporaries in co_await)
//     auto m = co_await ch->receive();                       // result<msg::msg>
//
// Failures are values: `transport_closed` when the peer goes away (also in the middle of a
// frame), `malformed_frame` for bytes that do not decode (the channel stays usable: framing
// is intact), `frame_too_large` for a length over the limit (refused before allocating; the
// channel is then broken, since the stream cannot be resynchronised).
#pragma once

#include <tractor/config.hpp>

#include <tractor/codec/codec.hpp>
#include <tractor/core/cancel_scope.hpp>
#include <tractor/transport/connection.hpp>
#include <tractor/transport/transport.hpp>

#include <memory>
#include <span>
#include <string>
#include <vector>

namespace tractor::transport {

namespace detail {
/// Leaves the bytes a vector grows by uninitialized (they are read into before use).
template <class T>
struct uninitialized_allocator : std::allocator<T> {
  uninitialized_allocator() = default;
  template <class U>
  uninitialized_allocator(const uninitialized_allocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
};
}  // namespace detail

struct channel_options {
  /// With a writer task running (`run_writer`), sends return once their frame is queued, until
  /// this many bytes are waiting; then they wait for the writer (back-pressure). Small on
  /// purpose: a batch that stays in cache writes faster than a larger one
  /// (tools/bench/channel_bench shows it).
  std::size_t send_high_water = 1u << 16;
  /// Frames announcing more than this are refused before any allocation.
  std::size_t max_frame_size = 64u << 20;
};

class channel {
 public:
  /// Wraps a connection, speaking codec `C`: through its secure session if it has one.
  template <codec::codec C>
  static std::unique_ptr<channel> make(connection conn, channel_options options = {}) {
    return std::unique_ptr<channel>(new channel(
        std::move(conn), options,
        codec_ops{&C::encode, split_of<C>(), head_of<C>(), &C::decode, &codec::decode_into<C>, C::name}));
  }

  /// Wraps a connected socket, speaking codec `C`.
  template <codec::codec C>
  static std::unique_ptr<channel> make(stream_socket socket, channel_options options = {}) {
    return make<C>(connection{std::move(socket)}, options);
  }

  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;
  ~channel() { close(); }

  /// Sends `m`. When no write is under way, the frame is written from this call (requests
  /// and replies are latency-bound), with whatever was queued before it; otherwise it is
  /// queued for the write under way, and with `run_writer` running this returns once it is
  /// queued, after waiting while the queue is above the high-water mark (back-pressure;
  /// control messages, `msg::is_control`, never wait). Without a writer task it returns once
  /// the kernel has the frame. A payload of `large_payload` bytes or more is taken from `m`
  /// (its buffer, moved) and written from there, header and payload gathered into one
  /// write, never copied into a frame.
  ///
  /// Cancellation: interrupted at once. If this task was writing, part of a frame may be on
  /// the wire, so the channel is then broken (`channel_broken` for later sends), as with any
  /// stream whose send was cancelled midway.
  awaitable<result<void>> send(msg::msg m);

  /// As `send`, for a few small messages that go together, in one write when the socket
  /// takes them: what the peer reads right after the first then costs it no second wakeup
  /// (an actor's handshake `Aid` and a child's registration behind it).
  ///
  /// Cancellation: as `send`.
  awaitable<result<void>> send_together(std::span<const msg::msg> ms);

  /// Queues `m` without waiting; the writer task sends it with what else is queued by the
  /// time it runs (a burst leaves in few writes). Fails with `errc::would_block`, leaving
  /// nothing queued, when no writer task runs, when the queue is above the high-water mark,
  /// or when the payload is large (then `send` it). Control messages (`msg::is_control`) are
  /// never refused for the mark, and without a writer task they are written now if the socket
  /// takes them (else they leave with the next send).
  result<void> try_send(const msg::msg& m);

  /// Payloads of this many bytes or more are not copied into a frame by `send` (codecs that
  /// can split them off: `cereal_binary`), and `try_send` refuses them.
  static constexpr std::size_t large_payload = 64 * 1024;

  /// The next message if a complete frame is already buffered, without waiting and without
  /// a syscall; nothing if `receive` would have to wait. The cheap path for consumers.
  std::optional<result<msg::msg>> try_receive();

  /// As `try_receive`, decoding into `into` (on success it holds the message). A consumer that
  /// keeps one `msg` across calls lets the codec reuse its storage: small messages of the
  /// same type then arrive without any allocation.
  std::optional<result<void>> try_receive(msg::msg& into);

  /// Writes queued frames until cancelled or the channel breaks: run it as a task in the
  /// nursery that owns the channel to let sends return without waiting for the kernel.
  ///
  /// Cancellation: ends the writer (breaking the channel only if a write was under way);
  /// sends then write inline again.
  awaitable<void> run_writer();

  /// Receives the next message. One receiver at a time.
  ///
  /// Cancellation: interrupted at once; nothing is lost (partial frames stay buffered).
  awaitable<result<msg::msg>> receive();

  /// As `receive`, decoding into `into` (see `try_receive(msg::msg&)`); `into` must outlive
  /// the wait.
  ///
  /// Cancellation: interrupted at once; nothing is lost.
  awaitable<result<void>> receive(msg::msg& into);

  /// Closes the socket; pending and later operations fail. Idempotent.
  void close() noexcept;

  [[nodiscard]] bool is_open() const noexcept { return socket_.is_open() && !broken_; }
  [[nodiscard]] std::string_view codec_name() const noexcept { return codec_.name; }

  [[nodiscard]] stream_socket& socket() noexcept { return socket_; }
  /// Whether the bytes go through a secure session (a TLS transport).
  [[nodiscard]] bool secure() const noexcept { return secure_ != nullptr; }

 private:
  struct codec_ops {
    void (*encode)(const msg::msg&, std::string&);
    std::string_view (*encode_split)(const msg::msg&, std::string&);  // null: cannot
    std::optional<std::size_t> (*decode_head)(std::span<const std::byte>, std::size_t, msg::msg&);  // null: cannot
    result<msg::msg> (*decode)(std::span<const std::byte>);
    result<void> (*decode_into)(std::span<const std::byte>, msg::msg&);
    std::string_view name;
  };

  template <class C>
  static constexpr std::string_view (*split_of())(const msg::msg&, std::string&) {
    if constexpr (requires(const msg::msg& m, std::string& out) {
                    { C::encode_split(m, out) } -> std::same_as<std::string_view>;
                  }) {
      return &C::encode_split;
    } else {
      return nullptr;
    }
  }
  template <class C>
  static constexpr std::optional<std::size_t> (*head_of())(std::span<const std::byte>, std::size_t, msg::msg&) {
    if constexpr (requires(std::span<const std::byte> in, msg::msg& m) {
                    { C::decode_head(in, std::size_t{}, m) } -> std::same_as<std::optional<std::size_t>>;
                  }) {
      return &C::decode_head;
    } else {
      return nullptr;
    }
  }
  channel(connection conn, channel_options options, codec_ops codec)
      : socket_(std::move(conn.socket)), secure_(std::move(conn.secure)), options_(options), codec_(codec) {}

  /// A large payload taken from its message: written after byte `at` of the queue.
  struct external {
    std::size_t at;
    std::string bytes;
  };

  /// Writes queued batches until the queue is empty (one `async_write` each, gathering).
  awaitable<void> write_batches();
  /// Writes what the socket takes of the queue now (non-blocking); the rest stays queued and
  /// the writer task, if any, is told. Not while large payloads are queued.
  result<void> write_inline();
  /// Hands what is queued to the writer task, or without one writes it (waiting until the
  /// batch that holds it has been written).
  awaitable<result<void>> write_queued();
  /// What a send does first: when no write is under way, writes what is queued from this
  /// call; the outcome if that finished the job, nothing if the rest needs `write_queued`.
  std::optional<result<void>> write_through();
  /// Wakes the writer task once the current handler is done, unless the queue was flushed
  /// meanwhile. One wake-up however many frames are queued before it.
  void wake_writer_soon();
  /// Records a failed write: the channel is broken (part of a frame may be out).
  void break_on_write_error(const boost::system::error_code& ec);
  /// Appends `m` as one frame to the send queue; fails (queue unchanged) if the frame is too
  /// large. With `owned` (`m` itself, ours to take from), a large payload is moved into the
  /// queue as an `external` (if the codec can split it off) rather than copied.
  result<void> enqueue(const msg::msg& m, msg::msg* owned);
  /// The string holding `m`'s payload (`pld`), if it has one (const if `m` is).
  template <class M>
  static auto* payload_of(M& m);
  [[nodiscard]] std::size_t queued_bytes() const;
  /// If the buffer starts with a large frame whose payload the codec can split off, takes
  /// its head and what has arrived of its payload into `large_` (the rest is read straight
  /// into place by `receive_large`); true if it did.
  bool start_large();
  /// Reads the rest of the large frame in `large_` into its payload, then decodes it into
  /// `into` (the payload's buffer is swapped in, not copied).
  awaitable<result<void>> receive_large(msg::msg& into);
  /// A complete frame at the head of the buffer, if any; sets `broken_` on a bad length.
  std::optional<std::span<const std::byte>> next_frame();
  error broken_error() const;
  /// Reads more bytes; an error when the channel broke or closed.
  awaitable<result<void>> fill();
  /// Room for the next read in `in_`.
  void make_room();
  /// Accounts for a read of `n` bytes that ended with `ec`.
  result<void> took(const boost::system::error_code& ec, std::size_t n);

  stream_socket socket_;
  std::unique_ptr<secure_stream> secure_;  // null: the socket's bytes are the frames
  channel_options options_;
  codec_ops codec_;

  // -- sending: frames queue in out_; the active writer swaps it into writing_ ----------
  std::string out_;
  std::vector<external> out_external_;
  std::string writing_;
  std::vector<external> writing_external_;
  std::uint64_t batches_started_ = 0;  // batch n holds what was queued before it started
  std::uint64_t batches_done_ = 0;
  bool writer_active_ = false;
  bool background_writer_ = false;
  tractor::detail::waiter_list queued_;  // the background writer waits here for work
  tractor::detail::waiter_list flushed_;

  // -- receiving ---------------------------------------------------------------------------
  // Grown without zeroing: every channel's first read sizes it to 64 KiB, and clearing that
  // much memory showed up in each spawn's handshake.
  std::vector<std::byte, detail::uninitialized_allocator<std::byte>> in_;
  std::size_t in_begin_ = 0;  // first unconsumed byte
  std::size_t in_end_ = 0;    // one past the last received byte

  /// A large frame being received: its head, and its payload read so far (`have` bytes). Kept
  /// across a cancelled receive, so that the next one goes on where it stopped.
  struct large_frame {
    std::string head;
    std::string payload;
    std::size_t have = 0;
    bool active = false;
  } large_;

  bool broken_ = false;
  bool closed_locally_ = false;
  bool wake_posted_ = false;
  std::uint64_t reads_ = 0;                 // reads from the socket so far
  std::uint64_t wrote_through_at_ = ~0ull;  // the value of reads_ at try_send's last write
  std::shared_ptr<const bool> alive_ = std::make_shared<const bool>(true);  // for posted wake-ups
  std::optional<error> broken_reason_;
};

}  // namespace tractor::transport

#if TRACTOR_HEADER_ONLY
#include <tractor/transport/impl/channel.ipp>
#include <tractor/transport/impl/channel_receive.ipp>
#endif
