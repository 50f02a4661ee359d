// tractor/spawn/exec.hpp — the `exec` spawn backend: posix_spawn of a program (by default the
// running binary) that becomes a child actor.
//
// The child inherits only stdin, stdout and stderr: every other descriptor is closed in the
// child before the program starts (listening sockets, channels, pidfds of siblings), so no
// child can keep a parent's socket alive.
#pragma once

#include <tractor/config.hpp>

#include <tractor/spawn/process.hpp>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <spawn.h>

extern char** environ;

namespace tractor::spawn {

/// What to start. Empty `program` means the running binary (`/proc/self/exe`).
struct exec_request {
  std::string program = {};
  std::vector<std::string> args = {};           // argv[1..]
  std::map<std::string, std::string> env = {};  // added to (or replacing entries of) ours
  std::string argv0 = {};                       // what `ps` shows; default: the program
  int stdout_fd = -1;                      // redirect the child's stdout here, if >= 0
  int pass_fd = -1;                        // the child finds this descriptor as 3, if >= 0
};

/// Starts `req.program` and returns its handle. A program that cannot be started is an error
/// naming it and the reason.
result<std::unique_ptr<process>> exec_process(const boost::asio::any_io_executor& ex,
                                              const exec_request& req);

}  // namespace tractor::spawn

#if TRACTOR_HEADER_ONLY
#include <tractor/spawn/impl/exec.ipp>
#endif
