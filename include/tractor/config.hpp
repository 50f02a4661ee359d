// tractor/config.hpp — header-only (the default) or separately compiled.
//
// Header-only, a program needs `-I include` and nothing built first. Separately compiled,
// the library's non-template code (the `.ipp` files under each `impl/`) is compiled once
// instead of in every translation unit that includes it, which is most of a tree's compile
// time: define TRACTOR_SEPARATE_COMPILATION in every translation unit of the program and
// link the objects of `src/*.cpp` (Bazel's targets do both). Templates stay in headers
// either way.
#pragma once

#if defined(TRACTOR_SEPARATE_COMPILATION)
#define TRACTOR_HEADER_ONLY 0
#define TRACTOR_DECL
#else
#define TRACTOR_HEADER_ONLY 1
#define TRACTOR_DECL inline
#endif
