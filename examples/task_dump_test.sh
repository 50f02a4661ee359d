#!/usr/bin/env bash
# Runs examples/task_dump, waits for its `ready`, sends the root SIGUSR1 and checks that the
# dump names both children and what each waits on, then ends the tree with SIGINT.
# usage: task_dump_test.sh <binary>
set -euo pipefail
source "$(dirname "$0")/running_tree.sh" "$1"
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
grep -q "receive on a memory channel 'inbox' (holding 0 of 4" "$dir/err"
grep -q "for context demo.listen with root@.* (callee side, cid " "$dir/err"
grep -q "=== actor sleeper@" "$dir/err"
grep -q "task dozer: waits for sleep" "$dir/err"
ls "$dir"/tractor-taskdump-"$pid".log >/dev/null
echo "task_dump: the dump names every actor and its waits"
