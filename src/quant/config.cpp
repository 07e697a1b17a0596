// Parameter table and conversion to QuantConfig (config.h). Keep the comments of enum vqr_param
// in vqround.h in sync with this table: it is the single source of bounds and defaults.
#include "quant/config.h"

#include <algorithm>

namespace vqr::quant {

// A plain array, so that the static_assert below catches a list shorter than kParamCount (a
// std::array would silently value-initialize the missing entries).
static const ParamInfo kTable[] = {
      {VQR_PARAM_METHOD, "method", false, 0, VQR_METHOD_LORAROUND, VQR_METHOD_RTN},
      {VQR_PARAM_BITS, "bits", false, 2, 8, 4},
      {VQR_PARAM_GROUP_SIZE, "group_size", false, -1, 1 << 30, -1},
      {VQR_PARAM_ALLOW_PARTIAL_GROUP, "allow_partial_group", false, 0, 1, 0},
      {VQR_PARAM_SYM, "sym", false, 0, 1, 0},
      {VQR_PARAM_GRID, "grid", false, 0, VQR_GRID_FULL_RANGE, VQR_GRID_GPTQ},
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
      {VQR_PARAM_STEPS, "steps", false, -1, 1e7, -1},
      {VQR_PARAM_LR, "lr", true, -1.0, 100.0, -1.0},
      {VQR_PARAM_INIT, "init", false, VQR_INIT_RTN, VQR_INIT_GPTQ, VQR_INIT_RTN},
      {VQR_PARAM_REG_WEIGHT, "reg_weight", true, -1.0, 1e6, -1.0},
      {VQR_PARAM_REG_MEAN, "reg_mean", false, 0, 1, 0},
      {VQR_PARAM_BETA_START, "beta_start", true, 1.0, 1000.0, 20.0},
      {VQR_PARAM_BETA_END, "beta_end", true, 1.0, 1000.0, 2.0},
      {VQR_PARAM_BETA_SCHEDULE, "beta_schedule", false, VQR_BETA_PRESET, VQR_BETA_HOLD_LINEAR, VQR_BETA_PRESET},
      {VQR_PARAM_WARMUP, "warmup", true, -1.0, 1.0, -1.0},
      {VQR_PARAM_BETA_HOLD, "beta_hold", true, 0.0, 1.0, 0.1},
      {VQR_PARAM_KEEP_BEST, "keep_best", false, 0, 1, 1},
      {VQR_PARAM_VQ_DIM, "vq_dim", false, 1, 16, 8},
      {VQR_PARAM_CODEBOOK_SIZE, "codebook_size", false, 1, 65536, 4096},
      {VQR_PARAM_KMEANS_ITERS, "kmeans_iters", false, 0, 10000, 500},
      {VQR_PARAM_KMEANS_SAMPLE, "kmeans_sample", false, 1, 1e6, 256},
      {VQR_PARAM_SIGN_CONSISTENT, "sign_consistent", false, 0, 1, 0},
      {VQR_PARAM_RANK, "rank", false, 1, 4096, 8},
      {VQR_PARAM_MINMAX_TUNING, "minmax_tuning", false, 0, 1, 1},
      {VQR_PARAM_MINMAX_LR, "minmax_lr", true, -1.0, 100.0, -1.0},
};
static_assert(sizeof kTable / sizeof kTable[0] == kParamCount, "kParamCount must equal the table's length");

const std::array<ParamInfo, kParamCount> &param_table() {
  static const std::array<ParamInfo, kParamCount> table = [] {
    std::array<ParamInfo, kParamCount> t{};
    std::copy(std::begin(kTable), std::end(kTable), t.begin());
    return t;
  }();
  return table;
}

// Learned rounding presets: AdaRound (spec learned_rounding §3.3-3.4: AIMET's 10k steps, Adam
// 1e-3, 20 % warm-up, cosine beta), AutoRound (§1.6: 200 steps, SignSGD lr 1/steps), VQRound
// (spec vqround §1.7, §3.5: 5000 steps, Adam 1e-2, warm-up 0.1, hold-then-linear beta), and our
// LoRA-rounding baseline (1000 steps, Adam 1e-2: it moves few parameters, each a long way).
static QuantConfig resolve_learned_presets(QuantConfig c) {
  int64_t steps = 0;
  double lr = 0, warmup = 0;
  int schedule = VQR_BETA_COSINE;
  switch (c.method) {
    case VQR_METHOD_ADAROUND: steps = 10000, lr = 1e-3, warmup = 0.2; break;
    case VQR_METHOD_AUTOROUND: steps = 200; break;
    case VQR_METHOD_VQROUND: steps = 5000, lr = 1e-2, warmup = 0.1, schedule = VQR_BETA_HOLD_LINEAR; break;
    case VQR_METHOD_LORAROUND: steps = 1000, lr = 1e-2; break;
    default: return c;
  }
  if (c.steps < 0) c.steps = steps;
  // AutoRound's rule (SignRoundConfig._lr_for_bits): 1/steps, 2/steps from 1000 steps at <= 3 bits.
  if (c.method == VQR_METHOD_AUTOROUND)
    lr = (c.steps >= 1000 && c.bits <= 3 ? 2.0 : 1.0) / (double)std::max<int64_t>(c.steps, 1);
  if (c.lr < 0) c.lr = lr;
  if (c.minmax_lr < 0) c.minmax_lr = c.lr;
  if (c.warmup < 0) c.warmup = warmup;
  if (c.beta_schedule == VQR_BETA_PRESET) c.beta_schedule = schedule;
  if (c.reg_weight < 0) c.reg_weight = 0.01;
  return c;
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
  const bool asym_method = c.method >= VQR_METHOD_GPTAQ && c.method <= VQR_METHOD_GPTAQ_PAPER;
  if (c.alpha < 0 || !asym_method) c.alpha = asym_method ? alpha : 0.0;
  if (c.alpha2 < 0 || !asym_method) c.alpha2 = asym_method ? alpha2 : 0.0;
  if (c.outer == VQR_OUTER_PRESET || !asym_method) c.outer = outer;
  return resolve_learned_presets(c);
}

static const char *const kMethodNames[] = {"rtn",      "gptq",      "gptaq",   "rescomp",  "gptaq_paper",
                                           "adaround", "autoround", "vqround", "loraround"};
static const char *const kGridNames[] = {"gptq", "quarot", "full_range"};

const char *method_name(int method) {
  return method >= 0 && method < (int)(sizeof kMethodNames / sizeof *kMethodNames) ? kMethodNames[method] : nullptr;
}
int method_from_name(const std::string &name) {
  for (int i = 0; i < (int)(sizeof kMethodNames / sizeof *kMethodNames); ++i)
    if (name == kMethodNames[i]) return i;
  return -1;
}
const char *grid_name(int grid) {
  return grid >= 0 && grid < (int)(sizeof kGridNames / sizeof *kGridNames) ? kGridNames[grid] : nullptr;
}
int grid_from_name(const std::string &name) {
  for (int i = 0; i < (int)(sizeof kGridNames / sizeof *kGridNames); ++i)
    if (name == kGridNames[i]) return i;
  return -1;
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
  c.steps = (int64_t)v(VQR_PARAM_STEPS);
  c.lr = v(VQR_PARAM_LR);
  c.init = (int)v(VQR_PARAM_INIT);
  c.reg_weight = v(VQR_PARAM_REG_WEIGHT);
  c.reg_mean = v(VQR_PARAM_REG_MEAN) != 0;
  c.beta_start = v(VQR_PARAM_BETA_START);
  c.beta_end = v(VQR_PARAM_BETA_END);
  c.beta_schedule = (int)v(VQR_PARAM_BETA_SCHEDULE);
  c.warmup = v(VQR_PARAM_WARMUP);
  c.beta_hold = v(VQR_PARAM_BETA_HOLD);
  c.keep_best = v(VQR_PARAM_KEEP_BEST) != 0;
  c.vq_dim = (int)v(VQR_PARAM_VQ_DIM);
  c.codebook_size = (int64_t)v(VQR_PARAM_CODEBOOK_SIZE);
  c.kmeans_iters = (int)v(VQR_PARAM_KMEANS_ITERS);
  c.kmeans_sample = (int64_t)v(VQR_PARAM_KMEANS_SAMPLE);
  c.sign_consistent = v(VQR_PARAM_SIGN_CONSISTENT) != 0;
  c.rank = (int)v(VQR_PARAM_RANK);
  c.minmax_tuning = v(VQR_PARAM_MINMAX_TUNING) != 0;
  c.minmax_lr = v(VQR_PARAM_MINMAX_LR);
  return c;
}
