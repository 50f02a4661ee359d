// Definitions for tractor/runtime/context.hpp.
#pragma once

namespace tractor {

template <class Y>
awaitable<result<Y>> msg_stream<Y>::receive() {
  if (auto ready = core_->try_receive_item()) {  // buffered: no nested coroutine
    if (!*ready) co_return ready->error();
    auto value = decode_(ready->value());
    core_->channel_peer().recycle(std::move(ready->value()));
    co_return value;
  }
  auto item = co_await core_->receive_item();
  if (!item) co_return item.error();
  auto value = decode_(item.value());
  core_->channel_peer().recycle(std::move(item.value()));
  co_return value;
}

template <auto F>
awaitable<call_result_t<F>> caller_context<F>::wait_for_result() {
  auto r = co_await core_->wait_for_result();
  if (!r) co_return r.error();
  co_return decode_result_(r.value());
}

}  // namespace tractor
