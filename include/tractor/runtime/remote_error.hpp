// tractor/runtime/remote_error.hpp — errors crossing actor boundaries, and the error types a
// tree registers so that they come back as themselves.
//
// An error leaving an actor is boxed into an `Error` message (tractor's `pack_error`): the
// source actor, the relay path, the message, and what it was — an exception's type name, or an
// error code as "category:value". The receiving actor unboxes it (tractor's `unpack_error`):
//
//   - codes of tractor's own categories, of the system categories, and of every registered
//     error-code enum come back as that code: `err == my_errc::quota`;
//   - exceptions of a registered type come back as a `remote_actor_error` whose boxed
//     exception is a new instance of that type with the same text:
//     `err.as<quota_exceeded>()`, `err.throw_exception()` throws it;
//   - anything else is a `remote_actor_error` keeping the type name and the text.
//
//     struct quota_exceeded : std::runtime_error { using std::runtime_error::runtime_error; };
//     using errs = tractor::errors<quota_exceeded, my_errc>;   // the tree's fifth parameter
//
// Both sides must register a type for it to be rebuilt (the same tree type does that).
#pragma once

#include <tractor/msg/types.hpp>
#include <tractor/msg/wire_error.hpp>
#include <tractor/runtime/identity.hpp>
#include <tractor/runtime/runtime_error.hpp>

#include <boost/core/demangle.hpp>

#include <array>
#include <span>
#include <string>
#include <typeinfo>

namespace tractor {

namespace runtime {

/// One registered error type, erased.
struct error_type {
  /// The demangled type name of an exception type, or the category name of an enum.
  std::string name;
  /// Exceptions: a new instance with `message` as its text. Null for enums.
  std::exception_ptr (*rebuild)(const std::string& message) = nullptr;
  /// Enums: their category. Null for exceptions.
  const boost::system::error_category* category = nullptr;
};

/// Boxes a local failure for the wire (tractor's `pack_error`).
msg::Error box_error(const error& e, const msg::Aid& self, std::optional<std::string> cid);

/// Rebuilds a received `Error` as a local error (see the file comment); `known` lists the
/// registered error types.
error unbox_error(const msg::Error& m, std::span<const error_type> known = {});

}  // namespace runtime

/// The error types a tree rebuilds as themselves when they come from another actor: exception
/// types constructible from a `std::string`, and error-code enums registered with
/// Boost.System (`is_error_code_enum` and a `make_error_code` found by ADL).
template <class... Es>
struct errors {
  static std::span<const runtime::error_type> table() {
    static const std::array<runtime::error_type, sizeof...(Es)> t{entry<Es>()...};
    return t;
  }

 private:
  template <class E>
  static runtime::error_type entry() {
    if constexpr (boost::system::is_error_code_enum<E>::value) {
      const auto& cat = make_error_code(E{}).category();
      return {cat.name(), nullptr, &cat};
    } else {
      static_assert(std::is_base_of_v<std::exception, E> && std::is_constructible_v<E, std::string>,
                    "tractor::errors<E...>: E must be an exception type constructible from a "
                    "std::string, or an error-code enum");
      auto rebuild = +[](const std::string& message) {
        return std::make_exception_ptr(E(message));
      };
      return {boost::core::demangle(typeid(E).name()), rebuild, nullptr};
    }
  }
};

// -- definitions -------------------------------------------------------------------------

namespace runtime {

namespace detail {

/// Splits "category:value" (the last ':' followed only by digits, and not part of a "::"
/// scope, so exception type names never match).
inline std::optional<std::pair<std::string, int>> split_code(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size() || s[colon - 1] == ':') {
    return std::nullopt;
  }
  for (std::size_t i = colon + 1; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  return std::pair{s.substr(0, colon), std::atoi(s.c_str() + colon + 1)};
}

/// True for errors that are codes rather than boxed exceptions or remote errors.
inline bool is_plain_code(const error& e) {
  return e.code() != errc::exception && e.code() != runtime_errc::remote_actor_error &&
         !e.exception();
}

}  // namespace detail

inline msg::Error box_error(const error& e, const msg::Aid& self, std::optional<std::string> cid) {
  msg::Error m;
  m.src_uid = uid_of(self);
  m.relay_path = {uid_of(self)};
  m.message = e.message();
  m.cid = std::move(cid);
  if (e.is_group()) {
    // A group crosses the wire boxed whole, as tractor boxes a BaseExceptionGroup: its text
    // lists every member.
    m.src_type_str = "BaseExceptionGroup";
  } else if (detail::is_plain_code(e)) {
    // Codes travel as "category:value", so that the receiver can rebuild the code itself.
    m.src_type_str = std::string(e.code().category().name()) + ":" + std::to_string(e.code().value());
  } else {
    m.src_type_str = e.type_name();  // a boxed exception's type, or a relayed remote type
  }
  if (!e.source().empty() && !e.is_group()) {
    // Relaying an error from further down the tree: keep its origin, extend its path.
    m.src_uid = parse_described(e.source());
    m.relay_path.clear();
    for (const auto& hop : e.relay_path()) m.relay_path.push_back(parse_described(hop));
    m.relay_path.push_back(uid_of(self));
  }
  if (!e.canceller().empty()) m.canceller = parse_described(e.canceller());
  m.boxed_type_str = e.source().empty() || e.is_group() ? m.src_type_str : "RemoteActorError";
  m.tb_str = e.is_group() ? m.src_type_str : e.type_name();
  return m;
}

inline error unbox_error(const msg::Error& m, std::span<const error_type> known) {
  std::vector<std::string> relay;
  for (const auto& u : m.relay_path) relay.push_back(describe(u));
  boost::system::error_code code = make_error_code(runtime_errc::remote_actor_error);
  std::string type = m.src_type_str;
  std::exception_ptr rebuilt;
  const std::string text = m.message.value_or("");
  if (auto split = detail::split_code(m.src_type_str)) {
    type = split->first;  // unknown categories keep their name
    for (const auto* c : {&core_category(), &wire_category(), &runtime_category(),
                          &boost::system::system_category(), &boost::system::generic_category()}) {
      if (split->first == c->name()) code = boost::system::error_code(split->second, *c);
    }
    for (const auto& k : known) {
      if (k.category && split->first == k.name) code = boost::system::error_code(split->second, *k.category);
    }
  } else {
    for (const auto& k : known) {
      if (k.rebuild && m.src_type_str == k.name) rebuilt = k.rebuild(text);
    }
  }
  return error::remote(code, std::move(type), text, describe(m.src_uid), std::move(relay),
                       std::move(rebuilt), m.canceller ? describe_exactly(*m.canceller) : std::string());
}

}  // namespace runtime

}  // namespace tractor
