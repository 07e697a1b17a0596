// Every export format on a streamed model (issue 16; pipeline/export.h, checkpoint_export.h,
// model_folder.h): a small random model is quantized by the sequential pipeline, and its resident
// form and a streamed copy of it (model/streamed_copy.h) are exported with the same result through
// pipeline::export_model; the folders and files must be byte-identical and the notes the same.
// Formats: native (llama2.c and Hugging Face sources), huggingface (F32, F16, BF16), llama2c, gptq,
// compressed-tensors and gguf (F32, F16), for a symmetric 4-bit grid (GPTQ v1, GGUF Q4_0) and an
// asymmetric act-order 8-bit one (GPTQ v2, compressed-tensors with g_idx, GGUF dense fallback).
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/scratch_files.h"
#include "io/gguf.h"
#include "model/hf_checkpoint.h"
#include "model/llama2c_format.h"
#include "model/model_source.h"
#include "model/small_models.h"
#include "model/streamed_copy.h"
#include "model/synthetic_files.h"
#include "model/tokenizer.h"
#include "pipeline/export.h"
#include "pipeline/sequential_quantizer.h"

namespace {

using vqr::model::Model;
using vqr::model::ModelConfig;
using vqr::pipeline::Format;
using vqr_test::TempDir;
namespace fs = std::filesystem;

// small_models.h's shapes with llama2.c's epsilon and theta, so the llama2c format can hold both the
// interleaved (llama2.c, tied classifier) and the half-layout (Hugging Face Llama) model.
ModelConfig export_config(bool hf) {
  ModelConfig c = vqr_test::small_config(hf ? "LlamaForCausalLM" : "");
  c.shared_classifier = !hf;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  return c;
}

vqr::pipeline::PipelineOptions options(vqr::quant::Method method, int bits, bool sym, bool act_order) {
  vqr::pipeline::PipelineOptions o;
  o.config.method = method;
  o.config.bits = bits;
  o.config.group_size = 32;
  o.config.sym = sym;
  o.config.act_order = act_order;
  o.config.scale_dtype = vqr::DType::F16;  // what the GPTQ / GGUF checkpoints store
  o.threads = 1;
  return o;
}

struct Case {
  const char *name;
  bool hf;
  vqr::quant::Method method;
  int bits;
  bool sym, act_order;
};

TEST(StreamedExport, EveryFormatWritesTheSameBytesFromAStreamedCopy) {
  TempDir dir("streamed_export");
  const std::string tok_path = dir.path() + "/tok.bin";
  const std::vector<char> tok_bytes = vqr_test::tokenizer_bytes(vqr_test::small_vocab(), 8);
  vqr_test::write_file(tok_path, std::string(tok_bytes.begin(), tok_bytes.end()));
  const vqr::model::Tokenizer tok = vqr::model::Tokenizer::load(tok_path, 0);
  std::mt19937 rng(5);
  std::vector<std::vector<int32_t>> windows(4, std::vector<int32_t>(16));
  for (auto &w : windows)
    for (int32_t &t : w) t = static_cast<int32_t>(rng() % 275);

  const Case cases[] = {{"llama2c_sym4", false, vqr::quant::Method::Rtn, 4, true, false},
                        {"hf_asym8_actorder", true, vqr::quant::Method::Gptq, 8, false, true}};
  for (const Case &tc : cases) {
    SCOPED_TRACE(tc.name);
    const std::string root = dir.path() + "/" + tc.name;
    fs::create_directories(root + "/source");
    Model m = vqr_test::random_model(export_config(tc.hf), 11);
    // The source the exporters copy from: a llama2.c file, or a Hugging Face folder.
    vqr::model::ModelSource source;
    if (tc.hf) {
      vqr::model::save_hf_checkpoint(m, root + "/source", "", "F32");
      fs::copy_file(tok_path, root + "/source/tokenizer.bin");
      source = vqr::model::resolve_model_source(root + "/source", "");
    } else {
      vqr::model::save_llama2c(m, root + "/source/model.bin");
      source.format = vqr::model::ModelFormat::kLlama2c;
      source.model_file = root + "/source/model.bin";
      source.tokenizer_file = tok_path;
    }
    const vqr::pipeline::PipelineOptions o = options(tc.method, tc.bits, tc.sym, tc.act_order);
    const vqr::pipeline::QuantizedModel result = vqr::pipeline::quantize_sequential(m, windows, o, nullptr);
    ASSERT_FALSE(result.results.empty());
    const Model streamed = vqr_test::streamed_copy(m, 1);

    struct Request {
      Format format;
      vqr::DType dtype;
    };
    const Request requests[] = {{Format::Native, vqr::DType::F16},      {Format::HuggingFace, vqr::DType::F32},
                                {Format::HuggingFace, vqr::DType::F16}, {Format::HuggingFace, vqr::DType::BF16},
                                {Format::Llama2c, vqr::DType::F32},     {Format::Gptq, vqr::DType::F16},
                                {Format::CompressedTensors, vqr::DType::BF16}, {Format::Gguf, vqr::DType::F32},
                                {Format::Gguf, vqr::DType::F16}};
    int n = 0;
    for (const Request &r : requests) {
      const std::string what = std::string(vqr::pipeline::format_name(r.format)) + "_" + std::to_string(static_cast<int>(r.dtype));
      SCOPED_TRACE(what);
      const std::string out = "/out" + std::to_string(n++) + (r.format == Format::Gguf ? ".gguf" : r.format == Format::Llama2c ? ".bin" : "");
      fs::create_directories(root + "/resident");
      fs::create_directories(root + "/streamed");
      vqr::pipeline::ExportSubject subject;
      subject.source = &source;
      subject.tokenizer = &tok;
      subject.options = &o;
      subject.result = &result;
      subject.metadata.source_model = "test";
      vqr::pipeline::ExportRequest request;
      request.format = r.format;
      request.dtype = r.dtype;
      request.max_shard_bytes = 60000;  // several shards
      vqr::ExportNotes notes_r, notes_s;
      subject.model = &m;
      vqr::pipeline::export_model(subject, request, root + "/resident" + out, &notes_r);
      subject.model = &streamed;
      vqr::pipeline::export_model(subject, request, root + "/streamed" + out, &notes_s);
      vqr_test::expect_same_files(root + "/resident" + out, root + "/streamed" + out);
      ASSERT_EQ(notes_r.size(), notes_s.size());
      for (size_t i = 0; i < notes_r.size(); ++i) EXPECT_EQ(notes_r[i].text, notes_s[i].text);
      if (r.format == Format::Gguf) {  // the symmetric 4-bit grid took the block path, act-order the dense one
        const vqr::io::GgufFile f = vqr::io::GgufFile::open(root + "/streamed" + out);
        int blocks = 0;
        for (const auto &t : f.tensors()) blocks += t.type == 2u;
        EXPECT_EQ(blocks, tc.act_order ? 0 : 14);
      }
    }
  }
}

}  // namespace
