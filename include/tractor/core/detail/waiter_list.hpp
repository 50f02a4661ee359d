// A list of suspended waiters: the one primitive under events, channels and task joins.
//
// Each waiter is an Asio completion handler (`void(error_code)`), kept behind a small virtual
// interface so the list itself is not a template, plus its cancellation slot. Waking a waiter
// posts its completion through the handler's own executor, so a waker never resumes another
// coroutine on its own stack. A waiter whose slot fires is either completed with
// `operation_aborted` (the normal case) or, when it was queued with a cancel hook, left waiting
// while the hook decides what cancellation means (a join forwards it to the children it is
// waiting for and keeps waiting: nothing is abandoned).
#pragma once

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include <cassert>
#include <list>
#include <memory>

namespace tractor::detail {

class waiter_list {
 public:
  using signature = void(boost::system::error_code);

  /// Called instead of aborting the wait when the waiter's cancellation slot fires.
  struct cancel_hook {
    void (*fn)(void* ctx, boost::asio::cancellation_type type) = nullptr;
    void* ctx = nullptr;
  };

  waiter_list() = default;
  waiter_list(const waiter_list&) = delete;
  waiter_list& operator=(const waiter_list&) = delete;
  ~waiter_list() { assert(waiters_.empty() && "waiter_list destroyed with suspended waiters"); }

  /// Suspends until notified (completes with the code given to notify) or cancelled.
  template <class Token>
  auto async_wait(Token&& token, cancel_hook hook = {}) {
    return boost::asio::async_initiate<Token, signature>(
        [this, hook](auto handler) {
          enqueue(std::make_unique<node<decltype(handler)>>(std::move(handler)), hook);
        },
        token);
  }

  /// Wakes every waiter with `ec`; returns how many were woken.
  std::size_t notify_all(boost::system::error_code ec = {}) {
    std::size_t n = 0;
    while (notify_one(ec)) ++n;
    return n;
  }

  /// Wakes the longest-waiting waiter with `ec`; false if there was none.
  bool notify_one(boost::system::error_code ec = {}) {
    if (waiters_.empty()) return false;
    complete(waiters_.begin(), ec);
    return true;
  }

  [[nodiscard]] bool empty() const noexcept { return waiters_.empty(); }

 private:
  struct node_base {
    virtual ~node_base() = default;
    virtual boost::asio::cancellation_slot slot() = 0;
    // Posts the completion through the handler's own executor.
    virtual void post_completion(boost::system::error_code ec) = 0;
    cancel_hook hook;
  };

  template <class Handler>
  struct node final : node_base {
    explicit node(Handler h) : handler(std::move(h)) {}
    boost::asio::cancellation_slot slot() override {
      return boost::asio::get_associated_cancellation_slot(handler);
    }
    void post_completion(boost::system::error_code ec) override {
      boost::asio::post(boost::asio::append(std::move(handler), ec));
    }
    Handler handler;
  };

  using iterator = std::list<std::unique_ptr<node_base>>::iterator;

  struct on_cancel {
    waiter_list* self;
    iterator it;
    void operator()(boost::asio::cancellation_type type) const {
      if ((*it)->hook.fn) {
        (*it)->hook.fn((*it)->hook.ctx, type);
      } else {
        self->complete(it, boost::asio::error::operation_aborted);
      }
    }
  };

  void enqueue(std::unique_ptr<node_base> n, cancel_hook hook) {
    n->hook = hook;
    auto it = waiters_.insert(waiters_.end(), std::move(n));
    auto slot = (*it)->slot();
    if (slot.is_connected()) slot.template emplace<on_cancel>(on_cancel{this, it});
  }

  void complete(iterator it, boost::system::error_code ec) {
    std::unique_ptr<node_base> n = std::move(*it);
    waiters_.erase(it);
    auto slot = n->slot();
    if (slot.is_connected()) slot.clear();
    n->post_completion(ec);
  }

  std::list<std::unique_ptr<node_base>> waiters_;
};

}  // namespace tractor::detail
