// The public enums of vqround.h and their internal mirrors must keep the same numbers: the C API
// converts between them with a cast (translate.h). One static_assert per enumerator turns any
// drift into a compile error. A new public enumerator needs its internal twin and a line here.
// Also the two struct copies of translate.h.
#include <string_view>

#include "capi/translate.h"
#include "core/version.h"
#include "hessian/hessian.h"
#include "model/sampling.h"

namespace vqr::capi {

#define MIRROR(pub, internal) \
  static_assert(static_cast<int>(pub) == static_cast<int>(internal), #pub " and " #internal " differ")

// vqr_status <-> Status: 13 enumerators.
MIRROR(VQR_OK, Status::Ok);
MIRROR(VQR_ERR_INVALID_ARGUMENT, Status::InvalidArgument);
MIRROR(VQR_ERR_UNSUPPORTED, Status::Unsupported);
MIRROR(VQR_ERR_OUT_OF_RANGE, Status::OutOfRange);
MIRROR(VQR_ERR_NONFINITE, Status::NonFinite);
MIRROR(VQR_ERR_NUMERICAL, Status::Numerical);
MIRROR(VQR_ERR_CORRUPT, Status::Corrupt);
MIRROR(VQR_ERR_BUFFER_TOO_SMALL, Status::BufferTooSmall);
MIRROR(VQR_ERR_OUT_OF_MEMORY, Status::OutOfMemory);
MIRROR(VQR_ERR_CANCELLED, Status::Cancelled);
MIRROR(VQR_ERR_IO, Status::Io);
MIRROR(VQR_ERR_INTERNAL, Status::Internal);
MIRROR(VQR_ERR_FORMAT, Status::Format);

// vqr_dtype <-> DType: 3 enumerators.
MIRROR(VQR_DTYPE_F32, DType::F32);
MIRROR(VQR_DTYPE_F16, DType::F16);
MIRROR(VQR_DTYPE_BF16, DType::BF16);

// vqr_log_level <-> LogLevel: 5 enumerators.
MIRROR(VQR_LOG_DEBUG, LogLevel::Debug);
MIRROR(VQR_LOG_INFO, LogLevel::Info);
MIRROR(VQR_LOG_WARN, LogLevel::Warn);
MIRROR(VQR_LOG_ERROR, LogLevel::Error);
MIRROR(VQR_LOG_NONE, LogLevel::None);

// vqr_method <-> quant::Method: 9 enumerators.
MIRROR(VQR_METHOD_RTN, quant::Method::Rtn);
MIRROR(VQR_METHOD_GPTQ, quant::Method::Gptq);
MIRROR(VQR_METHOD_GPTAQ, quant::Method::Gptaq);
MIRROR(VQR_METHOD_RESCOMP, quant::Method::ResComp);
MIRROR(VQR_METHOD_GPTAQ_PAPER, quant::Method::GptaqPaper);
MIRROR(VQR_METHOD_ADAROUND, quant::Method::AdaRound);
MIRROR(VQR_METHOD_AUTOROUND, quant::Method::AutoRound);
MIRROR(VQR_METHOD_VQROUND, quant::Method::VqRound);
MIRROR(VQR_METHOD_LORAROUND, quant::Method::LoraRound);

// vqr_grid <-> quant::Grid: 3 enumerators.
MIRROR(VQR_GRID_GPTQ, quant::Grid::Gptq);
MIRROR(VQR_GRID_QUAROT, quant::Grid::QuaRot);
MIRROR(VQR_GRID_FULL_RANGE, quant::Grid::FullRange);

// vqr_report_level <-> quant::ReportLevel: 3 enumerators.
MIRROR(VQR_REPORT_NONE, quant::ReportLevel::None);
MIRROR(VQR_REPORT_PROXY, quant::ReportLevel::Proxy);
MIRROR(VQR_REPORT_PROXY_AND_RTN, quant::ReportLevel::ProxyAndRtn);

// vqr_outer_mode <-> quant::OuterMode: 4 enumerators.
MIRROR(VQR_OUTER_PRESET, quant::OuterMode::Preset);
MIRROR(VQR_OUTER_QUANTIZED, quant::OuterMode::Quantized);
MIRROR(VQR_OUTER_PREQUANT, quant::OuterMode::Prequant);
MIRROR(VQR_OUTER_PREQUANT_CLAMPED, quant::OuterMode::PrequantClamped);

// vqr_init <-> quant::Init: 2 enumerators.
MIRROR(VQR_INIT_RTN, quant::Init::Rtn);
MIRROR(VQR_INIT_GPTQ, quant::Init::Gptq);

// vqr_beta_schedule <-> quant::BetaSchedule: 4 enumerators.
MIRROR(VQR_BETA_PRESET, quant::BetaSchedule::Preset);
MIRROR(VQR_BETA_COSINE, quant::BetaSchedule::Cosine);
MIRROR(VQR_BETA_LINEAR, quant::BetaSchedule::Linear);
MIRROR(VQR_BETA_HOLD_LINEAR, quant::BetaSchedule::HoldLinear);

// vqr_reg_units <-> quant::RegUnits: 2 enumerators.
MIRROR(VQR_REG_OBJECTIVE, quant::RegUnits::Objective);
MIRROR(VQR_REG_GRID_STEP, quant::RegUnits::GridStep);

// vqr_param <-> quant::Param: 46 enumerators.
MIRROR(VQR_PARAM_METHOD, quant::Param::Method);
MIRROR(VQR_PARAM_BITS, quant::Param::Bits);
MIRROR(VQR_PARAM_GROUP_SIZE, quant::Param::GroupSize);
MIRROR(VQR_PARAM_ALLOW_PARTIAL_GROUP, quant::Param::AllowPartialGroup);
MIRROR(VQR_PARAM_SYM, quant::Param::Sym);
MIRROR(VQR_PARAM_GRID, quant::Param::Grid);
MIRROR(VQR_PARAM_MSE, quant::Param::Mse);
MIRROR(VQR_PARAM_MSE_NORM, quant::Param::MseNorm);
MIRROR(VQR_PARAM_MSE_GRID, quant::Param::MseGrid);
MIRROR(VQR_PARAM_MSE_MAXSHRINK, quant::Param::MseMaxshrink);
MIRROR(VQR_PARAM_SCALE_DTYPE, quant::Param::ScaleDtype);
MIRROR(VQR_PARAM_ACT_ORDER, quant::Param::ActOrder);
MIRROR(VQR_PARAM_STATIC_GROUPS, quant::Param::StaticGroups);
MIRROR(VQR_PARAM_DAMP, quant::Param::Damp);
MIRROR(VQR_PARAM_DAMP_INCREMENT, quant::Param::DampIncrement);
MIRROR(VQR_PARAM_DAMP_ATTEMPTS, quant::Param::DampAttempts);
MIRROR(VQR_PARAM_BLOCK_SIZE, quant::Param::BlockSize);
MIRROR(VQR_PARAM_STALE_GROUPS, quant::Param::StaleGroups);
MIRROR(VQR_PARAM_REPORT_LOSS, quant::Param::ReportLoss);
MIRROR(VQR_PARAM_ALPHA, quant::Param::Alpha);
MIRROR(VQR_PARAM_ALPHA2, quant::Param::Alpha2);
MIRROR(VQR_PARAM_OUTER, quant::Param::Outer);
MIRROR(VQR_PARAM_EXACT_TARGET, quant::Param::ExactTarget);
MIRROR(VQR_PARAM_STEPS, quant::Param::Steps);
MIRROR(VQR_PARAM_LR, quant::Param::Lr);
MIRROR(VQR_PARAM_INIT, quant::Param::Init);
MIRROR(VQR_PARAM_REG_WEIGHT, quant::Param::RegWeight);
MIRROR(VQR_PARAM_REG_MEAN, quant::Param::RegMean);
MIRROR(VQR_PARAM_BETA_START, quant::Param::BetaStart);
MIRROR(VQR_PARAM_BETA_END, quant::Param::BetaEnd);
MIRROR(VQR_PARAM_BETA_SCHEDULE, quant::Param::BetaSchedule);
MIRROR(VQR_PARAM_WARMUP, quant::Param::Warmup);
MIRROR(VQR_PARAM_BETA_HOLD, quant::Param::BetaHold);
MIRROR(VQR_PARAM_KEEP_BEST, quant::Param::KeepBest);
MIRROR(VQR_PARAM_REG_UNITS, quant::Param::RegUnits);
MIRROR(VQR_PARAM_VQ_DIM, quant::Param::VqDim);
MIRROR(VQR_PARAM_CODEBOOK_SIZE, quant::Param::CodebookSize);
MIRROR(VQR_PARAM_KMEANS_ITERS, quant::Param::KmeansIters);
MIRROR(VQR_PARAM_KMEANS_SAMPLE, quant::Param::KmeansSample);
MIRROR(VQR_PARAM_SIGN_CONSISTENT, quant::Param::SignConsistent);
MIRROR(VQR_PARAM_KMEANS_TOL, quant::Param::KmeansTol);
MIRROR(VQR_PARAM_RANK, quant::Param::Rank);
MIRROR(VQR_PARAM_MINMAX_TUNING, quant::Param::MinmaxTuning);
MIRROR(VQR_PARAM_MINMAX_LR, quant::Param::MinmaxLr);
MIRROR(VQR_PARAM_BETA_FINAL_HOLD, quant::Param::BetaFinalHold);
MIRROR(VQR_PARAM_BLOCKWISE, quant::Param::Blockwise);
MIRROR(VQR_PARAM_BLOCK_BATCH, quant::Param::BlockBatch);
MIRROR(VQR_PARAM_E2E, quant::Param::E2e);
MIRROR(VQR_PARAM_TEACHER_TOPK, quant::Param::TeacherTopk);
MIRROR(VQR_PARAM_TEMPERATURE, quant::Param::Temperature);
MIRROR(VQR_PARAM_E2E_BATCH, quant::Param::E2eBatch);
MIRROR(VQR_PARAM_EVAL_EVERY, quant::Param::EvalEvery);
MIRROR(VQR_PARAM_HOLDOUT, quant::Param::Holdout);
MIRROR(VQR_PARAM_KL_MEAN, quant::Param::KlMean);
MIRROR(VQR_PARAM_TEACHER_ONLINE, quant::Param::TeacherOnline);
MIRROR(VQR_PARAM_TRUE_SEQUENTIAL, quant::Param::TrueSequential);

// vqr_pack_format <-> io::PackFormat: 2 enumerators.
MIRROR(VQR_PACK_GPTQ_V1, io::PackFormat::GptqV1);
MIRROR(VQR_PACK_GPTQ_V2, io::PackFormat::GptqV2);

// vqr_format <-> pipeline::Format: 6 enumerators.
MIRROR(VQR_FORMAT_NATIVE, pipeline::Format::Native);
MIRROR(VQR_FORMAT_HUGGINGFACE, pipeline::Format::HuggingFace);
MIRROR(VQR_FORMAT_LLAMA2C, pipeline::Format::Llama2c);
MIRROR(VQR_FORMAT_GPTQ, pipeline::Format::Gptq);
MIRROR(VQR_FORMAT_COMPRESSED_TENSORS, pipeline::Format::CompressedTensors);
MIRROR(VQR_FORMAT_GGUF, pipeline::Format::Gguf);
// vqr_sampling <-> model::Sampling: 3 enumerators.
MIRROR(VQR_SAMPLE_PARAGRAPHS, model::Sampling::Paragraphs);
MIRROR(VQR_SAMPLE_WINDOWS, model::Sampling::Windows);
MIRROR(VQR_SAMPLE_RANDOM_WINDOWS, model::Sampling::RandomWindows);

static_assert(hessian::kFlagF64 == VQR_HESSIAN_F64 && hessian::kFlagAsymmetric == VQR_HESSIAN_ASYMMETRIC,
              "VQR_HESSIAN_* and hessian::kFlag* differ");

static_assert(std::string_view(kVersionString) == std::string_view(VQR_VERSION_STRING),
              "CMake's VQR_LIBRARY_VERSION and the header's VQR_VERSION_STRING differ");

#undef MIRROR

vqr_report to_public(const quant::LayerReport &r) {
  vqr_report p{};
  p.struct_size = sizeof p;
  p.method = static_cast<int>(r.method);
  p.proxy_loss = r.proxy_loss;
  p.rtn_proxy_loss = r.rtn_proxy_loss;
  p.damp = r.damp;
  p.damp_lambda = r.damp_lambda;
  p.damp_attempts = r.damp_attempts;
  p.dead_columns = r.dead_columns;
  p.seconds = r.seconds;
  p.asym_loss = r.asym_loss;
  p.alpha = r.alpha;
  p.alpha2 = r.alpha2;
  p.outer_mode = static_cast<int>(r.outer_mode);
  p.init_proxy_loss = r.init_proxy_loss;
  p.trainable_params = r.trainable_params;
  p.trainable_share = r.trainable_share;
  p.steps = r.steps;
  p.best_step = r.best_step;
  p.codebook_size = r.codebook_size;
  p.sign_flip_rate = r.sign_flip_rate;
  p.kmeans_seconds = r.kmeans_seconds;
  return p;
}

vqr_progress to_public(const ProgressInfo &i) {
  vqr_progress p;
  p.struct_size = sizeof p;
  p.stage = i.stage;
  p.done = i.done;
  p.total = i.total;
  p.elapsed_seconds = i.elapsed_seconds;
  p.loss = i.loss;
  p.seconds = i.seconds;
  p.tokens = i.tokens;
  return p;
}

}  // namespace vqr::capi
