// Parameter table and conversion to QuantConfig (config.h). Keep the comments of enum vqr_param
// in vqround.h in sync with this table: it is the single source of bounds and defaults.
#include "quant/config.h"

namespace vqr::quant {

const std::array<ParamInfo, kParamCount> &param_table() {
  static const std::array<ParamInfo, kParamCount> table = {{
      {VQR_PARAM_METHOD, "method", false, 0, VQR_METHOD_GPTAQ_PAPER, VQR_METHOD_RTN},
      {VQR_PARAM_BITS, "bits", false, 2, 8, 4},
      {VQR_PARAM_GROUP_SIZE, "group_size", false, -1, 1 << 30, -1},
      {VQR_PARAM_ALLOW_PARTIAL_GROUP, "allow_partial_group", false, 0, 1, 0},
      {VQR_PARAM_SYM, "sym", false, 0, 1, 0},
      {VQR_PARAM_GRID, "grid", false, 0, VQR_GRID_QUAROT, VQR_GRID_GPTQ},
      {VQR_PARAM_MSE, "mse", false, 0, 1, 0},
      {VQR_PARAM_MSE_NORM, "mse_norm", true, 1.0, 8.0, 2.4},
      {VQR_PARAM_MSE_GRID, "mse_grid", false, 1, 10000, 100},
      {VQR_PARAM_MSE_MAXSHRINK, "mse_maxshrink", true, 0.0, 1.0, 0.8},
      {VQR_PARAM_ACT_ORDER, "act_order", false, 0, 1, 0},
      {VQR_PARAM_STATIC_GROUPS, "static_groups", false, 0, 1, 0},
      {VQR_PARAM_DAMP, "damp", true, 0.0, 10.0, 0.01},
      {VQR_PARAM_DAMP_INCREMENT, "damp_increment", true, 0.0, 10.0, 0.01},
      {VQR_PARAM_DAMP_ATTEMPTS, "damp_attempts", false, 1, 64, 12},
      {VQR_PARAM_BLOCK_SIZE, "block_size", false, 1, 4096, 128},
      {VQR_PARAM_STALE_GROUPS, "stale_groups", false, 0, 1, 0},
      {VQR_PARAM_REPORT_LOSS, "report_loss", false, 0, 1, 1},
      {VQR_PARAM_ALPHA, "alpha", true, -1.0, 100.0, -1.0},
      {VQR_PARAM_ALPHA2, "alpha2", true, -1.0, 100.0, -1.0},
      {VQR_PARAM_OUTER, "outer", false, VQR_OUTER_PRESET, VQR_OUTER_PREQUANT_CLAMPED, VQR_OUTER_PRESET},
      {VQR_PARAM_EXACT_TARGET, "exact_target", false, 0, 1, 0},
  }};
  return table;
}

QuantConfig resolve_presets(QuantConfig c) {
  double alpha = 0, alpha2 = 0;
  int outer = VQR_OUTER_QUANTIZED;
  switch (c.method) {
    case VQR_METHOD_GPTAQ: alpha = 0.25; break;
    case VQR_METHOD_RESCOMP:
      alpha = alpha2 = 0.25;
      outer = c.bits >= 3 ? VQR_OUTER_PREQUANT_CLAMPED : VQR_OUTER_QUANTIZED;  // "allw" diverges at 2 bits
      break;
    case VQR_METHOD_GPTAQ_PAPER:
      alpha = 1.0;
      outer = VQR_OUTER_PREQUANT;
      break;
    default: break;
  }
  const bool asym_method = c.method >= VQR_METHOD_GPTAQ;
  if (c.alpha < 0 || !asym_method) c.alpha = asym_method ? alpha : 0.0;
  if (c.alpha2 < 0 || !asym_method) c.alpha2 = asym_method ? alpha2 : 0.0;
  if (c.outer == VQR_OUTER_PRESET || !asym_method) c.outer = outer;
  return c;
}

int param_index(vqr_param id) {
  const auto &t = param_table();
  for (int i = 0; i < kParamCount; ++i)
    if (t[i].id == id) return i;
  return -1;
}

}  // namespace vqr::quant

vqr_config::vqr_config() {
  const auto &t = vqr::quant::param_table();
  for (int i = 0; i < vqr::quant::kParamCount; ++i) values[i] = t[i].default_value;
}

vqr::quant::QuantConfig vqr_config::typed() const {
  using vqr::quant::param_index;
  auto v = [&](vqr_param p) { return values[param_index(p)]; };
  vqr::quant::QuantConfig c;
  c.method = (int)v(VQR_PARAM_METHOD);
  c.bits = (int)v(VQR_PARAM_BITS);
  c.group_size = (int64_t)v(VQR_PARAM_GROUP_SIZE);
  c.allow_partial_group = v(VQR_PARAM_ALLOW_PARTIAL_GROUP) != 0;
  c.sym = v(VQR_PARAM_SYM) != 0;
  c.grid = (int)v(VQR_PARAM_GRID);
  c.mse = v(VQR_PARAM_MSE) != 0;
  c.mse_norm = v(VQR_PARAM_MSE_NORM);
  c.mse_grid = (int)v(VQR_PARAM_MSE_GRID);
  c.mse_maxshrink = v(VQR_PARAM_MSE_MAXSHRINK);
  c.act_order = v(VQR_PARAM_ACT_ORDER) != 0;
  c.static_groups = v(VQR_PARAM_STATIC_GROUPS) != 0;
  c.damp = v(VQR_PARAM_DAMP);
  c.damp_increment = v(VQR_PARAM_DAMP_INCREMENT);
  c.damp_attempts = (int)v(VQR_PARAM_DAMP_ATTEMPTS);
  c.block_size = (int)v(VQR_PARAM_BLOCK_SIZE);
  c.stale_groups = v(VQR_PARAM_STALE_GROUPS) != 0;
  c.report_loss = v(VQR_PARAM_REPORT_LOSS) != 0;
  c.alpha = v(VQR_PARAM_ALPHA);
  c.alpha2 = v(VQR_PARAM_ALPHA2);
  c.outer = (int)v(VQR_PARAM_OUTER);
  c.exact_target = v(VQR_PARAM_EXACT_TARGET) != 0;
  return c;
}
