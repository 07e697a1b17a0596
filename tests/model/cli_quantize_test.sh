#!/bin/sh
# End-to-end test of `vqround quantize` on stories260K: a GPTQ 4-bit run writes the model folder
# (model.bin, tokenizer.bin, vqround.json with 35 layer records), `vqround eval` reads it and its
# NLL lies between fp32's and RTN 3-bit's; overrides reach the metadata; an existing --out, bad
# options and Ctrl-C fail cleanly: one error line plus a hint, and no folder (partial or not). The
# --json summary reports the peak RSS; --dry-run prints the plan and estimates and writes nothing.
# Usage: cli_quantize_test.sh <vqround binary> <source dir>. Exit 77 = skipped (no data).
. "$(dirname "$0")/cli_test_lib.sh"
json_get() { "$py" -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
# expect_clean_error WHAT: expect_error, and no partial output folder left behind.
expect_clean_error() {
  expect_error "$1"
  if ls "$tmp" | grep -q "partial"; then fail "$1: a partial folder was left behind"; fi
}

m=$data/models/stories260K/stories260K.bin
calib=$data/text/exllamav2-calibration/tiny.utf8
text=$data/text/tinystories/tinystories_val.txt
q="$exe quantize --model $m --calib $calib --calib-samples 8 --calib-seqlen 128 --threads 1"

$q --method gptq --bits 4 --out "$tmp/gptq4" --override 'blk.0.wq:bits=8' --json >"$tmp/out" 2>"$tmp/err" ||
  fail "gptq 4-bit run failed"
for f in model.bin tokenizer.bin vqround.json; do [ -s "$tmp/gptq4/$f" ] || fail "missing $f"; done
[ "$(json_get "$tmp/gptq4/vqround.json" "len(j['layers'])")" = 35 ] || fail "vqround.json does not list 35 layers"
[ "$(json_get "$tmp/gptq4/vqround.json" "j['layers'][0]['bits']")" = 8 ] || fail "override of blk.0.wq not applied"
[ "$(json_get "$tmp/gptq4/vqround.json" "j['layers'][1]['bits']")" = 4 ] || fail "blk.0.wk should be 4-bit"
[ "$(json_get "$tmp/out" "int(j['peak_rss_bytes'] > 0)")" = 1 ] || fail "the --json summary has no peak_rss_bytes > 0"
# The RTN comparison is computed only with --report-rtn (vqr_report_level): the progress lines show
# it then, and the layer records carry a finite rtn_proxy_loss above GPTQ's proxy loss on most layers.
grep -q '(rtn ' "$tmp/err" && fail "the RTN comparison was computed without --report-rtn"
$q --method gptq --bits 4 --out "$tmp/gptq4rtn" --report-rtn >"$tmp/out" 2>"$tmp/err" || fail "--report-rtn run failed"
[ "$(grep -c '(rtn [0-9]' "$tmp/err")" = 35 ] || fail "--report-rtn does not show 35 RTN figures"

# --blockwise: AutoRound trains each block's seven linears together (a few steps here), the log
# shows each block's output error falling; its dry run counts no Hessians; with a per-layer rule or
# another method it is refused.
$q --method autoround --bits 3 --steps 4 --blockwise --block-batch 4 --out "$tmp/bw" >"$tmp/out" 2>"$tmp/err" ||
  fail "--blockwise run failed"
[ "$(grep -c 'block-wise AutoRound, block output MSE' "$tmp/err")" = 5 ] || fail "--blockwise did not log 5 blocks"
$q --method autoround --bits 3 --blockwise --dry-run >"$tmp/out" 2>"$tmp/err" || fail "--blockwise --dry-run failed"
grep -q "hessians 0," "$tmp/out" || fail "the --blockwise plan counts Hessians"
$q --method autoround --bits 3 --steps 2 --blockwise --override 'blk.1.w2:bits=4' --out "$tmp/bwx" >"$tmp/out" 2>"$tmp/err" &&
  fail "--blockwise with a per-layer rule accepted"
[ -e "$tmp/bwx" ] && fail "a refused --blockwise run left its --out"

# --e2e: VQRound's codebooks trained end to end (a few steps): the log shows the held-out scores,
# --json the distill summary, --checkpoint writes the state and --resume continues from it to the
# same model; --resume without a checkpoint, an unknown --teacher and other methods are refused.
$q --method vqround --bits 3 --e2e --steps 6 --eval-every 3 --kmeans-iters 5 --codebook-size 64 \
  --checkpoint "$tmp/e2e.ckpt" --out "$tmp/e2e" --json >"$tmp/out" 2>"$tmp/err" || fail "--e2e run failed"
[ "$(grep -c '^distill: step [0-9]*: held-out KL' "$tmp/err")" = 3 ] || fail "--e2e did not log 3 held-out scores"
[ "$(json_get "$tmp/out" "j['distill']['steps']")" = 6 ] || fail "the --json summary has no distill steps"
[ "$(json_get "$tmp/out" "len(j['distill']['evals'])")" = 3 ] || fail "the --json summary lacks the evaluations"
[ -s "$tmp/e2e.ckpt" ] || fail "--checkpoint wrote nothing"
$q --method vqround --bits 3 --e2e --steps 6 --eval-every 3 --kmeans-iters 5 --codebook-size 64 \
  --checkpoint "$tmp/e2e.ckpt" --resume --out "$tmp/e2e2" --json >"$tmp/out2" 2>"$tmp/err" || fail "--resume run failed"
[ "$(json_get "$tmp/out2" "j['distill']['resumed_from']")" = 3 ] || fail "--resume did not start from step 3"
cmp -s "$tmp/e2e/model.bin" "$tmp/e2e2/model.bin" || fail "the resumed run wrote another model"
$q --method vqround --bits 3 --e2e --steps 6 --eval-every 3 --kmeans-iters 5 --codebook-size 64 --teacher online \
  --out "$tmp/e2e_online" --json >"$tmp/out3" 2>"$tmp/err" || fail "--teacher online run failed"
[ "$(json_get "$tmp/out3" "j['distill']['teacher_online']")" = True ] || fail "--teacher online not reported"
cmp -s "$tmp/e2e/model.bin" "$tmp/e2e_online/model.bin" || fail "the online teacher gave another model than the stored one"
$q --method vqround --bits 3 --e2e --steps 7 --eval-every 3 --kmeans-iters 5 --codebook-size 64 \
  --checkpoint "$tmp/e2e.ckpt" --resume --out "$tmp/e2e3" >"$tmp/out" 2>"$tmp/err" && fail "a resume with other steps accepted"
grep -q 'steps: checkpoint 6, this run 7' "$tmp/err" || fail "the refused resume does not name the steps"
[ -e "$tmp/e2e3" ] && fail "a refused resume left its --out"
# The result is integer codes on the grid: the quantized export formats take it.
$q --method vqround --bits 4 --e2e --steps 3 --eval-every 3 --kmeans-iters 5 --codebook-size 64 --format gptq \
  --out "$tmp/e2e_gptq" >"$tmp/out" 2>"$tmp/err" || fail "--e2e --format gptq failed"
$exe eval --model "$tmp/e2e_gptq" --text "$text" --limit 5 >"$tmp/out" 2>"$tmp/err" || fail "the --e2e GPTQ checkpoint does not evaluate"
$q --method vqround --bits 3 --e2e --resume --out "$tmp/e2e4" >"$tmp/out" 2>"$tmp/err" && fail "--resume without --checkpoint accepted"
$q --method vqround --bits 3 --e2e --teacher bogus --out "$tmp/e2e4" >"$tmp/out" 2>"$tmp/err" && fail "--teacher bogus accepted"
$q --method gptq --bits 3 --e2e --out "$tmp/e2e4" >"$tmp/out" 2>"$tmp/err" && fail "gptq --e2e accepted"
[ -e "$tmp/e2e4" ] && fail "a refused --e2e run left its --out"

# --dry-run: the plan of 5 blocks x 7 layers with the override and the skip applied, estimates in
# --json, exit 0, and no output folder.
$q --method gptq --bits 4 --out "$tmp/dry" --override 'blk.0.wq:bits=8;*.w2:skip' --dry-run >"$tmp/out" 2>"$tmp/err" ||
  fail "dry run failed"
[ -e "$tmp/dry" ] && fail "a dry run created its --out"
[ "$(grep -c '^block [0-4]:' "$tmp/out")" = 5 ] || fail "the plan does not list 5 blocks"
grep -q '^block 0: wq 64x64 gptq 8-bit' "$tmp/out" || fail "the plan does not show blk.0.wq's override"
grep -q 'w2 64x172 skip' "$tmp/out" || fail "the plan does not show the skip"
grep -q '^time: ' "$tmp/out" && grep -q '^memory: ' "$tmp/out" || fail "the plan has no time or memory estimate"
$q --method gptq --bits 4 --override 'blk.0.wq:bits=8;*.w2:skip' --dry-run --json >"$tmp/out" 2>"$tmp/err" ||
  fail "dry run --json failed"
"$py" - "$tmp/out" <<'PY' || fail "the dry-run JSON plan is wrong"
import json, sys
j = json.load(open(sys.argv[1]))
assert len(j["blocks"]) == 5 and all(len(b["layers"]) == 7 for b in j["blocks"]), j["blocks"]
assert j["blocks"][0]["layers"][0]["bits"] == 8 and j["blocks"][1]["layers"][0]["bits"] == 4
assert all(b["layers"][5]["skip"] for b in j["blocks"])
t, e = j["totals"], j["estimate"]
assert t["quantized_layers"] == 30 and t["calibration_tokens"] == 8 * 128, t
assert all(e["flops"][k] > 0 for k in ("forward", "hessian", "sweep")), e
assert e["rate_flops_per_s"] > 0 and e["seconds"] > 0 and e["memory_bytes"]["total"] > 0, e
PY
$q --method rtn --bits 3 --out "$tmp/rtn3" >"$tmp/out" 2>"$tmp/err" || fail "rtn 3-bit run failed"
$q --method rtn --bits 4 --calib-mode paragraphs --out "$tmp/par" >"$tmp/out" 2>"$tmp/err" || fail "paragraph calibration failed"
[ "$(json_get "$tmp/par/vqround.json" "j['calibration']['samples']")" = 8 ] || fail "paragraph mode did not take 8 paragraphs"

ev() { "$exe" eval --model "$1" --text "$text" --limit 100 --threads 1 --json >"$tmp/$2.json" 2>"$tmp/err" || fail "eval $1"; }
ev "$m" fp32
ev "$tmp/gptq4" gptq4
ev "$tmp/rtn3" rtn3
"$py" - "$tmp" <<'PY' || fail "NLL ordering fp32 < gptq4 < rtn3 does not hold"
import json, sys
d = sys.argv[1]
v = {k: json.load(open(f"{d}/{k}.json"))["mean_nll"] for k in ("fp32", "gptq4", "rtn3")}
print(v)
assert v["fp32"] < v["gptq4"] < v["rtn3"], v
assert v["gptq4"] - v["fp32"] < 0.1, v
PY

$q --method gptq --bits 4 --out "$tmp/gptq4" >"$tmp/out" 2>"$tmp/err" && fail "an existing --out was accepted"
expect_clean_error "existing --out"
# An --out whose folder does not exist fails before any layer is quantized (issue 20): at once,
# naming the missing folder.
$q --method gptq --bits 4 --out "$tmp/missing/x" >"$tmp/out" 2>"$tmp/err" && fail "an --out in a missing folder was accepted"
expect_clean_error "--out in a missing folder"
grep -q "folder $tmp/missing that would hold" "$tmp/err" || fail "the error does not name the missing folder"
grep -q "blk\." "$tmp/err" && fail "layers were quantized before the --out check"
$q --method nosuch --bits 4 --out "$tmp/x" >"$tmp/out" 2>"$tmp/err"
[ $? = 2 ] || fail "unknown method should exit 2"
expect_clean_error "unknown method"
$q --method gptq --bits 9 --out "$tmp/x" >"$tmp/out" 2>"$tmp/err" && fail "bits 9 accepted"
expect_clean_error "bits 9"
$q --method gptq --calib-mode nosuch --out "$tmp/x" >"$tmp/out" 2>"$tmp/err" && fail "unknown --calib-mode accepted"
expect_clean_error "unknown --calib-mode"
[ -e "$tmp/x" ] && fail "a failed run created its --out"

# Ctrl-C during a long run: cancelled, non-zero, nothing written.
$q --method adaround --steps 1000000 --bits 3 --out "$tmp/cancelled" >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 3
kill -INT $pid
wait $pid && fail "an interrupted run exited 0"
grep -q "cancel" "$tmp/err" || fail "no cancellation message"
[ -e "$tmp/cancelled" ] && fail "an interrupted run left its --out"
ls "$tmp" | grep -q partial && fail "an interrupted run left a partial folder"
echo PASS
