// Byte-level BPE's alphabet (byte_level.h).
#include "model/byte_level.h"

#include <array>

namespace vqr::model::byte_level {

namespace {

bool printable_latin1(uint32_t b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

struct Tables {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 0x200> to_byte{};  // every code point of the alphabet is below U+0200
  Tables() {
    to_byte.fill(-1);
    uint32_t next = 0x100;
    for (uint32_t b = 0; b < 256; ++b) {
      to_cp[b] = printable_latin1(b) ? b : next++;
      to_byte[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables &tables() {
  static const Tables t;
  return t;
}

void append_utf8(uint32_t cp, std::string *out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else {  // the alphabet stays below U+0800: two bytes at most
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

uint32_t code_point_of(uint8_t byte) { return tables().to_cp[byte]; }

std::string spell(const std::string &bytes) {
  const Tables &t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) append_utf8(t.to_cp[b], &out);
  return out;
}

bool unspell(const std::string &piece, std::string *bytes) {
  const Tables &t = tables();
  bytes->clear();
  for (size_t i = 0; i < piece.size();) {
    const unsigned char c = static_cast<unsigned char>(piece[i]);
    uint32_t cp;
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if (c >= 0xC2 && c < 0xE0 && i + 1 < piece.size() && (static_cast<unsigned char>(piece[i + 1]) & 0xC0) == 0x80) {
      cp = (static_cast<uint32_t>(c & 0x1F) << 6) | (static_cast<unsigned char>(piece[i + 1]) & 0x3F);
      i += 2;
    } else {
      return false;  // a longer sequence, or invalid UTF-8: outside the alphabet either way
    }
    if (cp >= t.to_byte.size() || t.to_byte[cp] < 0) return false;
    bytes->push_back(static_cast<char>(t.to_byte[cp]));
  }
  return true;
}

}  // namespace vqr::model::byte_level
