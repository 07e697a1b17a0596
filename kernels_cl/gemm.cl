// Tiled GEMM, and SYRK as a GEMM restricted to one triangle (backend/opencl/opencl_backend.cpp).
//
// C (m x n, row-major, ldc) = alpha op(A) op(B) + beta C, op(X) = X or X^T of a row-major X.
// tri = 0: every element; 1: only j >= i (the upper triangle); 2: only j <= i. Work-groups whose
// 64 x 64 tile lies wholly outside the triangle return at once, so SYRK does half a GEMM's work.
//
// Each work-group of 16 x 16 items computes one 64 x 64 tile of C; each item a 4 x 4 block of it,
// strided by 16 so that neighbouring items read neighbouring local-memory words. The k loop takes
// 16-deep slices of op(A) and op(B) into local memory, loaded along whichever index is contiguous in
// global memory. Accumulation is in the element type (fp32 for float), one fma per product, in k
// order; with beta = 0, C is not read (BLAS semantics: NaN there does not propagate).
//
// Built twice: as is (float) and with -DVQR_F64 (double, devices with cl_khr_fp64).
#pragma OPENCL FP_CONTRACT OFF
#ifdef VQR_F64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double real;
#else
typedef float real;
#endif

#define TILE 64
#define PER_ITEM 4
#define ITEMS 16
#define DEPTH 16

__kernel __attribute__((reqd_work_group_size(ITEMS, ITEMS, 1)))
void gemm_tiled(const int m, const int n, const int k, const real alpha,
                __global const real *a, const ulong a_off, const int lda, const int trans_a,
                __global const real *b, const ulong b_off, const int ldb, const int trans_b,
                const real beta, __global real *c, const ulong c_off, const int ldc, const int tri) {
  const int tx = get_local_id(0), ty = get_local_id(1);
  const int col0 = get_group_id(0) * TILE, row0 = get_group_id(1) * TILE;
  if (tri == 1 && col0 + TILE <= row0) return;  // every j < i in this tile
  if (tri == 2 && row0 + TILE <= col0) return;  // every j > i
  a += a_off;
  b += b_off;
  c += c_off;
  __local real as[DEPTH][TILE];  // as[p][r] = op(A)[row0 + r][k0 + p]
  __local real bs[DEPTH][TILE];  // bs[p][s] = op(B)[k0 + p][col0 + s]
  real acc[PER_ITEM][PER_ITEM];
  for (int i = 0; i < PER_ITEM; ++i)
    for (int j = 0; j < PER_ITEM; ++j) acc[i][j] = 0;
  const int lid = ty * ITEMS + tx;
  for (int k0 = 0; k0 < k; k0 += DEPTH) {
    for (int l = lid; l < DEPTH * TILE; l += ITEMS * ITEMS) {
      // op(A)[r][p]: A[r][p] is contiguous along p, A^T's source A[p][r] along r.
      const int pa = trans_a ? l / TILE : l % DEPTH;
      const int ra = trans_a ? l % TILE : l / DEPTH;
      const int gr = row0 + ra, gp = k0 + pa;
      real va = 0;
      if (gr < m && gp < k) va = trans_a ? a[(long)gp * lda + gr] : a[(long)gr * lda + gp];
      as[pa][ra] = va;
      // op(B)[p][s]: B[p][s] is contiguous along s, B^T's source B[s][p] along p.
      const int pb = trans_b ? l % DEPTH : l / TILE;
      const int sb = trans_b ? l / DEPTH : l % TILE;
      const int gs = col0 + sb, gq = k0 + pb;
      real vb = 0;
      if (gs < n && gq < k) vb = trans_b ? b[(long)gs * ldb + gq] : b[(long)gq * ldb + gs];
      bs[pb][sb] = vb;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int p = 0; p < DEPTH; ++p) {
      real av[PER_ITEM], bv[PER_ITEM];
      for (int i = 0; i < PER_ITEM; ++i) av[i] = as[p][ty + i * ITEMS];
      for (int j = 0; j < PER_ITEM; ++j) bv[j] = bs[p][tx + j * ITEMS];
      for (int i = 0; i < PER_ITEM; ++i)
        for (int j = 0; j < PER_ITEM; ++j) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  for (int i = 0; i < PER_ITEM; ++i)
    for (int j = 0; j < PER_ITEM; ++j) {
      const int gi = row0 + ty + i * ITEMS, gj = col0 + tx + j * ITEMS;
      if (gi >= m || gj >= n) continue;
      if ((tri == 1 && gj < gi) || (tri == 2 && gj > gi)) continue;
      real v = alpha * acc[i][j];
      if (beta != 0) v = v + beta * c[(long)gi * ldc + gj];
      c[(long)gi * ldc + gj] = v;
    }
}
