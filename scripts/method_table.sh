#!/usr/bin/env bash
# The quality table of issue 17 item 7: every method of the library on stories260K through the tool,
# calibrated as the main job is (exllamav2's tiny.utf8, 32 random windows of 512 tokens), at W4, W3
# and W2 per channel and W3 with groups of 32: RTN, GPTQ, GPTAQ, ResComp, AdaRound and AutoRound
# layer-wise, AutoRound block-wise (--blockwise), VQRound layer-wise (GPTQ init) and end to end
# (--e2e, RTN init and GPTQ init; at this model's size the default K = 4096 codewords cover every
# vector, so also K = 64, about 8% of the weights trainable), and AdaRound end to end (GPTQ init:
# dense latents, the same steps, for VQRound's convergence claim). Mean NLL on the TinyStories-val paragraphs (all 4300 by
# default), quantize wall time and the trainable-parameter share. With VQR_TABLE_GUTENBERG=1 also
# gutenberg4M (W3 and W2 g128; 128 windows of 256 from gutenberg_calib.txt; NLL on the first 400 KB
# of the held-out books, GPTQ protocol, windows of 256).
# Environment: VQR_DATA_DIR, VQR_TABLE_OUT (build/method-table), VQR_TABLE_PARAGRAPHS (0 = all),
# VQR_TABLE_E2E_STEPS (5000, VQRound's preset), VQR_TABLE_SETTINGS ("4 -1;3 -1;2 -1;3 32"),
# VQR_TABLE_METHODS (all of the above, space-separated), VQR_TABLE_THREADS (0 = all cores; two
# copies on disjoint settings with 1 thread each use two cores better on models this small, and
# scripts/method_table.py prints their results.jsonl files as one table). Assumes build/vqround
# (./scripts/main.sh builds it). The e2e rows dominate: 5000 steps of 512 tokens each.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/blas_env.sh
data=${VQR_DATA_DIR:-../shared/data}
model=$data/models/stories260K/stories260K.bin
calib=$data/text/exllamav2-calibration/tiny.utf8
text=$data/text/tinystories/tinystories_val.txt
out=${VQR_TABLE_OUT:-build/method-table}
paragraphs=${VQR_TABLE_PARAGRAPHS:-0}
e2e_steps=${VQR_TABLE_E2E_STEPS:-5000}
settings=${VQR_TABLE_SETTINGS:-"4 -1;3 -1;2 -1;3 32"}
threads=${VQR_TABLE_THREADS:-0}
methods=${VQR_TABLE_METHODS:-"rtn gptq gptaq rescomp adaround autoround autoround-bw vqround vqround-e2e-rtn vqround-e2e-gptq vqround-e2e-gptq-k64 adaround-e2e-gptq"}
rm -rf "$out"
mkdir -p "$out"
results=$out/results.jsonl
limit=()
[ "$paragraphs" != 0 ] && limit=(--limit "$paragraphs")

# flags_of METHOD: the tool's flags for a table row.
flags_of() {
  case $1 in
    adaround) echo "--method adaround --init gptq --steps 1000 --lr 0.01" ;;
    autoround) echo "--method autoround --steps 200" ;;
    autoround-bw) echo "--method autoround --steps 200 --blockwise" ;;
    vqround) echo "--method vqround --init gptq --steps 500 --kmeans-iters 100" ;;
    vqround-e2e-rtn) echo "--method vqround --init rtn --e2e --steps $e2e_steps --kmeans-iters 100" ;;
    vqround-e2e-gptq) echo "--method vqround --init gptq --e2e --steps $e2e_steps --kmeans-iters 100" ;;
    vqround-e2e-gptq-k64) echo "--method vqround --init gptq --e2e --steps $e2e_steps --kmeans-iters 100 --codebook-size 64" ;;
    adaround-e2e-gptq) echo "--method adaround --init gptq --e2e --steps $e2e_steps --lr 0.01" ;;
    *) echo "--method $1" ;;
  esac
}

# row MODEL_NAME METHOD BITS GROUP QUANTIZE_JSON EVAL_JSON FOLDER
row() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
name, method, bits, group, q, ev, folder = sys.argv[1:]
q, ev = json.loads(q), json.loads(ev)
layers = json.load(open(folder + "/vqround.json"))["layers"]
trainable = sum(l.get("trainable_params", 0) or 0 for l in layers)
print(json.dumps({"model": name, "method": method, "bits": int(bits), "group": int(group),
                  "quantize": q, "eval": ev, "trainable_params": trainable}))
PY
}

ev_stories() { build/vqround eval --threads "$threads" --model "$1" --text "$text" "${limit[@]}" --json; }
echo "{\"model\": \"stories260K\", \"method\": \"fp32\", \"bits\": 32, \"group\": -1, \"quantize\": {\"seconds\": 0}, \"eval\": $(ev_stories "$model"), \"trainable_params\": 0}" >"$results"
IFS=';' read -r -a setting_list <<<"$settings"
for setting in "${setting_list[@]}"; do
  read -r bits group <<<"$setting"
  for method in $methods; do
    echo "stories260K $method W$bits g$group ..." >&2
    dir=$out/stories-$method-w$bits-g$group
    # shellcheck disable=SC2046
    q=$(build/vqround quantize --threads "$threads" --model "$model" --calib "$calib" --calib-samples 32 $(flags_of "$method") \
      --bits "$bits" --group-size "$group" --out "$dir" --json 2>"$dir.log")
    row stories260K "$method" "$bits" "$group" "$q" "$(ev_stories "$dir")" "$dir" >>"$results"
  done
done

if [ "${VQR_TABLE_GUTENBERG:-0}" = 1 ]; then
  g=$data/models/gutenberg4M
  held=$out/gutenberg_heldout_400k.txt
  head -c 409600 "$data/text/gutenberg/gutenberg_heldout.txt" >"$held"
  ev_g() { build/vqround eval --threads "$threads" --model "$1" --tokenizer "$g/tokenizer.model" --text "$held" --protocol gptq --seqlen 256 --json; }
  echo "{\"model\": \"gutenberg4M\", \"method\": \"fp32\", \"bits\": 32, \"group\": -1, \"quantize\": {\"seconds\": 0}, \"eval\": $(ev_g "$g/gutenberg4M.bin"), \"trainable_params\": 0}" >>"$results"
  for bits in 3 2; do
    for method in rtn gptq autoround autoround-bw vqround-e2e-gptq; do
      echo "gutenberg4M $method W$bits g128 ..." >&2
      dir=$out/gutenberg-$method-w$bits
      # shellcheck disable=SC2046
      q=$(build/vqround quantize --threads "$threads" --model "$g/gutenberg4M.bin" --tokenizer "$g/tokenizer.model" \
        --calib "$data/text/gutenberg/gutenberg_calib.txt" --calib-samples 128 --calib-seqlen 256 \
        $(flags_of "$method") --bits "$bits" --group-size 128 --out "$dir" --json 2>"$dir.log")
      row gutenberg4M "$method" "$bits" 128 "$q" "$(ev_g "$dir")" "$dir" >>"$results"
    done
  done
fi

/usr/bin/python3 scripts/method_table.py "$results"
