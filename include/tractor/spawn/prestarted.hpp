// tractor/spawn/prestarted.hpp — `prestarted<B>`: children of backend `B` started ahead of
// their requests, so that a spawn does not wait for a process (or thread) to start.
//
// A spare is a child `B` started with no identity yet (`_subactor[spare]` in `ps`) and a
// handover socket (`child_boot::handover_fd`), on which its entry waits before it does
// anything else. A start takes a spare, sends it the request's boot and its channel, and
// has the next spare started in its place, on a thread of the pool's own, and returns; with
// none ready (a loop's first spawn, or spawns back to back), it starts one and hands over at
// once. So every child of the wrapper boots the
// same way, through `B::start` and the handover; the plain backends stay the default.
//
// Spares belong to the event loop that started them (a service of its execution context) and
// go with it: the spares being started are waited for, then closing a spare's handover
// socket ends its entry, and its handle reaps it. A
// handed-over process takes its own title and name (`ps`, `top`), a thread actor's thread its
// own name. What a process inherits (its environment, working directory,
// limits) is what its parent had when the spare was started, not at the spawn.
//
//     using my_tree = tractor::tree<tractor::spawn::prestarted<tractor::spawn::forkserver>,
//                                   tractor::transport::uds, tractor::codec::cereal_binary, fns>;
#pragma once

#include <tractor/config.hpp>

#include <tractor/spawn/backend.hpp>

#include <tractor/core/blocking_worker.hpp>

#include <boost/asio/execution_context.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

namespace tractor::spawn {

namespace detail {

using start_function = result<std::unique_ptr<child_handle>> (*)(const boost::asio::any_io_executor&,
                                                                 const spawn_request&);

/// A child waiting for its boot on the other end of `handover` (ours). Going away dismisses
/// it: the socket closes (its entry ends), then the handle reaps it.
struct spare_child {
  std::unique_ptr<child_handle> handle;
  int handover = -1;

  spare_child(std::unique_ptr<child_handle> h, int fd) noexcept : handle(std::move(h)), handover(fd) {}
  spare_child(spare_child&& o) noexcept : handle(std::move(o.handle)), handover(std::exchange(o.handover, -1)) {}
  spare_child& operator=(spare_child&&) = delete;
  ~spare_child();
};

/// The spares of one event loop for one backend.
class spare_pool : public boost::asio::execution_context::service {
 public:
  explicit spare_pool(boost::asio::execution_context& ctx) : service(ctx) {}

  /// Starts `req`'s child from a spare (started now through `start` if none is ready), and
  /// has spares started through `start` until `spares` are ready or being started, on the
  /// pool's thread. Blocks as `start` does only when no spare is ready.
  result<std::unique_ptr<child_handle>> start_child(start_function start, const boost::asio::any_io_executor& ex,
                                                    const spawn_request& req, std::size_t spares);

  /// How many spares are ready (not counting those being started).
  std::size_t ready();

 private:
  void shutdown() override;
  std::optional<spare_child> take();

  void refill(start_function start, const boost::asio::any_io_executor& ex, const spawn_request& req,
              std::size_t spares);

  std::mutex m_;
  std::vector<spare_child> spares_;
  std::size_t starting_ = 0;  // spares the refiller has yet to start
  bool closing_ = false;
  // Its thread starts with the first refill and is joined at shutdown: no spare is started
  // after its loop is gone.
  blocking_worker refiller_;
};

/// The pool of backend `B`'s spares (a service type per backend).
template <class B>
class spare_pool_of final : public spare_pool {
 public:
  static inline boost::asio::execution_context::id id;
  using spare_pool::spare_pool;
};

/// "prestarted_" and `B`'s name.
template <class B>
struct prestarted_name {
  static constexpr std::string_view prefix = "prestarted_";
  static constexpr auto chars = [] {
    std::array<char, prefix.size() + std::string_view(B::name).size()> out{};
    std::size_t at = 0;
    for (char c : prefix) out[at++] = c;
    for (char c : std::string_view(B::name)) out[at++] = c;
    return out;
  }();
  static constexpr std::string_view value{chars.data(), chars.size()};
};

}  // namespace detail

/// What a spare is named until it is handed a boot: its boot's name, so its thread's name
/// (a thread actor) is `thread_name_prefix` and this; and its title (a process).
inline constexpr std::string_view spare_name = "spare";
inline constexpr std::string_view spare_title = "_subactor[spare]";

/// The child's side of a handover (called by the runtime's child entry when
/// `boot.handover_fd` is set): waits for the boot, fills `boot` with it (the channel too, the
/// child's own descriptor) and closes the handover socket. The calling thread takes the
/// child's name (as its backend names it), and a process of its own (not a thread actor, whose
/// boot has a `stop` hook) the request's title. `errc::cancelled` if the spare was dismissed
/// (its owner closed the socket) instead; an error if what came is not a boot.
///
/// Cancellation: none; a blocking wait, which ends when the owner hands over or goes away.
result<void> receive_handover(child_boot& boot);

/// Backend `B` with spares: see the top of this file. `Spares` children are kept ready per
/// event loop (each actor's loop has its own).
template <backend B, std::size_t Spares = 1>
struct prestarted {
  static_assert(carries_handover<B>, "spawn::prestarted<B> needs a backend that declares carries_handover");
  static_assert(Spares >= 1, "spawn::prestarted keeps at least one spare");

  static constexpr std::string_view name = detail::prestarted_name<B>::value;
  /// The child's channel comes with its boot, whatever `B` does.
  static constexpr bool adopts_channel = true;
  static constexpr bool start_blocks = spawn::start_blocks<B>;
  using session = spawn::session<B>;

  static result<std::unique_ptr<child_handle>> start(const boost::asio::any_io_executor& ex, const spawn_request& req) {
    auto& ctx = boost::asio::query(ex, boost::asio::execution::context);
    return boost::asio::use_service<detail::spare_pool_of<B>>(ctx).start_child(&B::start, ex, req, Spares);
  }

  /// The spares ready on `ex`'s event loop.
  static std::size_t ready(const boost::asio::any_io_executor& ex) {
    auto& ctx = boost::asio::query(ex, boost::asio::execution::context);
    return boost::asio::use_service<detail::spare_pool_of<B>>(ctx).ready();
  }
};

}  // namespace tractor::spawn

#if TRACTOR_HEADER_ONLY
#include <tractor/spawn/impl/prestarted.ipp>
#endif
