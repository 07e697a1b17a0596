#!/usr/bin/env bash
# The main job: set up, build, and quantize every linear layer of the real stories260K model
# (../shared/data) with RTN and GPTQ at 4 and 3 bits, printing the per-layer proxy loss table.
# Calibration: TinyStories training text (exllamav2's tiny.utf8), 4096 tokens by default.
# Extra arguments are passed to `vqround layer-loss` (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/blas_env.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVQR_BUILD_TESTS=OFF -DVQR_BUILD_BENCH=OFF -DVQR_BUILD_CLI=ON >/dev/null
cmake --build build -j"$(nproc)" --target vqround_cli >/dev/null
data=${VQR_DATA_DIR:-../shared/data}
exec build/vqround layer-loss \
  --model "$data/models/stories260K/stories260K.bin" \
  --tokenizer "$data/models/stories260K/tok512.bin" \
  --text "$data/text/exllamav2-calibration/tiny.utf8" \
  --methods rtn,gptq --bits 4,3 "$@"
