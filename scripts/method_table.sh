#!/usr/bin/env bash
# Every method of the library on stories260K through the tool: RTN, GPTQ, GPTAQ, ResComp, AdaRound,
# AutoRound and VQRound (GPTQ init) at W4, W3, W2 per channel and W4 with groups of 32; mean NLL on
# the first 1000 TinyStories-val paragraphs, quantize times. About 15 minutes on 2 cores.
# Assumes build/vqround (./scripts/main.sh builds it). Environment: VQR_DATA_DIR, VQR_TABLE_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/blas_env.sh
data=${VQR_DATA_DIR:-../shared/data}
model=$data/models/stories260K/stories260K.bin
calib=$data/text/exllamav2-calibration/tiny.utf8
text=$data/text/tinystories/tinystories_val.txt
out=${VQR_TABLE_OUT:-build/method-table}
rm -rf "$out"
mkdir -p "$out"
results=$out/results.jsonl
ev() { build/vqround eval --model "$1" --text "$text" --limit 1000 --json; }
echo "{\"method\": \"fp32\", \"bits\": 32, \"group\": -1, \"quantize\": {\"seconds\": 0}, \"eval\": $(ev "$model")}" >"$results"
for setting in "4 -1" "3 -1" "2 -1" "4 32"; do
  read -r bits group <<<"$setting"
  for method in rtn gptq gptaq rescomp adaround autoround vqround; do
    extra=()
    case $method in
      adaround) extra=(--steps 1000 --lr 0.01) ;;
      autoround) extra=(--steps 200) ;;
      vqround) extra=(--init gptq --steps 500 --kmeans-iters 100) ;;
    esac
    echo "$method W$bits g$group ..." >&2
    dir=$out/$method-w$bits-g$group
    q=$(build/vqround quantize --model "$model" --calib "$calib" --calib-samples 32 --method "$method" \
      --bits "$bits" --group-size "$group" "${extra[@]}" --out "$dir" --json 2>/dev/null)
    echo "{\"method\": \"$method\", \"bits\": $bits, \"group\": $group, \"quantize\": $q, \"eval\": $(ev "$dir")}" >>"$results"
  done
done
/usr/bin/python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cols = [(4, -1), (3, -1), (2, -1), (4, 32)]
table = {}
for r in rows:
    table.setdefault(r["method"], {})[(r["bits"], r["group"])] = (r["eval"]["mean_nll"], r["quantize"]["seconds"])
fp = table.pop("fp32")[(32, -1)][0]
print("stories260K, mean NLL on the first 1000 TinyStories-val paragraphs (fp32 %.4f); quantize seconds" % fp)
print("%-10s" % "method" + "".join("%20s" % ("W%d %s" % (b, "per-channel" if g < 0 else "g%d" % g)) for b, g in cols))
for m, cells in table.items():
    print("%-10s" % m + "".join("%20s" % ("%.4f (%.0f s)" % cells[c] if c in cells else "-") for c in cols))
PY
