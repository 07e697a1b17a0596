#!/usr/bin/env bash
# The GPU run of issue 18 item 5, as one prepared script for a machine with an NVIDIA (or any
# OpenCL) GPU: Hessian accumulation TFLOP/s for n = 4096 over 262,144 tokens against the card's fp32
# peak, GPTQ W4 g128 sweeps of 4096 x 4096 and 14336 x 4096, and one synthetic Llama-3-8B-shaped
# block (dim 4096, hidden 14336) calibrated on 128 x 2048 tokens end to end (forward, Hessians, seven
# sweeps) on the device, and that block's forward over 2048 tokens with resident activations
# against staged products. Finishes in a few minutes; writes JSON and a log under $OUT (default
# ./gpu-results). Targets on an H100/H200: Hessian >= 40% of fp32 peak; the block in < 10 s.
#
# NVIDIA drivers ship their OpenCL library (libnvidia-opencl.so.1) but a container may lack the
# ICD file that names it: then this script writes one into a private vendors folder
# (OCL_ICD_VENDORS), which the ocl-icd loader reads instead of /etc/OpenCL/vendors.
# Environment: VQR_FP32_PEAK_TFLOPS (else looked up from the GPU's name), VQR_GPU_QUICK=1 (small
# shapes: checks the script itself on any OpenCL device, PoCL included), OUT, JOBS.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${OUT:-$root/gpu-results}
jobs=${JOBS:-$(nproc)}
build=$root/build-gpu
mkdir -p "$out"
log=$out/gpu.log
: > "$log"
say() { echo "gpu.sh: $*" | tee -a "$log" >&2; }

# --- the OpenCL driver --------------------------------------------------------------------------
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv,noheader | tee -a "$log"
  if ! grep -qsl nvidia /etc/OpenCL/vendors/*.icd 2>/dev/null; then
    lib=$(ldconfig -p | awk '/libnvidia-opencl\.so\.1/ {print $NF; exit}')
    if [[ -n $lib ]]; then
      mkdir -p "$out/icd"
      echo "$lib" > "$out/icd/nvidia.icd"
      export OCL_ICD_VENDORS=$out/icd
      say "no NVIDIA ICD file: using $lib through OCL_ICD_VENDORS=$OCL_ICD_VENDORS"
    else
      say "no libnvidia-opencl.so.1 found: the benchmark will run on whatever OpenCL device exists"
    fi
  fi
fi

# The card's fp32 peak (dense FMA rate), for vs_peak: from the environment, else by name.
if [[ -z ${VQR_FP32_PEAK_TFLOPS:-} ]] && command -v nvidia-smi >/dev/null; then
  case "$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)" in
    *H200*) VQR_FP32_PEAK_TFLOPS=66.9 ;;        # SXM: 132 SMs x 128 lanes x 2 x 1.98 GHz
    *H100*PCIe*) VQR_FP32_PEAK_TFLOPS=51.2 ;;   # 114 SMs x 128 x 2 x 1.755 GHz
    *H100*) VQR_FP32_PEAK_TFLOPS=66.9 ;;
    *A100*) VQR_FP32_PEAK_TFLOPS=19.5 ;;
  esac
fi
[[ -n ${VQR_FP32_PEAK_TFLOPS:-} ]] && export VQR_FP32_PEAK_TFLOPS && say "fp32 peak: $VQR_FP32_PEAK_TFLOPS TFLOP/s"

# --- build ----------------------------------------------------------------------------------------
start=$SECONDS
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DVQR_BUILD_TESTS=OFF -DVQR_BUILD_BENCH=ON \
  -DVQR_BUILD_CLI=OFF >>"$log" 2>&1
cmake --build "$build" --target vqround_bench_opencl vqround_bench_scale -j "$jobs" >>"$log" 2>&1
say "built in $((SECONDS - start)) s"
source "$root/scripts/blas_env.sh"

# --- kernels: Hessian, GEMM, GPTQ sweeps ------------------------------------------------------------
if [[ ${VQR_GPU_QUICK:-0} == 1 ]]; then
  filter='.*'
else
  export VQR_BENCH_GPU=1
  filter='BM_Hessian/n:4096|BM_GptqSweep/m:(4096|14336)|BM_Sgemm/m:(4096|8192)|BM_BlockForward/C:4096'
fi
"$build/bench/vqround_bench_opencl" --benchmark_filter="$filter" --benchmark_min_time=0.01 \
  --benchmark_out="$out/opencl.json" --benchmark_out_format=json 2>&1 | tee -a "$log"

# --- one Llama-3-8B-shaped block, 128 x 2048 tokens, on the device ----------------------------------
if [[ ${VQR_GPU_QUICK:-0} == 1 ]]; then
  scale_args=(--quick)
else
  scale_args=(--preset llama-3-8b --tokens 262144 --window 2048)
fi
"$build/bench/vqround_bench_scale" "${scale_args[@]}" --backend opencl --json "$out/scale_opencl.json" 2>&1 | tee -a "$log"
say "done in $((SECONDS - start)) s; results in $out"
