#!/usr/bin/env bash
# Builds libvqround in Release (own build folder), runs the Google Benchmark programs in three groups
# (Hessian; GPTQ 4096 x 4096 + RTN; GPTQ 4096 x 11008; GPTAQ/ResComp; learned rounding) and the scale
# benchmark (one Llama-3-8B block), writes one JSON file per group and prints the ratio summary
# (bench/summarize.py). Usage: bench/run.sh [--quick]  (--quick skips the 11008 group and measures a
# Llama-3.2-1B block on 512 tokens instead).
# Environment: VQR_BENCH_BUILD_DIR (default <repo>/build-bench), VQR_BENCH_OUT (default
# <build>/bench-results), VQR_BENCH_JOBS (default 2), VQR_BENCH_TOKENS (fixture Hessian tokens),
# OPENBLAS_CORETYPE (kept when set; see the check below), VQR_BENCH_KEEP_BLAS_CORE=1 (skip the check),
# VQR_BENCH_SCALE_ARGS (the scale benchmark's options, e.g. "--model /work/synth/llama-3-8b --tokens 4096").
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${VQR_BENCH_BUILD_DIR:-$root/build-bench}
out=${VQR_BENCH_OUT:-$build/bench-results}
jobs=${VQR_BENCH_JOBS:-2}
quick=0
[[ ${1:-} == --quick ]] && quick=1

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DVQR_BUILD_BENCH=ON -DVQR_BUILD_TESTS=OFF \
  -DVQR_BUILD_CLI=OFF >/dev/null
cmake --build "$build" --target vqround_bench vqround_bench_scale -j "$jobs"
bin=$build/bench/vqround_bench
mkdir -p "$out"

# OpenBLAS 0.3.21 (Debian 12) does not know recent Xeons (e.g. family 6 model 207 under KVM) and its
# DYNAMIC_ARCH falls back to the SSE3 "Prescott" kernels, 5-8x slower than its AVX-512 ones; and
# spinning OpenMP workers compete with OpenBLAS's own threads. The library never changes these
# settings; the project's scripts choose them (scripts/blas_env.sh) unless the caller already has.
if [[ ${VQR_BENCH_KEEP_BLAS_CORE:-0} != 1 ]]; then
  source "$root/scripts/blas_env.sh"
fi
echo "run.sh: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<auto: $("$bin" --print_blas_core)>} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-<unset>}" >&2
rm -f "$out"/*.json

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
  echo "openblas core: $("$bin" --print_blas_core) (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"

run() {  # run NAME ARGS...: one benchmark group into $out/NAME.json
  local name=$1
  shift
  echo "== $name" >&2
  "$bin" --benchmark_out="$out/$name.json" --benchmark_out_format=json "$@"
}

# Every group runs repetitions and the summary uses their medians (noise on a shared machine).
# Hessian: each iteration is one vqr_hessian_add of 8192 tokens (~0.7 s here) plus one SSYRK.
run hessian --benchmark_filter='^BM_HessianAdd/' --benchmark_min_time=1 --benchmark_repetitions=3
# GPTQ at 4096 x 4096 (one call per repetition), the reference kernels alone, and RTN.
run gptq_4096 --benchmark_min_time=0.01 --benchmark_repetitions=3 \
  --benchmark_filter='^BM_(Gptq/m:4096/n:4096/|RefSpotrf/n:4096/|RefStrtri/n:4096/|RefCrossBlockGemm/m:4096/n:4096/|Rtn/)'
# The down projection, 4096 out x 11008 in: ~10 s per GPTQ call on 2 cores, so two repetitions.
if ((!quick)); then
  run gptq_11008 --benchmark_min_time=0.01 --benchmark_repetitions=2 \
    --benchmark_filter='^BM_(Gptq|RefSpotrf|RefStrtri|RefCrossBlockGemm)/.*n:11008'
fi

# GPTAQ and ResComp over GPTQ on one asymmetric Hessian, and the paired (H, D) accumulation.
run gptaq --benchmark_min_time=0.01 --benchmark_repetitions=2 \
  --benchmark_filter="^BM_(AsymSweep/m:4096/n:4096/|HessianAddPair/)$( ((quick)) || echo '|AsymSweep/m:4096/n:11008/')"

# Learned rounding: one VQRound step vs one SGEMM, and k-means on 2M vectors.
run learned --benchmark_filter='^BM_(VqRoundStep|KMeans)/'

# The scale benchmark: every phase of quantizing one decoder block against its dense floor, and the
# whole model extrapolated to 128 x 2048 tokens (a Llama-3-8B block on 2048 tokens takes ~1.5 min on
# 2 quiet cores; --quick a Llama-3.2-1B block on 512 tokens, ~15 s).
echo "== scale" >&2
# shellcheck disable=SC2086  # VQR_BENCH_SCALE_ARGS is a list of options
"$build/bench/vqround_bench_scale" $( ((quick)) && echo --quick) ${VQR_BENCH_SCALE_ARGS:-} --json "$out/scale.json" \
  >"$out/scale.txt"

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
echo
/usr/bin/python3 "$here/summarize.py" "$out/machine.txt" "$out"/*.json | tee "$out/summary.txt"
