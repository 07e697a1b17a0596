// pipeline/model_session.h and collect_hessians.h on stories260K: a model without a tokenizer
// loads and says why text needs one; override rules, metadata and the last quantization reach
// vqround.json's provenance; linear layers map to their input's Hessian; the collected Hessians
// equal ones accumulated here from the forward's own activation sink, one sequence at a time.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/scratch_files.h"
#include "core/error.h"
#include "hessian/hessian.h"
#include "model/data_dir.h"
#include "model/forward.h"
#include "model/linear_kinds.h"
#include "pipeline/model_session.h"
#include "quant/config.h"

namespace {

namespace fs = std::filesystem;
using vqr::pipeline::ModelSession;
using vqr_test::expect_error;
using vqr_test::Hint;

std::string model_dir(const std::string &data) { return data + "/models/stories260K"; }

ModelSession load(const std::string &data) {
  return ModelSession::load(model_dir(data) + "/stories260K.bin", model_dir(data) + "/tok512.bin");
}

TEST(ModelSession, LoadsWithoutATokenizerAndSaysWhy) {
  VQR_DATA_DIR_OR_SKIP(data);
  vqr_test::TempDir dir("session");
  fs::copy_file(model_dir(data) + "/stories260K.bin", dir.path() + "/model.bin");
  const ModelSession s = ModelSession::load(dir.path(), std::nullopt);
  EXPECT_EQ(s.tokenizer(), nullptr);
  EXPECT_EQ(s.architecture(), "llama2.c");
  EXPECT_GT(s.file_bytes(), 0);
  expect_error([&] { s.tokenize("Once", true); }, vqr::Status::Unsupported, "tokenizer");
  expect_error([&] { ModelSession::load(dir.path(), std::string(dir.path() + "/none.bin")); }, vqr::Status::Io, "none.bin",
               Hint::kOptional);
}

TEST(ModelSession, ProvenanceRecordsRulesMetadataAndCalibration) {
  VQR_DATA_DIR_OR_SKIP(data);
  ModelSession s = load(data);
  s.add_override("blk.0.*", vqr::quant::Param::Bits, 8, false);
  s.skip_layers("*.w2");
  expect_error([&] { s.add_override("*", vqr::quant::Param::Bits, 99, false); }, vqr::Status::OutOfRange, "bits", Hint::kOptional);
  s.set_metadata("calibration_file", "a.txt");
  s.set_metadata("note", "x");
  s.set_metadata("note", nullptr);  // removed
  const std::vector<int32_t> ids = s.tokenize("Once upon a time there was a cat.", true);
  vqr::Context *ctx = nullptr;
  vqr::quant::QuantConfig config;
  s.quantize(ctx, config, {ids, ids});
  const vqr::pipeline::FolderMetadata meta = s.folder_metadata();
  EXPECT_EQ(meta.overrides, "blk.0.*:bits=8;*.w2:skip");
  EXPECT_EQ(meta.calibration_file, "a.txt");
  ASSERT_EQ(meta.extra.size(), 1u);
  EXPECT_EQ(meta.calibration_samples, 2);
  EXPECT_EQ(meta.calibration_seqlen, (int64_t)ids.size());
  const int64_t layers = s.model().config().n_layers;
  EXPECT_EQ((int64_t)s.layers().size(), layers * vqr::model::kLinearKindCount);
  EXPECT_EQ(s.quantized_layers(), layers * (vqr::model::kLinearKindCount - 1));
  const vqr::pipeline::LayerSummary first = s.layer_summary(0);
  EXPECT_EQ(first.record->name, "blk.0.wq");
  EXPECT_EQ(first.config.bits, 8);
  expect_error([&] { s.layer((int64_t)s.layers().size()); }, vqr::Status::InvalidArgument, "index is out of range",
               Hint::kOptional);
}

TEST(ModelSession, HessiansMatchTheForwardsActivations) {
  VQR_DATA_DIR_OR_SKIP(data);
  const ModelSession s = load(data);
  const vqr::model::Sequences seqs = {s.tokenize("Once upon a time", true), s.tokenize("The dog ran home.", true)};
  const std::vector<vqr::hessian::Hessian> hs = s.collect_hessians(nullptr, seqs);
  ASSERT_EQ((int64_t)hs.size(), s.hessian_count());
  // The reference: one accumulator per input, fed by the forward's sink directly.
  const vqr::model::ModelConfig &c = s.model().config();
  std::vector<vqr::hessian::Hessian> ref;
  for (int l = 0; l < c.n_layers; ++l)
    for (int i = 0; i < vqr::model::kLinearInputCount; ++i)
      ref.emplace_back(c.input_width((vqr::model::LinearInput)i), false);
  for (const auto &seq : seqs) {
    vqr::model::Forward fwd(s.model(), (int64_t)seq.size(), 1);
    fwd.run(seq.data(), (int64_t)seq.size(), nullptr,
            [&](int layer, vqr::model::LinearInput input, const float *x, int64_t n, int64_t width) {
              ref[(size_t)(layer * vqr::model::kLinearInputCount + (int)input)].add(
                  vqr::tensor_2d(x, vqr::DType::F32, n, width, 0));
            });
  }
  for (size_t i = 0; i < hs.size(); ++i) {
    const int64_t n = hs[i].width();
    ASSERT_EQ(n, ref[i].width());
    EXPECT_EQ(hs[i].tokens(), (int64_t)(seqs[0].size() + seqs[1].size()));
    std::vector<float> a((size_t)(n * n)), b((size_t)(n * n));
    hs[i].read(a.data(), n);
    ref[i].read(b.data(), n);
    EXPECT_EQ(a, b) << "Hessian " << i;
  }
  // Each linear layer points at its input's Hessian, with the matching width.
  for (int64_t i = 0; i < s.linear_count(); ++i) {
    const vqr::pipeline::LinearEntry e = s.linear(i);
    EXPECT_EQ(hs[(size_t)e.hessian_index].width(), e.weight.cols) << *e.name;
  }
  expect_error([&] { s.linear(s.linear_count()); }, vqr::Status::InvalidArgument, "index is out of range", Hint::kOptional);
}

}  // namespace
