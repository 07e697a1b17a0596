// Streaming accumulator of the layer statistic H = (2/T) sum_t x_t x_t^T (DESIGN §3.1,
// spec gptq §1.2). Keeps the unnormalized sum S (upper triangle, row-major, fp32 through SSYRK or
// fp64 through DSYRK) and the token count T; memory is n x n whatever T is. Asymmetric
// accumulators (GPTAQ/ResComp, spec gptq §2.2) also keep the full n x n sum
// Dsum = sum_t (x_fp,t - x_q,t) x_q,t^T, normalized by the same 2/T as H.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "core/dtype.h"

namespace vqr::hessian {

// flags(): what an accumulator keeps (the same bits as the public VQR_HESSIAN_* flags).
constexpr unsigned kFlagF64 = 1u;         // fp64 sums
constexpr unsigned kFlagAsymmetric = 2u;  // also Dsum

// Read-only element access to H = scale * S without materializing the full matrix: the
// algorithms gather the (permuted) entries they need straight from the upper triangle of S.
struct HessianView {
  int64_t n = 0;
  const float *s32 = nullptr;   // upper triangle, row-major n x n (fp32 mode)
  const double *s64 = nullptr;  // upper triangle, row-major n x n (fp64 mode)
  const float *d32 = nullptr;   // full n x n Dsum (asymmetric, fp32 mode), else null
  const double *d64 = nullptr;  // full n x n Dsum (asymmetric, fp64 mode), else null
  double scale = 0;             // 2 / T
  bool has_d() const { return d32 || d64; }
  float d_at(int64_t i, int64_t j) const { return (float)d_at64(i, j); }
  float at(int64_t i, int64_t j) const { return (float)at64(i, j); }
  // The same entries without the final rounding to fp32 (fp64 accumulators keep their precision).
  double at64(int64_t i, int64_t j) const {
    const int64_t k = i <= j ? i * n + j : j * n + i;
    return s32 ? (double)s32[k] * scale : s64[k] * scale;
  }
  double d_at64(int64_t i, int64_t j) const {
    const int64_t k = i * n + j;
    return d32 ? (double)d32[k] * scale : d64[k] * scale;
  }
};

class Hessian {
 public:
  // `be` runs the accumulation's SYRK/GEMM and must outlive the accumulator (the C API's
  // vqr_hessian_create has no context: the CPU backend).
  Hessian(int64_t n, bool f64, bool asymmetric = false, backend::Backend &be = backend::cpu());

  int64_t width() const { return n_; }
  int64_t tokens() const { return tokens_; }
  bool is_f64() const { return f64_; }
  bool is_asymmetric() const { return asym_; }
  unsigned flags() const;

  // S += X^T X for a T x n batch; validates the view and rejects non-finite batches whole, and, in
  // fp32 mode, batches that would overflow S (a column's sum of squares beyond kSumLimit32).
  void add(const TensorView &x);
  // S += X^T X for a rows x n fp32 batch resident at element `offset` of `x`, a dense batch in a
  // buffer of this Hessian's backend (a device forward's linear input, model/resident_forward.h):
  // the SYRK reads it where it lies. Its finiteness is checked when S is next read (the diagonal of
  // S is finite exactly when every value was, barring overflow): read(), view() and serialize()
  // then throw Status::NonFinite. fp64 mode downloads the batch and adds it as add() does.
  void add_resident(const backend::DeviceBuffer &x, int64_t offset, int64_t rows);
  backend::Backend &backend() const { return *backend_; }
  // Asymmetric only: S += Xq^T Xq, Dsum += (Xf - Xq)^T Xq for paired T x n batches; rejected
  // whole as add() is, and also when a column of Xf - Xq would overflow (which bounds Dsum).
  void add_pair(const TensorView &x_q, const TensorView &x_fp);
  // S += other.S, T += other.T (same width and precision); refused whole (Status::NonFinite) when
  // a sum would overflow.
  void merge(const Hessian &other);
  // H = (2/T) S as a full symmetric matrix (zeros when T = 0); ld >= n.
  void read(float *out, int64_t ld) const;
  // D = (2/T) Dsum (asymmetric only); ld >= n.
  void read_d(float *out, int64_t ld) const;
  HessianView view() const;

  size_t serialized_size() const;
  void serialize(void *buf) const;  // exactly serialized_size() bytes
  // On the CPU backend. Throws Status::Corrupt (magic, sizes, checksum) and Status::NonFinite
  // (a NaN or Inf entry, named by its position).
  static Hessian deserialize(const void *buf, size_t size);

  // fp32 accumulation keeps every column's sum of squares at most this (half of FLT_MAX): then
  // |S_ij| <= sqrt(S_ii S_jj) and |Dsum_ij| <= sqrt(sum dx_i^2 * S_jj) stay finite with room for
  // rounding, and so does every partial sum the SYRK/GEMM forms on the way.
  static constexpr double kSumLimit32 = 1.7e38;

 private:
  void add_f32_rows(const float *x, int64_t rows, int64_t ld);
  void add_d_rows(const float *dx, const float *xq, int64_t rows);  // dx, xq dense rows x n
  // fp32 mode only (fp64 sums of fp32 squares cannot overflow): throws Status::NonFinite when `sq`
  // (a batch's per-column sums of squares) added to `total` passes kSumLimit32; otherwise adds them.
  // `what` names the batch in the message.
  void guard_sums(std::vector<double> &total, const std::vector<double> &sq, const char *what) const;

  int64_t n_;
  bool f64_;
  bool asym_;
  backend::Backend *backend_;
  int64_t tokens_ = 0;
  // fp32 mode on a backend whose memory is not the host's (an OpenCL device): S (and Dsum) live in
  // s_dev_ (d_dev_) between additions, so a batch moves only its activations to the device; s32_
  // and d32_ are then copies refreshed by sync() before anything reads them.
  std::unique_ptr<backend::DeviceBuffer> s_dev_, d_dev_;
  mutable bool host_stale_ = false;
  mutable bool unchecked_ = false;  // a resident batch's finiteness is still to be checked (sync)
  void sync() const;
  mutable std::vector<float> s32_;   // n x n, upper triangle valid (fp32 mode)
  std::vector<double> s64_;  // n x n, upper triangle valid (fp64 mode)
  mutable std::vector<float> d32_;   // n x n Dsum (asymmetric, fp32 mode)
  std::vector<double> d64_;  // n x n Dsum (asymmetric, fp64 mode)
  // Per-column sums of squares of what S (colsq_) and Dsum's left factor (dxsq_) accumulated, in
  // fp64: the overflow guard of fp32 mode (guard_sums) reads them instead of S, which may sit on a
  // device.
  std::vector<double> colsq_, dxsq_;
};

}  // namespace vqr::hessian
