#!/usr/bin/env bash
# Runs every libFuzzer harness (tests/fuzz) for SECONDS each (default 60), one after another:
# configures and builds the clang fuzz build when needed (scripts/sanitizer_build.sh; folder
# $VQR_FUZZ_BUILD, default build-sanitize), makes the seeds, then fuzzes with a working corpus in
# <build>/fuzz/corpus/<harness> (new inputs go there; the seeds stay as made). Prints executions
# per harness; exits non-zero when any harness found a crash, leak, timeout or OOM, printing the
# reproducer's path and the command that replays it. tests/fuzz/README.md says more.
#   scripts/fuzz.sh [SECONDS] [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/blas_env.sh
source scripts/sanitizer_build.sh
seconds=${1:-60}
shift || true
build=${VQR_FUZZ_BUILD:-build-sanitize}
harnesses=("$@")
((${#harnesses[@]})) || harnesses=(fuzz_llama2c fuzz_hf_folder fuzz_gguf fuzz_tokenizer fuzz_text fuzz_hessian)

if ! grep -q '^VQR_FUZZ:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  [[ -f $build/CMakeCache.txt ]] && { echo "fuzz.sh: $build is not a VQR_FUZZ=ON build; set VQR_FUZZ_BUILD to another folder" >&2; exit 1; }
  configure_sanitizer_build "$build"
fi
cmake --build "$build" -j"$(nproc)" --target fuzzers >/dev/null

# One thread everywhere: the harnesses ask the library for one, and BLAS and OpenMP pools would
# only make runs slower and less reproducible.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# A UBSan report with its stack, like ASan's.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
failed=0
for h in "${harnesses[@]}"; do
  seeds=$build/fuzz/seeds/$h corpus=$build/fuzz/corpus/$h artifacts=$build/fuzz/artifacts/$h
  mkdir -p "$corpus" "$artifacts"
  # -max_len: the largest seed (plus a sixteenth), so no seed is cut; at least 4 KB.
  largest=$(find "$seeds" -type f -printf '%s\n' | sort -n | tail -1)
  max_len=$((largest + largest / 16 > 4096 ? largest + largest / 16 : 4096))
  before=$(ls "$artifacts" | wc -l)
  log=$build/fuzz/$h.log
  status=0
  "$build/fuzz/$h" -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -timeout=20 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$seeds" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  printf '%-16s %10s executions in %s s, corpus %s files (status %s)\n' "$h" "${execs:-?}" "$seconds" \
    "$(ls "$corpus" | wc -l)" "$status"
  if ((status != 0)) || (($(ls "$artifacts" | wc -l) > before)); then
    failed=1
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5 || true
    for a in $(ls -t "$artifacts" | head -3); do
      echo "  reproducer: $artifacts/$a"
      echo "  replay:     $build/fuzz/$h $artifacts/$a"
    done
    echo "  log:        $log"
  fi
done
exit $failed
