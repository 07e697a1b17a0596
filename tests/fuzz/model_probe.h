// What the model-loading harnesses do with a model that loaded: the cheap calls an embedder makes
// first (info, tokenize a short string, score a few tokens). Each may fail with any status; only a
// crash, a sanitizer report or a leak is a finding.
#pragma once

#include <vqround/vqround.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace fuzz {

// The context of every call that takes one: one thread (the fuzzers run one per core, and a
// single-threaded call is deterministic, so a reproducer replays the same path) and a memory limit
// of 1 GiB, under libFuzzer's -rss_limit_mb=2048: an input that honestly asks for more must fail
// with VQR_ERR_OUT_OF_MEMORY before allocating (SECURITY.md), which the fuzzer would otherwise
// report as an OOM of its own.
inline constexpr int64_t kMemoryLimit = int64_t{1} << 30;
inline vqr_context *fuzz_context() {
  static vqr_context *ctx = [] {
    vqr_context *c = nullptr;
    if (vqr_context_create(&c) == VQR_OK) {
      vqr_context_set_threads(c, 1);
      vqr_context_set_memory_limit(c, kMemoryLimit);
    }
    return c;
  }();
  return ctx;
}

// vqr_model_load under fuzz_context()'s memory limit.
inline vqr_model *load_model(const std::string &path, const char *tokenizer) {
  vqr_model *model = nullptr;
  if (vqr_model_load_on(fuzz_context(), path.c_str(), tokenizer, &model) != VQR_OK) return nullptr;
  return model;
}

inline void probe_model(const vqr_model *model) {
  vqr_model_info info{};
  info.struct_size = sizeof info;
  if (vqr_model_get_info(model, &info) != VQR_OK) return;

  // The tokenizer, when the model has one: a short string with BOS.
  int32_t tokens[16];
  int64_t count = 0;
  const bool tokenized =
      vqr_model_tokenize(model, "Once upon a time, a cat", 1, tokens, 16, &count) == VQR_OK && count > 0;

  // At most 8 tokens, never past the context: the loaded shapes decide the cost of one forward,
  // and a mutated header may claim a long context, which this must not turn into a timeout.
  const int64_t n = std::min<int64_t>({8, info.seq_len > 0 ? info.seq_len : 1, tokenized ? count : 8});
  if (info.vocab_size < 1) return;
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[i] = tokenized ? tokens[i] : static_cast<int32_t>((i * 7 + 1) % info.vocab_size);
  const int64_t lengths[1] = {n};
  double nll = 0;
  int64_t predicted = 0;
  vqr_model_eval_nll(fuzz_context(), model, ids.data(), lengths, 1, &nll, &predicted);
}

}  // namespace fuzz
