# Shared preamble of the vqround CLI shell tests. Source it with the test's arguments
# (<vqround binary> <source dir>): it sets exe, src, data (skips with exit 77 when the data folder
# is missing, fails under VQR_REQUIRE_DATA=1), py (Debian's python3), a temporary folder tmp
# removed on exit, and fail MESSAGE (prints the captured $tmp/out and $tmp/err, exits 1).
set -u
exe=$1
src=$2
data=${VQR_DATA_DIR:-${VQR_DATA_DIR_DEFAULT:-$src/../shared/data}}
if [ ! -d "$data" ]; then
  if [ "${VQR_REQUIRE_DATA:-0}" = 1 ]; then echo "FAIL: VQR_REQUIRE_DATA=1 but $data is missing"; exit 1; fi
  echo "SKIP: shared data folder not found at $data (set VQR_DATA_DIR)"; exit 77
fi
py=/usr/bin/python3
[ -x "$py" ] || py=python3
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; cat "$tmp/out" "$tmp/err" 2>/dev/null; exit 1; }
# expect_error WHAT: the last command said only "vqround: ..." then "hint: ..." on stderr, nothing on stdout.
expect_error() {
  head -n 1 "$tmp/err" | grep -q "^vqround: " || fail "$1: no 'vqround: ' error line"
  grep -q "^hint: " "$tmp/err" || fail "$1: error has no hint"
  [ "$(wc -l < "$tmp/err")" -le 2 ] || fail "$1: error longer than the message and the hint"
  [ ! -s "$tmp/out" ] || fail "$1: stdout not empty on error"
}
