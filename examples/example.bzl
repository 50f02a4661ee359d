"""An example program that also runs as a test: examples must not rot."""

load("@rules_cc//cc:defs.bzl", "cc_binary")
load("//tools:copts.bzl", "TRACTOR_PROGRAM_COPTS")

def example(name, expect, deps):
    """`name`.cpp as a binary, and `name`_test, which runs it and looks for `expect` in its output."""
    cc_binary(
        name = name,
        srcs = [name + ".cpp"],
        copts = TRACTOR_PROGRAM_COPTS,
        deps = deps + ["@system//:fmt"],
    )
    native.sh_test(
        name = name + "_test",
        size = "small",
        srcs = ["run_example_test.sh"],
        args = [
            "$(location :%s)" % name,
            expect,
        ],
        data = [":" + name],
    )
