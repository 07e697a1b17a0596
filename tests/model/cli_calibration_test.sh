#!/bin/sh
# `vqround quantize` at scale on stories260K (issue 16 items 3 and 6): --calib-dtype, --max-memory
# and --spill-dir are checked and reach the library; the --dry-run memory figures follow them by
# their arithmetic (tokens x dim x bytes per element, x2 with the fp stream, capped with the rest
# spilled); the time estimate is split by phase at measured rates; --help states the calibration
# default; a real run's --json summary carries the per-phase seconds, the peak hidden-state bytes
# and the calibration settings, and its progress lines match the phases it reports.
# Usage: cli_calibration_test.sh <vqround binary> <source dir>. Exit 77 = skipped (no data).
. "$(dirname "$0")/cli_test_lib.sh"

m=$data/models/stories260K/stories260K.bin
calib=$data/text/exllamav2-calibration/tiny.utf8
q="$exe quantize --model $m --calib $calib --calib-samples 8 --calib-seqlen 128 --threads 1"
plan() {  # plan NAME ARGS...: the --dry-run --json plan into $tmp/NAME.json
  name=$1
  shift
  $q "$@" --dry-run --json >"$tmp/$name.json" 2>"$tmp/err" || { cp "$tmp/$name.json" "$tmp/out"; fail "dry run $name"; }
}

plan f32 --method gptq --bits 4
plan bf16 --method gptq --bits 4 --calib-dtype bf16
plan f16 --method gptq --bits 4 --calib-dtype f16
plan capped --method gptq --bits 4 --max-memory 10K
plan units --method gptq --bits 4 --max-memory 1.5K
plan gptaq --method gptaq --bits 4
plan gptaq_bf16 --method gptaq --bits 4 --calib-dtype bf16 --max-memory 64KiB
"$py" - "$tmp" <<'PY' || fail "the dry-run memory figures do not follow --calib-dtype / --max-memory"
import json, sys
d = sys.argv[1]
p = {k: json.load(open(f"{d}/{k}.json")) for k in ("f32", "bf16", "f16", "capped", "units", "gptaq", "gptaq_bf16")}
mem = {k: v["estimate"]["memory_bytes"] for k, v in p.items()}
tokens, dim = 8 * 128, 64  # stories260K: dim 64; 8 windows of 128 tokens
assert mem["f32"]["hidden_states"] == tokens * dim * 4, mem["f32"]
assert mem["bf16"]["hidden_states"] == tokens * dim * 2 == mem["f16"]["hidden_states"], mem["bf16"]
assert p["bf16"]["estimate"]["calib_dtype"] == "bf16" and p["f16"]["estimate"]["calib_dtype"] == "f16"
for k in ("f32", "bf16", "gptaq"):  # no budget: nothing spilled, all in memory
    assert mem[k]["spilled"] == 0 and mem[k]["hidden_states_in_memory"] == mem[k]["hidden_states"], mem[k]
# The budget caps what stays in memory; the rest spills; the total drops by the spilled bytes.
assert mem["capped"]["hidden_states_in_memory"] == 10 * 1024, mem["capped"]
assert mem["capped"]["spilled"] == tokens * dim * 4 - 10 * 1024, mem["capped"]
assert abs(mem["f32"]["total"] - mem["capped"]["total"] - mem["capped"]["spilled"]) < 1e-6 * mem["f32"]["total"]
assert p["units"]["estimate"]["max_memory_bytes"] == 1536 and mem["units"]["hidden_states_in_memory"] == 1536
# The fp stream doubles the hidden states and the block's fp32 weights, and D doubles the Hessian.
assert p["gptaq"]["totals"]["fp_stream"] and not p["f32"]["totals"]["fp_stream"]
assert mem["gptaq"]["hidden_states"] == 2 * mem["f32"]["hidden_states"], mem
assert mem["gptaq"]["block_fp32"] == 2 * mem["f32"]["block_fp32"], mem
assert mem["gptaq"]["largest_hessian"] == 2 * mem["f32"]["largest_hessian"] == 2 * 172 * 172 * 4, mem
# One block's linears in fp32: 4 x 64^2 (wq, wo) ... stories260K: wq/wo 64x64, wk/wv 32x64, w1/w3 172x64, w2 64x172.
assert mem["f32"]["block_fp32"] == 4 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64), mem["f32"]
assert mem["gptaq_bf16"]["hidden_states"] == 2 * tokens * dim * 2 and mem["gptaq_bf16"]["hidden_states_in_memory"] == 65536
# The time: per phase, at the measured rates, summing to the total.
for k, v in p.items():
    e = v["estimate"]
    ph = e["phase_seconds"]
    assert all(ph[x] >= 0 for x in ("forward", "hessian", "sweep")), e
    assert abs(ph["forward"] + ph["hessian"] + ph["sweep"] - e["seconds"]) <= 1e-9 * e["seconds"] + 1e-12, e
    assert e["rates"]["sgemm"] > 0 and e["rates"]["ssyrk"] > 0, e
    assert abs(ph["forward"] - e["flops"]["forward"] / e["rates"]["sgemm"]) <= 1e-9 * ph["forward"], e
# gptaq runs each group pass and the block pass twice: 2 x (4 groups + 1) passes per block.
assert p["gptaq"]["estimate"]["block_passes"] == 5 * 10 and p["f32"]["estimate"]["block_passes"] == 5 * 5
PY

# The text plan names the spill and its folder.
$q --method gptq --bits 4 --max-memory 10K --spill-dir "$tmp" --dry-run >"$tmp/out" 2>"$tmp/err" || fail "dry run with spill"
grep -q "^spill: hidden states 256.0 KiB capped at 10.0 KiB by --max-memory, 246.0 KiB to a file in $tmp" "$tmp/out" ||
  fail "the plan does not name the spill"
grep -q "^time: at least .* = forward .* + hessians .* + sweeps " "$tmp/out" || fail "the time line has no phases"
$q --method gptq --bits 4 --dry-run >"$tmp/out" 2>"$tmp/err" || fail "dry run"
grep -q "^spill:" "$tmp/out" && fail "a plan without --max-memory spills"

# --help states the calibration default and the new options.
"$exe" quantize --help >"$tmp/out" 2>"$tmp/err" || fail "--help"
grep -q "128 x 2048" "$tmp/out" || fail "--help does not state the 128 x 2048 default"
for o in calib-dtype max-memory spill-dir; do grep -q -- "--$o" "$tmp/out" || fail "--help lacks --$o"; done

# Bad values: usage errors (exit 2) or a missing folder (exit 1), one line and a hint each.
$q --method gptq --calib-dtype f64 --out "$tmp/x" >"$tmp/out" 2>"$tmp/err"
[ $? = 2 ] || fail "--calib-dtype f64 should exit 2"
expect_error "--calib-dtype f64"
$q --method gptq --max-memory 12Q --out "$tmp/x" >"$tmp/out" 2>"$tmp/err"
[ $? = 2 ] || fail "--max-memory 12Q should exit 2"
expect_error "--max-memory 12Q"
$q --method gptq --max-memory -5 --out "$tmp/x" >"$tmp/out" 2>"$tmp/err"
[ $? = 2 ] || fail "--max-memory -5 should exit 2"
$q --method gptq --spill-dir "$tmp/none" --out "$tmp/x" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] || fail "a missing --spill-dir should exit 1"
expect_error "missing --spill-dir"
grep -q "$tmp/none" "$tmp/err" || fail "the error does not name the missing --spill-dir"
[ -e "$tmp/x" ] && fail "a refused run created its --out"

# A real run: the summary's figures, and progress lines for the phases it reports.
mkdir "$tmp/spill"
$q --method gptq --bits 4 --calib-dtype bf16 --max-memory 64K --spill-dir "$tmp/spill" --out "$tmp/run" --json \
  >"$tmp/out" 2>"$tmp/err" || fail "quantize with --calib-dtype bf16 --max-memory 64K failed"
[ -z "$(ls -A "$tmp/spill")" ] || fail "the spill folder is not empty after the run"
"$py" - "$tmp/out" "$tmp/err" <<'PY' || fail "the --json summary or the progress lines are wrong"
import json, re, sys
j = json.load(open(sys.argv[1]))
err = open(sys.argv[2]).read()
ph = j["phase_seconds"]
assert set(ph) == {"load", "forward", "hessian", "sweep"} and all(v >= 0 for v in ph.values()), ph
assert sum(ph.values()) <= j["seconds"], (ph, j["seconds"])
assert j["calibration"] == {"sequences": 8, "tokens": 1024, "dtype": "bf16", "max_memory_bytes": 65536}, j
# Both streams at most, in bf16.
assert 0 <= j["peak_hidden_bytes"] <= 2 * 1024 * 64 * 2, j
assert j["peak_rss_bytes"] > 0 and j["layers"] == 35, j
# The layer lines stay; phase lines appear for every block when the library reports phases.
assert len(re.findall(r"^\d+/35 blk\.\d\.w", err, re.M)) == 35, err
lines = re.findall(r"^block (\d)/5 (load|forward|hessian|sweep) .*, elapsed .*, ETA .*, RSS .* \(peak .*\)$", err, re.M)
if sum(ph.values()) > 0:
    assert {int(b) for b, _ in lines} == {1, 2, 3, 4, 5}, err
    assert {p for _, p in lines} == {"load", "forward", "hessian", "sweep"}, err
else:
    assert not lines, err
print("phases", ph, "phase lines", len(lines), "peak hidden", j["peak_hidden_bytes"])
PY
echo PASS
