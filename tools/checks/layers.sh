#!/usr/bin/env bash
# Fails if a header includes one from a layer above its own. The layers, bottom up, are the
# folders of include/tractor (README, "Architecture"); config.hpp is below all, the umbrella
# tractor.hpp above all. Separately compiled definitions (impl/*.ipp) follow the same rule.
# usage: layers.sh <include dir>
set -euo pipefail
root=${1:-include}
rank() {
  case "$1" in
    config.hpp) echo 0 ;; core|core.hpp) echo 0 ;; log) echo 1 ;; msg|shm|shm.hpp) echo 2 ;; codec) echo 3 ;; transport) echo 4 ;;
    spawn) echo 5 ;; runtime) echo 6 ;; discovery) echo 7 ;; tractor.hpp) echo 9 ;; testing|testing.hpp) echo 10 ;;
    *) echo "unknown layer: $1" >&2; exit 2 ;;
  esac
}
bad=0
checked=0
while IFS= read -r file; do
  rel=${file#"$root"/tractor/}
  from=$(rank "${rel%%/*}")
  while IFS= read -r inc; do
    to=$(rank "${inc%%/*}")
    checked=$((checked + 1))
    if ((to > from)); then
      echo "$file includes <tractor/$inc>, a layer above its own" >&2
      bad=1
    fi
  done < <(sed -n 's|^#include <tractor/\([^>]*\)>.*|\1|p' "$file")
done < <(find "$root/tractor" \( -name '*.hpp' -o -name '*.ipp' \) | sort)
((checked > 0)) || { echo "no includes found under $root" >&2; exit 2; }
echo "layers: $checked includes checked"
exit "$bad"
