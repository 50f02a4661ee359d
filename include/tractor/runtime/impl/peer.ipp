// Definitions for tractor/runtime/peer.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/runtime/peer.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tractor::runtime {

// -- definitions -------------------------------------------------------------------------

TRACTOR_DECL memory_channel<msg::msg>& peer::open_mailbox(const std::string& cid, std::size_t capacity) {
  auto& entry = mailboxes_[cid];
  entry = std::make_unique<mailbox>(capacity);
  if (gone_) entry->box.close();
  return entry->box;
}

TRACTOR_DECL void peer::on_error(const std::string& cid, std::function<void(const msg::Error&)> hook) {
  if (auto it = mailboxes_.find(cid); it != mailboxes_.end()) it->second->on_error = std::move(hook);
}

TRACTOR_DECL void peer::set_mailbox_capacity(const std::string& cid, std::size_t capacity) {
  if (auto it = mailboxes_.find(cid); it != mailboxes_.end()) it->second->box.set_capacity(capacity);
}

TRACTOR_DECL void peer::report_overrun(const std::string& cid, mailbox& entry) {
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

TRACTOR_DECL void peer::dispatch(msg::msg& m, const std::function<void(msg::Start)>& on_start) {
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

namespace detail {
/// Whether `s` holds a buffer of its own (strings short enough to live inside the object have
/// none worth keeping).
inline bool holds_buffer(const std::string& s) noexcept { return s.capacity() > std::string().capacity(); }
}  // namespace detail

TRACTOR_DECL void peer::recycle(msg::raw_pld&& p) {
  if (detail::holds_buffer(p.bytes) && p.bytes.capacity() <= max_spare_payload_bytes &&
      spare_payloads_.size() < max_spare_payloads) {
    spare_payloads_.push_back(std::move(p.bytes));
  }
}

TRACTOR_DECL awaitable<error> peer::serve(std::function<void(msg::Start)> on_start) {
  static constexpr auto from_whom = [](const void* self, std::string& out) {
    out += describe(uid_of(static_cast<const peer*>(self)->aid()));
  };
  const tractor::detail::wait_note_scope note(
      tractor::detail::wait_note{.what = "a message on the channel from", .detail = from_whom, .subject = this});
  msg::msg kept;
  const auto ex = co_await boost::asio::this_coro::executor;
  bool dispatched = false;  // since this task last let the loop turn
  while (!gone_) {
    // Frames already buffered are taken without a coroutine; only an empty buffer waits.
    // Decoding into one kept message reuses its strings (a stream item's cid, above all); a
    // stream item whose payload went to its mailbox decodes into a recycled buffer.
    if (auto* y = std::get_if<msg::Yield>(&kept);
        y && !spare_payloads_.empty() && !detail::holds_buffer(y->pld.bytes)) {
      y->pld.bytes = std::move(spare_payloads_.back());
      spare_payloads_.pop_back();
    }
    std::optional<result<void>> ready = ch_->try_receive(kept);
    if (!ready && dispatched) {
      // What the last messages started (a call's task, a caller's wakeup) runs before this
      // task waits for the next: a transport may look for it within the turn (shm does).
      dispatched = false;
      co_await boost::asio::post(ex, boost::asio::use_awaitable);
      continue;
    }
    if (!ready) ready.emplace(co_await ch_->receive(kept));
    if (!*ready) {
      if (ready->error() == wire_errc::malformed_frame) continue;  // framing intact: keep serving
      gone_ = ready->error();
      break;
    }
    dispatch(kept, on_start);
    dispatched = true;
  }
  // Only once the peer is gone: interrupted (a cancellation unwinds past this), it is not,
  // and its mailboxes stay open, since it may be served again (a cancel ladder does, and
  // must still see answers already on their way).
  for (auto& entry : mailboxes_) entry.second->box.close();
  co_return *gone_;
}

TRACTOR_DECL awaitable<void> cancel_remote_task(peer& p, const msg::Aid& self, const std::string& cid,
                                          clock::duration bound) {
  msg::msg req = p.requests().start<&requests::cancel_task>(new_uuid(), {cid}, uid_of(self));
  auto queued = p.channel().try_send(req);  // no wait at all while the peer is served
  if (queued || queued.error() != errc::would_block) co_return;
  auto send_it = [&]() -> awaitable<void> { (void)co_await p.channel().send(std::move(req)); };
  (void)co_await move_on_after(bound, send_it());
}

TRACTOR_DECL awaitable<result<msg::raw_pld>> call(peer& p, const msg::Aid& self, function_name fn,
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
