// Definitions for tractor/runtime/context_core.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/runtime/context_core.hpp>
#include <tractor/runtime/detail/logs.hpp>

namespace tractor::runtime {

TRACTOR_DECL context_core::context_core(peer& p, memory_channel<msg::msg>& box, msg::Aid self,
                                  std::string cid, side s, function_name fn)
    : peer_(p), fn_(fn), self_(std::move(self)), cid_(std::move(cid)), side_(s), box_(&box),
      outgoing_(msg::Yield{cid_, {}}) {
  // Errors are seen on arrival, not only when this side next reads: the caller's block is cancelled
  // by a callee failure even while it waits on something else (tractor's
  // `Context._maybe_cancel_and_set_remote_error()`).
  peer_.on_error(cid_, [this](const msg::Error& m) {
    error e = peer_.unbox(m);
    if (is_own_cancel(e)) return;
    if (!remote_error_) remote_error_ = e;
    if (on_remote_error) on_remote_error();
  });
}

TRACTOR_DECL context_core::~context_core() { peer_.on_error(cid_, nullptr); }

TRACTOR_DECL void context_core::describe_side(const void* self, std::string& out) {
  const auto* c = static_cast<const context_core*>(self);
  out.append(c->fn_.ns).append(".").append(c->fn_.func).append(" with ");
  out.append(c->peer_.aid().name).append("@").append(logs::short8(c->peer_.aid().uuid));
  out.append(c->side_ == side::caller ? " (caller side, cid " : " (callee side, cid ");
  out.append(logs::short8(c->cid_)).append(")");
}

TRACTOR_DECL error context_core::misused(std::string what) {
  error e(make_error_code(runtime_errc::invalid_operation), std::move(what));
  if (!misuse_) misuse_ = e;
  return e;
}

TRACTOR_DECL error context_core::gone_error() const {
  return error(make_error_code(wire_errc::transport_closed),
               "actor " + describe(uid_of(peer_.aid())) + " went away during context " + cid_ +
                   (peer_.gone() ? ": " + peer_.gone()->message() : std::string()));
}

TRACTOR_DECL bool context_core::is_own_cancel(const error& e) const {
  return cancel_called_ && e == runtime_errc::context_cancelled &&
         canceller_of(e) == describe_exactly(uid_of(self_));
}

TRACTOR_DECL awaitable<result<void>> context_core::started(msg::raw_pld value) {
  if (side_ != side::callee) co_return misused("started() is called by the callee only");
  if (started_) co_return misused("started() called twice in context " + cid_);
  started_ = true;
  msg::msg m = msg::Started{cid_, std::move(value)};
  co_return co_await peer_.send(std::move(m));
}

TRACTOR_DECL result<void> context_core::open_stream(stream_options o) {
  if (side_ == side::callee && !started_) {
    return misused("a stream was opened before started() in context " + cid_);
  }
  if (cancel_called_) {
    return error(make_error_code(runtime_errc::context_cancelled),
                 "stream opened after the context was cancelled");
  }
  if (stream_opened_) return misused("the stream of context " + cid_ + " was already opened");
  stream_opened_ = true;
  peer_.set_mailbox_capacity(cid_, o.buffer + (o.allow_overruns ? overrun_bound : 0));
  return success();
}

TRACTOR_DECL std::optional<result<void>> context_core::try_send_outgoing() {
  auto queued = peer_.channel().try_send(outgoing_);
  if (!queued && queued.error() == errc::would_block) return std::nullopt;
  return queued;
}

TRACTOR_DECL awaitable<result<void>> context_core::send_item(msg::raw_pld value) {
  if (remote_error_) co_return *remote_error_;
  if (!stream_opened_) co_return misused("send on a stream that was not opened");
  if (stream_closed_) co_return errc::channel_closed;
  msg::msg m = msg::Yield{cid_, std::move(value)};
  co_return co_await peer_.post(std::move(m));
}

TRACTOR_DECL result<std::optional<msg::raw_pld>> context_core::take(msg::msg& m) {
  if (auto* y = std::get_if<msg::Yield>(&m)) return std::optional<msg::raw_pld>(std::move(y->pld));
  if (std::holds_alternative<msg::Stop>(m)) {
    peer_stopped_ = true;
    return std::optional<msg::raw_pld>();
  }
  if (auto* r = std::get_if<msg::Return>(&m)) {
    peer_stopped_ = true;
    if (!final_) final_ = std::move(r->pld);
    return std::optional<msg::raw_pld>();
  }
  if (auto* e = std::get_if<msg::Error>(&m)) {
    peer_stopped_ = true;
    error err = peer_.unbox(*e);
    if (!final_) final_ = err;
    return err;
  }
  return error(make_error_code(runtime_errc::protocol_error),
               "unexpected `" + std::string(msg::type_name(m)) + "` in context " + cid_);
}

TRACTOR_DECL result<msg::raw_pld> context_core::stopped_outcome() const {
  if (final_ && !*final_ && !is_own_cancel(final_->error())) return final_->error();
  return errc::end_of_channel;
}

TRACTOR_DECL std::optional<result<msg::raw_pld>> context_core::try_receive_item() {
  if (!stream_opened_) return result<msg::raw_pld>(misused("receive on a stream that was not opened"));
  while (!peer_stopped_) {
    auto got = box_->try_receive(incoming_);
    if (!got) {
      if (got.error() == errc::would_block) return std::nullopt;
      return result<msg::raw_pld>(gone_error());
    }
    auto item = take(incoming_);
    if (!item) return result<msg::raw_pld>(std::move(item).error());
    if (item.value()) return result<msg::raw_pld>(std::move(*item.value()));
  }
  return stopped_outcome();
}

TRACTOR_DECL awaitable<result<msg::raw_pld>> context_core::receive_item() {
  if (!stream_opened_) co_return misused("receive on a stream that was not opened");
  const tractor::detail::wait_note_scope note(tractor::detail::wait_note{.what = "a stream item"});
  for (;;) {
    if (peer_stopped_) co_return stopped_outcome();
    auto m = co_await box_->receive();
    if (!m) co_return gone_error();
    auto item = take(m.value());
    if (!item) co_return std::move(item).error();
    if (item.value()) co_return std::move(*item.value());
  }
}

TRACTOR_DECL void context_core::close_stream() {
  if (!stream_opened_ || stream_closed_) return;
  stream_closed_ = true;
  msg::msg stop = msg::Stop{cid_};
  (void)peer_.channel().try_send(stop);  // a control message: after every item sent so far
}

TRACTOR_DECL awaitable<void> context_core::cancel(clock::duration bound) {
  if (cancel_called_) co_return;
  cancel_called_ = true;
  if (side_ == side::callee) {
    if (cancel_self) cancel_self();
    co_return;
  }
  if (!peer_stopped_ && !peer_.gone()) co_await cancel_remote_task(peer_, self_, cid_, bound);
}

TRACTOR_DECL awaitable<result<msg::raw_pld>> context_core::receive_started() {
  const tractor::detail::wait_note_scope note(tractor::detail::wait_note{.what = "the callee's started()"});
  for (;;) {
    auto m = co_await box_->receive();
    if (!m) co_return gone_error();
    if (auto* ack = std::get_if<msg::StartAck>(&m.value())) {
      if (ack->functype != "context") {
        co_return error(make_error_code(runtime_errc::protocol_error),
                        "expected a context, the callee runs a `" + ack->functype + "`");
      }
      continue;
    }
    if (auto* st = std::get_if<msg::Started>(&m.value())) {
      started_ = true;
      co_return std::move(st->pld);
    }
    auto other = take(m.value());
    if (!other) co_return std::move(other).error();
    if (final_) {
      co_return error(make_error_code(runtime_errc::protocol_error),
                      "the callee returned without calling started()");
    }
  }
}

TRACTOR_DECL awaitable<result<msg::raw_pld>> context_core::wait_for_result() {
  const tractor::detail::wait_note_scope note(tractor::detail::wait_note{.what = "the callee's result"});
  while (!final_) {
    auto m = co_await box_->receive();
    if (!m) co_return gone_error();
    // unread items are discarded (tractor's `Context.wait_for_result()` at a clean exit)
    (void)take(m.value());
  }
  co_return *final_;
}

}  // namespace tractor::runtime
