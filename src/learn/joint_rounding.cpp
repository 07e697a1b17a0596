// Concatenated parameterizations (joint_rounding.h).
#include "learn/joint_rounding.h"

#include "core/error.h"

namespace vqr::learn {

JointRounding::JointRounding(std::vector<Rounding<float> *> parts, std::vector<int64_t> sizes)
    : parts_(std::move(parts)) {
  require(!parts_.empty() && parts_.size() == sizes.size(), Status::InvalidArgument,
          "joint rounding: one weight count per part, at least one part");
  relaxed_ = parts_[0]->relaxed();
  for (size_t i = 0; i < parts_.size(); ++i) {
    require(parts_[i] != nullptr && parts_[i]->relaxed() == relaxed_ && sizes[i] >= 1, Status::InvalidArgument,
            "joint rounding: the parts must all be relaxed or all straight-through, with weights");
    offsets_.push_back(total_);
    total_ += sizes[i];
  }
}

std::vector<ParamGroup<float>> JointRounding::groups() {
  std::vector<ParamGroup<float>> all;
  for (Rounding<float> *p : parts_)
    for (const ParamGroup<float> &g : p->groups()) all.push_back(g);
  return all;
}

void JointRounding::forward(float *Wq) {
  for (size_t i = 0; i < parts_.size(); ++i) parts_[i]->forward(Wq + offsets_[i]);
}

void JointRounding::backward(float *G) {
  for (size_t i = 0; i < parts_.size(); ++i) parts_[i]->backward(G + offsets_[i]);
}

double JointRounding::regularize(double beta, double weight) {
  double total = 0;
  for (Rounding<float> *p : parts_) total += p->regularize(beta, weight);
  return total;
}

void JointRounding::hard_weights(float *Wq) {
  for (size_t i = 0; i < parts_.size(); ++i) parts_[i]->hard_weights(Wq + offsets_[i]);
}

void JointRounding::harden(quant::QuantizedLayer &) {
  throw Error(Status::Internal, "joint rounding: harden each layer's own parameterization");
}

}  // namespace vqr::learn
