// Hessian accumulation (hessian.h). fp32 path: one SSYRK per batch straight from the caller's
// rows (any stride), so the accumulation runs at the BLAS's SYRK rate; fp16/bf16 batches are
// widened in bounded chunks. Only the upper triangle of S is maintained.
#include "hessian/hessian.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/crc32.h"
#include "core/dtype.h"
#include "core/error.h"
#include "linalg/blas.h"

namespace vqr::hessian {

static constexpr int64_t kMaxWidth = int64_t(1) << 20;
static constexpr uint32_t kFormatVersion = 1;
static constexpr size_t kHeaderBytes = 40;
static constexpr char kMagic[4] = {'V', 'Q', 'R', 'H'};

Hessian::Hessian(int64_t n, bool f64) : n_(n), f64_(f64) {
  require(n >= 1 && n <= kMaxWidth, VQR_ERR_INVALID_ARGUMENT,
          "hessian width n = " + std::to_string(n) + " is outside [1, 2^20]");
  if (f64)
    s64_.assign((size_t)(n * n), 0.0);
  else
    s32_.assign((size_t)(n * n), 0.0f);
}

// Rows per widening chunk: about 16 MiB of fp32 staging, never fewer than 256 rows.
static int64_t chunk_rows(int64_t n) { return std::max<int64_t>(256, (int64_t(1) << 22) / n); }

// Non-finite test on the raw 16-bit patterns: all exponent bits set.
static int64_t find_nonfinite_16(const uint16_t *x, int64_t count, uint16_t exp_mask) {
  for (int64_t i = 0; i < count; ++i)
    if ((x[i] & exp_mask) == exp_mask) return i;
  return -1;
}

void Hessian::add_f32_rows(const float *x, int64_t rows, int64_t ld) {
  if (!f64_) {
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)n_, (int)rows, 1.0f, x, (int)ld, 1.0f,
                s32_.data(), (int)n_);
    return;
  }
  std::vector<double> xd((size_t)(rows * n_));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < n_; ++c) xd[(size_t)(r * n_ + c)] = x[r * ld + c];
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)n_, (int)rows, 1.0, xd.data(), (int)n_, 1.0,
              s64_.data(), (int)n_);
}

void Hessian::add(const vqr_tensor &x) {
  const int64_t stride = validate_view(&x, "x");
  require(x.cols == n_, VQR_ERR_INVALID_ARGUMENT,
          "x has " + std::to_string(x.cols) + " columns but the hessian width is " + std::to_string(n_));
  const int64_t T = x.rows;
  if (T == 0) return;
  require(T <= (int64_t(1) << 31) - 1, VQR_ERR_INVALID_ARGUMENT, "x: more than 2^31-1 rows in one batch");

  // Reject the whole batch before touching S, so a failed add leaves the accumulator unchanged.
  for (int64_t r = 0; r < T; ++r) {
    int64_t bad;
    if (x.dtype == VQR_DTYPE_F32)
      bad = find_nonfinite((const float *)x.data + r * stride, n_);
    else
      bad = find_nonfinite_16((const uint16_t *)x.data + r * stride, n_,
                              x.dtype == VQR_DTYPE_F16 ? 0x7c00 : 0x7f80);
    require(bad < 0, VQR_ERR_NONFINITE,
            "x[" + std::to_string(r) + ", " + std::to_string(bad) + "] is NaN or Inf; batch rejected");
  }

  if (x.dtype == VQR_DTYPE_F32 && !f64_) {
    add_f32_rows((const float *)x.data, T, stride);
  } else {
    const int64_t chunk = std::min(T, chunk_rows(n_));
    std::vector<float> staging((size_t)(chunk * n_));
    for (int64_t r0 = 0; r0 < T; r0 += chunk) {
      const int64_t rows = std::min(chunk, T - r0);
      view_rows_to_f32(staging.data(), x, stride, r0, rows);
      add_f32_rows(staging.data(), rows, n_);
    }
  }
  tokens_ += T;
}

void Hessian::merge(const Hessian &other) {
  require(&other != this, VQR_ERR_INVALID_ARGUMENT, "cannot merge a hessian into itself");
  require(other.n_ == n_, VQR_ERR_INVALID_ARGUMENT,
          "merge: widths differ (" + std::to_string(n_) + " vs " + std::to_string(other.n_) + ")");
  require(other.f64_ == f64_, VQR_ERR_INVALID_ARGUMENT, "merge: one hessian is fp64, the other fp32");
  if (f64_)
    for (size_t i = 0; i < s64_.size(); ++i) s64_[i] += other.s64_[i];
  else
    for (size_t i = 0; i < s32_.size(); ++i) s32_[i] += other.s32_[i];
  tokens_ += other.tokens_;
}

HessianView Hessian::view() const {
  HessianView v;
  v.n = n_;
  v.s32 = f64_ ? nullptr : s32_.data();
  v.s64 = f64_ ? s64_.data() : nullptr;
  v.scale = tokens_ > 0 ? 2.0 / (double)tokens_ : 0.0;
  return v;
}

void Hessian::read(float *out, int64_t ld) const {
  const HessianView v = view();
  // Row by row from the upper triangle (j >= i reads row i of S contiguously, j < i mirrors).
  for (int64_t i = 0; i < n_; ++i)
    for (int64_t j = 0; j < n_; ++j) out[i * ld + j] = v.at(i, j);
}

// --- serialization ------------------------------------------------------------------------------

static size_t payload_bytes(int64_t n, bool f64) { return (size_t)(n * (n + 1) / 2) * (f64 ? 8 : 4); }

size_t Hessian::serialized_size() const { return kHeaderBytes + payload_bytes(n_, f64_) + 4; }

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
  unsigned char *p = static_cast<unsigned char *>(buf);
  std::memcpy(p, kMagic, 4);
  p += 4;
  put<uint32_t>(p, kFormatVersion);
  put<uint32_t>(p, f64_ ? VQR_HESSIAN_F64 : 0u);
  put<uint32_t>(p, 0u);
  put<int64_t>(p, n_);
  put<int64_t>(p, tokens_);
  put<uint64_t>(p, (uint64_t)payload_bytes(n_, f64_));
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
  const size_t body = (size_t)(p - static_cast<unsigned char *>(buf));
  put<uint32_t>(p, crc32_update(0, buf, body));
}

Hessian Hessian::deserialize(const void *buf, size_t size) {
  require(buf != nullptr, VQR_ERR_INVALID_ARGUMENT, "buf is NULL");
  require(size >= kHeaderBytes + 4, VQR_ERR_CORRUPT,
          "serialized hessian: " + std::to_string(size) + " bytes is shorter than the header");
  const unsigned char *p = static_cast<const unsigned char *>(buf);
  require(std::memcmp(p, kMagic, 4) == 0, VQR_ERR_CORRUPT, "serialized hessian: bad magic (expected \"VQRH\")");
  p += 4;
  const uint32_t version = get<uint32_t>(p), flags = get<uint32_t>(p), reserved = get<uint32_t>(p);
  const int64_t n = get<int64_t>(p), tokens = get<int64_t>(p);
  const uint64_t payload = get<uint64_t>(p);
  require(version == kFormatVersion, VQR_ERR_CORRUPT,
          "serialized hessian: format version " + std::to_string(version) + " is not supported");
  require((flags & ~VQR_HESSIAN_F64) == 0 && reserved == 0, VQR_ERR_CORRUPT, "serialized hessian: unknown flags");
  require(n >= 1 && n <= kMaxWidth, VQR_ERR_CORRUPT, "serialized hessian: width " + std::to_string(n) + " is invalid");
  require(tokens >= 0, VQR_ERR_CORRUPT, "serialized hessian: negative token count");
  const bool f64 = (flags & VQR_HESSIAN_F64) != 0;
  require(payload == payload_bytes(n, f64) && size == kHeaderBytes + payload + 4, VQR_ERR_CORRUPT,
          "serialized hessian: size " + std::to_string(size) + " does not match width " + std::to_string(n));
  const uint32_t stored_crc = [&] {
    const unsigned char *q = static_cast<const unsigned char *>(buf) + size - 4;
    return get<uint32_t>(q);
  }();
  require(crc32_update(0, buf, size - 4) == stored_crc, VQR_ERR_CORRUPT, "serialized hessian: checksum mismatch");

  Hessian h(n, f64);
  h.tokens_ = tokens;
  for (int64_t i = 0; i < n; ++i) {
    const size_t count = (size_t)(n - i);
    if (f64) {
      std::memcpy(&h.s64_[(size_t)(i * n + i)], p, count * 8);
      p += count * 8;
      for (size_t k = 0; k < count; ++k)
        require(std::isfinite(h.s64_[(size_t)(i * n + i) + k]), VQR_ERR_CORRUPT, "serialized hessian: non-finite value");
    } else {
      std::memcpy(&h.s32_[(size_t)(i * n + i)], p, count * 4);
      p += count * 4;
      require(find_nonfinite(&h.s32_[(size_t)(i * n + i)], (int64_t)count) < 0, VQR_ERR_CORRUPT,
              "serialized hessian: non-finite value");
    }
  }
  return h;
}

}  // namespace vqr::hessian
