// NFC normalization (bpe_nfc.h): decode, decompose fully, order marks by combining class, then
// recompose each mark with the last starter unless a mark of the same or a higher class (or a
// starter) stands between them.
#include "model/bpe_nfc.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "model/bpe_nfc_tables.h"

namespace vqr::model::bpe {

namespace {

// Hangul syllables decompose and compose by arithmetic (Unicode §3.12).
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

// A marker for an invalid byte in the code point stream: above U+10FFFF, class 0, composes with
// nothing; the byte is kept in its low 8 bits.
constexpr uint32_t kRawByte = 0x80000000u;

uint8_t combining_class(uint32_t cp) {
  if (cp < nfc_tables::kUnchangedBelow || cp >= kRawByte) return 0;
  const auto *end = nfc_tables::kCombiningClasses + nfc_tables::kCombiningClassCount;
  const auto *it = std::upper_bound(nfc_tables::kCombiningClasses, end, cp,
                                    [](uint32_t c, const nfc_tables::CombiningClassRange &r) { return c < r.first; });
  if (it == nfc_tables::kCombiningClasses) return 0;
  --it;
  return cp <= it->last ? it->ccc : 0;
}

void decompose(uint32_t cp, std::vector<uint32_t> *out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out->push_back(kTBase + s % kTCount);
    return;
  }
  if (cp >= 0xC0 && cp < kRawByte) {
    const auto *end = nfc_tables::kDecompositions + nfc_tables::kDecompositionCount;
    const auto *it = std::lower_bound(nfc_tables::kDecompositions, end, cp, [](const nfc_tables::Decomposition &d, uint32_t c) { return d.cp < c; });
    if (it != end && it->cp == cp) {
      out->insert(out->end(), it->to, it->to + it->length);
      return;
    }
  }
  out->push_back(cp);
}

// The primary composite of (a, b), or 0.
uint32_t compose(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  const auto *end = nfc_tables::kCompositions + nfc_tables::kCompositionCount;
  const auto *it = std::lower_bound(nfc_tables::kCompositions, end, std::make_pair(a, b), [](const nfc_tables::Composition &c, const std::pair<uint32_t, uint32_t> &k) {
    return c.first != k.first ? c.first < k.first : c.second < k.second;
  });
  return it != end && it->first == a && it->second == b ? it->composite : 0;
}

// UTF-8 -> code points; a byte that does not start a valid sequence becomes kRawByte | byte.
// (Overlong forms and surrogates are invalid, as in Rust's str.)
void decode(const std::string &s, std::vector<uint32_t> *out) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xF0 && c < 0xF5 ? 4 : 0;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      ok = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    ok = ok && !(n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) && !(n == 4 && (cp < 0x10000 || cp > 0x10FFFF));
    if (!ok) {
      out->push_back(kRawByte | c);
      i += 1;
    } else {
      out->push_back(cp);
      i += n;
    }
  }
}

void encode(uint32_t cp, std::string *out) {
  if (cp >= kRawByte) {
    out->push_back(static_cast<char>(cp & 0xFF));
  } else if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

bool nfc_may_change(const char *text, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (static_cast<unsigned char>(text[i]) >= 0xCC) return true;
  return false;
}

std::string nfc(const std::string &text) {
  if (!nfc_may_change(text.data(), text.size())) return text;
  std::vector<uint32_t> cps, d;
  decode(text, &cps);
  d.reserve(cps.size() + cps.size() / 4);
  for (uint32_t cp : cps) decompose(cp, &d);
  // Canonical ordering: a stable sort of each run of non-starters by class.
  for (size_t i = 0; i < d.size();) {
    if (combining_class(d[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < d.size() && combining_class(d[j]) != 0) ++j;
    std::stable_sort(d.begin() + static_cast<std::ptrdiff_t>(i), d.begin() + static_cast<std::ptrdiff_t>(j),
                     [](uint32_t a, uint32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
  // Canonical composition. `starter` indexes the last starter kept in `out`; `last_class` is the
  // class of the last character kept after it (-1: none yet, so the next one is adjacent).
  std::vector<uint32_t> out;
  out.reserve(d.size());
  long starter = -1;
  int last_class = -1;
  for (uint32_t cp : d) {
    const int cls = combining_class(cp);
    if (starter >= 0 && (last_class == -1 || last_class < cls)) {  // not blocked from the starter
      if (const uint32_t c = compose(out[static_cast<size_t>(starter)], cp)) {
        out[static_cast<size_t>(starter)] = c;
        continue;
      }
    }
    if (cls == 0) {
      starter = static_cast<long>(out.size());
      last_class = -1;
    } else {
      last_class = cls;
    }
    out.push_back(cp);
  }
  std::string s;
  s.reserve(text.size());
  for (uint32_t cp : out) encode(cp, &s);
  return s;
}

}  // namespace vqr::model::bpe
