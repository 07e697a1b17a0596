// Internal: SentencePiece tokenizer.model loading and encoding through libsentencepiece.
#include "model/sentencepiece_backend.h"

#include <sentencepiece_processor.h>

#include "core/error.h"

namespace vqr::model::spm {

bool parse(const std::string &bytes, Loaded *out, std::string *problem) {
  auto p = std::make_shared<sentencepiece::SentencePieceProcessor>();
  const sentencepiece::util::Status st = p->LoadFromSerializedProto(bytes);
  if (!st.ok()) {
    const std::string msg = st.message();
    // A failed protobuf parse reports a source line and the failed call; say what it means.
    *problem = msg.find("ParseFromArray") != std::string::npos
                   ? "not a serialized SentencePiece ModelProto (truncated, or another format)"
                   : "not a usable SentencePiece model (" + msg + ")";
    return false;
  }
  const int n = p->GetPieceSize();
  if (n <= 0) {
    *problem = "SentencePiece model without pieces";
    return false;
  }
  out->pieces.resize(static_cast<size_t>(n));
  out->scores.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    out->pieces[static_cast<size_t>(i)] = p->IdToPiece(i);
    out->scores[static_cast<size_t>(i)] = p->GetScore(i);
  }
  out->bos_id = p->bos_id() < n ? p->bos_id() : -1;
  out->eos_id = p->eos_id() < n ? p->eos_id() : -1;
  out->processor = std::move(p);
  return true;
}

std::vector<int32_t> encode(const Processor &processor, const std::string &text) {
  std::vector<int> ids;
  const sentencepiece::util::Status st = processor.Encode(text, &ids);
  if (!st.ok()) throw Error(Status::Internal, std::string("SentencePiece encode failed: ") + st.message());
  return std::vector<int32_t>(ids.begin(), ids.end());
}

}  // namespace vqr::model::spm
