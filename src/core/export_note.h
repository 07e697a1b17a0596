// A line for the user's log from a model writer, with its level chosen where the decision it
// reports is made: a lossy conversion (values the file cannot hold exactly) is a warning, a
// layout or precision choice that loses nothing is information. The C API passes each note to the
// context's log callback at its level.
#pragma once

#include <string>
#include <vector>

#include "core/context.h"  // LogLevel

namespace vqr {

struct ExportNote {
  LogLevel level = LogLevel::Info;
  std::string text;
};

using ExportNotes = std::vector<ExportNote>;

}  // namespace vqr
