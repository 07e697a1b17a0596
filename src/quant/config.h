// Quantization parameters: the table behind the C API's vqr_config (names, types, bounds, defaults
// — the header's vqr_param comments and vqr_param_bounds() both come from here), the values of
// one configuration (ParamValues) and the typed QuantConfig that the algorithms read.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "quant/options.h"
#include "quant/method_traits.h"  // QuantConfig::method indexes that table; its users read both

namespace vqr::quant {

struct ParamInfo {
  Param id;
  const char *name;
  bool is_float;
  double lower, upper, default_value;
};

constexpr int kParamCount = 56;
const std::array<ParamInfo, kParamCount> &param_table();
// Index of `id` in param_table(), or -1 when unknown.
int param_index(Param id);

// Checks a value for a parameter as vqr_config_set_int / _float do. Throws vqr::Error:
// Status::Unsupported (unknown parameter), Status::InvalidArgument (an integer parameter set as a
// float or the reverse), Status::OutOfRange.
void check_param_value(Param param, double value, bool as_float);

// Typed view of a configuration, read by the algorithms.
struct QuantConfig {
  Method method = Method::Rtn;
  int bits = 4;
  int64_t group_size = -1;
  bool allow_partial_group = false;
  bool sym = false;
  Grid grid = Grid::Gptq;
  bool mse = false;
  double mse_norm = 2.4;
  int mse_grid = 100;
  double mse_maxshrink = 0.8;
  DType scale_dtype = DType::F32;  // grid scales rounded to this type (VQR_PARAM_SCALE_DTYPE)
  bool act_order = false;
  bool static_groups = false;
  double damp = 0.01;
  double damp_increment = 0.01;
  int damp_attempts = 12;
  int block_size = 128;
  bool stale_groups = false;
  ReportLevel report_loss = ReportLevel::Proxy;
  // Asymmetric calibration (spec gptq §9); -1 = the method's preset, resolved by resolve_presets.
  double alpha = -1;
  double alpha2 = -1;
  OuterMode outer = OuterMode::Preset;
  bool exact_target = false;
  // Learned rounding (spec learned_rounding, spec vqround); -1 = preset, resolved by
  // resolve_presets for the learned methods.
  int64_t steps = -1;
  double lr = -1;
  Init init = Init::Rtn;
  double reg_weight = -1;
  bool reg_mean = false;
  RegUnits reg_units = RegUnits::GridStep;
  double beta_start = 20, beta_end = 2;
  BetaSchedule beta_schedule = BetaSchedule::Preset;
  double warmup = -1;
  double beta_hold = 0.1;
  double beta_final_hold = -1;  // share of the steps at the end held at beta_end (trainer.h); -1 = preset
  bool keep_best = true;
  int vq_dim = 8;
  int64_t codebook_size = 4096;
  // k-means (VQR_PARAM_KMEANS_*): Lloyd iterations at most, training points per centroid, and the
  // share of changed assignments below which Lloyd stops; defaults chosen for the setup's cost
  // (spec vqround §1.4 step 5, §7.10; bench/README.md has the measurements).
  int kmeans_iters = 5;
  int64_t kmeans_sample = 32;
  bool sign_consistent = false;
  double kmeans_tol = 1e-3;
  int rank = 8;
  bool minmax_tuning = true;
  double minmax_lr = -1;
  // Block-wise reconstruction (AutoRound, whole-model quantization only; issue 17 item 4): the seven
  // linears of each block trained together on the block's output, block_batch sequences per step.
  bool blockwise = false;
  int64_t block_batch = 8;
  // End-to-end distillation (AdaRound, VQRound; whole-model quantization only; issue 17 item 3,
  // pipeline/end_to_end.h): every layer's relaxation trained together on tau^2 KL(teacher || student)
  // over the calibration sequences, e2e_batch per step; the teacher kept as its top teacher_topk
  // tokens at temperature `temperature`; `holdout` sequences kept out of training and scored every
  // eval_every steps (-1 = an eighth of them); kl_mean: the KL per token instead of summed;
  // teacher_online: the full-precision model runs beside the student instead of a stored teacher.
  bool e2e = false;
  int64_t teacher_topk = 64;
  double temperature = 2.0;
  int64_t e2e_batch = 1;
  int64_t eval_every = 100;
  int64_t holdout = -1;
  bool kl_mean = false;
  bool teacher_online = false;
  // Whole-model quantization (pipeline/sequential_quantizer.h): true = each block's linears in the
  // true-sequential groups (q/k/v, o, w1/w3, w2; each group's Hessian from the block with the
  // earlier groups quantized); false = one group (every Hessian from the unquantized block), the
  // order of the GPTQ reference's OPT and BLOOM scripts (spec gptq_family §1.1).
  bool true_sequential = true;
};

// Short lowercase grid names ("gptq", "quarot", "full_range") used by the tool, the Python binding
// and the model folder's metadata; NULL / -1 when unknown. Method names: method_traits.h.
const char *grid_name(Grid grid);
int grid_from_name(const std::string &name);

struct QuantConfig;
// Sets the field of `param` (already checked) in a typed configuration.
void set_typed(QuantConfig &config, Param param, double value);

// Replaces preset markers (-1) by the method's values from the method-traits table: alpha,
// alpha2 and the outer mode for the methods that need D (spec gptq §9 reference presets; 0, 0,
// quantized for every other method), and steps, lr, warm-up, beta schedule and regularizer weight
// for the learned methods (spec learned_rounding §1.6/§3.3-3.4, spec vqround §1.7/§3.5). An
// unknown method gets no presets (quantize_layer rejects it).
QuantConfig resolve_presets(QuantConfig c);

// One configuration as set through the C API: one value per parameter, in param_table() order,
// starting from the defaults.
struct ParamValues {
  std::array<double, kParamCount> values;
  ParamValues();
  QuantConfig typed() const;
};

}  // namespace vqr::quant
