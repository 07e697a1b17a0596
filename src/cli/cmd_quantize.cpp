// `vqround quantize`: calibrate on a text or id file, quantize the whole model block by block with
// any method of the library, and write it in one of the checkpoint formats — all through the C API
// (vqr_sequences_from_file, vqr_model_override_*, vqr_model_quantize, vqr_model_export). The
// output appears only when complete; Ctrl-C cancels the run through vqr_context_cancel and leaves
// nothing behind. --dry-run prints the plan instead (quantize_plan.h). Progress lines per layer and
// per block phase (quantize_progress.h); the summary carries the per-phase seconds and the peak
// hidden-state bytes from vqr_model_quantize_stats, and the tool's own peak resident set
// (memory_usage.h).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/backend_options.h"
#include "cli/cli_error.h"
#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/memory_usage.h"
#include "cli/model_inputs.h"
#include "cli/names.h"
#include "cli/quantize_plan.h"
#include "cli/quantize_progress.h"
#include "cli/units.h"
#include "core/json_text.h"

namespace vqr::cli {

namespace {

const char *const kCommand = "quantize";

const char *const kInits[] = {"rtn", "gptq"};

int method_arg(const std::string &name, const std::string &option) {
  const int m = method_from_name(name);
  if (m < 0) throw usage_error(kCommand, option + ": unknown method '" + name + "' (known: " + method_names() + ")");
  return m;
}

int grid_arg(const std::string &name) {
  const int g = grid_from_name(name);
  if (g < 0) throw usage_error(kCommand, "--grid: unknown grid '" + name + "' (known: " + grid_names() + ")");
  return g;
}

int init_arg(const std::string &name) {
  for (int i = 0; i < 2; ++i)
    if (name == kInits[i]) return i;
  throw usage_error(kCommand, "--init: unknown initialization '" + name + "' (known: rtn, gptq)");
}

// --beta-schedule's names, in vqr_beta_schedule order from VQR_BETA_PRESET (-1).
int beta_schedule_arg(const std::string &name) {
  static const char *const kNames[] = {"preset", "cosine", "linear", "hold-linear"};
  for (int i = 0; i < 4; ++i)
    if (name == kNames[i]) return i - 1;
  throw usage_error(kCommand, "--beta-schedule: unknown schedule '" + name +
                                  "' (known: preset, cosine, linear, hold-linear)");
}

// vqr_reg_units by name, in enum order.
int reg_units_arg(const std::string &name) {
  const char *const names[] = {"objective", "grid-step"};
  for (int i = 0; i < 2; ++i)
    if (name == names[i]) return i;
  throw usage_error(kCommand, "--reg-units: unknown units '" + name + "' (known: objective, grid-step)");
}

double parse_float(const std::string &text, const std::string &option) {
  char *end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v)) throw usage_error(kCommand, option + ": not a number: " + text);
  return v;
}

// Sets one parameter through the C API's checked setters, so bounds errors read like the library's.
void set_param(vqr_config *cfg, vqr_param p, double v, const std::string &option) {
  vqr_bounds b;
  b.struct_size = sizeof b;
  vqr_param_bounds(p, &b);
  const vqr_status st = b.is_float ? vqr_config_set_float(cfg, p, v) : vqr_config_set_int(cfg, p, (int64_t)v);
  if (st != VQR_OK) throw usage_error(kCommand, option + ": " + vqr_last_error());
}

// "PATTERN:key=value,key=value;PATTERN:skip" with keys method, bits, group-size.
std::vector<OverrideRule> parse_overrides(const std::string &text) {
  std::vector<OverrideRule> out;
  std::stringstream entries(text);
  std::string entry;
  while (std::getline(entries, entry, ';')) {
    if (entry.empty()) continue;
    const size_t colon = entry.find(':');
    if (colon == std::string::npos || colon == 0)
      throw usage_error(kCommand, "--override: '" + entry + "' is not PATTERN:key=value[,key=value] or PATTERN:skip");
    OverrideRule o;
    o.pattern = entry.substr(0, colon);
    std::stringstream fields(entry.substr(colon + 1));
    std::string field;
    while (std::getline(fields, field, ',')) {
      if (field == "skip") {
        o.skip = true;
        continue;
      }
      const size_t eq = field.find('=');
      const std::string key = field.substr(0, eq), value = eq == std::string::npos ? "" : field.substr(eq + 1);
      if (eq == std::string::npos || value.empty())
        throw usage_error(kCommand, "--override: '" + field + "' needs key=value (keys: method, bits, group-size)");
      if (key == "method") o.params.push_back({VQR_PARAM_METHOD, method_arg(value, "--override method")});
      else if (key == "bits") o.params.push_back({VQR_PARAM_BITS, (int64_t)parse_float(value, "--override bits")});
      else if (key == "group-size")
        o.params.push_back({VQR_PARAM_GROUP_SIZE, (int64_t)parse_float(value, "--override group-size")});
      else throw usage_error(kCommand, "--override: unknown key '" + key + "' (keys: method, bits, group-size, skip)");
    }
    out.push_back(o);
  }
  return out;
}

int dtype_arg(const std::string &s, const std::string &option) {
  if (s == "f32" || s == "F32") return VQR_DTYPE_F32;
  if (s == "f16" || s == "F16") return VQR_DTYPE_F16;
  if (s == "bf16" || s == "BF16") return VQR_DTYPE_BF16;
  throw usage_error(kCommand, option + ": unknown type '" + s + "' (known: f32, f16, bf16)");
}

// Dense tensors keep fp32 for a llama2.c source in the native format; the standard formats store
// fp16 (the formats' convention; tensors not exact in it stay fp32, or become f16 for gguf).
vqr_dtype default_dtype(const vqr_model_info &info, vqr_format format) {
  if (format == VQR_FORMAT_NATIVE) return std::strcmp(info.format, "llama2c-v0") == 0 ? VQR_DTYPE_F32 : VQR_DTYPE_F16;
  return VQR_DTYPE_F16;
}

void print_log_line(void *, vqr_log_level level, const char *message) {
  std::fprintf(stderr, "%s%s\n", level >= VQR_LOG_WARN ? "warning: " : "", message);
}

}  // namespace

int run_quantize(const std::vector<std::string> &argv) {
  ArgParser args(kCommand, "--model PATH --calib FILE --method M --bits B --out DIR [options]");
  args.add("model", "PATH", "",
           "llama2.c checkpoint, Hugging Face folder (config.json + safetensors), or a folder written by "
           "`vqround quantize`");
  args.add("tokenizer", "PATH", "",
           "tokenizer.model (SentencePiece), tokenizer.json (byte-level BPE) or llama2.c tokenizer.bin (default: the "
           "folder's, or tokenizer.bin / tok*.bin beside a checkpoint file)");
  args.add("calib", "FILE", "", "calibration text (paragraphs separated by blank lines)");
  args.add("calib-tokens", "FILE", "", "calibration as pre-tokenized ids (little-endian uint32), instead of --calib");
  args.add("method", "M", "gptq", method_names());
  args.add("bits", "B", "4", "bits per weight, 2..8");
  args.add("group-size", "G", "-1", "group size along the input (-1 = one group per output row)");
  args.add("out", "PATH", "", "output folder, or file for gguf (must not exist)");
  args.add("format", "F", "native",
           "native (the source's format + vqround.json), gptq (GPTQ v1/v2 Hugging Face folder for vLLM and "
           "transformers), compressed-tensors (pack-quantized, 4/8 bits), gguf (llama.cpp; Q4_0/Q4_1/Q8_0 blocks at "
           "group size 32)");
  args.add("dtype", "T", "", "storage of the unquantized tensors: f32, f16 or bf16 (default: the source's; f16 "
                             "for gguf)");
  args.add("scale-dtype", "T", "",
           "round grid scales to f32, f16 or bf16 while quantizing (default: f16 for gptq, compressed-tensors and "
           "gguf, whose checkpoints store fp16 scales, so they equal the quantized model bit for bit; else f32)");
  args.add_flag("act-order", "GPTQ family: process columns by descending diag(H)");
  args.add_flag("sym", "symmetric grid");
  args.add("grid", "NAME", "gptq", grid_names());
  args.add_flag("mse", "search a clipping ratio per group");
  args.add_flag("report-rtn",
                "also compute each GPTQ-family layer's RTN proxy loss for comparison (costs about an RTN "
                "quantization and two triangular products per layer; without it the figure is omitted)");
  args.add("calib-samples", "N", "128", "calibration sequences");
  args.add("calib-mode", "MODE", "windows",
           "windows: N random windows of the tokenized text (GPTQ protocol); paragraphs: the first N "
           "paragraphs, each its own sequence (truncated to --calib-seqlen)");
  args.add("calib-seqlen", "L", "0",
           "tokens per window (0 = 2048, GPTQ's 128 x 2048 protocol for real checkpoints, when the model's "
           "context is >= 2048; else the whole context, e.g. 512 for stories260K)");
  args.add("calib-dtype", "T", "f32",
           "storage of the calibration hidden states between blocks: f32 (exact), bf16 or f16 (half the memory; "
           "the stored states are rounded, which changes the Hessians and codes slightly: bf16 keeps fp32's range "
           "with 8 mantissa bits, f16 has 11 within +-65504)");
  args.add("max-memory", "SIZE", "0",
           "memory budget of the calibration hidden states, e.g. 8G or 512M (0 = no limit); the states beyond it "
           "spill to a temporary file");
  args.add("spill-dir", "DIR", "", "folder of the spill file (default: $TMPDIR, else /tmp)");
  args.add("seed", "S", "0", "seed of the calibration windows and of the learned methods");
  args.add("steps", "N", "-1", "learned methods: optimizer steps (-1 = the method's preset)");
  args.add("lr", "X", "-1", "learned methods: learning rate (-1 = preset)");
  args.add("init", "NAME", "rtn", "adaround/vqround initialization: rtn or gptq");
  args.add("reg-weight", "X", "-1",
           "adaround/vqround: weight lambda of the rounding regularizer sum(1 - |2h - 1|^beta) (-1 = preset)");
  args.add("reg-units", "NAME", "grid-step",
           "adaround/vqround: units of --reg-weight: grid-step (the mean cost of moving one weight one grid step; "
           "preset 3) or objective (tr(dW H dW^T), the references', preset 0.01)");
  args.add("vq-dim", "D", "8", "vqround: latents per codebook vector");
  args.add("codebook-size", "K", "4096", "vqround: codewords (capped at the number of vectors)");
  args.add("kmeans-iters", "N", "5", "vqround: k-means iterations at most (the reference runs 500)");
  args.add("kmeans-sample", "N", "32",
           "vqround: k-means trains on at most N points per codeword, sampled (the reference: 256)");
  args.add("kmeans-tol", "X", "0.001",
           "vqround: k-means also stops once an iteration changes fewer than this share of its assignments (0 = "
           "only when none changes)");
  args.add_flag("sign-consistent", "vqround: keep the initialization's rounding decisions in k-means");
  args.add_flag("reg-mean", "adaround/vqround: divide the regularizer by the number of weights");
  args.add("beta-start", "X", "20", "adaround/vqround: the regularizer's exponent at the start of its schedule");
  args.add("beta-end", "X", "2", "adaround/vqround: the exponent at the end");
  args.add("beta-schedule", "NAME", "preset",
           "adaround/vqround: preset (adaround cosine, vqround hold-linear), cosine, linear or hold-linear");
  args.add("beta-final-hold", "X", "-1",
           "adaround/vqround: share of the steps at the end held at --beta-end, the schedule running before it "
           "(-1 = preset: 0 layer by layer, 0.3 with --e2e)");
  args.add("warmup", "X", "-1", "adaround/vqround: share of the steps before the regularizer starts (-1 = preset)");
  args.add("keep-best", "0|1", "1",
           "learned methods: keep the best scored state (1) or the final one (0, as the references)");
  args.add("rank", "R", "8", "loraround: rank");
  args.add_flag("blockwise",
                "autoround: reconstruct each decoder block's output, its seven linears trained together (the "
                "reference's block-wise AutoRound), instead of each layer's");
  args.add("block-batch", "N", "8", "autoround --blockwise: calibration sequences per step");
  args.add_flag("all-at-once",
                "quantize each block's linears from statistics of the unquantized block, all at once (the GPTQ "
                "reference's OPT order), instead of the true-sequential groups q/k/v, o, gate/up (OPT: fc1), "
                "down (fc2)");
  args.add_flag("e2e",
                "adaround/vqround: train every layer's rounding together on the full-precision model's output "
                "distribution (end-to-end distillation, tau^2 KL) after initializing each layer, instead of layer "
                "by layer; --steps counts its steps");
  args.add("teacher-topk", "K", "64", "--e2e: teacher tokens kept per position (the rest as one mass)");
  args.add("temperature", "T", "2", "--e2e: distillation temperature");
  args.add("teacher", "MODE", "stored",
           "--e2e: stored (the teacher's top-k computed once, in memory or --teacher-cache) or online (the "
           "full-precision model runs beside the student every step)");
  args.add("teacher-cache", "PATH", "", "--e2e: the stored teacher's file: read when it exists, else written");
  args.add("e2e-batch", "N", "1", "--e2e: calibration sequences per step");
  args.add("eval-every", "N", "100", "--e2e: score the held-out sequences every N steps (0 = at the end only)");
  args.add("holdout", "N", "-1", "--e2e: calibration sequences held out for scoring (-1 = an eighth)");
  args.add_flag("kl-mean", "--e2e: the KL per token instead of summed over positions");
  args.add("checkpoint", "PATH", "", "--e2e: write the training state there at every evaluation and on interrupt");
  args.add_flag("resume", "--e2e: continue from --checkpoint (made with the same settings)");
  args.add("override", "LIST", "",
           "per-layer settings, ';'-separated PATTERN:key=value,... (keys method, bits, group-size) or "
           "PATTERN:skip; PATTERN globs layer names like blk.0.wq, *.w2");
  args.add("threads", "N", "0", "threads (0 = all cores)");
  add_backend_options(args, "the Hessians, the GPTQ-family updates and the learned-rounding objectives",
                      "; the model's forward and backward passes run on the CPU in this version");
  args.add_flag("json", "print a JSON summary on stdout");
  args.add_flag("dry-run", "load the model and print the plan (layers, settings, estimated time and memory) "
                           "without quantizing or writing anything; --out is then optional");
  if (!args.parse(argv)) {
    std::fputs(args.usage().c_str(), stdout);
    return 0;
  }
  const bool dry_run = args.flag("dry-run");
  if (args.get("out").empty() && !dry_run) throw usage_error(kCommand, "--out DIR is required");
  const std::string calib_text = args.get("calib"), calib_tokens = args.get("calib-tokens");
  if (calib_text.empty() == calib_tokens.empty())
    throw usage_error(kCommand, "pass exactly one of --calib FILE (text) and --calib-tokens FILE (uint32 ids)");
  const std::string out_dir = args.get("out");
  struct stat st;
  if (!out_dir.empty() && stat(out_dir.c_str(), &st) == 0)
    throw CliError("--out", out_dir + " already exists", "choose a new folder name or remove the old one");
  if (!out_dir.empty()) {  // where the output goes must exist before any layer is quantized
    // (The tool links only the public API, so the path arithmetic is its own.)
    std::string parent = out_dir;
    while (parent.size() > 1 && parent.back() == '/') parent.pop_back();
    const size_t slash = parent.find_last_of('/');
    parent = slash == std::string::npos ? "." : slash == 0 ? "/" : parent.substr(0, slash);
    if (stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      throw CliError("--out", "the folder " + parent + " that would hold " + out_dir + " does not exist",
                     "create it first, or choose another --out");
    if (access(parent.c_str(), W_OK) != 0)
      throw CliError("--out", "the folder " + parent + " is not writable", "choose another --out");
  }

  const std::string format = args.get("format");
  vqr_format out_format = VQR_FORMAT_NATIVE;
  if (format == "gptq") out_format = VQR_FORMAT_GPTQ;
  else if (format == "compressed-tensors") out_format = VQR_FORMAT_COMPRESSED_TENSORS;
  else if (format == "gguf") out_format = VQR_FORMAT_GGUF;
  else if (format != "native")
    throw usage_error(kCommand, "--format: unknown format '" + format + "' (known: native, gptq, compressed-tensors, gguf)");
  const int dtype = args.get("dtype").empty() ? -1 : dtype_arg(args.get("dtype"), "--dtype");
  const bool fp16_scales = out_format != VQR_FORMAT_NATIVE;
  const int scale_dtype = args.get("scale-dtype").empty() ? (fp16_scales ? VQR_DTYPE_F16 : VQR_DTYPE_F32)
                                                           : dtype_arg(args.get("scale-dtype"), "--scale-dtype");

  // Settings, checked by the library's own bounds before any work.
  vqr_config *raw_cfg = nullptr;
  check(vqr_config_create(&raw_cfg));
  const ConfigPtr cfg(raw_cfg);
  set_param(cfg.get(), VQR_PARAM_METHOD, method_arg(args.get("method"), "--method"), "--method");
  set_param(cfg.get(), VQR_PARAM_BITS, parse_float(args.get("bits"), "--bits"), "--bits");
  set_param(cfg.get(), VQR_PARAM_GROUP_SIZE, parse_float(args.get("group-size"), "--group-size"), "--group-size");
  set_param(cfg.get(), VQR_PARAM_ALLOW_PARTIAL_GROUP, 1, "--group-size");
  set_param(cfg.get(), VQR_PARAM_ACT_ORDER, args.flag("act-order"), "--act-order");
  set_param(cfg.get(), VQR_PARAM_SYM, args.flag("sym"), "--sym");
  set_param(cfg.get(), VQR_PARAM_GRID, grid_arg(args.get("grid")), "--grid");
  set_param(cfg.get(), VQR_PARAM_MSE, args.flag("mse"), "--mse");
  set_param(cfg.get(), VQR_PARAM_REPORT_LOSS, args.flag("report-rtn") ? VQR_REPORT_PROXY_AND_RTN : VQR_REPORT_PROXY,
            "--report-rtn");
  set_param(cfg.get(), VQR_PARAM_SCALE_DTYPE, scale_dtype, "--scale-dtype");
  set_param(cfg.get(), VQR_PARAM_STEPS, parse_float(args.get("steps"), "--steps"), "--steps");
  set_param(cfg.get(), VQR_PARAM_LR, parse_float(args.get("lr"), "--lr"), "--lr");
  set_param(cfg.get(), VQR_PARAM_INIT, init_arg(args.get("init")), "--init");
  set_param(cfg.get(), VQR_PARAM_REG_WEIGHT, parse_float(args.get("reg-weight"), "--reg-weight"), "--reg-weight");
  set_param(cfg.get(), VQR_PARAM_REG_UNITS, reg_units_arg(args.get("reg-units")), "--reg-units");
  set_param(cfg.get(), VQR_PARAM_VQ_DIM, parse_float(args.get("vq-dim"), "--vq-dim"), "--vq-dim");
  set_param(cfg.get(), VQR_PARAM_CODEBOOK_SIZE, parse_float(args.get("codebook-size"), "--codebook-size"),
            "--codebook-size");
  set_param(cfg.get(), VQR_PARAM_KMEANS_ITERS, parse_float(args.get("kmeans-iters"), "--kmeans-iters"),
            "--kmeans-iters");
  set_param(cfg.get(), VQR_PARAM_SIGN_CONSISTENT, args.flag("sign-consistent"), "--sign-consistent");
  set_param(cfg.get(), VQR_PARAM_REG_MEAN, args.flag("reg-mean"), "--reg-mean");
  set_param(cfg.get(), VQR_PARAM_BETA_START, parse_float(args.get("beta-start"), "--beta-start"), "--beta-start");
  set_param(cfg.get(), VQR_PARAM_BETA_END, parse_float(args.get("beta-end"), "--beta-end"), "--beta-end");
  set_param(cfg.get(), VQR_PARAM_BETA_FINAL_HOLD, parse_float(args.get("beta-final-hold"), "--beta-final-hold"),
            "--beta-final-hold");
  set_param(cfg.get(), VQR_PARAM_BETA_SCHEDULE, beta_schedule_arg(args.get("beta-schedule")), "--beta-schedule");
  set_param(cfg.get(), VQR_PARAM_WARMUP, parse_float(args.get("warmup"), "--warmup"), "--warmup");
  set_param(cfg.get(), VQR_PARAM_KEEP_BEST, parse_float(args.get("keep-best"), "--keep-best"), "--keep-best");
  set_param(cfg.get(), VQR_PARAM_KMEANS_SAMPLE, parse_float(args.get("kmeans-sample"), "--kmeans-sample"),
            "--kmeans-sample");
  set_param(cfg.get(), VQR_PARAM_KMEANS_TOL, parse_float(args.get("kmeans-tol"), "--kmeans-tol"), "--kmeans-tol");
  set_param(cfg.get(), VQR_PARAM_RANK, parse_float(args.get("rank"), "--rank"), "--rank");
  set_param(cfg.get(), VQR_PARAM_BLOCKWISE, args.flag("blockwise"), "--blockwise");
  set_param(cfg.get(), VQR_PARAM_TRUE_SEQUENTIAL, !args.flag("all-at-once"), "--all-at-once");
  set_param(cfg.get(), VQR_PARAM_BLOCK_BATCH, parse_float(args.get("block-batch"), "--block-batch"), "--block-batch");
  set_param(cfg.get(), VQR_PARAM_E2E, args.flag("e2e"), "--e2e");
  set_param(cfg.get(), VQR_PARAM_TEACHER_TOPK, parse_float(args.get("teacher-topk"), "--teacher-topk"), "--teacher-topk");
  set_param(cfg.get(), VQR_PARAM_TEMPERATURE, parse_float(args.get("temperature"), "--temperature"), "--temperature");
  set_param(cfg.get(), VQR_PARAM_E2E_BATCH, parse_float(args.get("e2e-batch"), "--e2e-batch"), "--e2e-batch");
  set_param(cfg.get(), VQR_PARAM_EVAL_EVERY, parse_float(args.get("eval-every"), "--eval-every"), "--eval-every");
  set_param(cfg.get(), VQR_PARAM_HOLDOUT, parse_float(args.get("holdout"), "--holdout"), "--holdout");
  set_param(cfg.get(), VQR_PARAM_KL_MEAN, args.flag("kl-mean"), "--kl-mean");
  const std::string teacher_mode = args.get("teacher");
  if (teacher_mode != "stored" && teacher_mode != "online")
    throw usage_error(kCommand, "--teacher: unknown mode '" + teacher_mode + "' (known: stored, online)");
  set_param(cfg.get(), VQR_PARAM_TEACHER_ONLINE, teacher_mode == "online", "--teacher");
  if (args.flag("resume") && args.get("checkpoint").empty())
    throw usage_error(kCommand, "--resume needs --checkpoint PATH");
  if (!args.flag("e2e") && (!args.get("checkpoint").empty() || !args.get("teacher-cache").empty()))
    throw usage_error(kCommand, "--checkpoint and --teacher-cache belong to --e2e");
  const std::vector<OverrideRule> overrides = parse_overrides(args.get("override"));
  if (out_format == VQR_FORMAT_COMPRESSED_TENSORS) {
    // pack-quantized holds 4- and 8-bit codes only (spec api_formats §4.3): refuse before the work.
    std::vector<int64_t> widths = {(int64_t)parse_float(args.get("bits"), "--bits")};
    for (const OverrideRule &o : overrides)
      for (const auto &[param, value] : o.params)
        if (param == VQR_PARAM_BITS) widths.push_back(value);
    for (int64_t b : widths)
      if (b != 4 && b != 8)
        throw usage_error(kCommand, "--format compressed-tensors holds 4- and 8-bit layers only, not " +
                                        std::to_string(b) + "-bit; use --format gptq for 2, 3 or mixed widths");
  }
  const int threads = (int)args.get_int("threads", 0, 4096);
  const int64_t samples = args.get_int("calib-samples", 1, 1 << 20);
  const int64_t seqlen_arg = args.get_int("calib-seqlen", 0, 1 << 20);
  const uint64_t seed = (uint64_t)args.get_int("seed", 0, INT64_MAX);
  const bool json = args.flag("json");
  const BackendChoice backend = backend_choice(args, kCommand);
  const int calib_dtype = dtype_arg(args.get("calib-dtype"), "--calib-dtype");
  int64_t max_memory = 0;
  if (!parse_bytes(args.get("max-memory"), &max_memory))
    throw usage_error(kCommand, "--max-memory: '" + args.get("max-memory") + "' is not a size (e.g. 8G, 512M, 0)");
  const std::string spill_dir = args.get("spill-dir");
  if (!spill_dir.empty() && (stat(spill_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)))
    throw CliError("--spill-dir", spill_dir + " is not an existing folder", "create it or pick another folder");

  const std::string mode = args.get("calib-mode");
  if (mode != "windows" && mode != "paragraphs")
    throw usage_error(kCommand, "--calib-mode: unknown mode '" + mode + "' (known: windows, paragraphs)");
  if (mode == "paragraphs" && !calib_tokens.empty())
    throw usage_error(kCommand, "--calib-mode paragraphs needs text (--calib); ids have no paragraph boundaries");

  // Before the model load and calibration: a backend that cannot be used fails in seconds (also
  // under --dry-run, which checks that the run would start).
  const ContextPtr ctx = make_context(threads, seed, backend);
  const LoadedModel loaded = load_model_inputs(args.get("model"), args.get("tokenizer"));
  vqr_model *model = loaded.model.get();
  if (!calib_text.empty()) require_tokenizer(loaded, kCommand, "--calib-tokens");
  // Said before the run rather than after it (the library refuses the export the same way).
  if (out_format == VQR_FORMAT_GGUF && loaded.info.architecture &&
      std::string(loaded.info.architecture) == "OPTForCausalLM")
    throw usage_error(kCommand, "--format gguf: OPT models have no GGUF export (llama.cpp has no OPT architecture); "
                                "use gptq, compressed-tensors or native");
  for (const OverrideRule &o : overrides) {
    for (const auto &[param, value] : o.params) {
      if (vqr_model_override_int(model, o.pattern.c_str(), param, value) != VQR_OK)
        throw usage_error(kCommand, "--override " + o.pattern + ": " + vqr_last_error());
    }
    if (o.skip) check(vqr_model_skip_layers(model, o.pattern.c_str()));
  }
  const int64_t seqlen = seqlen_arg > 0 ? std::min<int64_t>(seqlen_arg, loaded.info.seq_len)
                                        : std::min<int64_t>(2048, loaded.info.seq_len);
  const std::string calib_path = calib_text.empty() ? calib_tokens : calib_text;
  vqr_sequences *raw_seqs = nullptr;
  check(vqr_sequences_from_file(model, calib_path.c_str(), calib_text.empty() ? 1 : 0,
                                mode == "paragraphs" ? VQR_SAMPLE_PARAGRAPHS : VQR_SAMPLE_RANDOM_WINDOWS, samples,
                                seqlen, seed, &raw_seqs));
  const SequencesPtr seqs(raw_seqs);
  const int64_t count = vqr_sequences_count(seqs.get());
  if (count == 0)
    throw CliError(calib_text.empty() ? "--calib-tokens" : "--calib", calib_path + " has too little to calibrate on",
                   "pass a longer text or id file");
  check(vqr_model_set_calibration(model, (vqr_dtype)calib_dtype, max_memory, spill_dir.c_str()));
  check(vqr_model_set_distill_files(model, args.get("teacher-cache").c_str(), args.get("checkpoint").c_str(),
                                    args.flag("resume") ? 1 : 0));
  if (dry_run) {
    int64_t longest = 0;
    for (int64_t i = 0; i < count; ++i) longest = std::max(longest, vqr_sequences_lengths(seqs.get())[i]);
    print_quantize_plan({model, &loaded.info, cfg.get(), &overrides, args.get("override"), count,
                         vqr_sequences_total_tokens(seqs.get()), longest, calib_dtype, max_memory, spill_dir},
                        json);
    return 0;
  }
  check(vqr_model_set_metadata(model, "calibration_file", calib_path.c_str()));

  QuantizeProgress printer(model, loaded.info.n_layers, isatty(fileno(stderr)) != 0);
  check(vqr_context_set_progress(ctx.get(), QuantizeProgress::callback, &printer));
  check(vqr_context_set_log(ctx.get(), print_log_line, nullptr, VQR_LOG_INFO));
  vqr_status qst;
  {
    const InterruptGuard interrupt(ctx.get());
    qst = vqr_model_quantize(ctx.get(), model, cfg.get(), vqr_sequences_tokens(seqs.get()),
                            vqr_sequences_lengths(seqs.get()), count);
  }
  printer.finish();
  if (qst == VQR_ERR_CANCELLED)
    throw CliError(kCommand, "cancelled (interrupted)",
                   args.get("checkpoint").empty()
                       ? "nothing was written; run it again"
                       : "no model was written; " + args.get("checkpoint") +
                             " holds the training state: run the same command with --resume to continue");
  check(qst);
  const double seconds = printer.elapsed_seconds();
  vqr_quantize_stats stats{};
  stats.struct_size = sizeof stats;
  check(vqr_model_quantize_stats(model, &stats));

  const int64_t layers = vqr_model_layer_count(model);
  double total_proxy = 0;
  for (int64_t i = 0; i < layers; ++i) {
    vqr_layer_info li{};
    li.struct_size = sizeof li;
    vqr_report rep{};
    rep.struct_size = sizeof rep;
    check(vqr_model_layer_info(model, i, &li));
    check(vqr_model_layer_report(model, i, nullptr, &rep));
    if (!li.skipped && std::isfinite(rep.proxy_loss)) total_proxy += rep.proxy_loss;
  }
  vqr_distill_stats distill{};
  distill.struct_size = sizeof distill;
  check(vqr_model_distill_stats(model, &distill));
  // --e2e: the held-out scores (the first is the initialization's) and the kept state.
  std::string distill_json = "null";
  if (distill.ran) {
    std::string evals;
    for (int64_t i = 0; i < distill.evaluations; ++i) {
      int64_t step = 0;
      double kl = 0, nll = 0;
      check(vqr_model_distill_eval(model, i, &step, &kl, &nll));
      evals += std::string(i ? ", " : "") + "{\"step\": " + std::to_string(step) + ", \"kl\": " + json_number(kl) +
               ", \"nll\": " + json_number(nll) + "}";
      if (!json)
        std::fprintf(stderr, "distill: step %lld: held-out KL %.6f per token, NLL %.6f%s\n", (long long)step, kl, nll,
                     (step == 0 && distill.best_step < 0) || step == distill.best_step ? " (kept)" : "");
    }
    double first_loss = NAN, last_loss = NAN;
    if (distill.steps > 0) {
      check(vqr_model_distill_loss(model, 0, &first_loss, nullptr));
      check(vqr_model_distill_loss(model, distill.steps - 1, &last_loss, nullptr));
    }
    distill_json = "{\"steps\": " + std::to_string(distill.steps) + ", \"best_step\": " +
                   std::to_string(distill.best_step) + ", \"resumed_from\": " + std::to_string(distill.resumed_from) +
                   ", \"train_sequences\": " + std::to_string(distill.train_sequences) +
                   ", \"holdout_sequences\": " + std::to_string(distill.holdout_sequences) +
                   ", \"tokens\": " + std::to_string(distill.tokens) + ", \"seconds\": " +
                   json_number(distill.seconds) + ", \"teacher_seconds\": " + json_number(distill.teacher_seconds) +
                   ", \"teacher_k\": " + std::to_string(distill.teacher_k) + ", \"teacher_online\": " +
                   (distill.teacher_online ? "true" : "false") + ", \"trainable_params\": " +
                   std::to_string(distill.trainable_params) + ", \"quantized_weights\": " +
                   std::to_string(distill.quantized_weights) + ", \"first_loss\": " + json_number(first_loss) +
                   ", \"last_loss\": " + json_number(last_loss) + ", \"evals\": [" + evals + "]}";
  }
  {
    const InterruptGuard interrupt(ctx.get());
    check(vqr_model_export(ctx.get(), model, out_dir.c_str(), out_format,
                           dtype >= 0 ? (vqr_dtype)dtype : default_dtype(loaded.info, out_format), 0));
  }
  int64_t method = 0, bits = 0;
  check(vqr_config_get_int(cfg.get(), VQR_PARAM_METHOD, &method));
  check(vqr_config_get_int(cfg.get(), VQR_PARAM_BITS, &bits));
  const int64_t peak = peak_rss_bytes();
  if (json)
    std::printf("{\"out\": %s, \"format\": %s, \"method\": %s, \"bits\": %lld, \"layers\": %lld, \"seconds\": %s, "
                "\"phase_seconds\": {\"load\": %s, \"forward\": %s, \"hessian\": %s, \"sweep\": %s}, "
                "\"calibration\": {\"sequences\": %lld, \"tokens\": %lld, \"dtype\": %s, \"max_memory_bytes\": %lld}, "
                "\"proxy_loss_total\": %s, \"peak_hidden_bytes\": %lld, \"peak_rss_bytes\": %lld, \"distill\": %s, "
                "\"backend\": %s}\n",
                json_string(out_dir).c_str(), json_string(vqr_format_name(out_format)).c_str(),
                json_string(vqr_method_name((vqr_method)method)).c_str(), (long long)bits, (long long)layers,
                json_number(seconds).c_str(), json_number(stats.load_seconds).c_str(),
                json_number(stats.forward_seconds).c_str(), json_number(stats.hessian_seconds).c_str(),
                json_number(stats.sweep_seconds).c_str(), (long long)stats.sequences, (long long)stats.tokens,
                json_string(dtype_name(stats.calib_dtype)).c_str(), (long long)stats.max_memory_bytes,
                json_number(total_proxy).c_str(), (long long)stats.peak_hidden_bytes, (long long)peak,
                distill_json.c_str(), json_string(vqr_context_backend(ctx.get())).c_str());
  else
    std::printf("wrote %s (%s): %lld layers, %s (load %s, forward %s, hessian %s, sweep %s), total proxy loss %.4e, "
                "peak hidden states %s (%s), peak RSS %s\n",
                out_dir.c_str(), vqr_format_name(out_format), (long long)layers, format_seconds(seconds).c_str(),
                format_seconds(stats.load_seconds).c_str(), format_seconds(stats.forward_seconds).c_str(),
                format_seconds(stats.hessian_seconds).c_str(), format_seconds(stats.sweep_seconds).c_str(),
                total_proxy, format_bytes((double)stats.peak_hidden_bytes).c_str(), dtype_name(stats.calib_dtype),
                format_bytes((double)peak).c_str());
  return 0;
}

}  // namespace vqr::cli
