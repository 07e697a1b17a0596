#!/usr/bin/env bash
# Sets up, builds and runs every test (ctest: C++ gtest, the C11 API program, ABI checks, Python)
# with GCC, then builds again with clang, AddressSanitizer + UndefinedBehaviorSanitizer and
# libFuzzer's instrumentation, runs the whole suite a second time and each fuzzer for 20 s
# (scripts/fuzz.sh). Under CI (CI=true) a missing ../shared/data folder, or no OpenCL device (PoCL
# is installed by the setup script), fails the data and OpenCL tests instead of skipping them.
set -euo pipefail
cd "$(dirname "$0")/.."

# phase NAME COMMAND...: runs COMMAND and prints how long it took (CI must stay under 20 minutes).
phase() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  echo "== $name: $((SECONDS - start)) s"
}

phase "setup" ./scripts/setup.sh
source scripts/blas_env.sh
[[ ${CI:-} == true ]] && export VQR_REQUIRE_DATA=1 VQR_REQUIRE_OPENCL=1
jobs=$(nproc)

# The peers' environment (scripts/peers.sh, outside the tree): tokenizers always (a few MB), and
# transformers with PyTorch (about 5 GB from PyPI) when they install within 10 minutes; the peers
# tests skip, saying why, for whatever is missing.
peers_python=""
if peers_python=$(timeout 600 ./scripts/peers.sh 2>/dev/null | tail -1) && [[ -x $peers_python ]]; then
  echo "== peers: $peers_python (transformers, torch, tokenizers)"
elif peers_python=$(timeout 300 ./scripts/peers.sh --tokenizers-only 2>/dev/null | tail -1) && [[ -x $peers_python ]]; then
  echo "== peers: $peers_python (tokenizers only: the transformers oracle will skip)"
else
  peers_python=""
  echo "== peers: no environment could be built (PyPI unreachable?): the peers tests will skip"
fi
[[ -n $peers_python ]] && export VQR_PEERS_PYTHON=$peers_python

echo "== release build + tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVQR_BUILD_TESTS=ON -DVQR_BUILD_BENCH=ON -DVQR_BUILD_CLI=ON >/dev/null
phase "release build" cmake --build build -j"$jobs"
phase "release tests" ctest --test-dir build --output-on-failure -j"$jobs"

echo "== sanitizer build (clang, address,undefined, libFuzzer instrumentation) + tests + fuzzers"
# One clang build serves the whole suite under the sanitizers and the fuzzers
# (scripts/sanitizer_build.sh); the release build above is GCC's, so the suite passes with both.
source scripts/sanitizer_build.sh
configure_sanitizer_build build-sanitize
phase "sanitizer build" cmake --build build-sanitize -j"$jobs"
phase "sanitizer tests" ctest --test-dir build-sanitize --output-on-failure -j"$jobs"
phase "fuzzers" ./scripts/fuzz.sh 20
echo "== done: $(date -u -d @"$SECONDS" +%M:%S) (mm:ss) in all"
