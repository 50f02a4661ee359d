#!/bin/bash
# Compiles one program that must not compile and checks the compiler's first error: it must
# be the static_assert the program's `// expect:` line names, and the error's context (the
# lines up to and including it, and its notes) must name the function of `// names:`.
# A program without an `// expect:` line is a control: it must compile.
#   compile_fail_test.sh CXX PROGRAM.cpp INCLUDE_DIR
set -u
cxx=$1 program=$2 include=$3
expect=$(sed -n 's|^// expect: ||p' "$program")
names=$(sed -n 's|^// names: ||p' "$program")
# Separately compiled: the typed front ends are what is checked, and leaving the library's
# non-template definitions out halves the time.
out=$("$cxx" -std=c++20 -fsyntax-only -fmax-errors=1 -DSPDLOG_COMPILED_LIB -DTRACTOR_SEPARATE_COMPILATION -I "$include" "$program" 2>&1)
status=$?
if [[ -z $expect ]]; then
  [[ $status -eq 0 ]] && exit 0
  echo "the control program does not compile:" >&2
  echo "$out" | head -40 >&2
  exit 1
fi
if [[ $status -eq 0 ]]; then
  echo "$program compiled, but must not" >&2
  exit 1
fi
first=$(grep -m1 'error:' <<<"$out")
if [[ $first != *"$expect"* ]]; then
  echo "first error is not the intended one" >&2
  echo "  wanted: $expect" >&2
  echo "  got:    $first" >&2
  echo "$out" | head -40 >&2
  exit 1
fi
if ! grep -qF -- "$names" <<<"$out"; then
  echo "the error does not name $names:" >&2
  echo "$out" | head -40 >&2
  exit 1
fi
echo "ok: $first"
