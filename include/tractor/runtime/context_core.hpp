// tractor/runtime/context_core.hpp — one side of a context (tractor's `Context`): the state
// and message handling shared by the typed front ends in context.hpp, without templates.
//
// A context links a task in the caller with a task in the callee under one cid. Everything
// the peer sends for that cid arrives in the context's mailbox (peer.hpp): StartAck and
// Started first (caller side), then stream items (`Yield`), end of stream (`Stop`), and the
// callee's final `Return` or `Error`. Payloads stay encoded here; the front ends decode them
// to the types the function declares.
#pragma once

#include <tractor/config.hpp>

#include <tractor/core/cancel_scope.hpp>
#include <tractor/runtime/peer.hpp>

#include <functional>
#include <optional>
#include <string>

namespace tractor::runtime {

/// A stream's buffering (tractor's `msg_buffer_size` and `allow_overruns`).
struct stream_options {
  /// Items the receiver holds before an overrun.
  std::size_t buffer = 64;
  /// When the buffer is full, queue up to `overrun_bound` more instead of failing the
  /// sender with `stream_overrun` (which it gets only past that bound).
  bool allow_overruns = false;
};

/// How many items past its buffer a receiver that allows overruns queues (tractor's deque
/// `maxlen`).
inline constexpr std::size_t overrun_bound = 616;

class context_core {
 public:
  enum class side { caller, callee };

  /// The context `cid` of function `fn` with the actor behind `p`, reading `box` (the cid's
  /// open mailbox). `fn`'s strings must outlive this side.
  context_core(peer& p, memory_channel<msg::msg>& box, msg::Aid self, std::string cid, side s, function_name fn);
  ~context_core();
  context_core(const context_core&) = delete;
  context_core& operator=(const context_core&) = delete;

  [[nodiscard]] const std::string& cid() const noexcept { return cid_; }
  [[nodiscard]] side which() const noexcept { return side_; }
  [[nodiscard]] peer& channel_peer() noexcept { return peer_; }

  /// What a task-tree dump says of a task running this side ("context ns.fn with
  /// peer@1234abcd (caller side, cid ...)"), for a `wait_note_scope` held around the side's
  /// block or function: every wait inside it then says which context it serves.
  [[nodiscard]] tractor::detail::wait_note note() const noexcept {
    return {.what = "context", .detail = &describe_side, .subject = this};
  }

  /// Caller: called when an error from the peer arrives that this side did not ask for (it
  /// cancels the caller's block: tractor's `Context._maybe_cancel_and_set_remote_error()`).
  /// Callee: cancels its own task (`ctx.cancel()`).
  std::function<void()> on_remote_error;
  std::function<void()> cancel_self;

  // -- callee ------------------------------------------------------------------------------

  /// Sends the first value (`Started`). Twice is `invalid_operation` (also reported to the
  /// caller when the function ends). Cancellation: interrupted at once.
  awaitable<result<void>> started(msg::raw_pld value);

  // -- both sides --------------------------------------------------------------------------

  /// Opens this side's stream: items the peer sent meanwhile were buffered (tractor's
  /// `Context.open_stream()`). Before `started()` (callee), a second time, or after `cancel()`, it
  /// is an error (tractor's `Context.started()` rules; tractor's `Context.open_stream()` after
  /// `cancel()`; tractor's `MsgStream.receive()` on `Stop`).
  result<void> open_stream(stream_options o);

  /// Sends one item. An error the peer reported is returned first (tractor's
  /// `Context._maybe_cancel_and_set_remote_error()`; tractor's `allow_overruns`); after this side
  /// closed its stream, `errc::channel_closed`. Cancellation: interrupted at once.
  awaitable<result<void>> send_item(msg::raw_pld value);

  /// Sends one item without waiting if the channel's writer can take it now, its payload
  /// written by `encode(pld)` into the Yield this context reuses for every item (so no
  /// payload is allocated per item); nothing when `send_item` must be used.
  template <class Encode>
  std::optional<result<void>> try_send_with(Encode&& encode) {
    // send_item says why
    if (remote_error_ || !stream_opened_ || stream_closed_) return std::nullopt;
    encode(std::get<msg::Yield>(outgoing_).pld);
    return try_send_outgoing();
  }

  /// The next item; `errc::end_of_channel` once the peer closed its side (`Stop`) or returned, and
  /// on every later call (tractor's `MsgStream.receive()` on `Stop`); the peer's error if it
  /// failed. Cancellation: interrupted at once; nothing is lost.
  awaitable<result<msg::raw_pld>> receive_item();

  /// The next item if one is buffered (or the stream's end or error), without waiting;
  /// nothing when `receive_item` would have to wait.
  std::optional<result<msg::raw_pld>> try_receive_item();

  /// Closes this side's stream (sends `Stop` once); the peer's items may still be received.
  void close_stream();

  /// True when this side opened its stream and has not closed it.
  [[nodiscard]] bool stream_open() const noexcept { return stream_opened_ && !stream_closed_; }

  /// Cancels the context: the caller asks the callee to cancel its task (bounded by `bound`, not
  /// waiting for the ack); the callee cancels its own task. This side's own code is not cancelled
  /// (tractor's `Context._is_self_cancelled()`). Cancellation: must not be cancelled (cleanup).
  awaitable<void> cancel(clock::duration bound);
  [[nodiscard]] bool cancel_called() const noexcept { return cancel_called_; }

  // -- caller ------------------------------------------------------------------------------

  /// Waits for the callee's StartAck (which must say "context") and its `Started`; returns the
  /// started value, or the callee's error (tractor's `Portal.open_context()`). Cancellation:
  /// interrupted at once.
  awaitable<result<msg::raw_pld>> receive_started();

  /// Waits for the callee's final `Return` (discarding unread items) and returns its value,
  /// or its error. Cancellation: interrupted at once.
  awaitable<result<msg::raw_pld>> wait_for_result();

  /// True when `e` is the cancellation this side asked for with `cancel()` (tractor's
  /// `Context._is_self_cancelled()`: absorbed).
  [[nodiscard]] bool is_own_cancel(const error& e) const;

  /// A misuse by the callee's code (`started()` twice, a stream before `started()`), kept so
  /// that the caller hears of it even if the function ignored the error.
  [[nodiscard]] const std::optional<error>& misuse() const noexcept { return misuse_; }

  /// The first error the peer reported, if any.
  [[nodiscard]] const std::optional<error>& remote_error() const noexcept { return remote_error_; }

 private:
  // Queues `outgoing_` (encoded in place: no cid copy); nothing if the channel is full.
  std::optional<result<void>> try_send_outgoing();
  /// Takes in one message from the mailbox; items come back, everything else updates state.
  // Takes what `m` holds for this side (a Yield's payload is moved out of it).
  result<std::optional<msg::raw_pld>> take(msg::msg& m);
  error misused(std::string what);
  /// The stream's end (or the peer's error) once the peer stopped.
  result<msg::raw_pld> stopped_outcome() const;
  error gone_error() const;
  static void describe_side(const void* self, std::string& out);

  peer& peer_;
  function_name fn_;
  msg::Aid self_;
  std::string cid_;
  side side_;
  memory_channel<msg::msg>* box_;
  msg::msg incoming_;  // what the last item arrived in, reused
  bool started_ = false;          // callee: sent; caller: received
  bool stream_opened_ = false;
  bool stream_closed_ = false;
  bool peer_stopped_ = false;     // Stop, Return or Error received
  bool cancel_called_ = false;
  std::optional<result<msg::raw_pld>> final_;
  msg::msg outgoing_;  // a Yield carrying this cid, reused for every item sent
  std::optional<error> remote_error_;
  std::optional<error> misuse_;
};

}  // namespace tractor::runtime

#if TRACTOR_HEADER_ONLY
#include <tractor/runtime/impl/context_core.ipp>
#endif
