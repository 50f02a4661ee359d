#!/usr/bin/env bash
# The daemon example as its README section runs it: a daemon in the background, a program
# that finds and calls it, another that stops it; the daemon must exit 0 and leave nothing.
set -euo pipefail
daemon="$1"
# A registry of this test's own: tests running side by side never meet. (An abstract socket
# name, not a file; it must fit in 107 bytes.)
registry=$(mktemp -u /tmp/tractor-daemon-test-XXXXXXXX)
export TRACTOR_REGISTRY_ADDRS="/unix$registry"
"$daemon" serve &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true' EXIT
# The daemon, first on the registry address, becomes the registrar: it is up once it listens
# there (a client started before that would become the registrar itself). Bounded.
for _ in $(seq 200); do
  grep -q " @$registry\$" /proc/net/unix && break
  kill -0 $pid || { echo "the daemon died" >&2; exit 1; }
  sleep 0.05
done
out=$("$daemon" call Ada)
echo "$out"
grep -qF "hello, Ada, from the greeter (pid $pid)" <<<"$out" || { echo "no greeting from the daemon" >&2; exit 1; }
"$daemon" stop
wait $pid
status=$?
trap - EXIT
[ "$status" -eq 0 ] || { echo "the daemon exited with $status" >&2; exit 1; }
if "$daemon" call Ada 2>/dev/null; then echo "a stopped daemon answered" >&2; exit 1; fi
if grep -q "@$registry" /proc/net/unix; then echo "the registry name outlived the daemon" >&2; exit 1; fi
echo "daemon example: ok"
