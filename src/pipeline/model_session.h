// A loaded model and what the library remembers about it between calls (the state behind
// vqr_model): its tokenizer, the per-layer override rules, caller metadata, and the last
// quantization's options, records and codes. Every operation on a whole model goes through here
// (quantize, evaluate, collect Hessians, sample sequences, save, export), so the C API only
// checks and translates arguments. One session is used by one thread at a time (DESIGN §2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/context.h"
#include "hessian/hessian.h"
#include "model/evaluate.h"
#include "model/model.h"
#include "model/model_source.h"
#include "model/sequences.h"
#include "model/tokenizer.h"
#include "pipeline/export.h"
#include "pipeline/model_folder.h"
#include "pipeline/sequential_quantizer.h"
#include "quant/config.h"

namespace vqr::pipeline {

// One record of the last quantization with what vqr_layer_info reports beside it.
struct LayerSummary {
  const LayerRecord *record = nullptr;
  quant::QuantConfig config;  // the record's configuration, presets resolved
  int64_t rows = 0, cols = 0;  // the layer's weight
};

// Linear layer `index` of the model (block index / 7, kind index % 7, llama2.c order).
struct LinearEntry {
  const std::string *name = nullptr;  // "blk.L.wq", owned by the session
  model::LinearWeight weight;         // resident: borrowed from the model; streamed: the session's copy
  int64_t hessian_index = 0;          // its input's entry in collect_hessians()
};

class ModelSession {
 public:
  // Loads a llama2.c checkpoint (file or folder), a Hugging Face folder or a GGUF file, with the
  // tokenizer at tokenizer_path (none: the one beside the model), as a streamed model
  // (model::Storage::kStreamed): the weights stay in the mapped file and the model widens one block
  // at a time. A llama2.c model without a
  // tokenizer beside it still loads; tokenize() then says why there is none. Throws the errors of
  // model::resolve_model_source and model::load_model.
  static ModelSession load(const std::string &path, const std::optional<std::string> &tokenizer_path);

  const model::Model &model() const { return model_; }
  const model::ModelSource &source() const { return source_; }
  const std::string &architecture() const { return architecture_; }  // "llama2.c" or config.json's
  const std::string &quantization() const { return quantization_; }  // "" or the checkpoint's method
  int64_t file_bytes() const { return file_bytes_; }                 // the weight files
  int64_t quantized_layers() const { return quantized_layers_; }     // of the last quantization
  int64_t seq_len() const { return model_.config().seq_len; }

  // The tokenizer, or nullptr when there is none.
  const model::Tokenizer *tokenizer() const { return tokenizer_ ? &*tokenizer_ : nullptr; }
  // text as ids (with BOS when bos). Throws Error(Status::Unsupported) naming why there is no tokenizer.
  std::vector<int32_t> tokenize(const std::string &text, bool bos) const;

  // Override rules (sequential_quantizer.h), applied in order by the next quantize().
  // add_override checks the value (quant::check_param_value); the caller checks the pattern.
  void add_override(const std::string &pattern, quant::Param param, double value, bool as_float);
  void skip_layers(const std::string &pattern);
  void clear_overrides() { overrides_.clear(); }

  // Sets (value non-NULL) or removes (NULL) a provenance key for vqround.json.
  void set_metadata(const std::string &key, const char *value);

  // How the next quantize() stores the calibration hidden states (PipelineOptions: calib_dtype F32,
  // BF16 or F16; max_memory_bytes >= 0, 0 = no limit; spill_dir "" = TMPDIR or /tmp, else an
  // existing folder). Throws Error(Status::InvalidArgument) naming the bad argument.
  void set_calibration(DType calib_dtype, int64_t max_memory_bytes, const std::string &spill_dir);
  // The files of the next end-to-end quantize() (VQR_PARAM_E2E; end_to_end.h): the teacher cache
  // ("" = none), the checkpoint ("" = none) and whether to resume from it (which needs one).
  // Throws Error(Status::InvalidArgument) for resume without a checkpoint path.
  void set_distill_files(const std::string &teacher_cache, const std::string &checkpoint, bool resume);

  // Quantizes the model in place on calibration sequences (1..seq_len tokens each) with `config`
  // and the override rules; the records grow while it runs, so a progress callback may read them.
  // With end-to-end distillation and an online teacher, the checkpoint is mapped a second time (as
  // loaded, whatever an earlier quantize() did to this model) to run the full-precision teacher.
  // Throws the errors of quantize_sequential (and of load_model for the online teacher).
  void quantize(Context *ctx, const quant::QuantConfig &config, const model::Sequences &windows);

  // The last quantization whole: records, per-phase seconds, peak hidden-state bytes; the
  // options it ran with; its calibration sequences and tokens (0 before one).
  const QuantizedModel &last_run() const { return last_; }
  const PipelineOptions &last_options() const { return options_; }
  int64_t calibration_sequences() const { return calibration_samples_; }
  int64_t calibration_tokens() const { return calibration_tokens_; }

  // Records of the last quantization, in processing order (empty before one).
  const std::vector<LayerRecord> &layers() const { return last_.layers; }
  // Throws Error(Status::InvalidArgument) "index is out of range".
  const LayerRecord &layer(int64_t index) const;
  LayerSummary layer_summary(int64_t index) const;

  int64_t linear_count() const { return (int64_t)linear_names_.size(); }
  // Throws Error(Status::InvalidArgument) "index is out of range". For a streamed model the weight
  // is a copy owned by the session, valid until the next linear() call, quantize() or the session's
  // end; the sources' errors (e.g. Status::Format for a non-finite weight) surface here.
  LinearEntry linear(int64_t index) const;
  // How many Hessians collect_hessians() gives: n_layers * kLinearInputCount.
  int64_t hessian_count() const;
  // One Hessian per distinct linear input (pipeline/collect_hessians.h).
  std::vector<hessian::Hessian> collect_hessians(Context *ctx, const model::Sequences &sequences) const;

  // Sum of NLL and predicted tokens over sequences (each with a fresh context). Progress "eval".
  model::NllResult evaluate(Context *ctx, const model::Sequences &sequences) const;
  // logits (n x vocab) of tokens[0..n) with a fresh context, on ctx's backend (vqr_model_logits).
  void logits(Context *ctx, const int32_t *tokens, int64_t n, float *out) const;

  // Sequences by a sampling protocol (model/sequences.h); the request is checked against seq_len.
  model::SamplingRequest sampling_request(model::Sampling sampling, int64_t count, int64_t length,
                                          uint64_t seed) const;
  model::Sequences sample_text(const std::string &text, const model::SamplingRequest &r) const;
  model::Sequences sample_ids(const std::vector<int32_t> &ids, const model::SamplingRequest &r) const;
  // A text file, or (is_ids) a token-id file (model/token_file.h).
  model::Sequences sample_file(const std::string &path, bool is_ids, const model::SamplingRequest &r) const;

  // The native folder (model_folder.h) and any export format (export.h), with this session's provenance.
  void save(const std::string &dir) const;
  // ctx (may be NULL): progress and cancellation, as export_model says.
  void export_to(const ExportRequest &request, const std::string &path, ExportNotes *notes,
                 Context *ctx = nullptr) const;

  // vqround.json's provenance: source, calibration, seed, overrides, metadata.
  FolderMetadata folder_metadata() const;

 private:
  ModelSession(model::Model m, std::optional<model::Tokenizer> t, std::string problem, model::ModelSource src);
  ExportSubject subject() const;
  // The tokenizer, or Error(Status::Unsupported) saying why there is none.
  const model::Tokenizer &require_tokenizer() const;

  model::Model model_;
  std::optional<model::Tokenizer> tokenizer_;  // absent: none found or given
  std::string tokenizer_problem_;              // why there is none (tokenize's message)
  model::ModelSource source_;
  std::string architecture_;
  std::string quantization_;
  int64_t file_bytes_ = 0;
  std::vector<std::string> linear_names_;  // "blk.L.wq", ... in linear()'s index order
  std::vector<LayerOverride> overrides_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  PipelineOptions calibration_;  // set_calibration's fields, for the next quantize
  PipelineOptions options_;  // of the last quantize
  QuantizedModel last_;      // its records (growing while it runs) and codes
  int64_t quantized_layers_ = 0;
  int64_t calibration_samples_ = 0, calibration_seqlen_ = 0, calibration_tokens_ = 0;
  uint64_t seed_ = 0;
  mutable std::vector<float> linear_copy_;  // linear()'s weight of a streamed model
};

// The override rules as text, "blk.0.*:bits=8;*.w2:skip" (vqround.json's "override").
std::string overrides_text(const std::vector<LayerOverride> &rules);

}  // namespace vqr::pipeline
