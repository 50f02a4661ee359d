// tractor/runtime/context.hpp — contexts and two-way streams: a task in the caller linked to
// a task in the callee (tractor's `Context` and `MsgStream`).
//
// A context function takes its side of the context as its first parameter; the types of the
// started value and of the stream items are the context's, the result type is the function's:
//
//     tractor::awaitable<tractor::result<int>> counter(tractor::context<int, int>& ctx, int n) {
//       BOOST_OUTCOME_CO_TRY(co_await ctx.started(n));         // the caller's first value
//       auto stream = ctx.open_stream();                        // result<msg_stream<int>>
//       if (!stream) co_return stream.error();
//       for (int i = 0; i < n; ++i) BOOST_OUTCOME_CO_TRY(co_await stream.value().send(i));
//       co_return n;                                            // the context's result
//     }
//
// The caller opens it through a portal and runs a block with its side:
//
//     auto r = co_await portal.open_context<&counter>(
//         [&](tractor::caller_context<&counter>& ctx, int first) -> awaitable<result<void>> {
//           auto s = ctx.open_stream();
//           ...  // s.value().receive() until errc::end_of_channel
//           co_return tractor::success();
//         }, 5);
//
// tractor's rules hold: an error in the callee cancels the caller's block and comes out of
// `open_context` (tractor's `Context._maybe_cancel_and_set_remote_error()`); a failing block
// cancels the callee (tractor's `ctx.cancel()` on a failed block); `ctx.cancel()` on the caller is
// absorbed (tractor's `Context._is_self_cancelled()`), every other cancellation is
// `runtime_errc::context_cancelled` naming the canceller (tractor's `ContextCancelled.canceller`);
// a normal block exit waits, bounded, for the callee's result (tractor's
// `Context.wait_for_result()` at a clean exit).
#pragma once

#include <tractor/config.hpp>

#include <tractor/runtime/actor.hpp>
#include <tractor/runtime/context_core.hpp>

#include <variant>

namespace tractor {

using runtime::stream_options;

/// One side's end of a context's two-way stream, carrying items of type `Y`.
template <class Y>
class msg_stream {
 public:
  /// Sends one item. An error the peer reported comes back here first (a `stream_overrun`,
  /// its failure). Cancellation: interrupted at once.
  awaitable<result<void>> send(const Y& value) {
    // Queued now if the channel takes it (encoded in place, nothing allocated); otherwise
    // encoded here, eagerly, so that `value` may be a temporary.
    if (auto now = try_send(value)) return sent(*now);
    msg::raw_pld encoded;
    encode_(value, encoded);
    return core_->send_item(std::move(encoded));
  }

  /// The next item; `errc::end_of_channel` once the peer closed its side or finished; a
  /// payload of the wrong type is `wire_errc::msg_type_error` naming `Yield`.
  /// Cancellation: interrupted at once; nothing is lost.
  awaitable<result<Y>> receive();

  /// The cheap paths for many small items, without a coroutine: `try_send` queues the item
  /// if the channel takes it now, `try_receive` returns a buffered item (or the stream's end
  /// or error); nothing when the awaiting form would have to wait (then use it).
  std::optional<result<void>> try_send(const Y& value) {
    // Encoded straight into the payload the context reuses for every item it sends.
    return core_->try_send_with([&](msg::raw_pld& out) { encode_(value, out); });
  }
  std::optional<result<Y>> try_receive() {
    auto ready = core_->try_receive_item();
    if (!ready) return std::nullopt;
    if (!*ready) return result<Y>(ready->error());
    auto value = decode_(ready->value());
    core_->channel_peer().recycle(std::move(ready->value()));
    return value;
  }

  /// Closes this side (the peer's receive then ends); items from the peer can still be
  /// received. Idempotent.
  void close() { core_->close_stream(); }

 private:
  template <class, class>
  friend class context;
  template <auto>
  friend class caller_context;
  using encode_fn = void (*)(const Y&, msg::raw_pld&);
  using decode_fn = result<Y> (*)(msg::raw_pld&);
  static awaitable<result<void>> sent(result<void> r) { co_return r; }
  msg_stream(runtime::context_core& core, encode_fn e, decode_fn d) : core_(&core), encode_(e), decode_(d) {}
  runtime::context_core* core_;
  encode_fn encode_;
  decode_fn decode_;
};

namespace detail {
/// Decodes a stream item, taking over the payload's bytes when the codec can hand them out
/// as the value itself (a string item then costs no allocation here).
template <class C, class T>
result<T> decode_item(msg::raw_pld& p) {
  if constexpr (std::is_same_v<T, std::string> && requires { C::steal_string(p); }) {
    if (auto s = C::steal_string(p)) return std::move(*s);
  }
  return codec::decode_pld<C, T>("Yield", p);
}
}  // namespace detail

/// The callee's side of a context: `Started` is the type of the first value it sends, `Item`
/// that of its stream's items (both directions).
template <class Started, class Item = Started>
class context {
 public:
  /// Sends the caller its first value; the caller's `open_context` block starts with it.
  /// Twice is `invalid_operation` (reported to the caller too). Cancellation: interrupted
  /// at once.
  awaitable<result<void>> started(Started value) { return core_->started(encode_started_(value)); }

  /// Opens this side's stream; before `started()` or a second time it is
  /// `invalid_operation` (reported to the caller too).
  result<msg_stream<Item>> open_stream(stream_options o = {}) {
    BOOST_OUTCOME_TRY(core_->open_stream(o));
    return msg_stream<Item>(*core_, encode_item_, decode_item_);
  }

  /// Cancels this task itself: the caller gets `context_cancelled` naming this actor.
  /// Cancellation: cancels the calling task (at its next wait).
  void cancel() { core_->cancel_self ? core_->cancel_self() : void(); }

  [[nodiscard]] const std::string& cid() const noexcept { return core_->cid(); }

  /// Built by the runtime for codec `C`.
  template <codec::codec C>
  static context make(runtime::context_core& core) {
    return context(core, &C::template encode_payload<Started>, &codec::encode_payload_into<C, Item>,
                   &detail::decode_item<C, Item>);
  }

 private:
  context(runtime::context_core& core, msg::raw_pld (*s)(const Started&),
          void (*e)(const Item&, msg::raw_pld&), result<Item> (*d)(msg::raw_pld&))
      : core_(&core), encode_started_(s), encode_item_(e), decode_item_(d) {}
  runtime::context_core* core_;
  msg::raw_pld (*encode_started_)(const Started&);
  void (*encode_item_)(const Item&, msg::raw_pld&);
  result<Item> (*decode_item_)(msg::raw_pld&);
};

namespace detail {
template <class Ctx>
struct context_types;
template <class S, class Y>
struct context_types<context<S, Y>> {
  using started_type = S;
  using item_type = Y;
};
}  // namespace detail

/// The caller's side of a context opened on function `F`.
template <auto F>
class caller_context {
  using types = detail::context_types<context_type_t<F>>;

 public:
  using started_type = typename types::started_type;
  using item_type = typename types::item_type;

  /// Opens this side's stream (once; not after `cancel()`).
  result<msg_stream<item_type>> open_stream(stream_options o = {}) {
    BOOST_OUTCOME_TRY(core_->open_stream(o));
    return msg_stream<item_type>(*core_, encode_item_, decode_item_);
  }

  /// Asks the callee to cancel its task; this block goes on (tractor's
  /// `Context._is_self_cancelled()`), and the cancellation it causes is absorbed. Bounded by the
  /// actor's context-cancel timeout. Cancellation: interrupted at once.
  awaitable<void> cancel() { return core_->cancel(cancel_bound_); }
  [[nodiscard]] bool cancel_called() const noexcept { return core_->cancel_called(); }

  /// Waits for the callee's result (unread items are discarded). After `cancel()`, that is
  /// the `context_cancelled` this side asked for. Cancellation: interrupted at once.
  awaitable<call_result_t<F>> wait_for_result();

  [[nodiscard]] const std::string& cid() const noexcept { return core_->cid(); }

 private:
  template <class, class>
  friend class portal;
  template <class C>
  caller_context(runtime::context_core& core, clock::duration cancel_bound, C*)
      : core_(&core),
        cancel_bound_(cancel_bound),
        encode_item_(&codec::encode_payload_into<C, item_type>),
        decode_item_(&detail::decode_item<C, item_type>),
        decode_result_(&decode_result<C>) {}

  template <class C>
  static call_result_t<F> decode_result(const msg::raw_pld& p) {
    using value_type = typename call_result_t<F>::value_type;
    if constexpr (std::is_void_v<value_type>) {
      return success();
    } else {
      return codec::decode_pld<C, value_type>("Return", p);
    }
  }

  runtime::context_core* core_;
  clock::duration cancel_bound_;
  void (*encode_item_)(const item_type&, msg::raw_pld&);
  result<item_type> (*decode_item_)(msg::raw_pld&);
  call_result_t<F> (*decode_result_)(const msg::raw_pld&);
};

namespace runtime {

/// The caller's body, erased: runs with the context core and the encoded started value.
using context_body = std::function<awaitable<result<void>>(context_core&, msg::raw_pld)>;

/// The caller's whole side of a context, non-template: Start, StartAck and Started, the body
/// (cancelled if the callee fails), then the rules of the scope's end (tractor's
/// `Context.wait_for_result()` at a clean exit; tractor's `ctx.cancel()` on a failed block;
/// tractor's `Context._is_self_cancelled()`).
///
/// Cancellation: the body is cancelled and waited for, the callee's task is asked to cancel
/// (bounded), then the cancellation goes on.
awaitable<result<void>> run_caller_context(peer& p, const msg::Aid& self, function_name fn,
                                           msg::raw_pld args, const timeouts& limits,
                                           context_body body, stream_options buffering = {});

}  // namespace runtime

}  // namespace tractor

#include <tractor/runtime/impl/context.hpp>
#if TRACTOR_HEADER_ONLY
#include <tractor/runtime/impl/context.ipp>
#endif
