// Entry point of vqround_bench: Google Benchmark's main plus context lines (library build, BLAS
// configuration, kernel core and thread counts, machine load at start) that make a JSON file
// self-describing. `vqround_bench --print_blas_core` prints the OpenBLAS kernel core and exits
// (bench/run.sh uses it to catch DYNAMIC_ARCH falling back to the generic Prescott kernels).
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include <vqround/vqround.h>

int main(int argc, char **argv) {
  if (argc == 2 && std::strcmp(argv[1], "--print_blas_core") == 0) {
    std::printf("%s\n", openblas_get_corename());
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("vqr_version", vqr_version_string());
  benchmark::AddCustomContext("vqr_build_info", vqr_build_info());
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  benchmark::AddCustomContext("openblas_threads", std::to_string(openblas_get_num_threads()));
  const char *omp = std::getenv("OMP_NUM_THREADS");
  benchmark::AddCustomContext("OMP_NUM_THREADS", omp != nullptr ? omp : "(unset)");
  std::string loadavg;
  std::getline(std::ifstream("/proc/loadavg"), loadavg);
  benchmark::AddCustomContext("loadavg_at_start", loadavg.empty() ? "(unknown)" : loadavg);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
