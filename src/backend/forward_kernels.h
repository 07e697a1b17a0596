// The model forward's operations on activations that stay in a device backend's memory (issue 18
// item 3: "activations stay there between layers of a block"). The model floor composes a block
// from them (model/resident_forward.h); a backend whose buffers are host memory has none, and the
// forward runs its host passes instead (model/elementwise.h).
//
// Why a separate object and not more Backend virtuals: these are the forward's passes, with the
// forward's shapes (tokens x width rows, heads of size HS, score tiles), made once per Forward and
// holding what they compile; the Backend class stays the BLAS/LAPACK seam every floor uses.
//
// Each pass computes what its host twin in model/elementwise.h or model/attention.cpp computes, in
// the arithmetic stated at each declaration; tests/backend/test_opencl_forward.cpp holds every pass
// to its twin. Operands are float matrices in buffers of the backend that made this object, at
// element offsets; calls are queued in order and complete before a download from any of them
// returns. Throws vqr::Error on a device failure.
#pragma once

#include <cstdint>

namespace vqr::backend {

class DeviceBuffer;
enum class Op;

class ForwardKernels {
 public:
  virtual ~ForwardKernels() = default;

  // c (m x n at c_off, row stride ldc) = alpha op(a) op(b) + beta c, a and b at their offsets and
  // row strides; with beta = 0 c is not read. fp32 accumulation in k order.
  virtual void gemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const DeviceBuffer &a,
                    int64_t a_off, int64_t lda, const DeviceBuffer &b, int64_t b_off, int64_t ldb, float beta,
                    DeviceBuffer &c, int64_t c_off, int64_t ldc) = 0;

  // out = rmsnorm(inp) * weight per row of `width` (rows x width, dense; out may be inp), the sum
  // of squares in model::kNormLanes interleaved partial sums and the scale as model::rmsnorm_rows
  // computes them: the same bits.
  virtual void rmsnorm_rows(DeviceBuffer &out, const DeviceBuffer &inp, const DeviceBuffer &weight, int64_t rows,
                            int64_t width, float eps) = 0;

  // y[r, :] = bias for rows x n (dense): the start value of a bias-folded GEMM.
  virtual void fill_rows(DeviceBuffer &y, const DeviceBuffer &bias, int64_t rows, int64_t n) = 0;

  // model::qk_norm_rope_rows on the T tokens whose q rows (NH heads of HS) start at row `row0` of q
  // and whose k rows (NKV heads) start at row `row0` of k: per head the optional RMSNorm (q_norm /
  // k_norm: HS gains, both NULL to skip) and the rotation by `table` (model::rope_table, {cos, sin}
  // per position and pair, position 0 = the first of these tokens); half_layout pairs (j, j + HS/2),
  // else (2j, 2j + 1). The same bits as the host pass.
  virtual void qk_norm_rope_rows(DeviceBuffer &q, DeviceBuffer &k, int64_t row0, const DeviceBuffer &table,
                                 const DeviceBuffer *q_norm, const DeviceBuffer *k_norm, float eps, int64_t T,
                                 int64_t NH, int64_t NKV, int64_t HS, bool half_layout) = 0;

  // hb = silu(hb) * hb2 over n values (model::swiglu_forward's expression; the device's expf is
  // within its OpenCL bound of 3 ulp of the host's).
  virtual void swiglu(DeviceBuffer &hb, const DeviceBuffer &hb2, int64_t n) = 0;

  // The attention row pass of one query tile (model::attention_forward_blas): `count` rows of `nk`
  // scores (dense), row r being query position t = t0 + r % rows; keys start at position k0. Row r
  // keeps [first_visible(t, window), t] of them, divided by `scale`, softmaxed in fp32 (maximum,
  // exp, sum, one division per value), and sets the rest to exact zeros. The sum runs in another
  // order than the host's and exp within 3 ulp: the weights differ by a few ulps.
  virtual void causal_softmax(DeviceBuffer &scores, int64_t count, int64_t rows, int64_t nk, int64_t t0, int64_t k0,
                              int64_t window, float scale) = 0;

  // Device memory (bytes) the forward may spend on weights it keeps between calls.
  virtual uint64_t weight_cache_bytes() const = 0;
};

}  // namespace vqr::backend
