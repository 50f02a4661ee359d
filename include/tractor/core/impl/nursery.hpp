// Definitions for tractor/core/nursery.hpp.
#pragma once

#include <boost/asio/this_coro.hpp>

namespace tractor {

namespace detail {

/// What a `start()` caller waits on until its task reports started or ends.
struct start_state {
  child_outcome ended;
  waiter_list waiters;
  bool started = false;
  void* value = nullptr;  // the caller's std::optional<value_type>

  static void wake(void* self) { static_cast<start_state*>(self)->waiters.notify_all(); }
};

/// Calls `fn(args...)` from a coroutine frame that owns `fn`, so a lambda's captures live
/// as long as the task it started, not only as long as the call that started it.
template <class Fn, class... Args>
auto invoke_owned(Fn fn, Args... args) -> std::invoke_result_t<Fn&, Args&...> {
  co_return co_await std::invoke(fn, args...);
}

}  // namespace detail

template <class T>
bool task_status<T>::started(value_type value) const {
  detail::child_task* c = child_;
  if (!c || !c->report) return false;
  auto* s = static_cast<detail::start_state*>(c->report->ctx);
  static_cast<std::optional<value_type>*>(s->value)->emplace(std::move(value));
  s->started = true;
  c->report = nullptr;  // from now on the task is an ordinary member of its nursery
  s->waiters.notify_all();
  return true;
}

inline void nursery::check_open() const {
  if (closed_) throw error_exception(errc::nursery_closed);
}

template <class T>
void nursery::start_soon(awaitable<T> task, std::source_location where) {
  check_open();
  group_.spawn(std::move(task), {}, where);
}

template <class T>
void nursery::start_soon(std::string name, awaitable<T> task, std::source_location where) {
  check_open();
  group_.spawn(std::move(task), std::move(name), where);
}

template <class T>
void nursery::start_soon(std::string name, awaitable<T> task, task_handle* handle, std::source_location where) {
  check_open();
  auto c = group_.add(std::move(name), where);
  *handle = task_handle(&group_, &*c);
  group_.launch(c, std::move(task));
}

template <class Fn>
  requires std::invocable<Fn&>
void nursery::start_soon(Fn fn, std::source_location where) {
  start_soon(detail::invoke_owned(std::move(fn)), where);
}

template <class Fn>
  requires std::invocable<Fn&>
void nursery::start_soon(std::string name, Fn fn, std::source_location where) {
  start_soon(std::move(name), detail::invoke_owned(std::move(fn)), where);
}

template <class T, class Fn>
  requires std::invocable<Fn&, task_status<T>>
awaitable<result<typename task_status<T>::value_type>> nursery::start(std::string name, Fn fn,
                                                                      std::source_location where) {
  namespace this_coro = boost::asio::this_coro;
  using value_type = typename task_status<T>::value_type;
  check_open();

  std::optional<value_type> value;
  detail::start_state state;
  state.value = &value;
  state.ended.on_end = &detail::start_state::wake;
  state.ended.ctx = &state;

  auto child = group_.add(std::move(name), where);
  child->report = &state.ended;
  // The checks are off only for this frame's thread; the task runs on its own.
  const bool checked = co_await this_coro::throw_if_cancelled();
  co_await this_coro::throw_if_cancelled(false);
  group_.launch(child, detail::invoke_owned(std::move(fn), task_status<T>(&*child)));

  // Until it starts, the task belongs to the caller's cancellation: forward it, keep waiting.
  struct forward {
    detail::task_group* group;
    detail::task_group::child_handle child;
    bool cancelled = false;
    static void hook(void* self, boost::asio::cancellation_type) {
      auto* f = static_cast<forward*>(self);
      f->cancelled = true;
      f->group->cancel_child(*f->child);
    }
  } fwd{&group_, child};
  auto cs = co_await this_coro::cancellation_state;
  if (cs.cancelled() != boost::asio::cancellation_type::none) forward::hook(&fwd, cs.cancelled());
  while (!state.started && state.ended.state == detail::child_outcome::kind::running) {
    co_await state.waiters.async_wait(boost::asio::use_awaitable,
                                      detail::waiter_list::cancel_hook{&forward::hook, &fwd});
  }
  co_await this_coro::throw_if_cancelled(checked);

  if (state.started) co_return std::move(*value);
  using kind = detail::child_outcome::kind;
  switch (state.ended.state) {
    case kind::failed: co_return std::move(*state.ended.failure);
    case kind::cancelled:
      if (fwd.cancelled) throw_cancelled();
      co_return errc::cancelled;
    default: co_return errc::task_not_started;
  }
}

template <class Body>
detail::nursery_body detail::nursery_body::of(Body body) {
  auto* self = new Body(std::move(body));
  return nursery_body(
      self,
      [](void* b, nursery& n, std::source_location where) {
        n.group_.spawn((*static_cast<Body*>(b))(n), "nursery body", where);
      },
      [](void* b) noexcept { delete static_cast<Body*>(b); });
}

template <class Body>
awaitable<result<void>> open_nursery(Body body, std::source_location where) {
  return detail::open_nursery_core(detail::nursery_body::of(std::move(body)), where);
}

}  // namespace tractor
