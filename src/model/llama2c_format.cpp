// llama2.c legacy v0 checkpoint reader. Mirrors run.c's memory_map_weights(): the same tensor
// order, the two obsolete freq_cis tables skipped, wcls present only when vocab_size < 0.
#include "model/llama2c_format.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/files.h"
#include "io/mapped_file.h"
#include "model/mapped_sources.h"
#include "model/rope_layout.h"
#include "model/weight_rows.h"

namespace vqr::model {

namespace {

// Limits that keep every size product inside int64 and reject headers read from the wrong file
// (text, another format) before any large allocation is attempted.
constexpr int32_t kMaxDim = 1 << 16;
constexpr int32_t kMaxLayers = 1 << 10;
constexpr int32_t kMaxVocab = 1 << 22;
constexpr int32_t kMaxSeqLen = 1 << 22;

// llama2.c export.py's versioned formats start with this uint32 magic ("ak42" read as LE int).
constexpr uint32_t kVersionedMagic = 0x616b3432u;

const char *const kFormatHint =
    "expected a llama2.c legacy v0 checkpoint (export.py --version 0, the format run.c reads)";

int64_t file_size(std::FILE *f, const std::string &path) {
  if (std::fseek(f, 0, SEEK_END) != 0) fail(Status::Io, path, "cannot seek", "is it a regular file?");
  const long size = std::ftell(f);
  if (size < 0 || std::fseek(f, 0, SEEK_SET) != 0) fail(Status::Io, path, "cannot seek", "is it a regular file?");
  return static_cast<int64_t>(size);
}

std::string header_text(const int32_t h[7]) {
  return "dim=" + std::to_string(h[0]) + " hidden_dim=" + std::to_string(h[1]) + " n_layers=" +
         std::to_string(h[2]) + " n_heads=" + std::to_string(h[3]) + " n_kv_heads=" + std::to_string(h[4]) +
         " vocab_size=" + std::to_string(h[5]) + " seq_len=" + std::to_string(h[6]);
}

ModelConfig config_from_header(const int32_t h[7], const std::string &path) {
  if (static_cast<uint32_t>(h[0]) == kVersionedMagic)
    fail(Status::Unsupported, path, "this is a versioned llama2.c export (magic \"ak42\"), not legacy v0",
         "re-export with `python export.py --version 0 ...`");
  const bool in_range = h[0] > 0 && h[0] <= kMaxDim && h[1] > 0 && h[1] <= 8 * kMaxDim && h[2] > 0 &&
                        h[2] <= kMaxLayers && h[3] > 0 && h[3] <= h[0] && h[4] > 0 && h[4] <= h[3] &&
                        h[5] != 0 && h[5] >= -kMaxVocab && h[5] <= kMaxVocab && h[6] > 0 && h[6] <= kMaxSeqLen;
  if (!in_range) fail(Status::Format, path, "implausible header (" + header_text(h) + ")", kFormatHint);
  if (h[0] % h[3] != 0 || h[3] % h[4] != 0 || (h[0] / h[3]) % 2 != 0)
    fail(Status::Format, path,
         "inconsistent header (" + header_text(h) +
             "): dim must be a multiple of n_heads, n_heads of n_kv_heads, and the head size even",
         kFormatHint);
  ModelConfig c;
  c.dim = h[0];
  c.hidden_dim = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  c.vocab_size = h[5] < 0 ? -h[5] : h[5];
  c.shared_classifier = h[5] > 0;
  c.seq_len = h[6];
  return c;
}

void read_floats(std::FILE *f, float *dst, int64_t count, const std::string &path, const char *what) {
  if (count == 0) return;
  if (std::fread(dst, sizeof(float), static_cast<size_t>(count), f) != static_cast<size_t>(count))
    fail(Status::Io, path, std::string("read failed in tensor ") + what, "is the file still being written?");
}

const char *tensor_name(int i) {
  static const char *const names[kLlama2cTensorCount] = {"token_embedding", "rms_att", "wq",        "wk",
                                                  "wv",              "wo",      "rms_ffn",   "w1",
                                                  "w2",              "w3",      "rms_final", "wcls"};
  return names[i];
}

// Bytes of the two freq_cis tables (seq_len * head_size / 2 floats each) between rms_final and
// wcls; run.c recomputes RoPE, so every reader skips them.
int64_t freq_cis_bytes(const ModelConfig &c) { return 2 * static_cast<int64_t>(c.seq_len) * (c.head_size() / 2) * 4; }

// The streamed form of a validated file: the norms copied into the arena (and checked), every other
// tensor a source over the mapping (model/mapped_sources.h), checked when its rows are read.
Model map_llama2c(const std::string &path, const ModelConfig &config) {
  const auto file = std::make_shared<const io::MappedFile>(io::MappedFile::open(path, kFormatHint));
  // The size was checked on the open stream; the mapping is a second open of the path.
  if (static_cast<int64_t>(file->size()) != llama2c_file_bytes(config))
    fail(Status::Io, path, "the file changed size while it was being loaded", "load it again once it is complete");
  Model model(config, Storage::kStreamed);
  const int64_t V = config.vocab_size, C = config.dim;
  uint64_t offset = kLlama2cHeaderBytes;
  for (int i = 0; i < kLlama2cTensorCount; ++i) {
    const TensorId id = static_cast<TensorId>(i);
    const std::string name = std::string("tensor ") + tensor_name(i);
    LinearKind kind;
    if (id == TensorId::kClassifier) offset += static_cast<uint64_t>(freq_cis_bytes(config));
    if (id == TensorId::kTokenEmbedding) {
      model.set_embedding_source(llama2c_source(file, path, name, offset, V, C));
    } else if (id == TensorId::kClassifier) {
      if (!config.shared_classifier) model.set_classifier_source(llama2c_source(file, path, name, offset, V, C));
    } else if (linear_kind_of(id, &kind)) {
      const int64_t rows = model.linear_rows(kind), cols = model.linear_cols(kind);
      for (int l = 0; l < config.n_layers; ++l)
        model.set_linear_source(l, kind, llama2c_source(file, path, name + " of layer " + std::to_string(l),
                                                        offset + static_cast<uint64_t>(l * rows * cols * 4), rows, cols));
    } else {
      std::memcpy(model.tensor(id), file->data() + offset, static_cast<size_t>(model.tensor_floats(id)) * sizeof(float));
      check_finite_weights(model.tensor(id), model.tensor_floats(id), 0, path, name);
    }
    offset += static_cast<uint64_t>(model.tensor_floats(id) * 4);
  }
  return model;
}

// The tensors save_llama2c writes, each linear weight once per layer (freq_cis goes with the
// classifier): the `total` of its progress.
int64_t llama2c_tensor_count(const ModelConfig &c) {
  int64_t count = 0;
  LinearKind kind;
  for (int i = 0; i < kLlama2cTensorCount; ++i)
    count += linear_kind_of(static_cast<TensorId>(i), &kind) ? c.n_layers : 1;
  return count;
}

}  // namespace

int64_t llama2c_file_bytes(const ModelConfig &c) {
  const int64_t d = c.dim, h = c.hidden_dim, L = c.n_layers, v = c.vocab_size, kv = c.kv_dim();
  const int64_t freq_cis = 2 * static_cast<int64_t>(c.seq_len) * (c.head_size() / 2);
  const int64_t floats = v * d + L * d + L * d * d + 2 * L * kv * d + L * d * d + L * d + 3 * L * h * d + d +
                         freq_cis + (c.shared_classifier ? 0 : v * d);
  return kLlama2cHeaderBytes + 4 * floats;
}

Model load_llama2c(const std::string &path, Storage storage) {
  const io::FilePtr f = io::open_for_reading(path, "check the --model path");
  const int64_t size = file_size(f.get(), path);
  if (size < kLlama2cHeaderBytes)
    fail(Status::Format, path, "file is " + std::to_string(size) + " bytes, shorter than the 28-byte header",
         kFormatHint);

  int32_t header[7];
  if (std::fread(header, sizeof(int32_t), 7, f.get()) != 7)
    fail(Status::Io, path, "cannot read the header", "is the file readable?");
  const ModelConfig config = config_from_header(header, path);

  const int64_t expected = llama2c_file_bytes(config);
  if (size != expected)
    fail(Status::Format, path,
         "size " + std::to_string(size) + " bytes does not match the header (" + header_text(header) +
             ") which needs " + std::to_string(expected) + " bytes",
         size < expected ? "the file looks truncated; download or export it again"
                         : std::string("trailing data or a header from another model; ") + kFormatHint);

  if (storage == Storage::kStreamed) return map_llama2c(path, config);
  Model model(config);
  const int classifier = static_cast<int>(TensorId::kClassifier);
  for (int i = 0; i < kLlama2cTensorCount; ++i) {
    const TensorId id = static_cast<TensorId>(i);
    if (i == classifier) {
      // freq_cis_real and freq_cis_imag (seq_len * head_size / 2 floats each) sit between
      // rms_final and wcls; run.c recomputes RoPE, so they are skipped.
      const long skip = static_cast<long>(freq_cis_bytes(config));
      if (std::fseek(f.get(), skip, SEEK_CUR) != 0) fail(Status::Io, path, "cannot seek past freq_cis", kFormatHint);
    }
    read_floats(f.get(), model.tensor(id), model.tensor_floats(id), path, tensor_name(i));
  }

  // A NaN in the weights would only surface as NaN logits far away from its cause.
  for (int i = 0; i < kLlama2cTensorCount; ++i) {
    const TensorId id = static_cast<TensorId>(i);
    const float *t = model.tensor(id);
    for (int64_t k = 0; k < model.tensor_floats(id); ++k)
      if (!std::isfinite(t[k]))
        fail(Status::Format, path,
             std::string("non-finite weight in tensor ") + tensor_name(i) + " at element " + std::to_string(k),
             "the checkpoint is damaged or was exported from a diverged run");
  }
  return model;
}

bool llama2c_can_store(const ModelConfig &c) {
  const ModelConfig plain;  // run.c's fixed choices
  return !c.is_opt() && !c.qkv_bias && !c.qk_norm && (c.head_dim == 0 || c.head_dim * c.n_heads == c.dim) &&
         c.rope_scaling == RopeScaling::kNone &&
         c.rope_theta == plain.rope_theta && c.norm_eps == plain.norm_eps && c.sliding_window == 0;
}

void save_llama2c(const Model &model, const std::string &path, const io::TensorProgress &progress) {
  const ModelConfig &c = model.config();
  if (!llama2c_can_store(c))
    fail(Status::Unsupported, path, "this model's architecture (biases, q/k norms, RoPE variant or epsilon) has no llama2.c v0 form",
         "save it as a Hugging Face folder instead");
  io::AtomicFile out(path);
  const int32_t header[7] = {c.dim,       c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
                             c.shared_classifier ? c.vocab_size : -c.vocab_size, c.seq_len};
  out.write(header, sizeof header);
  auto write = [&](const float *p, int64_t count) { out.write(p, sizeof(float) * static_cast<size_t>(count)); };
  // The large tensors go out in chunks of rows through the readers of either storage.
  auto write_rows = [&](const TensorRows &t, const std::vector<int64_t> &map) {
    for_each_row_chunk(t, map, [&](const float *chunk, int64_t n) {
      write(chunk, n * t.cols);
      return true;
    });
  };
  const int64_t total = llama2c_tensor_count(c);
  int64_t done = 0;
  auto next = [&] {
    if (progress) progress(done, total);
    ++done;
  };
  for (int i = 0; i < kLlama2cTensorCount; ++i) {
    const TensorId id = static_cast<TensorId>(i);
    LinearKind kind;
    if (!linear_kind_of(id, &kind)) next();
    if (id == TensorId::kClassifier) {
      // freq_cis_real, freq_cis_imag: seq_len x head_size/2 each, theta^(-2i/hs) * position.
      const int64_t half = c.head_size() / 2;
      std::vector<float> re((size_t)(c.seq_len * half)), im(re.size());
      for (int64_t t = 0; t < c.seq_len; ++t)
        for (int64_t i2 = 0; i2 < half; ++i2) {
          const double freq = 1.0 / std::pow((double)c.rope_theta, (double)(2 * i2) / (double)c.head_size());
          re[(size_t)(t * half + i2)] = (float)std::cos((double)t * freq);
          im[(size_t)(t * half + i2)] = (float)std::sin((double)t * freq);
        }
      write(re.data(), (int64_t)re.size());
      write(im.data(), (int64_t)im.size());
    }
    if (id == TensorId::kTokenEmbedding) {
      write_rows(embedding_tensor_rows(model), {});
    } else if (id == TensorId::kClassifier) {
      if (!c.shared_classifier) write_rows(classifier_tensor_rows(model), {});
    } else if (linear_kind_of(id, &kind)) {
      // run.c rotates interleaved pairs: a half-layout (Hugging Face) model's q/k rows go back.
      std::vector<int64_t> map;
      if ((kind == LinearKind::kWq || kind == LinearKind::kWk) && c.rope_layout == RopeLayout::kHalf)
        map = rope_row_sources(kind == LinearKind::kWq ? c.n_heads : c.n_kv_heads, c.head_size(), /*to_half=*/false);
      for (int l = 0; l < c.n_layers; ++l) {
        next();
        write_rows(linear_tensor_rows(model, l, kind), map);
      }
    } else {
      write(model.tensor(id), model.tensor_floats(id));
    }
  }
  if (progress) progress(total, total);
  out.commit();
}

}  // namespace vqr::model
