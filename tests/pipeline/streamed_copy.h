// Test helper: a streamed copy of a resident model, every large tensor (the seven linears of each
// block, the embedding, an untied classifier) behind a model::DenseSource holding its fp32 values,
// the small ones (norms, biases) copied into the streamed model's arena. A streamed pipeline run on
// it must give what the resident run gives (issue 16).
#pragma once

#include <cstring>
#include <memory>
#include <vector>

#include "model/model.h"

namespace vqr_test {

inline vqr::model::Model streamed_copy(const vqr::model::Model &resident) {
  using vqr::model::TensorId;
  const vqr::model::ModelConfig &c = resident.config();
  vqr::model::Model m(c, vqr::model::Storage::kStreamed);
  for (int i = 0; i < vqr::model::kTensorCount; ++i) {
    const auto id = static_cast<TensorId>(i);
    if (vqr::model::is_streamable(id)) continue;
    std::memcpy(m.tensor(id), resident.tensor(id), static_cast<size_t>(resident.tensor_floats(id)) * sizeof(float));
  }
  auto dense = [](const float *p, int64_t rows, int64_t cols) {
    return std::make_shared<vqr::model::DenseSource>(std::vector<float>(p, p + rows * cols), rows, cols);
  };
  for (int l = 0; l < c.n_layers; ++l)
    for (vqr::model::LinearKind k : vqr::model::kAllLinearKinds) {
      const vqr::model::LinearWeight w = resident.linear(l, k);
      m.set_linear_source(l, k, dense(w.data, w.rows, w.cols));
    }
  m.set_embedding_source(dense(resident.token_embedding(), c.vocab_size, c.dim));
  if (!c.shared_classifier) m.set_classifier_source(dense(resident.classifier(), c.vocab_size, c.dim));
  return m;
}

}  // namespace vqr_test
