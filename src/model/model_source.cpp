// Model and tokenizer path resolution (model_source.h).
#include "model/model_source.h"

#include <dirent.h>

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "io/files.h"
#include "model/bpe_hf_json.h"
#include "model/gguf_model.h"
#include "model/hf_checkpoint.h"
#include "model/llama2c_format.h"

namespace vqr::model {

namespace {

[[noreturn]] void fail(const std::string &subject, const std::string &problem, const std::string &hint) {
  throw Error(Status::Io, subject + ": " + problem + "; hint: " + hint);
}

// A folder's tokenizer.json that this library tokenizes with (byte-level BPE); a Llama 2 style
// tokenizer.json (Metaspace BPE) beside tokenizer.model is not, and an unsupported or broken one
// is left alone here (the folder then loads as before, without it). The JSON is parsed twice, here
// and by Tokenizer::load.
bool byte_level_tokenizer_json(const std::string &path) {
  if (!io::is_regular_file(path)) return false;
  try {
    static const io::ReadLimit kLimit{size_t{256} << 20, "larger than 256 MiB, too large for a tokenizer", "remove it"};
    return bpe::is_byte_level_bpe(io::read_file(path, "check the model folder", &kLimit));
  } catch (const Error &) {
    return false;
  }
}

// The tokenizer beside a checkpoint file: tokenizer.bin, else the single tok*.bin.
std::string tokenizer_beside(const std::string &model_file) {
  const std::string dir = io::parent_folder(model_file);
  if (io::is_regular_file(dir + "/tokenizer.bin")) return dir + "/tokenizer.bin";
  std::vector<std::string> found;
  if (DIR *d = opendir(dir.c_str())) {
    while (const dirent *e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() > 7 && name.compare(0, 3, "tok") == 0 && name.compare(name.size() - 4, 4, ".bin") == 0 &&
          io::is_regular_file(dir + "/" + name))
        found.push_back(dir + "/" + name);
    }
    closedir(d);
  }
  std::sort(found.begin(), found.end());
  if (found.size() == 1) return found[0];
  if (found.empty())
    fail(model_file, "no tokenizer.bin or tok*.bin beside it", "pass the model's llama2.c tokenizer explicitly");
  std::string list;
  for (const std::string &f : found) list += (list.empty() ? "" : ", ") + f;
  fail(model_file, "several candidate tokenizers beside it: " + list, "pass the tokenizer explicitly");
}

}  // namespace

const char *model_format_name(ModelFormat format) {
  switch (format) {
    case ModelFormat::kHuggingFace: return "huggingface";
    case ModelFormat::kGguf: return "gguf";
    case ModelFormat::kLlama2c: break;
  }
  return "llama2c-v0";
}

const char *tokenizer_name_in_folder(const std::string &tokenizer_file) {
  auto ends_with = [&](const std::string &ext) {
    return tokenizer_file.size() >= ext.size() && tokenizer_file.compare(tokenizer_file.size() - ext.size(), ext.size(), ext) == 0;
  };
  if (ends_with(".json")) return kHfTokenizerJsonFileName;
  return ends_with(".model") ? kSentencePieceFileName : kTokenizerFileName;
}

Model load_model(const ModelSource &source, Storage storage) {
  switch (source.format) {
    case ModelFormat::kHuggingFace: return load_hf_checkpoint(source.model_file, storage);
    case ModelFormat::kGguf: return load_gguf(source.model_file, storage);
    case ModelFormat::kLlama2c: break;
  }
  return load_llama2c(source.model_file, storage);
}

ModelSource resolve_model_source(const std::string &model_arg, const std::string &tokenizer_arg) {
  if (model_arg.empty()) fail("model", "no model path given", "pass a checkpoint file or a model folder");
  ModelSource s;
  if (io::is_directory(model_arg)) {
    if (io::is_regular_file(model_arg + "/" + kModelFileName)) {
      s.model_file = model_arg + "/" + kModelFileName;
    } else if (is_hf_checkpoint_dir(model_arg)) {
      s.format = ModelFormat::kHuggingFace;
      s.model_file = model_arg;
    } else {
      fail(model_arg, std::string("a folder with neither ") + kModelFileName + " nor " + kHfConfigFileName,
           "pass a llama2.c checkpoint file, a Hugging Face model folder or a folder written by `vqround quantize`");
    }
    if (byte_level_tokenizer_json(model_arg + "/" + kHfTokenizerJsonFileName))
      s.tokenizer_file = model_arg + "/" + kHfTokenizerJsonFileName;
    for (const char *name : {kSentencePieceFileName, kTokenizerFileName})
      if (s.tokenizer_file.empty() && io::is_regular_file(model_arg + "/" + name)) s.tokenizer_file = model_arg + "/" + name;
    if (io::is_regular_file(model_arg + "/" + kMetadataFileName)) s.metadata_file = model_arg + "/" + kMetadataFileName;
  } else if (io::is_regular_file(model_arg)) {
    s.model_file = model_arg;
    if (is_gguf_file(model_arg)) {
      s.format = ModelFormat::kGguf;
      s.tokenizer_file = model_arg;  // the vocabulary travels in the file; --tokenizer overrides it
    }
  } else {
    fail(model_arg, io::path_exists(model_arg) ? io::not_a_regular_file(model_arg) : "no such file or folder",
         "check the model path");
  }
  if (!tokenizer_arg.empty()) {
    if (!io::is_regular_file(tokenizer_arg))
      fail(tokenizer_arg, io::path_exists(tokenizer_arg) ? io::not_a_regular_file(tokenizer_arg) : "no such file",
           "check the tokenizer path");
    s.tokenizer_file = tokenizer_arg;
  } else if (s.tokenizer_file.empty() && s.format == ModelFormat::kLlama2c) {
    s.tokenizer_file = tokenizer_beside(s.model_file);
  }
  return s;
}

}  // namespace vqr::model
