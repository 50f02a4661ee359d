# Sourced by the tests that need examples/task_dump running: starts it ("$1") with a TMPDIR of
# its own, waits (30 s watchdog) for its `ready` line and leaves the root's pid in `pid`, the
# directory in `dir`. At exit the root and every pid in `also_kill` are killed and `dir` goes.
dir=$(mktemp -d)
export TMPDIR=$dir
also_kill=()
trap 'kill -9 "$pid" "${also_kill[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT
mkfifo "$dir/out"
"$1" >"$dir/out" 2>"$dir/err" &
pid=$!
exec 3<"$dir/out"
# The program says `ready` once every actor is up and blocked.
read -r -t 30 line <&3 || { echo "no ready line; stderr:" >&2; cat "$dir/err" >&2; exit 1; }
echo "$line"
