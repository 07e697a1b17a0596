// Where a model comes from: a llama2.c checkpoint file; a GGUF file (recognized by its magic,
// gguf_model.h), which carries its own tokenizer; a Hugging Face folder (config.json + safetensors,
// hf_checkpoint.h); or a native quantized-model folder (pipeline/model_folder.h), which is a
// llama2.c or Hugging Face model plus vqround.json. The tokenizer is the explicit one when given;
// else the GGUF file itself; in a folder, its tokenizer.json when that is a byte-level BPE
// (GPT-2, Llama 3, Qwen2), else its tokenizer.model or tokenizer.bin; beside a llama2.c
// checkpoint file a `tokenizer.bin` or the single `tok*.bin`. A Hugging Face folder may have no tokenizer this library reads (e.g. only a
// WordPiece tokenizer.json): tokenizer_file is then empty and text needs --tokenizer or pre-tokenized ids.
#pragma once

#include <string>

#include "model/model.h"

namespace vqr::model {

enum class ModelFormat : int { kLlama2c = 0, kHuggingFace = 1, kGguf = 2 };

struct ModelSource {
  ModelFormat format = ModelFormat::kLlama2c;
  std::string model_file;      // the llama2.c checkpoint or GGUF file, or the Hugging Face folder
  std::string tokenizer_file;  // resolved tokenizer (a GGUF's own path); may be empty for a Hugging Face folder
  std::string metadata_file;   // vqround.json of a quantized folder, else empty
};

// "llama2c-v0", "huggingface" or "gguf".
const char *model_format_name(ModelFormat format);

// Names inside a native model folder.
inline constexpr const char *kModelFileName = "model.bin";
inline constexpr const char *kTokenizerFileName = "tokenizer.bin";
inline constexpr const char *kSentencePieceFileName = "tokenizer.model";
inline constexpr const char *kHfTokenizerJsonFileName = "tokenizer.json";
inline constexpr const char *kMetadataFileName = "vqround.json";

// tokenizer_path may be empty. Throws vqr::Error(Status::Io) "<path>: <problem>; hint: <fix>" when
// nothing usable is found.
ModelSource resolve_model_source(const std::string &model_path, const std::string &tokenizer_path);

// The name a tokenizer file gets inside a model folder, by its kind: tokenizer.model for a
// SentencePiece ".model" file, tokenizer.json for a ".json" one, tokenizer.bin otherwise (the
// names resolve_model_source looks for).
const char *tokenizer_name_in_folder(const std::string &tokenizer_file);

// Loads the model a source names (load_llama2c, load_hf_checkpoint or load_gguf; their errors), in
// fp32 in one arena (Storage::kResident) or with its large tensors left in the mapped file
// (Storage::kStreamed, issue 16: what a real checkpoint needs).
Model load_model(const ModelSource &source, Storage storage = Storage::kResident);


}  // namespace vqr::model
