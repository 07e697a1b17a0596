// The forward pass's matmul, out = inp W^T, in two forms that give bit-identical results: a plain
// reference loop (run.c's matmul over a sequence) and a tiled kernel that the compiler vectorizes
// across tokens. Both sum each output over the input index in order in fp32, so neither the
// tiling nor the thread count changes a single bit, and both match run.c.
// Dimension letters: T tokens, IC input width, OC output width.
#pragma once

#include <cstdint>

namespace vqr::model {

// Reference. out: T x OC (overwrite), inp: T x IC, w: OC x IC row-major.
void matmul_forward_ref(float *out, const float *inp, const float *w, int64_t T, int64_t IC, int64_t OC);

// Tiled. Same contract, plus scratch: at least matmul_scratch_floats(T, IC) floats (a transposed,
// padded copy of inp). threads: OpenMP threads for this call (>= 1); small problems run serially.
void matmul_forward(float *out, float *scratch, const float *inp, const float *w, int64_t T, int64_t IC, int64_t OC,
                    int threads);
int64_t matmul_scratch_floats(int64_t T, int64_t IC);

}  // namespace vqr::model
