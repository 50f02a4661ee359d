// Definitions for tractor/spawn/exec.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/spawn/exec.hpp>

namespace tractor::spawn {

TRACTOR_DECL result<std::unique_ptr<process>> exec_process(const boost::asio::any_io_executor& ex,
                                                     const exec_request& req) {
  const std::string program = req.program.empty() ? "/proc/self/exe" : req.program;
  std::vector<std::string> argv_store;
  argv_store.push_back(!req.argv0.empty()       ? req.argv0
                       : req.program.empty() ? std::string("tractor-actor")
                                             : program);
  argv_store.insert(argv_store.end(), req.args.begin(), req.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_store;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry(*e);
    if (!req.env.contains(entry.substr(0, entry.find('=')))) env_store.push_back(entry);
  }
  for (const auto& [k, v] : req.env) env_store.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (req.stdout_fd >= 0) posix_spawn_file_actions_adddup2(&actions, req.stdout_fd, 1);
  if (req.pass_fd >= 0) posix_spawn_file_actions_adddup2(&actions, req.pass_fd, 3);
  posix_spawn_file_actions_addclosefrom_np(&actions, req.pass_fd >= 0 ? 4 : 3);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return error(boost::system::error_code(rc, boost::system::system_category()),
                 "cannot start " + program + ": " + std::strerror(rc));
  }
  return process::adopt(ex, pid);
}

}  // namespace tractor::spawn
