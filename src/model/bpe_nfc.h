// Unicode NFC normalization (canonical decomposition, canonical ordering, canonical composition;
// UAX #15), the normalizer of Qwen2's tokenizer.json, applied to the text between added tokens as
// tokenizers does. Tables: bpe_nfc_tables.h (generated from Python's unicodedata; tokenizers uses
// the Rust unicode-normalization tables: the versions may differ for characters new in one of them;
// against tokenizers 0.23.3, of the 2061 characters with a canonical decomposition only U+11938,
// new in Unicode 13.0, normalizes differently).
// Invalid UTF-8 bytes pass through unchanged and block composition across them.
#pragma once

#include <string>

namespace vqr::model::bpe {

// The NFC form of `text` (read).
std::string nfc(const std::string &text);

// Whether nfc(text) may differ from text: false when every byte is below 0xCC, i.e. every code
// point below U+0300 (nfc_tables::kUnchangedBelow, checked by the tests), the common case of
// Latin text, which then skips the normalizer.
bool nfc_may_change(const char *text, size_t n);

}  // namespace vqr::model::bpe
