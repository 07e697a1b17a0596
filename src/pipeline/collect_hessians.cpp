// Hessian collection over a full-precision forward (collect_hessians.h).
#include "pipeline/collect_hessians.h"
#include "backend/backend.h"

#include <algorithm>

#include "model/forward.h"
#include "model/linear_kinds.h"
#include "pipeline/hidden_states.h"
#include "pipeline/resident_batch.h"

namespace vqr::pipeline {

std::vector<hessian::Hessian> collect_hessians(const model::Model &model,
                                               const std::vector<std::vector<int32_t>> &sequences, Context *ctx) {
  const model::ModelConfig &c = model.config();
  int64_t longest = 0;
  for (const auto &s : sequences) longest = std::max<int64_t>(longest, (int64_t)s.size());
  std::vector<hessian::Hessian> hs;
  for (int l = 0; l < c.n_layers; ++l)
    for (int i = 0; i < model::kLinearInputCount; ++i)
      hs.emplace_back(c.input_width((model::LinearInput)i), false, false);
  model::Forward fwd(model, longest, thread_count(ctx));
  fwd.set_backend(backend_of(ctx));
  // The accumulators stay on the CPU backend (they are the API's vqr_hessian objects, one per linear
  // input and layer, all of them held at once); a device forward's batches are downloaded once each.
  const model::BlockSink sink = [&](int layer, model::LinearInput input, const model::LinearBatch &x) {
    add_linear_batch(hs[(size_t)(layer * model::kLinearInputCount + (int)input)], x);
    return model::SinkAction::kContinue;
  };
  if (!model.streamed()) {
    // Sequence-major: each sequence's whole forward (no classifier), nothing kept between sequences.
    Progress progress(ctx, "hessian", (int64_t)sequences.size());
    for (size_t i = 0; i < sequences.size(); ++i) {
      const int64_t n = (int64_t)sequences[i].size();
      fwd.embed(sequences[i].data(), n);
      for (int l = 0; l < c.n_layers; ++l) fwd.block(l, n, sink);
      progress.checkpoint((int64_t)i + 1, i + 1 == sequences.size());
    }
    return hs;
  }
  // Block-major, so each block is widened once: every sequence through block l, its hidden state
  // kept (fp32, exact) for block l + 1. Forward::run is embed then the blocks in order, so each
  // Hessian sees the same activations in the same sequence order as the sequence-major pass: the
  // same values, bit for bit.
  std::vector<int64_t> lengths;
  for (const auto &s : sequences) lengths.push_back((int64_t)s.size());
  HiddenStates states(lengths, c.dim, DType::F32, kNoMemoryLimit, "");
  for (size_t i = 0; i < sequences.size(); ++i) {
    fwd.embed(sequences[i].data(), lengths[i]);
    states.store(i, fwd.read_hidden());
  }
  const int64_t units = (int64_t)c.n_layers * (int64_t)sequences.size();
  Progress progress(ctx, "hessian", units);
  for (int l = 0; l < c.n_layers; ++l)
    for (size_t i = 0; i < sequences.size(); ++i) {
      states.load(i, fwd.load_hidden());
      fwd.block(l, lengths[i], sink);
      states.store(i, fwd.read_hidden());
      const int64_t done = (int64_t)l * (int64_t)sequences.size() + (int64_t)i + 1;
      progress.checkpoint(done, done == units);
    }
  return hs;
}

}  // namespace vqr::pipeline
