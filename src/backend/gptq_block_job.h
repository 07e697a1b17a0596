// One block of the GPTQ-family sweep as a backend operation (Backend::gptq_sweep_block): the
// sequential in-block column loop of spec gptq §1.4-1.5 with the asymmetry terms of §9, in the
// backend's own terms (no quant types: DESIGN §1, arrows point down). quant/gptq.cpp fills one per
// block; its CPU tile loop (sweep_tile) is the reference every backend must reproduce bit for bit.
//
// Dimension letters: m rows, b columns of the block (processing order), G groups (rows of the
// scales/zeros tables). Every matrix is row-major with the leading dimension next to it.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace vqr::backend {

// The quantizer grid (spec gptq §1.6; quant/grid.h is the reference). Numbers equal quant::Grid.
enum class SweepGrid : int { Gptq = 0, QuaRot = 1, FullRange = 2 };
// What the asymmetric cross-block product uses (spec gptq §9). Numbers equal quant::OuterMode.
enum class SweepOuter : int { Quantized = 0, Prequant = 1, PrequantClamped = 2 };

struct GptqBlockJob {
  int64_t m = 0, b = 0;

  // Grid: codes c = clamp(rne(x / s) + z, 0, maxq); a dynamic group's parameters from its range as
  // quant::group_params_from_range chooses them (grid rule, scale type; never the MSE search).
  int maxq = 15;
  bool sym = false;
  SweepGrid grid = SweepGrid::Gptq;
  DType scale_dtype = DType::F32;

  // Inputs.
  const float *w = nullptr;    // m x b (ldw): the block's weights when the sweep reaches it
  int64_t ldw = 0;
  const float *add = nullptr;  // m x b (ld_add), columns reversed: column c of the block is
  int64_t ld_add = 0;          //   add[r * ld_add + b - 1 - c]; the sweep starts from w + add (the V
                               //   route's A U_bb, quant/gptq.cpp); nullptr: from w
  const float *u = nullptr;    // b x b (ldu), upper triangle read: U's diagonal block
  int64_t ldu = 0;
  // Groups: column c quantizes with row group[c] of the tables. Where group_start[c] = len > 0 a
  // dynamic group of len columns starts at c: its parameters come from the range of the row's
  // columns [c, c + len) once the sweep reaches c (stale: at the block start, the reference's
  // quirk, spec §1.5), and are written to row group[c] of the tables. A backend declines a job
  // whose group reaches beyond the block (c + len > b). nullptr: no group starts in the block.
  const int32_t *group = nullptr;        // b
  const int32_t *group_start = nullptr;  // b, or nullptr
  bool stale = false;
  float *scales = nullptr, *zeros = nullptr;  // G x m (ld m): read, and written for groups starting here
  int64_t groups = 0;                         // G

  // Asymmetric calibration (spec §9, §3.3), when p != nullptr: the in-block update becomes
  // w_j += v_in Phat_cj - e_in U_cj, and err/verr receive E_out/V_out, all as sweep_tile's comment
  // in quant/gptq.cpp defines them (alpha, alpha2, and y = Q, w or clamp(w) by `outer`).
  const float *p = nullptr;   // b x b (ldp), strictly upper: Phat's diagonal block
  int64_t ldp = 0;
  const float *w0 = nullptr;  // m x b (ldw0): original weights; nullptr: w0 = w (alpha2 = 0)
  int64_t ldw0 = 0;
  float alpha = 0, alpha2 = 0;
  SweepOuter outer = SweepOuter::Quantized;

  // Outputs (overwritten).
  uint8_t *codes = nullptr;  // m x b (ldc)
  int64_t ldc = 0;
  float *err = nullptr;      // m x b (lde): E_out, the rows the cross-block update multiplies by U
  int64_t lde = 0;           //   (e = (w - Q) / U_cc for plain GPTQ); with err_residual, w - Q with
  bool err_residual = false; //   w the input without `add`, columns reversed (the V route)
  float *verr = nullptr;     // m x b (ldv): V_out (asymmetric only)
  int64_t ldv = 0;
  float *e = nullptr;        // m x b (ld_e): e = (w - Q) / U_cc, or nullptr
  int64_t ld_e = 0;
  float *base = nullptr, *residual = nullptr;  // m x b (ld_split): the rounding split (quant/gptq.h),
  int64_t ld_split = 0;                        //   or nullptr
};

}  // namespace vqr::backend
