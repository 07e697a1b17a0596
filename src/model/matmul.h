// The forward pass's matmul, out = inp W^T, in two arithmetics. The reference order: a plain
// loop (run.c's matmul over a sequence) and a tiled kernel that the compiler vectorizes across
// tokens, bit-identical to each other; both sum each output over the input index in order in
// fp32, so neither the tiling nor the thread count changes a single bit, and both match run.c.
// The BLAS path: one SGEMM on the whole token batch through the compute seam (backend.h), about
// 6x faster on real shapes (spec gptq_family.md §7: the forward is most of the flops of
// calibration and evaluation), in the BLAS library's own summation order.
// Dimension letters: T tokens, IC input width, OC output width.
#pragma once

#include <cstdint>

namespace vqr::backend {
class Backend;
}

namespace vqr::model {

// Which arithmetic a Forward runs its linear layers (and classifier) in.
enum class MatmulPath {
  // One SGEMM per linear on the token batch (backend::Backend::gemm): the default, for
  // calibration and evaluation. Results differ from run.c's by rounding only: a dot product of
  // length IC in fp32 has relative error <= IC u sum|w||x| / |sum w x|, u = 2^-24, in either order.
  kBlas,
  // run.c's order (the tiled kernel below): for the tests that reproduce an external reference
  // bit for bit (the stories260K reference NLL file to 1e-6) or compare two routes exactly.
  kReference,
};

// out (T x OC, overwrite) = inp (T x IC) w^T (w: OC x IC row-major), as one SGEMM on `backend`.
void matmul_forward_blas(backend::Backend &backend, float *out, const float *inp, const float *w, int64_t T,
                         int64_t IC, int64_t OC);
// out (T x OC, accumulate) += inp (T x IC) w^T, one SGEMM with beta = 1: the forward folds a bias
// (out filled with it first) or the residual stream (out = the stream) into the product, saving a
// pass over memory; the addend is one more term of each output's sum (the bound above with IC + 1).
void matmul_accumulate_blas(backend::Backend &backend, float *out, const float *inp, const float *w, int64_t T,
                            int64_t IC, int64_t OC);

// Reference. out: T x OC (overwrite), inp: T x IC, w: OC x IC row-major.
void matmul_forward_ref(float *out, const float *inp, const float *w, int64_t T, int64_t IC, int64_t OC);

// Tiled. Same contract, plus scratch: at least matmul_scratch_floats(T, IC) floats (a transposed,
// padded copy of inp). threads: OpenMP threads for this call (>= 1); small problems run serially.
void matmul_forward(float *out, float *scratch, const float *inp, const float *w, int64_t T, int64_t IC, int64_t OC,
                    int threads);
int64_t matmul_scratch_floats(int64_t T, int64_t IC);

}  // namespace vqr::model
