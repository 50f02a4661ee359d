// Definitions for tractor/runtime/remote_error.hpp that are not templates: compiled once (src/)
// under TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/runtime/remote_error.hpp>
#include <tractor/shm/error.hpp>

namespace tractor {

// -- definitions -------------------------------------------------------------------------

TRACTOR_DECL error remote_error(boost::system::error_code code, std::string type_name, std::string message,
                                std::string source, std::vector<std::string> relay_path, std::exception_ptr rebuilt,
                                std::string canceller) {
  auto origin = std::make_shared<remote_origin>();
  origin->source = std::move(source);
  origin->relay_path = std::move(relay_path);
  origin->canceller = std::move(canceller);
  return error::with_details(code, std::move(message), std::move(type_name), std::move(rebuilt), std::move(origin));
}

TRACTOR_DECL error cancelled_by(boost::system::error_code code, std::string message, std::string canceller) {
  auto origin = std::make_shared<remote_origin>();
  origin->canceller = std::move(canceller);
  return error::with_details(code, std::move(message), {}, nullptr, std::move(origin));
}

TRACTOR_DECL std::string_view source_of(const error& e) noexcept {
  const auto* o = e.details<remote_origin>();
  return o ? std::string_view(o->source) : std::string_view();
}

TRACTOR_DECL std::span<const std::string> relay_path_of(const error& e) noexcept {
  const auto* o = e.details<remote_origin>();
  return o ? std::span<const std::string>(o->relay_path) : std::span<const std::string>();
}

TRACTOR_DECL std::string_view canceller_of(const error& e) noexcept {
  const auto* o = e.details<remote_origin>();
  return o ? std::string_view(o->canceller) : std::string_view();
}

namespace runtime {

namespace detail {

/// Splits "category:value" (the last ':' followed only by digits, and not part of a "::"
/// scope, so exception type names never match).
TRACTOR_DECL std::optional<std::pair<std::string, int>> split_code(const std::string& s) {
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
TRACTOR_DECL bool is_plain_code(const error& e) {
  return e.code() != errc::exception && e.code() != runtime_errc::remote_actor_error &&
         !e.exception();
}

}  // namespace detail

TRACTOR_DECL msg::Error box_error(const error& e, const msg::Aid& self, std::optional<std::string> cid) {
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
  const std::string_view source = source_of(e);
  if (!source.empty() && !e.is_group()) {
    // Relaying an error from further down the tree: keep its origin, extend its path.
    m.src_uid = parse_described(source);
    m.relay_path.clear();
    for (const auto& hop : relay_path_of(e)) m.relay_path.push_back(parse_described(hop));
    m.relay_path.push_back(uid_of(self));
  }
  if (const std::string_view by = canceller_of(e); !by.empty()) m.canceller = parse_described(by);
  m.boxed_type_str = source.empty() || e.is_group() ? m.src_type_str : "RemoteActorError";
  m.tb_str = e.is_group() ? m.src_type_str : e.type_name();
  return m;
}

TRACTOR_DECL error unbox_error(const msg::Error& m, std::span<const error_type> known) {
  std::vector<std::string> relay;
  for (const auto& u : m.relay_path) relay.push_back(describe(u));
  boost::system::error_code code = make_error_code(runtime_errc::remote_actor_error);
  std::string type = m.src_type_str;
  std::exception_ptr rebuilt;
  const std::string text = m.message.value_or("");
  if (auto split = detail::split_code(m.src_type_str)) {
    type = split->first;  // unknown categories keep their name
    for (const auto* c : {&core_category(), &wire_category(), &runtime_category(), &shm_category(),
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
  return remote_error(code, std::move(type), text, describe(m.src_uid), std::move(relay), std::move(rebuilt),
                      m.canceller ? describe_exactly(*m.canceller) : std::string());
}

}  // namespace runtime

}  // namespace tractor
