// tractor/testing/impl/matrix.hpp — definitions of matrix.hpp's templates.
#pragma once

#include <fmt/core.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <tuple>
#include <typeinfo>

namespace tractor::testing {

template <class Tree>
std::string tree_key() {
  // The exec child is the same program: its type names are the parent's.
  return fmt::format("{:016x}", std::hash<std::string_view>{}(typeid(Tree).name()));
}

template <class Tree>
void tree_test<Tree>::SetUp() {
  ::setenv(tree_env, tree_key<Tree>().c_str(), 1);
  actor_fixture::SetUp();
}

template <class Tree, class... Backends>
std::optional<std::string> skip_on_backend(std::string_view reason) {
  if (!(std::is_same_v<typename Tree::spawn_type, Backends> || ...)) return std::nullopt;
  return "skipped on spawn backend " + std::string(Tree::spawn_type::name) + ": " + std::string(reason);
}

namespace detail {

/// Runs the child runtime of the tree among `Trees` whose key is `key`; whether one was.
template <class... Trees>
bool run_child_of(tree_list<Trees...>*, const std::string& key, int& code) {
  return ((key == tree_key<Trees>() ? (code = runtime::child_main(Trees::policies()), true) : false) || ...);
}

/// The per-program sessions of `Trees`' spawn backends (`spawn::session`), as one type.
template <class... Trees>
std::tuple<spawn::session<typename Trees::spawn_type>...> sessions_of(tree_list<Trees...>*);

}  // namespace detail

template <class... Lists>
int run_tests(int argc, char** argv) {
  if (!runtime::is_child_process()) {
    // Each backend's session (the forkserver) for the whole program, started as `run_main`
    // starts it, before anything else: a server forked later, from a test program grown by the
    // tests before, makes every fork after it copy that much more (a thousand forkserver
    // children took twice as long after a thousand exec ones).
    [[maybe_unused]] const std::tuple<decltype(detail::sessions_of(static_cast<Lists*>(nullptr)))...> sessions;
    return run_all_tests(argc, argv);
  }
  const char* key = std::getenv(tree_env);
  int code = 1;
  if (key && (detail::run_child_of(static_cast<Lists*>(nullptr), key, code) || ...)) return code;
  std::fprintf(stderr,
               "tractor::testing: this exec child's tree (%s=%s) is not among run_tests' trees; a test that starts "
               "actors derives its fixture from tree_test<Tree>\n",
               tree_env, key ? key : "");
  return 1;
}

}  // namespace tractor::testing
