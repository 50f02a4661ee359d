#!/usr/bin/env bash
# Runs an example; fails if it fails or if its output lacks the expected line.
# usage: run_example_test.sh <binary> <expected text>
set -euo pipefail
out=$("$1")
echo "$out"
grep -qF -- "$2" <<<"$out" || { echo "expected output to contain: $2" >&2; exit 1; }
