#!/usr/bin/env bash
# Fails if a header or definition file of the library has a line over 120 characters or is
# over 400 lines long (CONTRIBUTING.md, "Sizes"): a file a reader takes in at once, with one
# job, in lines that fit beside another file on a screen.
# usage: sizes.sh <include dir>
set -euo pipefail
root=${1:-include}
max_line=120
max_lines=400
mapfile -t files < <(find "$root/tractor" \( -name '*.hpp' -o -name '*.ipp' \) | sort)
((${#files[@]} > 0)) || { echo "no headers under $root" >&2; exit 2; }
bad=0
for file in "${files[@]}"; do
  if awk -v max="$max_line" 'length > max { print FILENAME ":" FNR ": " length " characters"; found = 1 }
                              END { exit !found }' "$file" >&2; then
    bad=1
  fi
  lines=$(wc -l < "$file")
  if ((lines > max_lines)); then
    echo "$file: $lines lines" >&2
    bad=1
  fi
done
((bad == 0)) || { echo "over $max_line characters a line or $max_lines lines a file: the files above" >&2; exit 1; }
echo "sizes: ${#files[@]} files checked"
