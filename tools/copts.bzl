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
]

TRACTOR_TEST_COPTS = TRACTOR_COPTS

TRACTOR_BENCH_COPTS = TRACTOR_COPTS + ["-O2"]
