#!/usr/bin/env bash
# A convention check passes on include/ and fails on a tree made to break the convention: the
# files given as <path>=<line> (paths under the tree's tractor/ folder).
# usage: check_test.sh <check script> <include dir> <what the bad tree has> <path>=<line>...
set -euo pipefail
check=$1
include=$2
what=$3
shift 3
"$check" "$include"
bad=$(mktemp -d)
trap 'rm -rf "$bad"' EXIT
for file in "$@"; do
  mkdir -p "$(dirname "$bad/tractor/${file%%=*}")"
  echo "${file#*=}" > "$bad/tractor/${file%%=*}"
done
if "$check" "$bad" 2>/dev/null; then
  echo "the check missed $what" >&2
  exit 1
fi
echo "$what is caught"
