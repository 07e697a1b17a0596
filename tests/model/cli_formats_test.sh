#!/bin/sh
# The checkpoint formats through the tool on stories260K: one GPTQ W4 g32 symmetric quantization
# written as native (fp16 scales), gptq, compressed-tensors and gguf. Each output is read back by
# `vqround eval` and `inspect`: gguf (Q4_0 blocks, interleaved RoPE like the source) gives the
# native folder's NLL to the last digit, gptq and compressed-tensors (half RoPE layout) the same
# NLL as each other to the last digit and the native one within 1e-6; `convert` to gguf and back is
# lossless; a 3-bit compressed-tensors export is refused and leaves nothing.
# Usage: cli_formats_test.sh <vqround binary> <source dir>. Exit 77 = skipped (no data).
. "$(dirname "$0")/cli_test_lib.sh"
json_get() { "$py" -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

m=$data/models/stories260K/stories260K.bin
calib=$data/text/exllamav2-calibration/tiny.utf8
text=$data/text/tinystories/tinystories_val.txt
base="$exe quantize --model $m --calib $calib --calib-samples 8 --calib-seqlen 128 --threads 1 --method gptq --group-size 32 --sym"
q="$base --bits 4"
limit=60
[ "${VQR_SANITIZED:-0}" = 1 ] && limit=15

$q --format native --scale-dtype f16 --out "$tmp/native" >"$tmp/out" 2>"$tmp/err" || fail "native run failed"
$q --format gptq --out "$tmp/gptq" >"$tmp/out" 2>"$tmp/err" || fail "gptq run failed"
for f in config.json model.safetensors quantize_config.json tokenizer.bin vqround.json; do
  [ -s "$tmp/gptq/$f" ] || fail "gptq folder lacks $f"
done
[ "$(json_get "$tmp/gptq/config.json" "(lambda q: (q['quant_method'], q['bits'], q['group_size'], q['sym'], q['checkpoint_format']))(j['quantization_config'])")" = \
  "('gptq', 4, 32, True, 'gptq')" ] || fail "gptq quantization_config wrong"
$q --format compressed-tensors --out "$tmp/ct" >"$tmp/out" 2>"$tmp/err" || fail "compressed-tensors run failed"
[ "$(json_get "$tmp/ct/config.json" "j['quantization_config']['format']")" = "pack-quantized" ] || fail "ct format key"
$q --format gguf --dtype f32 --out "$tmp/m.gguf" >"$tmp/out" 2>"$tmp/err" || fail "gguf run failed"
grep -q "Q4_0" "$tmp/err" || fail "the log does not say which tensors became Q4_0"
[ "$(head -c 4 "$tmp/m.gguf")" = GGUF ] || fail "gguf magic missing"

nll() {
  "$exe" eval --model "$1" --text "$text" --limit $limit --threads 1 --json >"$tmp/ev.json" 2>"$tmp/err" || fail "eval $1"
  json_get "$tmp/ev.json" "repr(j['mean_nll'])"
}
n_native=$(nll "$tmp/native"); n_gptq=$(nll "$tmp/gptq"); n_ct=$(nll "$tmp/ct"); n_gguf=$(nll "$tmp/m.gguf")
echo "native $n_native gptq $n_gptq compressed-tensors $n_ct gguf $n_gguf"
[ "$n_gguf" = "$n_native" ] || fail "gguf NLL $n_gguf differs from native $n_native"
[ "$n_ct" = "$n_gptq" ] || fail "compressed-tensors NLL $n_ct differs from gptq $n_gptq"
[ "$("$py" -c "print(abs($n_gptq - $n_native) <= 1e-6 * $n_native)")" = True ] || fail "gptq NLL $n_gptq vs native $n_native"

"$exe" inspect --json "$tmp/gptq" >"$tmp/out" 2>"$tmp/err" || fail "inspect gptq"
[ "$(json_get "$tmp/out" "(j['checkpoint_quantization'], j['format'])")" = "('gptq', 'huggingface')" ] || fail "inspect gptq fields"
"$exe" inspect --json "$tmp/m.gguf" >"$tmp/out" 2>"$tmp/err" || fail "inspect gguf"
[ "$(json_get "$tmp/out" "(j['format'], j['n_layers'])")" = "('gguf', 5)" ] || fail "inspect gguf fields"

# convert: llama2.c -> gguf (f32) -> llama2.c is lossless.
"$exe" convert --model "$m" --format gguf --dtype f32 --out "$tmp/f32.gguf" >"$tmp/out" 2>"$tmp/err" || fail "convert to gguf"
"$exe" convert --model "$tmp/f32.gguf" --format llama2c --out "$tmp/back.bin" >"$tmp/out" 2>"$tmp/err" || fail "convert back"
cp "$data/models/stories260K/tok512.bin" "$tmp/tokenizer.bin"  # found beside back.bin
[ "$(nll "$tmp/back.bin")" = "$(nll "$m")" ] || fail "gguf round trip changed the NLL"

# Refusals leave nothing behind.
$base --bits 3 --format compressed-tensors --out "$tmp/ct3" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] || fail "3-bit compressed-tensors should exit 2 before quantizing"
expect_error "3-bit compressed-tensors"
grep -q "gptq" "$tmp/err" || fail "the refusal does not point to --format gptq"
[ -e "$tmp/ct3" ] && fail "a refused export left its --out"
if ls "$tmp" | grep -q "partial"; then fail "a partial folder was left behind"; fi
$q --format onnx --out "$tmp/x" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] || fail "--format onnx should exit 2"
echo "PASS"
