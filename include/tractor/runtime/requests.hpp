// tractor/runtime/requests.hpp — the runtime's own requests: what tractor calls with ns
// "self" (`Actor.cancel()`, `Actor._cancel_task()`, the `Registrar` methods).
//
// They are exposed functions like a user's: typed, encoded with the tree's codec and
// dispatched through the same table. Two things set them apart: their wire namespace is
// "self" whatever their C++ namespace, and their first parameter is the call itself
// (`request`), since they act on the actor answering and on the peer asking.
#pragma once

#include <tractor/config.hpp>

#include <tractor/runtime/exposed.hpp>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace tractor::codec {
struct cereal_binary;
struct cereal_json;
}  // namespace tractor::codec

namespace tractor::runtime {

class actor;
class peer;

/// The wire namespace of the runtime's requests.
inline constexpr std::string_view request_ns = "self";

/// One actor in its tree's registrar: who, and where it accepts connections (multiaddrs,
/// printed).
struct registration {
  std::string name;
  std::string uuid;
  std::vector<std::string> addrs;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(cereal::make_nvp("name", name), cereal::make_nvp("uuid", uuid), cereal::make_nvp("addrs", addrs));
  }
  friend bool operator==(const registration&, const registration&) = default;
};

/// A runtime request's view of its call.
struct request {
  /// The actor answering.
  actor& self;
  /// The peer asking; null when an actor asks itself (a registrar's own lookups).
  const std::shared_ptr<peer>& from;
  const msg::Start& start;
  /// Set by a request that answers, or will answer, by itself instead of returning a value:
  /// tractor's cancel requests, answered with a `CancelAck`.
  bool answered = false;
};

namespace requests {

/// tractor's `Actor.cancel()`: ends the actor. The `CancelAck` goes out once its teardown is
/// done (`actor::acknowledge_cancel`). Cancellation: completes at once.
awaitable<void> cancel(request& r);

/// tractor's `Actor._cancel_task()`: cancels this actor's task `cid` (started by any peer);
/// answered with a `CancelAck` saying whether there was one. Cancellation: as `peer::send`.
awaitable<void> cancel_task(request& r, std::string cid);

/// The registrar's requests (tractor's `Registrar` methods); refused with `invalid_operation`
/// in an actor that is not its tree's registrar. See `registrar` for what each does.
///
/// Cancellation: `wait_for_actor` is interrupted at once; the others complete at once.
awaitable<result<void>> register_actor(request& r, registration who);
awaitable<result<void>> unregister_actor(request& r, msg::uid who);
awaitable<result<std::vector<std::string>>> find_actor(request& r, std::string name);
awaitable<result<std::vector<std::string>>> wait_for_actor(request& r, std::string name);
awaitable<result<std::vector<registration>>> get_registry(request& r);
awaitable<result<std::optional<msg::uid>>> delete_addr(request& r, std::string addr);

/// This actor's task-tree dump followed by its children's, all asked at once (see
/// runtime/task_dump.hpp). Cancellation: interrupted at once.
awaitable<result<std::string>> dump_tasks(request& r);

/// Debug mode's terminal lock, in the root (see runtime/debug.hpp): `lock_tty` returns once
/// the asking actor holds it (it keeps it until `unlock_tty` or until its channel ends);
/// `wait_tty_free` returns once nobody holds or waits for it.
///
/// Cancellation: `lock_tty` and `wait_tty_free` are interrupted at once; `unlock_tty`
/// completes at once.
awaitable<result<void>> lock_tty(request& r);
awaitable<result<void>> unlock_tty(request& r);
awaitable<result<void>> wait_tty_free(request& r);

}  // namespace requests

/// The wire name of request `F`.
template <auto F>
constexpr function_name request_name() {
  return {request_ns, name_of<F>().func};
}

/// How the side that asks request `F` encodes its arguments and decodes its answer.
template <auto F>
struct request_codec {
  using value_type = typename call_result_t<F>::value_type;

  msg::raw_pld (*encode)(const args_tuple_t<F>&);
  result<args_tuple_t<F>> (*decode_args)(const msg::raw_pld&);
  result<value_type> (*decode)(const msg::raw_pld&);

  template <codec::codec C>
  static constexpr request_codec make() {
    return {[](const args_tuple_t<F>& a) { return C::encode_payload(a); },
            [](const msg::raw_pld& p) { return codec::decode_pld<C, args_tuple_t<F>>("Start", p); },
            [](const msg::raw_pld& p) -> result<value_type> {
              if constexpr (std::is_void_v<value_type>) {
                (void)p;
                return success();
              } else {
                return codec::decode_pld<C, value_type>("Return", p);
              }
            }};
  }
};

namespace detail {

template <auto... Fs>
struct request_list {
  using codecs_type = std::tuple<request_codec<Fs>...>;

  /// The rows the runtime dispatches "self" requests on, for codec `C`.
  template <codec::codec C>
  static constexpr std::array<exposed_fn, sizeof...(Fs)> table() {
    return {exposed_fn{request_name<Fs>(), &invoke_exposed<C, Fs>, false}...};
  }
  template <codec::codec C>
  static constexpr codecs_type codecs() {
    return {request_codec<Fs>::template make<C>()...};
  }
};

using runtime_requests =
    request_list<&requests::cancel, &requests::cancel_task, &requests::register_actor,
                 &requests::unregister_actor, &requests::find_actor, &requests::wait_for_actor,
                 &requests::get_registry, &requests::delete_addr, &requests::dump_tasks,
                 &requests::lock_tty, &requests::unlock_tty, &requests::wait_tty_free>;

}  // namespace detail

/// The runtime's requests with one tree's codec: the table answering them, and how the
/// asking side encodes them.
struct request_wire {
  std::span<const exposed_fn> table;
  detail::runtime_requests::codecs_type codecs;
  /// The payload of an answer without a value.
  msg::raw_pld (*no_value)();

  template <auto F>
  [[nodiscard]] const request_codec<F>& of() const {
    return std::get<request_codec<F>>(codecs);
  }

  /// The `Start` asking request `F` with `args`, as call `cid` of actor `from`.
  template <auto F>
  [[nodiscard]] msg::Start start(std::string cid, const args_tuple_t<F>& args, msg::uid from) const {
    constexpr function_name name = request_name<F>();
    return msg::Start{std::move(cid), std::string(name.ns), std::string(name.func), of<F>().encode(args),
                      std::move(from)};
  }

  /// The one for codec `C`: built here, or, for the built-in codecs of a separately compiled
  /// library, where the library was compiled (src/runtime_codecs.cpp), since instantiating
  /// every request for a codec costs each translation unit that names a tree.
  template <codec::codec C>
  static const request_wire& make();

  /// The one for codec `C`, built in this translation unit.
  template <codec::codec C>
  static const request_wire& build() {
    static constexpr auto rows = detail::runtime_requests::table<C>();
    static const request_wire wire{rows, detail::runtime_requests::codecs<C>(),
                                   [] { return C::encode_payload(std::monostate{}); }};
    return wire;
  }
};

namespace detail {

/// Whether the library was compiled with codec `C`'s request wire (`prebuilt_request_wire`).
template <class C>
inline constexpr bool request_wire_prebuilt = false;
#if !TRACTOR_HEADER_ONLY
template <>
inline constexpr bool request_wire_prebuilt<codec::cereal_binary> = true;
template <>
inline constexpr bool request_wire_prebuilt<codec::cereal_json> = true;
#endif

/// `request_wire::build<C>()`, instantiated only in src/runtime_codecs.cpp.
template <class C>
const request_wire& prebuilt_request_wire();

}  // namespace detail

template <codec::codec C>
const request_wire& request_wire::make() {
  if constexpr (detail::request_wire_prebuilt<C>) {
    return detail::prebuilt_request_wire<C>();
  } else {
    return build<C>();
  }
}

}  // namespace tractor::runtime
