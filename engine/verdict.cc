#include "engine/verdict.h"

#include <array>
#include <utility>

namespace trustgate::engine {
namespace {

// ARCHITECTURE.md "Command line (contract)": reason codes, in enum order.
// These strings are part of the output format and of the index; never
// rename one.
constexpr std::array<std::pair<Reason, std::string_view>, 15> kReasonNames = {{
    {Reason::kOk, "ok"},
    {Reason::kSkipped, "skipped"},
    {Reason::kUnsigned, "unsigned"},
    {Reason::kNoPolicy, "no-policy"},
    {Reason::kIntegrity, "integrity"},
    {Reason::kAuthenticity, "authenticity"},
    {Reason::kTrustedIdentity, "trusted-identity"},
    {Reason::kExpiry, "expiry"},
    {Reason::kAuthenticTimestamp, "authentic-timestamp"},
    {Reason::kRevocation, "revocation"},
    {Reason::kPlugin, "plugin"},
    {Reason::kBlobIntegrity, "blob-integrity"},
    {Reason::kBlobMissing, "blob-missing"},
    {Reason::kManifestIntegrity, "manifest-integrity"},
    {Reason::kMalformed, "malformed"},
}};

// ARCHITECTURE.md "Command line (contract)": keys of `validations`, in
// output order.
constexpr std::array<std::string_view, kCheckCount> kCheckNames = {
    "integrity",          "authenticity", "trustedIdentity", "expiry",
    "authenticTimestamp", "revocation",   "plugin",
};

}  // namespace

std::string_view ToString(Verdict v) {
  switch (v) {
    case Verdict::kVerified:
      return "verified";
    case Verdict::kSkipped:
      return "skipped";
    case Verdict::kFailed:
      return "failed";
  }
  return "failed";
}

std::string_view ToString(Reason r) {
  for (const auto& [reason, name] : kReasonNames) {
    if (reason == r) {
      return name;
    }
  }
  return "malformed";
}

std::optional<Reason> ReasonFromString(std::string_view s) {
  for (const auto& [reason, name] : kReasonNames) {
    if (name == s) {
      return reason;
    }
  }
  return std::nullopt;
}

std::string_view ToString(Check c) {
  auto index = static_cast<size_t>(c);
  return index < kCheckNames.size() ? kCheckNames[index] : "integrity";
}

std::string_view ToString(CheckStatus s) {
  switch (s) {
    case CheckStatus::kPass:
      return "pass";
    case CheckStatus::kFail:
      return "fail";
    case CheckStatus::kLogged:
      return "logged";
    case CheckStatus::kSkipped:
      return "skipped";
  }
  return "skipped";
}

std::optional<Verdict> VerdictFromString(std::string_view s) {
  for (Verdict v : {Verdict::kVerified, Verdict::kSkipped, Verdict::kFailed}) {
    if (ToString(v) == s) {
      return v;
    }
  }
  return std::nullopt;
}

std::optional<Check> CheckFromString(std::string_view s) {
  for (size_t i = 0; i < kCheckNames.size(); ++i) {
    if (kCheckNames[i] == s) {
      return static_cast<Check>(i);
    }
  }
  return std::nullopt;
}

std::optional<CheckStatus> CheckStatusFromString(std::string_view s) {
  for (CheckStatus st : {CheckStatus::kPass, CheckStatus::kFail,
                         CheckStatus::kLogged, CheckStatus::kSkipped}) {
    if (ToString(st) == s) {
      return st;
    }
  }
  return std::nullopt;
}

}  // namespace trustgate::engine
