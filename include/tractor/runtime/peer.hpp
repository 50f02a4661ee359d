// tractor/runtime/peer.hpp — one connection to another actor, with its dispatcher.
//
// A peer owns a handshaken channel. Its receive loop (`serve`) hands every `Start` to the
// runtime and every other message carrying a `cid` to the mailbox of the call waiting for
// it; a message for no known call is dropped, as tractor does. When the loop ends (the peer
// went away, or sent a runtime-scoped `Error`), every open mailbox is closed, so no caller
// waits forever.
#pragma once

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

 private:
  struct mailbox {
    explicit mailbox(std::size_t capacity) : box(capacity) {}
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

// -- definitions -------------------------------------------------------------------------

inline memory_channel<msg::msg>& peer::open_mailbox(const std::string& cid, std::size_t capacity) {
  auto& entry = mailboxes_[cid];
  entry = std::make_unique<mailbox>(capacity);
  if (gone_) entry->box.close();
  return entry->box;
}

inline void peer::on_error(const std::string& cid, std::function<void(const msg::Error&)> hook) {
  if (auto it = mailboxes_.find(cid); it != mailboxes_.end()) it->second->on_error = std::move(hook);
}

inline void peer::set_mailbox_capacity(const std::string& cid, std::size_t capacity) {
  if (auto it = mailboxes_.find(cid); it != mailboxes_.end()) it->second->box.set_capacity(capacity);
}

inline void peer::report_overrun(const std::string& cid, mailbox& entry) {
  if (entry.overrun_reported) return;
  entry.overrun_reported = true;
  const error e(make_error_code(runtime_errc::stream_overrun),
                "stream overrun: " + describe(uid_of(self_)) + " has no room for more than " +
                    std::to_string(entry.box.capacity()) + " unread items of context " + cid +
                    " (open the stream with a larger buffer, or allow overruns)");
  msg::msg m = box_error(e, self_, cid);
  std::get<msg::Error>(m).sender = uid_of(aid());
  // A control message, never refused for back-pressure; a channel broken meanwhile is the
  // receive loop's business.
  (void)ch_->try_send(m);
  // This side learns of the loss too, after the items it did keep: nothing is lost silently.
  (void)entry.box.push_over(std::move(m));
}

inline void peer::dispatch(msg::msg& m, const std::function<void(msg::Start)>& on_start) {
  if (auto* start = std::get_if<msg::Start>(&m)) {
    on_start(std::move(*start));
    return;
  }
  const std::string* cid = std::visit(
      [](auto& x) -> const std::string* {
        using X = std::remove_cvref_t<decltype(x)>;
        if constexpr (std::is_same_v<X, msg::Error>) {
          return x.cid ? &*x.cid : nullptr;
        } else if constexpr (requires { x.cid; }) {
          return &x.cid;
        } else {
          return nullptr;
        }
      },
      m);
  if (!cid) {
    if (auto* err = std::get_if<msg::Error>(&m)) gone_ = unbox(*err);  // runtime-scoped
    return;
  }
  auto it = mailboxes_.find(*cid);
  if (it == mailboxes_.end()) return;  // a call that already gave up: dropped
  mailbox& entry = *it->second;
  if (auto* err = std::get_if<msg::Error>(&m); err && entry.on_error) entry.on_error(*err);
  if (!std::holds_alternative<msg::Yield>(m)) {
    (void)entry.box.push_over(std::move(m));  // Stop, Return, Error: never dropped
    return;
  }
  // The mailbox is the cid's own: the item is made in it without the cid (the kept message
  // keeps its cid string for the next frame to decode into).
  auto& yield = std::get<msg::Yield>(m);
  if (!entry.box.try_emplace(std::in_place_type<msg::Yield>, std::string(), std::move(yield.pld))) {
    report_overrun(*cid, entry);
  }
}

inline awaitable<error> peer::serve(std::function<void(msg::Start)> on_start) {
  static constexpr auto from_whom = [](const void* self, std::string& out) {
    out += describe(uid_of(static_cast<const peer*>(self)->aid()));
  };
  const tractor::detail::wait_note_scope note(
      tractor::detail::wait_note{.what = "a message on the channel from", .detail = from_whom, .subject = this});
  msg::msg kept;
  while (!gone_) {
    // Frames already buffered are taken without a coroutine; only an empty buffer waits.
    // Decoding into one kept message reuses its strings (a stream item's cid, above all).
    std::optional<result<void>> ready = ch_->try_receive(kept);
    if (!ready) ready.emplace(co_await ch_->receive(kept));
    if (!*ready) {
      if (ready->error() == wire_errc::malformed_frame) continue;  // framing intact: keep serving
      gone_ = ready->error();
      break;
    }
    dispatch(kept, on_start);
  }
  // Only once the peer is gone: interrupted (a cancellation unwinds past this), it is not,
  // and its mailboxes stay open, since it may be served again (a cancel ladder does, and
  // must still see answers already on their way).
  for (auto& entry : mailboxes_) entry.second->box.close();
  co_return *gone_;
}

inline awaitable<void> cancel_remote_task(peer& p, const msg::Aid& self, const std::string& cid,
                                          clock::duration bound) {
  msg::msg req = p.requests().start<&requests::cancel_task>(new_uuid(), {cid}, uid_of(self));
  auto queued = p.channel().try_send(req);  // no wait at all while the peer is served
  if (queued || queued.error() != errc::would_block) co_return;
  auto send_it = [&]() -> awaitable<void> { (void)co_await p.channel().send(std::move(req)); };
  (void)co_await move_on_after(bound, send_it());
}

inline awaitable<result<msg::raw_pld>> call(peer& p, const msg::Aid& self, function_name fn,
                                            msg::raw_pld args, clock::duration cancel_bound) {
  mailbox_lease lease(p);
  msg::msg start = msg::Start{lease.cid(), std::string(fn.ns), std::string(fn.func),
                              std::move(args), uid_of(self)};
  BOOST_OUTCOME_CO_TRY(co_await p.send(std::move(start)));
  struct calling {
    function_name fn;
    const peer& in;
    static void say(const void* self, std::string& out) {
      const auto* c = static_cast<const calling*>(self);
      out += c->fn.str() + " in " + describe(uid_of(c->in.aid()));
    }
  } what{fn, p};
  const tractor::detail::wait_note_scope note(
      tractor::detail::wait_note{.what = "the answer of a call to", .detail = &calling::say, .subject = &what});
  auto answer = [&]() -> awaitable<result<msg::raw_pld>> {
    for (;;) {
      auto m = co_await lease.box().receive();
      if (!m) {
        co_return error(make_error_code(wire_errc::transport_closed),
                        "actor " + describe(uid_of(p.aid())) + " went away during a call to " + fn.str() +
                            (p.gone() ? ": " + p.gone()->message() : std::string()));
      }
      if (std::holds_alternative<msg::StartAck>(m.value())) continue;
      if (auto* r = std::get_if<msg::Return>(&m.value())) co_return std::move(r->pld);
      if (auto* e = std::get_if<msg::Error>(&m.value())) co_return p.unbox(*e);
      co_return error(make_error_code(runtime_errc::protocol_error),
                      "unexpected `" + std::string(msg::type_name(m.value())) + "` in a call");
    }
  };
  // The caller gave up: the remote task is told to stop too (tractor's `_cancel_task`). Its
  // answer, if any, finds the mailbox closed and is dropped.
  auto tell_callee = [&]() -> awaitable<void> {
    if (!p.gone()) co_await cancel_remote_task(p, self, lease.cid(), cancel_bound);
  };
  co_return co_await on_cancel(answer(), tell_callee());
}

}  // namespace tractor::runtime
