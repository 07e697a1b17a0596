// Internal: SentencePiece piece types for GGUF vocabularies (gguf_vocab_sentencepiece.h), with a
// minimal protobuf wire-format walker (varint, fixed32/64 and length-delimited fields only).
#include "model/gguf_vocab_sentencepiece.h"

#include <sentencepiece_processor.h>

#include <string>

namespace vqr::model {

namespace {

// Reads protobuf fields of one message in [p, end).
class Wire {
 public:
  Wire(const uint8_t *p, const uint8_t *end) : p_(p), end_(end) {}
  bool done() const { return p_ == end_; }

  bool varint(uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      const uint8_t b = *p_++;
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  // The next field: its number, wire type, and (length-delimited) payload or (varint) value.
  bool next(uint32_t *field, uint32_t *wire, uint64_t *value, const uint8_t **payload) {
    uint64_t tag;
    if (!varint(&tag)) return false;
    *field = static_cast<uint32_t>(tag >> 3);
    *wire = static_cast<uint32_t>(tag & 7);
    switch (*wire) {
      case 0: return varint(value);
      case 1: return skip(8);
      case 5: return skip(4);
      case 2:
        if (!varint(value) || *value > static_cast<uint64_t>(end_ - p_)) return false;
        *payload = p_;
        p_ += *value;
        return true;
      default: return false;  // groups (3, 4) do not occur in ModelProto
    }
  }

 private:
  bool skip(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }
  const uint8_t *p_, *end_;
};

// SentencePiece.Type values equal GGUF's token types (NORMAL 1 ... BYTE 6).
bool walk_model(const std::string &bytes, std::vector<TokenType> *types, bool *add_dummy_prefix) {
  const uint8_t *b = reinterpret_cast<const uint8_t *>(bytes.data());
  Wire model(b, b + bytes.size());
  while (!model.done()) {
    uint32_t field, wire;
    uint64_t value = 0;
    const uint8_t *payload = nullptr;
    if (!model.next(&field, &wire, &value, &payload)) return false;
    if (wire != 2 || (field != 1 && field != 3)) continue;
    Wire sub(payload, payload + value);
    uint64_t type = 1, prefix = 1;  // proto defaults: NORMAL, add_dummy_prefix = true
    while (!sub.done()) {
      uint32_t f, w;
      uint64_t v = 0;
      const uint8_t *pl = nullptr;
      if (!sub.next(&f, &w, &v, &pl)) return false;
      if (f == 3 && w == 0) (field == 1 ? type : prefix) = v;
    }
    if (field == 1) {
      if (type < 1 || type > 6) return false;
      types->push_back(static_cast<TokenType>(type));
    } else {
      *add_dummy_prefix = prefix != 0;
    }
  }
  return true;
}

}  // namespace

SentencePieceExtras sentencepiece_extras(const sentencepiece::SentencePieceProcessor &p) {
  SentencePieceExtras e;
  const int n = p.GetPieceSize();
  const int unk = p.unk_id();
  e.unk_id = unk >= 0 && unk < n ? unk : -1;
  if (walk_model(p.serialized_model_proto(), &e.types, &e.add_dummy_prefix) && e.types.size() == static_cast<size_t>(n))
    return e;
  e.add_dummy_prefix = true;
  e.types.assign(static_cast<size_t>(n > 0 ? n : 0), TokenType::kNormal);
  for (int i = 0; i < n; ++i) {
    TokenType &t = e.types[static_cast<size_t>(i)];
    if (p.IsUnknown(i)) t = TokenType::kUnknown;
    else if (p.IsControl(i)) t = TokenType::kControl;
    else if (p.IsUnused(i)) t = TokenType::kUnused;
    else if (p.IsByte(i)) t = TokenType::kByte;
  }
  return e;
}

}  // namespace vqr::model
