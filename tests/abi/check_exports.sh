#!/bin/sh
# check_exports.sh NM LIBRARY HEADER
# The shared library exports exactly the C API: every defined dynamic symbol (functions, objects)
# starts with vqr_, every exported vqr_ symbol is declared VQR_API in the public header, and every
# function the header declares is exported. Version nodes (VQROUND_0, absolute 'A' symbols) are
# not API. Fails listing the offending symbols.
set -u
if [ $# -ne 3 ]; then
  echo "usage: $0 NM LIBRARY HEADER" >&2
  exit 2
fi
nm_tool=$1
lib=$2
header=$3
tmp=${TMPDIR:-/tmp}/vqr_abi_exports.$$
trap 'rm -f "$tmp".*' EXIT INT TERM

if ! "$nm_tool" -D --defined-only "$lib" > "$tmp.nm"; then
  echo "FAIL: '$nm_tool -D --defined-only $lib' failed" >&2
  exit 1
fi

# Lines are "address type name" (name may carry @VERSION or @@VERSION). Skip absolute symbols
# (version nodes) and keep the name without its version suffix.
awk 'NF >= 3 && $2 != "A" { sub(/@.*/, "", $3); print $3 }' "$tmp.nm" | sort -u > "$tmp.exported"
if [ ! -s "$tmp.exported" ]; then
  echo "FAIL: $lib exports no symbols at all" >&2
  cat "$tmp.nm" >&2
  exit 1
fi

# Declared API: the identifier before the first '(' on each line starting with VQR_API.
sed -n 's/^VQR_API[^(]*[^A-Za-z0-9_(]\(vqr_[A-Za-z0-9_]*\)[[:space:]]*(.*/\1/p' "$header" | sort -u > "$tmp.declared"
if [ ! -s "$tmp.declared" ]; then
  echo "FAIL: found no VQR_API declarations in $header" >&2
  exit 1
fi
api_lines=$(grep -c '^VQR_API' "$header")
if [ "$api_lines" -ne "$(wc -l < "$tmp.declared")" ]; then
  echo "FAIL: $header has $api_lines lines starting with VQR_API but $(wc -l < "$tmp.declared") parse as" \
    "'VQR_API <type> vqr_name(' (keep each declaration's name on its VQR_API line):" >&2
  grep '^VQR_API' "$header" | grep -v '[^A-Za-z0-9_(]vqr_[A-Za-z0-9_]*[[:space:]]*(' | sed 's/^/  /' >&2
  exit 1
fi

status=0
grep -v '^vqr_' "$tmp.exported" > "$tmp.foreign"
if [ -s "$tmp.foreign" ]; then
  echo "FAIL: $lib exports symbols outside the vqr_ namespace:" >&2
  sed 's/^/  /' "$tmp.foreign" >&2
  status=1
fi
grep '^vqr_' "$tmp.exported" | comm -23 - "$tmp.declared" > "$tmp.undeclared"
if [ -s "$tmp.undeclared" ]; then
  echo "FAIL: $lib exports vqr_ symbols that $header does not declare:" >&2
  sed 's/^/  /' "$tmp.undeclared" >&2
  status=1
fi
comm -13 "$tmp.exported" "$tmp.declared" > "$tmp.missing"
if [ -s "$tmp.missing" ]; then
  echo "FAIL: $lib does not export these functions declared in $header:" >&2
  sed 's/^/  /' "$tmp.missing" >&2
  status=1
fi
# Exported functions must be real code (T), not weak or indirect leftovers of inlined templates.
awk 'NF >= 3 && $2 != "A" && $2 != "T" { n = $3; sub(/@.*/, "", n); print "  " n " (type " $2 ")" }' "$tmp.nm" > "$tmp.types"
if [ -s "$tmp.types" ]; then
  echo "FAIL: exported symbols that are not plain text (T) symbols:" >&2
  cat "$tmp.types" >&2
  status=1
fi

if [ $status -eq 0 ]; then
  echo "OK: $(wc -l < "$tmp.exported") exported symbols, all vqr_ and all declared; all $(wc -l < "$tmp.declared") declared functions present"
fi
exit $status
