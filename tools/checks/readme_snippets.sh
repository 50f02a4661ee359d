#!/bin/bash
# Checks that no C++ example lives only in Markdown: every ```cpp block of README.md follows
# a line `<!-- snippet: PATH#NAME -->` and equals, line for line, the region of PATH between
# `// --(doc-NAME-begin)--` and `// --(doc-NAME-end)--` (with the region's common indentation
# removed). PATH is a file the build compiles.
#   readme_snippets.sh README.md
set -u
readme=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
blocks=0

# Splits the README's cpp blocks into $work/block.N, each with its marker in $work/marker.N.
awk -v dir="$work" '
  /^<!-- snippet: .* -->$/ { marker = $3; next_is_marked = 1; next }
  /^```cpp$/ { n++; inside = 1; printf "%s", (next_is_marked ? marker : "") > (dir "/marker." n);
               close(dir "/marker." n); printf "" > (dir "/block." n); next }
  /^```/ && inside { inside = 0; close(dir "/block." n); next_is_marked = 0; next }
  inside { print > (dir "/block." n); next }
  { if ($0 != "") next_is_marked = 0 }
' "$readme"

dedent() {
  awk '{ lines[NR] = $0; if ($0 ~ /[^ ]/) { match($0, /^ */); if (min == "" || RLENGTH < min) min = RLENGTH } }
       END { for (i = 1; i <= NR; i++) print substr(lines[i], min + 1) }'
}

for block in "$work"/block.*; do
  [[ -e $block ]] || continue
  blocks=$((blocks + 1))
  n=${block##*.}
  marker=$(cat "$work/marker.$n")
  first=$(head -1 "$block")
  if [[ -z $marker ]]; then
    echo "README block $n (\"$first\") has no <!-- snippet: PATH#NAME --> line before it" >&2
    failures=$((failures + 1))
    continue
  fi
  path=${marker%%#*} name=${marker#*#}
  if [[ ! -f $path ]]; then
    echo "README block $n: $path does not exist" >&2
    failures=$((failures + 1))
    continue
  fi
  sed -n "/\/\/ --(doc-$name-begin)--/,/\/\/ --(doc-$name-end)--/p" "$path" | sed '1d;$d' | dedent >"$work/region.$n"
  if [[ ! -s $work/region.$n ]]; then
    echo "README block $n: no region doc-$name in $path" >&2
    failures=$((failures + 1))
    continue
  fi
  if ! diff -u "$work/region.$n" "$block" >"$work/diff.$n"; then
    echo "README block $n differs from $path#$name (- file, + README):" >&2
    cat "$work/diff.$n" >&2
    failures=$((failures + 1))
  fi
done
if [[ $blocks -eq 0 ]]; then
  echo "no cpp blocks found in $readme" >&2
  exit 1
fi
[[ $failures -eq 0 ]] || exit 1
echo "all $blocks C++ blocks of the README are regions of compiled files"
