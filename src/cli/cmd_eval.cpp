// `vqround eval`: mean NLL and perplexity of a llama2.c checkpoint or a quantized model directory
// on a text file, under the paragraph protocol of the stories260K reference file or the GPTQ
// protocol (spec gptq_family.md §5), through the C API: vqr_sequences_from_file builds the
// protocol's sequences and vqr_model_eval_nll scores them.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/backend_options.h"
#include "cli/cli_error.h"
#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/model_inputs.h"
#include "core/json_text.h"

namespace vqr::cli {

namespace {

// A one-line progress display on a terminal's stderr: "eval: 120/200 paragraphs  60%  ETA 3 s".
struct ProgressLine {
  const char *unit;
  bool drawn = false;
};

int draw_progress(void *user, const vqr_progress *p) {
  auto *line = static_cast<ProgressLine *>(user);
  if (p->total <= 0) return 0;
  const double frac = static_cast<double>(p->done) / static_cast<double>(p->total);
  char eta[32] = "";
  if (p->done > 0 && p->done < p->total)
    std::snprintf(eta, sizeof eta, "  ETA %.0f s", p->elapsed_seconds * (1.0 - frac) / frac);
  std::fprintf(stderr, "\r%s: %lld/%lld %s  %3.0f%%%s\033[K", p->stage, static_cast<long long>(p->done),
               static_cast<long long>(p->total), line->unit, 100.0 * frac, eta);
  std::fflush(stderr);
  line->drawn = true;
  return 0;
}

std::string fmt(const char *format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

const char *const kCommand = "eval";

}  // namespace

int run_eval(const std::vector<std::string> &argv) {
  ArgParser args(kCommand, "--model PATH --text FILE [options]");
  args.add("model", "PATH", "",
           "llama2.c checkpoint (.bin), Hugging Face folder (config.json + safetensors), or a model directory "
           "written by `vqround quantize`");
  args.add("tokenizer", "PATH", "",
           "tokenizer.model (SentencePiece), tokenizer.json (byte-level BPE) or llama2.c tokenizer.bin (default: the "
           "folder's byte-level tokenizer.json, else its tokenizer.model or tokenizer.bin; beside a checkpoint file "
           "tokenizer.bin, else the only tok*.bin)");
  args.add("text", "FILE", "", "text to evaluate (UTF-8; paragraphs separated by blank lines)");
  args.add("tokens", "FILE", "", "pre-tokenized ids (little-endian uint32) instead of --text; --protocol gptq");
  args.add("protocol", "P", "paragraph",
           "paragraph: each paragraph (split on blank lines) with BOS and a fresh context, truncated to seq_len; "
           "gptq: the whole file tokenized once, non-overlapping --seqlen windows, tail dropped");
  args.add("seqlen", "N", "", "window length of --protocol gptq (default min(2048, model seq_len))");
  args.add("limit", "N", "0", "evaluate only the first N paragraphs (paragraph) or windows (gptq); 0 = all");
  args.add("threads", "N", "0", "threads for the forward pass (0 = all cores)");
  add_backend_options(args, "the forward pass's matrix products", "");
  args.add_flag("json", "print one JSON object on stdout instead of the summary line");
  if (!args.parse(argv)) {
    std::fputs(args.usage().c_str(), stdout);
    return 0;
  }
  if (args.get("model").empty()) throw usage_error(kCommand, "--model is required");
  const std::string text_arg = args.get("text"), tokens_arg = args.get("tokens");
  if (text_arg.empty() == tokens_arg.empty())
    throw usage_error(kCommand, "pass exactly one of --text FILE and --tokens FILE (uint32 ids)");
  const std::string protocol = args.get("protocol");
  if (protocol != "paragraph" && protocol != "gptq")
    throw usage_error(kCommand, "--protocol: unknown protocol '" + protocol + "' (known: paragraph, gptq)");
  const bool gptq = protocol == "gptq";
  if (!tokens_arg.empty() && !gptq)
    throw usage_error(kCommand, "--tokens needs --protocol gptq (ids carry no paragraph boundaries)");
  if (!gptq && !args.get("seqlen").empty())
    throw usage_error(kCommand, "--seqlen applies to --protocol gptq only (paragraphs are truncated to seq_len)");
  const int64_t seqlen_option = args.get("seqlen").empty() ? 0 : args.get_int("seqlen", 2, int64_t{1} << 30);
  const int64_t limit = args.get_int("limit", 0, int64_t{1} << 40);
  const int threads = static_cast<int>(args.get_int("threads", 0, 4096));
  const bool json = args.flag("json");
  const BackendChoice backend = backend_choice(args, kCommand);

  const std::string text_path = text_arg.empty() ? tokens_arg : text_arg;
  if (access(text_path.c_str(), R_OK) != 0)  // before the (longer) model load
    throw CliError(text_path, std::string("cannot read: ") + std::strerror(errno), "check the path");
  const ContextPtr ctx = make_context(threads, 0, backend);  // a missing device fails before the load
  const LoadedModel loaded = load_model_inputs(args.get("model"), args.get("tokenizer"));
  if (!text_arg.empty()) require_tokenizer(loaded, kCommand, "--tokens");
  const int64_t seq_len = loaded.info.seq_len;
  int64_t seqlen = seq_len;  // the paragraph protocol truncates to the model's context
  if (gptq) {
    seqlen = seqlen_option > 0 ? seqlen_option : std::min<int64_t>(2048, seq_len);
    if (seqlen > seq_len)
      throw usage_error(kCommand, "--seqlen " + std::to_string(seqlen) + " exceeds the model's seq_len " +
                                      std::to_string(seq_len) + " (" + loaded.info.model_path + ")");
  }
  vqr_sequences *raw_seqs = nullptr;
  check(vqr_sequences_from_file(loaded.model.get(), text_path.c_str(), text_arg.empty() ? 1 : 0,
                                gptq ? VQR_SAMPLE_WINDOWS : VQR_SAMPLE_PARAGRAPHS, limit, seqlen, 0, &raw_seqs));
  const SequencesPtr seqs(raw_seqs);
  const int64_t count = vqr_sequences_count(seqs.get());
  if (count == 0)
    throw CliError(text_path,
                   gptq ? "holds fewer tokens than one window of " + std::to_string(seqlen)
                        : std::string("holds no paragraph to score"),
                   gptq ? "use a longer text or a smaller --seqlen"
                        : "pass a non-empty UTF-8 text file with paragraphs separated by blank lines");

  ProgressLine line{gptq ? "windows" : "paragraphs"};
  if (isatty(STDERR_FILENO)) check(vqr_context_set_progress(ctx.get(), draw_progress, &line));

  const auto t0 = std::chrono::steady_clock::now();
  double sum_nll = 0;
  int64_t predicted = 0;
  vqr_status st;
  {
    const InterruptGuard interrupt(ctx.get());
    st = vqr_model_eval_nll(ctx.get(), loaded.model.get(), vqr_sequences_tokens(seqs.get()),
                            vqr_sequences_lengths(seqs.get()), count, &sum_nll, &predicted);
  }
  if (line.drawn) std::fputs(st == VQR_OK ? "\r\033[K" : "\n", stderr);
  if (st == VQR_ERR_CANCELLED) throw CliError(kCommand, "cancelled (interrupted)", "nothing was written; run it again");
  check(st);
  if (predicted == 0)
    throw CliError(text_path, "no paragraph with at least 2 tokens to score",
                   "pass a non-empty UTF-8 text file with paragraphs separated by blank lines");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double mean = sum_nll / (double)predicted, ppl = std::exp(mean);

  if (json) {
    std::printf("{\"mean_nll\": %s, \"perplexity\": %s, \"predicted_tokens\": %lld, \"sequences\": %lld, "
                "\"protocol\": %s, \"seqlen\": %lld, \"seconds\": %s, \"model\": %s, \"text\": %s, "
                "\"backend\": %s}\n",
                json_number(mean).c_str(), json_number(ppl).c_str(),
                static_cast<long long>(predicted), static_cast<long long>(count),
                json_string(protocol).c_str(), static_cast<long long>(seqlen),
                fmt("%.3f", seconds).c_str(), json_string(args.get("model")).c_str(), json_string(text_path).c_str(),
                json_string(vqr_context_backend(ctx.get())).c_str());
  } else {
    const std::string what = gptq ? std::to_string(count) + " windows of " + std::to_string(seqlen)
                                  : std::to_string(count) + " paragraphs";
    std::printf("mean NLL %.6f  perplexity %.4f  (%lld predicted tokens, %s, %.1f s)\n", mean, ppl,
                static_cast<long long>(predicted), what.c_str(), seconds);
  }
  return 0;
}

}  // namespace vqr::cli
