#!/usr/bin/env bash
# The layer check passes on include/ and catches an upward include in a tree made to have one.
set -euo pipefail
check=$1
include=$2
"$check" "$include"
bad=$(mktemp -d)
trap 'rm -rf "$bad"' EXIT
mkdir -p "$bad/tractor/spawn" "$bad/tractor/runtime"
echo '#include <tractor/spawn/a.hpp>' > "$bad/tractor/runtime/b.hpp"
echo '#include <tractor/runtime/b.hpp>' > "$bad/tractor/spawn/a.hpp"
if "$check" "$bad" 2>/dev/null; then
  echo "the check missed spawn including runtime" >&2
  exit 1
fi
echo "an upward include is caught"
