// Teacher cache file and its key (teacher_cache.h).
#include "model/teacher_cache.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>

#include "core/content_hash.h"
#include "core/crc32.h"
#include "core/error.h"
#include "io/atomic_file.h"
#include "io/files.h"

namespace vqr::model {

namespace {

constexpr char kMagic[8] = {'V', 'Q', 'R', 'T', 'E', 'A', 'C', 'H'};
constexpr uint32_t kVersion = 1;
constexpr int64_t kHeaderBytes = 8 + 4 + 8 + 8 + 8 + 8 + 8 + 4;
// Rows of a vocabulary read per chunk while hashing.
constexpr int64_t kHashChunkRows = 1024;

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64, v);
  return buf;
}

// Bytes of one sequence's record for `tokens` tokens of top-k.
int64_t record_bytes(int64_t tokens, int64_t k) { return 8 + tokens * k * 8 + tokens * 4; }

// A reader over the open file that keeps the CRC of what it read.
struct Reader {
  std::FILE *f;
  const std::string &path;
  uint32_t crc = 0;
  void read(void *out, size_t bytes) {
    if (bytes > 0 && std::fread(out, 1, bytes, f) != bytes)
      throw Error(Status::Corrupt, path + ": the teacher cache ends early; hint: delete it to rebuild it");
    crc = crc32_update(crc, out, bytes);
  }
};

}  // namespace

uint64_t model_content_hash(const Model &model) {
  const ModelConfig &c = model.config();
  ContentHash h;
  for (int v : {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len, c.head_dim,
                static_cast<int>(c.rope_layout), static_cast<int>(c.rope_scaling), c.rope_original_context,
                c.sliding_window, (int)c.shared_classifier, (int)c.qkv_bias, (int)c.qk_norm})
    h.update_value(v);
  if (c.is_opt())  // LLaMA keys stay as they were
    for (int v : {(int)c.family, (int)c.pre_norm, (int)c.final_norm, (int)c.linear_bias, c.embed_dim}) h.update_value(v);
  for (float v : {c.norm_eps, c.rope_theta, c.rope_factor, c.rope_low_freq_factor, c.rope_high_freq_factor})
    h.update_value(v);
  for (int l = 0; l < c.n_layers; ++l) {
    for (LinearKind kind : c.linear_kinds()) {
      const LinearWeight w = model.linear(l, kind);
      h.update(w.data, (size_t)(w.rows * w.cols) * sizeof(float));
    }
    h.update(model.rms_att(l), (size_t)c.dim * sizeof(float));
    h.update(model.rms_ffn(l), (size_t)c.dim * sizeof(float));
    if (c.qkv_bias)
      for (LinearKind kind : {LinearKind::kWq, LinearKind::kWk, LinearKind::kWv})
        h.update(model.bias(l, kind), (size_t)c.linear_rows(kind) * sizeof(float));
    if (c.is_opt()) {
      h.update(model.norm_bias_att(l), (size_t)c.dim * sizeof(float));
      h.update(model.norm_bias_ffn(l), (size_t)c.dim * sizeof(float));
      if (c.linear_bias)
        for (LinearKind kind : c.linear_kinds()) h.update(model.bias(l, kind), (size_t)c.linear_rows(kind) * sizeof(float));
    }
    if (c.qk_norm) {
      h.update(model.q_norm(l), (size_t)c.head_size() * sizeof(float));
      h.update(model.k_norm(l), (size_t)c.head_size() * sizeof(float));
    }
  }
  if (c.final_norm) h.update(model.rms_final(), (size_t)c.dim * sizeof(float));
  if (c.is_opt()) {
    if (c.final_norm) h.update(model.norm_bias_final(), (size_t)c.dim * sizeof(float));
    h.update(model.positions(), (size_t)(c.position_rows() * c.dim) * sizeof(float));
    if (c.embed_dim > 0) {
      h.update(model.project_in(), (size_t)c.dim * c.embed_dim * sizeof(float));
      h.update(model.project_out(), (size_t)c.dim * c.embed_dim * sizeof(float));
    }
  }
  const int64_t E = c.embed_width();
  std::vector<float> rows((size_t)(std::min<int64_t>(c.vocab_size, kHashChunkRows) * E));
  for (int pass = 0; pass < (c.shared_classifier ? 1 : 2); ++pass) {
    for (int64_t r0 = 0; r0 < c.vocab_size; r0 += kHashChunkRows) {
      const int64_t r1 = std::min<int64_t>(c.vocab_size, r0 + kHashChunkRows);
      if (pass == 0)
        model.read_embedding_rows(r0, r1, rows.data());
      else
        model.read_classifier_rows(r0, r1, rows.data());
      h.update(rows.data(), (size_t)((r1 - r0) * E) * sizeof(float));
    }
  }
  model.release_vocab();
  return h.digest();
}

uint64_t token_data_hash(const std::vector<std::vector<int32_t>> &sequences) {
  ContentHash h;
  h.update_value((int64_t)sequences.size());
  for (const auto &s : sequences) {
    h.update_value((int64_t)s.size());
    h.update(s.data(), s.size() * sizeof(int32_t));
  }
  return h.digest();
}

void write_teacher_cache(const std::string &path, const TeacherCacheKey &key, const std::vector<TeacherTopK> &teachers) {
  require((int64_t)teachers.size() == key.sequences, Status::InvalidArgument,
          "teacher cache: " + std::to_string(teachers.size()) + " sequences for a key of " +
              std::to_string(key.sequences));
  for (const TeacherTopK &t : teachers)
    require(t.k == key.k && t.vocab == key.vocab && t.temperature == key.temperature && t.tokens >= 1 &&
                (int64_t)t.ids.size() == t.tokens * t.k && (int64_t)t.logp.size() == t.tokens * t.k &&
                (int64_t)t.rest_logp.size() == t.tokens,
            Status::InvalidArgument, "teacher cache: a sequence does not match the key's k, vocab or temperature");
  io::AtomicFile out(path);
  uint32_t crc = 0;
  auto put = [&](const void *p, size_t bytes) {
    out.write(p, bytes);
    crc = crc32_update(crc, p, bytes);
  };
  put(kMagic, 8);
  put(&kVersion, 4);
  put(&key.model_hash, 8);
  put(&key.tokens_hash, 8);
  put(&key.sequences, 8);
  put(&key.k, 8);
  put(&key.vocab, 8);
  put(&key.temperature, 4);
  for (const TeacherTopK &t : teachers) {
    put(&t.tokens, 8);
    put(t.ids.data(), t.ids.size() * 4);
    put(t.logp.data(), t.logp.size() * 4);
    put(t.rest_logp.data(), t.rest_logp.size() * 4);
  }
  out.write(&crc, 4);
  out.commit();
}

std::vector<TeacherTopK> read_teacher_cache(const std::string &path, const TeacherCacheKey &expected) {
  io::FilePtr file = io::open_for_reading(path, "build the cache first (a run without --resume writes it)");
  std::FILE *f = file.get();
  if (std::fseek(f, 0, SEEK_END) != 0) throw Error(Status::Io, path + ": cannot seek");
  const long size_l = std::ftell(f);
  if (size_l < 0 || std::fseek(f, 0, SEEK_SET) != 0) throw Error(Status::Io, path + ": cannot seek");
  const int64_t size = size_l;
  const std::string corrupt_hint = "; hint: delete it to rebuild it";
  if (size < kHeaderBytes + 4) throw Error(Status::Corrupt, path + ": too short for a teacher cache" + corrupt_hint);
  Reader r{f, path};
  char magic[8];
  uint32_t version = 0;
  r.read(magic, 8);
  r.read(&version, 4);
  if (std::memcmp(magic, kMagic, 8) != 0) throw Error(Status::Corrupt, path + ": not a teacher cache" + corrupt_hint);
  if (version != kVersion)
    throw Error(Status::Corrupt, path + ": teacher cache version " + std::to_string(version) + ", this library reads " +
                                     std::to_string(kVersion) + corrupt_hint);
  TeacherCacheKey got;
  r.read(&got.model_hash, 8);
  r.read(&got.tokens_hash, 8);
  r.read(&got.sequences, 8);
  r.read(&got.k, 8);
  r.read(&got.vocab, 8);
  r.read(&got.temperature, 4);
  std::string diff;
  auto differ = [&](const char *field, const std::string &a, const std::string &b) {
    if (a != b) diff += (diff.empty() ? "" : "; ") + std::string(field) + ": cache " + a + ", this run " + b;
  };
  differ("model content hash (another model or other weights)", hex(got.model_hash), hex(expected.model_hash));
  differ("token data hash (other calibration sequences)", hex(got.tokens_hash), hex(expected.tokens_hash));
  differ("sequences", std::to_string(got.sequences), std::to_string(expected.sequences));
  differ("top-k", std::to_string(got.k), std::to_string(expected.k));
  differ("vocabulary", std::to_string(got.vocab), std::to_string(expected.vocab));
  differ("temperature", std::to_string(got.temperature), std::to_string(expected.temperature));
  if (!diff.empty())
    throw Error(Status::InvalidArgument,
                path + ": made for another run: " + diff + "; hint: use another --teacher-cache path or delete it");
  // The key equals the run's, whose values the caller checked; the sizes still come from the file.
  std::vector<TeacherTopK> out;
  int64_t left = size - kHeaderBytes - 4;
  for (int64_t s = 0; s < got.sequences; ++s) {
    TeacherTopK t;
    t.k = got.k, t.vocab = got.vocab, t.temperature = got.temperature;
    if (left < 8) throw Error(Status::Corrupt, path + ": the teacher cache ends early" + corrupt_hint);
    r.read(&t.tokens, 8);
    left -= 8;
    const int64_t max_tokens = (left / 4) / (2 * got.k + 1);  // what the rest of the file can hold
    if (t.tokens < 1 || t.tokens > max_tokens)
      throw Error(Status::Corrupt, path + ": sequence " + std::to_string(s) + " claims " + std::to_string(t.tokens) +
                                       " tokens, more than the file holds" + corrupt_hint);
    try {
      t.ids.resize((size_t)(t.tokens * t.k));
      t.logp.resize((size_t)(t.tokens * t.k));
      t.rest_logp.resize((size_t)t.tokens);
    } catch (const std::bad_alloc &) {
      throw Error(Status::OutOfMemory, path + ": cannot allocate sequence " + std::to_string(s));
    }
    r.read(t.ids.data(), t.ids.size() * 4);
    r.read(t.logp.data(), t.logp.size() * 4);
    r.read(t.rest_logp.data(), t.rest_logp.size() * 4);
    left -= record_bytes(t.tokens, t.k) - 8;
    for (int32_t id : t.ids)
      if (id < 0 || id >= t.vocab)
        throw Error(Status::Corrupt, path + ": token id " + std::to_string(id) + " outside the vocabulary" + corrupt_hint);
    out.push_back(std::move(t));
  }
  if (left != 0) throw Error(Status::Corrupt, path + ": " + std::to_string(left) + " bytes too many" + corrupt_hint);
  const uint32_t computed = r.crc;
  uint32_t stored = 0;
  if (std::fread(&stored, 1, 4, f) != 4 || stored != computed)
    throw Error(Status::Corrupt, path + ": teacher cache checksum mismatch" + corrupt_hint);
  return out;
}

}  // namespace vqr::model
