#!/usr/bin/env bash
# Makes the fuzzers' seed corpora and fixed files with the project's own commands (nothing binary is
# committed): a tiny random llama2.c model (tiny_llama2c), rewritten by `vqround convert` and
# `vqround quantize` into every reader's formats, the real tokenizers, and serialized Hessians.
#   make_seeds.sh BUILD_DIR OUT_DIR     -> OUT_DIR/seeds/<harness>/, OUT_DIR/fixed/
# The data folder: $VQR_DATA_DIR, else $VQR_DATA_DIR_DEFAULT (CMake passes ../shared/data).
set -euo pipefail
build=$1 out=$2
data=${VQR_DATA_DIR:-${VQR_DATA_DIR_DEFAULT:-}}
if [[ ! -f $data/models/stories260K/stories260K.bin ]]; then
  echo "make_seeds: no stories260K under '$data'; set VQR_DATA_DIR to the shared data folder" >&2
  exit 1
fi
vqround=$build/vqround tools=$out/tools
stories=$data/models/stories260K
calib=$data/text/tinystories/tinystories_val.txt
# The tool runs under the sanitizers of the fuzz build; its own exit-time leak check is not what
# the seeds are for (the test suite covers the tool).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

work=$(mktemp -d "${TMPDIR:-/tmp}/vqr-seeds-XXXXXX")
trap 'rm -rf "$work"' EXIT
seeds=$work/seeds fixed=$work/fixed
mkdir -p "$fixed" "$seeds"/{fuzz_llama2c,fuzz_hf_folder,fuzz_gguf,fuzz_tokenizer,fuzz_text,fuzz_hessian}

# --- fixed files: tiny models of the two tokenizers' vocabularies, and those tokenizers ---------
"$tools/fuzz_tiny_llama2c" "$fixed/tiny512.bin" 512
"$tools/fuzz_tiny_llama2c" "$fixed/tiny4096.bin" 4096
# install -m 644: the data folder is read-only, its copies here need not be.
install -m 644 "$stories/tok512.bin" "$fixed/tok512.bin"
install -m 644 "$data/models/gutenberg4M/tokenizer.model" "$fixed/tokenizer.model"
# A byte-level BPE tokenizer.json of 512 entries (tiny512.bin's vocabulary), trained on real text.
python3 "$(dirname "$0")/make_bpe_tokenizer.py" "$calib" 512 "$fixed"

# --- llama2.c: the tiny model (shared and separate classifier), and the real stories260K --------
tiny=$work/tiny.bin
"$tools/fuzz_tiny_llama2c" "$tiny" 512
"$tools/fuzz_tiny_llama2c" "$seeds/fuzz_llama2c/tiny_unshared.bin" 512 unshared
cp "$tiny" "$seeds/fuzz_llama2c/tiny.bin"
install -m 644 "$stories/stories260K.bin" "$seeds/fuzz_llama2c/stories260K.bin"
tok=(--tokenizer "$fixed/tok512.bin")

# quiet VQROUND: every command's output goes to a log shown only when it fails.
quiet() {
  if ! "$@" >"$work/log" 2>&1; then
    cat "$work/log" >&2
    echo "make_seeds: failed: $*" >&2
    exit 1
  fi
}
# Calibration: a few short windows are enough for seeds (RTN and GPTQ on a 2-layer model).
qopts=(--calib "$calib" --calib-samples 4 --calib-seqlen 32 --threads 1)

# --- Hugging Face folders, packed (folder_container.h) -----------------------------------------
hf() {  # hf NAME COMMAND...: runs the command (which writes $work/NAME), packs the folder
  local name=$1
  shift
  quiet "$@"
  quiet "$tools/fuzz_pack_folder" "$work/$name" "$seeds/fuzz_hf_folder/$name"
}
hf hf_f32 "$vqround" convert --model "$tiny" "${tok[@]}" --format huggingface --dtype f32 --out "$work/hf_f32"
# The same folder with the byte-level BPE tokenizer.json (+ tokenizer_config.json) instead.
mkdir "$work/hf_bpe"
cp "$work/hf_f32/config.json" "$work/hf_f32/model.safetensors" "$fixed/tokenizer.json" "$fixed/tokenizer_config.json" \
  "$work/hf_bpe/"
quiet "$tools/fuzz_pack_folder" "$work/hf_bpe" "$seeds/fuzz_hf_folder/hf_bpe"
hf hf_bf16 "$vqround" convert --model "$tiny" "${tok[@]}" --format huggingface --dtype bf16 --out "$work/hf_bf16"
# Sharded: stories260K in f32 is just over the smallest shard size (1 MB), so it splits in two.
hf hf_sharded "$vqround" convert --model "$stories/stories260K.bin" --tokenizer "$stories/tok512.bin" \
  --format huggingface --dtype f32 --shard-size 1 --out "$work/hf_sharded"
hf gptq_g32 "$vqround" quantize --model "$tiny" "${tok[@]}" "${qopts[@]}" --method gptq --bits 4 --group-size 32 \
  --format gptq --out "$work/gptq_g32"
hf gptq_act_order "$vqround" quantize --model "$tiny" "${tok[@]}" "${qopts[@]}" --method gptq --bits 4 --group-size 32 \
  --act-order --format gptq --out "$work/gptq_act_order"
hf gptq_8bit_sym "$vqround" quantize --model "$tiny" "${tok[@]}" "${qopts[@]}" --method rtn --bits 8 --sym \
  --format gptq --out "$work/gptq_8bit_sym"
hf compressed_4bit "$vqround" quantize --model "$tiny" "${tok[@]}" "${qopts[@]}" --method rtn --bits 4 --group-size 32 \
  --format compressed-tensors --out "$work/compressed_4bit"
hf compressed_8bit_sym "$vqround" quantize --model "$tiny" "${tok[@]}" "${qopts[@]}" --method rtn --bits 8 --sym \
  --format compressed-tensors --out "$work/compressed_8bit_sym"
hf native_rtn "$vqround" quantize --model "$work/hf_f32" "${qopts[@]}" --method rtn --bits 4 --format native \
  --out "$work/native_rtn"

# --- GGUF: F32 and F16 conversions, Q4_0 / Q4_1 / Q8_0 quantizations -----------------------------
quiet "$vqround" convert --model "$tiny" "${tok[@]}" --format gguf --dtype f32 --out "$seeds/fuzz_gguf/f32.gguf"
quiet "$vqround" convert --model "$tiny" "${tok[@]}" --format gguf --dtype f16 --out "$seeds/fuzz_gguf/f16.gguf"
gguf_q() {  # gguf_q NAME FLAGS...
  local name=$1
  shift
  quiet "$vqround" quantize --model "$tiny" "${tok[@]}" "${qopts[@]}" --group-size 32 --format gguf \
    --out "$seeds/fuzz_gguf/$name.gguf" "$@"
}
gguf_q q4_0 --method rtn --bits 4 --sym
gguf_q q4_1 --method gptq --bits 4
gguf_q q8_0 --method rtn --bits 8 --sym
# The SentencePiece model in GGUF form (its vocabulary with scores and token types).
quiet "$vqround" convert --model "$fixed/tiny4096.bin" --tokenizer "$fixed/tokenizer.model" --format gguf \
  --dtype f16 --out "$seeds/fuzz_gguf/sentencepiece_f16.gguf"
# (The vocab-only files of ../shared/data are no seeds: a GGUF without tensors fails before its
# vocabulary is read.)

# --- tokenizers: first byte 0 = tokenizer.bin, 1 = tokenizer.model, 2 = tokenizer.json ----------
prefixed() {  # prefixed BYTE FILE OUT
  { printf "\\x$1"; cat "$2"; } >"$3"
}
prefixed 00 "$stories/tok512.bin" "$seeds/fuzz_tokenizer/tok512.bin"
prefixed 00 "$data/models/gutenberg4M/tok4096.bin" "$seeds/fuzz_tokenizer/tok4096.bin"
prefixed 01 "$data/models/gutenberg4M/tokenizer.model" "$seeds/fuzz_tokenizer/gutenberg.model"
prefixed 01 "$data/models/llama2c-tokenizer/tokenizer.model" "$seeds/fuzz_tokenizer/llama.model"
prefixed 02 "$fixed/tokenizer.json" "$seeds/fuzz_tokenizer/bpe.json"

# --- text and ids (fuzz_text.cpp's 4-byte header, then the body) --------------------------------
text_seed() {  # text_seed NAME FLAGS COUNT LENGTH SEED BODY_FILE
  { printf "\\x$2\\x$3\\x$4\\x$5"; cat "$6"; } >"$seeds/fuzz_text/$1"
}
head -c 3000 "$calib" >"$work/story.txt"
head -c 2000 "$data/text/wikitext-2-raw/wiki.test.raw" >"$work/wiki.txt"
head -c 2000 "$data/text/exllamav2-calibration/multilingual.utf8" >"$work/multilingual.txt"
# Ids: little-endian uint32 0..199 (inside both vocabularies).
python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<200I", *range(200)))' >"$work/ids.bin"
text_seed paragraphs_mem 00 03 10 00 "$work/story.txt"
text_seed paragraphs_file 01 00 20 00 "$work/story.txt"
text_seed windows_mem 04 02 10 00 "$work/wiki.txt"
text_seed random_file 09 03 08 07 "$work/story.txt"
text_seed random_sp_mem 18 02 10 05 "$work/multilingual.txt"
text_seed windows_sp_file 15 01 21 00 "$work/wiki.txt"
text_seed ids_windows_mem 06 04 08 00 "$work/ids.bin"
text_seed ids_random_file 0b 02 10 03 "$work/ids.bin"
text_seed ids_sp_windows_file 17 00 20 00 "$work/ids.bin"
text_seed bpe_paragraphs_mem 20 03 20 00 "$work/multilingual.txt"
text_seed bpe_random_file 29 02 10 09 "$work/story.txt"

# --- serialized Hessians -----------------------------------------------------------------------
quiet "$tools/fuzz_make_hessians" "$seeds/fuzz_hessian"

rm -rf "$out/seeds" "$out/fixed"
mv "$seeds" "$out/seeds"
mv "$fixed" "$out/fixed"
for d in "$out"/seeds/*/; do
  echo "make_seeds: $(basename "$d"): $(ls "$d" | wc -l) seeds, $(du -sk "$d" | cut -f1) KB"
done
