// The calibration hidden states at one block boundary (spec gptq_family §1.1 step 2: inps[N,
// seqlen, hidden]), the largest object of a sequential run at real scale: 128 x 2048 tokens of a
// 4096-wide model are 4.3 GB in fp32 (x2 with GPTAQ's fp stream). Stored in fp32 (exact), or in
// BF16 / F16 rounded to nearest even, half the bytes at the cost of rounding the stream at every
// block boundary (the block's own computation stays fp32; BF16 keeps fp32's range with 8 bits of
// mantissa, F16 11 bits but overflows past 65504); and kept in memory up to a budget, the rest in
// an unlinked spill file (spill_file.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "pipeline/spill_file.h"

namespace vqr::pipeline {

// A memory budget meaning "no limit".
inline constexpr int64_t kNoMemoryLimit = INT64_MAX;

class HiddenStates {
 public:
  // One entry per sequence s of tokens[s] rows of `width` fp32 values, stored as `dtype` (F32, BF16
  // or F16). Entries 0 .. k-1 stay in memory, k the most whose bytes fit memory_budget (>= 0;
  // kNoMemoryLimit keeps all), the others go to a SpillFile in spill_dir created now. Store an
  // entry before loading it. Throws vqr::Error: Status::InvalidArgument (a dtype outside the three),
  // Status::OutOfMemory (the in-memory part), SpillFile's Status::Io.
  HiddenStates(const std::vector<int64_t> &tokens, int64_t width, DType dtype, int64_t memory_budget,
               const std::string &spill_dir);

  size_t size() const { return offsets_.size(); }
  int64_t tokens(size_t s) const { return tokens_[s]; }
  // Stores entry s from x (tokens(s) x width), rounded to the dtype.
  void store(size_t s, const float *x);
  // Loads entry s into x (tokens(s) x width), widened to fp32.
  void load(size_t s, float *x) const;

  // Bytes held in memory (the kept entries and the staging row of a spilled non-fp32 store) and in
  // the spill file.
  int64_t memory_bytes() const;
  int64_t spilled_bytes() const { return spill_ ? spill_->size() : 0; }
  // Entries kept in memory (the first ones).
  size_t in_memory() const { return kept_; }

 private:
  int64_t entry_bytes(size_t s) const;
  // dst (tokens(s) x width as dtype_) from src fp32, and back.
  void encode(void *dst, const float *src, int64_t count) const;
  void decode(float *dst, const void *src, int64_t count) const;

  std::vector<int64_t> tokens_;
  int64_t width_;
  DType dtype_;
  std::vector<int64_t> offsets_;  // byte offset of each entry: in memory_, or in the spill file
  size_t kept_ = 0;
  std::unique_ptr<unsigned char[]> memory_;
  int64_t memory_size_ = 0;
  std::unique_ptr<SpillFile> spill_;
  mutable std::vector<uint16_t> staging_;  // one spilled entry in BF16 / F16
};

}  // namespace vqr::pipeline
