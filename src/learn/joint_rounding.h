// Several layers' parameterizations trained as one (the block-wise and end-to-end objectives, issue
// 17): the trainer sees one Rounding whose parameter groups are the layers' groups in order and whose
// weights W' are the layers' weights concatenated (layer i's m_i x n_i values at offset
// sum_{j<i} m_j n_j), so one optimizer, schedule and best-iteration rule cover the whole block. The
// layers are hardened one by one through their own objects (harden() here refuses).
#pragma once

#include <cstdint>
#include <vector>

#include "learn/rounding.h"

namespace vqr::learn {

class JointRounding : public Rounding<float> {
 public:
  // parts: the layers' parameterizations (borrowed; all relaxed or all not) and their weight counts.
  // Throws vqr::Error(Status::InvalidArgument) for an empty list or mixed kinds.
  JointRounding(std::vector<Rounding<float> *> parts, std::vector<int64_t> sizes);

  int64_t size() const { return total_; }  // the concatenated weights' length
  int64_t offset(size_t part) const { return offsets_[part]; }

  std::vector<ParamGroup<float>> groups() override;
  bool relaxed() const override { return relaxed_; }
  void forward(float *Wq) override;
  void backward(float *G) override;
  double regularize(double beta, double weight) override;
  void hard_weights(float *Wq) override;
  // Throws vqr::Error(Status::Internal): harden each part instead.
  void harden(quant::QuantizedLayer &out) override;

 private:
  std::vector<Rounding<float> *> parts_;
  std::vector<int64_t> offsets_;
  int64_t total_ = 0;
  bool relaxed_ = false;
};

}  // namespace vqr::learn
