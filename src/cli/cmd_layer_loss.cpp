// `vqround layer-loss`: run the fp32 model once over calibration text, accumulate one Hessian per
// distinct linear input through the public C API, quantize every linear layer with each method
// and bit width, and print the proxy losses tr(dW H dW^T) side by side (DESIGN §3.1: every
// layer-wise method minimizes this loss, so it compares methods without an end-to-end eval).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/backend_options.h"
#include "cli/cli_error.h"
#include "cli/commands.h"
#include "cli/model_inputs.h"
#include "cli/names.h"

namespace vqr::cli {

namespace {

const char *const kCommand = "layer-loss";

// Turns a failed C API call into a CliError about `subject`.
void check(vqr_status s, const std::string &subject, const std::string &call, const std::string &hint) {
  if (s != VQR_OK)
    throw CliError(subject, call + " failed (" + vqr_status_string(s) + "): " + vqr_last_error(), hint);
}

struct MethodSpec {
  std::string name;
  vqr_method method;
};

// The methods this command compares: those that run on the symmetric Hessians it collects and
// need no training (names from the library, vqr_method_name).
const vqr_method kMethods[] = {VQR_METHOD_RTN, VQR_METHOD_GPTQ};

std::string method_list() {
  std::string out;
  for (vqr_method m : kMethods) out += (out.empty() ? "" : ", ") + std::string(vqr_method_name(m));
  return out;
}

std::vector<MethodSpec> parse_methods(const ArgParser &args) {
  std::vector<MethodSpec> out;
  for (const std::string &m : args.get_list("methods")) {
    const int method = method_from_name(m);
    if (std::find(std::begin(kMethods), std::end(kMethods), method) == std::end(kMethods))
      throw usage_error(kCommand, "--methods: unknown method '" + m + "' (known: " + method_list() + ")");
    out.push_back({m, (vqr_method)method});
  }
  return out;
}

ConfigPtr make_config(vqr_method method, int64_t bits, int64_t group_size) {
  vqr_config *raw = nullptr;
  check(vqr_config_create(&raw), "config", "vqr_config_create", "out of memory?");
  ConfigPtr cfg(raw);
  check(vqr_config_set_int(cfg.get(), VQR_PARAM_METHOD, method), "--methods", "setting the method",
        "use one of " + method_list());
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
  args.add("model", "M", data + "/models/stories260K/stories260K.bin",
           "llama2.c checkpoint, Hugging Face folder or GGUF file");
  args.add("tokenizer", "TOK", data + "/models/stories260K/tok512.bin", "the model's tokenizer");
  args.add("text", "FILE", data + "/text/exllamav2-calibration/tiny.utf8",
           "calibration text; paragraphs separated by blank lines");
  args.add("calib-tokens", "N", "4096",
           "calibration tokens: ceil(N / W) random windows of W = min(seq_len, 256) tokens of the paragraphs, each "
           "with BOS (the GPTQ protocol)");
  args.add("methods", "LIST", "rtn,gptq", "comma-separated methods: " + method_list());
  args.add("bits", "LIST", "4,3", "comma-separated bit widths, 2..8");
  args.add("group-size", "G", "-1", "quantization group size along the input (-1 = one group per row)");
  args.add("threads", "N", "0", "threads for the forward pass and the quantizer (0 = all cores)");
  add_backend_options(args, "the calibration forward pass, the Hessians, the quantizers' updates and proxy losses", "");
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
  const BackendChoice backend = backend_choice(args, kCommand);
  // Validate the quantizer settings before the (longer) calibration pass.
  for (const MethodSpec &m : methods)
    for (int64_t b : bits) make_config(m.method, b, group_size);

  const ContextPtr ctx = make_context(threads, 0, backend);  // a missing device fails before the load

  // --- model, tokenizer, calibration windows (the GPTQ protocol's random windows) ---
  const std::string model_path = args.get("model"), text_path = args.get("text");
  const LoadedModel loaded = load_model_inputs(model_path, args.get("tokenizer"));
  const vqr_model_info &c = loaded.info;
  if (group_size > 0 && (c.dim % group_size != 0 || c.hidden_dim % group_size != 0)) {
    const int64_t g = std::gcd<int64_t>(c.dim, c.hidden_dim);
    throw usage_error(kCommand, "--group-size " + std::to_string(group_size) + " does not divide the input widths " +
                                    std::to_string(c.dim) + " and " + std::to_string(c.hidden_dim) + " of " +
                                    model_path + " (use -1 or a divisor of " + std::to_string(g) + ")");
  }
  require_tokenizer(loaded, kCommand, "a tokenizer");
  const int64_t window = std::min<int64_t>(c.seq_len, 256);
  const int64_t wanted = (calib_tokens + window - 1) / window;
  vqr_sequences *raw_seqs = nullptr;
  vqr::cli::check(vqr_sequences_from_file(loaded.model.get(), text_path.c_str(), 0, VQR_SAMPLE_RANDOM_WINDOWS, wanted,
                                          window, 0, &raw_seqs));
  const SequencesPtr seqs(raw_seqs);
  const int64_t windows = vqr_sequences_count(seqs.get()), tokens = vqr_sequences_total_tokens(seqs.get());
  if (windows == 0) throw CliError(text_path, "no text to calibrate on", "pass a non-empty --text file");

  std::printf("model: %s (dim %d, hidden %d, %d layers, %d/%d heads, vocab %d)\n", model_path.c_str(), c.dim,
              c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size);
  std::printf("calibration: %lld tokens in %lld random windows of %lld from %s\n", static_cast<long long>(tokens),
              static_cast<long long>(windows), static_cast<long long>(window), text_path.c_str());

  // --- one Hessian per (block, distinct input), filled by the library's forward pass ---
  std::vector<vqr_hessian *> raw_h(static_cast<size_t>(c.n_layers) * 4, nullptr);
  check(vqr_model_collect_hessians(ctx.get(), loaded.model.get(), vqr_sequences_tokens(seqs.get()),
                                   vqr_sequences_lengths(seqs.get()), windows, raw_h.data(),
                                   static_cast<int64_t>(raw_h.size())),
        "calibration", "vqr_model_collect_hessians", "non-finite activations mean a damaged checkpoint");
  std::vector<HessianPtr> hessians;
  for (vqr_hessian *h : raw_h) hessians.emplace_back(h);

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
  const int64_t linear_count = vqr_model_linear_count(loaded.model.get());
  for (int64_t li = 0; li < linear_count; ++li) {
    const char *name_c = nullptr;
    vqr_tensor wt{};
    int64_t hi = 0;
    vqr::cli::check(vqr_model_linear(loaded.model.get(), li, &name_c, &wt, &hi));
    const std::string name = name_c;
    const vqr_hessian *h = hessians[static_cast<size_t>(hi)].get();
    const std::string shape = std::to_string(wt.rows) + " x " + std::to_string(wt.cols);
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
  std::printf("%-12s %-13s", "total", "");
  for (size_t bi = 0; bi < bits.size(); ++bi) {
    for (size_t mi = 0; mi < methods.size(); ++mi) std::printf(" %12s", fmt_loss(totals[bi * methods.size() + mi]).c_str());
    if (ratio) std::printf(" %12s", fmt_ratio(totals[bi * methods.size() + 1], totals[bi * methods.size()]).c_str());
  }
  std::printf("\n");
  return 0;
}

}  // namespace vqr::cli
