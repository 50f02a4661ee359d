// Definitions for tractor/runtime/debug.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/runtime/debug.hpp>

#include <tractor/core/cancel_scope.hpp>
#include <tractor/runtime/actor.hpp>
#include <tractor/runtime/discovery_core.hpp>
#include <tractor/runtime/task_dump.hpp>

#include <boost/stacktrace.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace tractor::runtime {

TRACTOR_DECL void debug_state::release_held_by(const void* via) {
  if (!holder || holder->via != via) return;
  holder.reset();
  freed.notify_all();
}

TRACTOR_DECL bool debug_mode_from_env() {
  const char* v = std::getenv("TRACTOR_DEBUG_MODE");
  return v && std::string_view(v) == "1";
}

TRACTOR_DECL bool should_stop_for(const error& e) {
  return !e.is_cancellation() && e.code() != make_error_code(runtime_errc::context_cancelled) &&
         e.code() != make_error_code(runtime_errc::remote_actor_error);
}

namespace debug_detail {

/// Counts a waiter of the root's lock for as long as it lives.
struct counted_wait {
  debug_state& d;
  explicit counted_wait(debug_state& s) : d(s) { ++d.waiting; }
  counted_wait(const counted_wait&) = delete;
  counted_wait& operator=(const counted_wait&) = delete;
  ~counted_wait() {
    --d.waiting;
    d.freed.notify_all();
  }
};

/// Writes all of `text` to `fd` (a terminal or stderr); what cannot be written is dropped.
inline void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

/// The stop's report: who stopped and why, its tasks, its native stack.
inline std::string report(actor& a, const std::string& why) {
  std::string out = "\n==== tractor debug mode: " + describe(uid_of(a.aid())) + " (pid " + std::to_string(::getpid()) +
                    ") stopped ====\n" + why + "\n\n-- its tasks --\n" + dump_task_tree() +
                    "\n-- its native stack --\n" + boost::stacktrace::to_string(boost::stacktrace::stacktrace()) +
                    "====\n";
  return out;
}

/// Runs TRACTOR_DEBUGGER's `command` ({pid}: ours) on the terminal `tty` and waits for it to
/// end; why it could not start, if it could not.
inline std::optional<std::string> run_debugger(std::string command, int tty) {
  const std::string pid = std::to_string(::getpid());
  for (std::size_t at; (at = command.find("{pid}")) != std::string::npos;) command.replace(at, 5, pid);
  // The debugger is our child, not our ancestor: Yama's ptrace scope 1 lets it attach only
  // if we say so.
  ::prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  posix_spawn_file_actions_t io;
  posix_spawn_file_actions_init(&io);
  for (int fd = 0; fd <= 2; ++fd) posix_spawn_file_actions_adddup2(&io, tty, fd);
  char sh[] = "/bin/sh";
  char dash_c[] = "-c";
  char* argv[] = {sh, dash_c, command.data(), nullptr};
  pid_t child = 0;
  const int e = ::posix_spawn(&child, "/bin/sh", &io, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&io);
  std::optional<std::string> failed;
  if (e != 0) {
    failed = "cannot run the debugger command '" + command + "': " + std::strerror(e);
  } else {
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
      failed = "the debugger command '" + command + "' was not found";
    }
  }
  ::prctl(PR_SET_PTRACER, 0, 0, 0, 0);
  return failed;
}

/// Asks the user on `tty` until they continue; `r` prints `text` again. Ctrl-C is read as a
/// key here (the terminal sends no SIGINT meanwhile), so it cannot cancel the tree under the
/// user.
inline void prompt(int tty, const std::string& text) {
  termios saved{};
  const bool has_modes = ::tcgetattr(tty, &saved) == 0;
  if (has_modes) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ISIG);
    ::tcsetattr(tty, TCSANOW, &quiet);
  }
  for (;;) {
    write_all(tty, "[tractor debug] c: continue (the error goes on) | r: print the report again > ");
    char line[64];
    const ssize_t n = ::read(tty, line, sizeof line);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // end of input continues, as a closed terminal must
    // The first letter decides (a Ctrl-C typed before it is only a character now).
    const auto* key = std::find_if(line, line + n, [](char k) { return k >= 'a' && k <= 'z'; });
    if (key != line + n && *key == 'c') break;
    if (key != line + n && *key == 'r') write_all(tty, text);
  }
  if (has_modes) ::tcsetattr(tty, TCSANOW, &saved);
}

/// Takes the root's lock for the actor `who`, asking over `via` (null: the root itself); false
/// if `via` went away while it waited (the lock then passes on).
inline awaitable<bool> take_lock(debug_state& d, const std::shared_ptr<peer>& via, msg::uid who) {
  std::optional<capacity_limiter::slot> slot;
  {
    const counted_wait waiting(d);
    slot.emplace(co_await d.tty.acquire());
  }
  if (via && via->gone()) co_return false;
  d.holder = debug_state::holding{via.get(), std::move(who), std::move(*slot)};
  co_return true;
}

/// Returns once nobody holds or waits for the root's lock `d`.
inline awaitable<void> wait_free(debug_state& d) {
  while (d.busy()) co_await d.freed.async_wait(boost::asio::use_awaitable);
}

/// Holds the tree's terminal lock for one stop: in the root directly, elsewhere through a
/// channel to the root (whose end frees it, should this actor die).
struct tty_hold {
  actor* a = nullptr;
  std::shared_ptr<peer> root;
};

inline awaitable<result<tty_hold>> acquire_tty(actor& a) {
  debug_state& d = a.debug();
  if (d.root_addr.empty()) {
    (void)co_await take_lock(d, nullptr, uid_of(a.aid()));
    co_return tty_hold{&a, nullptr};
  }
  auto where = transport::multiaddr::parse(d.root_addr);
  if (!where) co_return where.error();
  BOOST_OUTCOME_CO_TRY(auto root, co_await connect_peer(a, where.value()));
  BOOST_OUTCOME_CO_TRYV(co_await ask<&requests::lock_tty>(*root, a.aid(), {}, a.limits().cancel_ack));
  co_return tty_hold{&a, root};
}

inline awaitable<void> release_tty(tty_hold& h) {
  if (!h.root) {
    h.a->debug().release_held_by(nullptr);
    co_return;
  }
  (void)co_await move_on_after(h.a->limits().cancel_ack,
                               ask<&requests::unlock_tty>(*h.root, h.a->aid(), {}, h.a->limits().cancel_ack));
}

/// The stop itself (see `debug_stop`).
awaitable<void> stop(actor& a, std::string why);

}  // namespace debug_detail

TRACTOR_DECL awaitable<void> debug_stop(actor& a, std::string why) {
  co_await shield(debug_detail::stop(a, std::move(why)));
}

namespace debug_detail {

TRACTOR_DECL awaitable<void> stop(actor& a, std::string why) {
  debug_state& d = a.debug();
  d.stopped = true;
  struct unmark {
    debug_state& d;
    ~unmark() { d.stopped = false; }
  } on_exit{d};
  std::optional<tractor::detail::wait_note_scope> note(
      std::in_place, tractor::detail::wait_note{.what = "the tree's terminal lock (debug mode)"});
  auto held = co_await debug_detail::acquire_tty(a);
  note.emplace(tractor::detail::wait_note{.what = "the user at the terminal (stopped in debug mode)"});
  const std::string text = debug_detail::report(a, why);
  const int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (!held) {
    debug_detail::write_all(tty >= 0 ? tty : 2, text + "(debug mode: the terminal lock could not be taken (" +
                                                    held.error().message() + "), so not stopping)\n");
  } else if (tty < 0) {
    debug_detail::write_all(2, text + "(debug mode: no terminal, so not stopping: the error goes on)\n");
  } else {
    debug_detail::write_all(tty, text);
    const char* debugger = std::getenv("TRACTOR_DEBUGGER");
    if (debugger && *debugger) {
      if (auto failed = debug_detail::run_debugger(debugger, tty)) {
        debug_detail::write_all(tty, "[tractor debug] " + *failed + "; continuing\n");
      }
    } else {
      debug_detail::prompt(tty, text);
    }
  }
  if (tty >= 0) ::close(tty);
  if (held) co_await debug_detail::release_tty(held.value());
}

}  // namespace debug_detail

TRACTOR_DECL awaitable<void> wait_for_debugger(actor& a) {
  debug_state& d = a.debug();
  if (!d.enabled) co_return;
  if (d.root_addr.empty()) {
    co_await debug_detail::wait_free(d);
    co_return;
  }
  auto where = transport::multiaddr::parse(d.root_addr);
  if (!where) co_return;
  auto root = co_await connect_peer(a, where.value());
  if (!root) co_return;  // the root is gone: nobody holds its lock any more
  (void)co_await ask<&requests::wait_tty_free>(*root.value(), a.aid(), {}, a.limits().cancel_ack);
}

namespace requests {

TRACTOR_DECL awaitable<result<void>> lock_tty(request& r) {
  if (!r.from) co_return error(make_error_code(runtime_errc::invalid_operation), "the root takes its lock itself");
  const bool taken = co_await debug_detail::take_lock(r.self.debug(), r.from, r.start.uid);
  if (!taken) co_return error(make_error_code(errc::cancelled), "the actor asking for the terminal went away");
  co_return success();
}

TRACTOR_DECL awaitable<result<void>> unlock_tty(request& r) {
  r.self.debug().release_held_by(r.from.get());
  co_return success();
}

TRACTOR_DECL awaitable<result<void>> wait_tty_free(request& r) {
  co_await debug_detail::wait_free(r.self.debug());
  co_return success();
}

}  // namespace requests
}  // namespace tractor::runtime

namespace tractor {

TRACTOR_DECL awaitable<result<void>> pause(bool shielded) {
  runtime::actor* a = runtime::current_actor();
  if (!a) {
    co_return error(make_error_code(runtime_errc::invalid_operation), "tractor::pause() called outside any actor");
  }
  if (a->debug().stopped) {
    co_return error(make_error_code(runtime_errc::invalid_operation),
                    "tractor::pause(): a task of this actor is already stopped");
  }
  const boost::asio::cancellation_state state = co_await boost::asio::this_coro::cancellation_state;
  if (!shielded && state.cancelled() != boost::asio::cancellation_type::none) {
    co_return error(make_error_code(errc::cancelled), "tractor::pause() in a cancelled scope: not stopping");
  }
  const bool checked = co_await boost::asio::this_coro::throw_if_cancelled();
  co_await boost::asio::this_coro::throw_if_cancelled(false);
  co_await runtime::debug_stop(*a, "tractor::pause()");
  co_await boost::asio::this_coro::throw_if_cancelled(checked);
  co_return success();
}

}  // namespace tractor
