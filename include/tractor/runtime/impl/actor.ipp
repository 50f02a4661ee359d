// Definitions for tractor/runtime/actor.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp); the actor's
// server and its peers' message loops. The dispatch of their `Start`s is in dispatch.ipp.
#pragma once

#include <tractor/runtime/actor.hpp>

#include <tractor/core/cancel_scope.hpp>
#include <tractor/transport/auth.hpp>

#include <boost/asio/signal_set.hpp>

namespace tractor::runtime {

TRACTOR_DECL transport::multiaddr actor::own_address() const {
  // Thread actors share the process (and its pid) with their parent and siblings.
  return pol_.bind_addr(in_process_ ? self_.name + "." + self_.uuid.substr(0, 8) : self_.name);
}

TRACTOR_DECL result<void> actor::bind(const transport::multiaddr* at) {
  auto l = pol_.listen(ex_, at ? *at : own_address());
  // Out of descriptors (a thread actor shares its process's): which limit, and how to raise it.
  if (!l) return spawn::with_descriptor_limit_hint(l.error());
  listeners_.push_back(std::move(l).value());
  return success();
}

TRACTOR_DECL awaitable<void> actor::acknowledge_cancel() {
  if (!cancel_requested_by_) co_return;
  // (No structured binding here: g++ 12 mishandles them across a co_await.)
  std::shared_ptr<peer> by = cancel_requested_by_->first;
  msg::msg ack = msg::CancelAck{cancel_requested_by_->second, true};
  auto sent = co_await by->send(std::move(ack));
  if (sent) {
    logs::cancel.cancel("cancelled; acknowledged to {}", by->aid().name);
  } else {
    logs::cancel.warning("cancelled, but the acknowledgement to {} was lost: {}", by->aid().name,
                         sent.error().message());
  }
}

TRACTOR_DECL awaitable<void> actor::accept_loop(nursery& n) {
  for (std::size_t i = 1; i < listeners_.size(); ++i) {
    n.start_soon("accept loop at " + listeners_[i].address().str(), accept_at(listeners_[i], n));
  }
  co_await accept_at(listeners_.front(), n);
}

TRACTOR_DECL awaitable<void> actor::accept_at(transport::listener& l, nursery& n) {
  static constexpr auto at = [](const void* listening, std::string& out) {
    out += static_cast<const transport::listener*>(listening)->address().str();
  };
  const tractor::detail::wait_note_scope note(
      tractor::detail::wait_note{.what = "a connection at", .detail = at, .subject = &l});
  for (;;) {
    auto s = co_await l.accept();
    if (!serving_) co_return;
    if (!s) {
      // Out of descriptors, the listener stays readable and every accept fails at once: say
      // so (once) and wait for descriptors to come free instead of spinning.
      auto hint = spawn::descriptor_limit_hint(s.error().code().value());
      if (hint.empty()) continue;  // a failed accept (peer reset before we got it) harms nobody else
      if (!out_of_descriptors_) logs::ipc.error("cannot accept connections at {}: {}", l.address().str(), hint);
      out_of_descriptors_ = true;
      co_await sleep_for(accept_backoff);
      continue;
    }
    out_of_descriptors_ = false;
    n.start_soon("handshake of an accepted connection", handshake_and_route(std::move(s).value(), n));
  }
}

TRACTOR_DECL awaitable<void> actor::handshake_and_route(transport::stream_socket s, nursery& n) {
  std::unique_ptr<transport::secure_stream> secure;  // the session a secure transport made
  if (pol().check) {
    // Nothing of a connection is read as a message before it has proven itself; and only so
    // many may be trying at once. At the cap one of them goes, not the newcomer: the oldest of
    // those that have sent nothing yet, else the oldest. An honest peer speaks at once and
    // proves itself within a round trip, so a flood of idle connections evicts its own, even
    // one that reconnects as fast as it is closed, and a new client still gets in.
    if (authenticating_.size() >= transport::auth::max_pending()) {
      // (Whether one has spoken is asked of the socket too: its bytes may have arrived since.)
      auto victim = std::find_if(authenticating_.begin(), authenticating_.end(), [](authenticating& p) {
        boost::system::error_code unknown;
        p.spoke = p.spoke || p.socket->available(unknown) > 0;
        return !p.spoke;
      });
      if (victim == authenticating_.end()) victim = authenticating_.begin();
      boost::system::error_code ignored;
      victim->socket->close(ignored);
      authenticating_.erase(victim);
      // A flood must not flood the log too: the 1st, 2nd, 4th, 8th... eviction is logged.
      if (const auto evicted = ++evicted_; (evicted & (evicted - 1)) == 0) {
        logs::ipc.warning("closed one of {} connections still authenticating, to let {} try ({} so far)",
                          authenticating_.size() + 1, transport::peer_of(s), evicted);
      }
    }
    authenticating_.push_back({&s, false});
    struct done_authenticating {
      std::deque<authenticating>& list;
      transport::stream_socket* mine;
      ~done_authenticating() { std::erase_if(list, [this](const authenticating& p) { return p.socket == mine; }); }
    } counted{authenticating_, &s};
    auto wait_to_speak = [&s]() -> awaitable<boost::system::error_code> {
      auto [ec] =
          co_await s.async_wait(transport::stream_socket::wait_read, boost::asio::as_tuple(boost::asio::use_awaitable));
      co_return ec;
    };
    const auto spoke = co_await move_on_after(transport::auth::deadline(), wait_to_speak());
    if (!s.is_open()) co_return;  // evicted (and logged with its eviction)
    if (!spoke || *spoke) {
      logs::ipc.warning("refused a connection from {}: the peer did not authenticate in time", transport::peer_of(s));
      co_return;
    }
    for (auto& p : authenticating_) {
      if (p.socket == &s) p.spoke = true;
    }
    auto checked = co_await pol().check(s);
    if (!checked) {
      if (s.is_open()) {  // (an evicted one was logged with its eviction)
        logs::ipc.warning("refused a connection from {}: {}", transport::peer_of(s), checked.error().message());
      }
      co_return;
    }
    secure = std::move(checked).value();
  }
  auto p = make_peer(transport::connection{std::move(s), std::move(secure)});
  auto hs = co_await p->handshake(limits_.handshake);
  if (!hs) {
    // Dropped; the server keeps serving.
    logs::ipc.warning("refused a connection: {}", hs.error().message());
    co_return;
  }
  if (hs.value().is_probe) co_return;
  logs::ipc.runtime("handshake with {}@{} (pid {})", hs.value().name, logs::short8(hs.value().uuid),
                    hs.value().pid.value_or(0));
  if (auto it = expected_.find(hs.value().uuid); it != expected_.end()) {
    it->second->link = p;
    it->second->connected.set();
    co_return;  // the spawner serves it from here
  }
  (void)co_await serve_peer(std::move(p), n);
}

TRACTOR_DECL awaitable<error> actor::serve_peer(std::shared_ptr<peer> p, nursery& n) {
  // Whatever registered over this channel is gone with it, however serving ends.
  struct forget_registrations {
    std::optional<registrar>& registry;
    debug_state& debug;
    const void* via;
    ~forget_registrations() {
      if (registry) registry->remove_via(via);
      debug.release_held_by(via);  // a holder of the terminal lock that died frees it
    }
  } on_exit{registry_, debug_, p.get()};
  // A named local, not a temporary in the co_await operand: g++ 12 destroys such temporaries
  // twice (here: the captured shared_ptr).
  std::function<void(msg::Start)> on_start = [this, p, &n](msg::Start s) {
    start_task(p, std::move(s), n);
  };
  // While served, the peer's sends are queued and written by a writer task: a call's
  // StartAck and Return (or a stream's items) then leave in one write.
  std::optional<error> why;
  auto served = co_await open_nursery([&](nursery& io) -> awaitable<void> {
    io.start_soon("channel writer to " + p->aid().name, p->channel().run_writer());
    why = co_await p->serve(std::move(on_start));
    io.cancel();
  });
  (void)served;
  co_return why ? *why : error(make_error_code(errc::cancelled));
}

TRACTOR_DECL awaitable<void> cancel_on_signal(int& which, actor& a) {
  boost::asio::signal_set signals(co_await boost::asio::this_coro::executor, SIGINT, SIGTERM);
  const tractor::detail::wait_note_scope note(tractor::detail::wait_note{.what = "SIGINT or SIGTERM"});
  for (;;) {
    auto [ec, sig] = co_await signals.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) co_return;
    const debug_state& debug = a.debug();
    if (sig == SIGINT && debug.enabled && (!debug.root_addr.empty() || debug.busy())) {
      logs::cancel.cancel("SIGINT ignored: in debug mode Ctrl-C is for whoever is stopped");
      continue;
    }
    which = sig;
    a.end_lifetime("signal " + std::to_string(sig));
    co_return;
  }
}

}  // namespace tractor::runtime
