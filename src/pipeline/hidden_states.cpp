// Hidden states at a block boundary, in memory up to a budget and spilled past it (hidden_states.h).
#include "pipeline/hidden_states.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "core/error.h"

namespace vqr::pipeline {

HiddenStates::HiddenStates(const std::vector<int64_t> &tokens, int64_t width, DType dtype, int64_t memory_budget,
                           const std::string &spill_dir)
    : tokens_(tokens), width_(width), dtype_(dtype) {
  require(dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16, Status::InvalidArgument,
          "hidden states: the calibration dtype must be F32, BF16 or F16");
  require(width > 0 && memory_budget >= 0, Status::Internal, "hidden states: bad width or budget");
  // Entries in order: a prefix in memory while it fits the budget, the rest in the file.
  int64_t in_memory = 0, in_file = 0;
  offsets_.resize(tokens_.size());
  bool spilling = false;
  for (size_t s = 0; s < tokens_.size(); ++s) {
    const int64_t bytes = entry_bytes(s);
    spilling |= bytes > memory_budget - in_memory;
    if (spilling) {
      offsets_[s] = in_file;
      in_file += bytes;
    } else {
      offsets_[s] = in_memory;
      in_memory += bytes;
      kept_ = s + 1;
    }
  }
  memory_size_ = in_memory;
  memory_.reset(new (std::nothrow) unsigned char[(size_t)std::max<int64_t>(in_memory, 1)]);
  require(memory_ != nullptr, Status::OutOfMemory,
          "hidden states: cannot allocate " + std::to_string(in_memory) +
              " bytes; hint: set a memory budget (--max-memory) so the rest spills to disk, or store them in BF16 "
              "(--calib-dtype bf16)");
  if (kept_ < tokens_.size()) {
    spill_ = std::make_unique<SpillFile>(spill_dir, in_file);
    if (dtype_ != DType::F32) {
      int64_t longest = 0;
      for (size_t s = kept_; s < tokens_.size(); ++s) longest = std::max(longest, tokens_[s] * width_);
      staging_.resize((size_t)longest);
    }
  }
}

int64_t HiddenStates::entry_bytes(size_t s) const { return tokens_[s] * width_ * (int64_t)dtype_size(dtype_); }

int64_t HiddenStates::memory_bytes() const {
  return memory_size_ + (int64_t)(staging_.capacity() * sizeof(uint16_t));
}

void HiddenStates::encode(void *dst, const float *src, int64_t count) const {
  if (dtype_ == DType::F32) {
    std::memcpy(dst, src, (size_t)count * sizeof(float));
    return;
  }
  uint16_t *d = static_cast<uint16_t *>(dst);
  if (dtype_ == DType::BF16) {
    for (int64_t i = 0; i < count; ++i) d[i] = f32_to_bf16(src[i]);
  } else {
    for (int64_t i = 0; i < count; ++i) d[i] = f32_to_f16(src[i]);
  }
}

void HiddenStates::decode(float *dst, const void *src, int64_t count) const {
  if (dtype_ == DType::F32) {
    std::memcpy(dst, src, (size_t)count * sizeof(float));
    return;
  }
  const uint16_t *h = static_cast<const uint16_t *>(src);
  if (dtype_ == DType::BF16) {
    for (int64_t i = 0; i < count; ++i) dst[i] = bf16_to_f32(h[i]);
  } else {
    for (int64_t i = 0; i < count; ++i) dst[i] = f16_to_f32(h[i]);
  }
}

void HiddenStates::store(size_t s, const float *x) {
  const int64_t count = tokens_[s] * width_;
  if (s < kept_) return encode(memory_.get() + offsets_[s], x, count);
  if (dtype_ == DType::F32) return spill_->write(offsets_[s], x, entry_bytes(s));
  encode(staging_.data(), x, count);
  spill_->write(offsets_[s], staging_.data(), entry_bytes(s));
}

void HiddenStates::load(size_t s, float *x) const {
  const int64_t count = tokens_[s] * width_;
  if (s < kept_) return decode(x, memory_.get() + offsets_[s], count);
  if (dtype_ == DType::F32) return spill_->read(offsets_[s], x, entry_bytes(s));
  spill_->read(offsets_[s], staging_.data(), entry_bytes(s));
  decode(x, staging_.data(), count);
}

}  // namespace vqr::pipeline
