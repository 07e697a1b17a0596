// Parameter table and conversion to QuantConfig (config.h). Keep the comments of enum vqr_param
// in vqround.h in sync with this table: it is the single source of bounds and defaults.
#include "quant/config.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace vqr::quant {

// A plain array, so that the static_assert below catches a list shorter than kParamCount (a
// std::array would silently value-initialize the missing entries).
static const ParamInfo kTable[] = {
      {VQR_PARAM_METHOD, "method", false, 0, kMethodCount - 1, VQR_METHOD_RTN},
      {VQR_PARAM_BITS, "bits", false, 2, 8, 4},
      {VQR_PARAM_GROUP_SIZE, "group_size", false, -1, 1 << 30, -1},
      {VQR_PARAM_ALLOW_PARTIAL_GROUP, "allow_partial_group", false, 0, 1, 0},
      {VQR_PARAM_SYM, "sym", false, 0, 1, 0},
      {VQR_PARAM_GRID, "grid", false, 0, VQR_GRID_FULL_RANGE, VQR_GRID_GPTQ},
      {VQR_PARAM_MSE, "mse", false, 0, 1, 0},
      {VQR_PARAM_MSE_NORM, "mse_norm", true, 1.0, 8.0, 2.4},
      {VQR_PARAM_MSE_GRID, "mse_grid", false, 1, 10000, 100},
      {VQR_PARAM_MSE_MAXSHRINK, "mse_maxshrink", true, 0.0, 1.0, 0.8},
      {VQR_PARAM_SCALE_DTYPE, "scale_dtype", false, 0.0, 2.0, 0.0},
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

// The learned methods' presets (LearnedPresets in method_traits.h); AutoRound's SignSGD rate
// follows its reference rule (SignRoundConfig._lr_for_bits): 1/steps, 2/steps from 1000 steps at
// <= 3 bits.
static QuantConfig resolve_learned_presets(QuantConfig c, const LearnedPresets &p) {
  if (c.steps < 0) c.steps = p.steps;
  const double lr =
      p.sign_sgd ? (c.steps >= 1000 && c.bits <= 3 ? 2.0 : 1.0) / (double)std::max<int64_t>(c.steps, 1) : p.lr;
  if (c.lr < 0) c.lr = lr;
  if (c.minmax_lr < 0) c.minmax_lr = c.lr;
  if (c.warmup < 0) c.warmup = p.warmup;
  if (c.beta_schedule == VQR_BETA_PRESET) c.beta_schedule = p.beta_schedule;
  if (c.reg_weight < 0) c.reg_weight = p.reg_weight;
  return c;
}

QuantConfig resolve_presets(QuantConfig c) {
  const MethodTraits *t = find_method_traits(c.method);
  // Only the methods that need D take alpha, alpha2 and the outer mode; the others run the plain
  // GPTQ objective whatever was set.
  const bool asym_method = t != nullptr && t->needs_d;
  const SweepPresets p = asym_method ? t->sweep : SweepPresets{};
  const int outer = c.bits >= 3 ? p.outer : p.outer_2_bits;
  if (c.alpha < 0 || !asym_method) c.alpha = p.alpha;
  if (c.alpha2 < 0 || !asym_method) c.alpha2 = p.alpha2;
  if (c.outer == VQR_OUTER_PRESET || !asym_method) c.outer = outer;
  return t != nullptr && t->family == MethodFamily::kLearnedRounding ? resolve_learned_presets(c, t->learned) : c;
}

static const char *const kGridNames[] = {"gptq", "quarot", "full_range"};

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

namespace vqr::quant {

void check_param_value(vqr_param param, double value, bool as_float) {
  const int i = param_index(param);
  require(i >= 0, VQR_ERR_UNSUPPORTED, "unknown parameter " + std::to_string((int)param));
  const ParamInfo &info = param_table()[i];
  require(info.is_float == as_float, VQR_ERR_INVALID_ARGUMENT,
          std::string("parameter ") + info.name + " is " + (info.is_float ? "a float: use vqr_config_set_float"
                                                                         : "an integer: use vqr_config_set_int"));
  const bool in_range = !std::isnan(value) && value >= info.lower && value <= info.upper &&
                        !(param == VQR_PARAM_GROUP_SIZE && value == 0) &&
                        !((param == VQR_PARAM_ALPHA || param == VQR_PARAM_ALPHA2) && value > -1 && value < 0);
  require(in_range, VQR_ERR_OUT_OF_RANGE,
          std::string("parameter ") + info.name + " = " + std::to_string(value) + " is outside [" +
              std::to_string(info.lower) + ", " + std::to_string(info.upper) + "]" +
              (param == VQR_PARAM_GROUP_SIZE ? " (or 0; use -1 for per-channel)" : "") +
              (param == VQR_PARAM_ALPHA || param == VQR_PARAM_ALPHA2 ? " (-1 = preset, else >= 0)" : ""));
}

void set_typed(QuantConfig &c, vqr_param param, double v) {
  switch (param) {
    case VQR_PARAM_METHOD: c.method = (int)v; break;
    case VQR_PARAM_BITS: c.bits = (int)v; break;
    case VQR_PARAM_GROUP_SIZE: c.group_size = (int64_t)v; break;
    case VQR_PARAM_ALLOW_PARTIAL_GROUP: c.allow_partial_group = v != 0; break;
    case VQR_PARAM_SYM: c.sym = v != 0; break;
    case VQR_PARAM_GRID: c.grid = (int)v; break;
    case VQR_PARAM_SCALE_DTYPE: c.scale_dtype = (int)v; break;
    case VQR_PARAM_MSE: c.mse = v != 0; break;
    case VQR_PARAM_MSE_NORM: c.mse_norm = v; break;
    case VQR_PARAM_MSE_GRID: c.mse_grid = (int)v; break;
    case VQR_PARAM_MSE_MAXSHRINK: c.mse_maxshrink = v; break;
    case VQR_PARAM_ACT_ORDER: c.act_order = v != 0; break;
    case VQR_PARAM_STATIC_GROUPS: c.static_groups = v != 0; break;
    case VQR_PARAM_DAMP: c.damp = v; break;
    case VQR_PARAM_DAMP_INCREMENT: c.damp_increment = v; break;
    case VQR_PARAM_DAMP_ATTEMPTS: c.damp_attempts = (int)v; break;
    case VQR_PARAM_BLOCK_SIZE: c.block_size = (int)v; break;
    case VQR_PARAM_STALE_GROUPS: c.stale_groups = v != 0; break;
    case VQR_PARAM_REPORT_LOSS: c.report_loss = v != 0; break;
    case VQR_PARAM_ALPHA: c.alpha = v; break;
    case VQR_PARAM_ALPHA2: c.alpha2 = v; break;
    case VQR_PARAM_OUTER: c.outer = (int)v; break;
    case VQR_PARAM_EXACT_TARGET: c.exact_target = v != 0; break;
    case VQR_PARAM_STEPS: c.steps = (int64_t)v; break;
    case VQR_PARAM_LR: c.lr = v; break;
    case VQR_PARAM_INIT: c.init = (int)v; break;
    case VQR_PARAM_REG_WEIGHT: c.reg_weight = v; break;
    case VQR_PARAM_REG_MEAN: c.reg_mean = v != 0; break;
    case VQR_PARAM_BETA_START: c.beta_start = v; break;
    case VQR_PARAM_BETA_END: c.beta_end = v; break;
    case VQR_PARAM_BETA_SCHEDULE: c.beta_schedule = (int)v; break;
    case VQR_PARAM_WARMUP: c.warmup = v; break;
    case VQR_PARAM_BETA_HOLD: c.beta_hold = v; break;
    case VQR_PARAM_KEEP_BEST: c.keep_best = v != 0; break;
    case VQR_PARAM_VQ_DIM: c.vq_dim = (int)v; break;
    case VQR_PARAM_CODEBOOK_SIZE: c.codebook_size = (int64_t)v; break;
    case VQR_PARAM_KMEANS_ITERS: c.kmeans_iters = (int)v; break;
    case VQR_PARAM_KMEANS_SAMPLE: c.kmeans_sample = (int64_t)v; break;
    case VQR_PARAM_SIGN_CONSISTENT: c.sign_consistent = v != 0; break;
    case VQR_PARAM_RANK: c.rank = (int)v; break;
    case VQR_PARAM_MINMAX_TUNING: c.minmax_tuning = v != 0; break;
    case VQR_PARAM_MINMAX_LR: c.minmax_lr = v; break;
  }
}

}  // namespace vqr::quant

vqr::quant::QuantConfig vqr_config::typed() const {
  vqr::quant::QuantConfig c;
  const auto &t = vqr::quant::param_table();
  for (int i = 0; i < vqr::quant::kParamCount; ++i) vqr::quant::set_typed(c, t[i].id, values[i]);
  return c;
}
