// The GPTQ-family in-block sweep of one block (backend/opencl/cl_gptq_sweep.cpp; the job's contract
// is backend/gptq_block_job.h). The oracle is the CPU tile loop, sweep_tile in src/quant/gptq.cpp:
// every operation below is that loop's, in its order and with its roundings (no contraction into
// fma, correctly rounded division: the host builds with -cl-fp32-correctly-rounded-divide-sqrt),
// so codes, scales, zeros and errors are bit-identical. Assumes fp32 subnormals are kept (the
// OpenCL default without -cl-denorms-are-zero), as on the host.
//
// Dimension letters: m rows, b block columns, R rows per work-group, T = ROW_THREADS work-items per
// row, KC rows of U (and Phat) staged at a time. Work-group (R, T): item (r, t) owns row r of its
// group and the block columns j = t (mod T). The group's rows live in local memory (TILE below);
// every item of a row computes the row's column step itself (the same operations on the same
// values, so the same result), and each column's outputs are written by the item that owns it.
// Rows are independent; within a row the column steps are sequential: with T > 1 a barrier
// separates them (and a group's range read from its updates). U's rows come from local memory,
// staged KC at a time by the whole group.
#pragma OPENCL FP_CONTRACT OFF

#ifndef ROW_THREADS
#define ROW_THREADS 1
#endif
#define KC 16

// Column j of the item's row in the tile. With several items per row, tile[j][r]: the items of a
// warp (consecutive r) touch consecutive words. With one item per row (CPU devices) the item's row
// is contiguous, tile[r][j], so its column loop runs along memory and vectorizes.
#if ROW_THREADS > 1
#define TILE(j) tile[(j) * R + lr]
#else
#define TILE(j) tile[lr * b + (j)]
#endif

// Job flags (cl_gptq_sweep.cpp sets the same bits).
#define HAS_ADD 1
#define HAS_W0 2
#define HAS_P 4
#define HAS_E 8
#define HAS_SPLIT 16
#define HAS_START 32
#define STALE 64
#define ERR_RESIDUAL 128
#define SYM 256

// quant::Grid, DType and quant::OuterMode numbers.
#define GRID_GPTQ 0
#define GRID_QUAROT 1
#define GRID_FULL_RANGE 2
#define DTYPE_F32 0
#define DTYPE_F16 1
#define OUTER_PREQUANT 1
#define OUTER_PREQUANT_CLAMPED 2

// ---- The grid: quant/grid.h and grid.cpp, operation for operation ---------------------------------

// round_half_even of grid.h: clamp to +-2^12, then the 1.5 * 2^23 trick (exact without fast-math).
float round_half_even(float v) {
  v = v > 4096.0f ? 4096.0f : (v < -4096.0f ? -4096.0f : v);
  const float big = 12582912.0f;
  return (v + big) - big;
}

float quantize_code(float x, float scale, float zero, float maxq) {
  const float c = round_half_even(x / scale) + zero;
  return c < 0.0f ? 0.0f : (c > maxq ? maxq : c);
}

// f16_to_f32(f32_to_f16(f)) of core/dtype (finite f only).
float f16_round(float f) {
  const uint u = as_uint(f);
  const uint sign = (u >> 16) & 0x8000u;
  const uint au = u & 0x7fffffffu;
  uint h;
  if (au >= 0x477ff000u) {
    h = sign | 0x7c00u;
  } else if (au < 0x38800000u) {
    h = sign | (uint)rint(as_float(au) * 16777216.0f);
  } else {
    uint v = au - 0x38000000u;
    v += 0xfffu + ((v >> 13) & 1u);
    h = (sign | (v >> 13)) & 0xffffu;
  }
  const uint hs = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0x1fu) return as_float(hs | 0x7f800000u | (man << 13));
  if (exp != 0u) return as_float(hs | ((exp + 112u) << 23) | (man << 13));
  return as_float(as_uint((float)man * 5.9604644775390625e-08f) | hs);
}

// bf16_to_f32(f32_to_bf16(f)) of core/dtype (finite f only).
float bf16_round(float f) {
  const uint u = as_uint(f);
  return as_float(((u + 0x7fffu + ((u >> 16) & 1u)) >> 16) << 16);
}

// std::min / std::max as the host evaluates them: min(a, b) = b < a ? b : a, max(a, b) = a < b ? b : a.
float std_min(float a, float b) { return b < a ? b : a; }
float std_max(float a, float b) { return a < b ? b : a; }

// group_params_from_range of grid.cpp: grid_range, then params_for_range.
void params_from_range(float xmin, float xmax, int maxq, int sym, int grid, int scale_dtype, float *scale_out,
                       float *zero_out) {
  if (grid == GRID_GPTQ) {
    if (sym) {
      xmax = std_max(-xmin, xmax);
      if (xmin < 0.0f) xmin = -xmax;
    }
    if (xmin == 0.0f && xmax == 0.0f) {
      xmin = -1.0f;
      xmax = 1.0f;
    }
  } else if (grid == GRID_QUAROT && sym) {
    xmax = std_max(-xmin, xmax);
    xmin = -xmax;
  }
  float scale, zero;
  const int half_levels = (maxq + 1) / 2;  // 2^(bits-1)
  if (grid == GRID_QUAROT) {
    if (sym) {
      const float absmax = std_max(std_max(-xmin, xmax), 1e-5f);
      scale = absmax / (float)(half_levels - 1);
      zero = (float)half_levels;
    } else {
      scale = std_max(xmax - xmin, 1e-5f) / (float)maxq;
      zero = round_half_even(-xmin / scale);
    }
  } else if (grid == GRID_FULL_RANGE) {
    const float a = -xmin, c = xmax;
    const float s = (c < a ? a : -c) / (float)half_levels;
    scale = (s >= 1e-5f || s <= -1e-5f) ? s : (signbit(s) ? -1e-5f : 1e-5f);
    zero = (float)half_levels;
  } else {
    scale = (xmax - xmin) / (float)maxq;
    zero = sym ? (float)((maxq + 1) / 2) : round_half_even(-xmin / scale);
  }
  if (scale_dtype != DTYPE_F32 && scale != 0.0f && isfinite(scale)) {
    const int f16 = scale_dtype == DTYPE_F16;
    float s = f16 ? f16_round(scale) : bf16_round(scale);
    const float smallest = f16 ? 6.103515625e-05f : 1.17549435e-38f;
    if (isfinite(s)) {
      if (s == 0.0f) s = copysign(smallest, scale);
      scale = s;
      if (!sym) zero = std_min(std_max(round_half_even(-xmin / s), 0.0f), (float)maxq);
    }
  }
  *scale_out = scale;
  *zero_out = zero;
}

// ---- The sweep ------------------------------------------------------------------------------------

// Outputs (`out`, dense m x b each, at the offsets given; `out_bytes` holds the codes):
//   err (overwrites): E_out forward, or with ERR_RESIDUAL w - Q with columns reversed
//   verr (HAS_P), e (HAS_E), base and residual (HAS_SPLIT): m x b, overwritten
//   codes: m x b bytes, overwritten
//   tables: scales (Gs x m) then zeros at zeros_off; row k - k0 holds group k; rows of groups that
//     start in the block are overwritten, the others read
// Inputs (`in`, dense): w (m x b), add (m x b, columns reversed; HAS_ADD), w0 (m x b; HAS_W0),
//   u (b x b upper), p (b x b strictly upper; HAS_P); `in_ints`: group (b), start (b; HAS_START).
__kernel void gptq_sweep_block(__global float *out, __global uchar *out_bytes, const ulong err_off,
                               const ulong verr_off, const ulong e_off, const ulong base_off, const ulong res_off,
                               const ulong codes_off, __global float *tables, const ulong zeros_off, const int k0,
                               __global const float *in, __global const int *in_ints, const ulong w_off,
                               const ulong add_off, const ulong w0_off, const ulong u_off, const ulong p_off,
                               const ulong group_off, const ulong start_off, const int maxq, const int grid,
                               const int scale_dtype, const float alpha, const float alpha2, const int outer,
                               const int flags, const int m, const int b, __local float *restrict tile,
                               __local float *restrict uc, __local float *restrict pc) {
  const int R = get_local_size(0);
  const int lr = get_local_id(0), t = get_local_id(1);
  const int lid = t * R + lr, items = R * ROW_THREADS;
  const int row = get_group_id(0) * R + lr;
  const int live = row < m;
  const long rb = (long)(live ? row : 0) * b;  // the row's start in every m x b array
  __global const float *w = in + w_off;
  __global const float *add = in + add_off;
  __global const float *w0s = in + w0_off;
  __global const float *u = in + u_off;
  __global const float *p = in + p_off;
  __global const int *group = in_ints + group_off;
  __global const int *start = in_ints + start_off;
  __global float *err = out + err_off;
  __global float *verr = out + verr_off;
  __global float *eo = out + e_off;
  __global float *base = out + base_off;
  __global float *resid = out + res_off;
  __global uchar *codes = out_bytes + codes_off;
  __global float *scales = tables;
  __global float *zeros = tables + zeros_off;
  const int has_p = flags & HAS_P;
  const float fmaxq = (float)maxq;

  // The tile: w (+ add), zeros for padding rows (they run the same steps, unstored).
  for (int c = t; c < b; c += ROW_THREADS) {
    float v = 0.0f;
    if (live) {
      v = w[rb + c];
      if (flags & HAS_ADD) v += add[rb + b - 1 - c];
    }
    TILE(c) = v;
  }
  float scale = 1.0f, zero = 0.0f;
  for (int c0 = 0; c0 < b; c0 += KC) {
    const int c1 = min(b, c0 + KC);
    // Stage rows c0..c1-1 of U (and Phat), columns c0..b-1: uc[i * b + j] = U[c0 + i][j].
    barrier(CLK_LOCAL_MEM_FENCE);
    const int width = b - c0;
    for (int l = lid; l < (c1 - c0) * width; l += items) {
      const int i = l / width, j = c0 + l % width;
      uc[i * b + j] = u[(long)(c0 + i) * b + j];
      if (has_p) pc[i * b + j] = p[(long)(c0 + i) * b + j];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int c = c0; c < c1; ++c) {
      __local const float *urow = uc + (c - c0) * b;
      __local const float *prow = pc + (c - c0) * b;
      const int k = group[c];
      const int len = (flags & HAS_START) ? start[c] : 0;
      if (len > 0) {
        // A dynamic group starts: its range over the row's columns c..c+len-1 (sweep_tile's
        // tile_range), current or (stale) as the block started.
        float lo = 0.0f, hi = 0.0f;
        for (int j = c; j < c + len; ++j) {
          float v;
          if (flags & STALE) {
            v = 0.0f;
            if (live) {
              v = w[rb + j];
              if (flags & HAS_ADD) v += add[rb + b - 1 - j];
            }
          } else {
            v = TILE(j);
          }
          lo = v < lo ? v : lo;
          hi = hi < v ? v : hi;
        }
        if (live) {
          params_from_range(lo, hi, maxq, flags & SYM, grid, scale_dtype, &scale, &zero);
          if (t == 0) {
            scales[(long)(k - k0) * m + row] = scale;
            zeros[(long)(k - k0) * m + row] = zero;
          }
        }
#if ROW_THREADS > 1
        barrier(CLK_LOCAL_MEM_FENCE);  // every item has read the range before any updates it
#endif
      } else if ((c == 0 || k != group[c - 1]) && live) {
        scale = scales[(long)(k - k0) * m + row];
        zero = zeros[(long)(k - k0) * m + row];
      }

      const float d = urow[c];
      const float x = TILE(c);
      const float code = quantize_code(x, scale, zero, fmaxq);
      const float Q = scale * (code - zero);
      const float e = (x - Q) / d;
      float e_in = e, v_in = 0.0f, e_out = e, v_out = 0.0f;
      if (has_p) {
        const float x0 = (flags & HAS_W0) && live ? w0s[rb + c] : x;
        e_in = e + alpha2 * (x0 - x) / d;
        v_in = alpha * x + alpha2 * (x0 - x);
        float y = Q;
        if (outer == OUTER_PREQUANT) y = x;
        if (outer == OUTER_PREQUANT_CLAMPED) {
          const float lo = -scale * zero, hi = scale * (fmaxq - zero);
          y = x < lo ? lo : (x > hi ? hi : x);
        }
        e_out = e + alpha2 * (x0 - y) / d;
        v_out = alpha * y + alpha2 * (x0 - y);
      }
      if (live && t == c % ROW_THREADS) {
        codes[rb + c] = (uchar)code;
        if (flags & ERR_RESIDUAL)
          err[rb + b - 1 - c] = w[rb + c] - scale * (code - zero);
        else
          err[rb + c] = e_out;
        if (has_p) verr[rb + c] = v_out;
        if (flags & HAS_E) eo[rb + c] = e;
        if (flags & HAS_SPLIT) {
          const float uu = x / scale, bb = floor(uu), res = uu - bb - e;
          base[rb + c] = bb;
          resid[rb + c] = res < 0.0f ? 0.0f : (res > 1.0f ? 1.0f : res);
        }
      }
      // The rest of the block: w_j -= e U_cj, or (asymmetric) w_j += v_in Phat_cj - e_in U_cj.
      const int j0 = c + 1 + (t - (c + 1) % ROW_THREADS + ROW_THREADS) % ROW_THREADS;
      if (has_p) {
        for (int j = j0; j < b; j += ROW_THREADS) TILE(j) += v_in * prow[j] - e_in * urow[j];
      } else {
        for (int j = j0; j < b; j += ROW_THREADS) TILE(j) -= e * urow[j];
      }
#if ROW_THREADS > 1
      barrier(CLK_LOCAL_MEM_FENCE);  // column c + 1 and the next group's range are current
#endif
    }
  }
}
