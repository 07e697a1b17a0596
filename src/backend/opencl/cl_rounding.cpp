// The learned-rounding kernels on an OpenCL device (cl_rounding.h).
#include "backend/opencl/cl_rounding.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "backend/opencl/cl_device.h"
#include "backend/rectified_sigmoid.h"
#include "core/context.h"
#include "core/error.h"

namespace vqr::backend::opencl {

namespace {

// Staging slots of ClDevice used here (0-2 are GEMM's): m x n in and out, small (K x D, m x G) in
// and out. Their contents never outlive one call.
enum Slot { kSlotIn = 3, kSlotOut = 4, kSlotSmallIn = 5, kSlotSmallOut = 6, kSlotSmallOut2 = 7 };

constexpr size_t kRegItems = 64;              // relaxed_rounding.cl's REG_ITEMS
constexpr size_t kDeltaChunk = size_t(1) << 18;  // floats of the regularizer's gradient read back at a time

// Build options shared by both files: the rectified sigmoid's constants as the host rounds them
// (hex floats, exact), and correctly rounded division where the device offers it (OpenCL's
// default single-precision division may be off by 2.5 ulp).
std::string rounding_options(const ClDevice &dev) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "-DRS_SCALE=%af -DRS_GAMMA=(%af)", (double)(float)(kZeta - kGamma),
                (double)(float)kGamma);
  return buf + dev.correctly_rounded_option();
}

void launch_1d(ClDevice &dev, cl_kernel k, size_t items, size_t local) { dev.launch(k, 1, &items, &local); }

// The regularizer's kernel over `count` entries already set up (h, hp, wc on the device): grad
// (count, +=) += its delta, read back in chunks; returns weight * the sum of the terms.
double regularize_on(ClDevice &dev, cl_kernel k, cl_mem h, cl_mem hp, cl_mem wc, int counted, int64_t count,
                     float *grad, double beta, double weight, int threads) {
  if (count == 0) return 0;
  const size_t groups = ((size_t)count + kRegItems - 1) / kRegItems;
  cl_mem delta = dev.scratch(counted ? kSlotSmallOut : kSlotOut, (size_t)count * 4);
  cl_mem partial = dev.scratch(kSlotSmallOut2, groups * 4);
  set_args(k, delta, partial, h, hp, wc, counted, (float)beta, (float)weight, (cl_long)count);
  launch_1d(dev, k, (size_t)count, kRegItems);
  std::vector<float> sums(groups), chunk(std::min<size_t>((size_t)count, kDeltaChunk));
  dev.read(partial, sums.data(), groups * 4);
  for (size_t c0 = 0; c0 < (size_t)count; c0 += kDeltaChunk) {
    const size_t c = std::min(kDeltaChunk, (size_t)count - c0);
    check(clEnqueueReadBuffer(dev.queue(), delta, CL_TRUE, c0 * 4, c * 4, chunk.data(), 0, nullptr, nullptr),
          "clEnqueueReadBuffer");
    float *g = grad + c0;
#pragma omp parallel for num_threads(threads_for(threads, (int64_t)c)) schedule(static)
    for (int64_t i = 0; i < (int64_t)c; ++i) g[i] += chunk[(size_t)i];
  }
  double total = 0;
  for (float s : sums) total += (double)s;
  return weight * total;
}

// The grid and floors every relaxed layer uploads.
struct RelaxedConstants {
  int m, n, groups;
  float maxq;
  int threads;
  ClMem bz, scale, zero, g_idx;

  RelaxedConstants(ClDevice &dev, const RelaxedLayout<float> &l)
      : m((int)l.m), n((int)l.n), groups((int)l.groups), maxq(l.maxq), threads(l.threads),
        bz(dev.context(), (size_t)(l.m * l.n) * 4, l.bz),
        scale(dev.context(), (size_t)(l.m * l.groups) * 4, l.scale),
        zero(dev.context(), (size_t)(l.m * l.groups) * 4, l.zero),
        g_idx(dev.context(), (size_t)l.n * 4, l.g_idx) {}
};

// The layouts, once their dimensions are known to fit the kernels' 32-bit indices.
const RelaxedLayout<float> &checked(const RelaxedLayout<float> &l) {
  const int64_t lim = int64_t(1) << 31;
  require(l.m < lim && l.n < lim && l.m * l.groups < lim, Status::OutOfRange,
          "OpenCL rounding kernels: m, n and m x groups must be below 2^31");
  return l;
}
const VqLayout<float> &checked(const VqLayout<float> &vq) {
  require(vq.K * vq.D < (int64_t(1) << 31), Status::OutOfRange, "OpenCL VQRound kernels: K x D must be below 2^31");
  return vq;
}
const SignRoundLayout<float> &checked(const SignRoundLayout<float> &l) {
  const int64_t lim = int64_t(1) << 31;
  require(l.m < lim && l.n < lim && l.m * l.groups < lim, Status::OutOfRange,
          "OpenCL AutoRound kernels: m, n and m x groups must be below 2^31");
  return l;
}

// --- AdaRound ------------------------------------------------------------------------------------

class ClAdaRound final : public AdaRoundKernels<float> {
 public:
  ClAdaRound(ClDevice &dev, const RelaxedLayout<float> &l)
      : dev_(dev), count_(l.m * l.n), c_(dev, checked(l)), h_(dev.context(), (size_t)count_ * 4),
        hp_(dev.context(), (size_t)count_ * 4) {
    std::lock_guard<std::mutex> lock(dev_.mutex());
    const std::string opt = rounding_options(dev_);
    forward_ = dev_.kernel("relaxed_rounding", opt, "adaround_forward");
    backward_ = dev_.kernel("relaxed_rounding", opt, "adaround_backward");
    regularize_ = dev_.kernel("relaxed_rounding", opt, "relaxed_regularize");
    local_ = std::min(dev_.local_size(forward_), dev_.local_size(backward_));
  }

  void forward(float *Wq, const float *A) override {
    std::lock_guard<std::mutex> lock(dev_.mutex());
    const size_t bytes = (size_t)count_ * 4;
    cl_mem a = dev_.scratch(kSlotIn, bytes), w = dev_.scratch(kSlotOut, bytes);
    dev_.write(a, A, bytes);
    set_args(forward_, w, h_.get(), hp_.get(), a, c_.bz.get(), c_.scale.get(), c_.zero.get(), c_.g_idx.get(), c_.maxq,
             c_.m, c_.n, c_.groups);
    launch_1d(dev_, forward_, (size_t)count_, local_);
    dev_.read(w, Wq, bytes);
  }

  void backward(float *grad, const float *G) override {
    std::lock_guard<std::mutex> lock(dev_.mutex());
    const size_t bytes = (size_t)count_ * 4;
    cl_mem g = dev_.scratch(kSlotIn, bytes), out = dev_.scratch(kSlotOut, bytes);
    dev_.write(g, G, bytes);
    set_args(backward_, out, g, h_.get(), hp_.get(), c_.bz.get(), c_.scale.get(), c_.g_idx.get(), c_.maxq, c_.m, c_.n,
             c_.groups);
    launch_1d(dev_, backward_, (size_t)count_, local_);
    dev_.read(out, grad, bytes);
  }

  double regularize(float *grad, double beta, double weight) override {
    std::lock_guard<std::mutex> lock(dev_.mutex());
    return regularize_on(dev_, regularize_, h_.get(), hp_.get(), h_.get(), 0, count_, grad, beta, weight, c_.threads);
  }

 private:
  ClDevice &dev_;
  int64_t count_;
  RelaxedConstants c_;
  ClMem h_, hp_;  // h(A), h'(A) of the last forward, m x n
  cl_kernel forward_ = nullptr, backward_ = nullptr, regularize_ = nullptr;
  size_t local_ = 1;
};

// --- VQRound -------------------------------------------------------------------------------------

class ClVqRound final : public VqRoundKernels<float> {
 public:
  ClVqRound(ClDevice &dev, const RelaxedLayout<float> &l, const VqLayout<float> &vq)
      : dev_(dev), count_(l.m * l.n), kd_(checked(vq).K * vq.D), K_((int)vq.K), D_(vq.D), c_(dev, checked(l)),
        idx_(dev.context(), (size_t)vq.L * 4, vq.idx),
        offsets_(dev.context(), (size_t)(vq.K + 1) * 8, vq.offsets),
        members_(dev.context(), (size_t)vq.L * 8, vq.members),
        wc_(dev.context(), (size_t)kd_ * 4, vq.weight_count), h_(dev.context(), (size_t)kd_ * 4),
        hp_(dev.context(), (size_t)kd_ * 4) {
    static_assert(sizeof(cl_long) == sizeof(int64_t) && sizeof(cl_int) == sizeof(int32_t), "index types");
    std::lock_guard<std::mutex> lock(dev_.mutex());
    const std::string opt = rounding_options(dev_);
    rsig_ = dev_.kernel("relaxed_rounding", opt, "vq_rsig");
    forward_ = dev_.kernel("relaxed_rounding", opt, "vq_forward");
    backward_ = dev_.kernel("relaxed_rounding", opt, "vq_backward");
    regularize_ = dev_.kernel("relaxed_rounding", opt, "relaxed_regularize");
    local_ = std::min({dev_.local_size(rsig_), dev_.local_size(forward_),
                       dev_.local_size(backward_)});
  }

  void forward(float *Wq, const float *C) override {
    std::lock_guard<std::mutex> lock(dev_.mutex());
    const size_t bytes = (size_t)count_ * 4;
    cl_mem c = dev_.scratch(kSlotSmallIn, (size_t)kd_ * 4), w = dev_.scratch(kSlotOut, bytes);
    dev_.write(c, C, (size_t)kd_ * 4);
    const int kd = (int)kd_;
    set_args(rsig_, h_.get(), hp_.get(), c, kd);
    launch_1d(dev_, rsig_, (size_t)kd_, local_);
    set_args(forward_, w, h_.get(), idx_.get(), c_.bz.get(), c_.scale.get(), c_.zero.get(), c_.g_idx.get(), c_.maxq,
             c_.m, c_.n, c_.groups, D_);
    launch_1d(dev_, forward_, (size_t)count_, local_);
    dev_.read(w, Wq, bytes);
  }

  void backward(float *grad, float *G) override {
    std::lock_guard<std::mutex> lock(dev_.mutex());
    const size_t bytes = (size_t)count_ * 4;
    cl_mem g = dev_.scratch(kSlotIn, bytes), out = dev_.scratch(kSlotSmallOut, (size_t)kd_ * 4);
    dev_.write(g, G, bytes);
    set_args(backward_, out, g, h_.get(), hp_.get(), offsets_.get(), members_.get(), c_.bz.get(), c_.scale.get(),
             c_.g_idx.get(), c_.maxq, c_.m, c_.n, c_.groups, K_, D_);
    launch_1d(dev_, backward_, (size_t)kd_, local_);
    dev_.read(out, grad, (size_t)kd_ * 4);
  }

  double regularize(float *grad, double beta, double weight) override {
    std::lock_guard<std::mutex> lock(dev_.mutex());
    return regularize_on(dev_, regularize_, h_.get(), hp_.get(), wc_.get(), 1, kd_, grad, beta, weight, c_.threads);
  }

 private:
  ClDevice &dev_;
  int64_t count_, kd_;
  int K_, D_;
  RelaxedConstants c_;
  ClMem idx_, offsets_, members_, wc_;  // the assignment and its CSR; weights per entry (K x D)
  ClMem h_, hp_;                        // h(C), h'(C) of the last forward, K x D
  cl_kernel rsig_ = nullptr, forward_ = nullptr, backward_ = nullptr, regularize_ = nullptr;
  size_t local_ = 1;
};

// --- AutoRound (SignRound) -----------------------------------------------------------------------

class ClSignRound final : public SignRoundKernels<float> {
 public:
  ClSignRound(ClDevice &dev, const SignRoundLayout<float> &l)
      : dev_(dev), count_(checked(l).m * l.n), mg_(l.m * l.groups), m_((int)l.m), n_((int)l.n),
        gs_((int)std::min(l.group_size, l.n)),
        groups_((int)l.groups), variant_((int)l.variant), maxq_(l.maxq), half_(l.half), minmax_(l.minmax),
        w_(dev.context(), (size_t)count_ * 4, l.W),
        wmin_(dev.context(), (size_t)mg_ * 4, l.wmin), wmax_(dev.context(), (size_t)mg_ * 4, l.wmax),
        v_(dev.context(), (size_t)count_ * 4), params_(dev.context(), (size_t)mg_ * 5 * 4) {
    std::lock_guard<std::mutex> lock(dev_.mutex());
    const std::string opt = rounding_options(dev_);
    groups_k_ = dev_.kernel("signround", opt, "signround_groups");
    forward_ = dev_.kernel("signround", opt, "signround_forward");
    backward_ = dev_.kernel("signround", opt, "signround_backward");
    minmax_k_ = dev_.kernel("signround", opt, "signround_minmax_grad");
    local_ = std::min({dev_.local_size(groups_k_), dev_.local_size(forward_),
                       dev_.local_size(backward_), dev_.local_size(minmax_k_)});
  }

  void forward(float *Wq, const float *V, const float *mn, const float *mx) override {
    std::lock_guard<std::mutex> lock(dev_.mutex());
    const size_t bytes = (size_t)count_ * 4, small = (size_t)mg_ * 4;
    cl_mem dmn = dev_.scratch(kSlotSmallIn, small), dmx = dev_.scratch(kSlotSmallOut, small);
    cl_mem w = dev_.scratch(kSlotOut, bytes);
    dev_.write(v_.get(), V, bytes);
    dev_.write(dmn, mn, small);
    dev_.write(dmx, mx, small);
    const int mg = (int)mg_;
    set_args(groups_k_, params_.get(), wmin_.get(), wmax_.get(), dmn, dmx, variant_, maxq_, half_, mg);
    launch_1d(dev_, groups_k_, (size_t)mg_, local_);
    set_args(forward_, w, w_.get(), v_.get(), params_.get(), maxq_, m_, n_, gs_, groups_);
    launch_1d(dev_, forward_, (size_t)count_, local_);
    dev_.read(w, Wq, bytes);
  }

  void backward(float *gV, float *gmn, float *gmx, const float *G) override {
    std::lock_guard<std::mutex> lock(dev_.mutex());
    const size_t bytes = (size_t)count_ * 4, small = (size_t)mg_ * 4;
    cl_mem g = dev_.scratch(kSlotIn, bytes), out = dev_.scratch(kSlotOut, bytes);
    dev_.write(g, G, bytes);
    set_args(backward_, out, g, w_.get(), v_.get(), params_.get(), maxq_, m_, n_, gs_, groups_);
    launch_1d(dev_, backward_, (size_t)count_, local_);
    if (minmax_) {
      cl_mem dmn = dev_.scratch(kSlotSmallOut, small), dmx = dev_.scratch(kSlotSmallOut2, small);
      set_args(minmax_k_, dmn, dmx, g, w_.get(), v_.get(), params_.get(), wmin_.get(), variant_, maxq_, m_, n_, gs_,
               groups_);
      launch_1d(dev_, minmax_k_, (size_t)mg_, local_);
      dev_.read(dmn, gmn, small);
      dev_.read(dmx, gmx, small);
    }
    dev_.read(out, gV, bytes);
  }

 private:
  ClDevice &dev_;
  int64_t count_, mg_;
  int m_, n_, gs_, groups_, variant_;
  float maxq_, half_;
  bool minmax_;
  ClMem w_, wmin_, wmax_;  // constants: weights (m x n), the groups' original range (m x G)
  ClMem v_, params_;       // the last forward's offsets (m x n) and group quantizers (5 per group)
  cl_kernel groups_k_ = nullptr, forward_ = nullptr, backward_ = nullptr, minmax_k_ = nullptr;
  size_t local_ = 1;
};

}  // namespace

void build_rounding_kernels(ClDevice &dev) {
  const std::string opt = rounding_options(dev);
  for (const char *name : {"adaround_forward", "adaround_backward", "relaxed_regularize", "vq_rsig", "vq_forward",
                           "vq_backward"})
    dev.kernel("relaxed_rounding", opt, name);
  for (const char *name : {"signround_groups", "signround_forward", "signround_backward", "signround_minmax_grad"})
    dev.kernel("signround", opt, name);
}

std::unique_ptr<AdaRoundKernels<float>> make_adaround_kernels(ClDevice &dev, const RelaxedLayout<float> &layout) {
  return std::make_unique<ClAdaRound>(dev, layout);
}
std::unique_ptr<VqRoundKernels<float>> make_vqround_kernels(ClDevice &dev, const RelaxedLayout<float> &layout,
                                                            const VqLayout<float> &vq) {
  return std::make_unique<ClVqRound>(dev, layout, vq);
}
std::unique_ptr<SignRoundKernels<float>> make_signround_kernels(ClDevice &dev, const SignRoundLayout<float> &layout) {
  return std::make_unique<ClSignRound>(dev, layout);
}

}  // namespace vqr::backend::opencl
