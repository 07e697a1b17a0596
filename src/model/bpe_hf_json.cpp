// tokenizer.json and tokenizer_config.json as a byte-level BPE tokenizer (bpe_hf_json.h).
#include "model/bpe_hf_json.h"

#include "io/files.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace vqr::model::bpe {

namespace {

using nlohmann::json;

const char *const kFormatHint = "use the tokenizer.json that came with the model, complete";
const char *const kUnsupportedHint =
    "byte-level BPE tokenizer.json files (GPT-2, Llama 3, Qwen2 style) are read; pass a SentencePiece tokenizer.model, "
    "or pre-tokenized ids";

const json &member(const json &obj, const char *key, const std::string &path, const char *where) {
  if (!obj.is_object() || !obj.contains(key))
    fail(Status::Format, path, std::string(where) + " has no \"" + key + "\"", kFormatHint);
  return obj.at(key);
}

std::string string_of(const json &j, const std::string &path, const std::string &what) {
  if (!j.is_string()) fail(Status::Format, path, what + " is not a string", kFormatHint);
  return j.get<std::string>();
}

bool bool_or(const json &obj, const char *key, bool fallback) {
  return obj.is_object() && obj.contains(key) && obj.at(key).is_boolean() ? obj.at(key).get<bool>() : fallback;
}

// "type" of a component object, "" when absent.
std::string type_of(const json &j) {
  return j.is_object() && j.contains("type") && j.at("type").is_string() ? j.at("type").get<std::string>() : "";
}

void read_normalizer(const json &n, Spec *spec, const std::string &path) {
  if (n.is_null()) return;
  const std::string t = type_of(n);
  if (t == "NFC") {
    spec->nfc = true;  // NFC twice is NFC once
    return;
  }
  if (t == "Sequence" && n.contains("normalizers") && n.at("normalizers").is_array()) {
    for (const json &m : n.at("normalizers")) read_normalizer(m, spec, path);
    return;
  }
  fail(Status::Unsupported, path, "normalizer \"" + t + "\" is not supported (none or NFC are)", kUnsupportedHint);
}

// One pre-tokenizer step into `spec`; returns whether it was the ByteLevel step.
bool read_pre_step(const json &p, Spec *spec, const std::string &path) {
  const std::string t = type_of(p);
  if (t == "ByteLevel") {
    spec->add_prefix_space = bool_or(p, "add_prefix_space", false);
    spec->byte_level_regex = bool_or(p, "use_regex", true);
    return true;
  }
  if (t == "Split") {
    const json &pattern = member(p, "pattern", path, "a Split pre-tokenizer");
    const std::string behavior = p.contains("behavior") && p.at("behavior").is_string() ? p.at("behavior").get<std::string>() : "";
    if (behavior != "Isolated" || bool_or(p, "invert", false))
      fail(Status::Unsupported, path,
           "Split pre-tokenizer with behavior \"" + behavior + "\"" + (bool_or(p, "invert", false) ? ", inverted" : "") +
               " (only \"Isolated\", not inverted, is supported)",
           kUnsupportedHint);
    if (pattern.is_object() && pattern.contains("Regex")) {
      spec->split_patterns.push_back(string_of(pattern.at("Regex"), path, "a Split pattern"));
      spec->split_literal.push_back(false);
    } else if (pattern.is_object() && pattern.contains("String")) {
      spec->split_patterns.push_back(string_of(pattern.at("String"), path, "a Split pattern"));
      spec->split_literal.push_back(true);
    } else {
      fail(Status::Format, path, "a Split pattern is neither {\"Regex\": ...} nor {\"String\": ...}", kFormatHint);
    }
    return false;
  }
  fail(Status::Unsupported, path, "pre-tokenizer \"" + t + "\" is not supported (Split and ByteLevel are)", kUnsupportedHint);
}

void read_pre_tokenizer(const json &p, Spec *spec, const std::string &path) {
  std::vector<const json *> steps;
  if (type_of(p) == "Sequence") {
    const json &list = member(p, "pretokenizers", path, "the Sequence pre-tokenizer");
    if (!list.is_array()) fail(Status::Format, path, "\"pretokenizers\" is not a list", kFormatHint);
    for (const json &s : list) steps.push_back(&s);
  } else {
    steps.push_back(&p);
  }
  // ByteLevel last: a Split after it would match the byte alphabet's spelling, which these
  // tokenizers never do and the raw-byte pipeline here cannot reproduce.
  for (size_t i = 0; i < steps.size(); ++i) {
    const bool byte_level = read_pre_step(*steps[i], spec, path);
    if (byte_level != (i + 1 == steps.size()))
      fail(Status::Unsupported, path, byte_level ? "the ByteLevel pre-tokenizer is not the last step" : "the pre-tokenizer has no ByteLevel step (not a byte-level BPE)",
           kUnsupportedHint);
  }
}

// A token name of tokenizer_config.json: a string, or an AddedToken object with "content".
std::string config_token(const json &config, const char *key) {
  if (!config.is_object() || !config.contains(key)) return "";
  const json &t = config.at(key);
  if (t.is_string()) return t.get<std::string>();
  if (t.is_object() && t.contains("content") && t.at("content").is_string()) return t.at("content").get<std::string>();
  return "";
}

// The special tokens TemplateProcessing's "single" template puts before and after $A.
void template_ends(const json &post, std::vector<int32_t> *before, std::vector<int32_t> *after) {
  if (type_of(post) == "Sequence" && post.contains("processors") && post.at("processors").is_array()) {
    for (const json &p : post.at("processors")) template_ends(p, before, after);
    return;
  }
  if (type_of(post) != "TemplateProcessing" || !post.contains("single") || !post.at("single").is_array()) return;
  const json &specials = post.contains("special_tokens") ? post.at("special_tokens") : json::object();
  bool seen_sequence = false;
  for (const json &item : post.at("single")) {
    if (item.is_object() && item.contains("Sequence")) {
      seen_sequence = true;
    } else if (item.is_object() && item.contains("SpecialToken") && item.at("SpecialToken").is_object()) {
      const json &name = item.at("SpecialToken").contains("id") ? item.at("SpecialToken").at("id") : json();
      if (!name.is_string() || !specials.is_object() || !specials.contains(name.get<std::string>())) continue;
      const json &entry = specials.at(name.get<std::string>());
      if (!entry.is_object() || !entry.contains("ids") || !entry.at("ids").is_array()) continue;
      for (const json &id : entry.at("ids"))
        if (id.is_number_integer()) (seen_sequence ? after : before)->push_back(id.get<int32_t>());
    }
  }
}

HfBpe parse(const json &root, const json &config, const std::string &path) {
  if (!root.is_object()) fail(Status::Format, path, "is not a JSON object", kFormatHint);
  HfBpe out;
  Spec &spec = out.spec;
  const json &model = member(root, "model", path, "the file");
  const std::string model_type = type_of(model);
  if (!model_type.empty() && model_type != "BPE")
    fail(Status::Unsupported, path, "model type \"" + model_type + "\" (only \"BPE\" is supported)", kUnsupportedHint);
  if (model.contains("dropout") && model.at("dropout").is_number() && model.at("dropout").get<double>() > 0)
    fail(Status::Unsupported, path, "BPE dropout is set (encoding would be random)", kUnsupportedHint);
  for (const char *key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(key) && model.at(key).is_string() && !model.at(key).get<std::string>().empty())
      fail(Status::Unsupported, path, std::string("BPE ") + key + " is set", kUnsupportedHint);
  if (bool_or(model, "byte_fallback", false))
    fail(Status::Unsupported, path, "BPE byte_fallback is set (a SentencePiece-style BPE, not a byte-level one)", kUnsupportedHint);
  spec.ignore_merges = bool_or(model, "ignore_merges", false);

  read_normalizer(root.contains("normalizer") ? root.at("normalizer") : json(), &spec, path);
  const json &pre = root.contains("pre_tokenizer") ? root.at("pre_tokenizer") : json();
  if (pre.is_null()) fail(Status::Unsupported, path, "the file has no pre-tokenizer (not a byte-level BPE)", kUnsupportedHint);
  read_pre_tokenizer(pre, &spec, path);

  // The vocabulary: piece -> id, dense ids.
  const json &vocab = member(model, "vocab", path, "the BPE model");
  if (!vocab.is_object()) fail(Status::Format, path, "the BPE vocabulary is not an object", kFormatHint);
  const json &added = root.contains("added_tokens") ? root.at("added_tokens") : json::array();
  if (!added.is_array()) fail(Status::Format, path, "\"added_tokens\" is not a list", kFormatHint);
  // Ids must be dense enough that one slot per id is no risk: a file whose largest id is far beyond
  // its number of tokens is refused rather than allocated.
  const size_t id_limit = 2 * (vocab.size() + added.size()) + 1024;
  auto checked_id = [&](const json &id, const std::string &what) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || static_cast<uint64_t>(id.get<int64_t>()) >= id_limit)
      fail(Status::Format, path, what + " has id " + id.dump() + ", not an integer in [0, " + std::to_string(id_limit) + ")",
           kFormatHint);
    return static_cast<int32_t>(id.get<int64_t>());
  };
  for (const auto &[piece, id] : vocab.items()) {
    const int32_t i = checked_id(id, "vocabulary piece \"" + piece + "\"");
    if (static_cast<size_t>(i) >= spec.pieces.size()) spec.pieces.resize(static_cast<size_t>(i) + 1);
    if (!spec.pieces[static_cast<size_t>(i)].empty() || piece.empty())
      fail(Status::Format, path,
           piece.empty() ? "the vocabulary has an empty piece" : "id " + std::to_string(i) + " belongs to two pieces (\"" + spec.pieces[static_cast<size_t>(i)] + "\" and \"" + piece + "\")",
           kFormatHint);
    spec.pieces[static_cast<size_t>(i)] = piece;
  }
  for (const json &t : added) {
    AddedToken a;
    a.content = string_of(member(t, "content", path, "an added token"), path, "an added token's content");
    a.id = checked_id(member(t, "id", path, "an added token"), "added token \"" + a.content + "\"");
    a.special = bool_or(t, "special", false);
    a.lstrip = bool_or(t, "lstrip", false);
    a.rstrip = bool_or(t, "rstrip", false);
    a.single_word = bool_or(t, "single_word", false);
    if (static_cast<size_t>(a.id) >= spec.pieces.size()) spec.pieces.resize(static_cast<size_t>(a.id) + 1);
    if (spec.pieces[static_cast<size_t>(a.id)].empty()) spec.pieces[static_cast<size_t>(a.id)] = a.content;
    spec.added.push_back(std::move(a));
  }

  // Merges: "a b" strings (tokenizers before 0.20) or ["a", "b"] pairs.
  const json &merges = member(model, "merges", path, "the BPE model");
  if (!merges.is_array()) fail(Status::Format, path, "the BPE merges are not a list", kFormatHint);
  spec.merges.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const json &m = merges[r];
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 == s.size() || s.find(' ', sp + 1) != std::string::npos)
        fail(Status::Format, path, "merge " + std::to_string(r) + " \"" + s + "\" is not two pieces separated by one space", kFormatHint);
      spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      fail(Status::Format, path, "merge " + std::to_string(r) + " is neither \"a b\" nor [\"a\", \"b\"]", kFormatHint);
    }
  }

  if (model.contains("unk_token") && model.at("unk_token").is_string()) {
    const std::string unk = model.at("unk_token").get<std::string>();
    for (size_t i = 0; i < spec.pieces.size(); ++i)
      if (spec.pieces[i] == unk) spec.unk_id = static_cast<int32_t>(i);
  }

  // BOS and EOS (bpe_hf_json.h).
  auto id_of = [&](const std::string &piece) -> int32_t {
    if (piece.empty()) return -1;
    for (const AddedToken &a : spec.added)
      if (a.content == piece) return a.id;
    if (vocab.contains(piece)) return vocab.at(piece).get<int32_t>();
    return -1;
  };
  std::vector<int32_t> before, after;
  template_ends(root.contains("post_processor") ? root.at("post_processor") : json(), &before, &after);
  if (config.is_object() && config.contains("add_bos_token") && config.at("add_bos_token").is_boolean())
    out.bos_id = config.at("add_bos_token").get<bool>() ? id_of(config_token(config, "bos_token")) : -1;
  else if (before.size() == 1)
    out.bos_id = before[0];
  out.eos_id = id_of(config_token(config, "eos_token"));
  if (out.eos_id < 0 && after.size() == 1) out.eos_id = after[0];
  return out;
}

}  // namespace

std::string tokenizer_config_beside(const std::string &tokenizer_json_path) {
  return io::parent_folder(tokenizer_json_path) + "/tokenizer_config.json";
}

HfBpe parse_hf_bpe(const std::string &json_text, const std::string &config_text, const std::string &path) {
  const json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) fail(Status::Format, path, "is not valid JSON", kFormatHint);
  json config;
  if (!config_text.empty()) {
    config = json::parse(config_text, nullptr, /*allow_exceptions=*/false);
    const std::string config_path = tokenizer_config_beside(path);
    if (config.is_discarded() || !config.is_object())
      fail(Status::Format, config_path, "is not a JSON object", "restore the model's tokenizer_config.json or remove it");
  }
  try {
    return parse(root, config, path);
  } catch (const json::exception &e) {  // a field of an unexpected type deep inside
    fail(Status::Format, path, std::string("unexpected content: ") + e.what(), kFormatHint);
  }
}

bool is_byte_level_bpe(const std::string &json_text) {
  try {
    parse_hf_bpe(json_text, "", "tokenizer.json");
    return true;
  } catch (const Error &) {
    return false;
  }
}

}  // namespace vqr::model::bpe
