// tractor/runtime/registrar.hpp — the registrar's table: which actors exist, by name, and where
// they accept connections (tractor's `Registrar._registry`).
//
// The actor that is its tree's registrar (by default the root of the first program on a
// registry address) keeps one; every actor registers with it right after binding and is
// removed when it unregisters, when the channel it registered over closes, or when a lookup
// finds its address dead (`delete_addr`). An entry belongs to the channel it registered over:
// nobody else may overwrite it, take one of its addresses or unregister it, and the registrar
// forgets an address another actor reports dead only once no actor answers there.
#pragma once

#include <tractor/core/error.hpp>
#include <tractor/core/cancel_scope.hpp>
#include <tractor/core/event.hpp>
#include <tractor/msg/types.hpp>
#include <tractor/runtime/detail/logs.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tractor::runtime {

class peer;

class registrar {
 public:
  struct entry {
    msg::uid uid;
    std::vector<std::string> addrs;  // multiaddrs, printed
    const void* via;                 // the channel it registered over (nullptr: ourselves)
  };

  /// Registers `uid` at `addrs` (tractor's `Actor.async_main()` registration) for its owner,
  /// the channel `via` it came over: a second registration of `uid` adds the addresses it did
  /// not have. An address is held by one actor only: one that `via` registered under another
  /// uid moves to `uid`. Refused (`permission_denied`, saying by whom) when `uid`, or one of the
  /// addresses, is registered by another channel: only the owner changes an entry. Wakes
  /// everyone waiting for its name.
  result<void> add(const msg::uid& uid, const std::vector<std::string>& addrs, const void* via) {
    for (const auto& e : entries_) {
      const bool holds = std::ranges::any_of(addrs, [&](const std::string& a) { return std::ranges::find(e.addrs, a) != e.addrs.end(); });
      if (e.via != via && (e.uid == uid || holds)) {
        return error(make_error_code(boost::system::errc::permission_denied),
                     fmt::format("refused: {}{} is registered by another connection; only its owner may change it",
                                 e.uid == uid ? "" : "an address of ", logs::short_uid{e.uid}));
      }
    }
    for (auto& e : entries_) {
      if (e.uid == uid) continue;
      std::erase_if(e.addrs, [&](const std::string& a) { return std::ranges::find(addrs, a) != addrs.end(); });
    }
    std::erase_if(entries_, [&](const entry& e) { return e.uid != uid && e.addrs.empty(); });
    auto it = std::ranges::find_if(entries_, [&](const entry& e) { return e.uid == uid; });
    if (it == entries_.end()) {
      entries_.push_back(entry{uid, {}, via});
      it = std::prev(entries_.end());
    }
    for (const auto& a : addrs) {
      if (std::ranges::find(it->addrs, a) == it->addrs.end()) it->addrs.push_back(a);
    }
    logs::registrar.runtime("registered {} at {}", logs::short_uid{uid}, fmt::join(it->addrs, ", "));
    auto waiting = std::exchange(changed_, std::make_shared<event>());
    waiting->set();
    return success();
  }

  /// Removes `uid` for its owner `via`; whether it was registered. Refused
  /// (`permission_denied`) when another channel registered it.
  result<bool> remove(const msg::uid& uid, const void* via) {
    auto it = std::ranges::find_if(entries_, [&](const entry& e) { return e.uid == uid; });
    if (it == entries_.end()) return false;
    if (it->via != via) {
      return error(make_error_code(boost::system::errc::permission_denied),
                   fmt::format("refused: {} is registered by another connection; only its owner may unregister it",
                               logs::short_uid{uid}));
    }
    entries_.erase(it);
    logs::registrar.runtime("unregistered {}", logs::short_uid{uid});
    return true;
  }

  /// Removes everything registered over channel `via` (it closed).
  void remove_via(const void* via) {
    std::erase_if(entries_, [&](const entry& e) {
      if (e.via != via) return false;
      logs::registrar.runtime("forgot {}: its channel closed", logs::short_uid{e.uid});
      return true;
    });
  }

  /// Removes address `addr` (found dead); the uid that held it, if any. An actor left with no
  /// address is removed.
  std::optional<msg::uid> delete_addr(const std::string& addr) {
    std::optional<msg::uid> held;
    for (auto& e : entries_) {
      if (std::erase(e.addrs, addr) > 0) held = e.uid;
    }
    std::erase_if(entries_, [](const entry& e) { return e.addrs.empty(); });
    if (held) logs::registrar.runtime("deleted dead address {} of {}", addr, held->first);
    return held;
  }

  /// The addresses of the first actor registered as `name` (tractor's `wait_for_actor()`), or none.
  [[nodiscard]] std::vector<std::string> find(std::string_view name) const {
    for (const auto& e : entries_) {
      if (e.uid.first == name) return e.addrs;
    }
    return {};
  }

  /// Waits until an actor named `name` is registered and returns its addresses.
  ///
  /// Cancellation: interrupted at once.
  awaitable<std::vector<std::string>> wait_for(std::string name) {
    for (;;) {
      auto found = find(name);
      if (!found.empty()) co_return found;
      auto changed = changed_;  // kept alive across the wait: `add` replaces it
      co_await changed->wait();
    }
  }

  [[nodiscard]] const std::vector<entry>& entries() const noexcept { return entries_; }

 private:
  std::vector<entry> entries_;  // registration order: "the first" is the oldest
  std::shared_ptr<event> changed_ = std::make_shared<event>();
};

}  // namespace tractor::runtime
