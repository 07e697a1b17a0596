// The option vocabulary of a quantization: method, grid, GPTAQ outer mode, learned-rounding
// initialization and beta schedule, and the parameter ids of the table in quant/config.h. Every
// number equals its public vqr_* counterpart (src/capi/enum_mirror.cpp asserts each), and the
// public header's comments give meaning, range and default.
#pragma once

namespace vqr::quant {

enum class Method : int {
  Rtn = 0,
  Gptq = 1,
  Gptaq = 2,       // as the official code runs it (alpha 0.25, outer quantized)
  ResComp = 3,
  GptaqPaper = 4,  // as the paper writes it (alpha 1, outer prequant)
  // Learned rounding: AdaRound .. LoraRound, a contiguous range (is_learned_method).
  AdaRound = 5,
  AutoRound = 6,
  VqRound = 7,
  LoraRound = 8,
};

// Quantizer grids (spec gptq §1.6; quant/grid.h).
enum class Grid : int { Gptq = 0, QuaRot = 1, FullRange = 2 };

// What the GPTAQ/ResComp outer product uses (spec gptq §9); Preset = the method's own.
enum class OuterMode : int { Preset = -1, Quantized = 0, Prequant = 1, PrequantClamped = 2 };

// What VQR_PARAM_REPORT_LOSS asks the report to measure (vqr_report_level).
enum class ReportLevel : int { None = 0, Proxy = 1, ProxyAndRtn = 2 };

// The hard rounding a learned method starts from.
enum class Init : int { Rtn = 0, Gptq = 1 };

// Temperature schedule of the rectified-sigmoid methods; Preset = the method's own.
enum class BetaSchedule : int { Preset = -1, Cosine = 0, Linear = 1, HoldLinear = 2 };

// What one unit of the rounding regularizer's weight is (vqr_reg_units): the objective's own
// units, tr(dW H dW^T) (the references'), or the mean cost of moving one weight by one grid step.
enum class RegUnits : int { Objective = 0, GridStep = 1 };

// Parameter ids, numbered explicitly and never reused (the table in quant/config.cpp).
enum class Param : int {
  Method = 100,
  Bits = 200,
  GroupSize = 201,
  AllowPartialGroup = 202,
  Sym = 203,
  Grid = 204,
  Mse = 205,
  MseNorm = 206,
  MseGrid = 207,
  MseMaxshrink = 208,
  ScaleDtype = 209,
  ActOrder = 300,
  StaticGroups = 301,
  Damp = 302,
  DampIncrement = 303,
  DampAttempts = 304,
  BlockSize = 305,
  StaleGroups = 306,
  ReportLoss = 400,
  Alpha = 500,
  Alpha2 = 501,
  Outer = 502,
  ExactTarget = 503,
  Steps = 600,
  Lr = 601,
  Init = 602,
  RegWeight = 603,
  RegMean = 604,
  BetaStart = 605,
  BetaEnd = 606,
  BetaSchedule = 607,
  Warmup = 608,
  BetaHold = 609,
  KeepBest = 610,
  RegUnits = 611,
  BetaFinalHold = 612,
  VqDim = 620,
  CodebookSize = 621,
  KmeansIters = 622,
  KmeansSample = 623,
  SignConsistent = 624,
  KmeansTol = 625,
  Rank = 630,
  MinmaxTuning = 640,
  MinmaxLr = 641,
  Blockwise = 642,
  BlockBatch = 643,
  E2e = 644,
  TeacherTopk = 645,
  Temperature = 646,
  E2eBatch = 647,
  EvalEvery = 648,
  Holdout = 649,
  KlMean = 650,
  TeacherOnline = 651,
  TrueSequential = 660,
};

}  // namespace vqr::quant
