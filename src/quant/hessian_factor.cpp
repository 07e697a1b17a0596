// Dead fix, permutation, damping retry and inverse Cholesky factor (hessian_factor.h).
//
// Why the reverse Cholesky: with J the exchange matrix, J Hp J = L L^T gives Hp = V V^T with
// V = J L J upper triangular, so Hp^-1 = (V^-1)^T V^-1 and U = V^-1 = J L^-1 J. Row q of U holds
// the OBS update of column q given that columns < q are fixed (spec gptq §1.3, oracle §8.2).
// Building J Hp J directly and reversing L^-1 in place keeps it to one n x n buffer.
#include "quant/hessian_factor.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include <omp.h>

#include "backend/backend.h"
#include "core/error.h"

namespace vqr::quant {

// Cholesky succeeded in LAPACK's sense and every pivot is usable.
static bool pivots_ok(const float *L, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float d = L[i * n + i];
    if (!(d > 0.0f) || !std::isfinite(d)) return false;
  }
  return true;
}

// In place: A := J A J (reverse rows and columns), then zero the strict lower triangle. Turns
// the row-major lower L^-1 into the row-major upper U = J L^-1 J.
static void reverse_to_upper(float *a, int64_t n, int threads) {
#pragma omp parallel for num_threads(threads_for(threads, n * n)) schedule(static)
  for (int64_t i = 0; i < (n + 1) / 2; ++i) {
    float *top = a + i * n, *bottom = a + (n - 1 - i) * n;
    if (top == bottom) {
      std::reverse(top, top + n);
    } else {
      for (int64_t j = 0; j < n; ++j) std::swap(top[j], bottom[n - 1 - j]);
    }
    for (int64_t j = 0; j < i; ++j) top[j] = 0.0f;
    for (int64_t j = 0; j < n - 1 - i; ++j) bottom[j] = 0.0f;
  }
}

void diagonal_block_inverse(backend::Backend &be, const HessianFactor &f, int64_t i1, int64_t i2, float *Linv,
                            float *Ublock) {
  const int64_t n = f.n, b = i2 - i1, lo = n - i2;
  for (int64_t a = 0; a < b; ++a)
    for (int64_t c = 0; c < b; ++c) Linv[a * b + c] = c <= a ? f.L[(size_t)((lo + a) * n + lo + c)] : 0.0f;
  const int info = be.trtri(backend::Triangle::Lower, backend::Diag::NonUnit, b, Linv, b);
  require(info == 0, Status::Numerical, "triangular inverse of a diagonal block failed (at " + std::to_string(info) + ")");
  for (int64_t a = 0; a < b; ++a)
    for (int64_t c = 0; c < b; ++c) Ublock[a * b + c] = Linv[(b - 1 - a) * b + (b - 1 - c)];
}

HessianFactor factor_hessian(const hessian::HessianView &H, bool act_order, const QuantConfig &config,
                             bool need_inverse, bool keep_cholesky, const Context *ctx, int threads) {
  const int64_t n = H.n;
  HessianFactor f;
  f.n = n;
  f.dead.assign((size_t)n, 0);
  std::vector<float> diag((size_t)n);
  for (int64_t j = 0; j < n; ++j) {
    diag[(size_t)j] = H.at(j, j);
    if (diag[(size_t)j] == 0.0f) {  // spec §1.3 step 2: dead input, H_jj := 1
      f.dead[(size_t)j] = 1;
      diag[(size_t)j] = 1.0f;
      ++f.dead_count;
    }
  }
  f.perm.resize((size_t)n);
  std::iota(f.perm.begin(), f.perm.end(), int64_t(0));
  if (act_order)  // spec §1.3 step 4, with a stable sort so ties keep their original order
    std::stable_sort(f.perm.begin(), f.perm.end(),
                     [&](int64_t a, int64_t b) { return diag[(size_t)a] > diag[(size_t)b]; });

  double mean_diag = 0;
  for (float d : diag) mean_diag += d;
  mean_diag /= (double)n;

  Buffer<float> buf((size_t)(n * n));  // first touched by the parallel fill below
  backend::Backend &be = backend_of(ctx);
  for (int attempt = 0; attempt < config.damp_attempts; ++attempt) {
    // Doubling steps: damp, damp + inc, damp + 3 inc, damp + 7 inc, ... (our choice; GPTQModel
    // adds a constant 0.01 per failure, which needs ~100 factorizations to reach damp = 1).
    const double damp = config.damp + config.damp_increment * (std::ldexp(1.0, attempt) - 1.0);
    const float lambda = (float)(damp * mean_diag);
    const double t_gather = omp_get_wtime();
    // buf = J (Hp + diag shift) J, with Hp[a][b] = H[perm a][perm b] and the dead diagonals at 1.
#pragma omp parallel for num_threads(threads_for(threads, n * n)) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const int64_t pi = f.perm[(size_t)(n - 1 - i)];
      float *row = &buf[(size_t)(i * n)];
      for (int64_t j = 0; j <= i; ++j) row[j] = H.at(pi, f.perm[(size_t)(n - 1 - j)]);
      row[i] = diag[(size_t)pi] + lambda;
    }
    const double t_potrf = omp_get_wtime();
    const int info = be.potrf(backend::Triangle::Lower, n, buf.data(), n);
    const double t_potrf_end = omp_get_wtime();
    if (info != 0 || !pivots_ok(buf.data(), n)) {
      std::ostringstream msg;
      msg << "Cholesky failed with damp " << damp << " (leading minor " << info << "); retrying with more damping";
      log_message(ctx, LogLevel::Warn, msg.str());
      continue;
    }
    f.damp = damp;
    f.lambda = lambda;
    f.attempts = attempt + 1;
    f.shift.resize((size_t)n);
    for (int64_t q = 0; q < n; ++q) f.shift[(size_t)q] = lambda + (f.dead[(size_t)f.perm[(size_t)q]] ? 1.0f : 0.0f);
    if (keep_cholesky) {
      if (need_inverse)
        f.L = buf;
      else
        f.L = std::move(buf);
    }
    double t_trtri = t_potrf_end, t_reverse = t_potrf_end;
    if (need_inverse) {
      t_trtri = omp_get_wtime();
      const int tinfo = be.trtri(backend::Triangle::Lower, backend::Diag::NonUnit, n, buf.data(), n);
      require(tinfo == 0, Status::Numerical, "triangular inverse failed (singular factor at " + std::to_string(tinfo) + ")");
      t_reverse = omp_get_wtime();
      reverse_to_upper(buf.data(), n, threads);
      f.U = std::move(buf);
    }
    // Where the factorization's time goes, for tuning (the sweep logs its own phases).
    if (ctx && ctx->log_fn && ctx->log_level <= LogLevel::Debug) {
      std::ostringstream line;
      line.precision(3);
      line << std::fixed << "factor " << n << ": gather " << t_potrf - t_gather << " s, potrf " << t_potrf_end - t_potrf
           << " s, copy " << t_trtri - t_potrf_end << " s, trtri " << t_reverse - t_trtri << " s, reverse "
           << omp_get_wtime() - t_reverse << " s";
      log_message(ctx, LogLevel::Debug, line.str());
    }
    return f;
  }
  std::ostringstream msg;
  msg << "Cholesky of the damped Hessian failed after " << config.damp_attempts << " attempts (last damp "
      << config.damp + config.damp_increment * (std::ldexp(1.0, config.damp_attempts - 1) - 1.0)
      << "); raise VQR_PARAM_DAMP or check the calibration data";
  throw Error(Status::Numerical, msg.str());
}

}  // namespace vqr::quant
