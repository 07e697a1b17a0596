// Seed tool: writes a tiny random llama2.c v0 checkpoint (dim 32, hidden 64, 2 layers, 4 heads,
// 2 KV heads, context 32) of a given vocabulary, so that the model seeds (and the Hugging Face and
// GGUF files `vqround convert` / `quantize` make from it) stay near 100 KB and each fuzz execution
// is fast. Widths are multiples of 32, the GGUF block size. Deterministic (a fixed LCG).
//   tiny_llama2c OUT VOCAB [unshared]
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

struct Lcg {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  // Uniform in [-1, 1).
  float next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>((state >> 40) * (1.0 / (1ull << 23)) - 1.0);
  }
};

}  // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s OUT VOCAB [unshared]\n", argv[0]);
    return 2;
  }
  const int32_t dim = 32, hidden = 64, layers = 2, heads = 4, kv_heads = 2, seq_len = 32;
  const int32_t vocab = atoi(argv[2]);
  const bool unshared = argc > 3 && strcmp(argv[3], "unshared") == 0;
  if (vocab < 1) {
    fprintf(stderr, "%s: VOCAB must be positive\n", argv[0]);
    return 2;
  }
  const int32_t head_size = dim / heads, kv_dim = kv_heads * head_size;
  const int32_t header[7] = {dim, hidden, layers, heads, kv_heads, unshared ? -vocab : vocab, seq_len};

  Lcg rng;
  std::vector<float> out;
  // Weights scaled by 1/sqrt(fan-in) so activations stay O(1); norms near 1.
  auto matrix = [&](int64_t count, int64_t fan_in) {
    const float scale = 1.0f / std::sqrt(static_cast<float>(fan_in));
    for (int64_t i = 0; i < count; ++i) out.push_back(rng.next() * scale);
  };
  auto norm = [&](int64_t count) {
    for (int64_t i = 0; i < count; ++i) out.push_back(1.0f + 0.1f * rng.next());
  };
  matrix(int64_t{vocab} * dim, 1);  // token embedding
  norm(layers * dim);               // rms_att
  matrix(int64_t{layers} * dim * dim, dim);
  matrix(int64_t{layers} * kv_dim * dim, dim);
  matrix(int64_t{layers} * kv_dim * dim, dim);
  matrix(int64_t{layers} * dim * dim, dim);
  norm(layers * dim);  // rms_ffn
  matrix(int64_t{layers} * hidden * dim, dim);
  matrix(int64_t{layers} * dim * hidden, hidden);
  matrix(int64_t{layers} * hidden * dim, dim);
  norm(dim);  // rms_final
  // The obsolete freq_cis tables (readers skip them): seq_len x head_size / 2 each.
  out.insert(out.end(), static_cast<size_t>(seq_len) * head_size, 0.0f);
  if (unshared) matrix(int64_t{vocab} * dim, dim);

  FILE *f = fopen(argv[1], "wb");
  if (!f || fwrite(header, sizeof header, 1, f) != 1 || fwrite(out.data(), sizeof(float), out.size(), f) != out.size() ||
      fclose(f) != 0) {
    perror(argv[1]);
    return 1;
  }
  return 0;
}
