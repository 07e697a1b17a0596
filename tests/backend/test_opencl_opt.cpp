// OPT on an OpenCL backend (issue 19 item 2): the resident blocks are LLaMA's, so Forward keeps an
// OPT model on the host passes and runs its products on the device (staged operands). The logits
// match the CPU's within the two-orders bound of forward_paths.h, and a sink's batches are host
// memory (no device view), packed sequences included.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/forward.h"
#include "model/forward_paths.h"
#include "model/opt_reference.h"
#include "opencl_device.h"

namespace {

using vqr::model::Forward;
using vqr::model::ModelConfig;

TEST(OpenClOpt, HostPassesWithDeviceProductsMatchTheCpu) {
  OPENCL_OR_SKIP(cl);
  ModelConfig pre = vqr_test::opt_config(64, 96, 4, 2, 97, 160);
  ModelConfig post = pre;
  post.pre_norm = false;
  post.final_norm = false;
  post.embed_dim = 24;
  for (const ModelConfig &c : {pre, post}) {
    SCOPED_TRACE(c.pre_norm ? "pre-LN" : "post-LN");
    vqr::model::Model m(c);
    vqr_test::fill_random_opt(m, 9);
    const int64_t T = 150;
    std::vector<int32_t> tokens((size_t)T);
    for (int64_t t = 0; t < T; ++t) tokens[(size_t)t] = (int32_t)((t * 31 + 7) % c.vocab_size);
    Forward cpu(m, T, 1), dev(m, 100, 1, vqr::model::MatmulPath::kBlas, T);
    dev.set_backend(*cl);
    std::vector<float> want((size_t)(T * c.vocab_size)), got(want.size());
    cpu.set_segments({100, 50});
    cpu.run(tokens.data(), T, want.data());
    dev.set_segments({100, 50});
    int batches = 0;
    dev.run(tokens.data(), T, got.data(), [&](int, vqr::model::LinearInput, const float *x, int64_t rows, int64_t) {
      EXPECT_NE(x, nullptr);
      EXPECT_EQ(rows, T);
      ++batches;
    });
    EXPECT_EQ(batches, 4 * c.n_layers);
    // The device GEMMs sum in another order than OpenBLAS: the bound of two orders (with OPT's
    // LayerNorm in place of RMSNorm's sum of squares, counted the same way).
    vqr_test::expect_logits_near(got, want, vqr_test::forward_order_tolerance(c) * 1.5);
  }
}

}  // namespace
