// The teacher cache of end-to-end distillation (issue 17 item 2): the full-precision model's top-k
// distributions (distill_loss.h) for every calibration sequence, written once and read back by later
// runs, keyed by what they depend on. The reference keys its cache by the model family's name and a
// hash of the token ids only, so a smaller model's teacher is silently reused for a larger one
// (spec vqround §7.1); here a cache whose key differs in any field is refused with a message naming
// each difference.
//
// File (little-endian): "VQRTEACH", u32 version 1, the key (u64 model hash, u64 token hash, i64
// sequences, i64 k, i64 vocab, f32 temperature), then per sequence i64 tokens, i32 ids[tokens k],
// f32 logp[tokens k], f32 rest_logp[tokens]; then u32 CRC-32 of everything before it. Written
// atomically (io/atomic_file.h); the reader checks the size the header implies against the file's
// before allocating, every id against the vocabulary, and the checksum.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/distill_loss.h"
#include "model/model.h"

namespace vqr::model {

struct TeacherCacheKey {
  uint64_t model_hash = 0;   // model_content_hash of the teacher
  uint64_t tokens_hash = 0;  // token_data_hash of the calibration sequences
  int64_t sequences = 0, k = 0, vocab = 0;
  float temperature = 0;
};

// ContentHash (core/content_hash.h) of the model's configuration and every tensor's fp32 values in a
// fixed order (each block's seven linears, norms, biases and q/k norms; the final norm; the
// embedding; an untied classifier). A streamed model is widened block by block (its block cache)
// and its vocabulary read in row chunks.
uint64_t model_content_hash(const Model &model);

// ContentHash of the sequences' lengths and token ids, in order.
uint64_t token_data_hash(const std::vector<std::vector<int32_t>> &sequences);

// Writes the key and one TeacherTopK per sequence (each with the key's k, vocab and temperature).
// Throws vqr::Error: Status::InvalidArgument (a sequence that does not match the key), Status::Io.
void write_teacher_cache(const std::string &path, const TeacherCacheKey &key, const std::vector<TeacherTopK> &teachers);

// Reads a cache written for `expected`. Throws vqr::Error: Status::Io (cannot read),
// Status::Corrupt (magic, version, sizes, ids, checksum), Status::InvalidArgument "<path>: made for
// another run: <field>: cache <a>, this run <b>; ..." naming every field that differs.
std::vector<TeacherTopK> read_teacher_cache(const std::string &path, const TeacherCacheKey &expected);

}  // namespace vqr::model
