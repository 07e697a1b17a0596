// The stored or online teacher of end-to-end distillation (distill_teacher.h).
#include "pipeline/distill_teacher.h"
#include "backend/backend.h"

#include <algorithm>
#include <chrono>
#include <new>

#include "core/error.h"
#include "io/files.h"
#include "model/teacher_cache.h"

namespace vqr::pipeline {

DistillTeacher DistillTeacher::stored(const model::Model &model, const model::Sequences &sequences, int64_t k,
                                      float temperature, const std::string &cache_path, Context *ctx) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t V = model.config().vocab_size;
  DistillTeacher t;
  t.k_ = std::min(k, V);
  t.temperature_ = temperature;
  model::TeacherCacheKey key;
  if (!cache_path.empty()) {
    key.model_hash = t.model_hash_ = model::model_content_hash(model);
    key.tokens_hash = model::token_data_hash(sequences);
    key.sequences = (int64_t)sequences.size();
    key.k = t.k_;
    key.vocab = V;
    key.temperature = temperature;
    if (io::path_exists(cache_path)) {
      t.stored_ = model::read_teacher_cache(cache_path, key);
      t.from_cache_ = true;
      t.seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return t;
    }
  }
  int64_t longest = 1;
  for (const auto &s : sequences) longest = std::max<int64_t>(longest, (int64_t)s.size());
  model::Forward fwd(model, longest);
  fwd.set_backend(backend_of(ctx));
  std::vector<float> logits;
  try {
    logits.resize((size_t)(longest * V));
  } catch (const std::bad_alloc &) {
    throw Error(Status::OutOfMemory, "teacher: cannot allocate the logits of " + std::to_string(longest) + " tokens");
  }
  Progress progress(ctx, "teacher", (int64_t)sequences.size());
  for (size_t i = 0; i < sequences.size(); ++i) {
    const auto &s = sequences[i];
    fwd.run(s.data(), (int64_t)s.size(), logits.data());
    t.stored_.push_back(model::teacher_topk(logits.data(), (int64_t)s.size(), V, t.k_, temperature));
    progress.checkpoint((int64_t)i + 1, i + 1 == sequences.size());
  }
  model.release_vocab();
  if (!cache_path.empty()) model::write_teacher_cache(cache_path, key, t.stored_);
  t.seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return t;
}

DistillTeacher DistillTeacher::online(const model::Model &model, int64_t k, float temperature, int64_t max_tokens) {
  DistillTeacher t;
  t.k_ = std::min<int64_t>(k, model.config().vocab_size);
  t.temperature_ = temperature;
  t.online_ = std::make_unique<model::Forward>(model, max_tokens);
  try {
    t.logits_.resize((size_t)(max_tokens * model.config().vocab_size));
  } catch (const std::bad_alloc &) {
    throw Error(Status::OutOfMemory, "teacher: cannot allocate the logits of " + std::to_string(max_tokens) + " tokens");
  }
  return t;
}

const model::TeacherTopK &DistillTeacher::of(size_t index, const std::vector<int32_t> &tokens) {
  if (!online_) {
    require(index < stored_.size() && stored_[index].tokens == (int64_t)tokens.size(), Status::Internal,
            "teacher: no stored teacher for sequence " + std::to_string(index));
    return stored_[index];
  }
  const int64_t n = (int64_t)tokens.size(), V = online_->model().config().vocab_size;
  online_->run(tokens.data(), n, logits_.data());
  current_ = model::teacher_topk(logits_.data(), n, V, k_, temperature_);
  return current_;
}

}  // namespace vqr::pipeline
