// Test helper: the tree of the runtime suites. `matrix_tree<Codec, Exposed, Errors>` is one
// type whatever the cell, so a test body is compiled once; its policies are those of the
// cell's real tree, `tree<boot_faults<backend>, transport, Codec, Exposed, Errors>` (the
// backend plain or `spawn::prestarted`), picked
// when first asked (tests/support/matrix.hpp, `cell()`). Nothing of the runtime's behaviour
// changes: the table the runtime runs on is the real tree's own.
#pragma once

#include <tractor/runtime/tree.hpp>
#include <tractor/spawn/prestarted.hpp>
#include <tractor/transport/shm.hpp>
#include <tractor/transport/tcp.hpp>
#include <tractor/transport/uds.hpp>

#include "tests/support/matrix.hpp"

#include <optional>
#include <type_traits>

namespace tractor::testing {

/// The spawn type of a matrix tree: what `run_main` sets up per program (the forkserver's
/// session, in a forkserver cell). Children are started by the cell's tree's own backend.
struct matrix_spawn {
  static constexpr std::string_view name = "matrix";
  static result<std::unique_ptr<spawn::child_handle>> start(const boost::asio::any_io_executor&,
                                                            const spawn::spawn_request&) {
    return error(make_error_code(std::errc::function_not_supported), "a matrix tree spawns through its cell's tree");
  }
  struct session {
    std::optional<spawn::session<spawn::forkserver>> forkserver;
    session() {
      if (cell().plain_backend() == "forkserver") forkserver.emplace();
    }
  };
};

/// Runs the program's tests (`run_all_tests`) holding the cell's per-program session from
/// the start, as `run_tests` does: a forkserver cell's server is forked once, from the
/// program before any test started a thread (a fork while another thread holds a lock the
/// child needs, an allocator's under a sanitizer, hangs the child), instead of by each root.
inline int run_matrix_tests(int argc, char** argv) {
  [[maybe_unused]] const spawn::session<matrix_spawn> session;
  return run_all_tests(argc, argv);
}

/// A tree of `Codec`, `Exposed` and `Errors` under the cell's backend, and the cell's transport
/// unless `Transport` fixes one.
template <class Codec, class Exposed, class Errors = errors<>, class Transport = void>
struct matrix_tree {
  using spawn_type = matrix_spawn;
  using codec_type = Codec;
  using exposed_type = Exposed;
  using errors_type = Errors;

  static const runtime::policies& policies() {
    static const runtime::policies& p = pick();
    return p;
  }

 private:
  template <class B, class T>
  using real = tree<boot_faults<B>, T, Codec, Exposed, Errors>;

  template <class B>
  static const runtime::policies& with_backend() {
    if constexpr (!std::is_void_v<Transport>) {
      return real<B, Transport>::policies();
    } else {
      if (cell().transport == transport::tcp::name) return real<B, transport::tcp>::policies();
      if (cell().transport == transport::shm::name) return real<B, transport::shm>::policies();
      return real<B, transport::uds>::policies();
    }
  }

  template <class B>
  static const runtime::policies& plain_or_prestarted() {
    if (cell().prestarted()) return with_backend<spawn::prestarted<B>>();
    return with_backend<B>();
  }

  static const runtime::policies& pick() {
    if (cell().plain_backend() == spawn::forkserver::name) return plain_or_prestarted<spawn::forkserver>();
    if (cell().plain_backend() == spawn::thread::name) return plain_or_prestarted<spawn::thread>();
    return plain_or_prestarted<spawn::exec>();
  }
};

}  // namespace tractor::testing
