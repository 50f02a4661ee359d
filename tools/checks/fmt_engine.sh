#!/usr/bin/env bash
# Fails if a header or definition file of the library formats through fmt's templates
# (`format_to`, `format_to_n`, `vformat_to`, `memory_buffer`): each instantiates fmt's whole
# formatting engine in every file that includes it, where `fmt::format`, `fmt::vformat` and
# `fmt::print` call fmt's compiled library (CONTRIBUTING.md, "fmt in headers").
# usage: fmt_engine.sh <include dir>
set -euo pipefail
root=${1:-include}
files=$(find "$root/tractor" \( -name '*.hpp' -o -name '*.ipp' \) | wc -l)
((files > 0)) || { echo "no headers under $root" >&2; exit 2; }
if grep -rnE '\b(v?format_to(_n)?|memory_buffer)\b' --include='*.hpp' --include='*.ipp' "$root/tractor" |
  grep -vE '^[^:]+:[0-9]+:\s*//' >&2; then
  echo "fmt's formatting engine is instantiated by the lines above" >&2
  exit 1
fi
echo "fmt: $files files checked"
