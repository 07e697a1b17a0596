// The state behind vqr_model and the whole-model operations on it (model_session.h).
#include "pipeline/model_session.h"

#include "model/forward.h"
#include "backend/backend.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/error.h"
#include "io/files.h"
#include "model/hf_checkpoint.h"
#include "model/linear_kinds.h"
#include "model/text_corpus.h"
#include "model/token_file.h"
#include "pipeline/collect_hessians.h"
#include "pipeline/phase_progress.h"

namespace vqr::pipeline {

namespace {

// resolve_model_source, except that a model without a tokenizer still loads: text then needs
// one, and tokenize() reports why there is none (`problem`).
model::ModelSource resolve_allowing_no_tokenizer(const std::string &path,
                                                 const std::optional<std::string> &tokenizer_path,
                                                 std::string *problem) {
  try {
    return model::resolve_model_source(path, tokenizer_path.value_or(""));
  } catch (const Error &e) {
    if (tokenizer_path.has_value() || e.status() != Status::Io) throw;
    model::ModelSource s;  // only the tokenizer beside a llama2.c checkpoint can be missing here
    if (io::is_regular_file(path)) {
      s.model_file = path;
    } else if (io::is_directory(path) && io::is_regular_file(path + "/" + model::kModelFileName)) {
      s.model_file = path + "/" + model::kModelFileName;
      if (io::is_regular_file(path + "/" + model::kMetadataFileName)) s.metadata_file = path + "/" + model::kMetadataFileName;
    } else {
      throw;
    }
    *problem = e.what();
    return s;
  }
}

// Bytes of the weight files: the checkpoint file, or a folder's safetensors.
int64_t weight_file_bytes(const model::ModelSource &s) {
  std::error_code ec;
  if (!std::filesystem::is_directory(s.model_file, ec)) return (int64_t)std::filesystem::file_size(s.model_file, ec);
  int64_t total = 0;
  for (const auto &e : std::filesystem::directory_iterator(s.model_file, ec))
    if (e.path().extension() == ".safetensors") total += (int64_t)e.file_size(ec);
  return total;
}

void require_index(bool ok) { require(ok, Status::InvalidArgument, "index is out of range"); }

// Streamed (issue 16, DESIGN §5 "Scale"): the weights stay in the mapped file in their own dtype
// and one block at a time is widened, so a checkpoint larger than memory loads and evaluates.
constexpr model::Storage kSessionStorage = model::Storage::kStreamed;

}  // namespace

ModelSession::ModelSession(model::Model m, std::optional<model::Tokenizer> t, std::string problem,
                           model::ModelSource src)
    : model_(std::move(m)), tokenizer_(std::move(t)), tokenizer_problem_(std::move(problem)), source_(std::move(src)) {
  architecture_ = model_.config().architecture.empty() ? "llama2.c" : model_.config().architecture;
  file_bytes_ = weight_file_bytes(source_);
  if (source_.format == model::ModelFormat::kHuggingFace)
    quantization_ = model::read_hf_quantization_info(source_.model_file).method;
  for (int l = 0; l < model_.config().n_layers; ++l)
    for (model::LinearKind k : model_.config().linear_kinds()) linear_names_.push_back(model::Model::linear_name(l, k));
}

ModelSession ModelSession::load(const std::string &path, const std::optional<std::string> &tokenizer_path) {
  std::string problem;
  const model::ModelSource src = resolve_allowing_no_tokenizer(path, tokenizer_path, &problem);
  model::Model m = model::load_model(src, kSessionStorage);
  std::optional<model::Tokenizer> t;
  if (!src.tokenizer_file.empty())
    t = model::Tokenizer::load(src.tokenizer_file, m.config().vocab_size);
  else if (problem.empty())
    problem = src.model_file + ": no tokenizer.model or tokenizer.bin; hint: pass tokenizer_path to vqr_model_load, "
              "or tokenize elsewhere and pass ids";
  return ModelSession(std::move(m), std::move(t), std::move(problem), src);
}

const model::Tokenizer &ModelSession::require_tokenizer() const {
  require(tokenizer_.has_value(), Status::Unsupported, tokenizer_problem_);
  return *tokenizer_;
}

std::vector<int32_t> ModelSession::tokenize(const std::string &text, bool bos) const {
  return require_tokenizer().encode(text, bos, false);
}

void ModelSession::add_override(const std::string &pattern, quant::Param param, double value, bool as_float) {
  quant::check_param_value(param, value, as_float);
  overrides_.push_back({pattern, {{param, value}}, false});
}

void ModelSession::skip_layers(const std::string &pattern) { overrides_.push_back({pattern, {}, true}); }

void ModelSession::set_metadata(const std::string &key, const char *value) {
  metadata_.erase(std::remove_if(metadata_.begin(), metadata_.end(), [&](const auto &kv) { return kv.first == key; }),
                  metadata_.end());
  if (value) metadata_.emplace_back(key, value);
}

void ModelSession::set_calibration(DType calib_dtype, int64_t max_memory_bytes, const std::string &spill_dir) {
  require(calib_dtype == DType::F32 || calib_dtype == DType::BF16 || calib_dtype == DType::F16,
          Status::InvalidArgument, "calib_dtype " + std::to_string((int)calib_dtype) + " is not F32, BF16 or F16");
  require(max_memory_bytes >= 0, Status::InvalidArgument,
          "max_memory_bytes " + std::to_string(max_memory_bytes) + " is negative (0 = no limit)");
  require(spill_dir.empty() || io::is_directory(spill_dir), Status::InvalidArgument,
          "spill_dir " + spill_dir + " is not an existing folder");
  calibration_.calib_dtype = calib_dtype;
  calibration_.max_memory_bytes = max_memory_bytes;
  calibration_.spill_dir = spill_dir;
}

void ModelSession::set_distill_files(const std::string &teacher_cache, const std::string &checkpoint, bool resume) {
  require(!resume || !checkpoint.empty(), Status::InvalidArgument, "resume needs a checkpoint path");
  calibration_.teacher_cache = teacher_cache;
  calibration_.checkpoint = checkpoint;
  calibration_.resume = resume;
}

void ModelSession::quantize(Context *ctx, const quant::QuantConfig &config, const model::Sequences &windows) {
  std::vector<float>().swap(linear_copy_);  // linear()'s copy is documented valid until here
  PipelineOptions options;
  options.config = config;
  options.calib_dtype = calibration_.calib_dtype;
  options.max_memory_bytes = calibration_.max_memory_bytes;
  options.spill_dir = calibration_.spill_dir;
  options.on_phase = phase_progress(ctx);
  options.overrides = overrides_;
  options.threads = thread_count(ctx);
  options.teacher_cache = calibration_.teacher_cache;
  options.checkpoint = calibration_.checkpoint;
  options.resume = calibration_.resume;
  std::unique_ptr<model::Model> teacher;
  if (config.e2e && config.teacher_online) {
    teacher = std::make_unique<model::Model>(model::load_model(source_, kSessionStorage));
    options.teacher_model = teacher.get();
  }
  // Records become visible as layers finish, so a progress callback can read them.
  last_ = {};
  options.on_layer = [this](const LayerRecord &r, int64_t, int64_t) { last_.layers.push_back(r); };
  options_ = options;
  options_.on_layer = nullptr;
  options_.on_phase = nullptr;
  options_.teacher_model = nullptr;
  QuantizedModel done = quantize_sequential(model_, windows, options, ctx);
  last_ = std::move(done);
  quantized_layers_ = 0;
  for (const auto &r : last_.layers) quantized_layers_ += r.skipped ? 0 : 1;
  calibration_samples_ = (int64_t)windows.size();
  calibration_seqlen_ = 0;
  calibration_tokens_ = 0;
  for (const auto &w : windows) {
    calibration_seqlen_ = std::max<int64_t>(calibration_seqlen_, (int64_t)w.size());
    calibration_tokens_ += (int64_t)w.size();
  }
  seed_ = ctx ? ctx->seed : 0;
}

const LayerRecord &ModelSession::layer(int64_t index) const {
  require_index(index >= 0 && index < (int64_t)last_.layers.size());
  return last_.layers[(size_t)index];
}

LayerSummary ModelSession::layer_summary(int64_t index) const {
  LayerSummary s;
  s.record = &layer(index);
  s.config = quant::resolve_presets(s.record->config);
  s.rows = model_.linear_rows(s.record->kind);  // shapes only: nothing is widened
  s.cols = model_.linear_cols(s.record->kind);
  return s;
}

LinearEntry ModelSession::linear(int64_t index) const {
  require_index(index >= 0 && index < linear_count());
  const model::LinearKindList kinds = model_.config().linear_kinds();
  const int layer = (int)(index / kinds.size());
  const model::LinearKind kind = kinds[(int)(index % kinds.size())];
  LinearEntry e;
  e.name = &linear_names_[(size_t)index];
  if (model_.streamed()) {
    // A copy of this one layer (the block cache may evict its own on the next widening).
    e.weight.rows = model_.linear_rows(kind);
    e.weight.cols = model_.linear_cols(kind);
    linear_copy_.assign((size_t)(e.weight.rows * e.weight.cols), 0.0f);
    model_.read_linear_rows(layer, kind, 0, e.weight.rows, linear_copy_.data());
    e.weight.data = linear_copy_.data();
  } else {
    e.weight = model_.linear(layer, kind);
  }
  e.hessian_index = (int64_t)layer * model::kLinearInputCount + (int64_t)model::input_of(kind);
  return e;
}

int64_t ModelSession::hessian_count() const { return (int64_t)model_.config().n_layers * model::kLinearInputCount; }

std::vector<hessian::Hessian> ModelSession::collect_hessians(Context *ctx, const model::Sequences &sequences) const {
  return pipeline::collect_hessians(model_, sequences, ctx);
}

model::NllResult ModelSession::evaluate(Context *ctx, const model::Sequences &sequences) const {
  std::vector<model::TokenSpan> spans;
  for (const auto &seq : sequences) spans.push_back({seq.data(), (int64_t)seq.size()});
  const int64_t total = (int64_t)sequences.size();
  Progress progress(ctx, "eval", total);
  const model::NllResult r = model::eval_spans(model_, spans, thread_count(ctx), &progress, model::MatmulPath::kBlas,
                                                    model::kEvalHiddenBudgetBytes, &backend_of(ctx));
  progress.checkpoint(total, true);
  return r;
}

void ModelSession::logits(Context *ctx, const int32_t *tokens, int64_t n, float *out) const {
  require(n >= 1 && n <= seq_len(), Status::InvalidArgument,
          "logits: " + std::to_string(n) + " tokens, outside [1, seq_len " + std::to_string(seq_len()) + "]");
  model::Forward fwd(model_, n, thread_count(ctx));
  fwd.set_backend(backend_of(ctx));
  fwd.run(tokens, n, out);  // validates the token ids
  model_.release_vocab();
}

model::SamplingRequest ModelSession::sampling_request(model::Sampling sampling, int64_t count, int64_t length,
                                                      uint64_t seed) const {
  return model::sampling_request(sampling, count, length, seed, seq_len());
}

model::Sequences ModelSession::sample_text(const std::string &text, const model::SamplingRequest &r) const {
  return model::sample_text(require_tokenizer(), text, r);
}

model::Sequences ModelSession::sample_ids(const std::vector<int32_t> &ids, const model::SamplingRequest &r) const {
  return model::sample_ids(ids, model_.config().vocab_size, r);
}

model::Sequences ModelSession::sample_file(const std::string &path, bool is_ids, const model::SamplingRequest &r) const {
  if (!is_ids) return sample_text(model::read_text_file(path), r);
  require(r.sampling != model::Sampling::Paragraphs, Status::InvalidArgument,
          path + ": ids carry no paragraph boundaries; use windows or random windows");
  return sample_ids(model::read_token_file(path, model_.config().vocab_size), r);
}

FolderMetadata ModelSession::folder_metadata() const {
  FolderMetadata meta;
  meta.source_model = source_.model_file;
  meta.calibration_samples = calibration_samples_;
  meta.calibration_seqlen = calibration_seqlen_;
  meta.seed = seed_;
  meta.overrides = overrides_text(options_.overrides);
  meta.extra = metadata_;
  for (const auto &[key, value] : metadata_)
    if (key == "calibration_file") meta.calibration_file = value;
  return meta;
}

ExportSubject ModelSession::subject() const {
  ExportSubject s;
  s.model = &model_;
  s.source = &source_;
  s.tokenizer = tokenizer();
  s.options = &options_;
  s.result = &last_;
  s.metadata = folder_metadata();
  return s;
}

void ModelSession::save(const std::string &dir) const {
  write_model_folder(model_, source_, options_, last_, folder_metadata(), dir);
}

void ModelSession::export_to(const ExportRequest &request, const std::string &path, ExportNotes *notes,
                             Context *ctx) const {
  export_model(subject(), request, path, notes, ctx);
}

std::string overrides_text(const std::vector<LayerOverride> &rules) {
  std::string out;
  for (const auto &r : rules) {
    std::string fields;
    for (const auto &[param, value] : r.params) {
      const int i = quant::param_index(param);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", value);
      fields += (fields.empty() ? "" : ",") + std::string(i >= 0 ? quant::param_table()[i].name : "?") + "=" + buf;
    }
    if (r.skip) fields += fields.empty() ? "skip" : ",skip";
    out += (out.empty() ? "" : ";") + r.pattern + ":" + fields;
  }
  return out;
}

}  // namespace vqr::pipeline
