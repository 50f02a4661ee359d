#!/bin/bash
# Every public header compiles on its own: each is the only include of a translation unit,
# compiled syntax-only (declarations and the templates a header instantiates itself are all
# there is to check; no object is needed) with the project's warnings as errors. Sharded by
# Bazel (TEST_TOTAL_SHARDS), every shard taking every n-th header. Headers that only include
# others are skipped (each included one is checked).
#   header_check.sh CXX INCLUDE_DIR FLAG... -- HEADER...
set -u
cxx=$1 include=$2
shift 2
flags=()
while (($#)) && [[ $1 != -- ]]; do
  flags+=("$1")
  shift
done
shift
[[ -n ${TEST_SHARD_STATUS_FILE:-} ]] && touch "$TEST_SHARD_STATUS_FILE"
shards=${TEST_TOTAL_SHARDS:-1}
index=${TEST_SHARD_INDEX:-0}
failed=0
checked=0
broken=0
i=0
for header in "$@"; do
  ((i++ % shards == index)) || continue
  name=${header#"$include"/}
  # A header of nothing but includes (tractor.hpp, core.hpp, ...) compiles alone exactly when
  # the headers it includes do, and each of those is checked itself.
  if [[ -z $(sed -e 's://.*$::' "$header" | grep -vE '^[[:space:]]*(#[[:space:]]*(include|pragma once)|$)') ]]; then
    continue
  fi
  if ! out=$(echo "#include <$name>" | "$cxx" -std=c++20 -fsyntax-only "${flags[@]}" -I "$include" -x c++ - 2>&1); then
    echo "$name does not compile on its own:" >&2
    echo "$out" | head -40 >&2
    failed=1
    ((broken++))
  fi
  ((checked++))
done
echo "shard $((index + 1)) of $shards: $checked public headers checked, $broken do not compile on their own"
exit "$failed"
