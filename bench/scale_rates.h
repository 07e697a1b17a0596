// The machine's dense-kernel rates, the denominators of the scale benchmark's ratios (DESIGN §4:
// figures are ratios to the machine's own OpenBLAS/LAPACKE kernels measured in the same run). Each
// kernel runs once on the shapes of the block under test, after a small untimed warm-up call.
#pragma once

#include <cstdint>

namespace vqrbench {

// Flops per second of each kernel (dimension letters: T tokens of one window, C = dim, H =
// hidden_dim, B = 128 the GPTQ block):
struct KernelRates {
  double sgemm = 0;       // out (T x H) = X (T x C) W^T, the forward's largest linear: 2 T C H flops
  double ssyrk = 0;       // upper(S) += X^T X, X: T x C, one Hessian add: T C^2 flops
  double spotrf = 0;      // Cholesky of a C x C SPD matrix: C^3 / 3 flops
  double cross_gemm = 0;  // GPTQ's cross-block SGEMMs W[:, i2:] -= E U[i1:i2, i2:] at C x C: about C^3 flops
};

KernelRates measure_rates(int64_t tokens, int64_t C, int64_t H);

// The mean of two measurements (before and after the phases).
KernelRates mean_rates(const KernelRates &a, const KernelRates &b);

}  // namespace vqrbench
