// The teacher cache (model/teacher_cache.h): a round trip keeps every bit; a key that differs in any
// field is refused with a message naming that field (the reference's silent reuse of another
// model's teacher, spec vqround §7.1); damaged files are refused as corrupt before anything large is
// allocated; the content hashes change with any weight, config field or token, and not with how the
// bytes are split.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/content_hash.h"
#include "core/crc32.h"
#include "core/error.h"
#include "model/teacher_cache.h"
#include "random_model.h"
#include "common/scratch_files.h"

namespace {

using vqr::model::TeacherCacheKey;
using vqr::model::TeacherTopK;

std::vector<TeacherTopK> teachers(int64_t sequences, int64_t vocab, int64_t k, float temperature) {
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<TeacherTopK> out;
  for (int64_t s = 0; s < sequences; ++s) {
    const int64_t tokens = 5 + 3 * s;
    std::vector<float> z((size_t)(tokens * vocab));
    for (float &v : z) v = nd(rng);
    out.push_back(vqr::model::teacher_topk(z.data(), tokens, vocab, k, temperature));
  }
  return out;
}

TeacherCacheKey key_for(int64_t sequences, int64_t vocab, int64_t k, float temperature) {
  TeacherCacheKey key;
  key.model_hash = 0x1234567890abcdefull;
  key.tokens_hash = 0x0fedcba987654321ull;
  key.sequences = sequences, key.vocab = vocab, key.k = k, key.temperature = temperature;
  return key;
}

template <class Fn>
std::pair<vqr::Status, std::string> outcome(Fn &&fn) {
  try {
    fn();
  } catch (const vqr::Error &e) {
    return {e.status(), e.what()};
  }
  return {vqr::Status::Ok, ""};
}

std::string slurp(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void spit(const std::string &path, const std::string &bytes) { std::ofstream(path, std::ios::binary) << bytes; }

TEST(TeacherCache, RoundTripKeepsEveryBit) {
  vqr_test::TempDir dir("teacher_cache");
  const auto t = teachers(3, 50, 8, 2.0f);
  const TeacherCacheKey key = key_for(3, 50, 8, 2.0f);
  vqr::model::write_teacher_cache(dir.file("t.bin"), key, t);
  const auto back = vqr::model::read_teacher_cache(dir.file("t.bin"), key);
  ASSERT_EQ(back.size(), t.size());
  for (size_t s = 0; s < t.size(); ++s) {
    EXPECT_EQ(back[s].tokens, t[s].tokens);
    EXPECT_EQ(back[s].ids, t[s].ids);
    EXPECT_EQ(0, std::memcmp(back[s].logp.data(), t[s].logp.data(), t[s].logp.size() * 4));
    EXPECT_EQ(0, std::memcmp(back[s].rest_logp.data(), t[s].rest_logp.data(), t[s].rest_logp.size() * 4));
  }
  EXPECT_EQ(outcome([&] { vqr::model::write_teacher_cache(dir.file("u.bin"), key_for(2, 50, 8, 2.0f), t); }).first,
            vqr::Status::InvalidArgument) << "sequence count differs from the key";
}

TEST(TeacherCache, AnotherRunsKeyIsRefusedByName) {
  vqr_test::TempDir dir("teacher_cache_key");
  const TeacherCacheKey key = key_for(2, 40, 4, 2.0f);
  vqr::model::write_teacher_cache(dir.file("t.bin"), key, teachers(2, 40, 4, 2.0f));
  struct Case {
    const char *field;
    TeacherCacheKey key;
  };
  std::vector<Case> cases;
  TeacherCacheKey k = key;
  k.model_hash ^= 1;
  cases.push_back({"model content hash", k});
  k = key, k.tokens_hash += 1;
  cases.push_back({"token data hash", k});
  k = key, k.sequences = 3;
  cases.push_back({"sequences", k});
  k = key, k.k = 5;
  cases.push_back({"top-k", k});
  k = key, k.vocab = 41;
  cases.push_back({"vocabulary", k});
  k = key, k.temperature = 1.0f;
  cases.push_back({"temperature", k});
  for (const Case &c : cases) {
    const auto [status, message] = outcome([&] { vqr::model::read_teacher_cache(dir.file("t.bin"), c.key); });
    EXPECT_EQ(status, vqr::Status::InvalidArgument) << c.field;
    EXPECT_NE(message.find(c.field), std::string::npos) << message;
    EXPECT_NE(message.find("made for another run"), std::string::npos) << message;
  }
  k = key, k.model_hash = 7, k.k = 9;
  const std::string two = outcome([&] { vqr::model::read_teacher_cache(dir.file("t.bin"), k); }).second;
  EXPECT_NE(two.find("model content hash"), std::string::npos) << two;
  EXPECT_NE(two.find("top-k"), std::string::npos) << "every difference is named: " << two;
}

TEST(TeacherCache, DamagedFilesAreCorrupt) {
  vqr_test::TempDir dir("teacher_cache_bad");
  const TeacherCacheKey key = key_for(2, 40, 4, 2.0f);
  const std::string good = dir.file("t.bin"), bad = dir.file("bad.bin");
  vqr::model::write_teacher_cache(good, key, teachers(2, 40, 4, 2.0f));
  const std::string bytes = slurp(good);
  auto status_of = [&](const std::string &content) {
    spit(bad, content);
    return outcome([&] { vqr::model::read_teacher_cache(bad, key); }).first;
  };
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x40;
  EXPECT_EQ(status_of(flipped), vqr::Status::Corrupt) << "a flipped payload byte";
  EXPECT_EQ(status_of(bytes.substr(0, bytes.size() - 9)), vqr::Status::Corrupt) << "truncated";
  EXPECT_EQ(status_of(bytes + "x"), vqr::Status::Corrupt) << "a trailing byte";
  EXPECT_EQ(status_of("VQRTEACX" + bytes.substr(8)), vqr::Status::Corrupt) << "magic";
  EXPECT_EQ(status_of(bytes.substr(0, 10)), vqr::Status::Corrupt) << "shorter than a header";
  // The first sequence claims 2^60 tokens: refused from the file's size, nothing allocated.
  std::string huge = bytes;
  const int64_t claim = int64_t{1} << 60;
  std::memcpy(&huge[56], &claim, 8);
  EXPECT_EQ(status_of(huge), vqr::Status::Corrupt) << "a token count the file cannot hold";
  // An id outside the vocabulary (with a matching checksum, so only the id check can catch it).
  std::string wrong_id = bytes;
  const int32_t id = 40;
  std::memcpy(&wrong_id[64], &id, 4);
  uint32_t crc = vqr::crc32_update(0, wrong_id.data(), wrong_id.size() - 4);
  std::memcpy(&wrong_id[wrong_id.size() - 4], &crc, 4);
  EXPECT_EQ(status_of(wrong_id), vqr::Status::Corrupt) << "an id outside the vocabulary";
  EXPECT_EQ(outcome([&] { vqr::model::read_teacher_cache(dir.file("missing.bin"), key); }).first, vqr::Status::Io);
}

TEST(TeacherCache, ContentHashesSeeEveryChange) {
  vqr::model::ModelConfig c;
  c.dim = 16, c.hidden_dim = 24, c.n_layers = 2, c.n_heads = 2, c.n_kv_heads = 1, c.vocab_size = 11, c.seq_len = 8;
  c.shared_classifier = false;
  vqr::model::Model m(c);
  vqr_test::fill_random(m, 1);
  const uint64_t base = vqr::model::model_content_hash(m);
  EXPECT_EQ(base, vqr::model::model_content_hash(m)) << "deterministic";
  for (vqr::model::TensorId id : {vqr::model::TensorId::kWq, vqr::model::TensorId::kW2, vqr::model::TensorId::kRmsFfn,
                                  vqr::model::TensorId::kRmsFinal, vqr::model::TensorId::kTokenEmbedding,
                                  vqr::model::TensorId::kClassifier}) {
    float *p = m.tensor(id) + m.tensor_floats(id) - 1;  // the last value (the last layer's, for stacks)
    const float keep = *p;
    *p = std::nextafter(keep, 1e30f);
    EXPECT_NE(vqr::model::model_content_hash(m), base) << "tensor " << static_cast<int>(id);
    *p = keep;
  }
  EXPECT_EQ(vqr::model::model_content_hash(m), base);
  vqr::model::ModelConfig longer = c;
  longer.seq_len = 9;
  vqr::model::Model m2(longer);
  vqr_test::fill_random(m2, 1);
  EXPECT_NE(vqr::model::model_content_hash(m2), base) << "a config field";

  EXPECT_NE(vqr::model::token_data_hash({{1, 2}, {3}}), vqr::model::token_data_hash({{1}, {2, 3}}));
  EXPECT_EQ(vqr::model::token_data_hash({{1, 2}, {3}}), vqr::model::token_data_hash({{1, 2}, {3}}));
  // ContentHash depends on the bytes, not on how they are split.
  std::vector<unsigned char> bytes(1000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = (unsigned char)(i * 37 + 11);
  vqr::ContentHash whole, pieces;
  whole.update(bytes.data(), bytes.size());
  for (size_t at = 0, step = 1; at < bytes.size(); at += step, step = step % 13 + 1)
    pieces.update(bytes.data() + at, std::min(step, bytes.size() - at));
  EXPECT_EQ(whole.digest(), pieces.digest());
  vqr::ContentHash shorter;
  shorter.update(bytes.data(), bytes.size() - 1);
  EXPECT_NE(shorter.digest(), whole.digest());
}

}  // namespace
