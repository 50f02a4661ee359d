"""Compiler options for the project's own code, kept in one place."""

# Our own code is warning-free; keep it so. System headers are not affected.
TRACTOR_WARNINGS = [
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Wshadow",
    "-Werror",
    # g++ 12 misreports Asio's coroutine frame allocator (operator new/delete pairs
    # in awaitable_frame_base) once frames are inlined.
    "-Wno-mismatched-new-delete",
]

TRACTOR_COPTS = TRACTOR_WARNINGS + select({
    # .bazelrc's --copt=-O1 (quick test builds) comes after -c opt's -O2 and would win: the
    # separately compiled library must be as optimised in an opt build as the code using it.
    "//tools:opt_build": ["-O2"],
    "//conditions:default": [],
})

# Programs that are not the library (tests, examples, benchmarks) are compiled unoptimised and
# without debug info outside `-c opt`: most of a cold build is their coroutine-heavy bodies,
# whose code generation -O0 makes a quarter cheaper, and a fastbuild binary is linked stripped
# of debug info anyway (--strip=sometimes), so -g1 there was compile time spent for nothing.
# The library they call stays at -O1 -g1. In `-c opt` they get the library's -O2 (benchmarks
# are measured there).
TRACTOR_PROGRAM_COPTS = TRACTOR_COPTS + select({
    "//tools:opt_build": [],
    "//conditions:default": [
        "-O0",
        "-g0",
    ],
})

TRACTOR_TEST_COPTS = TRACTOR_PROGRAM_COPTS

TRACTOR_BENCH_COPTS = TRACTOR_PROGRAM_COPTS
