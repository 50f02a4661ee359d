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

#include <tractor/config.hpp>

#include <tractor/msg/types.hpp>
#include <tractor/msg/wire_error.hpp>
#include <tractor/runtime/identity.hpp>
#include <tractor/runtime/runtime_error.hpp>

#include <boost/core/demangle.hpp>

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

namespace tractor {

/// Where an error came from across actors, attached to it by the runtime
/// (`error::details<remote_origin>()`): tractor's `RemoteActorError.src_uid` and `.relay_uid`,
/// and `ContextCancelled.canceller`. Each actor is named "name@uuid".
struct remote_origin final : error_details {
  /// The actor that raised the error.
  std::string source;
  /// The actors it was relayed through, oldest first.
  std::vector<std::string> relay_path;
  /// For a cancellation at an actor's request: the actor that asked.
  std::string canceller;
};

/// An error raised in another actor: its code, the type name and message of what was raised
/// there, the actor it came from and the actors it was relayed through, the exception rebuilt
/// here when its type is registered (else null), and, for a cancellation, who asked for it.
[[nodiscard]] error remote_error(boost::system::error_code code, std::string type_name, std::string message,
                                 std::string source, std::vector<std::string> relay_path,
                                 std::exception_ptr rebuilt = nullptr, std::string canceller = {});

/// A local cancellation (`code`, `message`) that `canceller`, an actor, asked for.
[[nodiscard]] error cancelled_by(boost::system::error_code code, std::string message, std::string canceller);

/// The actor an error came from; empty for an error raised in this actor.
[[nodiscard]] std::string_view source_of(const error& e) noexcept;

/// The actors an error was relayed through, oldest first; empty for a local error.
[[nodiscard]] std::span<const std::string> relay_path_of(const error& e) noexcept;

/// For a cancellation an actor asked for: that actor; empty otherwise.
[[nodiscard]] std::string_view canceller_of(const error& e) noexcept;

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

}  // namespace tractor

#if TRACTOR_HEADER_ONLY
#include <tractor/runtime/impl/remote_error.ipp>
#endif
