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

#include <fmt/format.h>  // fmt::join

#include <algorithm>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
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
  /// uid moves to `uid`, and an actor left with no address is removed. Refused
  /// (`permission_denied`, saying by whom) when `uid`, or one of the addresses, is registered
  /// by another channel: only the owner changes an entry. Wakes everyone waiting for its name.
  result<void> add(const msg::uid& uid, const std::vector<std::string>& addrs, const void* via) {
    const auto known = by_uid_.find(uid);
    const entry* refused_by = known != by_uid_.end() && known->second->via != via ? &*known->second : nullptr;
    for (const auto& a : addrs) {
      const auto held = by_addr_.find(a);
      if (!refused_by && held != by_addr_.end() && held->second->via != via) refused_by = &*held->second;
    }
    if (refused_by) {
      return error(make_error_code(boost::system::errc::permission_denied),
                   fmt::format("refused: {}{} is registered by another connection; only its owner may change it",
                               refused_by->uid == uid ? "" : "an address of ", logs::short_uid{refused_by->uid}));
    }
    auto it = known != by_uid_.end() ? known->second : add_entry(uid, via);
    for (const auto& a : addrs) {
      auto [held, fresh] = by_addr_.try_emplace(a, it);
      if (!fresh && held->second == it) continue;  // it has it already
      if (!fresh) {  // moves from another actor of the same owner
        const auto from = std::exchange(held->second, it);
        std::erase(from->addrs, a);
        if (from->addrs.empty()) erase(from);
      }
      it->addrs.push_back(a);
    }
    logs::registrar.runtime("registered {} at {}", logs::short_uid{uid}, fmt::join(it->addrs, ", "));
    auto waiting = std::exchange(changed_, std::make_shared<event>());
    waiting->set();
    return success();
  }

  /// Removes `uid` for its owner `via`; whether it was registered. Refused
  /// (`permission_denied`) when another channel registered it.
  result<bool> remove(const msg::uid& uid, const void* via) {
    const auto known = by_uid_.find(uid);
    if (known == by_uid_.end()) return false;
    if (known->second->via != via) {
      return error(make_error_code(boost::system::errc::permission_denied),
                   fmt::format("refused: {} is registered by another connection; only its owner may unregister it",
                               logs::short_uid{uid}));
    }
    erase(known->second);
    logs::registrar.runtime("unregistered {}", logs::short_uid{uid});
    return true;
  }

  /// Removes everything registered over channel `via` (it closed).
  void remove_via(const void* via) {
    const auto [first, last] = by_via_.equal_range(via);
    std::vector<iterator> gone;
    for (auto at = first; at != last; ++at) gone.push_back(at->second);
    // The channel's index entries go at once: `erase` would look each up in the range.
    by_via_.erase(first, last);
    for (const auto it : gone) {
      logs::registrar.runtime("forgot {}: its channel closed", logs::short_uid{it->uid});
      forget(it);
    }
  }

  /// Removes address `addr` (found dead); the uid that held it, if any. An actor left with no
  /// address is removed.
  std::optional<msg::uid> delete_addr(const std::string& addr) {
    const auto held = by_addr_.find(addr);
    if (held == by_addr_.end()) return std::nullopt;
    const auto it = held->second;
    msg::uid uid = it->uid;
    by_addr_.erase(held);
    std::erase(it->addrs, addr);
    if (it->addrs.empty()) erase(it);
    logs::registrar.runtime("deleted dead address {} of {}", addr, uid.first);
    return uid;
  }

  /// The addresses of the first actor registered as `name` (tractor's `wait_for_actor()`), or none.
  [[nodiscard]] std::vector<std::string> find(std::string_view name) const {
    const auto first = by_name_.lower_bound(name);  // `find` may give any of the name's entries
    return first != by_name_.end() && first->first == name ? first->second->addrs : std::vector<std::string>{};
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

  /// Every entry, in registration order.
  [[nodiscard]] const std::list<entry>& entries() const noexcept { return entries_; }

 private:
  using iterator = std::list<entry>::iterator;
  struct uid_hash {
    std::size_t operator()(const msg::uid& u) const noexcept {
      return std::hash<std::string>{}(u.second) ^ (std::hash<std::string>{}(u.first) << 1);
    }
  };

  iterator add_entry(const msg::uid& uid, const void* via) {
    const auto it = entries_.insert(entries_.end(), entry{uid, {}, via});
    by_uid_.emplace(uid, it);
    by_name_.emplace(uid.first, it);  // after those of the same name: "the first" stays the oldest
    by_via_.emplace(via, it);
    return it;
  }

  /// Removes `it`'s entry from the range of `key` in `index`.
  template <class Index, class Key>
  static void drop(Index& index, const Key& key, iterator it) {
    auto [first, last] = index.equal_range(key);
    for (; first != last; ++first) {
      if (first->second == it) return (void)index.erase(first);
    }
  }

  /// Forgets `it` and every index's way to it.
  void erase(iterator it) {
    drop(by_via_, it->via, it);
    forget(it);
  }

  /// The same, but for the channel index (`remove_via` empties its range at once).
  void forget(iterator it) {
    for (const auto& a : it->addrs) {
      if (const auto held = by_addr_.find(a); held != by_addr_.end() && held->second == it) by_addr_.erase(held);
    }
    by_uid_.erase(it->uid);
    drop(by_name_, it->uid.first, it);
    entries_.erase(it);
  }

  // Indexed so that a tree of thousands of actors registers, looks up and unregisters each
  // without a walk over every other.
  std::list<entry> entries_;  // registration order: "the first" is the oldest
  std::unordered_map<msg::uid, iterator, uid_hash> by_uid_;
  std::unordered_map<std::string, iterator> by_addr_;  // an address is held by one entry
  std::multimap<std::string, iterator, std::less<>> by_name_;  // of one name, oldest first
  std::unordered_multimap<const void*, iterator> by_via_;
  std::shared_ptr<event> changed_ = std::make_shared<event>();
};

}  // namespace tractor::runtime
