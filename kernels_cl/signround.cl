// AutoRound's (SignRound's) straight-through quantizer on the device (backend/opencl/cl_rounding.cpp);
// the CPU twin is backend/cpu/cpu_rounding.cpp, the math spec learned_rounding §1.3. Only basic
// IEEE operations in the twin's order, rint (round half to even) and an exact fp16 rounding, so
// with correctly rounded division (-cl-fp32-correctly-rounded-divide-sqrt, which the host code
// asks for where the device offers it) every output equals the CPU's bit for bit.
//
// Letters: weights m x n (e = r n + j), G groups per row of gs columns (group k = r G + g holds
// columns g gs .. min(n, (g + 1) gs) - 1). params: 5 floats per group (s, zp, lo, ds/dmn, ds/dmx).
#pragma OPENCL FP_CONTRACT OFF

#define ASYM 0
#define GPTQ_SYM 1
#define FULL_RANGE 2
#define SCALE_FLOOR 1e-5f

// f16_to_f32(f32_to_f16(f)) (core/dtype.cpp) without a half type: round half to even at fp16's
// precision; >= 65520 becomes Inf; fp16 subnormals round at their quantum 2^-24.
inline float through_f16(const float f) {
  const uint u = as_uint(f), sign = u & 0x80000000u, au = u & 0x7fffffffu;
  if (au >= 0x7f800000u) return f;
  if (au >= 0x477ff000u) return as_float(sign | 0x7f800000u);
  if (au < 0x38800000u) return as_float(sign | as_uint(rint(as_float(au) * 16777216.0f) * 0x1p-24f));
  const uint lsb = (au >> 13) & 1u;
  return as_float(sign | ((au + 0xfffu + lsb) & ~0x1fffu));
}

// params (5 per group, overwritten): each group's quantizer at the multipliers mn, mx (m G each).
__kernel void signround_groups(__global float *params, __global const float *wmin, __global const float *wmax,
                               __global const float *mn, __global const float *mx, const int variant,
                               const float maxq, const float halfq, const int count) {
  const int k = get_global_id(0);
  if (k >= count) return;
  const float w_lo = wmin[k], w_hi = wmax[k];
  const float lo = w_lo * mn[k], hi = w_hi * mx[k];
  float s, zp, ds_dmn = 0.0f, ds_dmx = 0.0f;
  if (variant == FULL_RANGE) {
    const float a = -lo, c = hi;
    const float s16 = through_f16((c < a ? a : -c) / halfq);
    const bool pass = fabs(s16) >= SCALE_FLOOR;
    s = pass ? s16 : (signbit(s16) ? -SCALE_FLOOR : SCALE_FLOOR);
    zp = halfq;
    if (pass) {
      if (c < a)
        ds_dmn = -w_lo / halfq;
      else
        ds_dmx = -w_hi / halfq;
    }
  } else {
    float s_raw;
    if (variant == GPTQ_SYM) {
      const bool neg_wins = lo < 0.0f && -lo > hi;
      const float big = -lo < hi ? hi : -lo;  // std::max(-lo, hi)
      s_raw = lo < 0.0f ? 2.0f * big / maxq : hi / maxq;
      zp = halfq;
      if (neg_wins)
        ds_dmn = -2.0f * w_lo / maxq;
      else
        ds_dmx = (lo < 0.0f ? 2.0f : 1.0f) * w_hi / maxq;
    } else {
      s_raw = (hi - lo) / maxq;
      ds_dmx = w_hi / maxq;
      ds_dmn = -w_lo / maxq;
    }
    const float s16 = through_f16(s_raw);
    if (s16 < SCALE_FLOOR) {
      s = SCALE_FLOOR;
      ds_dmn = ds_dmx = 0.0f;
    } else {
      s = s16;
    }
    if (variant == ASYM) zp = rint(-lo / s);
  }
  __global float *p = params + 5 * (long)k;
  p[0] = s;
  p[1] = zp;
  p[2] = lo;
  p[3] = ds_dmn;
  p[4] = ds_dmx;
}

// rint(W / s + V) + zp of weight i before the clamp, with its group's scale and zero point.
inline float unclamped_code(const long i, __global const float *w, __global const float *v,
                            __global const float *params, const int n, const int gs, const int groups, float *s,
                            float *zp) {
  const int r = (int)(i / n), j = (int)(i % n);
  __global const float *p = params + 5 * ((long)r * groups + j / gs);
  *s = p[0];
  *zp = p[1];
  return rint(w[i] / *s + v[i]) + *zp;
}

// wq (m x n, overwritten) = s (clamp(rint(W / s + V) + zp, 0, maxq) - zp). One item per weight.
__kernel void signround_forward(__global float *wq, __global const float *w, __global const float *v,
                                __global const float *params, const float maxq, const int m, const int n,
                                const int gs, const int groups) {
  const long i = get_global_id(0);
  if (i >= (long)m * n) return;
  float s, zp;
  const float qv = unclamped_code(i, w, v, params, n, gs, groups, &s, &zp);
  const float q = qv < 0.0f ? 0.0f : (qv > maxq ? maxq : qv);
  wq[i] = s * (q - zp);
}

// gv (m x n, overwritten) = G s inside the clamp, 0 where it saturates (straight through round).
__kernel void signround_backward(__global float *gv, __global const float *g, __global const float *w,
                                 __global const float *v, __global const float *params, const float maxq,
                                 const int m, const int n, const int gs, const int groups) {
  const long i = get_global_id(0);
  if (i >= (long)m * n) return;
  float s, zp;
  const float qv = unclamped_code(i, w, v, params, n, gs, groups, &s, &zp);
  gv[i] = (qv < 0.0f || qv > maxq) ? 0.0f : g[i] * s;
}

// gmn, gmx (m x G, overwritten): dL/ds summed over the group's columns in ascending order (the
// CPU's order: the same sum bit for bit), in range (q - zp) - W/s, saturated (B - zp) - lo/s
// (asymmetric; B - zp otherwise) plus dL/dlo = G (asymmetric), chained to the multipliers. One item
// per group.
__kernel void signround_minmax_grad(__global float *gmn, __global float *gmx, __global const float *g,
                                    __global const float *w, __global const float *v, __global const float *params,
                                    __global const float *wmin, const int variant, const float maxq, const int m,
                                    const int n, const int gs, const int groups) {
  const int k = get_global_id(0);
  if (k >= m * groups) return;
  const int r = k / groups, gg = k % groups;
  __global const float *p = params + 5 * (long)k;
  const float s = p[0], zp = p[1], lo = p[2];
  const bool asym = variant == ASYM;
  float dS = 0.0f, dLo = 0.0f;
  const long j1 = min((long)n, ((long)gg + 1) * gs);
  for (long j = (long)gg * gs; j < j1; ++j) {
    const long i = (long)r * n + j;
    const float x = w[i] / s;
    const float qv = rint(x + v[i]) + zp;
    const bool low = qv < 0.0f, high = qv > maxq;
    const float q = low ? 0.0f : (high ? maxq : qv);
    if (!low && !high) {
      dS += g[i] * ((q - zp) - x);
    } else {
      dS += g[i] * ((q - zp) - (asym ? lo / s : 0.0f));
      if (asym) dLo += g[i];
    }
  }
  gmn[k] = dS * p[3] + dLo * wmin[k];
  gmx[k] = dS * p[4];
}
