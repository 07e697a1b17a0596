// Internal: what a GGUF vocabulary needs from a SentencePiece model beyond its pieces and scores:
// each piece's type, the unknown id and the normalizer's add_dummy_prefix. libsentencepiece does
// not expose USER_DEFINED or the normalizer spec without its protobuf headers, so the few fields
// are read from the serialized ModelProto (sentencepiece_model.proto: ModelProto.pieces = 1 with
// SentencePiece.type = 3; ModelProto.normalizer_spec = 3 with add_dummy_prefix = 3). Kept apart so
// that tokenizer.cpp does not include <sentencepiece_processor.h>.
#pragma once

#include <cstdint>
#include <vector>

#include "model/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace vqr::model {

struct SentencePieceExtras {
  std::vector<TokenType> types;  // one per piece
  int32_t unk_id = -1;           // -1 when the model has none
  bool add_dummy_prefix = true;  // NormalizerSpec.add_dummy_prefix (default true)
};

// Types from the serialized model; when it cannot be walked (it parsed in libsentencepiece, so it
// can), from IsUnknown / IsControl / IsUnused / IsByte with every other piece normal.
SentencePieceExtras sentencepiece_extras(const sentencepiece::SentencePieceProcessor &processor);

}  // namespace vqr::model
