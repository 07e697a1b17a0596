// A streamed copy of a resident model (model.h Storage::kStreamed), for tests that check a code path
// gives the same result in both storages: every large tensor (the linear weights, the embedding, an
// untied classifier) becomes a DenseSource holding a copy of its values, the small tensors (norms,
// biases, q/k norms) are copied into the streamed model's arena. expect_same_files compares what
// a writer produced from each.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/scratch_files.h"

#include "model/model.h"
#include "model/tensor_source.h"

namespace vqr_test {

inline vqr::model::Model streamed_copy(const vqr::model::Model &resident,
                                       int64_t cache_bytes = vqr::model::Model::kDefaultCacheBytes) {
  using vqr::model::DenseSource;
  using vqr::model::TensorId;
  const vqr::model::ModelConfig &c = resident.config();
  vqr::model::Model s(c, vqr::model::Storage::kStreamed);
  s.set_cache_budget(cache_bytes);
  for (int i = 0; i < vqr::model::kTensorCount; ++i) {
    const TensorId id = static_cast<TensorId>(i);
    const int64_t n = resident.tensor_floats(id);
    if (vqr::model::is_streamable(id) || n == 0) continue;
    std::memcpy(s.tensor(id), resident.tensor(id), static_cast<size_t>(n) * sizeof(float));
  }
  for (int l = 0; l < c.n_layers; ++l)
    for (vqr::model::LinearKind k : vqr::model::kAllLinearKinds) {
      const int64_t rows = resident.linear_rows(k), cols = resident.linear_cols(k);
      std::vector<float> w(static_cast<size_t>(rows * cols));
      resident.read_linear_rows(l, k, 0, rows, w.data());
      s.set_linear_source(l, k, std::make_shared<DenseSource>(std::move(w), rows, cols));
    }
  const int64_t V = c.vocab_size, C = c.dim;
  std::vector<float> e(static_cast<size_t>(V * C));
  resident.read_embedding_rows(0, V, e.data());
  s.set_embedding_source(std::make_shared<DenseSource>(std::move(e), V, C));
  if (!c.shared_classifier) {
    std::vector<float> w(static_cast<size_t>(V * C));
    resident.read_classifier_rows(0, V, w.data());
    s.set_classifier_source(std::make_shared<DenseSource>(std::move(w), V, C));
  }
  return s;
}

// The files under `a` and `b` (one file, or every file of two folders, recursively) have the same
// names and the same bytes; a difference names the file and its first differing byte.
inline void expect_same_files(const std::string &a, const std::string &b) {
  namespace fs = std::filesystem;
  auto names = [](const std::string &root) {
    std::vector<std::string> out;
    if (fs::is_regular_file(root)) return std::vector<std::string>{""};
    for (const auto &e : fs::recursive_directory_iterator(root))
      if (e.is_regular_file()) out.push_back(fs::relative(e.path(), root).string());
    std::sort(out.begin(), out.end());
    return out;
  };
  const std::vector<std::string> na = names(a), nb = names(b);
  ASSERT_EQ(na, nb) << a << " and " << b << " hold different files";
  ASSERT_FALSE(na.empty()) << a << " is empty";
  for (const std::string &n : na) {
    const std::string pa = n.empty() ? a : a + "/" + n, pb = n.empty() ? b : b + "/" + n;
    const std::string x = read_file(pa), y = read_file(pb);
    if (x == y) continue;
    size_t i = 0;
    while (i < x.size() && i < y.size() && x[i] == y[i]) ++i;
    ADD_FAILURE() << pa << " (" << x.size() << " bytes) and " << pb << " (" << y.size() << " bytes) first differ at byte " << i;
  }
}

}  // namespace vqr_test
