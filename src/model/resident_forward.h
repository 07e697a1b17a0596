// The forward's blocks on a device backend with the activations resident in device memory (issue
// 18 item 3: "activations stay there between layers of a block"). Forward owns one when its
// backend's buffers are not host memory and its path is kBlas; Forward::block then hands the block
// here, and the residual stream crosses the bus only when the caller asks for it on the host
// (Forward::hidden / read_hidden / head) or loads a new one.
//
// What a block does, pass by pass, is Forward::block's kBlas path, with each pass one
// backend::ForwardKernels call: RMSNorm, the q/k/v products with the bias as the GEMM's start value,
// per packed sequence Qwen3's q/k norms with RoPE and the attention (per tile of 128 query rows,
// every head's scores as one GEMM each, one row pass for all of them, every head's P V; the host's
// attention_forward_blas with one group of all heads), the wo product added to the residual stream,
// RMSNorm, w1 and w3, SwiGLU, and the w2 product added to the stream. So the results are the host
// path's up to the products' summation order and the device's exp in SwiGLU and the softmax
// (forward_kernels.h states each pass's arithmetic); tests/backend/test_opencl_forward.cpp holds
// whole forwards to the host's within the bound of tests/model/forward_paths.h.
//
// Memory on the device: the activations of Forward's scratch rows (x, the normed input, q, k, v,
// two hidden-width buffers: rows x (3 dim + q_dim + 2 kv_dim + 2 hidden) floats), the scores of one
// query tile for every head (n_heads x min(max_tokens, 128) x max_tokens floats), RoPE's table, and
// the weights: each block's seven linears, norms and biases stay resident while the model's
// weights_version() is unchanged, least recently used first out when the next block would pass
// ForwardKernels::weight_cache_bytes() (at least one block is kept). Explicit weight arrays
// (Forward::block's `weights`, e.g. a student's relaxed weights that its trainer rewrites in place)
// are uploaded on every call into one reused set.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "backend/forward_kernels.h"
#include "model/forward.h"
#include "model/model.h"

namespace vqr::model {

class ResidentForward {
 public:
  // Allocates the device activations for `rows` scratch rows and sequences of up to max_tokens, and
  // uploads RoPE's table (model::rope_table of max_tokens positions). Throws vqr::Error
  // (Status::OutOfMemory when the device cannot hold them).
  ResidentForward(const Model &model, backend::Backend &backend, std::unique_ptr<backend::ForwardKernels> kernels,
                  int64_t rows, int64_t max_tokens, const std::vector<float> &rope_table);
  ~ResidentForward();

  // The residual stream's host copy `x` (rows 0..n-1) was, or may be about to be, written: the
  // next block uploads it.
  void host_changed() { device_newer_ = false, host_newer_ = true; }
  // Makes x hold the stream (the rows of the last block): downloads it when the device's copy is newer.
  void sync_to_host(float *x);

  // Block l on n rows (the packed sequences `seqs`), the stream uploaded from x first when the host's
  // copy is newer. `staging` receives a sink's host() downloads: at least n x max(dim, q_dim,
  // hidden) floats. As Forward::block otherwise.
  void block(int l, int64_t n, const std::vector<int64_t> &seqs, float *x, float *staging, const BlockSink &sink,
             const float *const *weights);

 private:
  struct BlockWeights;
  BlockWeights &weights_of(int l, const float *const *explicit_weights);
  std::unique_ptr<backend::DeviceBuffer> buffer(int64_t floats);
  void attention(int64_t start, int64_t len);

  const Model &model_;
  backend::Backend &backend_;
  std::unique_ptr<backend::ForwardKernels> k_;
  std::unique_ptr<backend::DeviceBuffer> x_, xb_, q_, k_buf_, v_, hb_, hb2_, scores_, table_;
  std::list<std::unique_ptr<BlockWeights>> cache_;  // the model's blocks, most recently used first
  std::unique_ptr<BlockWeights> explicit_;          // the reused set for explicit weight arrays
  uint64_t cached_version_ = 0;
  int64_t n_ = 0;              // rows of the stream the last block computed
  bool host_newer_ = true;     // x's host copy holds values the device's does not
  bool device_newer_ = false;  // the device's copy holds values the host's does not
};

}  // namespace vqr::model
