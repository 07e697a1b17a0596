// Byte-level BPE's alphabet (GPT-2's bytes_to_unicode): every byte 0..255 is spelled as one
// printable code point, so that a vocabulary of byte strings can be stored as text. The printable
// Latin-1 bytes ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) stand for themselves; the other 68
// bytes, in increasing order, become U+0100, U+0101, ... (so byte ' ' is spelled "Ġ", U+0120).
#pragma once

#include <cstdint>
#include <string>

namespace vqr::model::byte_level {

// The code point that spells `byte`.
uint32_t code_point_of(uint8_t byte);

// The UTF-8 spelling of raw `bytes` (read), each byte one code point.
std::string spell(const std::string &bytes);

// The raw bytes a spelled piece stands for, into *bytes. False (and *bytes unspecified) when the
// piece is not valid UTF-8 or holds a code point outside the alphabet (an added token such as
// "<|im_start|>" is inside it; " " or "é" spelled as itself in a piece is not).
bool unspell(const std::string &piece, std::string *bytes);

}  // namespace vqr::model::byte_level
