#include "policy/emergency.h"

#include <openssl/evp.h>
#include <simdjson.h>

#include <utility>

#include "base/file.h"
#include "policy/json_text.h"

namespace trustgate::policy {
namespace {

namespace dom = simdjson::dom;

// trust-store-trust-policy.md bounds nothing; trust_policy.cc's 4 MiB bound
// applies to every policy document, emergency ones included.
constexpr size_t kMaxEmergencyFileBytes = 4 * 1024 * 1024;
// approvedBy / reason are printed on terminals and stored per verdict.
constexpr size_t kMaxTextBytes = 4096;
constexpr std::string_view kTrustgateKey = "trustgate";
constexpr std::string_view kEmergencyKey = "emergency";

using EmergencyStatus = base::Status<EmergencyError>;

base::Error<EmergencyError> Malformed(std::string what) {
  return base::MakeError(EmergencyError::kMalformedJson,
                         "emergency policy: " + std::move(what));
}

// IsOneLineText: no C0 control characters and no DEL (UTF-8 beyond ASCII
// is fine; simdjson has validated it).
bool IsOneLineText(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return false;
    }
  }
  return true;
}

// FormatDuration prints a non-negative duration as "2d3h4m5s" (largest
// units first, zero units omitted, "0s" for zero; sub-second parts are
// dropped).
std::string FormatDuration(std::chrono::microseconds d) {
  if (d.count() < 0) {
    d = -d;
  }
  int64_t s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  const int64_t days = s / 86400;
  const int64_t hours = (s % 86400) / 3600;
  const int64_t minutes = (s % 3600) / 60;
  const int64_t seconds = s % 60;
  std::string out;
  if (days > 0) {
    out += std::to_string(days) + "d";
  }
  if (hours > 0) {
    out += std::to_string(hours) + "h";
  }
  if (minutes > 0) {
    out += std::to_string(minutes) + "m";
  }
  if (seconds > 0 || out.empty()) {
    out += std::to_string(seconds) + "s";
  }
  return out;
}

// ReadTime reads an RFC 3339 string member.
EmergencyStatus ReadTime(std::string_view key, std::string_view text,
                         std::optional<base::Time>* out) {
  if (text.empty()) {
    return base::Ok{};  // absent; ValidateEmergencyMetadata reports it
  }
  *out = base::ParseRfc3339(text);
  if (!out->has_value()) {
    return Malformed("\"trustgate.emergency." + std::string(key) + "\" " +
                     Quote(text) +
                     " is not an RFC 3339 time; write e.g. "
                     "2026-01-31T18:00:00Z");
  }
  return base::Ok{};
}

EmergencyStatus ReadText(std::string_view key, std::string_view text,
                         std::string* out) {
  if (text.size() > kMaxTextBytes) {
    return Malformed("\"trustgate.emergency." + std::string(key) +
                     "\" is longer than " + std::to_string(kMaxTextBytes) +
                     " bytes; shorten it (link to the ticket instead)");
  }
  if (!IsOneLineText(text)) {
    return Malformed("\"trustgate.emergency." + std::string(key) +
                     "\" holds a control character (a newline, tab, escape, "
                     "...); write it on one line of plain text");
  }
  *out = std::string(text);
  return base::Ok{};
}

EmergencyStatus ReadEmergencyObject(dom::element value,
                                    EmergencyMetadata* out) {
  dom::object obj;
  if (value.get_object().get(obj) != simdjson::SUCCESS) {
    return Malformed(
        "\"trustgate.emergency\" must be an object {\"expires\": RFC 3339, "
        "\"approvedBy\": \"...\", \"reason\": \"...\"}");
  }
  static constexpr std::string_view kKeys[] = {"expires", "approvedBy",
                                               "reason", "approvedAt"};
  bool seen[4] = {false, false, false, false};
  for (dom::key_value_pair kv : obj) {
    size_t which = 4;
    for (size_t i = 0; i < 4; ++i) {
      if (kv.key == kKeys[i]) {
        which = i;
      }
    }
    if (which == 4) {
      return Malformed("\"trustgate.emergency\" has the unknown key " +
                       Quote(kv.key) +
                       "; the keys are expires, approvedBy, reason and "
                       "approvedAt (spelled exactly so)");
    }
    if (seen[which]) {
      return Malformed("\"trustgate.emergency\" has the key " + Quote(kv.key) +
                       " more than once; keep one");
    }
    seen[which] = true;
    std::string_view text;
    if (kv.value.get_string().get(text) != simdjson::SUCCESS) {
      return Malformed("\"trustgate.emergency." + std::string(kv.key) +
                       "\" must be a string");
    }
    switch (which) {
      case 0:
        TG_RETURN_IF_ERROR(ReadTime(kv.key, text, &out->expires));
        break;
      case 1:
        TG_RETURN_IF_ERROR(ReadText(kv.key, text, &out->approved_by));
        break;
      case 2:
        TG_RETURN_IF_ERROR(ReadText(kv.key, text, &out->reason));
        break;
      default:
        TG_RETURN_IF_ERROR(ReadTime(kv.key, text, &out->approved_at));
        break;
    }
  }
  return base::Ok{};
}

base::Error<EmergencyError> FromPolicyError(const base::Error<PolicyError>& e) {
  switch (e.code) {
    case PolicyError::kTooLarge:
      return base::MakeError(EmergencyError::kTooLarge, e.detail);
    case PolicyError::kMalformedJson:
      return base::MakeError(EmergencyError::kMalformedJson, e.detail);
    default:
      return base::MakeError(EmergencyError::kInvalidPolicy, e.detail);
  }
}

base::Result<base::Bytes, EmergencyError> ReadBoundedFile(
    const std::string& p) {
  // As trust policies (notation-go getDocument): no symlinks, no
  // directories.
  auto data = base::ReadBoundedRegularFile(p, kMaxEmergencyFileBytes,
                                           "emergency policy " + p,
                                           base::Symlinks::kRefuse);
  if (data.ok()) {
    return std::move(data).value();
  }
  switch (data.code()) {
    case base::FileError::kNotFound:
      return base::MakeError(EmergencyError::kNotFound, data.detail());
    case base::FileError::kSymlink:
      return base::MakeError(EmergencyError::kSymlink,
                             data.detail() + "; put the file itself there");
    case base::FileError::kTooLarge:
      return base::MakeError(EmergencyError::kTooLarge, data.detail());
    case base::FileError::kNotRegular:
    case base::FileError::kUnreadable:
      break;
  }
  return base::MakeError(EmergencyError::kUnreadable, data.detail());
}

std::array<uint8_t, 32> MergedSha256(const std::array<uint8_t, 32>& base,
                                     const std::array<uint8_t, 32>& emergency) {
  static constexpr std::string_view kLabel = "trustgate-emergency-v1";
  base::Bytes input(kLabel.begin(), kLabel.end());
  input.insert(input.end(), base.begin(), base.end());
  input.insert(input.end(), emergency.begin(), emergency.end());
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), out.data(), &len, EVP_sha256(),
             nullptr);
  return out;
}

std::string Label(const std::string& source) {
  return source.empty() ? std::string("emergency policy")
                        : "emergency policy " + source;
}

}  // namespace

std::string_view ToString(EmergencyError e) {
  switch (e) {
    case EmergencyError::kNotFound:
      return "not-found";
    case EmergencyError::kSymlink:
      return "symlink";
    case EmergencyError::kUnreadable:
      return "unreadable";
    case EmergencyError::kTooLarge:
      return "too-large";
    case EmergencyError::kMalformedJson:
      return "malformed-json";
    case EmergencyError::kInvalidPolicy:
      return "invalid-policy";
    case EmergencyError::kNotEmergency:
      return "not-emergency";
    case EmergencyError::kBadMetadata:
      return "bad-metadata";
    case EmergencyError::kExpired:
      return "expired";
    case EmergencyError::kLifetimeTooLong:
      return "lifetime-too-long";
    case EmergencyError::kNotYetApproved:
      return "not-yet-approved";
    case EmergencyError::kNameCollision:
      return "name-collision";
  }
  return "unknown";
}

std::string_view ToString(EmergencyProblem p) {
  switch (p) {
    case EmergencyProblem::kNoExpiry:
      return "no-expiry";
    case EmergencyProblem::kNoApprover:
      return "no-approver";
    case EmergencyProblem::kNoReason:
      return "no-reason";
    case EmergencyProblem::kApprovedAfterExpiry:
      return "approved-after-expiry";
  }
  return "unknown";
}

std::optional<std::chrono::microseconds> ParseEmergencyTtl(
    std::string_view text) {
  constexpr int64_t kMaxSeconds = int64_t{366} * 86400;
  if (text.empty()) {
    return std::nullopt;
  }
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    int64_t value = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      value = value * 10 + (text[i] - '0');
      ++i;
      if (++digits > 9) {
        return std::nullopt;
      }
    }
    if (digits == 0 || i == text.size()) {
      return std::nullopt;
    }
    int64_t unit = 0;
    switch (text[i]) {
      case 'd':
        unit = 86400;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'm':
        unit = 60;
        break;
      case 's':
        unit = 1;
        break;
      default:
        return std::nullopt;
    }
    ++i;
    total += value * unit;
    if (total > kMaxSeconds) {
      return std::nullopt;
    }
  }
  if (total == 0) {
    return std::nullopt;
  }
  return std::chrono::seconds(total);
}

base::Result<std::optional<EmergencyMetadata>, EmergencyError>
ReadEmergencyMetadata(base::ByteView json) {
  if (json.size() > kMaxEmergencyFileBytes) {
    return base::MakeError(EmergencyError::kTooLarge,
                           "emergency policy: the document is " +
                               std::to_string(json.size()) +
                               " bytes; the limit is 4 MiB");
  }
  dom::parser parser;
  dom::element root;
  simdjson::error_code err = parser.parse(json.data(), json.size()).get(root);
  if (err != simdjson::SUCCESS) {
    // Also reached for content after the first value, which notation
    // ignores but an emergency file must not carry.
    return Malformed(std::string("the document is not exactly one JSON "
                                 "value (") +
                     simdjson::error_message(err) +
                     "); fix its syntax and remove anything after it");
  }
  dom::object top;
  if (root.get_object().get(top) != simdjson::SUCCESS) {
    return Malformed("the document must be a JSON object");
  }
  std::optional<dom::element> trustgate;
  for (dom::key_value_pair kv : top) {
    if (kv.key != kTrustgateKey) {
      if (AsciiEqualFold(kv.key, kTrustgateKey)) {
        return Malformed("the top-level key " + Quote(kv.key) +
                         " must be spelled \"trustgate\" exactly");
      }
      continue;
    }
    if (trustgate) {
      return Malformed(
          "the document has the key \"trustgate\" more than once; keep one");
    }
    trustgate = kv.value;
  }
  if (!trustgate) {
    return std::optional<EmergencyMetadata>();
  }
  dom::object tg;
  if (trustgate->get_object().get(tg) != simdjson::SUCCESS) {
    return Malformed(
        "\"trustgate\" must be an object such as {\"emergency\": "
        "{\"expires\": \"...\", \"approvedBy\": \"...\", \"reason\": "
        "\"...\"}}");
  }
  std::optional<dom::element> emergency;
  for (dom::key_value_pair kv : tg) {
    if (kv.key != kEmergencyKey) {
      return Malformed("\"trustgate\" has the unknown key " + Quote(kv.key) +
                       "; the only key is \"emergency\"");
    }
    if (emergency) {
      return Malformed(
          "\"trustgate\" has the key \"emergency\" more than once; keep one");
    }
    emergency = kv.value;
  }
  if (!emergency) {
    return std::optional<EmergencyMetadata>();
  }
  EmergencyMetadata metadata;
  TG_RETURN_IF_ERROR(ReadEmergencyObject(*emergency, &metadata));
  return std::optional<EmergencyMetadata>(std::move(metadata));
}

std::vector<EmergencyFinding> ValidateEmergencyMetadata(
    const EmergencyMetadata& metadata) {
  std::vector<EmergencyFinding> out;
  if (!metadata.expires) {
    out.push_back({EmergencyProblem::kNoExpiry,
                   "the emergency policy has no expiry: set "
                   "trustgate.emergency.expires to an RFC 3339 time hours "
                   "from now"});
  }
  if (metadata.approved_by.empty()) {
    out.push_back({EmergencyProblem::kNoApprover,
                   "the emergency policy names no approver: set "
                   "trustgate.emergency.approvedBy to who approved it"});
  }
  if (metadata.reason.empty()) {
    out.push_back({EmergencyProblem::kNoReason,
                   "the emergency policy gives no reason: set "
                   "trustgate.emergency.reason (e.g. the incident id)"});
  }
  if (metadata.expires && metadata.approved_at &&
      *metadata.approved_at >= *metadata.expires) {
    out.push_back({EmergencyProblem::kApprovedAfterExpiry,
                   "trustgate.emergency.approvedAt (" +
                       base::FormatRfc3339(*metadata.approved_at) +
                       ") is not before expires (" +
                       base::FormatRfc3339(*metadata.expires) +
                       "); fix the dates"});
  }
  return out;
}

base::Result<EmergencyPolicy, EmergencyError> ParseEmergencyPolicy(
    base::ByteView json) {
  // The statements are validated exactly as `verify` validates a policy.
  auto parsed = ParseTrustPolicy(json);
  if (!parsed.ok()) {
    return FromPolicyError(parsed.error());
  }
  TG_ASSIGN_OR_RETURN(std::optional<EmergencyMetadata> metadata,
                      ReadEmergencyMetadata(json));
  if (!metadata) {
    return base::MakeError(
        EmergencyError::kNotEmergency,
        "the document has no \"trustgate\": {\"emergency\": {...}} object; "
        "an emergency policy must say when it expires, who approved it and "
        "why");
  }
  std::vector<EmergencyFinding> problems = ValidateEmergencyMetadata(*metadata);
  if (!problems.empty()) {
    std::string detail;
    for (const EmergencyFinding& f : problems) {
      if (!detail.empty()) {
        detail += "; ";
      }
      detail += std::string(ToString(f.problem)) + ": " + f.message;
    }
    return base::MakeError(EmergencyError::kBadMetadata, std::move(detail));
  }
  EmergencyPolicy out;
  out.policy = std::move(parsed).value();
  out.metadata = std::move(*metadata);
  // The "trustgate" member is ours: ParseTrustPolicy's notice that
  // notation ignores it is expected here, not a typo.
  std::erase_if(out.policy.warnings, [](const std::string& w) {
    return w.find("unknown key \"trustgate\"") != std::string::npos;
  });
  return out;
}

base::Result<EmergencyPolicy, EmergencyError> LoadEmergencyPolicyFile(
    const std::filesystem::path& path) {
  const std::string p = path.string();
  TG_ASSIGN_OR_RETURN(base::Bytes data, ReadBoundedFile(p));
  auto parsed = ParseEmergencyPolicy(data);
  if (!parsed.ok()) {
    return base::MakeError(parsed.code(),
                           "emergency policy " + p + ": " + parsed.detail());
  }
  EmergencyPolicy out = std::move(parsed).value();
  out.policy.source = p;
  return out;
}

const EmergencyMark* EffectivePolicy::MarkFor(
    std::string_view statement_name) const {
  return emergency_statements.find(statement_name) != emergency_statements.end()
             ? &mark
             : nullptr;
}

base::Result<EffectivePolicy, EmergencyError> ApplyEmergency(
    const TrustPolicy& base, const EmergencyPolicy& emergency, base::Time at,
    std::chrono::microseconds max_ttl) {
  const EmergencyMetadata& md = emergency.metadata;
  const std::string label = Label(emergency.policy.source);
  if (!md.expires) {
    return base::MakeError(EmergencyError::kBadMetadata,
                           label +
                               " has no expiry; set "
                               "trustgate.emergency.expires");
  }
  const base::Time expires = *md.expires;
  if (at >= expires) {
    return base::MakeError(
        EmergencyError::kExpired,
        label + " expired at " + base::FormatRfc3339(expires) + ", " +
            FormatDuration(at - expires) + " before the verification time " +
            base::FormatRfc3339(at) +
            "; remove --emergency-policy or have a new one approved");
  }
  if (md.approved_at && at < *md.approved_at) {
    return base::MakeError(
        EmergencyError::kNotYetApproved,
        label + " is approved from " + base::FormatRfc3339(*md.approved_at) +
            " on, after the verification time " + base::FormatRfc3339(at) +
            "; check approvedAt (and the clock)");
  }
  // Lifetime (header): what remains at verification time, and, when
  // approvedAt is given, the whole approved window.
  const std::chrono::microseconds remaining = expires - at;
  if (remaining > max_ttl) {
    return base::MakeError(
        EmergencyError::kLifetimeTooLong,
        label + " expires at " + base::FormatRfc3339(expires) + ", " +
            FormatDuration(remaining) + " after the verification time " +
            base::FormatRfc3339(at) + ": more than the maximum of " +
            FormatDuration(max_ttl) +
            " (--max-emergency-ttl); shorten its expiry");
  }
  if (md.approved_at && expires - *md.approved_at > max_ttl) {
    return base::MakeError(
        EmergencyError::kLifetimeTooLong,
        label + " is approved from " + base::FormatRfc3339(*md.approved_at) +
            " to " + base::FormatRfc3339(expires) + " (" +
            FormatDuration(expires - *md.approved_at) +
            "): more than the maximum of " + FormatDuration(max_ttl) +
            " (--max-emergency-ttl); shorten its expiry");
  }

  std::set<std::string, std::less<>> base_names;
  for (const Statement& st : base.statements) {
    base_names.insert(st.name);
  }
  EffectivePolicy out;
  std::set<std::string, std::less<>> taken_scopes;
  bool takes_global = false;
  for (const Statement& st : emergency.policy.statements) {
    if (base_names.count(st.name) != 0) {
      return base::MakeError(
          EmergencyError::kNameCollision,
          label + ": statement " + Quote(st.name) +
              " has the name of a statement of the base policy; rename it "
              "(verdicts name the statement that decided them)");
    }
    out.emergency_statements.insert(st.name);
    for (const std::string& scope : st.registry_scopes) {
      const Statement* before = nullptr;
      if (st.global) {
        takes_global = true;
        for (const Statement& b : base.statements) {
          if (b.global) {
            before = &b;
          }
        }
      } else {
        taken_scopes.insert(scope);
        before = base.Select(scope);
      }
      out.displaced.push_back(Displacement{
          scope, st.name, before != nullptr ? before->name : std::string()});
    }
  }

  TrustPolicy& merged = out.policy;
  merged.version = base.version;
  merged.source = base.source;
  merged.sha256 = MergedSha256(base.sha256, emergency.policy.sha256);
  merged.warnings = base.warnings;
  for (const std::string& w : emergency.policy.warnings) {
    merged.warnings.push_back("emergency policy: " + w);
  }
  merged.statements = emergency.policy.statements;
  for (const Statement& b : base.statements) {
    if (b.global) {
      if (!takes_global) {
        merged.statements.push_back(b);
      }
      continue;
    }
    Statement kept = b;
    std::erase_if(kept.registry_scopes, [&](const std::string& scope) {
      return taken_scopes.count(scope) != 0;
    });
    if (!kept.registry_scopes.empty()) {
      merged.statements.push_back(std::move(kept));
    }
  }

  out.mark.expires = expires;
  out.mark.approved_at = md.approved_at;
  out.mark.approved_by = md.approved_by;
  out.mark.reason = md.reason;
  out.mark.source = emergency.policy.source;
  out.mark.sha256 = emergency.policy.sha256;
  return out;
}

}  // namespace trustgate::policy
