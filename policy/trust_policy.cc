#include "policy/trust_policy.h"

// Rule ids (stable; they appear in error details as
//   trust policy statement "<name>": <rule-id>: <message>
// or, for document-level rules, "<rule-id>: <message>"):
//
//   JSON (kMalformedJson)
//     json-syntax                 not JSON (or not UTF-8)
//     json-type                   a field has the wrong JSON type
//     duplicate-key               a key repeated in one object (keys match
//                                 case-insensitively, as Go's decoder does)
//   document (kInvalid / kTooLarge)
//     too-large                   document above 4 MiB
//     version-missing             "version" absent or empty
//     version-unsupported         "version" is not "1.0"
//     no-statements               "trustPolicies" absent or empty
//   statement (kInvalid unless noted)
//     name-missing                "name" absent or empty
//     duplicate-name              two statements share a name
//     level-missing               signatureVerification.level absent/empty
//     level-unknown               level not strict/permissive/audit/skip
//     skip-override               an override on a skip level
//     override-unknown-validation override key not a validation
//     override-unknown-action     override value not enforce/log/skip
//     integrity-override          "integrity" used as an override key
//     override-skip-not-allowed   skip for anything but revocation
//     verify-timestamp-unknown    verifyTimestamp not always/afterCertExpiry
//     skip-with-trust-config      skip level with trustStores/identities
//     trust-stores-missing        no trustStores on a verifying level
//     trusted-identities-missing  no trustedIdentities on a verifying level
//     trust-store-malformed       entry without "<type>:"
//     trust-store-type-unknown    type not ca/signingAuthority/tsa
//     trust-store-name-invalid    name not [a-zA-Z0-9_.-]+
//     identity-empty              an empty trustedIdentities entry
//     identity-wildcard-mixed     "*" together with other identities
//     identity-missing-separator  entry without "<prefix>:"
//     identity-value-empty        "x509.subject:" with nothing after it
//     identity-bad-dn             the DN does not parse
//                                 (kBadDistinguishedName)
//     identity-missing-attribute  the DN lacks C, ST (or S) or O
//     identity-overlap            one DN is a subset of another
//     too-many-identities         more than 1024 identities (ours: bounds
//                                 the quadratic overlap check)
//     scopes-missing              registryScopes absent or empty
//     scope-wildcard-mixed        "*" together with other scopes
//     scope-wildcard-in-uri       a scope containing "*" besides "*" itself
//     scope-invalid               not <registry>/<repository>
//     scope-overlap               a scope listed twice (in one statement or
//                                 two)
//     global-scope-duplicate      "*" used by two statements
//
// The checks and their order follow notation-go v1.3.2
// verifier/trustpolicy (Document.Validate, validatePolicyCore,
// GetVerificationLevel, validateTrustStore, validateTrustedIdentities,
// validateOverlappingDNs, validateRegistryScopes) so that exactly the
// documents notation rejects are rejected.

#include <openssl/evp.h>
#include <simdjson.h>

#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "base/file.h"
#include "policy/dn.h"
#include "policy/json_text.h"

namespace trustgate::policy {
namespace {

namespace dom = simdjson::dom;

constexpr size_t kMaxIdentitiesPerStatement = 1024;

using PolicyStatus = base::Status<PolicyError>;

std::string StatementLabel(const std::string& name, size_t index) {
  if (name.empty()) {
    return "trust policy statement #" + std::to_string(index + 1);
  }
  return "trust policy statement \"" + name + "\"";
}

base::Error<PolicyError> DocError(PolicyError code, std::string_view rule,
                                  std::string_view message) {
  std::string detail(rule);
  detail.append(": ");
  detail.append(message);
  return base::MakeError(code, std::move(detail));
}

base::Error<PolicyError> StmtError(const std::string& label, PolicyError code,
                                   std::string_view rule,
                                   std::string_view message) {
  std::string detail = label;
  detail.append(": ");
  detail.append(rule);
  detail.append(": ");
  detail.append(message);
  return base::MakeError(code, std::move(detail));
}

// ---------------------------------------------------------------- JSON

// A raw statement as decoded, before validation. Go's decoder turns JSON
// null into the zero value (absent), which `present` mirrors.
struct RawSignatureVerification {
  std::string level;
  std::vector<std::pair<std::string, std::string>> override_entries;
  std::string verify_timestamp;
};

struct RawStatement {
  std::string name;
  std::vector<std::string> registry_scopes;
  RawSignatureVerification signature_verification;
  std::vector<std::string> trust_stores;
  std::vector<std::string> trusted_identities;
};

struct RawDocument {
  std::string version;
  std::vector<RawStatement> statements;
};

struct Field {
  std::string_view name;
  std::optional<dom::element> value;  // nullopt: absent or null
};

class JsonReader {
 public:
  explicit JsonReader(std::vector<std::string>* warnings)
      : warnings_(warnings) {}

  // ReadObject binds the members of `elem` (an object) to `fields`. Keys
  // match case-insensitively (Go's encoding/json does); a key matching a
  // field twice, or any exact repeat, is a duplicate-key error; unknown
  // keys are ignored with a warning, as Go ignores them.
  PolicyStatus ReadObject(dom::element elem, std::string_view where,
                          std::vector<Field>* fields) {
    dom::object obj;
    if (elem.get_object().get(obj) != simdjson::SUCCESS) {
      return TypeError(where, "an object");
    }
    std::vector<bool> bound(fields->size(), false);
    std::set<std::string, std::less<>> unknown;
    for (dom::key_value_pair kv : obj) {
      bool matched = false;
      for (size_t i = 0; i < fields->size(); ++i) {
        if (!AsciiEqualFold(kv.key, (*fields)[i].name)) {
          continue;
        }
        matched = true;
        if (bound[i]) {
          return DocError(PolicyError::kMalformedJson, "duplicate-key",
                          std::string(where) + " has the key " +
                              Quote((*fields)[i].name) +
                              " more than once; keep one");
        }
        bound[i] = true;
        if (!kv.value.is_null()) {
          (*fields)[i].value = kv.value;
        }
        break;
      }
      if (!matched) {
        if (!unknown.emplace(kv.key).second) {
          return DocError(PolicyError::kMalformedJson, "duplicate-key",
                          std::string(where) + " has the key " + Quote(kv.key) +
                              " more than once; keep one");
        }
        if (warnings_ != nullptr) {
          warnings_->push_back(std::string(where) + ": unknown key " +
                               Quote(kv.key) + " is ignored");
        }
      }
    }
    return base::Ok{};
  }

  // ReadString reads a string field; absent/null leaves `out` empty.
  PolicyStatus ReadString(const Field& f, std::string_view where,
                          std::string* out) {
    if (!f.value) {
      return base::Ok{};
    }
    std::string_view sv;
    if (f.value->get_string().get(sv) != simdjson::SUCCESS) {
      return TypeError(std::string(where) + "." + std::string(f.name),
                       "a string");
    }
    *out = std::string(sv);
    return base::Ok{};
  }

  // ReadStringArray reads an array of strings; a null element becomes ""
  // (Go's zero value), which later rules then reject.
  PolicyStatus ReadStringArray(const Field& f, std::string_view where,
                               std::vector<std::string>* out) {
    if (!f.value) {
      return base::Ok{};
    }
    std::string path = std::string(where) + "." + std::string(f.name);
    dom::array arr;
    if (f.value->get_array().get(arr) != simdjson::SUCCESS) {
      return TypeError(path, "an array of strings");
    }
    for (dom::element e : arr) {
      if (e.is_null()) {
        out->emplace_back();
        continue;
      }
      std::string_view sv;
      if (e.get_string().get(sv) != simdjson::SUCCESS) {
        return TypeError(path, "an array of strings");
      }
      out->emplace_back(sv);
    }
    return base::Ok{};
  }

  static base::Error<PolicyError> TypeError(std::string_view path,
                                            std::string_view expected) {
    return DocError(PolicyError::kMalformedJson, "json-type",
                    std::string(path) + " must be " + std::string(expected));
  }

 private:
  std::vector<std::string>* warnings_;
};

PolicyStatus ReadSignatureVerification(JsonReader& reader,
                                       const std::optional<dom::element>& v,
                                       const std::string& where,
                                       RawSignatureVerification* out) {
  if (!v) {
    return base::Ok{};
  }
  std::vector<Field> fields = {
      {"level", {}}, {"override", {}}, {"verifyTimestamp", {}}};
  TG_RETURN_IF_ERROR(reader.ReadObject(*v, where, &fields));
  TG_RETURN_IF_ERROR(reader.ReadString(fields[0], where, &out->level));
  TG_RETURN_IF_ERROR(
      reader.ReadString(fields[2], where, &out->verify_timestamp));
  if (fields[1].value) {
    // override is a Go map[string]string: keys exact, no folding.
    std::string path = where + ".override";
    dom::object obj;
    if (fields[1].value->get_object().get(obj) != simdjson::SUCCESS) {
      return JsonReader::TypeError(path, "an object of strings");
    }
    std::set<std::string, std::less<>> seen;
    for (dom::key_value_pair kv : obj) {
      if (!seen.emplace(kv.key).second) {
        return DocError(PolicyError::kMalformedJson, "duplicate-key",
                        path + " has the key " + Quote(kv.key) +
                            " more than once; keep one");
      }
      std::string value;
      if (!kv.value.is_null()) {
        std::string_view sv;
        if (kv.value.get_string().get(sv) != simdjson::SUCCESS) {
          return JsonReader::TypeError(path, "an object of strings");
        }
        value = std::string(sv);
      }
      out->override_entries.emplace_back(std::string(kv.key), std::move(value));
    }
  }
  return base::Ok{};
}

PolicyStatus ReadStatement(JsonReader& reader, dom::element elem, size_t index,
                           RawStatement* out) {
  std::string where = "trustPolicies[" + std::to_string(index) + "]";
  if (elem.is_null()) {
    return base::Ok{};  // Go: a null element is a zero statement.
  }
  std::vector<Field> fields = {{"name", {}},
                               {"registryScopes", {}},
                               {"signatureVerification", {}},
                               {"trustStores", {}},
                               {"trustedIdentities", {}}};
  TG_RETURN_IF_ERROR(reader.ReadObject(elem, where, &fields));
  TG_RETURN_IF_ERROR(reader.ReadString(fields[0], where, &out->name));
  TG_RETURN_IF_ERROR(
      reader.ReadStringArray(fields[1], where, &out->registry_scopes));
  TG_RETURN_IF_ERROR(ReadSignatureVerification(reader, fields[2].value,
                                               where + ".signatureVerification",
                                               &out->signature_verification));
  TG_RETURN_IF_ERROR(
      reader.ReadStringArray(fields[3], where, &out->trust_stores));
  TG_RETURN_IF_ERROR(
      reader.ReadStringArray(fields[4], where, &out->trusted_identities));
  return base::Ok{};
}

base::Result<RawDocument, PolicyError> ReadDocument(
    base::ByteView json, std::vector<std::string>* warnings) {
  // notation-go decodes the policy with json.Decoder.Decode, which reads
  // the first JSON value and never looks at what follows it. Do the same
  // (the value itself is still parsed strictly), but say so.
  size_t end = FirstValueEnd(base::AsString(json));
  for (size_t i = end; i < json.size(); ++i) {
    if (!IsJsonSpace(static_cast<char>(json[i]))) {
      warnings->push_back("content after the JSON document (at byte " +
                          std::to_string(i) +
                          ") is ignored, as notation ignores it; remove it");
      json = json.first(end);
      break;
    }
  }
  dom::parser parser;
  dom::element root;
  simdjson::error_code err = parser.parse(json.data(), json.size()).get(root);
  if (err != simdjson::SUCCESS) {
    return DocError(PolicyError::kMalformedJson, "json-syntax",
                    std::string("the trust policy is not valid JSON (") +
                        simdjson::error_message(err) + "); fix its syntax");
  }
  JsonReader reader(warnings);
  RawDocument doc;
  std::vector<Field> fields = {{"version", {}}, {"trustPolicies", {}}};
  TG_RETURN_IF_ERROR(reader.ReadObject(root, "the document", &fields));
  TG_RETURN_IF_ERROR(
      reader.ReadString(fields[0], "the document", &doc.version));
  if (fields[1].value) {
    dom::array arr;
    if (fields[1].value->get_array().get(arr) != simdjson::SUCCESS) {
      return JsonReader::TypeError("trustPolicies", "an array of objects");
    }
    size_t index = 0;
    for (dom::element e : arr) {
      RawStatement st;
      TG_RETURN_IF_ERROR(ReadStatement(reader, e, index, &st));
      doc.statements.push_back(std::move(st));
      ++index;
    }
  }
  return doc;
}

// ---------------------------------------------------------- validation

std::optional<Level> ParseLevel(std::string_view s) {
  if (s == "strict") {
    return Level::kStrict;
  }
  if (s == "permissive") {
    return Level::kPermissive;
  }
  if (s == "audit") {
    return Level::kAudit;
  }
  if (s == "skip") {
    return Level::kSkip;
  }
  return std::nullopt;
}

std::optional<Validation> ParseValidation(std::string_view s) {
  if (s == "integrity") {
    return Validation::kIntegrity;
  }
  if (s == "authenticity") {
    return Validation::kAuthenticity;
  }
  if (s == "authenticTimestamp") {
    return Validation::kAuthenticTimestamp;
  }
  if (s == "expiry") {
    return Validation::kExpiry;
  }
  if (s == "revocation") {
    return Validation::kRevocation;
  }
  return std::nullopt;
}

std::optional<Action> ParseAction(std::string_view s) {
  if (s == "enforce") {
    return Action::kEnforce;
  }
  if (s == "log") {
    return Action::kLog;
  }
  if (s == "skip") {
    return Action::kSkip;
  }
  return std::nullopt;
}

std::optional<StoreType> ParseStoreType(std::string_view s) {
  if (s == "ca") {
    return StoreType::kCa;
  }
  if (s == "signingAuthority") {
    return StoreType::kSigningAuthority;
  }
  if (s == "tsa") {
    return StoreType::kTsa;
  }
  return std::nullopt;
}

// trust-store-trust-policy.md: Custom Verification Level, as notation-go
// GetVerificationLevel applies it.
PolicyStatus ValidateSignatureVerification(const RawSignatureVerification& sv,
                                           const std::string& label,
                                           Statement* st) {
  if (sv.level.empty()) {
    return StmtError(label, PolicyError::kInvalid, "level-missing",
                     "signatureVerification.level is missing; set it to "
                     "strict, permissive, audit or skip");
  }
  std::optional<Level> level = ParseLevel(sv.level);
  if (!level) {
    return StmtError(label, PolicyError::kInvalid, "level-unknown",
                     "signatureVerification.level " + Quote(sv.level) +
                         " is not one of strict, permissive, audit, skip");
  }
  st->level = *level;
  if (!sv.override_entries.empty() && *level == Level::kSkip) {
    return StmtError(label, PolicyError::kInvalid, "skip-override",
                     "level skip cannot be customized; remove override or "
                     "use another level");
  }
  for (const auto& [key, value] : sv.override_entries) {
    std::optional<Validation> validation = ParseValidation(key);
    if (!validation) {
      return StmtError(label, PolicyError::kInvalid,
                       "override-unknown-validation",
                       "override key " + Quote(key) +
                           " is not one of authenticity, authenticTimestamp, "
                           "expiry, revocation");
    }
    std::optional<Action> action = ParseAction(value);
    if (!action) {
      return StmtError(label, PolicyError::kInvalid, "override-unknown-action",
                       "override " + Quote(key) + " has action " +
                           Quote(value) + "; use enforce, log or skip");
    }
    if (*validation == Validation::kIntegrity) {
      return StmtError(label, PolicyError::kInvalid, "integrity-override",
                       "integrity cannot be overridden (not even to "
                       "enforce); remove it from override");
    }
    if (*action == Action::kSkip && *validation != Validation::kRevocation) {
      return StmtError(label, PolicyError::kInvalid,
                       "override-skip-not-allowed",
                       Quote(key) +
                           " cannot be skipped; only revocation may be "
                           "overridden to skip (use log instead)");
    }
    st->overrides[static_cast<size_t>(*validation)] = *action;
  }
  if (sv.verify_timestamp.empty() || sv.verify_timestamp == "always") {
    st->verify_timestamp = VerifyTimestamp::kAlways;
  } else if (sv.verify_timestamp == "afterCertExpiry") {
    st->verify_timestamp = VerifyTimestamp::kAfterCertExpiry;
  } else {
    return StmtError(label, PolicyError::kInvalid, "verify-timestamp-unknown",
                     "signatureVerification.verifyTimestamp " +
                         Quote(sv.verify_timestamp) +
                         " is not \"always\" or \"afterCertExpiry\"");
  }
  return base::Ok{};
}

PolicyStatus ValidateTrustStores(const std::vector<std::string>& entries,
                                 const std::string& label, Statement* st) {
  for (const std::string& entry : entries) {
    size_t colon = entry.find(':');
    if (colon == std::string::npos) {
      return StmtError(label, PolicyError::kInvalid, "trust-store-malformed",
                       "trust store " + Quote(entry) +
                           " is not of the form <type>:<name> (type ca, "
                           "signingAuthority or tsa)");
    }
    std::string_view type = std::string_view(entry).substr(0, colon);
    std::string_view name = std::string_view(entry).substr(colon + 1);
    std::optional<StoreType> store_type = ParseStoreType(type);
    if (!store_type) {
      return StmtError(label, PolicyError::kInvalid, "trust-store-type-unknown",
                       "trust store " + Quote(entry) + " has type " +
                           Quote(type) + "; use ca, signingAuthority or tsa");
    }
    if (!IsValidStoreName(name)) {
      return StmtError(label, PolicyError::kInvalid, "trust-store-name-invalid",
                       "trust store " + Quote(entry) + " has name " +
                           Quote(name) + "; names must match [a-zA-Z0-9_.-]+");
    }
    st->trust_stores.push_back(StoreRef{*store_type, std::string(name)});
  }
  return base::Ok{};
}

constexpr std::string_view kWildcard = "*";
constexpr std::string_view kX509Subject = "x509.subject";

PolicyStatus ValidateTrustedIdentities(const std::vector<std::string>& ids,
                                       const std::string& label,
                                       Statement* st) {
  if (ids.size() > kMaxIdentitiesPerStatement) {
    return StmtError(label, PolicyError::kInvalid, "too-many-identities",
                     "more than " + std::to_string(kMaxIdentitiesPerStatement) +
                         " trusted identities; split the statement");
  }
  bool has_wildcard = false;
  for (const std::string& id : ids) {
    has_wildcard = has_wildcard || id == kWildcard;
  }
  if (has_wildcard && ids.size() > 1) {
    return StmtError(label, PolicyError::kInvalid, "identity-wildcard-mixed",
                     "the wildcard identity \"*\" cannot be combined with "
                     "other identities; keep \"*\" alone or remove it");
  }
  for (const std::string& id : ids) {
    if (id.empty()) {
      return StmtError(label, PolicyError::kInvalid, "identity-empty",
                       "a trusted identity is empty; remove it");
    }
    TrustedIdentity ti;
    ti.raw = id;
    if (id == kWildcard) {
      ti.kind = TrustedIdentity::Kind::kWildcard;
      st->trusted_identities.push_back(std::move(ti));
      continue;
    }
    size_t colon = id.find(':');
    if (colon == std::string::npos) {
      return StmtError(label, PolicyError::kInvalid,
                       "identity-missing-separator",
                       "trusted identity " + Quote(id) +
                           " has no \"<prefix>:\"; write \"x509.subject: "
                           "C=..,ST=..,O=..\"");
    }
    std::string_view prefix = std::string_view(id).substr(0, colon);
    std::string_view value = std::string_view(id).substr(colon + 1);
    if (prefix != kX509Subject) {
      // notation-go accepts other prefixes at validation time (for
      // verification plugins); they never match natively.
      ti.kind = TrustedIdentity::Kind::kOther;
      st->trusted_identities.push_back(std::move(ti));
      continue;
    }
    if (value.empty()) {
      return StmtError(label, PolicyError::kInvalid, "identity-value-empty",
                       "trusted identity " + Quote(id) +
                           " has no DN after \"x509.subject:\"");
    }
    auto dn = ParseDistinguishedName(value);
    if (!dn.ok()) {
      return StmtError(label, PolicyError::kBadDistinguishedName,
                       "identity-bad-dn",
                       "trusted identity " + Quote(id) + ": " + dn.detail() +
                           "; write an RFC 4514 DN such as \"x509.subject: "
                           "C=US, ST=WA, O=example\"");
    }
    if (!HasMandatoryDnAttributes(*dn)) {
      return StmtError(label, PolicyError::kInvalid,
                       "identity-missing-attribute",
                       "trusted identity " + Quote(id) +
                           " must contain non-empty C, ST (or S) and O "
                           "attributes");
    }
    ti.kind = TrustedIdentity::Kind::kX509Subject;
    ti.x509_subject = std::move(dn).value();
    st->trusted_identities.push_back(std::move(ti));
  }
  // notation-go validateOverlappingDNs: two x509 identities overlap when one
  // is a subset of the other (the spec's wider "some certificate matches
  // both" is not what notation checks).
  const auto& tis = st->trusted_identities;
  for (size_t i = 0; i < tis.size(); ++i) {
    if (tis[i].kind != TrustedIdentity::Kind::kX509Subject) {
      continue;
    }
    for (size_t j = 0; j < tis.size(); ++j) {
      if (i == j || tis[j].kind != TrustedIdentity::Kind::kX509Subject) {
        continue;
      }
      if (IsDnSubset(tis[i].x509_subject, tis[j].x509_subject)) {
        return StmtError(label, PolicyError::kInvalid, "identity-overlap",
                         "trusted identities " + Quote(tis[i].raw) + " and " +
                             Quote(tis[j].raw) +
                             " overlap (the first matches every subject the "
                             "second does); keep one");
      }
    }
  }
  return base::Ok{};
}

// notation-go validatePolicyCore.
PolicyStatus ValidateStatementCore(const RawStatement& raw,
                                   const std::string& label, Statement* st) {
  if (raw.name.empty()) {
    return StmtError(label, PolicyError::kInvalid, "name-missing",
                     "the statement has no name; every statement needs a "
                     "unique name");
  }
  TG_RETURN_IF_ERROR(
      ValidateSignatureVerification(raw.signature_verification, label, st));
  if (st->level == Level::kSkip) {
    if (!raw.trust_stores.empty() || !raw.trusted_identities.empty()) {
      return StmtError(label, PolicyError::kInvalid, "skip-with-trust-config",
                       "level skip must not list trustStores or "
                       "trustedIdentities; remove them");
    }
    return base::Ok{};
  }
  if (raw.trust_stores.empty()) {
    return StmtError(label, PolicyError::kInvalid, "trust-stores-missing",
                     "trustStores is missing or empty; list at least one "
                     "store such as \"ca:<name>\"");
  }
  if (raw.trusted_identities.empty()) {
    return StmtError(label, PolicyError::kInvalid, "trusted-identities-missing",
                     "trustedIdentities is missing or empty; list \"*\" or "
                     "x509.subject identities");
  }
  TG_RETURN_IF_ERROR(ValidateTrustStores(raw.trust_stores, label, st));
  TG_RETURN_IF_ERROR(
      ValidateTrustedIdentities(raw.trusted_identities, label, st));
  return base::Ok{};
}

// trust-store-trust-policy.md: OCI Trust Policy Constraints, as notation-go
// validateRegistryScopes applies them.
PolicyStatus ValidateScopes(const std::vector<RawStatement>& raws,
                            std::vector<Statement>* statements) {
  std::unordered_map<std::string_view, size_t> owner;  // scope -> statement
  for (size_t i = 0; i < raws.size(); ++i) {
    const RawStatement& raw = raws[i];
    Statement& st = (*statements)[i];
    std::string label = StatementLabel(raw.name, i);
    if (raw.registry_scopes.empty()) {
      return StmtError(label, PolicyError::kInvalid, "scopes-missing",
                       "registryScopes is missing or empty; list repository "
                       "URIs or \"*\"");
    }
    bool has_wildcard = false;
    for (const std::string& s : raw.registry_scopes) {
      has_wildcard = has_wildcard || s == kWildcard;
    }
    if (has_wildcard && raw.registry_scopes.size() > 1) {
      return StmtError(label, PolicyError::kInvalid, "scope-wildcard-mixed",
                       "the global scope \"*\" cannot be combined with other "
                       "scopes; move them to another statement");
    }
    for (const std::string& scope : raw.registry_scopes) {
      if (scope == kWildcard) {
        continue;
      }
      if (scope.find('*') != std::string::npos) {
        return StmtError(label, PolicyError::kInvalid, "scope-wildcard-in-uri",
                         "registry scope " + Quote(scope) +
                             " contains \"*\"; only the global scope \"*\" "
                             "alone may use it");
      }
      if (!IsValidRepositoryUri(scope)) {
        return StmtError(label, PolicyError::kInvalid, "scope-invalid",
                         "registry scope " + Quote(scope) +
                             " is not a repository URI; write "
                             "<registry>/<repository> without scheme or tag, "
                             "e.g. registry.example.com/team/app");
      }
    }
    st.registry_scopes = raw.registry_scopes;
    st.global = has_wildcard;
  }
  for (size_t i = 0; i < raws.size(); ++i) {
    std::string label = StatementLabel(raws[i].name, i);
    for (const std::string& scope : raws[i].registry_scopes) {
      auto [it, inserted] = owner.emplace(scope, i);
      if (inserted) {
        continue;
      }
      if (scope == kWildcard) {
        return StmtError(label, PolicyError::kInvalid, "global-scope-duplicate",
                         "the global scope \"*\" is also used by " +
                             StatementLabel(raws[it->second].name, it->second) +
                             "; only one statement may be global");
      }
      std::string other =
          it->second == i ? std::string("this statement")
                          : StatementLabel(raws[it->second].name, it->second);
      return StmtError(label, PolicyError::kInvalid, "scope-overlap",
                       "registry scope " + Quote(scope) +
                           " is already listed by " + other +
                           "; a scope may appear in one statement, once");
    }
  }
  return base::Ok{};
}

bool IsAlnumLower(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool IsAlnum(char c) { return IsAlnumLower(c) || (c >= 'A' && c <= 'Z'); }

// Host part of the distribution reference grammar, as notation-go's
// domainRegexp: label ("." label)* (":" digits)?, label = alnum or alnum
// [alnum-]* alnum.
bool IsValidDomain(std::string_view d) {
  size_t colon = d.find(':');
  std::string_view host = d.substr(0, colon);
  if (colon != std::string_view::npos) {
    std::string_view port = d.substr(colon + 1);
    if (port.empty()) {
      return false;
    }
    for (char c : port) {
      if (c < '0' || c > '9') {
        return false;
      }
    }
  }
  if (host.empty()) {
    return false;
  }
  size_t pos = 0;
  while (true) {
    size_t dot = host.find('.', pos);
    std::string_view label = host.substr(pos, dot - pos);
    if (label.empty() || !IsAlnum(label.front()) || !IsAlnum(label.back())) {
      return false;
    }
    for (char c : label) {
      if (!IsAlnum(c) && c != '-') {
        return false;
      }
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    pos = dot + 1;
  }
}

// One path component of notation-go's repositoryRegexp:
// [a-z0-9]+ ((\.|_|__|-*) [a-z0-9]+)*.
bool IsValidPathComponent(std::string_view c) {
  if (c.empty() || !IsAlnumLower(c.front()) || !IsAlnumLower(c.back())) {
    return false;
  }
  size_t i = 0;
  while (i < c.size()) {
    if (IsAlnumLower(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !IsAlnumLower(c[j])) {
      ++j;
    }
    std::string_view sep = c.substr(i, j - i);
    bool all_dashes = true;
    for (char ch : sep) {
      all_dashes = all_dashes && ch == '-';
    }
    if (!(sep == "." || sep == "_" || sep == "__" || all_dashes)) {
      return false;
    }
    i = j;
  }
  return true;
}

void Sha256(base::ByteView data, std::array<uint8_t, 32>* out) {
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out->data(), &len, EVP_sha256(),
             nullptr);
}

}  // namespace

// ------------------------------------------------------------ names

std::string_view ToString(Level l) {
  switch (l) {
    case Level::kStrict:
      return "strict";
    case Level::kPermissive:
      return "permissive";
    case Level::kAudit:
      return "audit";
    case Level::kSkip:
      return "skip";
  }
  return "unknown";
}

std::string_view ToString(Validation v) {
  switch (v) {
    case Validation::kIntegrity:
      return "integrity";
    case Validation::kAuthenticity:
      return "authenticity";
    case Validation::kAuthenticTimestamp:
      return "authenticTimestamp";
    case Validation::kExpiry:
      return "expiry";
    case Validation::kRevocation:
      return "revocation";
  }
  return "unknown";
}

std::string_view ToString(Action a) {
  switch (a) {
    case Action::kEnforce:
      return "enforce";
    case Action::kLog:
      return "log";
    case Action::kSkip:
      return "skip";
  }
  return "unknown";
}

std::string_view ToString(VerifyTimestamp v) {
  switch (v) {
    case VerifyTimestamp::kAlways:
      return "always";
    case VerifyTimestamp::kAfterCertExpiry:
      return "afterCertExpiry";
  }
  return "unknown";
}

std::string_view ToString(StoreType t) {
  switch (t) {
    case StoreType::kCa:
      return "ca";
    case StoreType::kSigningAuthority:
      return "signingAuthority";
    case StoreType::kTsa:
      return "tsa";
  }
  return "unknown";
}

// ------------------------------------------------------------ Statement

Action Statement::ActionFor(Validation v) const {
  // trust-store-trust-policy.md: Signature Verification details (levels
  // table); SPEC-NOTES.md: Levels. Trusted identity is part of
  // authenticity.
  if (level == Level::kSkip) {
    return Action::kSkip;
  }
  const std::optional<Action>& o = overrides[static_cast<size_t>(v)];
  if (o) {
    return *o;
  }
  if (v == Validation::kIntegrity) {
    return Action::kEnforce;
  }
  switch (level) {
    case Level::kStrict:
      return Action::kEnforce;
    case Level::kPermissive:
      return v == Validation::kAuthenticity ? Action::kEnforce : Action::kLog;
    case Level::kAudit:
      return Action::kLog;
    case Level::kSkip:
      return Action::kSkip;
  }
  return Action::kEnforce;
}

std::string ToString(const StoreRef& ref) {
  return std::string(ToString(ref.type)) + ":" + ref.name;
}

bool Statement::HasStoreOfType(StoreType t) const {
  for (const StoreRef& r : trust_stores) {
    if (r.type == t) {
      return true;
    }
  }
  return false;
}

const Statement* TrustPolicy::Select(std::string_view repository_uri) const {
  // notation-go GetApplicableTrustPolicy validates the artifact's path with
  // the scope grammar before selecting anything.
  if (!IsValidRepositoryUri(repository_uri)) {
    return nullptr;
  }
  const Statement* global_statement = nullptr;
  for (const Statement& st : statements) {
    if (st.global) {
      global_statement = &st;
      continue;
    }
    for (const std::string& scope : st.registry_scopes) {
      if (scope == repository_uri) {
        return &st;
      }
    }
  }
  return global_statement;
}

bool IsValidRepositoryUri(std::string_view uri) {
  size_t slash = uri.find('/');
  if (slash == std::string_view::npos) {
    return false;
  }
  std::string_view domain = uri.substr(0, slash);
  std::string_view path = uri.substr(slash + 1);
  if (!IsValidDomain(domain) || path.empty()) {
    return false;
  }
  size_t pos = 0;
  while (true) {
    size_t next = path.find('/', pos);
    if (!IsValidPathComponent(path.substr(pos, next - pos))) {
      return false;
    }
    if (next == std::string_view::npos) {
      return true;
    }
    pos = next + 1;
  }
}

bool IsValidStoreName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (char c : name) {
    if (!IsAlnum(c) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

// ------------------------------------------------------------ parsing

base::Result<TrustPolicy, PolicyError> ParseTrustPolicy(base::ByteView json) {
  if (json.size() > kMaxTrustPolicyBytes) {
    return DocError(PolicyError::kTooLarge, "too-large",
                    "the trust policy is " + std::to_string(json.size()) +
                        " bytes; the limit is 4 MiB");
  }
  TrustPolicy policy;
  TG_ASSIGN_OR_RETURN(RawDocument raw, ReadDocument(json, &policy.warnings));

  // notation-go Document.Validate, in its order.
  if (raw.version.empty()) {
    return DocError(PolicyError::kInvalid, "version-missing",
                    "\"version\" is missing; set it to \"1.0\"");
  }
  if (raw.version != "1.0") {
    return DocError(
        PolicyError::kInvalid, "version-unsupported",
        "version " + Quote(raw.version) + " is not supported; use \"1.0\"");
  }
  if (raw.statements.empty()) {
    return DocError(PolicyError::kInvalid, "no-statements",
                    "\"trustPolicies\" is missing or empty; add at least one "
                    "statement");
  }
  std::set<std::string, std::less<>> names;
  policy.statements.resize(raw.statements.size());
  for (size_t i = 0; i < raw.statements.size(); ++i) {
    const RawStatement& rs = raw.statements[i];
    std::string label = StatementLabel(rs.name, i);
    if (!rs.name.empty() && names.count(rs.name) != 0) {
      return StmtError(label, PolicyError::kInvalid, "duplicate-name",
                       "another statement has the same name; statement "
                       "names must be unique");
    }
    Statement& st = policy.statements[i];
    st.name = rs.name;
    TG_RETURN_IF_ERROR(ValidateStatementCore(rs, label, &st));
    names.insert(rs.name);
  }
  TG_RETURN_IF_ERROR(ValidateScopes(raw.statements, &policy.statements));

  policy.version = raw.version;
  Sha256(json, &policy.sha256);
  return policy;
}

base::Result<base::Bytes, PolicyError> ReadTrustPolicyFile(
    const std::filesystem::path& path) {
  const std::string p = path.string();
  // notation-go getDocument: symlinks and directories are refused.
  auto data = base::ReadBoundedRegularFile(
      p, kMaxTrustPolicyBytes, "trust policy " + p, base::Symlinks::kRefuse);
  if (!data.ok()) {
    std::string detail = data.detail();
    switch (data.code()) {
      case base::FileError::kNotFound:
        detail += "; create it (see trust-store-trust-policy.md)";
        break;
      case base::FileError::kSymlink:
        detail += "; symlinks are not supported, put the file itself there";
        break;
      case base::FileError::kNotRegular:
        detail += "; name the policy file";
        break;
      default:
        break;
    }
    return base::MakeError(FromFileError(data.code()), std::move(detail));
  }
  return std::move(data).value();
}

base::Result<TrustPolicy, PolicyError> LoadTrustPolicyFile(
    const std::filesystem::path& path) {
  const std::string p = path.string();
  TG_ASSIGN_OR_RETURN(base::Bytes data, ReadTrustPolicyFile(path));
  auto parsed = ParseTrustPolicy(data);
  if (!parsed.ok()) {
    return base::MakeError(parsed.code(),
                           "trust policy " + p + ": " + parsed.detail());
  }
  TrustPolicy policy = std::move(parsed).value();
  policy.source = p;
  return policy;
}

base::Result<TrustPolicy, PolicyError> LoadTrustPolicyFromConfig(
    const std::filesystem::path& config_dir) {
  // trust-store-trust-policy.md (Trust Policy, note): trustpolicy.oci.json,
  // with trustpolicy.json accepted for backward compatibility. As in
  // notation-go LoadOCIDocument, the old name is read only when the new one
  // does not exist; a broken new file is an error, not a fallback.
  auto oci = LoadTrustPolicyFile(config_dir / "trustpolicy.oci.json");
  if (oci.ok() || oci.code() != PolicyError::kNotFound) {
    return oci;
  }
  auto legacy = LoadTrustPolicyFile(config_dir / "trustpolicy.json");
  if (!legacy.ok() && legacy.code() == PolicyError::kNotFound) {
    return base::MakeError(
        PolicyError::kNotFound,
        "no trust policy in " + config_dir.string() +
            ": neither trustpolicy.oci.json nor trustpolicy.json exists; "
            "create one (see trust-store-trust-policy.md)");
  }
  return legacy;
}

}  // namespace trustgate::policy
