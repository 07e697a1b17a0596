// Evaluation of a streamed model (model/evaluate.h, eval_spans): block-major in batches bounded by
// the hidden-state budget. A streamed copy of a resident model (every large tensor a DenseSource of
// the same values) must give bit-identical NLL sums to the resident model's sequence-major run on
// the same MatmulPath, and widen each block exactly once per batch when the block cache holds one
// block (counted by a TensorSource wrapper). A synthetic model always; stories260K and gutenberg4M
// from ../shared/data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "data_dir.h"
#include "model/evaluate.h"
#include "model/llama2c_format.h"
#include "model/model.h"
#include "model/tensor_source.h"
#include "model/text_corpus.h"
#include "model/tokenizer.h"
#include "synthetic_files.h"

using vqr::model::DenseSource;
using vqr::model::LinearKind;
using vqr::model::MatmulPath;
using vqr::model::Model;
using vqr::model::NllResult;
using vqr::model::TensorId;
using vqr::model::TensorSource;
using vqr::model::TokenSpan;

namespace {

// Counts read_rows calls of the tensor it wraps.
class CountingSource final : public TensorSource {
 public:
  explicit CountingSource(std::shared_ptr<const TensorSource> inner) : inner_(std::move(inner)) {}
  int64_t rows() const override { return inner_->rows(); }
  int64_t cols() const override { return inner_->cols(); }
  void read_rows(int64_t r0, int64_t r1, float *out) const override {
    ++reads_;
    inner_->read_rows(r0, r1, out);
  }
  int64_t stored_bytes() const override { return inner_->stored_bytes(); }
  int64_t reads() const { return reads_; }

 private:
  std::shared_ptr<const TensorSource> inner_;
  mutable int64_t reads_ = 0;
};

std::shared_ptr<const TensorSource> dense(const float *p, int64_t rows, int64_t cols) {
  return std::make_shared<DenseSource>(std::vector<float>(p, p + rows * cols), rows, cols);
}

// A streamed model with the resident model's values: the small tensors copied, every linear weight
// a counted DenseSource (counters[layer * 7 + kind]), the embedding and an untied classifier dense.
struct StreamedCopy {
  std::unique_ptr<Model> model;
  std::vector<std::shared_ptr<CountingSource>> counters;
};

StreamedCopy streamed_copy(const Model &m) {
  const auto &c = m.config();
  StreamedCopy s;
  s.model = std::make_unique<Model>(c, vqr::model::Storage::kStreamed);
  for (int i = 0; i < vqr::model::kTensorCount; ++i) {
    const TensorId id = static_cast<TensorId>(i);
    if (vqr::model::is_streamable(id) || m.tensor_floats(id) == 0) continue;
    std::memcpy(s.model->tensor(id), m.tensor(id), sizeof(float) * static_cast<size_t>(m.tensor_floats(id)));
  }
  for (int l = 0; l < c.n_layers; ++l)
    for (int k = 0; k < vqr::model::kLinearKindCount; ++k) {
      const LinearKind kind = static_cast<LinearKind>(k);
      const auto w = m.linear(l, kind);
      auto counted = std::make_shared<CountingSource>(dense(w.data, w.rows, w.cols));
      s.counters.push_back(counted);
      s.model->set_linear_source(l, kind, counted);
    }
  s.model->set_embedding_source(dense(m.token_embedding(), c.vocab_size, c.dim));
  if (!c.shared_classifier) s.model->set_classifier_source(dense(m.classifier(), c.vocab_size, c.dim));
  // One block in the cache: a block read again after another one was widened is read from its
  // source again, so the counters see every widening.
  s.model->set_cache_budget(s.model->block_bytes());
  return s;
}

// Batches eval_spans forms that run a block (evaluate.h). Spans are packed first: consecutive
// spans of >= 2 tokens while their tokens fit R rows, R = max(1, min(kEvalPackTokens,
// kEvalPackLogitsBytes / (vocab x 4), budget / (dim x 4))), a longer span alone, a lone token riding
// along without rows.
// Then consecutive packs while their hidden states (rows x dim floats) fit `budget` bytes, at least
// one per batch; a batch of lone tokens runs no forward pass and widens nothing.
int64_t expected_batches(const std::vector<TokenSpan> &spans, const vqr::model::ModelConfig &c, int64_t budget) {
  const int64_t R = std::max<int64_t>(1, std::min({vqr::model::kEvalPackTokens,
                                                    vqr::model::kEvalPackLogitsBytes / (c.vocab_size * 4),
                                                    budget / (c.dim * 4)}));
  std::vector<int64_t> packs;  // rows of each pack
  for (size_t i = 0; i < spans.size();) {
    int64_t rows = 0;
    while (i < spans.size() && (rows == 0 || spans[i].count < 2 || rows + spans[i].count <= R)) {
      if (spans[i].count >= 2) rows += spans[i].count;
      ++i;
    }
    packs.push_back(rows);
  }
  int64_t batches = 0;
  for (size_t i = 0; i < packs.size();) {
    int64_t used = 0;
    bool work = false;
    for (size_t j = i; i < packs.size() && (i == j || used + packs[i] * c.dim * 4 <= budget); ++i) {
      used += packs[i] * c.dim * 4;
      work = work || packs[i] > 0;
    }
    batches += work ? 1 : 0;
  }
  return batches;
}

// Runs the resident model and its streamed copy on `spans` on both paths and checks equal bits and
// one widening of every block per batch.
void check_streamed_equals_resident(const Model &m, const std::vector<TokenSpan> &spans, int64_t budget,
                                    const char *what) {
  const int64_t batches = expected_batches(spans, m.config(), budget);
  ASSERT_GE(batches, 2) << what << ": the budget should split the spans into several batches";
  for (MatmulPath path : {MatmulPath::kBlas, MatmulPath::kReference}) {
    const char *path_name = path == MatmulPath::kBlas ? "blas" : "reference";
    const NllResult want = vqr::model::eval_spans(m, spans, 2, nullptr, path, budget);
    StreamedCopy s = streamed_copy(m);
    const NllResult got = vqr::model::eval_spans(*s.model, spans, 2, nullptr, path, budget);
    std::printf("%s, %s: %lld spans in %lld batches, sum_nll %.17g (resident %.17g)\n", what, path_name,
                static_cast<long long>(spans.size()), static_cast<long long>(batches), got.sum_nll, want.sum_nll);
    EXPECT_EQ(got.sum_nll, want.sum_nll) << what << ", " << path_name;  // bit for bit
    EXPECT_EQ(got.predicted_tokens, want.predicted_tokens);
    EXPECT_EQ(got.sequences, want.sequences);
    for (size_t i = 0; i < s.counters.size(); ++i)
      EXPECT_EQ(s.counters[i]->reads(), batches) << what << ", " << path_name << ": linear " << i;
  }
}

// Spans of a token stream: consecutive pieces of lengths cycling through `lengths`.
std::vector<TokenSpan> spans_of(const std::vector<int32_t> &ids, const std::vector<int64_t> &lengths) {
  std::vector<TokenSpan> spans;
  size_t at = 0;
  for (size_t i = 0; at < ids.size(); ++i) {
    const int64_t n = std::min<int64_t>(lengths[i % lengths.size()], static_cast<int64_t>(ids.size() - at));
    spans.push_back({ids.data() + at, n});
    at += static_cast<size_t>(n);
  }
  return spans;
}

}  // namespace

// A random well-scaled model with an untied classifier; spans of varied lengths including lone
// tokens (no forward pass), a budget of about three spans per batch.
TEST(EvalStreamed, SyntheticMatchesResidentBitForBit) {
  const auto vocab = vqr_test::small_vocab();
  const vqr_test::Header h = {16, 40, 3, 4, 2, -static_cast<int32_t>(vocab.size()), 64};
  vqr_test::TempFile mf("eval_streamed_model.bin");
  mf.write(vqr_test::checkpoint_bytes(h, vqr_test::well_scaled_weights(h, 5)));
  const Model m = vqr::model::load_llama2c(mf.path());
  ASSERT_FALSE(m.config().shared_classifier);
  std::vector<int32_t> ids(700);
  uint32_t x = 99;
  for (auto &t : ids) {
    x = x * 1664525u + 1013904223u;
    t = static_cast<int32_t>((x >> 8) % static_cast<uint32_t>(m.config().vocab_size));
  }
  const std::vector<TokenSpan> spans = spans_of(ids, {64, 1, 37, 50, 2, 64, 13});
  check_streamed_equals_resident(m, spans, 3 * 64 * 16 * 4, "synthetic");
  // A budget below one span still makes progress: one span per pass and per batch.
  check_streamed_equals_resident(m, std::vector<TokenSpan>(spans.begin(), spans.begin() + 5), 4, "one per batch");
}

TEST(EvalStreamed, Stories260KMatchesResidentBitForBit) {
  VQR_DATA_DIR_OR_SKIP(data);
  const std::string dir = data + "/models/stories260K/";
  const Model m = vqr::model::load_llama2c(dir + "stories260K.bin");
  const auto tok = vqr::model::Tokenizer::load(dir + "tok512.bin", m.config().vocab_size);
  const auto paragraphs =
      vqr::model::split_paragraphs(vqr::model::read_text_file(data + "/text/tinystories/tinystories_val.txt"));
  std::vector<std::vector<int32_t>> ids;
  for (size_t p = 0; p < 60; ++p) {
    ids.push_back(tok.encode(paragraphs[p], /*bos=*/true, /*eos=*/false));
    if (static_cast<int64_t>(ids.back().size()) > m.config().seq_len) ids.back().resize(m.config().seq_len);
  }
  std::vector<TokenSpan> spans;
  for (const auto &s : ids) spans.push_back({s.data(), static_cast<int64_t>(s.size())});
  check_streamed_equals_resident(m, spans, 64 << 10, "stories260K, 60 paragraphs");
}

// gutenberg4M under the GPTQ protocol's 256-token windows (the first 12 of the held-out text).
TEST(EvalStreamed, Gutenberg4MMatchesResidentBitForBit) {
  VQR_DATA_DIR_OR_SKIP(data);
  const std::string dir = data + "/models/gutenberg4M/";
  const Model m = vqr::model::load_llama2c(dir + "gutenberg4M.bin");
  const auto tok = vqr::model::Tokenizer::load(dir + "tok4096.bin", m.config().vocab_size);
  const std::string text = vqr::model::read_text_file(data + "/text/gutenberg/gutenberg_heldout.txt");
  std::vector<int32_t> ids = vqr::model::encode_document(tok, text.substr(0, 40000));
  const int64_t T = m.config().seq_len;
  ASSERT_GE(static_cast<int64_t>(ids.size()), 12 * T);
  ids.resize(static_cast<size_t>(12 * T));
  check_streamed_equals_resident(m, spans_of(ids, {T}), 5 * T * m.config().dim * 4, "gutenberg4M, 12 windows");
}
