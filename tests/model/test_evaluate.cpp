// NLL evaluation (model/evaluate.h): the paragraph protocol reproduces both stories260K reference
// numbers; the GPTQ protocol (spec gptq_family.md §5) matches an independent windowed loop written
// here; tail dropping, empty inputs, argument errors and cancellation behave as documented.
// Synthetic-model tests always run; the stories260K tests need ../shared/data.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/sanitizer.h"
#include "core/error.h"
#include "data_dir.h"
#include "forward_paths.h"
#include "model/evaluate.h"
#include "model/forward.h"
#include "model/llama2c_format.h"
#include "model/text_corpus.h"
#include "model/tokenizer.h"
#include "synthetic_files.h"

using vqr::model::Forward;
using vqr::model::Model;
using vqr::model::NllResult;
using vqr::model::Tokenizer;

namespace {

// stories260K is 64 wide: one thread is fastest on a shared machine; results do not depend on it.
constexpr int kThreads = 1;

// Independent oracle of the GPTQ protocol: cut `tokens` into floor(size / seqlen) windows, run
// each with a fresh context, and sum -log softmax(logits[t])[w[t+1]] for t = 0..seqlen-2 in
// double, written out here rather than through nll.h.
// Its logits come from the reference path (run.c's order), one window at a time; *max_abs_logit
// (may be NULL) gets the largest |logit| seen, for the BLAS-path bound below.
NllResult reference_windows(const Model &m, const std::vector<int32_t> &tokens, int64_t seqlen,
                            double *max_abs_logit = nullptr) {
  const int64_t V = m.config().vocab_size;
  NllResult r;
  double biggest = 0;
  Forward fwd(m, seqlen, kThreads, vqr::model::MatmulPath::kReference);
  std::vector<float> logits(static_cast<size_t>(seqlen * V));
  for (size_t start = 0; start + static_cast<size_t>(seqlen) <= tokens.size(); start += static_cast<size_t>(seqlen)) {
    const int32_t *w = tokens.data() + start;
    fwd.run(w, seqlen, logits.data());
    for (float x : logits) biggest = std::max(biggest, static_cast<double>(std::fabs(x)));
    for (int64_t t = 0; t + 1 < seqlen; ++t) {
      const float *row = logits.data() + t * V;
      double mx = -INFINITY;
      for (int64_t i = 0; i < V; ++i) mx = std::max(mx, static_cast<double>(row[i]));
      double z = 0.0;
      for (int64_t i = 0; i < V; ++i) z += std::exp(static_cast<double>(row[i]) - mx);
      r.sum_nll += -(static_cast<double>(row[w[t + 1]]) - mx - std::log(z));
      ++r.predicted_tokens;
    }
    ++r.sequences;
  }
  if (max_abs_logit) *max_abs_logit = biggest;
  return r;
}

// Checks a sum the evaluator computed on the reference path (`exact`, the oracle's logits bit for
// bit: packing changes no bit there, forward.h) and on the default BLAS path (`blas`, packed
// windows whose SGEMMs sum in another order) against the oracle's sum. exact: both sums in double,
// only the log-sum-exp formulation differs (1e-10 relative). blas: each logit moves by at most
// forward_order_tolerance x max|logit| (forward_paths.h), and -log softmax(z)[y] = lse(z) - z_y
// moves by at most twice the largest logit change (its gradient has l1 norm <= 2), per token.
void expect_sums_match_oracle(const NllResult &exact, const NllResult &blas, const NllResult &oracle,
                              double max_abs_logit, const vqr::model::ModelConfig &c, const char *what) {
  EXPECT_EQ(exact.predicted_tokens, oracle.predicted_tokens) << what;
  EXPECT_EQ(blas.predicted_tokens, oracle.predicted_tokens) << what;
  EXPECT_NEAR(exact.sum_nll, oracle.sum_nll, 1e-10 * std::fabs(oracle.sum_nll)) << what << ", reference path";
  const double bound = static_cast<double>(oracle.predicted_tokens) * 2.0 * vqr_test::forward_order_tolerance(c) *
                       max_abs_logit;
  std::printf("%s: blas path off the oracle by %.3g (bound %.3g)\n", what, std::fabs(blas.sum_nll - oracle.sum_nll),
              bound);
  EXPECT_LE(std::fabs(blas.sum_nll - oracle.sum_nll), bound) << what << ", blas path";
}

// Reads "<label> : paragraphs=P  predicted_tokens=N  mean_nll=X" from the reference file.
bool read_reference(const std::string &path, const std::string &label, int64_t *paragraphs, int64_t *predicted,
                    double *mean_nll) {
  const std::string text = vqr::model::read_text_file(path);
  const size_t at = text.find(label);
  if (at == std::string::npos) return false;
  const size_t eol = text.find('\n', at);
  const std::string line = text.substr(at, eol == std::string::npos ? std::string::npos : eol - at);
  const size_t pa = line.find("paragraphs="), pt = line.find("predicted_tokens="), mn = line.find("mean_nll=");
  if (pa == std::string::npos || pt == std::string::npos || mn == std::string::npos) return false;
  long long p = 0, n = 0;
  if (std::sscanf(line.c_str() + pa, "paragraphs=%lld", &p) != 1) return false;
  if (std::sscanf(line.c_str() + pt, "predicted_tokens=%lld", &n) != 1) return false;
  if (std::sscanf(line.c_str() + mn, "mean_nll=%lf", mean_nll) != 1) return false;
  *paragraphs = p;
  *predicted = n;
  return true;
}

struct Stories {
  Model model;
  Tokenizer tok;
  std::string text;  // tinystories_val.txt
};

Stories load_stories(const std::string &data) {
  const std::string dir = data + "/models/stories260K/";
  Model m = vqr::model::load_llama2c(dir + "stories260K.bin");
  Tokenizer t = Tokenizer::load(dir + "tok512.bin", m.config().vocab_size);
  return {std::move(m), std::move(t), vqr::model::read_text_file(data + "/text/tinystories/tinystories_val.txt")};
}

// Runs the paragraph protocol on `limit` paragraphs and checks it against the reference line.
// Tolerance 1e-4 on the mean (issue 5): the reference is printed to 6 decimals from run.c, whose
// fp32 operation order the reference path (MatmulPath::kReference, pinned here) follows; in
// practice the difference is below 1e-6. The default BLAS path is held to this path by
// Gutenberg4M.BlasPathWithinOrderBoundOfReference (test_model_real_data.cpp).
void check_reference(const std::string &data, const std::string &label, int64_t limit) {
  int64_t ref_paragraphs = 0, ref_predicted = 0;
  double ref_nll = 0.0;
  ASSERT_TRUE(read_reference(data + "/models/stories260K/reference_nll_tinystories_val.txt", label, &ref_paragraphs,
                             &ref_predicted, &ref_nll))
      << "reference line '" << label << "' not found";
  const Stories s = load_stories(data);
  const auto paragraphs = vqr::model::split_paragraphs(s.text);
  const auto t0 = std::chrono::steady_clock::now();
  const NllResult r = vqr::model::eval_paragraphs(s.model, s.tok, paragraphs, limit, kThreads, nullptr,
                                                  vqr::model::MatmulPath::kReference);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("stories260K %s: paragraphs=%lld predicted_tokens=%lld mean_nll=%.8f ppl=%.4f (reference %.6f) %.1f s\n",
              label.c_str(), static_cast<long long>(r.sequences), static_cast<long long>(r.predicted_tokens),
              r.mean_nll(), r.perplexity(), ref_nll, secs);
  EXPECT_EQ(r.sequences, ref_paragraphs);
  EXPECT_EQ(r.predicted_tokens, ref_predicted);
  EXPECT_NEAR(r.mean_nll(), ref_nll, 1e-4);
  EXPECT_DOUBLE_EQ(r.perplexity(), std::exp(r.mean_nll()));
}

// A small random model plus the synthetic tokenizer, for the tests that need no data.
struct Synthetic {
  Model model;
  Tokenizer tok;
};

Synthetic synthetic_model() {
  const auto vocab = vqr_test::small_vocab();
  const vqr_test::Header h = {16, 40, 2, 4, 2, static_cast<int32_t>(vocab.size()), 64};
  vqr_test::TempFile mf("eval_model.bin"), tf("eval_tok.bin");
  mf.write(vqr_test::checkpoint_bytes(h, vqr_test::well_scaled_weights(h, 7)));
  tf.write(vqr_test::tokenizer_bytes(vocab, 8));
  Model m = vqr::model::load_llama2c(mf.path());
  Tokenizer t = Tokenizer::load(tf.path(), m.config().vocab_size);
  return {std::move(m), std::move(t)};
}

// Deterministic token stream in [3, vocab) (no BOS/EOS inside), for window tests.
std::vector<int32_t> token_stream(int64_t n, int32_t vocab) {
  std::vector<int32_t> out(static_cast<size_t>(n));
  uint32_t x = 12345;
  for (auto &t : out) {
    x = x * 1664525u + 1013904223u;
    t = 3 + static_cast<int32_t>((x >> 8) % static_cast<uint32_t>(vocab - 3));
  }
  return out;
}

vqr::Status status_of(const std::function<void()> &f) {
  try {
    f();
  } catch (const vqr::Error &e) {
    return e.status();
  }
  return vqr::Status::Ok;
}

}  // namespace

// ---- paragraph protocol: the reference numbers -----------------------------------------------

TEST(EvalParagraphs, Stories260KFirst200Paragraphs) {
  VQR_DATA_DIR_OR_SKIP(data);
  check_reference(data, "first 200 paragraphs", 200);
}

TEST(EvalParagraphs, Stories260KAllParagraphs) {
  VQR_DATA_DIR_OR_SKIP(data);
#if VQR_ASAN
  // 381,598 tokens take 70 s under ASan+UBSan (measured 2026-11-23) for no new code path: the
  // first-200 test runs the same code under the sanitizers, and this one runs in release.
  GTEST_SKIP() << "skipped under sanitizers (runs in the release build)";
#endif
  check_reference(data, "all paragraphs", 0);
}

TEST(EvalParagraphs, LimitAndShortParagraphs) {
  const Synthetic s = synthetic_model();
  // "\0..." encodes to the lone BOS (the text ends at its first NUL): it predicts nothing.
  const std::vector<std::string> ps = {"abc ab", std::string("\0abc", 4), "a\xc3\xa9 bc c", "cccc abc"};
  const NllResult all = vqr::model::eval_paragraphs(s.model, s.tok, ps, 0, 1, nullptr);
  EXPECT_EQ(all.sequences, 4);
  int64_t expected = 0;
  NllResult oracle;
  double biggest = 0;
  for (const std::string &p : ps) {
    const auto ids = s.tok.encode(p, true, false);
    expected += static_cast<int64_t>(ids.size()) - 1;
    if (ids.size() < 2) continue;
    double m = 0;
    const NllResult one = reference_windows(s.model, ids, static_cast<int64_t>(ids.size()), &m);
    oracle.sum_nll += one.sum_nll;
    oracle.predicted_tokens += one.predicted_tokens;
    biggest = std::max(biggest, m);
  }
  EXPECT_EQ(all.predicted_tokens, expected);
  const NllResult exact =
      vqr::model::eval_paragraphs(s.model, s.tok, ps, 0, 1, nullptr, vqr::model::MatmulPath::kReference);
  expect_sums_match_oracle(exact, all, oracle, biggest, s.model.config(), "four paragraphs, packed");

  const NllResult two = vqr::model::eval_paragraphs(s.model, s.tok, ps, 2, 1, nullptr);
  EXPECT_EQ(two.sequences, 2);
  EXPECT_EQ(two.predicted_tokens, static_cast<int64_t>(s.tok.encode(ps[0], true, false).size()) - 1);
  EXPECT_EQ(vqr::model::eval_paragraphs(s.model, s.tok, ps, 100, 1, nullptr).sequences, 4);  // limit > count

  const NllResult none = vqr::model::eval_paragraphs(s.model, s.tok, {}, 0, 1, nullptr);
  EXPECT_EQ(none.sequences, 0);
  EXPECT_EQ(none.predicted_tokens, 0);
  EXPECT_TRUE(std::isnan(none.mean_nll()));
  EXPECT_TRUE(std::isnan(none.perplexity()));
  EXPECT_EQ(status_of([&] { vqr::model::eval_paragraphs(s.model, s.tok, ps, -1, 1, nullptr); }),
            vqr::Status::InvalidArgument);
}

TEST(EvalParagraphs, TruncatesToSeqLen) {
  const Synthetic s = synthetic_model();
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "abc \xc3\xa9 ";
  ASSERT_GT(s.tok.encode(long_text, true, false).size(), 64u);
  const NllResult r = vqr::model::eval_paragraphs(s.model, s.tok, {long_text}, 0, 1, nullptr);
  EXPECT_EQ(r.predicted_tokens, 63);  // seq_len 64
  auto ids = s.tok.encode(long_text, true, false);
  ids.resize(64);
  double biggest = 0;
  const NllResult oracle = reference_windows(s.model, ids, 64, &biggest);
  const NllResult exact =
      vqr::model::eval_paragraphs(s.model, s.tok, {long_text}, 0, 1, nullptr, vqr::model::MatmulPath::kReference);
  expect_sums_match_oracle(exact, r, oracle, biggest, s.model.config(), "one paragraph, truncated");
}

// ---- GPTQ protocol -----------------------------------------------------------------------------

TEST(EvalGptq, MatchesIndependentLoopOnStories260K) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Stories s = load_stories(data);
  // The §5 document: texts joined with "\n\n", tokenized once, BOS only at position 0.
  const auto paragraphs = vqr::model::split_paragraphs(s.text);
  std::string doc;
  for (size_t p = 0; p < 60; ++p) doc += (p ? "\n\n" : "") + paragraphs[p];
  const std::vector<int32_t> tokens = vqr::model::encode_document(s.tok, doc);
  ASSERT_EQ(tokens, s.tok.encode(doc, true, false));
  ASSERT_EQ(tokens.front(), Tokenizer::kBos);
  EXPECT_EQ(std::count(tokens.begin(), tokens.end(), Tokenizer::kBos), 1) << "one BOS for the whole document";

  const int64_t seqlen = 128, limit = 24;
  ASSERT_GT(static_cast<int64_t>(tokens.size()), limit * seqlen + 50);
  // A limit is the first limit * seqlen tokens; 50 extra tokens are a tail that must be dropped.
  const std::vector<int32_t> first(tokens.begin(), tokens.begin() + limit * seqlen + 50);
  const NllResult r = vqr::model::eval_gptq_protocol(s.model, first, seqlen, kThreads, nullptr);
  double biggest = 0;
  const NllResult ref = reference_windows(s.model, first, seqlen, &biggest);
  std::printf("stories260K GPTQ protocol, %lld windows of %lld: mean_nll=%.8f ppl=%.4f (oracle %.8f)\n",
              static_cast<long long>(r.sequences), static_cast<long long>(seqlen), r.mean_nll(), r.perplexity(),
              ref.mean_nll());
  EXPECT_EQ(r.sequences, limit);
  EXPECT_EQ(r.predicted_tokens, limit * (seqlen - 1));
  EXPECT_EQ(ref.predicted_tokens, r.predicted_tokens);
  const NllResult exact =
      vqr::model::eval_gptq_protocol(s.model, first, seqlen, kThreads, nullptr, vqr::model::MatmulPath::kReference);
  expect_sums_match_oracle(exact, r, ref, biggest, s.model.config(), "stories260K, 24 windows packed");
  // exp(mean over windows of the window mean) == exp(sum / count): every window predicts seqlen-1.
  EXPECT_NEAR(r.perplexity(), std::exp(r.sum_nll / static_cast<double>(limit * (seqlen - 1))), 1e-12);
}

TEST(EvalGptq, DropsTheTail) {
  const Synthetic s = synthetic_model();
  const int64_t seqlen = 32;
  const std::vector<int32_t> stream = token_stream(3 * seqlen + seqlen - 1, s.model.config().vocab_size);
  const NllResult with_tail = vqr::model::eval_gptq_protocol(s.model, stream, seqlen, 1, nullptr);
  const std::vector<int32_t> exact(stream.begin(), stream.begin() + 3 * seqlen);
  const NllResult without = vqr::model::eval_gptq_protocol(s.model, exact, seqlen, 1, nullptr);
  EXPECT_EQ(with_tail.sequences, 3);
  EXPECT_EQ(with_tail.predicted_tokens, 3 * (seqlen - 1));
  EXPECT_EQ(with_tail.sum_nll, without.sum_nll) << "the 31-token tail must not be scored";
  double biggest = 0;
  const NllResult ref = reference_windows(s.model, stream, seqlen, &biggest);
  const NllResult on_reference =
      vqr::model::eval_gptq_protocol(s.model, stream, seqlen, 1, nullptr, vqr::model::MatmulPath::kReference);
  expect_sums_match_oracle(on_reference, with_tail, ref, biggest, s.model.config(), "three windows and a tail");

  // Changing a tail token changes nothing; changing position 0 of a window changes only context.
  std::vector<int32_t> other_tail = stream;
  other_tail.back() = other_tail.back() == 3 ? 4 : 3;
  EXPECT_EQ(vqr::model::eval_gptq_protocol(s.model, other_tail, seqlen, 1, nullptr).sum_nll, with_tail.sum_nll);

  // The thread count does not change a bit.
  EXPECT_EQ(vqr::model::eval_gptq_protocol(s.model, stream, seqlen, 2, nullptr).sum_nll, with_tail.sum_nll);
}

TEST(EvalGptq, TooFewTokensPredictNothing) {
  const Synthetic s = synthetic_model();
  // An empty text still encodes to {BOS}; {} and {BOS} give zero windows and a NaN mean.
  EXPECT_EQ(vqr::model::encode_document(s.tok, ""), std::vector<int32_t>{Tokenizer::kBos});
  for (const std::vector<int32_t> &tokens :
       {std::vector<int32_t>{}, std::vector<int32_t>{Tokenizer::kBos}, token_stream(31, s.model.config().vocab_size)}) {
    const NllResult r = vqr::model::eval_gptq_protocol(s.model, tokens, 32, 1, nullptr);
    EXPECT_EQ(r.sequences, 0);
    EXPECT_EQ(r.predicted_tokens, 0);
    EXPECT_EQ(r.sum_nll, 0.0);
    EXPECT_TRUE(std::isnan(r.mean_nll()));
  }
  // Exactly seqlen tokens: one window, seqlen - 1 predictions.
  const NllResult one = vqr::model::eval_gptq_protocol(s.model, token_stream(2, 40), 2, 1, nullptr);
  EXPECT_EQ(one.sequences, 1);
  EXPECT_EQ(one.predicted_tokens, 1);
}

TEST(EvalGptq, RejectsBadArguments) {
  const Synthetic s = synthetic_model();
  const std::vector<int32_t> tokens = token_stream(200, s.model.config().vocab_size);
  for (int64_t seqlen : {int64_t{-1}, int64_t{0}, int64_t{1}, int64_t{65}})
    EXPECT_EQ(status_of([&] { vqr::model::eval_gptq_protocol(s.model, tokens, seqlen, 1, nullptr); }),
              vqr::Status::InvalidArgument)
        << "seqlen " << seqlen;
  EXPECT_EQ(status_of([&] { vqr::model::eval_gptq_protocol(s.model, tokens, 16, -1, nullptr); }),
            vqr::Status::InvalidArgument);
  std::vector<int32_t> bad = tokens;
  bad[5] = s.model.config().vocab_size;  // a token of another tokenizer
  EXPECT_EQ(status_of([&] { vqr::model::eval_gptq_protocol(s.model, bad, 16, 1, nullptr); }),
            vqr::Status::InvalidArgument);
}

// ---- progress and cancellation ------------------------------------------------------------------

TEST(EvalProgress, ReportsAndCancels) {
  const Synthetic s = synthetic_model();
  const std::vector<int32_t> tokens = token_stream(10 * 16, s.model.config().vocab_size);
  struct Seen {
    int64_t last_done = -1, total = -1;
    int calls = 0;
  } seen;
  vqr::Context ctx;
  ctx.progress_fn = [&seen](const vqr::ProgressInfo &p) {
    seen.last_done = p.done;
    seen.total = p.total;
    ++seen.calls;
    return 0;
  };
  {
    vqr::Progress progress(&ctx, "eval", 10);
    const NllResult r = vqr::model::eval_gptq_protocol(s.model, tokens, 16, 1, &progress);
    EXPECT_EQ(r.sequences, 10);
    EXPECT_GE(seen.calls, 1);  // at least the initial report (the rest is throttled)
    EXPECT_EQ(seen.total, 10);
  }
  {
    vqr::Progress progress(&ctx, "eval", 3);
    ctx.cancel_requested = true;
    EXPECT_EQ(status_of([&] { vqr::model::eval_paragraphs(s.model, s.tok, {"abc", "ab", "c"}, 0, 1, &progress); }),
              vqr::Status::Cancelled);
  }
  {
    vqr::Progress progress(&ctx, "eval", 10);
    ctx.cancel_requested = true;
    EXPECT_EQ(status_of([&] { vqr::model::eval_gptq_protocol(s.model, tokens, 16, 1, &progress); }),
              vqr::Status::Cancelled);
  }
}
