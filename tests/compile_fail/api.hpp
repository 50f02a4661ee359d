// The tree the compile-fail programs misuse: two math functions exposed, an interface with one.
#pragma once

#include <tractor/codec/cereal_binary.hpp>
#include <tractor/runtime/tree.hpp>
#include <tractor/transport/uds.hpp>

#include <string>

namespace math {
inline tractor::awaitable<int> add(int a, int b) { co_return a + b; }
inline tractor::awaitable<int> mul(int a, int b) { co_return a * b; }
inline tractor::awaitable<int> neg(int a) { co_return -a; }
}  // namespace math

/// No serialize function: cereal cannot encode it.
struct opaque {
  int fd = -1;
};
namespace io {
inline tractor::awaitable<int> use(opaque o) { co_return o.fd; }
}  // namespace io

using tree = tractor::tree<tractor::spawn::exec, tractor::transport::uds, tractor::codec::cereal_binary,
                           tractor::exposed<&math::add, &math::mul, &io::use>>;
using add_only = tractor::interface<&math::add>;
