# Sourced by the project's scripts. OpenBLAS picks its kernels from cpuid at load time; on some
# virtual CPUs it does not recognize the model and falls back to Prescott (SSE3) kernels, several
# times slower. When the user has not chosen, name the core from the CPU's feature flags.
if [[ -z ${OPENBLAS_CORETYPE:-} && -r /proc/cpuinfo ]]; then
  flags=$(grep -m1 '^flags' /proc/cpuinfo)
  if [[ $flags == *" avx512f "* && $flags == *" avx512vl "* && $flags == *" avx512bw "* ]]; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif [[ $flags == *" avx2 "* && $flags == *" fma "* ]]; then
    export OPENBLAS_CORETYPE=Haswell
  fi
  unset flags
fi
# libgomp's workers spin after each parallel region while OpenBLAS's pthreads run the next BLAS
# call (and vice versa); on few cores the spinning steals the cores the other pool needs. Passive
# waiting measured 1.4-1.8 s -> 1.0-1.1 s for GPTQ on 4096 x 4096 here (bench/README.md).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# OpenBLAS's own idle workers spin (sched_yield) for 2^28 cycles (~0.1 s) after each call before
# they sleep, so between two BLAS calls they take the cores our OpenMP passes need. 2^16 cycles
# (~20 us) measured GPTQ 4096 x 4096 g128 0.44 -> 0.37 s and gutenberg4M evaluation 5.7-6.9 ->
# 5.4-5.5 s wall on 2 cores (bench/README.md).
export OPENBLAS_THREAD_TIMEOUT=${OPENBLAS_THREAD_TIMEOUT:-16}
