// tractor/msg/types.hpp — the wire messages, with tractor's type and field names.
//
// Names are Python tractor's own (tractor/msg/types.py), kept identical so that a msgpack codec
// can later let a C++ actor join a Python tree. Where Python had `dict` or `Any`, a C++ type
// stands in: payloads (`pld`, `Start.kwargs`) stay encoded bytes (`raw_pld`) in the envelope
// and are decoded only by the receiver that knows the type it expects.
//
//     tractor::msg::msg m = tractor::msg::Started{"cid-1", codec.encode_payload(42)};
//     std::visit([](auto& x) { fmt::print("{}\n", x.msg_type); }, m);   // "Started"
#pragma once

#include <cereal/cereal.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace tractor::msg {

/// An actor's unique id on the wire: (name, uuid).
using uid = std::pair<std::string, std::string>;

/// An address in tractor's unwrapped wire form: TCP (host, port), UDS (dir, file name).
using wire_addr = std::pair<std::string, std::variant<std::int64_t, std::string>>;

/// A payload still in its encoded form (the channel codec's encoding of some `T`).
struct raw_pld {
  std::string bytes;
  friend bool operator==(const raw_pld&, const raw_pld&) = default;
};

/// Actor identity; the first message on every channel, from both sides.
struct Aid {
  static constexpr std::string_view msg_type = "Aid";
  std::string name;
  std::string uuid;
  std::optional<std::int64_t> pid;
  std::optional<bool> is_registrar;
  bool is_probe = false;
  friend bool operator==(const Aid&, const Aid&) = default;
};

/// Parent → child, right after the handshake: what the child needs to boot.
struct SpawnSpec {
  static constexpr std::string_view msg_type = "SpawnSpec";
  std::map<std::string, std::string> _parent_main_data;
  std::map<std::string, std::string> _runtime_vars;
  std::map<std::string, std::string> enable_modules;
  std::vector<wire_addr> reg_addrs;
  std::optional<std::vector<wire_addr>> bind_addrs;
  friend bool operator==(const SpawnSpec&, const SpawnSpec&) = default;
};

/// A request to run `ns.func` with encoded arguments (`kwargs`) in the callee.
struct Start {
  static constexpr std::string_view msg_type = "Start";
  std::string cid;
  std::string ns;
  std::string func;
  raw_pld kwargs;
  msg::uid uid;
  std::string pld_spec = "typing.Any";
  friend bool operator==(const Start&, const Start&) = default;
};

/// The callee's first answer to `Start`: "asyncfunc", "asyncgen" or "context".
struct StartAck {
  static constexpr std::string_view msg_type = "StartAck";
  std::string cid;
  std::string functype;
  friend bool operator==(const StartAck&, const StartAck&) = default;
};

/// End of one direction of a stream.
struct Stop {
  static constexpr std::string_view msg_type = "Stop";
  std::string cid;
  friend bool operator==(const Stop&, const Stop&) = default;
};

/// The result of a runtime cancel request.
struct CancelAck {
  static constexpr std::string_view msg_type = "CancelAck";
  std::string cid;
  bool pld = false;
  friend bool operator==(const CancelAck&, const CancelAck&) = default;
};

/// A boxed error; `cid` empty means runtime-scoped (not tied to one task).
struct Error {
  static constexpr std::string_view msg_type = "Error";
  uid src_uid;
  std::string src_type_str;
  std::string boxed_type_str;
  std::vector<uid> relay_path;
  std::optional<std::string> message;
  std::string tb_str;
  std::optional<uid> canceller;
  std::optional<uid> sender;
  std::optional<std::string> cid;
  std::optional<raw_pld> _bad_msg;  // the encoded Started/Yield/Return that failed to decode
  std::optional<std::map<std::string, std::string>> _bad_msg_as_dict;
  friend bool operator==(const Error&, const Error&) = default;
};

/// The value passed to `started()` by a context's callee.
struct Started {
  static constexpr std::string_view msg_type = "Started";
  std::string cid;
  raw_pld pld;
  friend bool operator==(const Started&, const Started&) = default;
};

/// One stream item.
struct Yield {
  static constexpr std::string_view msg_type = "Yield";
  std::string cid;
  raw_pld pld;
  friend bool operator==(const Yield&, const Yield&) = default;
};

/// A remote task's final value.
struct Return {
  static constexpr std::string_view msg_type = "Return";
  std::string cid;
  raw_pld pld;
  friend bool operator==(const Return&, const Return&) = default;
};

/// Any message, in tractor's order (the index is the binary codecs' tag).
using msg = std::variant<Aid, SpawnSpec, Start, StartAck, Stop, CancelAck, Error, Started, Yield,
                         Return>;

/// Whether `m` is a control message: one that ends a dialog or reports a failure (`Stop`,
/// `Error`, `CancelAck`). Channels send these whatever their back-pressure: they must
/// neither wait behind a full queue nor be lost.
[[nodiscard]] inline bool is_control(const msg& m) noexcept {
  return std::holds_alternative<Stop>(m) || std::holds_alternative<Error>(m) || std::holds_alternative<CancelAck>(m);
}

/// Whether `m` only announces what follows it (`StartAck`: the callee's answers come next).
/// Channels let it wait for them, so that both leave in one write.
[[nodiscard]] inline bool is_prelude(const msg& m) noexcept { return std::holds_alternative<StartAck>(m); }

/// The `msg_type` name of whatever `m` holds.
[[nodiscard]] inline std::string_view type_name(const msg& m) noexcept {
  return std::visit([](const auto& x) { return x.msg_type; }, m);
}

// -- serialization (cereal), field by field with tractor's names -------------------------

// A payload is one value in every archive: a byte string (in text archives, the payload's
// own encoding as a string, rather than an object wrapping it).
template <class Archive>
  requires cereal::traits::is_text_archive<Archive>::value
std::string save_minimal(const Archive&, const raw_pld& p) {
  return p.bytes;
}
template <class Archive>
  requires cereal::traits::is_text_archive<Archive>::value
void load_minimal(const Archive&, raw_pld& p, const std::string& bytes) {
  p.bytes = bytes;
}
template <class Archive>
  requires(!cereal::traits::is_text_archive<Archive>::value)
void serialize(Archive& ar, raw_pld& p) {
  ar(p.bytes);  // binary archives: no copy
}

template <class Archive>
void serialize(Archive& ar, Aid& m) {
  ar(cereal::make_nvp("name", m.name), cereal::make_nvp("uuid", m.uuid),
     cereal::make_nvp("pid", m.pid), cereal::make_nvp("is_registrar", m.is_registrar),
     cereal::make_nvp("is_probe", m.is_probe));
}

template <class Archive>
void serialize(Archive& ar, SpawnSpec& m) {
  ar(cereal::make_nvp("_parent_main_data", m._parent_main_data),
     cereal::make_nvp("_runtime_vars", m._runtime_vars),
     cereal::make_nvp("enable_modules", m.enable_modules),
     cereal::make_nvp("reg_addrs", m.reg_addrs), cereal::make_nvp("bind_addrs", m.bind_addrs));
}

template <class Archive>
void serialize(Archive& ar, Start& m) {
  ar(cereal::make_nvp("cid", m.cid), cereal::make_nvp("ns", m.ns),
     cereal::make_nvp("func", m.func), cereal::make_nvp("kwargs", m.kwargs),
     cereal::make_nvp("uid", m.uid), cereal::make_nvp("pld_spec", m.pld_spec));
}

template <class Archive>
void serialize(Archive& ar, StartAck& m) {
  ar(cereal::make_nvp("cid", m.cid), cereal::make_nvp("functype", m.functype));
}

template <class Archive>
void serialize(Archive& ar, Stop& m) {
  ar(cereal::make_nvp("cid", m.cid));
}

template <class Archive>
void serialize(Archive& ar, CancelAck& m) {
  ar(cereal::make_nvp("cid", m.cid), cereal::make_nvp("pld", m.pld));
}

template <class Archive>
void serialize(Archive& ar, Error& m) {
  ar(cereal::make_nvp("src_uid", m.src_uid), cereal::make_nvp("src_type_str", m.src_type_str),
     cereal::make_nvp("boxed_type_str", m.boxed_type_str),
     cereal::make_nvp("relay_path", m.relay_path), cereal::make_nvp("message", m.message),
     cereal::make_nvp("tb_str", m.tb_str), cereal::make_nvp("canceller", m.canceller),
     cereal::make_nvp("sender", m.sender), cereal::make_nvp("cid", m.cid),
     cereal::make_nvp("_bad_msg", m._bad_msg),
     cereal::make_nvp("_bad_msg_as_dict", m._bad_msg_as_dict));
}

template <class Archive, class M>
  requires std::same_as<M, Started> || std::same_as<M, Yield> || std::same_as<M, Return>
void serialize(Archive& ar, M& m) {
  ar(cereal::make_nvp("cid", m.cid), cereal::make_nvp("pld", m.pld));
}

}  // namespace tractor::msg
