#include "tools/mkmirror/compare.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

namespace trustgate::mkmirror {
namespace {

struct Outcome {
  std::string verdict;
  std::string reason;
  std::string label;  // case or tag, for messages
  bool seen = false;
};

// ReadVerdicts maps "repository@digest" to its outcome.
base::Result<std::map<std::string, Outcome>, MkError> ReadVerdicts(
    const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return base::MakeError(MkError::kIo, "cannot read " + path.string());
  }
  std::map<std::string, Outcome> out;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) {
      continue;
    }
    const nlohmann::json j =
        nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    auto text = [&j](const char* key) -> std::string {
      return j.is_object() && j.contains(key) && j[key].is_string()
                 ? j[key].get<std::string>()
                 : std::string();
    };
    const std::string repository = text("repository");
    const std::string digest = text("digest");
    Outcome o{text("verdict"), text("reason"), text("case"), false};
    if (o.label.empty()) {
      o.label = text("tag");
    }
    if (repository.empty() || digest.empty() || o.verdict.empty() ||
        o.reason.empty()) {
      return base::MakeError(
          MkError::kUsage,
          path.string() + ":" + std::to_string(number) +
              ": not a JSON object with repository, digest, verdict and "
              "reason");
    }
    out[repository + "@" + digest] = std::move(o);
  }
  return out;
}

}  // namespace

base::Result<Comparison, MkError> CompareVerdicts(
    const std::filesystem::path& expected,
    const std::filesystem::path& actual) {
  TG_ASSIGN_OR_RETURN(auto want, ReadVerdicts(expected));
  TG_ASSIGN_OR_RETURN(auto got, ReadVerdicts(actual));
  Comparison c;
  for (const auto& [key, w] : want) {
    ++c.expected;
    auto it = got.find(key);
    const std::string name = (w.label.empty() ? "" : w.label + " ") + key;
    if (it == got.end()) {
      c.differences.push_back(name + ": expected " + w.verdict + "/" +
                              w.reason + ", absent");
      continue;
    }
    it->second.seen = true;
    if (it->second.verdict != w.verdict || it->second.reason != w.reason) {
      c.differences.push_back(name + ": expected " + w.verdict + "/" +
                              w.reason + ", got " + it->second.verdict + "/" +
                              it->second.reason);
      continue;
    }
    ++c.matched;
  }
  for (const auto& [key, g] : got) {
    if (!g.seen) {
      c.differences.push_back(key + ": not expected, got " + g.verdict + "/" +
                              g.reason);
    }
  }
  return c;
}

}  // namespace trustgate::mkmirror
