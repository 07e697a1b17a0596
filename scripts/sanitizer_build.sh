# Sourced by test.sh and fuzz.sh: the one clang build that serves both the sanitizer test suite
# and the fuzzers (VQR_FUZZ=ON: AddressSanitizer + UndefinedBehaviorSanitizer, libFuzzer coverage
# instrumentation on the library's input-handling sources, the harnesses in <dir>/fuzz).
# -g1: line tables are all a sanitizer report needs (file:line in its stack traces), and full
# debug info made this build markedly slower.
configure_sanitizer_build() {
  local dir=$1
  CC=clang CXX=clang++ cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVQR_SANITIZE=address,undefined \
    -DVQR_FUZZ=ON -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
    -DVQR_BUILD_TESTS=ON -DVQR_BUILD_BENCH=OFF -DVQR_BUILD_CLI=ON >/dev/null
}
