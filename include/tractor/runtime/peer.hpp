// tractor/runtime/peer.hpp — one connection to another actor, with its dispatcher.
//
// A peer owns a handshaken channel. Its receive loop (`serve`) hands every `Start` to the
// runtime and every other message carrying a `cid` to the mailbox of the call waiting for
// it; a message for no known call is dropped, as tractor does. When the loop ends (the peer
// went away, or sent a runtime-scoped `Error`), every open mailbox is closed, so no caller
// waits forever.
#pragma once

#include <tractor/config.hpp>

#include <tractor/core/memory_channel.hpp>
#include <tractor/runtime/exposed.hpp>
#include <tractor/runtime/handshake.hpp>
#include <tractor/runtime/policies.hpp>
#include <tractor/runtime/remote_error.hpp>
#include <tractor/transport/channel.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>

namespace tractor::runtime {

class peer {
 public:
  /// Serves `ch` for actor `self` of a tree composed as `pol` (errors it receives are rebuilt
  /// with the tree's registered types; the runtime's requests are encoded with its codec).
  peer(std::unique_ptr<transport::channel> ch, msg::Aid self, const policies& pol)
      : ch_(std::move(ch)), self_(std::move(self)), pol_(pol) {}

  /// A received `Error` as a local error (see `unbox_error`).
  [[nodiscard]] error unbox(const msg::Error& m) const { return unbox_error(m, pol_.error_types); }

  /// How the runtime's own requests are encoded on this peer's channel.
  [[nodiscard]] const request_wire& requests() const noexcept { return pol_.requests; }

  [[nodiscard]] transport::channel& channel() noexcept { return *ch_; }
  /// The peer's identity (once `handshake` succeeded).
  [[nodiscard]] const msg::Aid& aid() const { return *aid_; }

  /// tractor's handshake on this peer's channel (see `runtime::handshake`); the peer's `Aid`
  /// is kept for `aid()`.
  ///
  /// Cancellation: interrupted at once.
  awaitable<result<msg::Aid>> handshake(clock::duration timeout, const msg::msg* then = nullptr) {
    auto hs = co_await runtime::handshake(*ch_, self_, timeout, then);
    if (hs) aid_ = hs.value();
    co_return hs;
  }

  /// Sends one message, written at once when no write is under way (requests and replies
  /// are latency-bound). Cancellation: as `transport::channel::send`.
  awaitable<result<void>> send(msg::msg m) { return ch_->send(std::move(m)); }

  /// Queues one message for the writer task, so it leaves with whatever is sent next (a
  /// StartAck with its task's first answer); sent as `send` when it cannot be queued.
  /// Cancellation: as `transport::channel::send`.
  awaitable<result<void>> post(msg::msg m) {
    if (auto queued = ch_->try_send(m); queued || queued.error() != errc::would_block) {
      co_return queued;
    }
    co_return co_await ch_->send(std::move(m));
  }

  /// Receives until the peer goes away; `on_start` is called for each `Start`. Returns why
  /// it ended (and closes every open mailbox). Cancellation: interrupted at once; mailboxes
  /// stay open and the peer can be served again later.
  awaitable<error> serve(std::function<void(msg::Start)> on_start);

  /// Everything the peer sends for `cid`, until `close_mailbox(cid)`. A `Yield` that finds
  /// the mailbox full is an overrun: it is dropped, and a `stream_overrun` error goes both to
  /// the peer and, after the items kept, into this mailbox (once per mailbox). Other
  /// messages are always queued.
  memory_channel<msg::msg>& open_mailbox(const std::string& cid, std::size_t capacity = 64);
  void close_mailbox(const std::string& cid) { mailboxes_.erase(cid); }

  /// Called from the receive loop when an `Error` for `cid` arrives, before it is queued (so
  /// that a context can react while its task waits elsewhere). Cleared with the mailbox.
  void on_error(const std::string& cid, std::function<void(const msg::Error&)> hook);

  /// Resizes the mailbox of `cid` (a stream's buffer).
  void set_mailbox_capacity(const std::string& cid, std::size_t capacity);

  /// Why the peer is gone, once it is.
  [[nodiscard]] const std::optional<error>& gone() const noexcept { return gone_; }

  /// Takes back a stream item's payload once its consumer has decoded it: a later item from
  /// this peer is decoded into its storage, so a steady stream allocates nothing per item.
  /// Kept: up to 16 buffers of up to 128 KiB; strings short enough to need no buffer are not.
  void recycle(msg::raw_pld&& p);

 private:
  struct mailbox {
    explicit mailbox(std::size_t capacity) : box(capacity, "mailbox") {}
    memory_channel<msg::msg> box;
    std::function<void(const msg::Error&)> on_error;
    bool overrun_reported = false;
  };

  /// Routes `m`, moving from it what it keeps.
  void dispatch(msg::msg& m, const std::function<void(msg::Start)>& on_start);
  void report_overrun(const std::string& cid, mailbox& box);

  std::unique_ptr<transport::channel> ch_;
  msg::Aid self_;
  const policies& pol_;
  std::map<std::string, std::unique_ptr<mailbox>> mailboxes_;
  std::optional<error> gone_;
  std::optional<msg::Aid> aid_;
  static constexpr std::size_t max_spare_payloads = 16;
  static constexpr std::size_t max_spare_payload_bytes = 128 * 1024;
  std::vector<std::string> spare_payloads_;  // see recycle
};

/// The mailbox of one call (a fresh cid) on `p`, closed when the lease ends.
class mailbox_lease {
 public:
  explicit mailbox_lease(peer& p) : peer_(p), cid_(new_uuid()), box_(p.open_mailbox(cid_)) {}
  ~mailbox_lease() { peer_.close_mailbox(cid_); }
  mailbox_lease(const mailbox_lease&) = delete;
  mailbox_lease& operator=(const mailbox_lease&) = delete;

  [[nodiscard]] const std::string& cid() const noexcept { return cid_; }
  [[nodiscard]] memory_channel<msg::msg>& box() noexcept { return box_; }

 private:
  peer& peer_;
  std::string cid_;
  memory_channel<msg::msg>& box_;
};

/// Calls `fn` with encoded `args` in the actor behind `p` (tractor's Start → StartAck →
/// Return|Error dialog) and returns the encoded return value.
///
/// Cancellation: interrupted at once, and the remote task is asked to cancel itself
/// (`self.cancel_task`); sending that request is bounded by `cancel_bound`, and its
/// acknowledgement is not awaited (the remote task's end is its actor's business).
awaitable<result<msg::raw_pld>> call(peer& p, const msg::Aid& self, function_name fn,
                                     msg::raw_pld args, clock::duration cancel_bound);

/// Asks the actor behind `p` the runtime request `F` (see runtime/requests.hpp) and decodes
/// its answer; as `call` otherwise.
///
/// Cancellation: as `call`.
template <auto F>
awaitable<result<typename request_codec<F>::value_type>> ask(peer& p, const msg::Aid& self, args_tuple_t<F> args,
                                                             clock::duration cancel_bound) {
  const request_codec<F>& codec = p.requests().template of<F>();
  msg::raw_pld kwargs = codec.encode(args);
  auto r = co_await call(p, self, request_name<F>(), std::move(kwargs), cancel_bound);
  if (!r) co_return r.error();
  co_return codec.decode(r.value());
}

/// Asks the actor behind `p` to cancel its task `cid` (tractor's `_cancel_task`), without
/// waiting for the acknowledgement; the send is bounded by `bound`.
///
/// Cancellation: must run shielded (it is cleanup); interrupted at once otherwise.
awaitable<void> cancel_remote_task(peer& p, const msg::Aid& self, const std::string& cid,
                                   clock::duration bound);

}  // namespace tractor::runtime

#if TRACTOR_HEADER_ONLY
#include <tractor/runtime/impl/peer.ipp>
#endif
