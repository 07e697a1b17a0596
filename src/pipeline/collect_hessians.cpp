// Hessian collection over a full-precision forward (collect_hessians.h).
#include "pipeline/collect_hessians.h"

#include <algorithm>

#include "model/forward.h"
#include "model/linear_kinds.h"

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
  const model::ActivationSink sink = [&](int layer, model::LinearInput input, const float *x, int64_t n,
                                         int64_t width) {
    hs[(size_t)(layer * model::kLinearInputCount + (int)input)].add(tensor_2d(x, DType::F32, n, width, 0));
  };
  Progress progress(ctx, "hessian", (int64_t)sequences.size());
  for (size_t i = 0; i < sequences.size(); ++i) {
    fwd.run(sequences[i].data(), (int64_t)sequences[i].size(), nullptr, sink);
    progress.checkpoint((int64_t)i + 1, i + 1 == sequences.size());
  }
  return hs;
}

}  // namespace vqr::pipeline
