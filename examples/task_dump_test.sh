#!/usr/bin/env bash
# Runs examples/task_dump, waits for its `ready`, sends the root SIGUSR1 and checks that the
# dump names both children and what each waits on, then ends the tree with SIGINT.
# usage: task_dump_test.sh <binary>
set -euo pipefail
bin=$1
dir=$(mktemp -d)
export TMPDIR=$dir
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/out"
"$bin" >"$dir/out" 2>"$dir/err" &
pid=$!
exec 3<"$dir/out"
# The program says `ready` once every actor is up and blocked (a watchdog bounds the wait).
read -r -t 30 line <&3 || { echo "no ready line; stderr:" >&2; cat "$dir/err" >&2; kill -9 "$pid"; exit 1; }
echo "$line"
kill -USR1 "$pid"
# The dump is complete once the last child's section holds its dozing task.
for _ in $(seq 1 600); do
  grep -q "task dozer: waits for sleep" "$dir/err" && break
  sleep 0.05
done
kill -INT "$pid"
wait "$pid" || true
cat "$dir/err"
grep -q "=== actor listener@" "$dir/err"
grep -q "receive on a memory channel (holding 0 of 4" "$dir/err"
grep -q "=== actor sleeper@" "$dir/err"
grep -q "task dozer: waits for sleep" "$dir/err"
ls "$dir"/tractor-taskdump-"$pid".log >/dev/null
echo "task_dump: the dump names every actor and its waits"
