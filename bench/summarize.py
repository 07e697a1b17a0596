#!/usr/bin/python3
"""Prints the ratio summary of vqround_bench JSON files (Google Benchmark --benchmark_out format).

Usage: summarize.py [machine.txt] RESULT.json...   (standard library only)
With --benchmark_repetitions the median aggregates are used; "runs" is then the repetition count
(else the iteration count).
Headline figures are ratios to the machine's own kernels measured in the same run (DESIGN §4):
vqr_hessian_add vs SSYRK (target >= 0.90) and GPTQ vs SPOTRF + cross-block SGEMMs (target <= 1.5).
The scale benchmark's JSON (vqround_bench_scale, its own format) gets its phase table and targets.
"""
import json
import re
import sys

HESSIAN_TARGET = 0.90
GPTQ_TARGET = 1.5
DTYPES = {0: "f32", 1: "f16", 2: "bf16"}
ASYM_TARGET = 1.5
VQ_STEP_TARGET = 1.3
METHODS = {2: "GPTAQ", 3: "ResComp"}


def args_of(name):
    return {k: int(v) for k, v in re.findall(r"(\w+):(-?\d+)", name)}


def table(title, header, rows):
    if not rows:
        return
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    print(title)
    for i, row in enumerate([header] + rows):
        print("  " + "  ".join(str(x).rjust(w) if j else str(x).ljust(w) for j, (x, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))
    print()


def verdict(ok):
    return "ok" if ok else "MISS"


def scale_tables(data):
    """The per-phase table and the targets of one vqround_bench_scale JSON file."""
    m, x = data["model"], data["extrapolation"]
    rows = [[p["phase"], "%.2f" % p["block_s"], "%.0f" % p["gflop"] if p["gflop"] else "-",
             "%.2f" % p["ratio_to_floor"] if p["ratio_to_floor"] is not None else "-",
             "%.1f" % p["model_s_at_model_tokens"], "%.2f" % (p["peak_rss_bytes_after"] / 1e9)] for p in data["phases"]]
    table("Scale: one block of %s (dim %d, hidden %d, %d blocks), %d tokens; model at %d tokens: %.0f s (%.2f h)"
          % (m["architecture"], m["dim"], m["hidden_dim"], m["n_layers"], data["tokens"], data["model_tokens"],
             x["model_s"], x["model_s"] / 3600),
          ["phase", "block s", "GFLOP", "x floor", "model s", "peak RSS GB"], rows)
    t = data["targets"]
    table("Scale targets", ["measure", "value", "target", "verdict"],
          [["forward rate / SGEMM rate", "%.2f" % t["forward_vs_sgemm"], ">= %.1f" % t["forward_target"],
            verdict(t["forward_vs_sgemm"] >= t["forward_target"])],
           ["block at model tokens / dense floor", "%.2f" % t["block_vs_floor"], "<= %.1f" % t["block_target"],
            verdict(t["block_vs_floor"] <= t["block_target"])]])


def main(paths):
    runs, errors, context = [], [], {}
    for p in paths:
        if p.endswith(".txt"):
            print(open(p).read().rstrip() + "\n")
            continue
        with open(p) as f:
            data = json.load(f)
        if data.get("bench") == "vqround_bench_scale":
            scale_tables(data)
            continue
        context.update(data.get("context", {}))
        for b in data.get("benchmarks", []):
            if b.get("error_occurred"):
                errors.append((b["name"], b.get("error_message", "")))
                continue
            # Plain runs, or the median when the file was made with --benchmark_repetitions.
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue
            if b.get("run_type") == "iteration" and b.get("repetitions", 1) > 1:
                continue
            b["runs"] = b.get("repetitions", 1) if b.get("run_type") == "aggregate" else b["iterations"]
            runs.append(b)

    if context:
        print("OpenBLAS core %s, threads %s; OMP_NUM_THREADS %s; load at start %s" % (
            context.get("openblas_core", "?"), context.get("openblas_threads", "?"), context.get("OMP_NUM_THREADS", "?"),
            context.get("loadavg_at_start", "?")))
        print("library: %s\n" % context.get("vqr_build_info", "?"))


    hess, gptq, refs, rtn, asym, pair, vqstep, kmeans = [], [], [], [], [], [], [], []
    runs.sort(key=lambda b: (b["name"].split("/")[0], sorted(args_of(b["name"]).items(), key=lambda kv: kv[0] not in ("m", "n"))))
    for b in runs:
        name, a = b["name"], args_of(b["name"])
        if name.startswith("BM_HessianAdd/"):
            r = b["vs_ssyrk"]
            hess.append(["n=%d T=%d" % (a["n"], a["T"]), DTYPES.get(a["dtype"], a["dtype"]), b["runs"],
                         "%.1f" % b["lib_GFLOPs"], "%.1f" % b["ssyrk_GFLOPs"], "%.3f" % r,
                         verdict(r >= HESSIAN_TARGET)])
        elif name.startswith("BM_Gptq"):
            r = b["ratio"]
            target = verdict(r <= GPTQ_TARGET) if a["loss"] == 0 else "(info)"
            gptq.append(["%dx%d" % (a["m"], a["n"]), a["act"], a["loss"], b["runs"], "%.3f" % b["gptq_s"],
                         "%.3f" % b["chol_s"], "%.3f" % b["gemm_s"], "%.3f" % b["trtri_s"], "%.2f" % r,
                         "%.2f" % b["ratio_tri"], target])
        elif name.startswith("BM_AsymSweep"):
            r = b["ratio"]
            asym.append(["%dx%d" % (a["m"], a["n"]), METHODS.get(a["method"], a["method"]), b["runs"],
                         "%.3f" % b["method_s"], "%.3f" % b["gptq_s"], "%.2f" % r, verdict(r <= ASYM_TARGET)])
        elif name.startswith("BM_HessianAddPair"):
            pair.append(["n=%d T=%d" % (a["n"], a["T"]), b["runs"], "%.1f" % b["lib_GFLOPs"],
                         "%.1f" % b["ref_GFLOPs"], "%.3f" % b["vs_ref"]])
        elif name.startswith("BM_VqRoundStep"):
            r = b["ratio"]
            vqstep.append(["%dx%d" % (a["m"], a["n"]), b["runs"], "%.3f" % b["step_s"], "%.3f" % b["sgemm_s"],
                           "%.2f" % r, verdict(r <= VQ_STEP_TARGET)])
        elif name.startswith("BM_KMeans"):
            kmeans.append(["%dx%d" % (a["m"], a["n"]), "%d" % b["vectors"], a["iters"], "%.2f" % b["kmeans_s"],
                           "%.3f" % b["per_iter_s"]])
        elif name.startswith("BM_Ref"):
            refs.append([re.sub(r"(/manual_time|_median)", "", name), b["runs"],
                         "%.1f %s" % (b["real_time"], b["time_unit"]), "%.1f" % b["GFLOPs"]])
        elif name.startswith("BM_Rtn"):
            rtn.append([re.sub(r"_median", "", name), b["runs"], "%.2f %s" % (b["real_time"], b["time_unit"]),
                        "%.2f" % (b.get("bytes_per_second", 0) / 1e9),
                        "%.0f" % (b.get("items_per_second", 0) / 1e6)])

    table("Hessian accumulation: vqr_hessian_add vs OpenBLAS SSYRK, n^2 T flops (target ratio >= %.2f)" % HESSIAN_TARGET,
          ["shape", "dtype", "runs", "lib GFLOP/s", "SSYRK GFLOP/s", "ratio", "target"], hess)
    table("GPTQ (4-bit, g128) vs SPOTRF + cross-block SGEMMs, seconds per call (target ratio <= %.1f with loss=0)" % GPTQ_TARGET,
          ["m x n", "act", "loss", "runs", "gptq", "chol", "gemm", "trtri", "ratio", "ratio_tri", "target"], gptq)
    table("GPTAQ / ResComp vs GPTQ on the same asymmetric Hessian (4-bit, g128, no report), seconds per call "
          "(target ratio <= %.1f)" % ASYM_TARGET, ["m x n", "method", "runs", "method", "gptq", "ratio", "target"], asym)
    table("Paired accumulation (H and D): vqr_hessian_add_pair vs SSYRK + SGEMM, 3 n^2 T flops",
          ["shape", "runs", "lib GFLOP/s", "ref GFLOP/s", "ratio"], pair)
    table("VQRound training step (3-bit, D 8, K 4096) vs one m x n x n SGEMM, seconds (target ratio <= %.1f)"
          % VQ_STEP_TARGET, ["m x n", "runs", "step", "sgemm", "ratio", "target"], vqstep)
    table("k-means of VQRound's latent vectors (D 8, K 4096, at most 256 K training points)",
          ["layer", "vectors", "iters", "seconds", "per iter"], kmeans)
    table("Reference kernels alone", ["benchmark", "runs", "time", "GFLOP/s"], refs)
    table("RTN (4-bit, g128, no report)", ["benchmark", "runs", "time", "GB/s in", "Mweights/s"], rtn)
    for name, msg in errors:
        print("ERROR %s: %s" % (name, msg))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
