// AdaRound's and VQRound's relaxation on the device (backend/opencl/cl_rounding.cpp); the CPU
// twin is backend/cpu/cpu_rounding.cpp, the math spec learned_rounding §3.2-3.3 and spec vqround
// §1.5-1.7. Every expression keeps the twin's operation order, so results differ from the CPU's
// only through exp (the rectified sigmoid) and pow (the regularizer), whose ULP bounds the parity
// test derives its tolerances from.
//
// Letters: weights m x n (e = r n + j), G groups per row (scale/zero m x G through g_idx[j]),
// codebook K x D, L = ceil(m n / D) vectors. Built with -DRS_SCALE=<zeta - gamma> and
// -DRS_GAMMA=<gamma> as hex floats from the host's constants (rectified_sigmoid.h).
#pragma OPENCL FP_CONTRACT OFF

// h(a) = clip(sigmoid(a) (zeta - gamma) + gamma, 0, 1) and h'(a), 0 where clipped.
inline void rsig_and_grad(const float a, float *h, float *hp) {
  const float s = 1.0f / (1.0f + exp(-a));
  const float y = s * RS_SCALE + RS_GAMMA;
  const bool clipped = y < 0.0f || y > 1.0f;
  *h = y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
  *hp = clipped ? 0.0f : RS_SCALE * s * (1.0f - s);
}

// 1 - |2h - 1|^beta, and its derivative with respect to h in *dh; subnormal powers flushed to 0.
inline float round_reg(const float h, const float beta, float *dh) {
  const float u = 2.0f * h - 1.0f, au = fabs(u);
  if (au == 0.0f) {
    *dh = 0.0f;
    return 1.0f;
  }
  float p = pow(au, beta);
  if (p < FLT_MIN * 1024.0f) p = 0.0f;
  *dh = -2.0f * beta * (p / au) * (u > 0.0f ? 1.0f : -1.0f);
  return 1.0f - p;
}

// The soft weight s (clip(bz + h, 0, maxq) - z); *in: the clamp passes the gradient.
inline float soft_weight(const float bz, const float h, const float s, const float z, const float maxq, bool *in) {
  const float v = bz + h;
  *in = v >= 0.0f && v <= maxq;
  return s * ((v < 0.0f ? 0.0f : (v > maxq ? maxq : v)) - z);
}

// --- AdaRound ------------------------------------------------------------------------------------

// wq, h, hp (m x n, overwritten) from the latents a (m x n). One item per weight.
__kernel void adaround_forward(__global float *wq, __global float *h, __global float *hp, __global const float *a,
                               __global const float *bz, __global const float *scale, __global const float *zero,
                               __global const int *g_idx, const float maxq, const int m, const int n,
                               const int groups) {
  const long i = get_global_id(0);
  if (i >= (long)m * n) return;
  const int r = (int)(i / n), j = (int)(i % n);
  const int k = r * groups + g_idx[j];
  float hi, hpi;
  bool in;
  rsig_and_grad(a[i], &hi, &hpi);
  h[i] = hi;
  hp[i] = hpi;
  wq[i] = soft_weight(bz[i], hi, scale[k], zero[k], maxq, &in);
}

// grad (m x n, overwritten) = G s h' where the clamp passes, else 0.
__kernel void adaround_backward(__global float *grad, __global const float *g, __global const float *h,
                                __global const float *hp, __global const float *bz, __global const float *scale,
                                __global const int *g_idx, const float maxq, const int m, const int n,
                                const int groups) {
  const long i = get_global_id(0);
  if (i >= (long)m * n) return;
  const int r = (int)(i / n), j = (int)(i % n);
  const float v = bz[i] + h[i];
  const bool in = v >= 0.0f && v <= maxq;
  grad[i] = in ? g[i] * scale[r * groups + g_idx[j]] * hp[i] : 0.0f;
}

// The regularizer over `count` entries, each counted wc[i] times (VQRound) or once (wc unused,
// counted = 0): delta (count, overwritten) = w [wc] dh h', the caller adds it to its gradient;
// partial[group] = the sum of the group's [wc] (1 - |2h - 1|^beta), a pairwise tree over its
// REG_ITEMS items in a fixed order (deterministic). Items past `count` add 0.
#define REG_ITEMS 64
__kernel __attribute__((reqd_work_group_size(REG_ITEMS, 1, 1)))
void relaxed_regularize(__global float *delta, __global float *partial, __global const float *h,
                        __global const float *hp, __global const float *wc, const int counted, const float beta,
                        const float w, const long count) {
  __local float sums[REG_ITEMS];
  const long i = get_global_id(0);
  const int t = get_local_id(0);
  float term = 0.0f;
  if (i < count) {
    float dh;
    const float reg = round_reg(h[i], beta, &dh);
    if (counted) {
      term = wc[i] * reg;
      delta[i] = w * wc[i] * dh * hp[i];
    } else {
      term = reg;
      delta[i] = w * dh * hp[i];
    }
  }
  sums[t] = term;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int stride = REG_ITEMS / 2; stride > 0; stride >>= 1) {
    if (t < stride) sums[t] += sums[t + stride];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (t == 0) partial[get_group_id(0)] = sums[0];
}

// --- VQRound -------------------------------------------------------------------------------------

// h, hp (K x D, overwritten) of the codebook c (K x D).
__kernel void vq_rsig(__global float *h, __global float *hp, __global const float *c, const int kd) {
  const int i = get_global_id(0);
  if (i >= kd) return;
  float hi, hpi;
  rsig_and_grad(c[i], &hi, &hpi);
  h[i] = hi;
  hp[i] = hpi;
}

// wq (m x n, overwritten): weight e takes codebook entry idx[e / D] D + e % D.
__kernel void vq_forward(__global float *wq, __global const float *h, __global const int *idx,
                         __global const float *bz, __global const float *scale, __global const float *zero,
                         __global const int *g_idx, const float maxq, const int m, const int n, const int groups,
                         const int D) {
  const long e = get_global_id(0);
  if (e >= (long)m * n) return;
  const int r = (int)(e / n), j = (int)(e % n);
  const int k = r * groups + g_idx[j];
  bool in;
  wq[e] = soft_weight(bz[e], h[(long)idx[e / D] * D + e % D], scale[k], zero[k], maxq, &in);
}

// grad[c D + d] (overwritten) = hp[c D + d] * the sum, over codeword c's vectors in ascending
// member order, of G s where the clamp passes (0 elsewhere), skipping the padded tail of the last
// vector: one item per (codeword, d), each summing sequentially in the CPU's order, so the sum is
// the CPU's bit for bit (given the same h). All members of codeword c share the entry's h.
__kernel void vq_backward(__global float *grad, __global const float *g, __global const float *h,
                          __global const float *hp, __global const long *offsets, __global const long *members,
                          __global const float *bz, __global const float *scale, __global const int *g_idx,
                          const float maxq, const int m, const int n, const int groups, const int K, const int D) {
  const int i = get_global_id(0);
  if (i >= K * D) return;
  const int c = i / D, d = i % D;
  const long count = (long)m * n;
  const float hc = h[(long)c * D + d];
  float acc = 0.0f;
  for (long p = offsets[c]; p < offsets[c + 1]; ++p) {
    const long e = members[p] * D + d;
    if (e >= count) continue;  // the padded tail of the last vector
    const int r = (int)(e / n), j = (int)(e % n);
    const float v = bz[e] + hc;
    acc += (v >= 0.0f && v <= maxq) ? g[e] * scale[r * groups + g_idx[j]] : 0.0f;
  }
  grad[(long)c * D + d] = acc * hp[(long)c * D + d];
}
