#!/usr/bin/env bash
# Compile-time benchmark: examples/quickstart.cpp (an actor tree: the runtime, a transport,
# a codec, two exposed functions) beside its floor, a minimal Asio coroutine TCP echo server
# (tools/bench/asio_echo.cpp), each compiled with plain g++ -O1 in the same run, alternately,
# best of N. Prints both and the ratio.
#
#     tools/bench/compile_time.sh [N]      (N: rounds, 3 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ms() {  # compiles $1 into $out, prints the wall time in milliseconds
  local t0
  t0=$(date +%s%N)
  g++ -std=c++20 -O1 -DSPDLOG_COMPILED_LIB -I include "$1" -o "$out/a.out" -lspdlog -lfmt
  echo $((($(date +%s%N) - t0) / 1000000))
}
best_floor=0
best_tree=0
for _ in $(seq "$rounds"); do
  f=$(ms tools/bench/asio_echo.cpp)
  q=$(ms examples/quickstart.cpp)
  ((best_floor == 0 || f < best_floor)) && best_floor=$f
  ((best_tree == 0 || q < best_tree)) && best_tree=$q
done
awk -v r="$rounds" -v f="$best_floor" -v q="$best_tree" 'BEGIN {
  printf "compile time (g++ -O1, best of %d): asio echo server floor %.2f s | quickstart %.2f s = %.2fx floor\n",
         r, f / 1000, q / 1000, q / f }'
