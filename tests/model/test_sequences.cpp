// model/sequences.h: the flat sequence layout (split and pack), the checks of a sampling request,
// and the protocols over ids (windows, random windows; paragraphs refused). The text protocols
// need a tokenizer and run through the C API tests (tests/capi, tests/python).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "common/scratch_files.h"
#include "core/error.h"
#include "model/sequences.h"
#include "model/text_corpus.h"

namespace {

using vqr::model::Sequences;
using vqr_test::expect_error;
using vqr_test::Hint;

std::vector<int32_t> iota_ids(int32_t n) {
  std::vector<int32_t> ids((size_t)n);
  for (int32_t i = 0; i < n; ++i) ids[(size_t)i] = i;
  return ids;
}

TEST(Sequences, SplitUndoesPack) {
  const Sequences seqs = {{1, 2, 3}, {4}, {5, 6}};
  const vqr::model::PackedSequences p = vqr::model::pack_sequences(seqs);
  EXPECT_EQ(p.tokens, (std::vector<int32_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(p.lengths, (std::vector<int64_t>{3, 1, 2}));
  EXPECT_EQ(vqr::model::split_sequences(p.tokens.data(), p.lengths.data(), 3, 3), seqs);
}

TEST(Sequences, SplitChecksCountPointersAndLengths) {
  const int32_t tokens[] = {1, 2, 3};
  const int64_t lengths[] = {2, 1};
  expect_error([&] { vqr::model::split_sequences(tokens, lengths, 0, 8); }, vqr::Status::InvalidArgument,
               "sequences = 0 is outside 1..2^24", Hint::kOptional);
  expect_error([&] { vqr::model::split_sequences(nullptr, lengths, 2, 8); }, vqr::Status::InvalidArgument,
               "tokens or lengths is NULL", Hint::kOptional);
  expect_error([&] { vqr::model::split_sequences(tokens, lengths, 2, 1); }, vqr::Status::InvalidArgument,
               "sequence 0 has 2 tokens; each needs 1..1 (the model's context)", Hint::kOptional);
}

TEST(Sequences, RequestResolvesLengthAndChecksRanges) {
  EXPECT_EQ(vqr::model::sampling_request(vqr::model::Sampling::Windows, 0, 0, 0, 512).length, 512);
  EXPECT_EQ(vqr::model::sampling_request(vqr::model::Sampling::Windows, 0, 0, 0, 4096).length, 2048);
  EXPECT_EQ(vqr::model::sampling_request(vqr::model::Sampling::Windows, 3, 100, 0, 4096).length, 100);
  expect_error([] { vqr::model::sampling_request(vqr::model::Sampling::Windows, 0, 513, 0, 512); }, vqr::Status::OutOfRange,
               "length 513 is outside 0..512", Hint::kOptional);
  expect_error([] { vqr::model::sampling_request(vqr::model::Sampling::RandomWindows, 0, 8, 0, 512); }, vqr::Status::OutOfRange,
               "count 0 is outside 1..2^24 for random windows", Hint::kOptional);
  expect_error([] { vqr::model::sampling_request(vqr::model::Sampling::Paragraphs, -1, 8, 0, 512); }, vqr::Status::OutOfRange,
               "count -1 is outside 0..2^24", Hint::kOptional);
}

TEST(Sequences, IdsGiveConsecutiveOrSeededWindows) {
  const std::vector<int32_t> ids = iota_ids(10);
  const auto windows = vqr::model::sample_ids(ids, 16, vqr::model::sampling_request(vqr::model::Sampling::Windows, 0, 4, 0, 8));
  EXPECT_EQ(windows, vqr::model::consecutive_windows(ids, 0, 4));
  ASSERT_EQ(windows.size(), 2u);  // the tail of 2 is dropped
  const auto r = vqr::model::sampling_request(vqr::model::Sampling::RandomWindows, 5, 4, 42, 8);
  EXPECT_EQ(vqr::model::sample_ids(ids, 16, r), vqr::model::random_windows(ids, 5, 4, 42));
  EXPECT_TRUE(vqr::model::sample_ids({7}, 16, r).empty()) << "one token predicts nothing";
}

TEST(Sequences, IdsRefuseParagraphsAndForeignIds) {
  expect_error([] { vqr::model::sample_ids({1, 2}, 16, vqr::model::sampling_request(vqr::model::Sampling::Paragraphs, 0, 4, 0, 8)); },
               vqr::Status::InvalidArgument, "ids carry no paragraph boundaries", Hint::kOptional);
  expect_error([] { vqr::model::sample_ids({1, 16}, 16, vqr::model::sampling_request(vqr::model::Sampling::Windows, 0, 4, 0, 8)); },
               vqr::Status::InvalidArgument, "id 16 at position 1 is outside [0, 16)", Hint::kOptional);
}

}  // namespace
