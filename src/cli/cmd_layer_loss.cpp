// `vqround layer-loss`: run the fp32 model once over calibration text, accumulate one Hessian per
// distinct linear input through the public C API, quantize every linear layer with each method
// and bit width, and print the proxy losses tr(dW H dW^T) side by side (DESIGN §3.1: every
// layer-wise method minimizes this loss, so it compares methods without an end-to-end eval).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/cli_error.h"
#include "cli/commands.h"
#include "model/forward.h"
#include "model/llama2c_format.h"
#include "model/text_corpus.h"
#include "model/tokenizer.h"
#include "vqround/vqround.h"

namespace vqr::cli {

namespace {

using model::LinearInput;
using model::LinearKind;

const char *const kCommand = "layer-loss";

// Owning handles for the C API objects, so every exit path frees them.
struct ContextFree {
  void operator()(vqr_context *p) const { vqr_context_free(p); }
};
struct HessianFree {
  void operator()(vqr_hessian *p) const { vqr_hessian_free(p); }
};
struct ConfigFree {
  void operator()(vqr_config *p) const { vqr_config_free(p); }
};
struct ResultFree {
  void operator()(vqr_result *p) const { vqr_result_free(p); }
};
using ContextPtr = std::unique_ptr<vqr_context, ContextFree>;
using HessianPtr = std::unique_ptr<vqr_hessian, HessianFree>;
using ConfigPtr = std::unique_ptr<vqr_config, ConfigFree>;
using ResultPtr = std::unique_ptr<vqr_result, ResultFree>;

// Turns a failed C API call into a CliError about `subject`.
void check(vqr_status s, const std::string &subject, const std::string &call, const std::string &hint) {
  if (s != VQR_OK)
    throw CliError(subject, call + " failed (" + vqr_status_string(s) + "): " + vqr_last_error(), hint);
}

struct MethodSpec {
  std::string name;
  vqr_method method;
};

std::vector<MethodSpec> parse_methods(const ArgParser &args) {
  std::vector<MethodSpec> out;
  for (const std::string &m : args.get_list("methods")) {
    if (m == "rtn") out.push_back({m, VQR_METHOD_RTN});
    else if (m == "gptq") out.push_back({m, VQR_METHOD_GPTQ});
    else throw usage_error(kCommand, "--methods: unknown method '" + m + "' (known: rtn, gptq)");
  }
  return out;
}

ConfigPtr make_config(vqr_method method, int64_t bits, int64_t group_size) {
  vqr_config *raw = nullptr;
  check(vqr_config_create(&raw), "config", "vqr_config_create", "out of memory?");
  ConfigPtr cfg(raw);
  check(vqr_config_set_int(cfg.get(), VQR_PARAM_METHOD, method), "--methods", "setting the method", "use rtn or gptq");
  check(vqr_config_set_int(cfg.get(), VQR_PARAM_BITS, bits), "--bits", "setting bits", "bits must be 2..8");
  check(vqr_config_set_int(cfg.get(), VQR_PARAM_GROUP_SIZE, group_size), "--group-size", "setting the group size",
        "use -1 (per row) or a positive divisor of every layer's input width");
  return cfg;
}

std::string fmt_loss(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4e", v);
  return buf;
}

std::string fmt_ratio(double num, double den) {
  char buf[32];
  if (!(den > 0.0) || !std::isfinite(num)) return "-";
  std::snprintf(buf, sizeof buf, "%.4f", num / den);
  return buf;
}

}  // namespace

int run_layer_loss(const std::vector<std::string> &argv) {
  const std::string data = default_data_dir();
  ArgParser args(kCommand, "[--model M] [--tokenizer TOK] [--text FILE] [options]");
  args.add("model", "M", data + "/models/stories260K/stories260K.bin", "llama2.c legacy v0 checkpoint");
  args.add("tokenizer", "TOK", data + "/models/stories260K/tok512.bin", "llama2.c tokenizer.bin of the model");
  args.add("text", "FILE", data + "/text/exllamav2-calibration/tiny.utf8",
           "calibration text; paragraphs separated by blank lines");
  args.add("calib-tokens", "N", "4096", "calibration tokens (BOS per paragraph, windows of min(seq_len, 256))");
  args.add("methods", "LIST", "rtn,gptq", "comma-separated methods: rtn, gptq");
  args.add("bits", "LIST", "4,3", "comma-separated bit widths, 2..8");
  args.add("group-size", "G", "-1", "quantization group size along the input (-1 = one group per row)");
  args.add("threads", "N", "0", "threads for the forward pass and the quantizer (0 = all cores)");
  if (!args.parse(argv)) {
    std::fputs(args.usage().c_str(), stdout);
    return 0;
  }
  const int64_t calib_tokens = args.get_int("calib-tokens", 1, int64_t{1} << 30);
  const std::vector<MethodSpec> methods = parse_methods(args);
  const std::vector<int64_t> bits = args.get_int_list("bits", 2, 8);
  const int64_t group_size = args.get_int("group-size", -1, int64_t{1} << 30);
  if (group_size == 0) throw usage_error(kCommand, "--group-size: 0 is not a group size (use -1 or >= 1)");
  const int threads = static_cast<int>(args.get_int("threads", 0, 4096));
  // Validate the quantizer settings before the (longer) calibration pass.
  for (const MethodSpec &m : methods)
    for (int64_t b : bits) make_config(m.method, b, group_size);

  // --- model, tokenizer, calibration windows ---
  const std::string model_path = args.get("model"), text_path = args.get("text");
  const model::Model mdl = model::load_llama2c(model_path);
  const model::ModelConfig &c = mdl.config();
  if (group_size > 0 && (c.dim % group_size != 0 || c.hidden_dim % group_size != 0)) {
    const int64_t g = std::gcd<int64_t>(c.dim, c.hidden_dim);
    throw usage_error(kCommand, "--group-size " + std::to_string(group_size) + " does not divide the input widths " +
                                    std::to_string(c.dim) + " and " + std::to_string(c.hidden_dim) + " of " +
                                    model_path + " (use -1 or a divisor of " + std::to_string(g) + ")");
  }
  const model::Tokenizer tok = model::Tokenizer::load(args.get("tokenizer"), c.vocab_size);
  const std::vector<std::string> paragraphs = model::split_paragraphs(model::read_text_file(text_path));
  if (paragraphs.empty()) throw CliError(text_path, "no text to calibrate on", "pass a non-empty --text file");
  const int64_t window = std::min<int64_t>(c.seq_len, 256);
  const auto windows = model::calibration_windows(tok, paragraphs, calib_tokens, window);
  int64_t tokens = 0;
  for (const auto &w : windows) tokens += static_cast<int64_t>(w.size());

  std::printf("model: %s (dim %d, hidden %d, %d layers, %d/%d heads, vocab %d)\n", model_path.c_str(), c.dim,
              c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size);
  std::printf("calibration: %lld tokens in %zu windows of up to %lld from %s%s\n", static_cast<long long>(tokens),
              windows.size(), static_cast<long long>(window), text_path.c_str(),
              tokens < calib_tokens ? " (the text holds fewer tokens than requested)" : "");

  // --- one Hessian per (block, distinct input), filled by streaming the forward pass ---
  vqr_context *ctx_raw = nullptr;
  check(vqr_context_create(&ctx_raw), "context", "vqr_context_create", "out of memory?");
  ContextPtr ctx(ctx_raw);
  check(vqr_context_set_threads(ctx.get(), threads), "--threads", "vqr_context_set_threads", "use 0..4096");

  std::vector<HessianPtr> hessians;
  for (int l = 0; l < c.n_layers; ++l)
    for (int i = 0; i < model::kLinearInputCount; ++i) {
      const int64_t width = c.input_width(static_cast<LinearInput>(i));
      vqr_hessian *h = nullptr;
      check(vqr_hessian_create(width, 0, &h), "hessian", "vqr_hessian_create", "out of memory?");
      hessians.emplace_back(h);
    }
  model::Forward fwd(mdl, window, threads);
  const model::ActivationSink sink = [&](int layer, LinearInput input, const float *x, int64_t n, int64_t width) {
    const vqr_tensor t = vqr_tensor_2d(x, VQR_DTYPE_F32, n, width, 0);
    check(vqr_hessian_add(hessians[static_cast<size_t>(layer * model::kLinearInputCount + static_cast<int>(input))].get(), &t),
          "blk." + std::to_string(layer) + "." + model::linear_input_name(input), "vqr_hessian_add",
          "non-finite activations mean a damaged checkpoint");
  };
  for (const auto &w : windows) fwd.run(w.data(), static_cast<int64_t>(w.size()), nullptr, sink);

  // --- table header ---
  const bool ratio = methods.size() == 2 && methods[0].method != methods[1].method;
  std::printf("proxy loss tr(dW H dW^T) with H = (2/T) X X^T; group size %lld\n\n", static_cast<long long>(group_size));
  std::printf("%-12s %-13s", "layer", "shape (m x n)");
  for (int64_t b : bits) {
    for (const MethodSpec &m : methods) std::printf(" %12s", (m.name + "@" + std::to_string(b)).c_str());
    if (ratio) std::printf(" %12s", (methods[1].name + "/" + methods[0].name + "@" + std::to_string(b)).c_str());
  }
  std::printf("\n");

  // --- quantize every layer with every (bits, method) ---
  std::vector<ConfigPtr> configs;  // [bits][method]
  for (int64_t b : bits)
    for (const MethodSpec &m : methods) configs.push_back(make_config(m.method, b, group_size));
  std::vector<double> totals(configs.size(), 0.0);
  for (int l = 0; l < c.n_layers; ++l) {
    for (LinearKind kind : model::kAllLinearKinds) {
      const std::string name = model::Model::linear_name(l, kind);
      const model::LinearWeight w = mdl.linear(l, kind);
      const vqr_tensor wt = vqr_tensor_2d(w.data, VQR_DTYPE_F32, w.rows, w.cols, 0);
      const vqr_hessian *h =
          hessians[static_cast<size_t>(l * model::kLinearInputCount + static_cast<int>(model::input_of(kind)))].get();
      const std::string shape = std::to_string(w.rows) + " x " + std::to_string(w.cols);
      std::printf("%-12s %-13s", name.c_str(), shape.c_str());
      for (size_t bi = 0; bi < bits.size(); ++bi) {
        std::vector<double> losses;
        for (size_t mi = 0; mi < methods.size(); ++mi) {
          const size_t k = bi * methods.size() + mi;
          vqr_result *res_raw = nullptr;
          check(vqr_quantize_layer(ctx.get(), configs[k].get(), &wt, h, &res_raw), name,
                "vqr_quantize_layer (" + methods[mi].name + ", " + std::to_string(bits[bi]) + " bits)",
                "check the message; the layer's weights come straight from the checkpoint");
          ResultPtr res(res_raw);
          vqr_report rep{};
          rep.struct_size = sizeof rep;
          check(vqr_result_report(res.get(), &rep), name, "vqr_result_report", "this is a bug; please report it");
          losses.push_back(rep.proxy_loss);
          totals[k] += rep.proxy_loss;
          std::printf(" %12s", fmt_loss(rep.proxy_loss).c_str());
        }
        if (ratio) std::printf(" %12s", fmt_ratio(losses[1], losses[0]).c_str());
      }
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  std::printf("%-12s %-13s", "total", "");
  for (size_t bi = 0; bi < bits.size(); ++bi) {
    for (size_t mi = 0; mi < methods.size(); ++mi) std::printf(" %12s", fmt_loss(totals[bi * methods.size() + mi]).c_str());
    if (ratio) std::printf(" %12s", fmt_ratio(totals[bi * methods.size() + 1], totals[bi * methods.size()]).c_str());
  }
  std::printf("\n");
  return 0;
}

}  // namespace vqr::cli
