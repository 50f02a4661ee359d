// Definitions for tractor/spawn/prestarted.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp). The
// handover's packet is spawn/detail/handover.hpp.
#pragma once

#include <tractor/spawn/prestarted.hpp>

#include <tractor/core/detail/descriptor_passing.hpp>
#include <tractor/spawn/detail/handover.hpp>
#include <tractor/spawn/detail/title.hpp>
#include <tractor/spawn/thread.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tractor::spawn {

namespace detail {

/// An error of the handover that no system call reported (`e`: the errno it is closest to).
inline error handover_error(int e, const std::string& what) {
  return error(boost::system::error_code(e, boost::system::system_category()), "prestarted: " + what);
}

/// Sends `req`'s boot (its channel too) and title to the spare behind `handover`.
inline result<void> hand_over(int handover, const spawn_request& req) {
  const std::string packet = handover_packet(req);
  if (packet.size() > max_handover) {
    return handover_error(E2BIG, "the boot exceeds " + std::to_string(max_handover) + " bytes");
  }
  const int channel = req.boot.channel_fd;
  const std::span<const int> fds(&channel, channel >= 0 ? 1 : 0);
  if (tractor::detail::send_with_fds(handover, packet.data(), packet.size(), fds) !=
      static_cast<ssize_t>(packet.size())) {
    return error::from_errno(errno, "prestarted: cannot hand over to a spare");
  }
  return success();
}

/// Starts a spare through `start`, with what `req` says of how to start any child.
/// What a spare is started with, for children like `req`'s: no identity yet.
inline spawn_request spare_request(const spawn_request& req) {
  spawn_request spare;
  spare.boot.name = spare_name;
  spare.boot.parent_addr = req.boot.parent_addr;
  spare.boot.parent_pid = req.boot.parent_pid;
  spare.title = spare_title;
  spare.run_child = req.run_child;
  spare.abandon_after = req.abandon_after;
  spare.start_timeout = req.start_timeout;
  return spare;
}

/// Starts a spare (`spare`: from `spare_request`) with a handover socket.
inline result<spare_child> park(start_function start, const boost::asio::any_io_executor& ex, spawn_request spare) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return error::from_errno(errno, "prestarted: socketpair");
  }
  spare.boot.handover_fd = pair[1];
  auto started = start(ex, spare);
  ::close(pair[1]);  // the child has its own
  if (!started) {
    ::close(pair[0]);
    return started.error();
  }
  return spare_child(std::move(started).value(), pair[0]);
}

TRACTOR_DECL spare_child::~spare_child() {
  if (handover >= 0) ::close(handover);
  handle.reset();
}

TRACTOR_DECL std::optional<spare_child> spare_pool::take() {
  std::lock_guard lock(m_);
  if (spares_.empty()) return std::nullopt;
  std::optional<spare_child> out(std::move(spares_.back()));
  spares_.pop_back();
  return out;
}

TRACTOR_DECL std::size_t spare_pool::ready() {
  std::lock_guard lock(m_);
  return spares_.size();
}

TRACTOR_DECL result<std::unique_ptr<child_handle>> spare_pool::start_child(start_function start,
                                                                         const boost::asio::any_io_executor& ex,
                                                                         const spawn_request& req, std::size_t spares) {
  std::optional<spare_child> child = take();
  // A spare that died while it waited is dismissed, and one started now takes its place.
  for (bool fresh = false;; fresh = true) {
    if (!child || fresh) {
      child.reset();
      BOOST_OUTCOME_TRY(auto started, park(start, ex, spare_request(req)));
      child.emplace(std::move(started));
    }
    auto handed = hand_over(child->handover, req);
    if (handed) break;
    if (fresh) return handed.error();
  }
  auto handle = std::move(child->handle);
  child.reset();  // our end of its handover: it has what it needs
  refill(start, ex, req, spares);
  return handle;
}

TRACTOR_DECL void spare_pool::refill(start_function start, const boost::asio::any_io_executor& ex,
                                     const spawn_request& req, std::size_t spares) {
  std::lock_guard lock(m_);
  if (closing_) return;
  for (; spares_.size() + starting_ < spares; ++starting_) {
    refiller_.post([this, start, ex, spare = spare_request(req)] {
      // A spare that cannot be started now is not a spawn's failure: the next spawn tries again.
      auto next = park(start, ex, spare);
      std::lock_guard refilled(m_);
      --starting_;
      if (next && !closing_) spares_.push_back(std::move(next).value());
      // Otherwise the spare is dismissed here, after the lock: shutdown is joining this thread.
    });
  }
}

TRACTOR_DECL void spare_pool::shutdown() {
  {
    std::lock_guard lock(m_);
    closing_ = true;
  }
  refiller_.join();  // the spares being started are dismissed as they come
  std::vector<spare_child> dismissed;
  {
    std::lock_guard lock(m_);
    dismissed.swap(spares_);
  }
}

}  // namespace detail

TRACTOR_DECL result<void> receive_handover(child_boot& boot) {
  std::string title;
  std::string packet(detail::max_handover, '\0');
  tractor::detail::passed_fds fds;
  const ssize_t n = tractor::detail::recv_with_fds(boot.handover_fd, packet.data(), packet.size(), fds);
  const int e = errno;
  ::close(boot.handover_fd);
  boot.handover_fd = -1;
  if (n == 0) return error(make_error_code(errc::cancelled), "prestarted: the spare was dismissed");
  if (n < 0) return error::from_errno(e, "prestarted: cannot receive a boot");
  bool with_channel = false;
  std::string_view rest(packet.data(), static_cast<std::size_t>(n));
  if (fds.truncated || !detail::read_boot(rest, boot, title, with_channel) || !rest.empty() ||
      fds.count != std::size_t{with_channel}) {
    fds.close_all();
    return detail::handover_error(EPROTO, "what came on the handover socket is not a boot");
  }
  boot.channel_fd = fds.take(0);
  // This thread (a process's main thread, or a thread actor's own) takes the child's name, as
  // the backend would have named it; only a process of its own takes the title.
  const std::string thread_name = boot.stop ? std::string(thread_name_prefix) + boot.name : boot.name;
  ::prctl(PR_SET_NAME, thread_name.substr(0, 15).c_str());
  if (!boot.stop) detail::write_title(title);
  return success();
}

}  // namespace tractor::spawn
