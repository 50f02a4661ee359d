#!/usr/bin/env bash
# tractor-reap against a real tree: examples/task_dump's root keeps two child actors up. The
# reaper, told the root's pid, lists both, then stops both with the first step of the ladder
# (a child actor ends at SIGINT, as tractor's do), and finds nothing left on a second pass.
# usage: reap_test.sh <task_dump binary> <tractor-reap binary>
set -euo pipefail
reap=$2
source "$(dirname "$0")/running_tree.sh" "$1"
"$reap" --pid "$pid" --dry-run | tee "$dir/dry"
grep -q "2 to stop" "$dir/dry"
grep -q "_subactor\[listener@" "$dir/dry"
grep -q "_subactor\[sleeper@" "$dir/dry"
"$reap" --pid "$pid" --grace 5 | tee "$dir/reaped"
[[ $(grep -c "stopped by SIGINT" "$dir/reaped") == 2 ]]
"$reap" --pid "$pid" | tee "$dir/again"
grep -q "0 to stop" "$dir/again"
kill -INT "$pid" 2>/dev/null || true
wait "$pid" || true
