// Real-model tests on ../shared/data (skipped when absent, failed with VQR_REQUIRE_DATA=1): the
// forward pass reproduces the reference NLL of stories260K (run.c) and gutenberg4M (an independent
// torch forward) and stories260K's greedy decode; the tokenizer matches run.c's encode on real
// text; captured activations are consistent with the forward pass.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "capture_check.h"
#include "forward_paths.h"
#include "core/error.h"
#include "data_dir.h"
#include "model/evaluate.h"
#include "model/forward.h"
#include "model/llama2c_format.h"
#include "model/text_corpus.h"
#include "model/tokenizer.h"
#include "runc_reference.h"

using vqr::model::Forward;
using vqr::model::Model;
using vqr::model::Tokenizer;

namespace {

// stories260K's matrices are 64 wide: one thread is fastest, and keeps these tests quick on a
// shared, oversubscribed machine (the result does not depend on the thread count).
constexpr int kThreads = 1;

struct Stories {
  Model model;
  Tokenizer tok;
};

Stories load_stories(const std::string &data) {
  const std::string dir = data + "/models/stories260K/";
  Model m = vqr::model::load_llama2c(dir + "stories260K.bin");
  Tokenizer t = Tokenizer::load(dir + "tok512.bin", m.config().vocab_size);
  return {std::move(m), std::move(t)};
}

// Reads "first 200 paragraphs : paragraphs=200  predicted_tokens=N  mean_nll=X" from the
// reference file, so the expectation lives next to the data it describes.
bool read_reference(const std::string &path, int64_t *predicted, double *mean_nll) {
  const std::string text = vqr::model::read_text_file(path);
  const size_t at = text.find("first 200 paragraphs");
  if (at == std::string::npos) return false;
  const size_t eol = text.find('\n', at);
  const std::string line = text.substr(at, eol == std::string::npos ? std::string::npos : eol - at);
  long long n = 0;
  const size_t pt = line.find("predicted_tokens="), mn = line.find("mean_nll=");
  if (pt == std::string::npos || mn == std::string::npos) return false;
  if (std::sscanf(line.c_str() + pt, "predicted_tokens=%lld", &n) != 1) return false;
  if (std::sscanf(line.c_str() + mn, "mean_nll=%lf", mean_nll) != 1) return false;
  *predicted = n;
  return true;
}

TEST(Stories260K, LoadsWithTheDocumentedShape) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Stories s = load_stories(data);
  const auto &c = s.model.config();
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.seq_len, 512);
  EXPECT_TRUE(c.shared_classifier);
  EXPECT_EQ(s.tok.vocab_size(), 512);
}

// The reference protocol (split on "\n\n", skip empty pieces, encode with BOS, truncate to
// seq_len, fresh context per paragraph, score tokens 1..n-1 in double) is eval_paragraphs().
// Returns the mean NLL of the first `paragraphs` paragraphs and their predicted-token count. The
// references follow run.c's summation order: the reference path by default.
double mean_nll(const Model &m, const Tokenizer &tok, const std::string &text_path, size_t paragraphs, int threads,
                int64_t *predicted, vqr::model::MatmulPath path = vqr::model::MatmulPath::kReference) {
  const auto ps = vqr::model::split_paragraphs(vqr::model::read_text_file(text_path));
  EXPECT_GE(ps.size(), paragraphs);
  const vqr::model::NllResult r =
      vqr::model::eval_paragraphs(m, tok, ps, static_cast<int64_t>(paragraphs), threads, nullptr, path);
  *predicted = r.predicted_tokens;
  return r.mean_nll();
}

}  // namespace

// Tolerance 2e-5 absolute on the mean: the reference is printed to 6 decimals and fp32 summation
// order may differ from the build that produced it.
TEST(Stories260K, ReferenceNllFirst200Paragraphs) {
  VQR_DATA_DIR_OR_SKIP(data);
  int64_t ref_predicted = 0;
  double ref_nll = 0.0;
  ASSERT_TRUE(read_reference(data + "/models/stories260K/reference_nll_tinystories_val.txt", &ref_predicted, &ref_nll));
  EXPECT_EQ(ref_predicted, 19395);
  const Stories s = load_stories(data);
  int64_t predicted = 0;
  const double mean = mean_nll(s.model, s.tok, data + "/text/tinystories/tinystories_val.txt", 200, kThreads, &predicted);
  std::printf("stories260K first 200 paragraphs: predicted_tokens=%lld mean_nll=%.8f (reference %.6f)\n",
              static_cast<long long>(predicted), mean, ref_nll);
  EXPECT_EQ(predicted, ref_predicted);
  EXPECT_NEAR(mean, ref_nll, 2e-5);
}

// The second model's reference comes from an independent torch forward with run.c semantics;
// it also exercises dim 256, a 4096-token vocabulary and truncation to seq_len 256. It runs under
// the sanitizers too (about 35 s there) since the forward's hot kernels are unchecked kernels.
TEST(Gutenberg4M, ReferenceNllFirst200Paragraphs) {
  VQR_DATA_DIR_OR_SKIP(data);
  const std::string dir = data + "/models/gutenberg4M/";
  int64_t ref_predicted = 0;
  double ref_nll = 0.0;
  ASSERT_TRUE(read_reference(dir + "reference_nll_gutenberg_heldout.txt", &ref_predicted, &ref_nll));
  const Model m = vqr::model::load_llama2c(dir + "gutenberg4M.bin");
  const Tokenizer tok = Tokenizer::load(dir + "tok4096.bin", m.config().vocab_size);
  int64_t predicted = 0;
  const double mean = mean_nll(m, tok, data + "/text/gutenberg/gutenberg_heldout.txt", 200, 2, &predicted);
  std::printf("gutenberg4M first 200 paragraphs: predicted_tokens=%lld mean_nll=%.8f (reference %.6f)\n",
              static_cast<long long>(predicted), mean, ref_nll);
  EXPECT_EQ(predicted, ref_predicted);
  EXPECT_NEAR(mean, ref_nll, 2e-5);
}

// The default BLAS path against the reference path on a real model: one full 256-token window's
// logits within the summation-order bound (forward_paths.h), and the mean NLL of 50 paragraphs
// within 2x that bound in absolute logit units (d(-log softmax)/d logits has l1 norm <= 2).
TEST(Gutenberg4M, BlasPathWithinOrderBoundOfReference) {
  VQR_DATA_DIR_OR_SKIP(data);
  const std::string dir = data + "/models/gutenberg4M/";
  const Model m = vqr::model::load_llama2c(dir + "gutenberg4M.bin");
  const Tokenizer tok = Tokenizer::load(dir + "tok4096.bin", m.config().vocab_size);
  const std::string text_path = data + "/text/gutenberg/gutenberg_heldout.txt";
  const auto ps = vqr::model::split_paragraphs(vqr::model::read_text_file(text_path));
  std::string doc;
  for (size_t p = 0; p < 20; ++p) doc += (p ? "\n\n" : "") + ps[p];
  std::vector<int32_t> ids = vqr::model::encode_document(tok, doc);
  const int64_t T = m.config().seq_len, V = m.config().vocab_size;
  ASSERT_GE(static_cast<int64_t>(ids.size()), T);
  ids.resize(static_cast<size_t>(T));
  using vqr::model::MatmulPath;
  std::vector<float> ref(static_cast<size_t>(T * V)), blas(ref.size());
  Forward(m, T, 2, MatmulPath::kReference).run(ids.data(), T, ref.data());
  Forward(m, T, 2, MatmulPath::kBlas).run(ids.data(), T, blas.data());
  const double tol = vqr_test::forward_order_tolerance(m.config());
  vqr_test::expect_logits_near(blas, ref, tol);

  double scale = 0;
  for (float v : ref) scale = std::max(scale, (double)std::fabs(v));
  int64_t pr = 0, pb = 0;
  const double nll_ref = mean_nll(m, tok, text_path, 50, 2, &pr, MatmulPath::kReference);
  const double nll_blas = mean_nll(m, tok, text_path, 50, 2, &pb, MatmulPath::kBlas);
  std::printf("gutenberg4M 50 paragraphs: mean_nll reference %.8f, BLAS %.8f\n", nll_ref, nll_blas);
  EXPECT_EQ(pr, pb);
  EXPECT_LE(std::fabs(nll_blas - nll_ref), 2 * tol * scale);
}

// run.c `run stories260K.bin -z tok512.bin -t 0.0 -n 200`: empty prompt -> {BOS}; 200 forward
// steps; argmax (first maximum); stop at BOS; each piece printed through safe_printf; final "\n".
TEST(Stories260K, GreedyDecodeMatchesRunC) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Stories s = load_stories(data);
  const std::string expected = vqr::model::read_text_file(data + "/models/stories260K/reference_greedy_t0_n200.txt");
  const int64_t V = s.model.config().vocab_size, steps = 200;
  Forward fwd(s.model, steps, kThreads, vqr::model::MatmulPath::kReference);  // run.c's arithmetic: argmax ties too
  std::vector<int32_t> seq = {Tokenizer::kBos};
  std::vector<float> logits(static_cast<size_t>(steps * V));
  std::string out;
  while (static_cast<int64_t>(seq.size()) <= steps) {
    // Recomputing the prefix each step costs O(steps^2) tokens: about 20k here, cheap for this model.
    const int64_t n = static_cast<int64_t>(seq.size());
    fwd.run(seq.data(), n, logits.data());
    const float *last = logits.data() + (n - 1) * V;
    int32_t next = 0;
    for (int32_t i = 1; i < V; ++i)
      if (last[i] > last[next]) next = i;
    if (next == Tokenizer::kBos) break;
    out += vqr_test::runc_printable(s.tok.decode(seq.back(), next));
    seq.push_back(next);
  }
  out += "\n";
  EXPECT_EQ(out, expected);
}

TEST(Stories260K, TokenizerMatchesRunCOnRealText) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Stories s = load_stories(data);
  const Tokenizer &t = s.tok;
  // A few strings whose tokens are plain to read back.
  for (const std::string text : {"Once upon a time", "Hello, world!", "Lily's mom said: \"no\".", "\xc3\xa9t\xc3\xa9 \xe2\x82\xac 5\n\n x"}) {
    const auto ids = t.encode(text, true, false);
    ASSERT_EQ(ids, vqr_test::runc_encode(t, text, true, false)) << text;
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids[0], 1);
    std::string back;
    for (size_t i = 1; i < ids.size(); ++i) back += t.decode(ids[i - 1], ids[i]);
    EXPECT_EQ(back, text) << "decode(encode(text)) drops only the dummy-prefix space";
  }
  const auto enc = t.encode("Once upon a time", true, true);
  EXPECT_EQ(enc.back(), 2);
  EXPECT_EQ(enc.front(), 1);

  const auto paragraphs = vqr::model::split_paragraphs(vqr::model::read_text_file(data + "/text/tinystories/tinystories_val.txt"));
  for (size_t p = 0; p < 300 && p < paragraphs.size(); ++p)
    ASSERT_EQ(t.encode(paragraphs[p], true, false), vqr_test::runc_encode(t, paragraphs[p], true, false)) << "paragraph " << p;
}

TEST(Stories260K, CaptureIsSelfConsistent) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Stories s = load_stories(data);
  const auto ids = s.tok.encode("Once upon a time, there was a little girl named Lily. She loved to play outside.", true, false);
  const int64_t T = static_cast<int64_t>(ids.size()), V = s.model.config().vocab_size;
  Forward fwd(s.model, T, kThreads);
  std::vector<float> logits(static_cast<size_t>(T * V));
  vqr_test::CaptureLog log;
  fwd.run(ids.data(), T, logits.data(), log.sink());
  vqr_test::check_capture_consistency(s.model, ids, logits, log);
}

TEST(Gutenberg4M, LoadsWithTheDocumentedShape) {
  VQR_DATA_DIR_OR_SKIP(data);
  const std::string dir = data + "/models/gutenberg4M/";
  const Model m = vqr::model::load_llama2c(dir + "gutenberg4M.bin");
  const auto &c = m.config();
  EXPECT_EQ(c.dim, 256);
  EXPECT_EQ(c.hidden_dim, 768);
  EXPECT_EQ(c.n_layers, 4);
  EXPECT_EQ(c.kv_dim(), 128);
  EXPECT_EQ(c.vocab_size, 4096);
  EXPECT_EQ(m.total_floats(), 4196608);
  const Tokenizer t = Tokenizer::load(dir + "tok4096.bin", c.vocab_size);
  const auto ids = t.encode("It was the best of times.", true, false);
  EXPECT_EQ(ids, vqr_test::runc_encode(t, "It was the best of times.", true, false));
  // The tokenizer of the other model is refused with a message that says why.
  try {
    Tokenizer::load(data + "/models/stories260K/tok512.bin", c.vocab_size);
    ADD_FAILURE() << "tok512.bin accepted for a 4096-token model";
  } catch (const vqr::Error &e) {
    EXPECT_NE(std::string(e.what()).find("4096"), std::string::npos) << e.what();
  }
}
