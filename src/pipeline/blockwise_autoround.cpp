// Block-wise AutoRound (blockwise_autoround.h): a block-output objective over the seven layers'
// concatenated weights, and the layers' SignRound parameterizations joined for the trainer.
#include "backend/backend.h"
#include "pipeline/blockwise_autoround.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "core/buffer.h"
#include "core/error.h"
#include "learn/joint_rounding.h"
#include "learn/objective.h"
#include "learn/ste_rounding.h"
#include "learn/trainer.h"
#include "model/block_backward.h"
#include "quant/method_traits.h"

namespace vqr::pipeline {

namespace {

using model::LinearKind;

// L(W') = sum over the batch of ||block(x_q; W') - block(x_fp; W)||^2 / (batch tokens x dim), the
// weights W' of the seven linears concatenated in LinearKind order (learn::JointRounding's layout).
// Each training evaluation (G given) takes the next batch of batch_sequences sequences, cyclically.
class BlockObjective : public learn::Objective<float> {
 public:
  BlockObjective(backend::Backend &be, const model::Model &m, int layer, const BlockCalibration &data, int64_t batch,
                 int threads)
      : model_(m), layer_(layer), data_(data), batch_(batch), backward_(m, longest(data), threads) {
    backward_.set_backend(be);
    const model::ModelConfig &c = m.config();
    for (LinearKind kind : c.linear_kinds()) {
      offsets_[static_cast<int>(kind)] = total_;
      total_ += (int64_t)c.linear_rows(kind) * c.input_width(model::input_of(kind));
    }
    // The full-precision targets, once.
    for (size_t s = 0; s < data.tokens.size(); ++s) {
      targets_.emplace_back((size_t)(data.tokens[s] * c.dim));
      backward_.forward(layer, data.x_fp[s], data.tokens[s], targets_.back().data());
    }
    const int64_t rows = longest(data) * c.dim;
    y_.resize((size_t)rows);
    dy_.resize((size_t)rows);
    dx_.resize((size_t)rows);
  }

  int64_t rows() const override { return 1; }
  int64_t cols() const override { return total_; }
  int64_t offset(LinearKind kind) const { return offsets_[static_cast<int>(kind)]; }

  learn::ObjectiveValue evaluate(const float *Wq, float *G) override {
    const int64_t n = (int64_t)data_.tokens.size(), count = std::min(batch_, n);
    std::vector<size_t> seqs;
    for (int64_t i = 0; i < count; ++i) seqs.push_back((size_t)((next_ + i) % n));
    if (G != nullptr) next_ = (next_ + count) % n;
    return over(seqs, Wq, G);
  }

  // The mean squared error over every sequence (no gradient).
  double mse_all(const float *Wq) {
    std::vector<size_t> seqs(data_.tokens.size());
    for (size_t i = 0; i < seqs.size(); ++i) seqs[i] = i;
    return over(seqs, Wq, nullptr).loss;
  }

 private:
  static int64_t longest(const BlockCalibration &d) {
    int64_t t = 1;
    for (int64_t n : d.tokens) t = std::max(t, n);
    return t;
  }

  learn::ObjectiveValue over(const std::vector<size_t> &seqs, const float *Wq, float *G) {
    const int64_t C = model_.config().dim;
    const float *w[model::kLinearKindCount] = {};
    for (LinearKind k : model_.config().linear_kinds()) w[(int)k] = Wq + offsets_[(int)k];
    int64_t elements = 0;
    for (size_t s : seqs) elements += data_.tokens[s] * C;
    if (G != nullptr) std::fill(G, G + total_, 0.0f);
    double sum = 0;
    for (size_t s : seqs) {
      const int64_t T = data_.tokens[s], n = T * C;
      backward_.forward(layer_, data_.x_q[s], T, y_.data(), w);
      const float *target = targets_[s].data();
      for (int64_t i = 0; i < n; ++i) {
        const double d = (double)y_[(size_t)i] - target[i];
        sum += d * d;
        dy_[(size_t)i] = (float)(2.0 * d / (double)elements);
      }
      if (G == nullptr) continue;
      backward_.backward(dy_.data(), dx_.data(), [&](LinearKind kind, const float *dw, int64_t rows, int64_t cols) {
        float *g = G + offsets_[static_cast<int>(kind)];
        for (int64_t i = 0; i < rows * cols; ++i) g[i] += dw[i];
      });
    }
    const double mse = sum / (double)elements;
    return {mse, mse};
  }

  const model::Model &model_;
  int layer_;
  const BlockCalibration &data_;
  int64_t batch_, next_ = 0, total_ = 0;
  int64_t offsets_[model::kLinearKindCount] = {};
  model::BlockBackward backward_;
  std::vector<std::vector<float>> targets_;
  std::vector<float> y_, dy_, dx_;
};

}  // namespace

BlockwiseOutcome blockwise_autoround(Context *ctx, const quant::QuantConfig &config, const model::Model &model,
                                     int layer, const BlockCalibration &data, int64_t batch_sequences, int threads) {
  const model::ModelConfig &c = model.config();
  require(config.method == quant::Method::AutoRound, Status::Unsupported,
          "block-wise reconstruction is implemented for AutoRound only");
  require(!data.tokens.empty() && data.x_q.size() == data.tokens.size() && data.x_fp.size() == data.tokens.size(),
          Status::InvalidArgument, "block-wise AutoRound: one input pair per calibration sequence, at least one");
  for (size_t s = 0; s < data.tokens.size(); ++s)
    require(data.tokens[s] >= 1 && data.tokens[s] <= c.seq_len && data.x_q[s] && data.x_fp[s],
            Status::InvalidArgument, "block-wise AutoRound: sequence " + std::to_string(s) + " is empty or too long");
  require(batch_sequences >= 1, Status::InvalidArgument, "block-wise AutoRound: batch_sequences must be >= 1");
  require(layer >= 0 && layer < c.n_layers, Status::InvalidArgument, "block-wise AutoRound: no block " + std::to_string(layer));

  // The full-precision weights (copied: a streamed model's block cache may move) and each layer's
  // SignRound parameterization at its start (V = 0, multipliers 1).
  std::vector<Buffer<float>> fp;
  std::vector<std::unique_ptr<learn::Rounding<float>>> parts;
  std::vector<learn::Rounding<float> *> raw;
  std::vector<int64_t> sizes;
  std::vector<model::LinearWeight> shapes;  // rows and cols (the data pointer is not kept)
  for (LinearKind kind : c.linear_kinds()) {
    const model::LinearWeight w = model.linear(layer, kind);
    shapes.push_back({nullptr, w.rows, w.cols});
    fp.emplace_back((size_t)(w.rows * w.cols));
    std::memcpy(fp.back().data(), w.data, (size_t)(w.rows * w.cols) * sizeof(float));
    parts.push_back(
        learn::make_autoround<float>(fp.back().data(), w.rows, w.cols, config, threads, backend_of(ctx)));
    raw.push_back(parts.back().get());
    sizes.push_back(w.rows * w.cols);
  }
  learn::JointRounding joint(raw, sizes);
  BlockObjective objective(backend_of(ctx), model, layer, data, batch_sequences, threads);
  Buffer<float> Wq((size_t)joint.size());
  BlockwiseOutcome out;
  joint.hard_weights(Wq.data());
  out.init_mse = objective.mse_all(Wq.data());

  const quant::MethodTraits &traits = quant::method_traits(config.method);
  learn::TrainSchedule s;
  s.steps = config.steps;
  s.stage = "autoround-block";
  s.keep_best = config.keep_best;
  s.beta2 = traits.learned.adam_beta2;
  s.optimizer = learn::OptimizerKind::kSignSgd;
  s.linear_decay = true;
  const learn::TrainOutcome trained = learn::train(joint, objective, s, ctx, threads);
  out.loss = trained.loss;
  out.best_step = trained.best_step;

  joint.hard_weights(Wq.data());
  out.final_mse = objective.mse_all(Wq.data());
  for (size_t i = 0; i < parts.size(); ++i) {
    quant::QuantizedLayer q(shapes[i].rows, shapes[i].cols, config.group_size, config.bits);
    parts[i]->harden(q);
    q.report.method = config.method;
    q.report.steps = config.steps;
    q.report.best_step = trained.best_step;
    for (const auto &g : parts[i]->groups()) q.report.trainable_params += g.size;
    q.report.trainable_share = (double)q.report.trainable_params / (double)(shapes[i].rows * shapes[i].cols);
    out.layers.push_back(std::move(q));
  }
  return out;
}

}  // namespace vqr::pipeline
