#include "engine/report.h"

#include <cinttypes>
#include <utility>
#include <vector>

#include "base/time.h"

namespace trustgate::engine {
namespace {

using Json = nlohmann::ordered_json;
using ReportResult = base::Result<ArtifactVerdict, ReportError>;

// kTextDetailColumn: where details start in a text line when the reference
// is shorter (10 for the verdict label, 64 for the reference and tags).
constexpr size_t kTextDetailColumn = 74;

// kMaxDepth: the deepest nesting the record uses is 4 (artifact ->
// signatures -> signature -> timestamp/validations/findings -> finding).
constexpr int kMaxDepth = 6;

Json TimeOrNull(const std::optional<base::Time>& t) {
  return t ? Json(base::FormatRfc3339(*t)) : Json(nullptr);
}

Json StringOrNull(const std::string& s) {
  return s.empty() ? Json(nullptr) : Json(s);
}

Json SignatureToJson(const SignatureVerdict& s) {
  Json j = Json::object();
  j["digest"] = s.digest;
  j["envelope"] = StringOrNull(s.envelope);
  j["scheme"] = s.scheme;
  j["identity"] = s.identity;
  j["signingTime"] = TimeOrNull(s.signing_time);
  j["authenticSigningTime"] = TimeOrNull(s.authentic_signing_time);
  if (s.timestamp) {
    Json ts = Json::object();
    ts["tsa"] = s.timestamp->tsa;
    ts["genTime"] = base::FormatRfc3339(s.timestamp->gen_time);
    ts["accuracyMicros"] = s.timestamp->accuracy_us;
    j["timestamp"] = std::move(ts);
  } else {
    j["timestamp"] = nullptr;
  }
  j["trustStore"] = s.trust_store;
  j["chain"] = s.chain;
  Json validations = Json::object();
  Json findings = Json::array();
  for (size_t i = 0; i < kCheckCount; ++i) {
    const CheckResult& r = s.validations[i];
    std::string name(ToString(static_cast<Check>(i)));
    validations[name] = ToString(r.status);
    if (!r.code.empty() || !r.detail.empty()) {
      Json f = Json::object();
      f["check"] = name;
      f["code"] = r.code;
      f["detail"] = r.detail;
      findings.push_back(std::move(f));
    }
  }
  j["validations"] = std::move(validations);
  j["error"] = StringOrNull(s.error);
  // Additions after the contract fields (see report.h).
  j["reason"] = ToString(s.reason);
  j["validUntil"] = TimeOrNull(s.valid_until);
  j["findings"] = std::move(findings);
  Json revocation = Json::array();
  for (const RevocationEntry& e : s.revocation) {
    Json entry = Json::object();
    entry["certificate"] = e.certificate;
    entry["chain"] = e.chain;
    entry["status"] = e.status;
    entry["method"] = e.method;
    entry["source"] = e.source;
    revocation.push_back(std::move(entry));
  }
  j["revocation"] = std::move(revocation);
  if (s.plugin) {
    Json plugin = Json::object();
    plugin["name"] = s.plugin->name;
    plugin["version"] = StringOrNull(s.plugin->version);
    plugin["capabilities"] = s.plugin->capabilities;
    plugin["cached"] = s.plugin->cached;
    j["plugin"] = std::move(plugin);
  }
  return j;
}

// Reader walks one JSON object with typed, path-naming accessors. No
// nlohmann call that can throw is made on a value of unchecked type.
class Reader {
 public:
  Reader(const Json& j, std::string path) : j_(j), path_(std::move(path)) {}

  base::Error<ReportError> Missing(std::string_view key) const {
    return base::MakeError(ReportError::kMissingField,
                           "record field " + Path(key) + " is missing");
  }
  base::Error<ReportError> Bad(std::string_view key,
                               std::string_view want) const {
    return base::MakeError(
        ReportError::kBadField,
        "record field " + Path(key) + " is not " + std::string(want));
  }
  std::string Path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  // Find returns the member or nullptr when absent.
  const Json* Find(std::string_view key) const {
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }

  base::Result<const Json*, ReportError> Required(std::string_view key) const {
    const Json* v = Find(key);
    if (v == nullptr) {
      return Missing(key);
    }
    return v;
  }

  base::Result<std::string, ReportError> String(std::string_view key) const {
    TG_ASSIGN_OR_RETURN(const Json* v, Required(key));
    if (!v->is_string()) {
      return Bad(key, "a string");
    }
    return v->get_ref<const std::string&>();
  }

  // NullableString: null and absent (when !required) read as "".
  base::Result<std::string, ReportError> NullableString(std::string_view key,
                                                        bool required) const {
    const Json* v = Find(key);
    if (v == nullptr) {
      if (required) {
        return Missing(key);
      }
      return std::string();
    }
    if (v->is_null()) {
      return std::string();
    }
    if (!v->is_string()) {
      return Bad(key, "a string or null");
    }
    return v->get_ref<const std::string&>();
  }

  base::Result<std::optional<base::Time>, ReportError> NullableTime(
      std::string_view key, bool required) const {
    const Json* v = Find(key);
    if (v == nullptr) {
      if (required) {
        return Missing(key);
      }
      return std::optional<base::Time>();
    }
    if (v->is_null()) {
      return std::optional<base::Time>();
    }
    if (!v->is_string()) {
      return Bad(key, "an RFC 3339 time or null");
    }
    auto t = base::ParseRfc3339(v->get_ref<const std::string&>());
    if (!t) {
      return Bad(key, "an RFC 3339 time");
    }
    return std::optional<base::Time>(*t);
  }

  base::Result<uint64_t, ReportError> Count(std::string_view key) const {
    TG_ASSIGN_OR_RETURN(const Json* v, Required(key));
    if (!v->is_number_unsigned()) {
      if (v->is_number_integer() && v->get<int64_t>() >= 0) {
        return static_cast<uint64_t>(v->get<int64_t>());
      }
      return Bad(key, "a non-negative integer");
    }
    return v->get<uint64_t>();
  }

  base::Result<std::vector<std::string>, ReportError> StringArray(
      std::string_view key) const {
    TG_ASSIGN_OR_RETURN(const Json* v, Required(key));
    if (!v->is_array()) {
      return Bad(key, "an array of strings");
    }
    std::vector<std::string> out;
    out.reserve(v->size());
    for (const Json& e : *v) {
      if (!e.is_string()) {
        return Bad(key, "an array of strings");
      }
      out.push_back(e.get_ref<const std::string&>());
    }
    return out;
  }

 private:
  const Json& j_;
  std::string path_;
};

base::Result<SignatureVerdict, ReportError> SignatureFromJson(
    const Json& j, const std::string& path) {
  if (!j.is_object()) {
    return base::MakeError(ReportError::kBadField,
                           "record field " + path + " is not an object");
  }
  Reader r(j, path);
  SignatureVerdict s;
  TG_ASSIGN_OR_RETURN(s.digest, r.String("digest"));
  TG_ASSIGN_OR_RETURN(s.envelope, r.NullableString("envelope", true));
  TG_ASSIGN_OR_RETURN(s.scheme, r.String("scheme"));
  TG_ASSIGN_OR_RETURN(s.identity, r.String("identity"));
  TG_ASSIGN_OR_RETURN(s.signing_time, r.NullableTime("signingTime", true));
  TG_ASSIGN_OR_RETURN(s.authentic_signing_time,
                      r.NullableTime("authenticSigningTime", true));
  TG_ASSIGN_OR_RETURN(const Json* ts, r.Required("timestamp"));
  if (!ts->is_null()) {
    if (!ts->is_object()) {
      return r.Bad("timestamp", "an object or null");
    }
    Reader tr(*ts, r.Path("timestamp"));
    TimestampInfo info;
    TG_ASSIGN_OR_RETURN(info.tsa, tr.String("tsa"));
    TG_ASSIGN_OR_RETURN(auto gen, tr.NullableTime("genTime", true));
    if (!gen) {
      return tr.Bad("genTime", "an RFC 3339 time");
    }
    info.gen_time = *gen;
    if (ts->contains("accuracyMicros")) {
      TG_ASSIGN_OR_RETURN(info.accuracy_us, tr.Count("accuracyMicros"));
    }
    s.timestamp = std::move(info);
  }
  TG_ASSIGN_OR_RETURN(s.trust_store, r.String("trustStore"));
  TG_ASSIGN_OR_RETURN(s.chain, r.StringArray("chain"));
  TG_ASSIGN_OR_RETURN(const Json* validations, r.Required("validations"));
  if (!validations->is_object()) {
    return r.Bad("validations", "an object");
  }
  Reader vr(*validations, r.Path("validations"));
  for (size_t i = 0; i < kCheckCount; ++i) {
    std::string_view name = ToString(static_cast<Check>(i));
    TG_ASSIGN_OR_RETURN(std::string value, vr.String(name));
    auto status = CheckStatusFromString(value);
    if (!status) {
      return vr.Bad(name, "pass, fail, logged or skipped");
    }
    s.validations[i].status = *status;
  }
  TG_ASSIGN_OR_RETURN(s.error, r.NullableString("error", true));
  // Additions: absent in records written by other producers.
  if (const Json* reason = r.Find("reason")) {
    auto code = reason->is_string()
                    ? ReasonFromString(reason->get_ref<const std::string&>())
                    : std::nullopt;
    if (!code) {
      return r.Bad("reason", "a reason code");
    }
    s.reason = *code;
  }
  TG_ASSIGN_OR_RETURN(s.valid_until, r.NullableTime("validUntil", false));
  if (const Json* findings = r.Find("findings")) {
    if (!findings->is_array()) {
      return r.Bad("findings", "an array");
    }
    for (const Json& f : *findings) {
      if (!f.is_object()) {
        return r.Bad("findings", "an array of objects");
      }
      Reader fr(f, r.Path("findings[]"));
      TG_ASSIGN_OR_RETURN(std::string check_name, fr.String("check"));
      auto check = CheckFromString(check_name);
      if (!check) {
        return fr.Bad("check", "a validation name");
      }
      CheckResult& target = s.validations[static_cast<size_t>(*check)];
      TG_ASSIGN_OR_RETURN(target.code, fr.String("code"));
      TG_ASSIGN_OR_RETURN(target.detail, fr.String("detail"));
    }
  }
  if (const Json* revocation = r.Find("revocation")) {
    if (!revocation->is_array()) {
      return r.Bad("revocation", "an array");
    }
    for (const Json& e : *revocation) {
      if (!e.is_object()) {
        return r.Bad("revocation", "an array of objects");
      }
      Reader er(e, r.Path("revocation[]"));
      RevocationEntry entry;
      TG_ASSIGN_OR_RETURN(entry.certificate, er.String("certificate"));
      TG_ASSIGN_OR_RETURN(entry.chain, er.String("chain"));
      TG_ASSIGN_OR_RETURN(entry.status, er.String("status"));
      TG_ASSIGN_OR_RETURN(entry.method, er.String("method"));
      TG_ASSIGN_OR_RETURN(entry.source, er.String("source"));
      s.revocation.push_back(std::move(entry));
    }
  }
  if (const Json* plugin = r.Find("plugin")) {
    if (!plugin->is_object()) {
      return r.Bad("plugin", "an object");
    }
    Reader pr(*plugin, r.Path("plugin"));
    PluginUse use;
    TG_ASSIGN_OR_RETURN(use.name, pr.String("name"));
    TG_ASSIGN_OR_RETURN(use.version, pr.NullableString("version", true));
    TG_ASSIGN_OR_RETURN(use.capabilities, pr.StringArray("capabilities"));
    TG_ASSIGN_OR_RETURN(const Json* cached, pr.Required("cached"));
    if (!cached->is_boolean()) {
      return pr.Bad("cached", "a boolean");
    }
    use.cached = cached->get<bool>();
    s.plugin = std::move(use);
  }
  return s;
}

// Sanitize escapes control characters so that a hostile string cannot
// break a text line or drive a terminal.
std::string Sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string ShortDigest(std::string_view digest, bool full) {
  size_t colon = digest.find(':');
  if (full || colon == std::string_view::npos ||
      digest.size() - colon - 1 <= ReportWriter::kShortHex) {
    return std::string(digest);
  }
  return std::string(digest.substr(0, colon + 1 + ReportWriter::kShortHex)) +
         "\xe2\x80\xa6";  // U+2026 HORIZONTAL ELLIPSIS
}

// ReasonLabel names the failing step in the text format: the validation
// name for signature reasons, the reason code otherwise.
std::string_view ReasonLabel(Reason r) {
  switch (r) {
    case Reason::kIntegrity:
      return ToString(Check::kIntegrity);
    case Reason::kAuthenticity:
      return ToString(Check::kAuthenticity);
    case Reason::kTrustedIdentity:
      return ToString(Check::kTrustedIdentity);
    case Reason::kExpiry:
      return ToString(Check::kExpiry);
    case Reason::kAuthenticTimestamp:
      return ToString(Check::kAuthenticTimestamp);
    case Reason::kRevocation:
      return ToString(Check::kRevocation);
    case Reason::kPlugin:
      return ToString(Check::kPlugin);
    default:
      return ToString(r);
  }
}

std::string FormatCount(uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%" PRIu64, n);
  return buf;
}

}  // namespace

std::string_view ToString(ReportError e) {
  switch (e) {
    case ReportError::kBadJson:
      return "bad-json";
    case ReportError::kMissingField:
      return "missing-field";
    case ReportError::kBadField:
      return "bad-field";
    case ReportError::kWrite:
      return "write";
  }
  return "bad-json";
}

Json ToJson(const ArtifactVerdict& v) {
  Json j = Json::object();
  j["repository"] = v.repository;
  j["digest"] = v.digest;
  j["mediaType"] = v.media_type;
  j["tags"] = v.tags;
  j["verdict"] = ToString(v.verdict);
  j["reason"] = ToString(v.reason);
  j["policy"] = StringOrNull(v.policy);
  j["level"] = StringOrNull(v.level);
  Json signatures = Json::array();
  for (const SignatureVerdict& s : v.signatures) {
    signatures.push_back(SignatureToJson(s));
  }
  j["signatures"] = std::move(signatures);
  Json blobs = Json::object();
  blobs["checked"] = v.blobs.checked;
  blobs["bad"] = v.blobs.bad;
  blobs["missing"] = v.blobs.missing;
  j["blobs"] = std::move(blobs);
  // Additions after the contract fields (see report.h).
  j["error"] = StringOrNull(v.error);
  j["validUntil"] = TimeOrNull(v.valid_until);
  j["verifiedAt"] = base::FormatRfc3339(v.verified_at);
  if (v.emergency.has_value()) {
    j["emergency"] = true;
    j["emergencyApprovedBy"] = v.emergency->approved_by;
    j["emergencyReason"] = v.emergency->reason;
    j["emergencyExpires"] = base::FormatRfc3339(v.emergency->expires);
  }
  return j;
}

std::string ToJsonLine(const ArtifactVerdict& v) {
  return ToJson(v).dump(-1, ' ', false, Json::error_handler_t::replace);
}

ReportResult FromJson(const Json& j) {
  if (!j.is_object()) {
    return base::MakeError(ReportError::kBadField, "record is not an object");
  }
  Reader r(j, "");
  ArtifactVerdict v;
  TG_ASSIGN_OR_RETURN(v.repository, r.String("repository"));
  TG_ASSIGN_OR_RETURN(v.digest, r.String("digest"));
  TG_ASSIGN_OR_RETURN(v.media_type, r.String("mediaType"));
  TG_ASSIGN_OR_RETURN(v.tags, r.StringArray("tags"));
  TG_ASSIGN_OR_RETURN(std::string verdict, r.String("verdict"));
  auto verdict_code = VerdictFromString(verdict);
  if (!verdict_code) {
    return r.Bad("verdict", "verified, skipped or failed");
  }
  v.verdict = *verdict_code;
  TG_ASSIGN_OR_RETURN(std::string reason, r.String("reason"));
  auto reason_code = ReasonFromString(reason);
  if (!reason_code) {
    return r.Bad("reason", "a reason code");
  }
  v.reason = *reason_code;
  TG_ASSIGN_OR_RETURN(v.policy, r.NullableString("policy", true));
  TG_ASSIGN_OR_RETURN(v.level, r.NullableString("level", true));
  TG_ASSIGN_OR_RETURN(const Json* signatures, r.Required("signatures"));
  if (!signatures->is_array()) {
    return r.Bad("signatures", "an array");
  }
  v.signatures.reserve(signatures->size());
  for (size_t i = 0; i < signatures->size(); ++i) {
    TG_ASSIGN_OR_RETURN(
        SignatureVerdict s,
        SignatureFromJson((*signatures)[i],
                          "signatures[" + std::to_string(i) + "]"));
    v.signatures.push_back(std::move(s));
  }
  TG_ASSIGN_OR_RETURN(const Json* blobs, r.Required("blobs"));
  if (!blobs->is_object()) {
    return r.Bad("blobs", "an object");
  }
  Reader br(*blobs, "blobs");
  TG_ASSIGN_OR_RETURN(v.blobs.checked, br.Count("checked"));
  TG_ASSIGN_OR_RETURN(v.blobs.bad, br.Count("bad"));
  TG_ASSIGN_OR_RETURN(v.blobs.missing, br.Count("missing"));
  TG_ASSIGN_OR_RETURN(v.error, r.NullableString("error", false));
  TG_ASSIGN_OR_RETURN(v.valid_until, r.NullableTime("validUntil", false));
  TG_ASSIGN_OR_RETURN(auto verified_at, r.NullableTime("verifiedAt", false));
  v.verified_at = verified_at.value_or(base::Time{});
  if (const Json* emergency = r.Find("emergency"); emergency != nullptr) {
    if (!emergency->is_boolean() || !emergency->get<bool>()) {
      return r.Bad("emergency", "true (the field is absent otherwise)");
    }
    EmergencyInfo info;
    TG_ASSIGN_OR_RETURN(info.approved_by, r.String("emergencyApprovedBy"));
    TG_ASSIGN_OR_RETURN(info.reason, r.String("emergencyReason"));
    TG_ASSIGN_OR_RETURN(auto expires, r.NullableTime("emergencyExpires", true));
    if (!expires.has_value()) {
      return r.Bad("emergencyExpires", "an RFC 3339 time");
    }
    info.expires = *expires;
    v.emergency = std::move(info);
  }
  return v;
}

ReportResult FromJsonLine(std::string_view line) {
  if (line.size() > kMaxRecordBytes) {
    return base::MakeError(
        ReportError::kBadJson,
        "record is larger than " + std::to_string(kMaxRecordBytes) + " bytes");
  }
  // nlohmann keeps one value per key silently; the callback sees every key
  // and flags repeats and excessive depth (discarding deep values).
  std::vector<std::vector<std::string>> keys;
  std::string problem;
  Json::parser_callback_t check = [&](int depth, Json::parse_event_t event,
                                      Json& parsed) {
    if (depth > kMaxDepth) {
      if (problem.empty()) {
        problem = "record nests deeper than " + std::to_string(kMaxDepth);
      }
      return false;
    }
    switch (event) {
      case Json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!keys.empty()) {
          keys.pop_back();
        }
        break;
      case Json::parse_event_t::key:
        if (!keys.empty() && parsed.is_string()) {
          const auto& key = parsed.get_ref<const std::string&>();
          for (const std::string& seen : keys.back()) {
            if (seen == key) {
              if (problem.empty()) {
                problem = "record repeats the key \"" + key + "\"";
              }
              return true;
            }
          }
          keys.back().push_back(key);
        }
        break;
      default:
        break;
    }
    return true;
  };
  Json j = Json::parse(line.begin(), line.end(), check,
                       /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return base::MakeError(ReportError::kBadJson, "record is not valid JSON");
  }
  if (!problem.empty()) {
    return base::MakeError(ReportError::kBadJson, problem);
  }
  return FromJson(j);
}

std::string_view ToString(Format f) {
  switch (f) {
    case Format::kText:
      return "text";
    case Format::kJson:
      return "json";
    case Format::kJsonl:
      return "jsonl";
  }
  return "text";
}

std::optional<Format> FormatFromString(std::string_view s) {
  for (Format f : {Format::kText, Format::kJson, Format::kJsonl}) {
    if (ToString(f) == s) {
      return f;
    }
  }
  return std::nullopt;
}

void Summary::Add(const ArtifactVerdict& v) {
  ++artifacts;
  auto verdict_index = static_cast<size_t>(v.verdict);
  if (verdict_index < by_verdict.size()) {
    ++by_verdict[verdict_index];
  }
  auto reason_index = static_cast<size_t>(v.reason);
  if (reason_index < by_reason.size()) {
    ++by_reason[reason_index];
  }
  for (const SignatureVerdict& s : v.signatures) {
    CheckStatus integrity =
        s.validations[static_cast<size_t>(Check::kIntegrity)].status;
    if (integrity == CheckStatus::kPass || integrity == CheckStatus::kFail) {
      ++signatures_verified;
    }
  }
}

double Summary::ArtifactsPerSecond() const {
  return elapsed_seconds > 0 ? static_cast<double>(artifacts) / elapsed_seconds
                             : 0.0;
}

Json SummaryToJson(const Summary& s) {
  Json j = Json::object();
  j["artifacts"] = s.artifacts;
  for (Verdict v : {Verdict::kVerified, Verdict::kSkipped, Verdict::kFailed}) {
    j[std::string(ToString(v))] = s.count(v);
  }
  Json reasons = Json::object();
  for (size_t i = 0; i < kReasonCount; ++i) {
    reasons[std::string(ToString(static_cast<Reason>(i)))] = s.by_reason[i];
  }
  j["reasons"] = std::move(reasons);
  j["signaturesVerified"] = s.signatures_verified;
  j["reused"] = s.reused;
  j["reverified"] = s.artifacts - s.reused;
  j["elapsedSeconds"] = s.elapsed_seconds;
  j["artifactsPerSecond"] = s.ArtifactsPerSecond();
  return j;
}

std::string TextLine(const ArtifactVerdict& v,
                     const ReportWriter::TextOptions& options) {
  std::string line;
  switch (v.verdict) {
    case Verdict::kVerified:
      line = "VERIFIED  ";
      break;
    case Verdict::kSkipped:
      line = "SKIPPED   ";
      break;
    case Verdict::kFailed:
      line = "FAILED    ";
      break;
  }
  line += Sanitize(v.repository);
  line += '@';
  line += Sanitize(ShortDigest(v.digest, options.full_digests));
  if (!v.tags.empty()) {
    line += " (";
    for (size_t i = 0; i < v.tags.size(); ++i) {
      if (i > 0) {
        line += ", ";
      }
      line += Sanitize(v.tags[i]);
    }
    line += ')';
  }
  // Pad the reference so details start in one column for usual lengths
  // (columns, not bytes: "…" is one column).
  size_t columns = 0;
  for (char c : line) {
    columns += (static_cast<unsigned char>(c) & 0xc0) != 0x80 ? 1 : 0;
  }
  if (columns < kTextDetailColumn) {
    line.append(kTextDetailColumn - columns, ' ');
  }
  switch (v.verdict) {
    case Verdict::kVerified: {
      // The signature that verified: the first one with reason ok.
      for (const SignatureVerdict& s : v.signatures) {
        if (s.reason != Reason::kOk) {
          continue;
        }
        if (!s.identity.empty()) {
          line += "  by " + Sanitize(s.identity);
        }
        if (!s.trust_store.empty()) {
          line += " (" + Sanitize(s.trust_store) + ")";
        }
        // Logged (not enforced) failures stay visible.
        std::string logged;
        for (size_t i = 0; i < kCheckCount; ++i) {
          if (s.validations[i].status == CheckStatus::kLogged) {
            logged += logged.empty() ? "" : ", ";
            logged += ToString(static_cast<Check>(i));
          }
        }
        if (!logged.empty()) {
          line += "  [logged: " + logged + "]";
        }
        break;
      }
      break;
    }
    case Verdict::kSkipped:
      if (!v.policy.empty()) {
        line += "  policy " + Sanitize(v.policy);
      }
      if (v.reason != Reason::kSkipped) {
        line += "  " + std::string(ToString(v.reason));
      }
      break;
    case Verdict::kFailed: {
      line += "  ";
      line += ReasonLabel(v.reason);
      std::string message = v.error;
      if (message.empty()) {
        // Fall back to the failing signature's message.
        for (const SignatureVerdict& s : v.signatures) {
          if (s.reason == v.reason && !s.error.empty()) {
            message = s.error;
            break;
          }
        }
      }
      if (!message.empty()) {
        line += ": " + Sanitize(message);
      }
      break;
    }
  }
  if (v.emergency.has_value()) {
    line += "  [emergency policy until " +
            base::FormatRfc3339(v.emergency->expires) + ", approved by " +
            Sanitize(v.emergency->approved_by) + "]";
  }
  return line;
}

ReportWriter::ReportWriter(std::FILE* out, Format format)
    : ReportWriter(out, format, TextOptions{}) {}

ReportWriter::ReportWriter(std::FILE* out, Format format, TextOptions text)
    : out_(out), format_(format), text_(text) {}

base::Status<ReportError> ReportWriter::Put(std::string_view s) {
  if (failed_) {
    return base::MakeError(ReportError::kWrite,
                           "the report output failed earlier");
  }
  if (!s.empty() && std::fwrite(s.data(), 1, s.size(), out_) != s.size()) {
    failed_ = true;
    return base::MakeError(ReportError::kWrite,
                           "writing the report failed (disk full or the "
                           "reader closed the pipe?)");
  }
  return base::Ok{};
}

base::Status<ReportError> ReportWriter::OpenJsonLocked() {
  if (format_ != Format::kJson || opened_) {
    return base::Ok{};
  }
  opened_ = true;
  return Put("{\"artifacts\":[");
}

base::Status<ReportError> ReportWriter::Write(const ArtifactVerdict& v) {
  // Serialize outside the lock; only the write is serialized.
  std::string text;
  switch (format_) {
    case Format::kJsonl:
    case Format::kJson:
      text = ToJsonLine(v);
      break;
    case Format::kText:
      text = TextLine(v, text_);
      break;
  }
  text += '\n';
  std::lock_guard<std::mutex> lock(mu_);
  TG_RETURN_IF_ERROR(OpenJsonLocked());
  if (format_ == Format::kJson) {
    TG_RETURN_IF_ERROR(Put(first_ ? "\n" : ",\n"));
    first_ = false;
    text.pop_back();  // the separator carries the newline
  }
  return Put(text);
}

base::Status<ReportError> ReportWriter::WriteRecord(std::string_view record) {
  if (format_ == Format::kText) {
    auto v = FromJsonLine(record);
    if (!v.ok()) {
      return base::MakeError(ReportError::kBadJson, v.detail());
    }
    return Write(*v);
  }
  std::lock_guard<std::mutex> lock(mu_);
  TG_RETURN_IF_ERROR(OpenJsonLocked());
  if (format_ == Format::kJson) {
    TG_RETURN_IF_ERROR(Put(first_ ? "\n" : ",\n"));
    first_ = false;
    return Put(record);
  }
  TG_RETURN_IF_ERROR(Put(record));
  return Put("\n");
}

base::Status<ReportError> ReportWriter::Finish(const Summary& summary) {
  std::lock_guard<std::mutex> lock(mu_);
  switch (format_) {
    case Format::kJsonl:
      break;
    case Format::kJson: {
      TG_RETURN_IF_ERROR(OpenJsonLocked());
      std::string tail = first_ ? "]" : "\n]";
      tail += ",\"summary\":";
      tail += SummaryToJson(summary).dump();
      tail += "}\n";
      TG_RETURN_IF_ERROR(Put(tail));
      break;
    }
    case Format::kText: {
      std::string block = "\n";
      char buf[160];
      std::snprintf(buf, sizeof(buf),
                    "%s artifacts in %.2f s (%.1f artifacts/s), %s signatures "
                    "verified\n",
                    FormatCount(summary.artifacts).c_str(),
                    summary.elapsed_seconds, summary.ArtifactsPerSecond(),
                    FormatCount(summary.signatures_verified).c_str());
      block += buf;
      if (summary.reused > 0) {
        std::snprintf(buf, sizeof(buf),
                      "%s verdicts reused from the index (unchanged inputs; "
                      "--full verifies everything)\n",
                      FormatCount(summary.reused).c_str());
        block += buf;
      }
      for (Verdict v :
           {Verdict::kVerified, Verdict::kSkipped, Verdict::kFailed}) {
        std::snprintf(buf, sizeof(buf), "  %-22s %12s\n",
                      std::string(ToString(v)).c_str(),
                      FormatCount(summary.count(v)).c_str());
        block += buf;
      }
      bool header = false;
      for (size_t i = 0; i < kReasonCount; ++i) {
        auto reason = static_cast<Reason>(i);
        if (reason == Reason::kOk || summary.by_reason[i] == 0) {
          continue;
        }
        if (!header) {
          block += "By reason:\n";
          header = true;
        }
        std::snprintf(buf, sizeof(buf), "  %-22s %12s\n",
                      std::string(ToString(reason)).c_str(),
                      FormatCount(summary.by_reason[i]).c_str());
        block += buf;
      }
      TG_RETURN_IF_ERROR(Put(block));
      break;
    }
  }
  if (std::fflush(out_) != 0 || std::ferror(out_)) {
    failed_ = true;
    return base::MakeError(ReportError::kWrite,
                           "flushing the report failed (disk full or the "
                           "reader closed the pipe?)");
  }
  return base::Ok{};
}

}  // namespace trustgate::engine
