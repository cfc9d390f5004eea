#pragma once

// The Notation OCI trust policy document: parsing, every validation rule of
// trust-store-trust-policy.md (and SPEC-NOTES.md), levels, overrides and
// scope selection.

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/certificate.h"
#include "policy/error.h"

namespace trustgate::policy {

// Level is signatureVerification.level.
enum class Level { kStrict, kPermissive, kAudit, kSkip };
std::string_view ToString(Level l);  // "strict", ...

// Validation is a check a level assigns an action to.
enum class Validation {
  kIntegrity,
  kAuthenticity,
  kAuthenticTimestamp,
  kExpiry,
  kRevocation,
};
std::string_view ToString(Validation v);  // "integrity", "authenticTimestamp"

// Action is what a failed validation does.
enum class Action { kEnforce, kLog, kSkip };
std::string_view ToString(Action a);  // "enforce", "log", "skip"

// VerifyTimestamp is signatureVerification.verifyTimestamp.
enum class VerifyTimestamp { kAlways, kAfterCertExpiry };
std::string_view ToString(VerifyTimestamp v);  // "always", "afterCertExpiry"

// StoreType is the type part of a trustStores entry.
enum class StoreType { kCa, kSigningAuthority, kTsa };
std::string_view ToString(StoreType t);  // "ca", "signingAuthority", "tsa"

// StoreRef is one trustStores entry ("ca:acme").
struct StoreRef {
  StoreType type = StoreType::kCa;
  std::string name;
  friend bool operator==(const StoreRef&, const StoreRef&) = default;
};

// ToString returns `ref` as written in trustStores ("ca:acme").
std::string ToString(const StoreRef& ref);

// TrustedIdentity is one trustedIdentities entry.
struct TrustedIdentity {
  enum class Kind { kWildcard, kX509Subject, kOther };
  Kind kind = Kind::kWildcard;
  std::string raw;                                // as written
  std::vector<crypto::DnAttribute> x509_subject;  // for kX509Subject
};

// Statement is one trust policy statement.
struct Statement {
  std::string name;
  std::vector<std::string> registry_scopes;  // as written
  bool global = false;                       // registryScopes == ["*"]
  Level level = Level::kStrict;
  // overrides, indexed by Validation; nullopt = no override.
  std::array<std::optional<Action>, 5> overrides{};
  VerifyTimestamp verify_timestamp = VerifyTimestamp::kAlways;
  std::vector<StoreRef> trust_stores;
  std::vector<TrustedIdentity> trusted_identities;

  // ActionFor is the effective action of `v`: the override if any, else
  // the level's (SPEC-NOTES.md: Levels). For kSkip every action is kSkip.
  Action ActionFor(Validation v) const;
  // HasStoreOfType is true if a trustStores entry has type `t`.
  bool HasStoreOfType(StoreType t) const;
};

// TrustPolicy is a validated document.
struct TrustPolicy {
  std::string version;
  std::vector<Statement> statements;
  std::array<uint8_t, 32> sha256{};  // of the file bytes (provenance)
  std::string source;                // file path it was read from
  // warnings: things notation accepts silently that a person should see
  // (unknown keys, which notation's JSON decoder ignores).
  std::vector<std::string> warnings;

  // Select returns the statement governing `repository_uri`: an exact
  // match in registryScopes, else the global statement, else nullptr
  // (trust-store-trust-policy.md: Selecting a trust policy). As in
  // notation-go, a `repository_uri` that is not a valid repository URI
  // (IsValidRepositoryUri) selects nothing, not even the global statement.
  const Statement* Select(std::string_view repository_uri) const;
};

// IsValidRepositoryUri is true for `<registry>/<repository>` as notation-go
// validates registry scopes and artifact paths (the distribution reference
// grammar): a host name of [a-zA-Z0-9-] labels joined by `.` with an
// optional `:port`, then `/` and lowercase path components separated by
// `/` whose inner separators are `.`, `_`, `__` or a run of `-`
// ("localhost:5000/test-repo", "registry.example.com/a/b").
bool IsValidRepositoryUri(std::string_view uri);

// IsValidStoreName is true for a named-store name notation accepts:
// [a-zA-Z0-9_.-]+ (notation-go internal/file IsValidFileName).
bool IsValidStoreName(std::string_view name);

// ParseTrustPolicy parses and validates a trust policy document (at most
// 4 MiB, else kTooLarge). On any violation it fails with kMalformedJson /
// kInvalid / kBadDistinguishedName and a detail of the form
//   trust policy statement "<name>": <rule-id>: <what is wrong and the fix>
// (document-level rules omit the statement part). Rule ids are stable
// (e.g. "duplicate-name", "scope-overlap", "integrity-override").
base::Result<TrustPolicy, PolicyError> ParseTrustPolicy(base::ByteView json);

// kMaxTrustPolicyBytes bounds a trust policy document (SPEC-NOTES: 4 MiB).
inline constexpr size_t kMaxTrustPolicyBytes = size_t{4} * 1024 * 1024;

// ReadTrustPolicyFile reads the bytes of the trust policy file `path`,
// refusing symlinks (kSymlink) and non-regular files (kUnreadable), at most
// 4 MiB (kTooLarge); a path that does not exist fails with kNotFound. It is
// the one reader of policy files for verify, lint and diff.
base::Result<base::Bytes, PolicyError> ReadTrustPolicyFile(
    const std::filesystem::path& path);

// LoadTrustPolicyFile reads `path` with ReadTrustPolicyFile and parses it.
base::Result<TrustPolicy, PolicyError> LoadTrustPolicyFile(
    const std::filesystem::path& path);

// LoadTrustPolicyFromConfig reads `<config>/trustpolicy.oci.json`, falling
// back to `<config>/trustpolicy.json` only when the first does not exist
// (any other problem with it is reported, as notation-go does); kNotFound
// when neither exists.
base::Result<TrustPolicy, PolicyError> LoadTrustPolicyFromConfig(
    const std::filesystem::path& config_dir);

}  // namespace trustgate::policy
