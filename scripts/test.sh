#!/usr/bin/env bash
# Sets up, builds and runs every test (ctest: C++ gtest, the C11 API program, ABI checks, Python),
# then builds again with AddressSanitizer + UndefinedBehaviorSanitizer and runs the whole suite a
# second time. Under CI (CI=true) a missing ../shared/data folder fails the data tests instead of
# skipping them.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/blas_env.sh
[[ ${CI:-} == true ]] && export VQR_REQUIRE_DATA=1
jobs=$(nproc)

echo "== release build + tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVQR_BUILD_TESTS=ON -DVQR_BUILD_BENCH=ON -DVQR_BUILD_CLI=ON >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

echo "== sanitizer build (address,undefined) + tests"
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVQR_SANITIZE=address,undefined \
  -DVQR_BUILD_TESTS=ON -DVQR_BUILD_BENCH=OFF -DVQR_BUILD_CLI=ON >/dev/null
cmake --build build-sanitize -j"$jobs"
(cd build-sanitize && ctest --output-on-failure -j"$jobs")
