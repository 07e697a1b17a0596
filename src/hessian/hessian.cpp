// Hessian accumulation (hessian.h). fp32 path: one SSYRK per batch straight from the caller's
// rows (any stride), so the accumulation runs at the BLAS's SYRK rate; fp16/bf16 batches are
// widened in bounded chunks. Only the upper triangle of S is maintained.
#include "hessian/hessian.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "core/crc32.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/memory_budget.h"

namespace vqr::hessian {

static constexpr int64_t kMaxWidth = int64_t(1) << 20;
static constexpr uint32_t kFormatVersion = 1;
static constexpr size_t kHeaderBytes = 40;
static constexpr char kMagic[4] = {'V', 'Q', 'R', 'H'};

Hessian::Hessian(int64_t n, bool f64, bool asymmetric, backend::Backend &be)
    : n_(n), f64_(f64), asym_(asymmetric), backend_(&be) {
  require(n >= 1 && n <= kMaxWidth, Status::InvalidArgument,
          "hessian width n = " + std::to_string(n) + " is outside [1, 2^20]");
  // n x n sums (S, and Dsum when asymmetric), plus their device copies off the host.
  const double matrices = (asymmetric ? 2.0 : 1.0) * (!f64 && !be.host_memory() ? 2.0 : 1.0);
  require_memory(nullptr, matrices * (double)n * (double)n * (f64 ? 8.0 : 4.0),
                 "a hessian of width " + std::to_string(n));
  if (f64)
    s64_.assign((size_t)(n * n), 0.0);
  else
    s32_.assign((size_t)(n * n), 0.0f);
  if (asym_ && f64) d64_.assign((size_t)(n * n), 0.0);
  if (asym_ && !f64) d32_.assign((size_t)(n * n), 0.0f);
  if (!f64 && !be.host_memory()) {
    s_dev_ = be.alloc((size_t)(n * n) * sizeof(float));
    s_dev_->upload(0, s32_.data(), s32_.size() * sizeof(float));
    if (asym_) {
      d_dev_ = be.alloc((size_t)(n * n) * sizeof(float));
      d_dev_->upload(0, d32_.data(), d32_.size() * sizeof(float));
    }
  }
}

unsigned Hessian::flags() const { return (f64_ ? kFlagF64 : 0u) | (asym_ ? kFlagAsymmetric : 0u); }

// Non-finite test on the raw 16-bit patterns: all exponent bits set.
static int64_t find_nonfinite_16(const uint16_t *x, int64_t count, uint16_t exp_mask) {
  for (int64_t i = 0; i < count; ++i)
    if ((x[i] & exp_mask) == exp_mask) return i;
  return -1;
}

void Hessian::add_f32_rows(const float *x, int64_t rows, int64_t ld) {
  if (s_dev_) {
    backend_->syrk_upper_view(tensor_2d(x, DType::F32, rows, n_, ld), ld, *s_dev_);
    host_stale_ = true;
    return;
  }
  if (!f64_) {
    backend_->syrk(backend::Triangle::Upper, backend::Op::Trans, n_, rows, 1.0f, x, ld, 1.0f, s32_.data(), n_);
    return;
  }
  std::vector<double> xd((size_t)(rows * n_));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < n_; ++c) xd[(size_t)(r * n_ + c)] = x[r * ld + c];
  backend_->syrk(backend::Triangle::Upper, backend::Op::Trans, n_, rows, 1.0, xd.data(), n_, 1.0, s64_.data(), n_);
}

// Value j of row r of a validated fp32/fp16/bf16 view, widened.
static double view_value(const TensorView &x, int64_t stride, int64_t r, int64_t j) {
  if (x.dtype == DType::F32) return ((const float *)x.data)[r * stride + j];
  const uint16_t v = ((const uint16_t *)x.data)[r * stride + j];
  return x.dtype == DType::F16 ? f16_to_f32(v) : bf16_to_f32(v);
}

// Per-column sums of squares of a validated batch, in fp64 (no overflow for any fp32 input).
static std::vector<double> column_sums_of_squares(const TensorView &x, int64_t stride) {
  std::vector<double> sq((size_t)x.cols, 0.0);
  for (int64_t r = 0; r < x.rows; ++r)
    for (int64_t j = 0; j < x.cols; ++j) {
      const double v = view_value(x, stride, r, j);
      sq[(size_t)j] += v * v;
    }
  return sq;
}

void Hessian::guard_sums(std::vector<double> &total, const std::vector<double> &sq, const char *what) const {
  if (total.empty()) total.assign((size_t)n_, 0.0);
  for (int64_t j = 0; j < n_; ++j) {
    const double after = total[(size_t)j] + sq[(size_t)j];
    if (after <= kSumLimit32) continue;
    char figure[64];
    std::snprintf(figure, sizeof figure, "%.3g", after);
    throw Error(Status::NonFinite,
                std::string(what) + ": column " + std::to_string(j) + "'s sum of squares would reach " + figure +
                    ", past what fp32 accumulation holds (3.4e38): the statistic would overflow to Inf; batch "
                    "rejected; hint: scale the activations, or create the hessian with VQR_HESSIAN_F64");
  }
  for (int64_t j = 0; j < n_; ++j) total[(size_t)j] += sq[(size_t)j];
}

// Validates a batch view against width n and rejects it whole when any value is NaN or Inf, so
// that a failed add leaves the accumulator unchanged. Returns the effective row stride.
static int64_t check_batch(const TensorView &x, int64_t n, const char *name) {
  const int64_t stride = validate_view(&x, name);
  require(x.cols == n, Status::InvalidArgument,
          std::string(name) + " has " + std::to_string(x.cols) + " columns but the hessian width is " +
              std::to_string(n));
  require(x.rows <= (int64_t(1) << 31) - 1, Status::InvalidArgument,
          std::string(name) + ": more than 2^31-1 rows in one batch");
  for (int64_t r = 0; r < x.rows; ++r) {
    int64_t bad;
    if (x.dtype == DType::F32)
      bad = find_nonfinite((const float *)x.data + r * stride, n);
    else
      bad = find_nonfinite_16((const uint16_t *)x.data + r * stride, n, x.dtype == DType::F16 ? 0x7c00 : 0x7f80);
    require(bad < 0, Status::NonFinite,
            std::string(name) + "[" + std::to_string(r) + ", " + std::to_string(bad) +
                "] is NaN or Inf; batch rejected");
  }
  return stride;
}

void Hessian::add(const TensorView &x) {
  const int64_t stride = check_batch(x, n_, "x");
  const int64_t T = x.rows;
  if (T == 0) return;
  if (!f64_) guard_sums(colsq_, column_sums_of_squares(x, stride), "x");

  if (s_dev_) {
    backend_->syrk_upper_view(x, stride, *s_dev_);
    host_stale_ = true;
  } else if (!f64_) {
    backend_->syrk_upper_view(x, stride, s32_.data(), n_);
  } else {
    const int64_t chunk = std::min(T, backend::widening_chunk_rows(n_));
    std::vector<float> staging((size_t)(chunk * n_));
    for (int64_t r0 = 0; r0 < T; r0 += chunk) {
      const int64_t rows = std::min(chunk, T - r0);
      view_rows_to_f32(staging.data(), x, stride, r0, rows);
      add_f32_rows(staging.data(), rows, n_);
    }
  }
  tokens_ += T;
}

void Hessian::add_d_rows(const float *dx, const float *xq, int64_t rows) {
  if (d_dev_) {
    backend_->gemm_accumulate(backend::Op::Trans, backend::Op::None, n_, n_, rows, 1.0f, dx, n_, xq, n_, *d_dev_);
    host_stale_ = true;
    return;
  }
  if (!f64_) {
    // Dsum (n x n) += dX^T (n x rows) Xq (rows x n): one SGEMM, 2 n^2 rows flops.
    backend_->gemm(backend::Op::Trans, backend::Op::None, n_, n_, rows, 1.0f, dx, n_, xq, n_, 1.0f, d32_.data(), n_);
    return;
  }
  std::vector<double> a((size_t)(rows * n_)), b((size_t)(rows * n_));
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = dx[i];
    b[i] = xq[i];
  }
  backend_->gemm(backend::Op::Trans, backend::Op::None, n_, n_, rows, 1.0, a.data(), n_, b.data(), n_, 1.0,
                 d64_.data(), n_);
}

void Hessian::add_pair(const TensorView &x_q, const TensorView &x_fp) {
  require(asym_, Status::InvalidArgument,
          "add_pair needs an asymmetric hessian (create it with VQR_HESSIAN_ASYMMETRIC)");
  const int64_t sq = check_batch(x_q, n_, "x_q");
  const int64_t sf = check_batch(x_fp, n_, "x_fp");
  require(x_q.rows == x_fp.rows, Status::InvalidArgument,
          "x_q has " + std::to_string(x_q.rows) + " rows but x_fp has " + std::to_string(x_fp.rows) +
              "; pairs must hold the same tokens");
  const int64_t T = x_q.rows;
  if (T == 0) return;
  if (!f64_) {
    // Both guards before either sum changes, so a refused pair leaves the accumulator as it was.
    // One pass over both streams: x_q's column sums of squares and those of x_fp - x_q.
    std::vector<double> qsq((size_t)n_, 0.0), dsq((size_t)n_, 0.0);
    for (int64_t r = 0; r < T; ++r)
      for (int64_t j = 0; j < n_; ++j) {
        const double q = view_value(x_q, sq, r, j), d = view_value(x_fp, sf, r, j) - q;
        qsq[(size_t)j] += q * q;
        dsq[(size_t)j] += d * d;
      }
    std::vector<double> colsq = colsq_, dxsq = dxsq_;
    guard_sums(colsq, qsq, "x_q");
    guard_sums(dxsq, dsq, "x_fp - x_q");
    colsq_ = std::move(colsq);
    dxsq_ = std::move(dxsq);
  }
  // Both streams are widened chunk by chunk: dX = Xf - Xq feeds the D GEMM, Xq the SYRK.
  const int64_t chunk = std::min(T, backend::widening_chunk_rows(n_));
  std::vector<float> q((size_t)(chunk * n_)), dx((size_t)(chunk * n_));
  for (int64_t r0 = 0; r0 < T; r0 += chunk) {
    const int64_t rows = std::min(chunk, T - r0);
    view_rows_to_f32(q.data(), x_q, sq, r0, rows);
    view_rows_to_f32(dx.data(), x_fp, sf, r0, rows);
    for (size_t i = 0; i < (size_t)(rows * n_); ++i) dx[i] -= q[i];
    add_f32_rows(q.data(), rows, n_);
    add_d_rows(dx.data(), q.data(), rows);
  }
  tokens_ += T;
}

void Hessian::merge(const Hessian &other) {
  require(&other != this, Status::InvalidArgument, "cannot merge a hessian into itself");
  require(other.n_ == n_, Status::InvalidArgument,
          "merge: widths differ (" + std::to_string(n_) + " vs " + std::to_string(other.n_) + ")");
  require(other.f64_ == f64_, Status::InvalidArgument, "merge: one hessian is fp64, the other fp32");
  require(other.asym_ == asym_, Status::InvalidArgument, "merge: one hessian is asymmetric, the other is not");
  auto add_all = [](auto &dst, const auto &src) {
    for (size_t i = 0; i < dst.size(); ++i) dst[i] += src[i];
  };
  // Every sum checked before any is stored: a refused merge leaves this accumulator unchanged.
  // (S's lower triangle is never written, zero in both, so it passes.)
  auto check_sums = [&](const auto &dst, const auto &src, const char *what) {
    for (size_t i = 0; i < dst.size(); ++i)
      if (!std::isfinite(dst[i] + src[i]))
        throw Error(Status::NonFinite, std::string("merge: ") + what + "[" + std::to_string(i / (size_t)n_) + "][" +
                                           std::to_string(i % (size_t)n_) +
                                           "] would overflow to Inf; hint: merge into a VQR_HESSIAN_F64 hessian");
  };
  sync();
  other.sync();
  check_sums(s32_, other.s32_, "S");
  check_sums(d32_, other.d32_, "D");
  check_sums(s64_, other.s64_, "S");
  check_sums(d64_, other.d64_, "D");
  // The overflow guard's column sums (empty until a first fp32 batch) add as the matrices do.
  for (auto [dst, src] : {std::pair{&colsq_, &other.colsq_}, std::pair{&dxsq_, &other.dxsq_}}) {
    if (src->empty()) continue;
    if (dst->empty()) dst->assign(src->size(), 0.0);
    add_all(*dst, *src);
  }
  add_all(s32_, other.s32_);
  if (s_dev_) s_dev_->upload(0, s32_.data(), s32_.size() * sizeof(float));
  add_all(s64_, other.s64_);
  add_all(d32_, other.d32_);
  if (d_dev_) d_dev_->upload(0, d32_.data(), d32_.size() * sizeof(float));
  add_all(d64_, other.d64_);
  tokens_ += other.tokens_;
}

void Hessian::sync() const {
  if (!host_stale_) return;
  s_dev_->download(0, s32_.data(), s32_.size() * sizeof(float));
  if (d_dev_) d_dev_->download(0, d32_.data(), d32_.size() * sizeof(float));
  host_stale_ = false;
  if (unchecked_) {
    unchecked_ = false;
    for (int64_t i = 0; i < n_; ++i)
      require(std::isfinite(s32_[(size_t)(i * n_ + i)]), Status::NonFinite,
              "hessian: a calibration batch added on the device held a non-finite value (column " +
                  std::to_string(i) + " of S has a non-finite sum of squares)");
  }
}

void Hessian::add_resident(const backend::DeviceBuffer &x, int64_t offset, int64_t rows) {
  require(rows >= 0 && rows <= (int64_t(1) << 31) - 1, Status::InvalidArgument,
          "x: a resident batch must have 0 to 2^31-1 rows");
  require(offset >= 0 && (uint64_t)(offset + rows * n_) * sizeof(float) <= x.bytes(), Status::InvalidArgument,
          "x: the resident batch lies outside its buffer");
  if (rows == 0) return;
  if (s_dev_) {
    backend_->syrk_upper_resident(x, offset, rows, n_, *s_dev_);
    host_stale_ = unchecked_ = true;
    tokens_ += rows;
    return;
  }
  std::vector<float> host((size_t)(rows * n_));
  x.download((size_t)offset * sizeof(float), host.data(), host.size() * sizeof(float));
  add(tensor_2d(host.data(), DType::F32, rows, n_, 0));
}

HessianView Hessian::view() const {
  sync();
  HessianView v;
  v.n = n_;
  v.s32 = f64_ ? nullptr : s32_.data();
  v.s64 = f64_ ? s64_.data() : nullptr;
  v.d32 = asym_ && !f64_ ? d32_.data() : nullptr;
  v.d64 = asym_ && f64_ ? d64_.data() : nullptr;
  v.scale = tokens_ > 0 ? 2.0 / (double)tokens_ : 0.0;
  return v;
}

void Hessian::read(float *out, int64_t ld) const {
  const HessianView v = view();
  // Row by row from the upper triangle (j >= i reads row i of S contiguously, j < i mirrors).
  for (int64_t i = 0; i < n_; ++i)
    for (int64_t j = 0; j < n_; ++j) out[i * ld + j] = v.at(i, j);
}

void Hessian::read_d(float *out, int64_t ld) const {
  require(asym_, Status::InvalidArgument, "hessian is not asymmetric: it holds no D");
  const HessianView v = view();
  for (int64_t i = 0; i < n_; ++i)
    for (int64_t j = 0; j < n_; ++j) out[i * ld + j] = v.d_at(i, j);
}

// --- serialization ------------------------------------------------------------------------------

static size_t payload_bytes(int64_t n, bool f64, bool asym) {
  return (size_t)(n * (n + 1) / 2 + (asym ? n * n : 0)) * (f64 ? 8 : 4);
}

size_t Hessian::serialized_size() const { return kHeaderBytes + payload_bytes(n_, f64_, asym_) + 4; }

template <class T>
static void put(unsigned char *&p, T v) {
  std::memcpy(p, &v, sizeof v);
  p += sizeof v;
}
template <class T>
static T get(const unsigned char *&p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  p += sizeof v;
  return v;
}

void Hessian::serialize(void *buf) const {
  sync();
  unsigned char *p = static_cast<unsigned char *>(buf);
  std::memcpy(p, kMagic, 4);
  p += 4;
  put<uint32_t>(p, kFormatVersion);
  put<uint32_t>(p, flags());
  put<uint32_t>(p, 0u);
  put<int64_t>(p, n_);
  put<int64_t>(p, tokens_);
  put<uint64_t>(p, (uint64_t)payload_bytes(n_, f64_, asym_));
  for (int64_t i = 0; i < n_; ++i) {
    const size_t count = (size_t)(n_ - i);
    if (f64_) {
      std::memcpy(p, &s64_[(size_t)(i * n_ + i)], count * 8);
      p += count * 8;
    } else {
      std::memcpy(p, &s32_[(size_t)(i * n_ + i)], count * 4);
      p += count * 4;
    }
  }
  if (asym_) {
    const size_t bytes = (size_t)(n_ * n_) * (f64_ ? 8 : 4);
    std::memcpy(p, f64_ ? (const void *)d64_.data() : (const void *)d32_.data(), bytes);
    p += bytes;
  }
  const size_t body = (size_t)(p - static_cast<unsigned char *>(buf));
  put<uint32_t>(p, crc32_update(0, buf, body));
}

Hessian Hessian::deserialize(const void *buf, size_t size) {
  require(buf != nullptr, Status::InvalidArgument, "buf is NULL");
  require(size >= kHeaderBytes + 4, Status::Corrupt,
          "serialized hessian: " + std::to_string(size) + " bytes is shorter than the header");
  const unsigned char *p = static_cast<const unsigned char *>(buf);
  require(std::memcmp(p, kMagic, 4) == 0, Status::Corrupt, "serialized hessian: bad magic (expected \"VQRH\")");
  p += 4;
  const uint32_t version = get<uint32_t>(p), flags = get<uint32_t>(p), reserved = get<uint32_t>(p);
  const int64_t n = get<int64_t>(p), tokens = get<int64_t>(p);
  const uint64_t payload = get<uint64_t>(p);
  require(version == kFormatVersion, Status::Corrupt,
          "serialized hessian: format version " + std::to_string(version) + " is not supported");
  require((flags & ~(kFlagF64 | kFlagAsymmetric)) == 0 && reserved == 0, Status::Corrupt,
          "serialized hessian: unknown flags");
  require(n >= 1 && n <= kMaxWidth, Status::Corrupt, "serialized hessian: width " + std::to_string(n) + " is invalid");
  require(tokens >= 0, Status::Corrupt, "serialized hessian: negative token count");
  const bool f64 = (flags & kFlagF64) != 0;
  const bool asym = (flags & kFlagAsymmetric) != 0;
  require(payload == payload_bytes(n, f64, asym) && size == kHeaderBytes + payload + 4, Status::Corrupt,
          "serialized hessian: size " + std::to_string(size) + " does not match width " + std::to_string(n));
  const uint32_t stored_crc = [&] {
    const unsigned char *q = static_cast<const unsigned char *>(buf) + size - 4;
    return get<uint32_t>(q);
  }();
  require(crc32_update(0, buf, size - 4) == stored_crc, Status::Corrupt, "serialized hessian: checksum mismatch");

  // A NaN or Inf with a valid checksum was written that way (an older writer, or another
  // program): not damage but a statistic no method can use, reported where it lies.
  auto nonfinite = [](const char *what, int64_t i, int64_t j) {
    return Error(Status::NonFinite, std::string("serialized hessian: ") + what + "[" + std::to_string(i) + "][" +
                                        std::to_string(j) + "] is NaN or Inf");
  };
  Hessian h(n, f64, asym);
  h.tokens_ = tokens;
  for (int64_t i = 0; i < n; ++i) {
    const size_t count = (size_t)(n - i);
    if (f64) {
      std::memcpy(&h.s64_[(size_t)(i * n + i)], p, count * 8);
      p += count * 8;
      for (size_t k = 0; k < count; ++k)
        if (!std::isfinite(h.s64_[(size_t)(i * n + i) + k])) throw nonfinite("S", i, i + (int64_t)k);
    } else {
      std::memcpy(&h.s32_[(size_t)(i * n + i)], p, count * 4);
      p += count * 4;
      const int64_t bad = find_nonfinite(&h.s32_[(size_t)(i * n + i)], (int64_t)count);
      if (bad >= 0) throw nonfinite("S", i, i + bad);
    }
  }
  if (asym) {
    const size_t count = (size_t)(n * n);
    int64_t bad = -1;
    if (f64) {
      std::memcpy(h.d64_.data(), p, count * 8);
      for (size_t k = 0; k < count && bad < 0; ++k)
        if (!std::isfinite(h.d64_[k])) bad = (int64_t)k;
    } else {
      std::memcpy(h.d32_.data(), p, count * 4);
      bad = find_nonfinite(h.d32_.data(), (int64_t)count);
    }
    if (bad >= 0) throw nonfinite("D", bad / n, bad % n);
  }
  // The overflow guard's column sums: S's diagonal is exactly the sum of squares it accumulated.
  // Dsum's left factor is not recoverable from the file; its guard starts from zero, and later
  // sweeps check their own results (quant/gptq.cpp).
  if (!f64) {
    h.colsq_.resize((size_t)n);
    for (int64_t i = 0; i < n; ++i) h.colsq_[(size_t)i] = h.s32_[(size_t)(i * n + i)];
  }
  return h;
}

}  // namespace vqr::hessian
