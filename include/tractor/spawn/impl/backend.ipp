// Definitions for tractor/spawn/backend.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp); the `exec`
// backend.
#pragma once

#include <tractor/spawn/backend.hpp>

namespace tractor::spawn {

TRACTOR_DECL result<std::unique_ptr<child_handle>> exec::start(const boost::asio::any_io_executor& ex,
                                                             const spawn_request& req) {
  exec_request r;
  r.env = {{child_env::name, req.boot.name},
           {child_env::uuid, req.boot.uuid},
           {child_env::parent_addr, req.boot.parent_addr},
           {child_env::parent_pid, std::to_string(req.boot.parent_pid)},
           {child_env::parent_registers, req.boot.parent_registers ? "1" : "0"},
           {child_env::loglevel, req.boot.loglevel ? std::string(log::to_string(*req.boot.loglevel)) : ""},
           {child_env::taskdump, req.boot.taskdump ? "1" : "0"}};
  r.argv0 = req.title;
  BOOST_OUTCOME_TRY(auto proc, exec_process(ex, r));
  return std::unique_ptr<child_handle>(std::move(proc));
}

TRACTOR_DECL std::optional<child_boot> exec::boot_from_env() {
  const char* uuid = std::getenv(child_env::uuid);
  if (!uuid) return std::nullopt;
  auto var = [](const char* k) {
    const char* v = std::getenv(k);
    return std::string(v ? v : "");
  };
  child_boot boot{var(child_env::name), uuid, var(child_env::parent_addr),
                  static_cast<pid_t>(std::atoi(var(child_env::parent_pid).c_str()))};
  boot.parent_registers = var(child_env::parent_registers) == "1";
  boot.loglevel = log::parse_level(var(child_env::loglevel));
  boot.taskdump = var(child_env::taskdump) == "1";
  return boot;
}

}  // namespace tractor::spawn
