#!/usr/bin/env bash
# The main job: set up, build, then quantize the real stories260K model (../shared/data) with RTN,
# GPTQ and VQRound (GPTQ initialization) at 4 and 3 bits — whole model, block by block, calibrated
# on exllamav2's tiny.utf8 (TinyStories-style text; 32 random windows of 512 tokens, sized for this
# 260K-parameter model) — evaluate each on the TinyStories validation text (the paragraph protocol
# of the reference NLL file, all 4300 paragraphs), and print the table with times.
# Environment: VQR_DATA_DIR (default ../shared/data), VQR_MAIN_OUT (default build/main-job).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/blas_env.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVQR_BUILD_TESTS=OFF -DVQR_BUILD_BENCH=OFF -DVQR_BUILD_CLI=ON >/dev/null
cmake --build build -j"$(nproc)" --target vqround_cli >/dev/null
data=${VQR_DATA_DIR:-../shared/data}
model=$data/models/stories260K/stories260K.bin
calib=$data/text/exllamav2-calibration/tiny.utf8
text=$data/text/tinystories/tinystories_val.txt
out=${VQR_MAIN_OUT:-build/main-job}
rm -rf "$out"
mkdir -p "$out"

results=$out/results.jsonl
# One JSON line per row: name, bits, quantize seconds, and the eval JSON.
row() {  # row NAME BITS QSECONDS MODEL_PATH
  local ev
  ev=$(build/vqround eval --model "$4" --text "$text" --json)
  echo "{\"name\": \"$1\", \"bits\": $2, \"quantize_seconds\": $3, \"eval\": $ev}" >>"$results"
}

echo "fp32 reference ..." >&2
row fp32 32 0 "$model"
for bits in 4 3; do
  for method in rtn gptq vqround; do
    extra=()
    [[ $method == vqround ]] && extra=(--init gptq --steps 500 --kmeans-iters 100)
    echo "$method ${bits}-bit ..." >&2
    q=$(build/vqround quantize --model "$model" --calib "$calib" --calib-samples 32 --method "$method" \
      --bits "$bits" "${extra[@]}" --out "$out/$method-w$bits" --json 2>/dev/null)
    secs=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$q")
    row "$method" "$bits" "$secs" "$out/$method-w$bits"
  done
done

/usr/bin/python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
fp = rows[0]["eval"]["mean_nll"]
print("stories260K on TinyStories validation (paragraph protocol, %d predicted tokens)" % rows[0]["eval"]["predicted_tokens"])
print("%-10s %4s  %10s  %10s  %9s  %11s  %8s" % ("method", "bits", "mean NLL", "perplexity", "vs fp32", "quantize s", "eval s"))
for r in rows:
    e = r["eval"]
    bits = "fp32" if r["name"] == "fp32" else "W%d" % r["bits"]
    print("%-10s %4s  %10.6f  %10.4f  %+9.4f  %11.1f  %8.1f" % (r["name"], bits, e["mean_nll"], e["perplexity"],
          e["mean_nll"] - fp, r["quantize_seconds"], e["seconds"]))
PY
