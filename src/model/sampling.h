// How token sequences are drawn from a text or a token stream (model/text_corpus.h holds the
// protocols, spec gptq_family §5). The numbers equal the public vqr_sampling ones
// (src/capi/enum_mirror.cpp).
#pragma once

namespace vqr::model {

enum class Sampling : int {
  Paragraphs = 0,     // one sequence per sampled paragraph, each with its BOS
  Windows = 1,        // consecutive windows of the document encoded once (evaluation)
  RandomWindows = 2,  // seeded random windows of the paragraph stream (calibration)
};

}  // namespace vqr::model
