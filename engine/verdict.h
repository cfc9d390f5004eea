#pragma once

// Verdicts as ARCHITECTURE.md defines them: one per artifact digest, with a
// stable reason code and, per signature, one result per validation.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/time.h"

namespace trustgate::engine {

// Verdict is the artifact's outcome.
enum class Verdict { kVerified, kSkipped, kFailed };
std::string_view ToString(Verdict v);  // "verified" | "skipped" | "failed"
std::optional<Verdict> VerdictFromString(std::string_view s);

// Reason is the stable reason code (part of the output format; never
// renumbered, never reused). The order of the signature-level codes is the
// validation order used to pick "the signature that got furthest".
enum class Reason {
  kOk = 0,
  kSkipped = 1,
  kUnsigned = 2,
  kNoPolicy = 3,
  kIntegrity = 4,
  kAuthenticity = 5,
  kTrustedIdentity = 6,
  kExpiry = 7,
  kAuthenticTimestamp = 8,
  kRevocation = 9,
  kPlugin = 10,
  kBlobIntegrity = 11,
  kBlobMissing = 12,
  kManifestIntegrity = 13,
  kMalformed = 14,
};
std::string_view ToString(Reason r);  // "ok", "trusted-identity", ...
std::optional<Reason> ReasonFromString(std::string_view s);

// Check is one entry of a signature's `validations` object, in output
// order.
enum class Check {
  kIntegrity = 0,
  kAuthenticity = 1,
  kTrustedIdentity = 2,
  kExpiry = 3,
  kAuthenticTimestamp = 4,
  kRevocation = 5,
  kPlugin = 6,
};
inline constexpr size_t kCheckCount = 7;
std::string_view ToString(Check c);  // "integrity", "trustedIdentity", ...
std::optional<Check> CheckFromString(std::string_view s);

// CheckStatus is the value of one validation in the output.
enum class CheckStatus { kPass, kFail, kLogged, kSkipped };
std::string_view ToString(CheckStatus s);  // "pass" | "fail" | ...
std::optional<CheckStatus> CheckStatusFromString(std::string_view s);

// CheckResult is one validation's outcome with why.
struct CheckResult {
  CheckStatus status = CheckStatus::kSkipped;
  std::string code;    // stable finding code ("bad-signature"), may be empty
  std::string detail;  // human-readable, what failed and what to fix
};

// Timestamp is the RFC 3161 countersignature summary (issue 3 fills it).
struct TimestampInfo {
  std::string tsa;  // TSA leaf subject DN
  base::Time gen_time{};
  uint64_t accuracy_us = 0;  // effective accuracy, microseconds
};

// RevocationEntry is one certificate's revocation result (root excluded).
struct RevocationEntry {
  std::string certificate;  // SHA-256 hex
  std::string chain;        // "signing" | "tsa"
  std::string status;       // "good" | "revoked" | "unknown"
  std::string method;       // "ocsp" | "crl" | "none" (not revocable)
  std::string source;       // "crl-dir" | "cache" | "index" | "http" | "none"
};

// PluginUse says which verification plugin a signature named and what it
// was (output addition `plugin`, present only when the envelope names one).
struct PluginUse {
  std::string name;
  std::string version;  // empty when the plugin could not be resolved
  // capabilities: its SIGNATURE_VERIFIER capabilities (wire names).
  std::vector<std::string> capabilities;
  bool cached = false;  // the verify-signature answer came from the index
};

// SignatureVerdict is the outcome of one signature manifest.
struct SignatureVerdict {
  std::string digest;    // signature manifest digest "<alg>:<hex>"
  std::string envelope;  // "jws" | "cose" | "" when not an envelope
  std::string scheme;    // "notary.x509" | "notary.x509.signingAuthority"
  std::string identity;  // leaf subject DN (RFC 4514)
  std::optional<base::Time> signing_time;
  std::optional<base::Time> authentic_signing_time;
  std::optional<TimestampInfo> timestamp;
  std::string trust_store;  // "ca:acme" of the matching store
  // anchor: SHA-256 hex of the trust-store certificate the chain matched
  // (recorded in the index for rotation queries; not part of the output).
  std::string anchor;
  std::vector<std::string> chain;  // SHA-256 hex fingerprints, leaf first
  std::array<CheckResult, kCheckCount> validations{};
  // revocation: per certificate of the signing chain (and the TSA chain),
  // leaf first, when revocation was checked.
  std::vector<RevocationEntry> revocation;
  std::optional<PluginUse> plugin;  // the verification plugin named, if any
  // reason: ok, or the reason of the first enforced failure.
  Reason reason = Reason::kOk;
  std::string error;  // message of the enforced failure, empty when ok
  // expires: the earliest time this signature's pass stops holding
  // (certificate expiry that matters, signature expiry), if any.
  std::optional<base::Time> valid_until;
  // reuse_until: the earliest time after the verification time at which
  // this signature's outcome (pass or fail, any action) could change:
  // a chain certificate's not-before or not-after, the signature expiry, a
  // revocation next-update. Not part of the output; the index keeps it for
  // incremental re-verification (engine/run.h).
  std::optional<base::Time> reuse_until;
};

// BlobSummary counts the blob checks of one artifact.
struct BlobSummary {
  uint64_t checked = 0;
  uint64_t bad = 0;
  uint64_t missing = 0;
  // unreadable: of `bad`, those whose read failed (not printed; it
  // selects the error message).
  uint64_t unreadable = 0;
};

// EmergencyInfo marks a verdict decided by a statement of an emergency
// trust policy (`verify --emergency-policy`): who approved it, why, and
// when it stops applying. The verdict's valid_until is at most `expires`.
struct EmergencyInfo {
  std::string approved_by;
  std::string reason;
  base::Time expires{};
};

// ArtifactVerdict is one line of output and one row of the index.
struct ArtifactVerdict {
  std::string repository;
  std::string digest;
  std::string media_type;
  std::vector<std::string> tags;
  Verdict verdict = Verdict::kFailed;
  Reason reason = Reason::kMalformed;
  std::string policy;  // statement name, empty when none applies
  std::string level;   // "strict" | ... with overrides: "strict+expiry=log"
  std::vector<SignatureVerdict> signatures;
  BlobSummary blobs;
  std::string error;  // one-line summary of why it failed
  std::optional<base::Time> valid_until;
  base::Time verified_at{};                // the verification time used (--at)
  std::optional<EmergencyInfo> emergency;  // set under an emergency policy
};

}  // namespace trustgate::engine
