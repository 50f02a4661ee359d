#!/usr/bin/env bash
# tractor-ps against a real tree: examples/task_dump's root and its two child actors are listed
# as one tree (as text and as JSON), `--dump` prints the tree's task dump (by pid, or one
# actor's by name), and a process that
# does not handle SIGUSR1 is refused, not signalled.
# usage: ps_test.sh <task_dump binary> <tractor-ps binary>
set -euo pipefail
ps=$2
source "$(dirname "$0")/running_tree.sh" "$1"
sleep 300 &
bystander=$!
also_kill+=("$bystander")
"$ps" | tee "$dir/ps"
grep -qE "^$pid +\(root\)" "$dir/ps"
grep -qE "^  [0-9]+ +exec +listener@[0-9a-f]{8} .* /unix/.*/listener@[0-9]+(\.[0-9]+)?$" "$dir/ps"
grep -qE "^  [0-9]+ +exec +sleeper@[0-9a-f]{8} " "$dir/ps"
"$ps" --json >"$dir/json"
[[ $(grep -c "\"ppid\": $pid," "$dir/json") == 2 ]]
grep -q "\"name\": \"listener@" "$dir/json"
"$ps" --dump "$pid" >"$dir/dump"
grep -q "=== actor listener@" "$dir/dump"
grep -q "=== actor sleeper@" "$dir/dump"
# By name: the actor process titled _subactor[sleeper@...] dumps itself.
"$ps" --dump sleeper >"$dir/by_name"
grep -q "=== actor sleeper@" "$dir/by_name"
if "$ps" --dump nobody-called-so 2>"$dir/unknown"; then
  echo "an actor nobody runs was dumped" >&2
  exit 1
fi
grep -q "no actor called nobody-called-so" "$dir/unknown"
if "$ps" --dump "$bystander" 2>"$dir/refused"; then
  echo "a process without a SIGUSR1 handler was dumped" >&2
  exit 1
fi
grep -q "does not handle SIGUSR1" "$dir/refused"
kill -0 "$bystander"  # still alive
"$ps" --bogus 2>/dev/null && exit 1
kill -INT "$pid" 2>/dev/null || true
wait "$pid" || true
