// Small llama2.c checkpoints and tokenizer files written on the fly, so the format, tokenizer and
// forward tests run without the shared data folder.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "model/model.h"

namespace vqr_test {

// A file in the temp folder, removed when the object dies.
class TempFile {
 public:
  explicit TempFile(const std::string &tag) {
    const char *dir = std::getenv("TMPDIR");
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/vqr_model_test_" + std::to_string(getpid()) + "_" + tag;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string &path() const { return path_; }
  void write(const std::vector<char> &bytes) const {
    std::FILE *f = std::fopen(path_.c_str(), "wb");
    if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }

 private:
  std::string path_;
};

inline void append_bytes(std::vector<char> &out, const void *p, size_t n) {
  const char *c = static_cast<const char *>(p);
  out.insert(out.end(), c, c + n);
}

// Header values as llama2.c stores them (vocab negative = unshared classifier).
struct Header {
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

// Number of floats after the header for a well-formed file.
inline int64_t payload_floats(const Header &h) {
  const int64_t d = h.dim, hd = h.hidden_dim, L = h.n_layers, v = std::abs(h.vocab_size);
  const int64_t kv = d / h.n_heads * h.n_kv_heads, hs = d / h.n_heads;
  return v * d + L * d + L * d * d + 2 * L * kv * d + L * d * d + L * d + 3 * L * hd * d + d + h.seq_len * hs +
         (h.vocab_size < 0 ? v * d : 0);
}

// Header followed by `floats` values: norm gains near 1 are not needed for the format tests, so
// every value is N(0, scale^2); the forward tests use well_scaled_checkpoint below.
inline std::vector<char> checkpoint_bytes(const Header &h, const std::vector<float> &floats) {
  std::vector<char> out;
  append_bytes(out, &h, sizeof h);
  append_bytes(out, floats.data(), floats.size() * sizeof(float));
  return out;
}

// A checkpoint whose weights give a well-conditioned forward pass: matrices N(0, 1/n), RMSNorm
// gains 1 + N(0, 0.1^2), embeddings N(0, 1); freq_cis filled with garbage (the reader must skip it).
inline std::vector<float> well_scaled_weights(const Header &h, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t d = h.dim, hd = h.hidden_dim, L = h.n_layers, v = std::abs(h.vocab_size);
  const int64_t kv = d / h.n_heads * h.n_kv_heads, hs = d / h.n_heads;
  std::vector<float> w;
  auto fill = [&](int64_t n, float scale, float offset) {
    for (int64_t i = 0; i < n; ++i) w.push_back(offset + scale * nd(rng));
  };
  fill(v * d, 1.0f, 0.0f);                                   // token_embedding
  fill(L * d, 0.1f, 1.0f);                                   // rms_att
  fill(L * d * d, 1.0f / std::sqrt(float(d)), 0.0f);         // wq
  fill(L * kv * d, 1.0f / std::sqrt(float(d)), 0.0f);        // wk
  fill(L * kv * d, 1.0f / std::sqrt(float(d)), 0.0f);        // wv
  fill(L * d * d, 1.0f / std::sqrt(float(d)), 0.0f);         // wo
  fill(L * d, 0.1f, 1.0f);                                   // rms_ffn
  fill(L * hd * d, 1.0f / std::sqrt(float(d)), 0.0f);        // w1
  fill(L * d * hd, 1.0f / std::sqrt(float(hd)), 0.0f);       // w2
  fill(L * hd * d, 1.0f / std::sqrt(float(d)), 0.0f);        // w3
  fill(d, 0.1f, 1.0f);                                       // rms_final
  fill(h.seq_len * hs, 0.0f, 12345.0f);                      // freq_cis_real + imag (skipped)
  if (h.vocab_size < 0) fill(v * d, 1.0f / std::sqrt(float(d)), 0.0f);  // wcls
  return w;
}

// A tokenizer.bin: max_token_length, then {score, len, bytes} per piece.
inline std::vector<char> tokenizer_bytes(const std::vector<std::pair<std::string, float>> &vocab, int32_t max_len) {
  std::vector<char> out;
  append_bytes(out, &max_len, 4);
  for (const auto &e : vocab) {
    const int32_t len = static_cast<int32_t>(e.first.size());
    append_bytes(out, &e.second, 4);
    append_bytes(out, &len, 4);
    append_bytes(out, e.first.data(), e.first.size());
  }
  return out;
}

// The llama2.c layout of a SentencePiece vocabulary: <unk>, BOS, EOS, 256 byte tokens, then pieces.
inline std::vector<std::pair<std::string, float>> small_vocab() {
  std::vector<std::pair<std::string, float>> v = {{"<unk>", 0.0f}, {"\n<s>\n", 0.0f}, {"\n</s>\n", 0.0f}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    v.push_back({name, 0.0f});
  }
  // Pieces with scores chosen to exercise priorities and ties ("ab" and "bc" tie; "é" is one
  // 2-byte code point; "\xe2\x82\xac" (euro) is absent, so it falls back to bytes).
  const std::vector<std::pair<std::string, float>> pieces = {
      {" ", -1.0f},    {"a", -2.0f},     {"b", -3.0f},   {"c", -4.0f},    {"ab", -5.0f},  {"bc", -5.0f},
      {" a", -6.0f},   {"abc", -7.0f},   {" ab", -8.0f}, {" abc", -9.0f}, {"\xc3\xa9", -10.0f},
      {"a\xc3\xa9", -11.0f}, {"  ", -12.0f}, {"cc", -20.0f}, {"ccc", -1.5f}, {"cccc", -30.0f}};
  v.insert(v.end(), pieces.begin(), pieces.end());
  return v;
}

}  // namespace vqr_test
