// Internal: the libsentencepiece calls behind Tokenizer, kept out of tokenizer.h and
// tokenizer.cpp so that only this file pair sees <sentencepiece_processor.h>.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace vqr::model::spm {

using Processor = sentencepiece::SentencePieceProcessor;

// A model parsed from the bytes of a serialized ModelProto, with its vocabulary copied out.
struct Loaded {
  std::shared_ptr<const Processor> processor;
  std::vector<std::string> pieces;  // IdToPiece(i), i < GetPieceSize()
  std::vector<float> scores;        // GetScore(i)
  int32_t bos_id = -1, eos_id = -1; // -1: the model defines none
};

// Parses `bytes` (read). Returns false with a one-line reason in *problem when they are not a
// usable SentencePiece model (not a protobuf, truncated, no pieces, no unk piece).
bool parse(const std::string &bytes, Loaded *out, std::string *problem);

// The model's ids of `text` (read), without BOS/EOS. Throws vqr::Error(Status::Internal) if
// libsentencepiece reports a failure, which a parsed model does not.
std::vector<int32_t> encode(const Processor &processor, const std::string &text);

}  // namespace vqr::model::spm
