"""Compiler options for the project's own code, kept in one place."""

TRACTOR_COPTS = [
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Wshadow",
    # Our own code is warning-free; keep it so. System headers are not affected.
    "-Werror",
    # g++ 12 misreports Asio's coroutine frame allocator (operator new/delete pairs
    # in awaitable_frame_base) once frames are inlined.
    "-Wno-mismatched-new-delete",
] + select({
    # .bazelrc's --copt=-O1 (quick test builds) comes after -c opt's -O2 and would win: the
    # separately compiled library must be as optimised in an opt build as the code using it.
    "//tools:opt_build": ["-O2"],
    "//conditions:default": [],
})

# Tests are compiled unoptimised: most of a cold build is their coroutine-heavy bodies, whose
# code generation -O0 makes a quarter cheaper, while the library they call stays at -O1.
TRACTOR_TEST_COPTS = TRACTOR_COPTS + select({
    "//tools:opt_build": [],
    "//conditions:default": ["-O0"],
})

# Benchmarks are measured in an opt build (`-c opt`: -O2); the default build (CI's) only
# checks that they compile, at the default -O1.
TRACTOR_BENCH_COPTS = TRACTOR_COPTS
