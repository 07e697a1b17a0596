#!/bin/sh
# Smoke test of `vqround layer-loss` on stories260K: exit 0 and a complete table; plus the error
# contract (bad file -> "vqround: <file>: ..." and "hint:" on stderr, non-zero exit).
# Usage: cli_layer_loss_test.sh <vqround binary> <source dir>. Exit 77 = skipped (no data).
. "$(dirname "$0")/cli_test_lib.sh"

"$exe" --help > "$tmp/out" 2>&1 || fail "vqround --help exited non-zero"
grep -q "layer-loss" "$tmp/out" || fail "--help does not list layer-loss"
"$exe" layer-loss --help > "$tmp/out" 2>&1 || fail "layer-loss --help exited non-zero"
grep -q -- "--calib-tokens" "$tmp/out" || fail "layer-loss --help does not document --calib-tokens"

m=$data/models/stories260K
"$exe" layer-loss --model "$m/stories260K.bin" --tokenizer "$m/tok512.bin" \
  --text "$data/text/tinystories/tinystories_val.txt" --calib-tokens 1024 --bits 4,3 --threads 2 \
  > "$tmp/out" 2> "$tmp/err" || fail "layer-loss exited with $?"
cat "$tmp/out"
grep -q "^calibration: 1024 tokens" "$tmp/out" || fail "calibration line missing"
grep -q "^layer .*rtn@4 .*gptq@4 .*gptq/rtn@4 .*rtn@3" "$tmp/out" || fail "table header missing"
rows=$(grep -c "^blk\.[0-9]*\.w[qkvo123] " "$tmp/out")
[ "$rows" -eq 35 ] || fail "expected 35 layer rows (5 blocks x 7), got $rows"
grep -q "^blk\.4\.w2  *64 x 172 " "$tmp/out" || fail "w2 row of block 4 missing or wrong shape"
grep -q "^total " "$tmp/out" || fail "totals line missing"

# A missing file: non-zero exit, the file named on stderr, a hint, nothing on stdout.
"$exe" layer-loss --model "$tmp/missing.bin" --tokenizer "$m/tok512.bin" > "$tmp/out" 2> "$tmp/err" && fail "missing model accepted"
grep -q "^vqround: $tmp/missing.bin: " "$tmp/err" || fail "error does not name the file"
grep -q "^hint: " "$tmp/err" || fail "error has no hint"
[ ! -s "$tmp/out" ] || fail "stdout not empty on error"

# A truncated checkpoint fails cleanly too.
head -c 1000 "$m/stories260K.bin" > "$tmp/trunc.bin"
"$exe" layer-loss --model "$tmp/trunc.bin" --tokenizer "$m/tok512.bin" > "$tmp/out" 2> "$tmp/err" && fail "truncated model accepted"
grep -q "truncated" "$tmp/err" || fail "truncation not reported"

# A command-line mistake exits 2.
"$exe" layer-loss --bits 9 > "$tmp/out" 2> "$tmp/err"
[ $? -eq 2 ] || fail "--bits 9 should exit 2"
echo "PASS"
