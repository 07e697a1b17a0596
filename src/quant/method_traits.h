// The method-traits table: one row per vqr_method with every fact the library switches on (name,
// family, what statistics it needs, its presets, its progress stage). Preset resolution, the
// per-layer dispatch, the learned-rounding engine, the sequential pipeline and the C API's names
// all read this table instead of testing method numbers.
//
// Why here, in quant: the table is plain data, and the lowest floor that reads it is quant
// (resolve_presets in quant/config.cpp, the sweep's progress stage). learn and pipeline sit above
// quant and may read it; the dispatch that acts on it lives in pipeline (DESIGN §1: arrows point
// down only, so quant must not call the learned methods it describes).
#pragma once

#include <cstdint>

#include "quant/options.h"

namespace vqr::quant {

enum class MethodFamily {
  kRoundToNearest,   // RTN: no statistics needed (spec gptq §1.6)
  kGptqSweep,        // GPTQ, GPTAQ, ResComp: one blocked sweep with knobs (DESIGN §3.2, spec gptq §9)
  kLearnedRounding,  // AdaRound, AutoRound, VQRound, LoRA-rounding: the trainer (DESIGN §3.3)
};

// Asymmetric-calibration presets of the sweep (spec gptq §9 reference presets); used only by
// methods that need D. The outer mode can depend on the bit width (ResComp's "allw" diverges
// at 2 bits).
struct SweepPresets {
  double alpha = 0, alpha2 = 0;
  OuterMode outer = OuterMode::Quantized;         // at >= 3 bits
  OuterMode outer_2_bits = OuterMode::Quantized;  // at 2 bits
};

// The references' rounding-regularizer weight, in units of their objective (spec learned_rounding
// §3.3: AIMET default_reg_param, BRECQ --weight; spec vqround §1.7: --round_weight).
constexpr double kReferenceRegWeight = 0.01;

// Learned-rounding presets (spec learned_rounding §1.6, §3.3-3.4; spec vqround §1.7, §3.5).
struct LearnedPresets {
  int64_t steps = 0;
  double lr = 0;  // Adam's rate; unused with sign_sgd (AutoRound's 1/steps rule instead)
  double warmup = 0;
  BetaSchedule beta_schedule = BetaSchedule::Cosine;
  // lambda in VQR_REG_GRID_STEP units (the default VQR_PARAM_REG_UNITS); with VQR_REG_OBJECTIVE
  // the preset is the references' kReferenceRegWeight instead.
  double reg_weight = 0;
  // SignSGD with a linearly decaying rate whose preset is AutoRound's rule
  // (SignRoundConfig._lr_for_bits): 1/steps, 2/steps from 1000 steps at <= 3 bits.
  bool sign_sgd = false;
  double adam_beta2 = 0.999;  // Adam's second-moment decay
  bool gptq_init = false;     // accepts VQR_INIT_GPTQ (else it starts from its own RTN grid)
};

struct MethodTraits {
  Method method;     // the table is indexed by its number
  const char *name;  // vqr_method_name, the tool's --method, the model folder's metadata
  MethodFamily family;
  bool needs_hessian;    // fails with Status::InvalidArgument without one
  bool needs_d;          // fails unless the Hessian is asymmetric (carries D)
  bool needs_fp_stream;  // the sequential pipeline feeds it (X_q, X_fp) pairs; AutoRound's
                         // reference reconstructs the fp block's output from the quantized
                         // block's input (spec learned_rounding §1.5), so it uses D when given
  bool exact_target;     // accepts VQR_PARAM_EXACT_TARGET (GPTQ's ablation, spec gptq §9)
  const char *stage;     // the progress stage its main loop reports (vqr_progress_fn)
  SweepPresets sweep;
  LearnedPresets learned;
};

// Methods 0 .. kMethodCount - 1 exist; VQR_PARAM_METHOD's bounds come from this count.
constexpr int kMethodCount = 9;

// The row of `method`; nullptr when the method is unknown to this version.
const MethodTraits *find_method_traits(Method method);
// The row of `method`; throws vqr::Error(Status::Unsupported) when it is unknown.
const MethodTraits &method_traits(Method method);

// The short lowercase name ("gptq", "vqround", ...) used by the tool, the Python binding and the
// model folder's metadata; NULL when unknown.
const char *method_name(Method method);

inline bool is_learned_method(Method method) {
  const MethodTraits *t = find_method_traits(method);
  return t != nullptr && t->family == MethodFamily::kLearnedRounding;
}

}  // namespace vqr::quant
