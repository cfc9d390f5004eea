#pragma once

// Comparing a verifier's verdicts with the expectations mkmirror wrote
// (`mkmirror --compare EXPECTED ACTUAL`): both are JSON Lines with
// `repository`, `digest`, `verdict` and `reason` per artifact (trustgate's
// jsonl report and export have them).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/result.h"
#include "tools/mkmirror/util.h"

namespace trustgate::mkmirror {

// Comparison is the outcome of CompareVerdicts.
struct Comparison {
  int64_t expected = 0;  // artifacts in the expected file
  int64_t matched = 0;   // of those, found with the same verdict and reason
  std::vector<std::string> differences;  // one line each, for people
};

// CompareVerdicts reads both files and lists every expected artifact that
// is absent from `actual` or has another verdict or reason, and every
// artifact of `actual` that was not expected. Fails with kIo when a file
// cannot be read and kUsage when a line is not a JSON object with those
// fields.
base::Result<Comparison, MkError> CompareVerdicts(
    const std::filesystem::path& expected, const std::filesystem::path& actual);

}  // namespace trustgate::mkmirror
