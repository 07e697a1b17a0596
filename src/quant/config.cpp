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
      {Param::Method, "method", false, 0, kMethodCount - 1, (int)Method::Rtn},
      {Param::Bits, "bits", false, 2, 8, 4},
      {Param::GroupSize, "group_size", false, -1, 1 << 30, -1},
      {Param::AllowPartialGroup, "allow_partial_group", false, 0, 1, 0},
      {Param::Sym, "sym", false, 0, 1, 0},
      {Param::Grid, "grid", false, 0, (int)Grid::FullRange, (int)Grid::Gptq},
      {Param::Mse, "mse", false, 0, 1, 0},
      {Param::MseNorm, "mse_norm", true, 1.0, 8.0, 2.4},
      {Param::MseGrid, "mse_grid", false, 1, 10000, 100},
      {Param::MseMaxshrink, "mse_maxshrink", true, 0.0, 1.0, 0.8},
      {Param::ScaleDtype, "scale_dtype", false, 0.0, 2.0, 0.0},
      {Param::ActOrder, "act_order", false, 0, 1, 0},
      {Param::StaticGroups, "static_groups", false, 0, 1, 0},
      {Param::Damp, "damp", true, 0.0, 10.0, 0.01},
      {Param::DampIncrement, "damp_increment", true, 0.0, 10.0, 0.01},
      {Param::DampAttempts, "damp_attempts", false, 1, 64, 12},
      {Param::BlockSize, "block_size", false, 1, 4096, 128},
      {Param::StaleGroups, "stale_groups", false, 0, 1, 0},
      {Param::ReportLoss, "report_loss", false, (int)ReportLevel::None, (int)ReportLevel::ProxyAndRtn, (int)ReportLevel::Proxy},
      {Param::Alpha, "alpha", true, -1.0, 100.0, -1.0},
      {Param::Alpha2, "alpha2", true, -1.0, 100.0, -1.0},
      {Param::Outer, "outer", false, (int)OuterMode::Preset, (int)OuterMode::PrequantClamped, (int)OuterMode::Preset},
      {Param::ExactTarget, "exact_target", false, 0, 1, 0},
      {Param::Steps, "steps", false, -1, 1e7, -1},
      {Param::Lr, "lr", true, -1.0, 100.0, -1.0},
      {Param::Init, "init", false, (int)Init::Rtn, (int)Init::Gptq, (int)Init::Rtn},
      {Param::RegWeight, "reg_weight", true, -1.0, 1e6, -1.0},
      {Param::RegMean, "reg_mean", false, 0, 1, 0},
      {Param::BetaStart, "beta_start", true, 1.0, 1000.0, 20.0},
      {Param::BetaEnd, "beta_end", true, 1.0, 1000.0, 2.0},
      {Param::BetaSchedule, "beta_schedule", false, (int)BetaSchedule::Preset, (int)BetaSchedule::HoldLinear, (int)BetaSchedule::Preset},
      {Param::Warmup, "warmup", true, -1.0, 1.0, -1.0},
      {Param::BetaHold, "beta_hold", true, 0.0, 1.0, 0.1},
      {Param::BetaFinalHold, "beta_final_hold", true, -1.0, 0.9, -1.0},
      {Param::KeepBest, "keep_best", false, 0, 1, 1},
      {Param::RegUnits, "reg_units", false, (int)RegUnits::Objective, (int)RegUnits::GridStep, (int)RegUnits::GridStep},
      {Param::VqDim, "vq_dim", false, 1, 16, 8},
      {Param::CodebookSize, "codebook_size", false, 1, 65536, 4096},
      {Param::KmeansIters, "kmeans_iters", false, 0, 10000, 5},
      {Param::KmeansSample, "kmeans_sample", false, 1, 1e6, 32},
      {Param::SignConsistent, "sign_consistent", false, 0, 1, 0},
      {Param::KmeansTol, "kmeans_tol", true, 0.0, 1.0, 1e-3},
      {Param::Rank, "rank", false, 1, 4096, 8},
      {Param::MinmaxTuning, "minmax_tuning", false, 0, 1, 1},
      {Param::MinmaxLr, "minmax_lr", true, -1.0, 100.0, -1.0},
      {Param::Blockwise, "blockwise", false, 0, 1, 0},
      {Param::BlockBatch, "block_batch", false, 1, 4096, 8},
      {Param::E2e, "e2e", false, 0, 1, 0},
      {Param::TeacherTopk, "teacher_topk", false, 1, 1 << 24, 64},
      {Param::Temperature, "temperature", true, 0.01, 100.0, 2.0},
      {Param::E2eBatch, "e2e_batch", false, 1, 4096, 1},
      {Param::EvalEvery, "eval_every", false, 0, 1e7, 100},
      {Param::Holdout, "holdout", false, -1, 1e6, -1},
      {Param::KlMean, "kl_mean", false, 0, 1, 0},
      {Param::TeacherOnline, "teacher_online", false, 0, 1, 0},
      {Param::TrueSequential, "true_sequential", false, 0, 1, 1},
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
  if (c.beta_schedule == BetaSchedule::Preset) c.beta_schedule = p.beta_schedule;
  if (c.beta_final_hold < 0) c.beta_final_hold = 0;  // layer-wise: the references' schedules
  if (c.reg_weight < 0) c.reg_weight = c.reg_units == RegUnits::Objective ? kReferenceRegWeight : p.reg_weight;
  return c;
}

QuantConfig resolve_presets(QuantConfig c) {
  const MethodTraits *t = find_method_traits(c.method);
  // Only the methods that need D take alpha, alpha2 and the outer mode; the others run the plain
  // GPTQ objective whatever was set.
  const bool asym_method = t != nullptr && t->needs_d;
  const SweepPresets p = asym_method ? t->sweep : SweepPresets{};
  const OuterMode outer = c.bits >= 3 ? p.outer : p.outer_2_bits;
  if (c.alpha < 0 || !asym_method) c.alpha = p.alpha;
  if (c.alpha2 < 0 || !asym_method) c.alpha2 = p.alpha2;
  if (c.outer == OuterMode::Preset || !asym_method) c.outer = outer;
  return t != nullptr && t->family == MethodFamily::kLearnedRounding ? resolve_learned_presets(c, t->learned) : c;
}

static const char *const kGridNames[] = {"gptq", "quarot", "full_range"};

const char *grid_name(Grid grid) {
  const int i = (int)grid;
  return i >= 0 && i < (int)(sizeof kGridNames / sizeof *kGridNames) ? kGridNames[i] : nullptr;
}
int grid_from_name(const std::string &name) {
  for (int i = 0; i < (int)(sizeof kGridNames / sizeof *kGridNames); ++i)
    if (name == kGridNames[i]) return i;
  return -1;
}

int param_index(Param id) {
  const auto &t = param_table();
  for (int i = 0; i < kParamCount; ++i)
    if (t[i].id == id) return i;
  return -1;
}

ParamValues::ParamValues() {
  const auto &t = param_table();
  for (int i = 0; i < kParamCount; ++i) values[i] = t[i].default_value;
}

void check_param_value(Param param, double value, bool as_float) {
  const int i = param_index(param);
  require(i >= 0, Status::Unsupported, "unknown parameter " + std::to_string((int)param));
  const ParamInfo &info = param_table()[i];
  require(info.is_float == as_float, Status::InvalidArgument,
          std::string("parameter ") + info.name + " is " + (info.is_float ? "a float: use vqr_config_set_float"
                                                                         : "an integer: use vqr_config_set_int"));
  const bool in_range = !std::isnan(value) && value >= info.lower && value <= info.upper &&
                        !(param == Param::GroupSize && value == 0) &&
                        !((param == Param::Alpha || param == Param::Alpha2) && value > -1 && value < 0);
  require(in_range, Status::OutOfRange,
          std::string("parameter ") + info.name + " = " + std::to_string(value) + " is outside [" +
              std::to_string(info.lower) + ", " + std::to_string(info.upper) + "]" +
              (param == Param::GroupSize ? " (or 0; use -1 for per-channel)" : "") +
              (param == Param::Alpha || param == Param::Alpha2 ? " (-1 = preset, else >= 0)" : ""));
}

void set_typed(QuantConfig &c, Param param, double v) {
  switch (param) {
    case Param::Method: c.method = (Method)(int)v; break;
    case Param::Bits: c.bits = (int)v; break;
    case Param::GroupSize: c.group_size = (int64_t)v; break;
    case Param::AllowPartialGroup: c.allow_partial_group = v != 0; break;
    case Param::Sym: c.sym = v != 0; break;
    case Param::Grid: c.grid = (Grid)(int)v; break;
    case Param::ScaleDtype: c.scale_dtype = (DType)(int)v; break;
    case Param::Mse: c.mse = v != 0; break;
    case Param::MseNorm: c.mse_norm = v; break;
    case Param::MseGrid: c.mse_grid = (int)v; break;
    case Param::MseMaxshrink: c.mse_maxshrink = v; break;
    case Param::ActOrder: c.act_order = v != 0; break;
    case Param::StaticGroups: c.static_groups = v != 0; break;
    case Param::Damp: c.damp = v; break;
    case Param::DampIncrement: c.damp_increment = v; break;
    case Param::DampAttempts: c.damp_attempts = (int)v; break;
    case Param::BlockSize: c.block_size = (int)v; break;
    case Param::StaleGroups: c.stale_groups = v != 0; break;
    case Param::ReportLoss: c.report_loss = (ReportLevel)(int)v; break;
    case Param::Alpha: c.alpha = v; break;
    case Param::Alpha2: c.alpha2 = v; break;
    case Param::Outer: c.outer = (OuterMode)(int)v; break;
    case Param::ExactTarget: c.exact_target = v != 0; break;
    case Param::Steps: c.steps = (int64_t)v; break;
    case Param::Lr: c.lr = v; break;
    case Param::Init: c.init = (Init)(int)v; break;
    case Param::RegWeight: c.reg_weight = v; break;
    case Param::RegMean: c.reg_mean = v != 0; break;
    case Param::BetaStart: c.beta_start = v; break;
    case Param::BetaEnd: c.beta_end = v; break;
    case Param::BetaSchedule: c.beta_schedule = (BetaSchedule)(int)v; break;
    case Param::Warmup: c.warmup = v; break;
    case Param::BetaHold: c.beta_hold = v; break;
    case Param::BetaFinalHold: c.beta_final_hold = v; break;
    case Param::KeepBest: c.keep_best = v != 0; break;
    case Param::RegUnits: c.reg_units = (RegUnits)(int)v; break;
    case Param::VqDim: c.vq_dim = (int)v; break;
    case Param::CodebookSize: c.codebook_size = (int64_t)v; break;
    case Param::KmeansIters: c.kmeans_iters = (int)v; break;
    case Param::KmeansSample: c.kmeans_sample = (int64_t)v; break;
    case Param::SignConsistent: c.sign_consistent = v != 0; break;
    case Param::KmeansTol: c.kmeans_tol = v; break;
    case Param::Rank: c.rank = (int)v; break;
    case Param::MinmaxTuning: c.minmax_tuning = v != 0; break;
    case Param::MinmaxLr: c.minmax_lr = v; break;
    case Param::Blockwise: c.blockwise = v != 0; break;
    case Param::BlockBatch: c.block_batch = (int64_t)v; break;
    case Param::E2e: c.e2e = v != 0; break;
    case Param::TeacherTopk: c.teacher_topk = (int64_t)v; break;
    case Param::Temperature: c.temperature = v; break;
    case Param::E2eBatch: c.e2e_batch = (int64_t)v; break;
    case Param::EvalEvery: c.eval_every = (int64_t)v; break;
    case Param::Holdout: c.holdout = (int64_t)v; break;
    case Param::KlMean: c.kl_mean = v != 0; break;
    case Param::TeacherOnline: c.teacher_online = v != 0; break;
    case Param::TrueSequential: c.true_sequential = v != 0; break;
  }
}

QuantConfig ParamValues::typed() const {
  QuantConfig c;
  const auto &t = param_table();
  for (int i = 0; i < kParamCount; ++i) set_typed(c, t[i].id, values[i]);
  return c;
}

}  // namespace vqr::quant
