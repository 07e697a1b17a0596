// The model forward's elementwise passes on resident activations (backend/forward_kernels.h), each
// the device twin of a host pass in src/model/elementwise.cpp or src/model/attention.cpp.
//
// Built with -cl-fp32-correctly-rounded-divide-sqrt, and contraction off as the library's host
// code (-ffp-contract=off): RMSNorm's scale 1 / sqrt(ss / C + eps) and its sums of squares are then
// the host's operations in the host's order, so RMSNorm, RoPE (the same table) and the bias fill are
// the host's bits. SwiGLU's and softmax's exp are OpenCL's (<= 3 ulp), so those two differ from the
// host's by a few ulps; softmax also sums in a tree instead of the host's lanes.
#pragma OPENCL FP_CONTRACT OFF

#define NORM_LANES 16  // model::kNormLanes
#define ROW_ITEMS 64   // work-items per softmax row

// Sum of x[0..n) squared as model elementwise.cpp sum_squares: lane k takes j = k mod 16 over the
// whole 16-wide body, the lanes added in order, then the tail in order.
inline float sum_squares_serial(__global const float *x, int n) {
  float lane[NORM_LANES];
  for (int k = 0; k < NORM_LANES; ++k) lane[k] = 0.0f;
  int j = 0;
  for (; j + NORM_LANES <= n; j += NORM_LANES)
    for (int k = 0; k < NORM_LANES; ++k) lane[k] += x[j + k] * x[j + k];
  float ss = 0.0f;
  for (int k = 0; k < NORM_LANES; ++k) ss += lane[k];
  for (; j < n; ++j) ss += x[j] * x[j];
  return ss;
}

// run.c's 1 / sqrt(ss / C + eps).
inline float rms_scale(float ss, int n, float eps) {
  ss /= (float)n;
  ss += eps;
  return 1.0f / sqrt(ss);
}

// One work-group of NORM_LANES items per row: item k is lane k of the sum of squares (the same
// additions in the same order as the host), item 0 adds the lanes and the tail, then every item
// scales its strided share. out may be inp: each value is read before the barrier by the item
// that writes it after.
__kernel __attribute__((reqd_work_group_size(NORM_LANES, 1, 1)))
void rmsnorm_rows(__global float *out, __global const float *inp, __global const float *weight, const int width,
                  const float eps) {
  const int k = get_local_id(0);
  const long row = get_group_id(0);
  __global const float *x = inp + row * width;
  __local float lane[NORM_LANES];
  __local float scale;
  const int body = width - width % NORM_LANES;
  float acc = 0.0f;
  for (int j = 0; j < body; j += NORM_LANES) acc += x[j + k] * x[j + k];
  lane[k] = acc;
  barrier(CLK_LOCAL_MEM_FENCE);
  if (k == 0) {
    float ss = 0.0f;
    for (int l = 0; l < NORM_LANES; ++l) ss += lane[l];
    for (int j = body; j < width; ++j) ss += x[j] * x[j];
    scale = rms_scale(ss, width, eps);
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  const float s = scale;
  __global float *o = out + row * width;
  for (int j = k; j < width; j += NORM_LANES) o[j] = weight[j] * (s * x[j]);
}

// y[r, i] = bias[i].
__kernel void fill_rows(__global float *y, __global const float *bias, const int rows, const int n) {
  const int i = get_global_id(0), r = get_global_id(1);
  if (i < n && r < rows) y[(long)r * n + i] = bias[i];
}

// One item per (head, token) of T tokens: q heads 0..NH-1, then k heads; the optional per-head
// RMSNorm (a NULL gain skips it), then RoPE from table[t] ({cos, sin} per pair).
__kernel void qk_norm_rope_rows(__global float *q, __global float *k, const long q_off, const long k_off,
                                __global const float *table, __global const float *q_norm,
                                __global const float *k_norm, const float eps, const int T, const int NH,
                                const int NKV, const int HS, const int half_layout) {
  const int h = get_global_id(0), t = get_global_id(1);
  if (h >= NH + NKV || t >= T) return;
  __global float *vec = h < NH ? q + q_off + ((long)t * NH + h) * HS : k + k_off + ((long)t * NKV + (h - NH)) * HS;
  __global const float *norm = h < NH ? q_norm : k_norm;
  if (norm) {
    const float s = rms_scale(sum_squares_serial(vec, HS), HS, eps);
    for (int j = 0; j < HS; ++j) vec[j] = norm[j] * (s * vec[j]);
  }
  const int pairs = HS / 2, stride = half_layout ? 1 : 2, partner = half_layout ? pairs : 1;
  __global const float *cs = table + (long)t * pairs * 2;
  for (int j = 0; j < pairs; ++j) {
    const int a = j * stride, b = a + partner;
    const float fcr = cs[2 * j], fci = cs[2 * j + 1];
    const float v0 = vec[a], v1 = vec[b];
    vec[a] = v0 * fcr - v1 * fci;
    vec[b] = v0 * fci + v1 * fcr;
  }
}

// hb = silu(hb) * hb2, run.c's expression.
__kernel void swiglu(__global float *hb, __global const float *hb2, const long n) {
  const long i = get_global_id(0);
  if (i >= n) return;
  float v = hb[i];
  v *= (1.0f / (1.0f + exp(-v)));
  v *= hb2[i];
  hb[i] = v;
}

// A deterministic tree over the work-group's ROW_ITEMS values: red[0] = max or sum of red[].
inline void reduce_max(__local float *red, int lid) {
  for (int s = ROW_ITEMS / 2; s > 0; s >>= 1) {
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid < s) red[lid] = fmax(red[lid], red[lid + s]);
  }
  barrier(CLK_LOCAL_MEM_FENCE);
}
inline void reduce_sum(__local float *red, int lid) {
  for (int s = ROW_ITEMS / 2; s > 0; s >>= 1) {
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid < s) red[lid] += red[lid + s];
  }
  barrier(CLK_LOCAL_MEM_FENCE);
}

// One work-group per score row (attention.cpp's row pass): row r is position t = t0 + r % rows,
// keys start at k0; entries [first, last] (first_visible(t) - k0 .. t - k0) become the softmax of
// the scores divided by scale, the others exact zeros.
__kernel __attribute__((reqd_work_group_size(ROW_ITEMS, 1, 1)))
void causal_softmax(__global float *scores, const int rows, const int nk, const int t0, const int k0,
                    const int window, const float scale) {
  const int lid = get_local_id(0);
  const long r = get_group_id(0);
  const int t = t0 + (int)(r % rows);
  const int first = (window > 0 && t >= window ? t - window + 1 : 0) - k0, last = t - k0;
  __global float *a = scores + r * nk;
  __local float red[ROW_ITEMS];
  // Every pass visits s = lid, lid + ROW_ITEMS, ...: each score is read and written by one item only,
  // so the passes need no global-memory barrier between them.
  const int begin = lid + ((max(first, 0) - lid + ROW_ITEMS - 1) / ROW_ITEMS) * ROW_ITEMS;
  float m = -INFINITY;
  for (int s = begin; s <= last; s += ROW_ITEMS) {
    const float v = a[s] / scale;
    a[s] = v;
    m = fmax(m, v);
  }
  red[lid] = m;
  reduce_max(red, lid);
  const float max_val = red[0];
  barrier(CLK_LOCAL_MEM_FENCE);  // every item has read red[0] before it is reused
  float sum = 0.0f;
  for (int s = begin; s <= last; s += ROW_ITEMS) {
    const float e = exp(a[s] - max_val);
    a[s] = e;
    sum += e;
  }
  red[lid] = sum;
  reduce_sum(red, lid);
  const float total = red[0];
  for (int s = lid; s < nk; s += ROW_ITEMS) a[s] = s >= first && s <= last ? a[s] / total : 0.0f;
}
