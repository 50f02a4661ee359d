#!/usr/bin/env bash
# Compile-time benchmark: examples/quickstart.cpp (an actor tree: the runtime, a transport,
# a codec, three exposed functions) beside its floor, a minimal Asio coroutine TCP echo
# server (tools/bench/asio_echo.cpp), each compiled with plain g++ -O1 in the same run,
# alternately, best of N. The quickstart is compiled both ways a program can use the library
# (tractor/config.hpp): header-only, and separately compiled, where the library's src/*.cpp
# are compiled once beforehand (that one-time cost is printed apart) and the program's own
# file is what a rebuild pays. Prints each and its ratio to the floor.
#
#     tools/bench/compile_time.sh [N]      (N: rounds, 3 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
flags=(-std=c++20 -O1 -DSPDLOG_COMPILED_LIB -I include)
ms() {  # runs "$@", prints its wall time in milliseconds
  local t0
  t0=$(date +%s%N)
  "$@"
  echo $((($(date +%s%N) - t0) / 1000000))
}
lib=0
for src in src/*.cpp; do
  # What a program that links //:testing (GoogleTest), //:tcp or //:tls (libcrypto, libssl)
  # needs: not the quickstart's (README, "Using it without Bazel").
  case "$src" in src/testing.cpp | src/tcp.cpp | src/tls.cpp) continue ;; esac
  t=$(ms g++ "${flags[@]}" -DTRACTOR_SEPARATE_COMPILATION -c "$src" -o "$out/$(basename "$src" .cpp).o")
  lib=$((lib + t))
done
best_floor=0
best_header_only=0
best_separate=0
for _ in $(seq "$rounds"); do
  f=$(ms g++ "${flags[@]}" tools/bench/asio_echo.cpp -o "$out/echo")
  h=$(ms g++ "${flags[@]}" examples/quickstart.cpp -o "$out/a.out" -lspdlog -lfmt)
  s=$(ms g++ "${flags[@]}" -DTRACTOR_SEPARATE_COMPILATION examples/quickstart.cpp "$out"/*.o \
    -o "$out/b.out" -lspdlog -lfmt)
  ((best_floor == 0 || f < best_floor)) && best_floor=$f
  ((best_header_only == 0 || h < best_header_only)) && best_header_only=$h
  ((best_separate == 0 || s < best_separate)) && best_separate=$s
done
awk -v r="$rounds" -v f="$best_floor" -v h="$best_header_only" -v s="$best_separate" -v l="$lib" 'BEGIN {
  printf "compile time (g++ -O1, best of %d): asio echo server floor %.2f s\n", r, f / 1000
  printf "  quickstart, header-only:          %.2f s = %.2fx floor\n", h / 1000, h / f
  printf "  quickstart, separately compiled:  %.2f s = %.2fx floor (the library once: %.2f s)\n",
         s / 1000, s / f, l / 1000 }'
