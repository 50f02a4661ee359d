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
#include <tractor/runtime/runtime_error.hpp>
#include <tractor/transport/channel.hpp>

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>

#include <pthread.h>

namespace tractor::runtime {

namespace detail {
// Bumped in every forked child, so a generator inherited through fork() reseeds instead of
// repeating its parent's ids.
inline std::atomic<unsigned> fork_generation{0};
inline const bool fork_hook_installed =
    ::pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); }) == 0;
}  // namespace detail

/// A fresh uuid4 string (cids and actor ids). From a per-thread generator seeded by the OS,
/// since Boost's default generator asks the kernel for entropy on every call (a syscall on
/// every remote call's cid).
inline std::string new_uuid() {
  struct generator {
    boost::uuids::basic_random_generator<std::mt19937_64> gen;  // seeds itself from the OS
    unsigned generation = detail::fork_generation.load();
  };
  static thread_local std::optional<generator> g;
  if (!g || g->generation != detail::fork_generation.load()) g.emplace();
  return boost::uuids::to_string(g->gen());
}

/// tractor's `uid`: (name, uuid).
inline msg::uid uid_of(const msg::Aid& a) { return {a.name, a.uuid}; }

/// "name@1234abcd": how logs and errors name an actor.
inline std::string describe(const msg::uid& u) { return u.first + "@" + u.second.substr(0, 8); }

/// Boxes a local failure for the wire (tractor's `pack_error`).
msg::Error box_error(const error& e, const msg::Aid& self, std::optional<std::string> cid);

/// Rebuilds a received `Error` as a local error: errors of tractor's own categories come
/// back with their code; anything else is a `remote_actor_error` keeping the type name,
/// message, source actor and relay path.
error unbox_error(const msg::Error& m);

class peer {
 public:
  explicit peer(std::unique_ptr<transport::channel> ch) : ch_(std::move(ch)) {}

  [[nodiscard]] transport::channel& channel() noexcept { return *ch_; }
  [[nodiscard]] const msg::Aid& aid() const { return *ch_->peer(); }

  /// Sends one message, written at once when no write is under way (requests and replies
  /// are latency-bound). Cancellation: as `transport::channel::send`.
  awaitable<result<void>> send(msg::msg m) {
    if (auto now = ch_->send_now(m); now || now.error() != errc::would_block) co_return now;
    co_return co_await ch_->send(std::move(m));
  }

  /// Queues one message for the writer task, so it leaves with whatever is sent next (a
  /// StartAck with its task's first answer). Cancellation: as `transport::channel::send`.
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

  /// Everything the peer sends for `cid`, until `close_mailbox(cid)`.
  memory_channel<msg::msg>& open_mailbox(const std::string& cid);
  void close_mailbox(const std::string& cid) { mailboxes_.erase(cid); }

  /// Why the peer is gone, once it is.
  [[nodiscard]] const std::optional<error>& gone() const noexcept { return gone_; }

 private:
  void dispatch(msg::msg m, const std::function<void(msg::Start)>& on_start);

  std::unique_ptr<transport::channel> ch_;
  std::map<std::string, std::unique_ptr<memory_channel<msg::msg>>> mailboxes_;
  std::optional<error> gone_;
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

/// Asks the actor behind `p` to cancel its task `cid` (tractor's `_cancel_task`), without
/// waiting for the acknowledgement; the send is bounded by `bound`.
///
/// Cancellation: must run shielded (it is cleanup); interrupted at once otherwise.
awaitable<void> cancel_remote_task(peer& p, const msg::Aid& self, const std::string& cid,
                                   clock::duration bound);

// -- definitions -------------------------------------------------------------------------

inline msg::uid parse_described(std::string_view d) {
  const auto at = d.find('@');
  return {std::string(d.substr(0, at)), at == std::string_view::npos ? "" : std::string(d.substr(at + 1))};
}

inline msg::Error box_error(const error& e, const msg::Aid& self, std::optional<std::string> cid) {
  msg::Error m;
  m.src_uid = uid_of(self);
  m.relay_path = {uid_of(self)};
  m.message = e.message();
  m.cid = std::move(cid);
  const std::string_view cat = e.code().category().name();
  if (e.is_group()) {
    // A group crosses the wire boxed whole, as tractor boxes a BaseExceptionGroup: its text
    // lists every member.
    m.src_type_str = "BaseExceptionGroup";
  } else if (!e.source().empty()) {
    // Relaying an error from further down the tree: keep its origin, extend its path.
    m.src_uid = parse_described(e.source());
    m.relay_path.clear();
    for (const auto& hop : e.relay_path()) m.relay_path.push_back(parse_described(hop));
    m.relay_path.push_back(uid_of(self));
    m.src_type_str = e.type_name();
  } else if (cat.starts_with("tractor") && e.code() != errc::exception) {
    // tractor's own codes travel as "category:value" so they come back as themselves; a
    // boxed exception travels as its own type name instead.
    m.src_type_str = std::string(cat) + ":" + std::to_string(e.code().value());
  } else {
    m.src_type_str = e.type_name();
  }
  m.boxed_type_str = e.source().empty() || e.is_group() ? m.src_type_str : "RemoteActorError";
  m.tb_str = e.is_group() ? m.src_type_str : e.type_name();
  return m;
}

inline error unbox_error(const msg::Error& m) {
  std::vector<std::string> relay;
  for (const auto& u : m.relay_path) relay.push_back(describe(u));
  boost::system::error_code code = make_error_code(runtime_errc::remote_actor_error);
  const auto colon = m.src_type_str.rfind(':');
  if (colon != std::string::npos) {
    const std::string cat = m.src_type_str.substr(0, colon);
    const int value = std::atoi(m.src_type_str.c_str() + colon + 1);
    for (const auto* c : {&core_category(), &wire_category(), &runtime_category()}) {
      if (cat == c->name()) code = boost::system::error_code(value, *c);
    }
  }
  const std::string type = code == runtime_errc::remote_actor_error ? m.src_type_str : m.tb_str;
  return error::remote(code, type, m.message.value_or(""), describe(m.src_uid), std::move(relay));
}

inline memory_channel<msg::msg>& peer::open_mailbox(const std::string& cid) {
  auto& box = mailboxes_[cid];
  box = std::make_unique<memory_channel<msg::msg>>(64);
  if (gone_) box->close();
  return *box;
}

inline void peer::dispatch(msg::msg m, const std::function<void(msg::Start)>& on_start) {
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
    if (auto* err = std::get_if<msg::Error>(&m)) gone_ = unbox_error(*err);  // runtime-scoped
    return;
  }
  auto it = mailboxes_.find(*cid);
  if (it == mailboxes_.end()) return;  // a call that already gave up: dropped
  (void)it->second->try_send(std::move(m));
}

inline awaitable<error> peer::serve(std::function<void(msg::Start)> on_start) {
  std::exception_ptr interrupted;
  try {
    while (!gone_) {
      auto m = co_await ch_->receive();
      if (!m) {
        if (m.error() == wire_errc::malformed_frame) continue;  // framing intact: keep serving
        gone_ = m.error();
        break;
      }
      dispatch(std::move(m).value(), on_start);
    }
  } catch (...) {
    interrupted = std::current_exception();
  }
  // Interrupted, the peer is not gone: mailboxes stay open, since it may be served again
  // (a cancel ladder does, and must still see answers already on their way).
  if (interrupted) std::rethrow_exception(interrupted);
  for (auto& entry : mailboxes_) entry.second->close();
  co_return *gone_;
}

inline awaitable<void> cancel_remote_task(peer& p, const msg::Aid& self, const std::string& cid,
                                          clock::duration bound) {
  msg::msg req = msg::Start{new_uuid(), "self", "cancel_task", p.channel().encode_text(cid),
                            uid_of(self)};
  auto now = p.channel().send_now(req);  // no wait at all when the peer's writer is idle
  if (now || now.error() != errc::would_block) co_return;
  auto send_it = [&]() -> awaitable<void> { (void)co_await p.send(std::move(req)); };
  (void)co_await move_on_after(bound, send_it());
}

inline awaitable<result<msg::raw_pld>> call(peer& p, const msg::Aid& self, function_name fn,
                                            msg::raw_pld args, clock::duration cancel_bound) {
  mailbox_lease lease(p);
  msg::msg start = msg::Start{lease.cid(), std::string(fn.ns), std::string(fn.func),
                              std::move(args), uid_of(self)};
  BOOST_OUTCOME_CO_TRY(co_await p.send(std::move(start)));
  std::optional<result<msg::raw_pld>> answer;
  std::exception_ptr interrupted;
  try {
    while (!answer) {
      auto m = co_await lease.box().receive();
      if (!m) {
        answer = error(make_error_code(wire_errc::transport_closed),
                       "actor " + describe(uid_of(p.aid())) + " went away during a call to " +
                           std::string(fn.ns) + "." + std::string(fn.func) +
                           (p.gone() ? ": " + p.gone()->message() : std::string()));
      } else if (std::holds_alternative<msg::StartAck>(m.value())) {
        continue;
      } else if (auto* r = std::get_if<msg::Return>(&m.value())) {
        answer = std::move(r->pld);
      } else if (auto* e = std::get_if<msg::Error>(&m.value())) {
        answer = unbox_error(*e);
      } else {
        answer = error(make_error_code(runtime_errc::protocol_error),
                       "unexpected `" + std::string(msg::type_name(m.value())) + "` in a call");
      }
    }
  } catch (...) {
    interrupted = std::current_exception();
  }
  if (interrupted) {
    // The caller gave up: the remote task is told to stop too (tractor's `_cancel_task`).
    // Its answer, if any, finds the mailbox closed and is dropped.
    if (!p.gone()) {
      co_await boost::asio::this_coro::throw_if_cancelled(false);
      co_await shield(cancel_remote_task(p, self, lease.cid(), cancel_bound));
    }
    std::rethrow_exception(interrupted);
  }
  co_return std::move(*answer);
}

}  // namespace tractor::runtime
