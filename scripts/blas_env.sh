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
