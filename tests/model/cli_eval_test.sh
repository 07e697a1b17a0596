#!/bin/sh
# End-to-end test of `vqround eval` and `vqround inspect` on stories260K: the paragraph protocol
# reproduces the reference NLL of the first 200 paragraphs through --json; the GPTQ protocol
# counts windows; a quantized-model folder (model.bin, tokenizer.bin, vqround.json) is accepted;
# the tokenizer beside a checkpoint is found or refused when ambiguous; errors are
# "vqround: ..." + "hint: ..." on stderr with nothing on stdout and a non-zero exit.
# Usage: cli_eval_test.sh <vqround binary> <source dir>. Exit 77 = skipped (no data).
. "$(dirname "$0")/cli_test_lib.sh"
# json_get FILE EXPR: evaluates EXPR with j = the single JSON object in FILE; prints the result.
json_get() { "$py" -c "import json,sys; t=open(sys.argv[1]).read(); assert t.count('\\n')==1, 'not one line'; j=json.loads(t); r=($2); print(r)" "$1"; }

m=$data/models/stories260K
text=$data/text/tinystories/tinystories_val.txt

"$exe" --help > "$tmp/out" 2>&1 || fail "vqround --help exited non-zero"
grep -q "^  eval " "$tmp/out" || fail "--help does not list eval"
grep -q "^  inspect " "$tmp/out" || fail "--help does not list inspect"
"$exe" eval --help > "$tmp/out" 2>&1 || fail "eval --help exited non-zero"
grep -q -- "--protocol" "$tmp/out" || fail "eval --help does not document --protocol"
"$exe" inspect --help > "$tmp/out" 2>&1 || fail "inspect --help exited non-zero"

# --- paragraph protocol: the reference number (tokenizer found beside the model: tok512.bin) ---
"$exe" eval --model "$m/stories260K.bin" --text "$text" --limit 200 --json > "$tmp/out" 2> "$tmp/err" ||
  fail "eval --json exited with $?"
cat "$tmp/out"
[ "$(json_get "$tmp/out" "abs(j['mean_nll'] - 1.439589) < 1e-4")" = True ] || fail "mean_nll is not 1.439589 +- 1e-4"
[ "$(json_get "$tmp/out" "j['predicted_tokens'], j['sequences'], j['protocol']")" = "(19395, 200, 'paragraph')" ] ||
  fail "wrong counts or protocol"
[ "$(json_get "$tmp/out" "abs(j['perplexity'] - 4.2190) < 1e-3 and j['seconds'] >= 0")" = True ] || fail "perplexity or seconds wrong"

"$exe" eval --model "$m/stories260K.bin" --tokenizer "$m/tok512.bin" --text "$text" --limit 20 > "$tmp/out" 2> "$tmp/err" ||
  fail "eval exited with $?"
cat "$tmp/out"
grep -q "^mean NLL [0-9.]*  perplexity [0-9.]*  ([0-9]* predicted tokens, 20 paragraphs, [0-9.]* s)$" "$tmp/out" ||
  fail "human summary line malformed"
nll20=$(sed 's/^mean NLL \([0-9.]*\) .*/\1/' "$tmp/out")

# --- GPTQ protocol: 5 windows of 128 -> 5 x 127 predictions ---
"$exe" eval --model "$m/stories260K.bin" --text "$text" --protocol gptq --seqlen 128 --limit 5 --json \
  > "$tmp/out" 2> "$tmp/err" || fail "eval --protocol gptq exited with $?"
cat "$tmp/out"
[ "$(json_get "$tmp/out" "j['predicted_tokens'], j['sequences'], j['protocol'], j['seqlen']")" = "(635, 5, 'gptq', 128)" ] ||
  fail "gptq protocol counts wrong"

# --- a quantized-model folder ---
q=$tmp/qmodel
mkdir "$q" && cp "$m/stories260K.bin" "$q/model.bin" && cp "$m/tok512.bin" "$q/tokenizer.bin" || fail "cannot set up $q"
printf '{"method": "rtn", "bits": 4, "note": "a \\"quoted\\" value"}\n' > "$q/vqround.json"
"$exe" eval --model "$q" --text "$text" --limit 20 > "$tmp/out" 2> "$tmp/err" || fail "eval of a folder exited with $?"
grep -q "^mean NLL $nll20 " "$tmp/out" || fail "the folder's NLL differs from the checkpoint's ($nll20)"
"$exe" inspect "$q" > "$tmp/out" 2> "$tmp/err" || fail "inspect of a folder exited with $?"
grep -q '^{"method": "rtn", "bits": 4, "note": "a \\"quoted\\" value"}$' "$tmp/out" || fail "vqround.json not printed verbatim"
"$exe" inspect --json "$q" > "$tmp/out" 2> "$tmp/err" || fail "inspect --json of a folder exited with $?"
[ "$(json_get "$tmp/out" "j['quantization']['method'], j['quantization']['bits'], j['dim']")" = "('rtn', 4, 64)" ] ||
  fail "inspect --json does not inline vqround.json"

# --- inspect a checkpoint ---
"$exe" inspect "$m/stories260K.bin" > "$tmp/out" 2> "$tmp/err" || fail "inspect exited with $?"
cat "$tmp/out"
for pat in "^dim  *64$" "^hidden dim  *172$" "^layers  *5$" "^heads  *8$" "^kv heads  *4$" "^vocab  *512$" \
           "^seq len  *512$" "^shared classifier  *yes$" "^parameters  *260,032$" "^file size  *1,056,540 bytes"; do
  grep -q "$pat" "$tmp/out" || fail "inspect output lacks '$pat'"
done
"$exe" inspect --json "$m/stories260K.bin" > "$tmp/out" 2> "$tmp/err" || fail "inspect --json exited with $?"
[ "$(json_get "$tmp/out" "j['n_layers'], j['n_kv_heads'], j['parameters'], j['shared_classifier'], 'quantization' in j")" = \
  "(5, 4, 260032, True, False)" ] || fail "inspect --json fields wrong"

# --- the tokenizer beside a checkpoint: none, or several, is an error naming --tokenizer ---
mkdir "$tmp/bare" && cp "$m/stories260K.bin" "$tmp/bare/model.bin" || fail "cannot set up bare"
"$exe" eval --model "$tmp/bare/model.bin" --text "$text" --limit 1 > "$tmp/out" 2> "$tmp/err" && fail "no tokenizer accepted"
expect_error "no tokenizer"
grep -q "tokenizer" "$tmp/err" || fail "no-tokenizer error does not mention the tokenizer"
cp "$m/tok512.bin" "$tmp/bare/tokA.bin" && cp "$m/tok512.bin" "$tmp/bare/tokB.bin"
"$exe" eval --model "$tmp/bare/model.bin" --text "$text" --limit 1 > "$tmp/out" 2> "$tmp/err" && fail "ambiguous tokenizer accepted"
expect_error "ambiguous tokenizer"
grep -q "tokA.bin" "$tmp/err" || fail "ambiguity error does not list the candidates"

# --- errors ---
"$exe" eval --model "$tmp/missing.bin" --text "$text" > "$tmp/out" 2> "$tmp/err" && fail "missing model accepted"
expect_error "missing model"
grep -q "$tmp/missing.bin" "$tmp/err" || fail "error does not name the missing model"
"$exe" eval --model "$m/stories260K.bin" --text "$tmp/missing.txt" > "$tmp/out" 2> "$tmp/err" && fail "missing text accepted"
expect_error "missing text"
grep -q "$tmp/missing.txt" "$tmp/err" || fail "error does not name the missing text"
: > "$tmp/empty.txt"
"$exe" eval --model "$m/stories260K.bin" --text "$tmp/empty.txt" > "$tmp/out" 2> "$tmp/err" && fail "empty text accepted"
expect_error "empty text"
"$exe" eval --model "$m/stories260K.bin" --text "$tmp/empty.txt" --protocol gptq > "$tmp/out" 2> "$tmp/err" &&
  fail "empty text accepted (gptq)"
expect_error "empty text (gptq)"
"$exe" inspect "$tmp/missing.bin" > "$tmp/out" 2> "$tmp/err" && fail "inspect of a missing file succeeded"
expect_error "inspect missing"
head -c 1000 "$m/stories260K.bin" > "$tmp/trunc.bin"
"$exe" inspect "$tmp/trunc.bin" > "$tmp/out" 2> "$tmp/err" && fail "truncated model accepted"
expect_error "truncated model"
grep -q "truncated" "$tmp/err" || fail "truncation not reported"

# Command-line mistakes exit 2.
for bad in "--protocol sliding" "--seqlen 4096 --protocol gptq" "--seqlen 128" "--limit -1"; do
  # shellcheck disable=SC2086
  "$exe" eval --model "$m/stories260K.bin" --text "$text" $bad > "$tmp/out" 2> "$tmp/err"
  [ $? -eq 2 ] || fail "eval $bad should exit 2"
  expect_error "eval $bad"
done
"$exe" eval --text "$text" > "$tmp/out" 2> "$tmp/err"
[ $? -eq 2 ] || fail "eval without --model should exit 2"
"$exe" inspect > "$tmp/out" 2> "$tmp/err"
[ $? -eq 2 ] || fail "inspect without a path should exit 2"
echo "PASS"
