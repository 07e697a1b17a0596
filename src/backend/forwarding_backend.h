// A Backend that hands every operation to another one. Derive from it and override what to
// intercept: the tests count the operations the library routes (tests/backend/test_cpu_backend.cpp)
// or send one fused step to a device while the rest stays on the CPU (SplitSweepBackend below, for
// test_opencl_gptq.cpp and bench/bench_gptq_sweep.cpp), without restating the whole interface.
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"

namespace vqr::backend {

class ForwardingBackend : public Backend {
 public:
  explicit ForwardingBackend(Backend &to) : to_(to) {}

  std::string description() const override { return to_.description(); }
  std::unique_ptr<DeviceBuffer> alloc(size_t bytes) override { return to_.alloc(bytes); }
  void gemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
            const float *b, int64_t ldb, float beta, float *c, int64_t ldc) override {
    to_.gemm(op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void gemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
            const double *b, int64_t ldb, double beta, double *c, int64_t ldc) override {
    to_.gemm(op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void syrk(Triangle uplo, Op op, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, float beta,
            float *c, int64_t ldc) override {
    to_.syrk(uplo, op, n, k, alpha, a, lda, beta, c, ldc);
  }
  void syrk(Triangle uplo, Op op, int64_t n, int64_t k, double alpha, const double *a, int64_t lda, double beta,
            double *c, int64_t ldc) override {
    to_.syrk(uplo, op, n, k, alpha, a, lda, beta, c, ldc);
  }
  void trmm(Side side, Triangle uplo, Op op_a, Diag diag, int64_t m, int64_t n, float alpha, const float *a,
            int64_t lda, float *b, int64_t ldb) override {
    to_.trmm(side, uplo, op_a, diag, m, n, alpha, a, lda, b, ldb);
  }
  int potrf(Triangle uplo, int64_t n, float *a, int64_t lda) override { return to_.potrf(uplo, n, a, lda); }
  int trtri(Triangle uplo, Diag diag, int64_t n, float *a, int64_t lda) override {
    return to_.trtri(uplo, diag, n, a, lda);
  }
  bool host_memory() const override { return to_.host_memory(); }
  bool gptq_sweep_block(const GptqBlockJob &job) override { return to_.gptq_sweep_block(job); }

 protected:
  Backend &to_;
};

// Every operation on `rest` except the fused GPTQ-family in-block sweep, which goes to `sweep`:
// compares one device kernel against the CPU with everything around it unchanged. Counts the
// blocks `sweep` ran.
class SplitSweepBackend final : public ForwardingBackend {
 public:
  SplitSweepBackend(Backend &rest, Backend &sweep) : ForwardingBackend(rest), sweep_(sweep) {}
  int64_t sweep_blocks = 0;
  std::string description() const override { return to_.description() + " + in-block sweep on " + sweep_.description(); }
  bool gptq_sweep_block(const GptqBlockJob &job) override {
    const bool ran = sweep_.gptq_sweep_block(job);
    sweep_blocks += ran;
    return ran;
  }

 private:
  Backend &sweep_;
};

}  // namespace vqr::backend
