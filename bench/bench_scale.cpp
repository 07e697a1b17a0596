// vqround_bench_scale: the scale benchmark of issue 16 item 4. Times, on ONE decoder block of a
// real-shaped model (a Hugging Face folder, e.g. one written by scripts/synthetic_checkpoint.py, or
// a synthetic block of a preset's shape held in memory), every phase of quantizing it: load
// (widening the seven weights to fp32), the block forward over T calibration tokens, the Hessian
// accumulation of its four inputs, the seven GPTQ g128 sweeps, and writing the packed codes; each
// against the dense flops it must do at the kernel rates measured in the same run, with peak RSS,
// then extrapolated to the whole model at 128 x 2048 tokens (scale_report.h). Internal API, so
// linked against vqround_static; only stable entry points (model.h, forward.h, hessian.h,
// pipeline/quantize_layer.h, io/quantized_tensors.h).
#include <sys/resource.h>
#include <unistd.h>

#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/select.h"
#include "bench_common.h"
#include "core/context.h"
#include "core/dtype.h"
#include "hessian/hessian.h"
#include "io/quantized_tensors.h"
#include "io/safetensors.h"
#include "model/forward.h"
#include "model/hf_checkpoint.h"
#include "pipeline/layer_codes.h"
#include "pipeline/quantize_layer.h"
#include "pipeline/resident_batch.h"
#include "quant/config.h"
#include "scale_block.h"
#include "scale_rates.h"
#include "scale_report.h"

namespace {

using vqr::model::LinearInput;
using vqr::model::LinearKind;

// The standard calibration: 128 windows of 2048 tokens (spec gptq §5).
constexpr int64_t kModelWindow = 2048;

struct Options {
  std::string folder;              // empty: a synthetic block of `preset`
  std::string preset = "llama-3-8b";
  int layer = 0;
  int64_t tokens = 2048;
  int64_t window = 2048;           // capped by the model's context
  int64_t model_tokens = 128 * kModelWindow;
  int blocks = 0;                  // the whole model's blocks for the extrapolation; 0 = the config's
  uint64_t seed = 0;
  std::string json_path;           // default $VQR_BENCH_OUT/scale.json when VQR_BENCH_OUT is set
  std::string scratch;             // folder for the written block; default the system's temp folder
  std::string backend = "cpu";     // cpu, opencl or auto (backend/select.h)
  std::string device;              // the OpenCL device spec ("D" or "P:D")
};

const char *kUsage =
    "usage: vqround_bench_scale [--model DIR [--layer L] | --preset NAME] [--tokens T] [--window W]\n"
    "                           [--model-tokens N] [--blocks N] [--seed S] [--json PATH] [--scratch DIR] [--quick]\n"
    "                           [--backend cpu|opencl|auto] [--device SPEC]\n"
    "  --model DIR      a Hugging Face folder (bf16/f16/f32 safetensors); block L (default 0) is measured\n"
    "  --preset NAME    a synthetic in-memory block of that shape (default llama-3-8b)\n"
    "  --tokens T       calibration tokens through the block (default 2048)\n"
    "  --window W       tokens per window (default 2048, capped by the model's context)\n"
    "  --model-tokens N the extrapolation's calibration tokens (default 262144 = 128 x 2048)\n"
    "  --blocks N       the whole model's decoder blocks (default: the config's, e.g. 32 for Llama-3-8B;\n"
    "                   set it for a folder written with fewer layers)\n"
    "  --quick          --preset llama-3.2-1b --tokens 512 (later options still apply)\n"
    "  --seed S         synthetic weights and calibration tokens (default 0)\n"
    "  --json PATH      also write the report as JSON (default $VQR_BENCH_OUT/scale.json if set)\n"
    "  --scratch DIR    where the block's codes are written (and removed); default the temp folder\n"
    "  --backend B      where the forward, the Hessians and the sweeps' products run (default cpu)\n"
    "  --device SPEC    the OpenCL device (D or P:D, index or name substring)\n";

Options parse(int argc, char **argv) {
  Options o;
  if (const char *out = std::getenv("VQR_BENCH_OUT")) o.json_path = std::string(out) + "/scale.json";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    auto count = [&](long long lowest = 1) {
      const std::string v = value();
      char *end = nullptr;
      const long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < lowest)
        throw std::invalid_argument(a + " needs an integer >= " + std::to_string(lowest));
      return static_cast<int64_t>(n);
    };
    if (a == "--model") o.folder = value();
    else if (a == "--preset") o.preset = value();
    else if (a == "--layer") o.layer = static_cast<int>(std::min<int64_t>(count(0), INT32_MAX));
    else if (a == "--tokens") o.tokens = count();
    else if (a == "--window") o.window = count();
    else if (a == "--model-tokens") o.model_tokens = count();
    else if (a == "--blocks") o.blocks = static_cast<int>(std::min<int64_t>(count(), INT32_MAX));
    else if (a == "--seed") o.seed = static_cast<uint64_t>(count(0));
    else if (a == "--json") o.json_path = value();
    else if (a == "--scratch") o.scratch = value();
    else if (a == "--quick") o.preset = "llama-3.2-1b", o.tokens = 512;
    else if (a == "--backend") o.backend = value();
    else if (a == "--device") o.device = value();
    else throw std::invalid_argument("unknown option " + a);
  }
  return o;
}

int64_t peak_rss_bytes() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;  // Linux reports KiB
}

std::string first_line_of(const char *path, const char *prefix) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  return "(unknown)";
}

std::string loadavg() {
  std::string s;
  std::getline(std::ifstream("/proc/loadavg"), s);
  return s.substr(0, s.find(' ', s.find(' ', s.find(' ') + 1) + 1));
}

int run(const Options &o) {
  vqrbench::ScaleRun r;
  r.cpu = first_line_of("/proc/cpuinfo", "model name") + ", " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) +
          " cores";
  r.blas_core = openblas_get_corename();
  r.load_before = loadavg();
  vqr::Context ctx;
  {
    const vqr::backend::Kind kind = o.backend == "cpu"      ? vqr::backend::Kind::Cpu
                                    : o.backend == "opencl" ? vqr::backend::Kind::OpenCl
                                    : o.backend == "auto"   ? vqr::backend::Kind::Auto
                                                            : throw std::invalid_argument("--backend: cpu, opencl or auto");
    std::string platform, device;
    vqr::backend::split_device_spec(o.device, &platform, &device);
    ctx.backend = vqr::backend::select(kind, platform, device, nullptr);
    r.backend = vqr::backend_of(&ctx).description();
    // A device queues the forward's passes and the Hessians' SYRKs (on the resident batches) and the
    // host waits only when it reads the stream back: the forward phase then holds both.
    if (!vqr::backend_of(&ctx).host_memory()) r.backend += "; forward includes the Hessians (queued on the device)";
  }
  std::unique_ptr<vqrbench::ScaleBlock> block = o.folder.empty()
                                                    ? vqrbench::ScaleBlock::synthetic(vqrbench::preset_config(o.preset), o.seed)
                                                    : vqrbench::ScaleBlock::from_folder(o.folder, o.layer);
  vqr::model::Model &model = block->model();
  r.config = block->full_config();
  if (o.blocks > 0) r.config.n_layers = o.blocks;
  r.source = block->description();
  r.stored_dtype = block->stored_dtype();
  r.tokens = o.tokens;
  r.window = std::min({o.window, o.tokens, static_cast<int64_t>(r.config.seq_len)});
  r.model_tokens = o.model_tokens;
  r.model_window = std::min<int64_t>({kModelWindow, o.model_tokens, r.config.seq_len});
  const int64_t C = r.config.dim, H = r.config.hidden_dim;
  std::fprintf(stderr, "scale: %s, %lld tokens; measuring kernel rates\n", r.source.c_str(),
               static_cast<long long>(r.tokens));
  r.before = vqrbench::measure_rates(r.window, C, H);

  // Load: the block widened to fp32 from where its weights are kept (one block in the cache).
  model.set_cache_budget(model.block_bytes());
  model.release_cache();
  double t0 = vqrbench::now_seconds();
  model.linear(0, LinearKind::kWq);
  r.load_s = vqrbench::now_seconds() - t0;
  r.stored_bytes = block->stored_bytes();
  r.fp32_bytes = model.block_bytes();
  r.rss_after[0] = peak_rss_bytes();

  // Forward and Hessians: every window through the block, its four inputs into their accumulators.
  std::fprintf(stderr, "scale: forward + Hessians\n");
  std::vector<vqr::hessian::Hessian> hessians;
  for (int i = 0; i < vqr::model::kLinearInputCount; ++i)
    hessians.emplace_back(r.config.input_width(static_cast<LinearInput>(i)), /*f64=*/false, /*asymmetric=*/false,
                          vqr::backend_of(&ctx));
  for (const auto &h : hessians) r.hessian_bytes += h.width() * h.width() * static_cast<int64_t>(sizeof(float));
  vqr::model::Forward fwd(model, r.window);
  fwd.set_backend(vqr::backend_of(&ctx));
  for (int64_t start = 0, w = 0; start < r.tokens; start += r.window, ++w) {
    const int64_t n = std::min(r.window, r.tokens - start);
    block->fill_input(fwd.load_hidden(), n, o.seed * 1000003u + static_cast<uint64_t>(w));
    double in_sink = 0;
    t0 = vqrbench::now_seconds();
    // On a device backend the forward's passes and the SYRKs are queued: the times split between
    // them are where the host waited, and read_hidden() at the end waits for the rest.
    fwd.block(0, n, [&](int, LinearInput input, const vqr::model::LinearBatch &x) {
      const double a = vqrbench::now_seconds();
      const int i = static_cast<int>(input);
      r.reach_s[i] += a - t0 - in_sink;
      vqr::pipeline::add_linear_batch(hessians[static_cast<size_t>(i)], x);
      const double b = vqrbench::now_seconds();
      in_sink += b - a;
      r.hessian_input_s[i] += b - a;
      r.hessian_s += b - a;
      return vqr::model::SinkAction::kContinue;
    });
    fwd.read_hidden();
    r.forward_s += vqrbench::now_seconds() - t0 - in_sink;
  }
  r.rss_after[1] = peak_rss_bytes();

  // GPTQ g128 (4 bits, asymmetric, no proxy-loss report: the pure sweep, bench/README's target).
  std::fprintf(stderr, "scale: GPTQ\n");
  vqr::quant::QuantConfig qc;
  qc.method = vqr::quant::Method::Gptq;
  qc.bits = 4;
  qc.group_size = 128;
  qc.report_loss = vqr::quant::ReportLevel::Proxy;  // the default: GPTQ's loss falls out of its sweep
  std::vector<vqr::quant::QuantizedLayer> quantized;
  const LinearKind order[] = {LinearKind::kWq, LinearKind::kWk, LinearKind::kWv, LinearKind::kWo,
                              LinearKind::kW1, LinearKind::kW3, LinearKind::kW2};
  for (LinearKind k : order) {
    const vqr::model::LinearWeight w = model.linear(0, k);
    t0 = vqrbench::now_seconds();
    quantized.push_back(vqr::pipeline::quantize_layer(&ctx, qc, w.data, w.rows, w.cols,
                                                      &hessians[static_cast<size_t>(vqr::model::input_of(k))]));
    const double s = vqrbench::now_seconds() - t0;
    r.layers.push_back({vqr::model::linear_kind_name(k), w.rows, w.cols, s});
    r.gptq_s += s;
  }
  r.rss_after[2] = peak_rss_bytes();

  // Write: the seven layers packed as the GPTQ exporter packs them, into one safetensors file.
  std::fprintf(stderr, "scale: write\n");
  const std::string dir = o.scratch.empty() ? std::filesystem::temp_directory_path().string() : o.scratch;
  const std::string path = dir + "/vqround-bench-scale-" + std::to_string(getpid()) + ".safetensors";
  t0 = vqrbench::now_seconds();
  {
    std::vector<vqr::io::StTensorData> tensors;
    for (size_t i = 0; i < quantized.size(); ++i) {
      const vqr::quant::QuantizedLayer &q = quantized[i];
      // Packed when the writer reaches each tensor, as the GPTQ exporter does.
      vqr::io::append_gptq_tensors(
          vqr::model::hf_linear_module(r.config, o.layer, order[i]), vqr::pipeline::grid_shape_of(q),
          [&q](const std::function<void(const vqr::io::GridCodes &)> &use) { use(vqr::pipeline::grid_codes_of(q)); },
          vqr::io::PackFormat::GptqV2, &tensors);
    }
    vqr::io::write_safetensors(path, tensors);
  }
  r.write_s = vqrbench::now_seconds() - t0;
  r.packed_bytes = static_cast<int64_t>(std::filesystem::file_size(path));
  std::filesystem::remove(path);
  r.rss_after[3] = peak_rss_bytes();

  quantized.clear();
  hessians.clear();
  model.release_cache();
  std::fprintf(stderr, "scale: kernel rates again\n");
  r.after = vqrbench::measure_rates(r.window, C, H);
  r.load_after = loadavg();
  vqrbench::report(r, o.json_path);
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  try {
    for (int i = 1; i < argc; ++i)
      if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
        std::fputs(kUsage, stdout);
        return 0;
      }
    return run(parse(argc, argv));
  } catch (const std::invalid_argument &e) {
    std::fprintf(stderr, "vqround_bench_scale: %s\n%s", e.what(), kUsage);
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "vqround_bench_scale: %s\n", e.what());
    return 1;
  }
}
