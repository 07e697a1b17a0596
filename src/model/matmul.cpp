// out = inp W^T for the forward pass: one SGEMM through the backend (the default), or the
// reference order. The tiled kernel transposes the input once (IC x T, tokens
// padded to the tile width) so that kTileT consecutive tokens sit in one SIMD register; each of
// the kTileO x kTileT accumulators then runs over j in order, exactly the reference's arithmetic.
// (Requires no floating-point contraction or reassociation: the project builds with ISO C++,
// where GCC's default is -ffp-contract=off, and without -ffast-math.)
#include "model/matmul.h"

#include "backend/backend.h"
#include "core/sanitizer.h"

namespace vqr::model {

namespace {

constexpr int64_t kTileT = 8;  // tokens per tile: the vectorized lanes
constexpr int64_t kTileO = 4;  // outputs per tile: each weight load feeds kTileT lanes 4 times over
// Below this many multiply-adds a parallel region costs more than it saves: forking a team takes
// microseconds, and far longer when the machine is oversubscribed and workers are descheduled.
constexpr int64_t kMinParallelWork = int64_t{1} << 18;

int64_t padded_tokens(int64_t T) { return (T + kTileT - 1) / kTileT * kTileT; }

// NO outputs [o0, o0 + NO) for tokens [t0, t0 + kTileT) of the transposed input xt (IC x TP).
// Unchecked under the sanitizers (core/sanitizer.h): matmul_forward checks the extents it reaches.
template <int NO>
VQR_UNCHECKED_KERNEL void tile(float *out, const float *xt, const float *w, int64_t t0, int64_t o0, int64_t T,
                               int64_t TP, int64_t IC, int64_t OC) {
  float acc[NO * kTileT] = {};
  const float *wr[NO];
  for (int ob = 0; ob < NO; ++ob) wr[ob] = w + (o0 + ob) * IC;
  for (int64_t j = 0; j < IC; ++j) {
    const float *x = xt + j * TP + t0;
    for (int ob = 0; ob < NO; ++ob) {
      const float wv = wr[ob][j];
      float *a = acc + ob * kTileT;
      // Lanes are distinct (token, output) sums: vectorizing them reorders nothing.
#pragma omp simd
      for (int64_t k = 0; k < kTileT; ++k) a[k] += wv * x[k];
    }
  }
  for (int64_t k = 0; k < kTileT && t0 + k < T; ++k)
    for (int ob = 0; ob < NO; ++ob) out[(t0 + k) * OC + o0 + ob] = acc[ob * kTileT + k];
}

// out (T x OC) = inp (T x IC) w^T + beta out: one SGEMM with B = w (OC x IC), w's rows read as they
// lie, no copy.
void xwt_gemm(backend::Backend &backend, float beta, float *out, const float *inp, const float *w, int64_t T,
              int64_t IC, int64_t OC) {
  backend.gemm(backend::Op::None, backend::Op::Trans, T, OC, IC, 1.0f, inp, IC, w, IC, beta, out, OC);
}

}  // namespace

void matmul_forward_ref(float *out, const float *inp, const float *w, int64_t T, int64_t IC, int64_t OC) {
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t o = 0; o < OC; ++o) {
      const float *x = inp + t * IC;
      const float *wrow = w + o * IC;
      float val = 0.0f;
      for (int64_t j = 0; j < IC; ++j) val += wrow[j] * x[j];
      out[t * OC + o] = val;
    }
  }
}

void matmul_forward_blas(backend::Backend &backend, float *out, const float *inp, const float *w, int64_t T,
                         int64_t IC, int64_t OC) {
  xwt_gemm(backend, 0.0f, out, inp, w, T, IC, OC);
}

void matmul_accumulate_blas(backend::Backend &backend, float *out, const float *inp, const float *w, int64_t T,
                            int64_t IC, int64_t OC) {
  xwt_gemm(backend, 1.0f, out, inp, w, T, IC, OC);
}

int64_t matmul_scratch_floats(int64_t T, int64_t IC) { return padded_tokens(T) * IC; }

void matmul_forward(float *out, float *scratch, const float *inp, const float *w, int64_t T, int64_t IC, int64_t OC,
                    int threads) {
  const int64_t TP = padded_tokens(T);
  check_addressable(out, (size_t)(T * OC));
  check_addressable(scratch, (size_t)(TP * IC));
  check_addressable(inp, (size_t)(T * IC));
  check_addressable(w, (size_t)(OC * IC));
  for (int64_t j = 0; j < IC; ++j) {
    float *row = scratch + j * TP;
    for (int64_t t = 0; t < T; ++t) row[t] = inp[t * IC + j];
    for (int64_t t = T; t < TP; ++t) row[t] = 0.0f;
  }
  const int64_t t_tiles = TP / kTileT;
  const int64_t o_tiles = (OC + kTileO - 1) / kTileO;
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static) if (T * OC * IC >= kMinParallelWork)
  for (int64_t ot = 0; ot < o_tiles; ++ot) {
    for (int64_t tt = 0; tt < t_tiles; ++tt) {
      const int64_t o0 = ot * kTileO, t0 = tt * kTileT;
      if (o0 + kTileO <= OC) {
        tile<kTileO>(out, scratch, w, t0, o0, T, TP, IC, OC);
      } else {
        for (int64_t o = o0; o < OC; ++o) tile<1>(out, scratch, w, t0, o, T, TP, IC, OC);
      }
    }
  }
}

}  // namespace vqr::model
