// Format, tokenizer and forward tests on synthetic files (no shared data needed): the reader
// places every tensor where llama2.c puts it, bad files fail with a status and a message naming the
// file, the encoder matches run.c's O(n^2) loop, and captured activations are self-consistent.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "capture_check.h"
#include "common/memory_limit.h"
#include "forward_paths.h"
#include "core/error.h"
#include "model/forward.h"
#include "model/llama2c_format.h"
#include "model/matmul.h"
#include "model/text_corpus.h"
#include "model/tokenizer.h"
#include "runc_reference.h"
#include "synthetic_files.h"

using vqr::model::Forward;
using vqr::model::LinearInput;
using vqr::model::LinearKind;
using vqr::model::Model;
using vqr::model::Tokenizer;
using vqr_test::Header;
using vqr_test::TempFile;

namespace {

// GQA (8 query heads, 4 KV heads), unshared classifier, hidden width not a multiple of dim.
const Header kGqaHeader = {32, 40, 2, 8, 4, -300, 24};

// Expects `fn` to throw vqr::Error with `status` and a message containing every string of `parts`.
template <class Fn>
void expect_error(Fn fn, vqr::Status status, const std::vector<std::string> &parts) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), status) << e.what();
    for (const auto &p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << " lacks " << p;
  }
}

}  // namespace

TEST(Llama2cFormat, PlacesTensorsInFileOrder) {
  TempFile f("order.bin");
  const std::vector<float> w = vqr_test::well_scaled_weights(kGqaHeader, 1);
  ASSERT_EQ(static_cast<int64_t>(w.size()), vqr_test::payload_floats(kGqaHeader));
  f.write(vqr_test::checkpoint_bytes(kGqaHeader, w));
  const Model m = vqr::model::load_llama2c(f.path());
  const auto &c = m.config();
  EXPECT_EQ(c.dim, 32);
  EXPECT_EQ(c.hidden_dim, 40);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.kv_dim(), 16);
  EXPECT_EQ(c.vocab_size, 300);
  EXPECT_FALSE(c.shared_classifier);
  EXPECT_EQ(vqr::model::llama2c_file_bytes(c), 28 + 4 * static_cast<int64_t>(w.size()));

  // Offsets in the float stream, in llama2.c order.
  const int64_t d = 32, hd = 40, L = 2, v = 300, kv = 16;
  int64_t off = 0;
  EXPECT_EQ(m.token_embedding()[7], w[static_cast<size_t>(off + 7)]);
  off += v * d;
  EXPECT_EQ(m.rms_att(1)[3], w[static_cast<size_t>(off + d + 3)]);
  off += L * d;
  const int64_t wq = off, wk = wq + L * d * d, wv = wk + L * kv * d, wo = wv + L * kv * d;
  const int64_t rms_ffn = wo + L * d * d, w1 = rms_ffn + L * d, w2 = w1 + L * hd * d, w3 = w2 + L * d * hd;
  const int64_t rms_final = w3 + L * hd * d, wcls = rms_final + d + 24 * 4;
  struct Case {
    LinearKind kind;
    int64_t base, rows, cols;
  } cases[] = {{LinearKind::kWq, wq, d, d},   {LinearKind::kWk, wk, kv, d},  {LinearKind::kWv, wv, kv, d},
               {LinearKind::kWo, wo, d, d},   {LinearKind::kW1, w1, hd, d},  {LinearKind::kW2, w2, d, hd},
               {LinearKind::kW3, w3, hd, d}};
  for (const Case &k : cases) {
    const auto lw = m.linear(1, k.kind);
    EXPECT_EQ(lw.rows, k.rows) << vqr::model::linear_kind_name(k.kind);
    EXPECT_EQ(lw.cols, k.cols) << vqr::model::linear_kind_name(k.kind);
    // element (r, j) of layer 1 sits at base + rows*cols + r*cols + j
    EXPECT_EQ(lw.data[2 * lw.cols + 5], w[static_cast<size_t>(k.base + k.rows * k.cols + 2 * k.cols + 5)]);
  }
  EXPECT_EQ(m.rms_ffn(0)[1], w[static_cast<size_t>(rms_ffn + 1)]);
  EXPECT_EQ(m.rms_final()[0], w[static_cast<size_t>(rms_final)]);
  EXPECT_EQ(m.classifier()[11], w[static_cast<size_t>(wcls + 11)]);
  EXPECT_EQ(Model::linear_name(1, LinearKind::kW3), "blk.1.w3");
  EXPECT_THROW(m.linear(2, LinearKind::kWq), vqr::Error);
}

TEST(Llama2cFormat, SharedClassifierIsTheEmbedding) {
  Header h = kGqaHeader;
  h.vocab_size = 300;
  TempFile f("shared.bin");
  f.write(vqr_test::checkpoint_bytes(h, vqr_test::well_scaled_weights(h, 2)));
  const Model m = vqr::model::load_llama2c(f.path());
  EXPECT_TRUE(m.config().shared_classifier);
  EXPECT_EQ(m.classifier(), m.token_embedding());
}

TEST(Llama2cFormat, BadFilesFailCleanly) {
  const std::vector<float> w = vqr_test::well_scaled_weights(kGqaHeader, 3);
  const std::vector<char> good = vqr_test::checkpoint_bytes(kGqaHeader, w);
  TempFile f("bad.bin");
  auto load = [&] { vqr::model::load_llama2c(f.path()); };

  expect_error(load, vqr::Status::Io, {f.path(), "cannot open", "hint:"});  // not written yet

  f.write(std::vector<char>(good.begin(), good.end() - 4));
  expect_error(load, vqr::Status::Format, {f.path(), "does not match", "truncated"});

  f.write(std::vector<char>(good.begin(), good.begin() + 12));
  expect_error(load, vqr::Status::Format, {f.path(), "28-byte header"});

  f.write({});
  expect_error(load, vqr::Status::Format, {f.path()});

  std::vector<char> longer = good;
  longer.push_back(0);
  f.write(longer);
  expect_error(load, vqr::Status::Format, {f.path(), "does not match", "hint:"});

  Header bad = kGqaHeader;
  bad.n_heads = 0;
  f.write(vqr_test::checkpoint_bytes(bad, w));
  expect_error(load, vqr::Status::Format, {f.path(), "implausible header", "n_heads=0"});

  bad = kGqaHeader;
  bad.n_kv_heads = 3;  // 8 heads are not a multiple of 3 KV heads
  f.write(vqr_test::checkpoint_bytes(bad, w));
  expect_error(load, vqr::Status::Format, {f.path(), "inconsistent header"});

  bad = kGqaHeader;
  bad.dim = 0x616b3432;  // "ak42", the versioned export
  f.write(vqr_test::checkpoint_bytes(bad, w));
  expect_error(load, vqr::Status::Unsupported, {f.path(), "--version 0"});

  bad = kGqaHeader;
  bad.hidden_dim = 41;  // header of another model: sizes no longer match
  f.write(vqr_test::checkpoint_bytes(bad, w));
  expect_error(load, vqr::Status::Format, {f.path(), "does not match"});

  std::vector<float> nan_w = w;
  nan_w[100] = std::nanf("");
  f.write(vqr_test::checkpoint_bytes(kGqaHeader, nan_w));
  expect_error(load, vqr::Status::Format, {f.path(), "non-finite", "token_embedding"});

  const std::string text = "Once upon a time there was a text file that was not a model at all.\n";
  f.write(std::vector<char>(text.begin(), text.end()));
  expect_error(load, vqr::Status::Format, {f.path(), "hint:"});
}

// A header claiming the largest dims the reader accepts over a small file's payload is refused
// from the file size, before the ~1.3 TB the header implies is allocated (1 GiB budget).
TEST(Llama2cFormat, HeaderClaimingMoreThanTheFileHoldsIsRefusedBeforeAllocating) {
  const std::vector<float> w = vqr_test::well_scaled_weights(kGqaHeader, 3);
  Header bad = kGqaHeader;
  bad.dim = 1 << 16;
  bad.hidden_dim = 1 << 18;
  bad.n_layers = 1 << 10;
  bad.n_heads = 1 << 8;
  bad.n_kv_heads = 1 << 8;
  bad.vocab_size = -(1 << 22);
  TempFile f("hostile.bin");
  f.write(vqr_test::checkpoint_bytes(bad, w));
  vqr_test::expect_error_within_memory([&] { vqr::model::load_llama2c(f.path()); }, vqr::Status::Format,
                                       "does not match the header");
}

TEST(Tokenizer, SyntheticVocabMatchesRunC) {
  TempFile f("tok.bin");
  const auto vocab = vqr_test::small_vocab();
  f.write(vqr_test::tokenizer_bytes(vocab, 8));
  const Tokenizer t = Tokenizer::load(f.path(), static_cast<int>(vocab.size()));
  EXPECT_EQ(t.vocab_size(), static_cast<int>(vocab.size()));
  const int sp = t.lookup(" ");
  ASSERT_GE(sp, 259);

  // Hand-checked: " abc" wins over partial merges; the euro sign falls back to its 3 bytes.
  EXPECT_EQ(t.encode("abc", true, false), (std::vector<int32_t>{1, t.lookup(" abc")}));
  EXPECT_EQ(t.encode("abc", false, true), (std::vector<int32_t>{t.lookup(" abc"), 2}));
  EXPECT_EQ(t.encode("", true, false), (std::vector<int32_t>{1}));
  EXPECT_EQ(t.encode("\xe2\x82\xac", false, false), (std::vector<int32_t>{sp, 0xe2 + 3, 0x82 + 3, 0xac + 3}));
  // " a" (-6) outranks "a\xc3\xa9" (-11), so the code point stays on its own.
  EXPECT_EQ(t.encode("a\xc3\xa9", false, false), (std::vector<int32_t>{t.lookup(" a"), t.lookup("\xc3\xa9")}));
  EXPECT_EQ(t.encode("ba\xc3\xa9", false, false), (std::vector<int32_t>{sp, t.lookup("b"), t.lookup("a\xc3\xa9")}));

  // Random strings over pieces with tied and out-of-order scores, versus run.c's loop.
  const std::vector<std::string> alphabet = {"a", "b", "c", " ", "\xc3\xa9", "\xe2\x82\xac", "\n", "\x01", "\x80", "\xc3"};
  std::mt19937 rng(7);
  for (int trial = 0; trial < 400; ++trial) {
    std::string s;
    const int len = static_cast<int>(rng() % 24);
    for (int i = 0; i < len; ++i) s += alphabet[rng() % alphabet.size()];
    ASSERT_EQ(t.encode(s, true, trial % 2 == 0), vqr_test::runc_encode(t, s, true, trial % 2 == 0)) << "text: " << s;
  }

  // decode: space stripped after BOS, byte pieces become raw bytes
  EXPECT_EQ(t.decode(1, t.lookup(" abc")), "abc");
  EXPECT_EQ(t.decode(5, t.lookup(" abc")), " abc");
  EXPECT_EQ(t.decode(5, 'A' + 3), "A");
  EXPECT_EQ(t.decode(5, 0 + 3), "");
}

TEST(Tokenizer, BadFilesFailCleanly) {
  const auto vocab = vqr_test::small_vocab();
  const std::vector<char> good = vqr_test::tokenizer_bytes(vocab, 8);
  TempFile f("badtok.bin");
  const int n = static_cast<int>(vocab.size());
  auto load = [&](int v) { return [&f, v] { Tokenizer::load(f.path(), v); }; };

  expect_error(load(n), vqr::Status::Io, {f.path(), "cannot open"});
  f.write(good);
  expect_error(load(n - 1), vqr::Status::Format, {f.path(), "more entries"});
  expect_error(load(n + 1), vqr::Status::Format, {f.path(), "holds " + std::to_string(n) + " tokens"});
  EXPECT_EQ(Tokenizer::load(f.path(), 0).vocab_size(), n);  // read to the end
  f.write(std::vector<char>(good.begin(), good.end() - 2));
  expect_error(load(n), vqr::Status::Format, {f.path(), "truncated"});
  f.write(vqr_test::tokenizer_bytes(vocab, 3));  // pieces longer than max_token_length
  expect_error(load(n), vqr::Status::Format, {f.path(), "max_token_length"});
  f.write({});
  expect_error(load(n), vqr::Status::Format, {f.path(), "empty"});
}

TEST(TextCorpus, ParagraphsAndWindows) {
  EXPECT_EQ(vqr::model::split_paragraphs("a\n\nb\nc\n\n\n\nd\n\n"),
            (std::vector<std::string>{"a", "b\nc", "d"}));
  EXPECT_EQ(vqr::model::split_paragraphs("a\n\n\nb"), (std::vector<std::string>{"a", "\nb"}));
  EXPECT_TRUE(vqr::model::split_paragraphs("").empty());

  TempFile f("wtok.bin");
  const auto vocab = vqr_test::small_vocab();
  f.write(vqr_test::tokenizer_bytes(vocab, 8));
  const Tokenizer t = Tokenizer::load(f.path(), static_cast<int>(vocab.size()));
  // Stream: "abc" -> {BOS, " abc"}, "c" -> {BOS, " ", "c"} (" c" is absent), "abc" again, cut at 6.
  const auto windows = vqr::model::calibration_windows(t, {"abc", "c", "abc", "abc"}, 6, 4);
  ASSERT_EQ(windows.size(), 2u);
  EXPECT_EQ(windows[0], (std::vector<int32_t>{1, t.lookup(" abc"), 1, t.lookup(" ")}));
  EXPECT_EQ(windows[1], (std::vector<int32_t>{t.lookup("c"), 1}));
}

// The tiled matmul must equal the plain loop bit for bit (same per-output summation order), over
// aligned and awkward shapes (tokens not a multiple of the 8-token tile, outputs not of 4), with
// guard values after the output to catch out-of-bounds writes.
TEST(Matmul, TiledEqualsReferenceBitwise) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int64_t T : {1, 7, 8, 9, 33, 130})
    for (int64_t IC : {1, 5, 64, 172})
      for (int64_t OC : {1, 3, 4, 5, 13, 64})
        for (int threads : {1, 2}) {
          std::vector<float> x(static_cast<size_t>(T * IC)), w(static_cast<size_t>(OC * IC));
          for (auto &v : x) v = nd(rng);
          for (auto &v : w) v = nd(rng);
          const float guard = 1234.5f;
          std::vector<float> ref(static_cast<size_t>(T * OC)), got(static_cast<size_t>(T * OC) + 16, guard);
          std::vector<float> scratch(static_cast<size_t>(vqr::model::matmul_scratch_floats(T, IC)));
          vqr::model::matmul_forward_ref(ref.data(), x.data(), w.data(), T, IC, OC);
          vqr::model::matmul_forward(got.data(), scratch.data(), x.data(), w.data(), T, IC, OC, threads);
          for (size_t i = 0; i < ref.size(); ++i)
            ASSERT_EQ(got[i], ref[i]) << "T=" << T << " IC=" << IC << " OC=" << OC << " at " << i;
          for (size_t i = ref.size(); i < got.size(); ++i) ASSERT_EQ(got[i], guard) << "write past the output";
        }
}

// The GQA model (kGqaHeader, well-scaled weights of seed 4) and a 17-token sequence over its
// vocabulary, for the forward tests below.
Model gqa_model() {
  TempFile f("fwd.bin");
  f.write(vqr_test::checkpoint_bytes(kGqaHeader, vqr_test::well_scaled_weights(kGqaHeader, 4)));
  return vqr::model::load_llama2c(f.path());
}
const std::vector<int32_t> kGqaTokens = {1, 17, 250, 3, 299, 42, 42, 8, 0, 123, 77, 5, 9, 200, 1, 64, 31};

TEST(Forward, CaptureIsSelfConsistentWithGqa) {
  const Model m = gqa_model();
  const std::vector<int32_t> &tokens = kGqaTokens;
  const int64_t T = static_cast<int64_t>(tokens.size()), V = m.config().vocab_size;

  Forward fwd(m, m.config().seq_len, 2);
  std::vector<float> logits(static_cast<size_t>(T * V)), plain(logits.size());
  vqr_test::CaptureLog log;
  fwd.run(tokens.data(), T, logits.data(), log.sink());
  vqr_test::check_capture_consistency(m, tokens, logits, log);

  // Capturing changes nothing, neither does the thread count, and nothing is carried over.
  Forward one(m, T, 1);
  one.run(tokens.data(), T, plain.data());
  EXPECT_EQ(plain, logits);
  // A prefix gives the prefix's logits (causality). On the BLAS path the SGEMM's blocking depends
  // on the number of tokens (rows), so a row's sums may be ordered differently: within the
  // summation-order bound; bit for bit in run.c's order (CausalityIsExactOnTheReferencePath).
  std::vector<float> prefix(static_cast<size_t>(5 * V));
  one.run(tokens.data(), 5, prefix.data());
  vqr_test::expect_logits_near(prefix, std::vector<float>(logits.begin(), logits.begin() + 5 * V),
                               vqr_test::forward_order_tolerance(m.config()));
  // Calibration mode: no logits, same captures.
  vqr_test::CaptureLog log2;
  fwd.run(tokens.data(), T, nullptr, log2.sink());
  ASSERT_EQ(log2.entries.size(), log.entries.size());
  for (size_t i = 0; i < log.entries.size(); ++i) EXPECT_EQ(log2.entries[i].x, log.entries[i].x);
}

// In run.c's order every output is one fixed-order sum whatever the batch: a prefix's logits are
// the full sequence's first rows bit for bit, and the BLAS path stays within the order bound of it.
TEST(Forward, CausalityIsExactOnTheReferencePath) {
  const Model m = gqa_model();
  const std::vector<int32_t> &tokens = kGqaTokens;
  const int64_t T = static_cast<int64_t>(tokens.size()), V = m.config().vocab_size;
  using vqr::model::MatmulPath;
  Forward ref(m, T, 2, MatmulPath::kReference), blas(m, T, 2, MatmulPath::kBlas);
  EXPECT_EQ(ref.path(), MatmulPath::kReference);
  std::vector<float> whole(static_cast<size_t>(T * V)), prefix(static_cast<size_t>(5 * V)), fast(whole.size());
  ref.run(tokens.data(), T, whole.data());
  ref.run(tokens.data(), 5, prefix.data());
  EXPECT_EQ(prefix, std::vector<float>(whole.begin(), whole.begin() + 5 * V));
  blas.run(tokens.data(), T, fast.data());
  vqr_test::expect_logits_near(fast, whole, vqr_test::forward_order_tolerance(m.config()));
}

// Forward::block in pieces equals run(); a sink that returns kStopBlock ends the block right after
// the input it asked for (the sequential quantizer's calibration passes rely on both).
TEST(Forward, BlockSinkStopsTheBlock) {
  TempFile f("fwdstop.bin");
  f.write(vqr_test::checkpoint_bytes(kGqaHeader, vqr_test::well_scaled_weights(kGqaHeader, 6)));
  const Model m = vqr::model::load_llama2c(f.path());
  const std::vector<int32_t> tokens = {1, 17, 250, 3, 299, 42};
  const int64_t T = static_cast<int64_t>(tokens.size()), C = m.config().dim;

  Forward whole(m, T, 1), pieces(m, T, 1);
  whole.run(tokens.data(), T, nullptr);
  pieces.embed(tokens.data(), T);
  for (int l = 0; l < m.config().n_layers; ++l) pieces.block(l, T);
  EXPECT_EQ(std::vector<float>(pieces.hidden(), pieces.hidden() + T * C),
            std::vector<float>(whole.hidden(), whole.hidden() + T * C));

  for (LinearInput stop_at : {LinearInput::kAttnNorm, LinearInput::kAttnOut, LinearInput::kFfnNorm,
                              LinearInput::kFfnHidden}) {
    std::vector<LinearInput> seen;
    pieces.embed(tokens.data(), T);
    pieces.block(0, T, [&](int layer, LinearInput input, const vqr::model::LinearBatch &x) {
      EXPECT_EQ(layer, 0);
      EXPECT_EQ(x.rows(), T);
      seen.push_back(input);
      return input == stop_at ? vqr::model::SinkAction::kStopBlock : vqr::model::SinkAction::kContinue;
    });
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.back(), stop_at);
    EXPECT_EQ(seen.size(), static_cast<size_t>(stop_at) + 1) << "inputs arrive in forward order, none after the stop";
  }
}

TEST(Forward, RejectsBadArguments) {
  TempFile f("fwdbad.bin");
  f.write(vqr_test::checkpoint_bytes(kGqaHeader, vqr_test::well_scaled_weights(kGqaHeader, 5)));
  const Model m = vqr::model::load_llama2c(f.path());
  EXPECT_THROW(Forward(m, 0), vqr::Error);
  EXPECT_THROW(Forward(m, m.config().seq_len + 1), vqr::Error);
  Forward fwd(m, 4, 1);
  const int32_t bad[] = {1, 300};
  expect_error([&] { fwd.run(bad, 2, nullptr); }, vqr::Status::InvalidArgument, {"position 1"});
  const int32_t ok[] = {1, 2, 3, 4, 5};
  expect_error([&] { fwd.run(ok, 5, nullptr); }, vqr::Status::InvalidArgument, {"5 tokens"});
  // An exception thrown by the sink leaves run().
  EXPECT_THROW(fwd.run(ok, 2, nullptr, [](int, LinearInput, const float *, int64_t, int64_t) { throw vqr::Error(vqr::Status::Cancelled, "stop"); }),
               vqr::Error);
}
