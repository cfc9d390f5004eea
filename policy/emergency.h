#pragma once

// Emergency trust policies (issue 5, part 4): a separate Notation trust
// policy file whose statements apply on top of the base policy for a short,
// approved time. The file is an ordinary trust policy document with one
// extra top-level member, which Notation's decoder ignores (unknown keys),
// so the file stays a valid Notation policy:
//
//   {
//     "version": "1.0",
//     "trustgate": {
//       "emergency": {
//         "expires": "2026-03-01T18:00:00Z",        (required, RFC 3339)
//         "approvedBy": "security-oncall@example.com", (required)
//         "reason": "INC-4711: signing CA rotated early", (required)
//         "approvedAt": "2026-03-01T09:00:00Z"       (optional, RFC 3339)
//       }
//     },
//     "trustPolicies": [ ...statements... ]
//   }
//
// Decisions (the issue leaves them open):
//
// - Lifetime. The file carries no mandatory start time, so its lifetime
//   is measured at verification time: `expires - at` must not exceed the
//   maximum TTL. Whatever the dates written, the file is therefore usable
//   for at most max_ttl (during [expires - max_ttl, expires)). When the
//   optional "approvedAt" is present, the lifetime is also
//   `expires - approvedAt` (must not exceed max_ttl) and the file is
//   refused before approvedAt: a file approved for a day cannot be dated
//   so that it lies dormant and wakes up later.
// - Merge. A repository URI listed in an emergency statement's
//   registryScopes is governed by that statement: the scope is removed from
//   the base statement that listed it (a base statement left with no scope
//   is dropped). An emergency "*" statement replaces the base global
//   statement (and covers repositories no statement covered before); base
//   scoped statements are untouched by it, exactly as a "*" statement never
//   beats an exact scope in one document. Statement names of the two files
//   must differ (verdicts name the statement that decided them).
// - Strictness. Inside "trustgate" and "trustgate.emergency", keys are
//   exact (no case folding), unknown keys, repeated keys, null and
//   non-string values are refused, and approvedBy / reason must be one
//   line of printable text (they are printed to terminals and logs).
//   The whole file must be exactly one JSON value (notation ignores
//   trailing content; an emergency file with any is refused).
//
// Nothing here reads a clock: the verification time is a parameter.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/time.h"
#include "policy/trust_policy.h"

namespace trustgate::policy {

// EmergencyError is why an emergency policy cannot be used. Stable codes,
// never renumbered or reused.
enum class EmergencyError {
  kNotFound = 1,          // the file does not exist
  kSymlink = 2,           // the file is a symlink (refused, as policies are)
  kUnreadable = 3,        // not a regular file, or the OS refused to read it
  kTooLarge = 4,          // above 4 MiB
  kMalformedJson = 5,     // not one JSON value, wrong types, duplicate keys,
                          // unknown keys or a bad time in "trustgate"
  kInvalidPolicy = 6,     // a trust policy rule is broken (the detail names
                          // the statement and the rule id)
  kNotEmergency = 7,      // no "trustgate": {"emergency": {...}} object
  kBadMetadata = 8,       // expires, approvedBy or reason missing or empty,
                          // or approvedAt not before expires
  kExpired = 9,           // the verification time is at or after expires
  kLifetimeTooLong = 10,  // expires is further than the maximum TTL
  kNotYetApproved = 11,   // the verification time is before approvedAt
  kNameCollision = 12,    // a statement name used by both files
};

// ToString returns the stable kebab-case name of `e` ("expired", ...).
std::string_view ToString(EmergencyError e);

// kDefaultMaxEmergencyTtl is the default of --max-emergency-ttl.
inline constexpr std::chrono::microseconds kDefaultMaxEmergencyTtl =
    std::chrono::hours(24);

// ParseEmergencyTtl parses a --max-emergency-ttl value: one or more
// <digits><unit> groups with units d, h, m, s ("24h", "90m", "1h30m",
// "2d"). nullopt for anything else, for zero, or above 366 days.
std::optional<std::chrono::microseconds> ParseEmergencyTtl(
    std::string_view text);

// EmergencyMetadata is the "trustgate.emergency" object as written. Empty
// strings and nullopt stand for absent fields (only ReadEmergencyMetadata
// accepts those; ParseEmergencyPolicy requires the mandatory ones).
struct EmergencyMetadata {
  std::optional<base::Time> expires;
  std::optional<base::Time> approved_at;
  std::string approved_by;
  std::string reason;
};

// EmergencyProblem is a completeness problem of EmergencyMetadata.
enum class EmergencyProblem {
  kNoExpiry,             // expires absent or empty
  kNoApprover,           // approvedBy absent or empty
  kNoReason,             // reason absent or empty
  kApprovedAfterExpiry,  // approvedAt at or after expires
};

// ToString: "no-expiry", "no-approver", "no-reason",
// "approved-after-expiry".
std::string_view ToString(EmergencyProblem p);

// EmergencyFinding is one problem with a one-line message saying what to
// fix.
struct EmergencyFinding {
  EmergencyProblem problem;
  std::string message;
};

// ReadEmergencyMetadata reads the "trustgate.emergency" member of a trust
// policy document (not the statements). Returns nullopt when the document
// has no top-level "trustgate" member, or one without "emergency". Fails
// with kTooLarge above 4 MiB and kMalformedJson when `json` is not exactly
// one JSON object, or when "trustgate" / "emergency" is not an object,
// repeats, has an unknown key or a non-string value, a time is not
// RFC 3339, approvedBy or reason holds a control character or is longer
// than 4096 bytes, or a top-level key differs from "trustgate" only by
// case. Missing fields are not an error here (see
// ValidateEmergencyMetadata). Pure.
base::Result<std::optional<EmergencyMetadata>, EmergencyError>
ReadEmergencyMetadata(base::ByteView json);

// ValidateEmergencyMetadata lists what keeps `metadata` from being a usable
// emergency: no expires, no approvedBy, no reason, approvedAt not before
// expires. Empty when complete. `policy lint` maps kNoExpiry and
// kNoApprover to its emergency-no-expiry rule. Pure.
std::vector<EmergencyFinding> ValidateEmergencyMetadata(
    const EmergencyMetadata& metadata);

// EmergencyPolicy is a parsed emergency file: its statements, validated
// exactly as a trust policy (ParseTrustPolicy), and complete metadata
// (expires, approved_by and reason are set).
struct EmergencyPolicy {
  TrustPolicy policy;
  EmergencyMetadata metadata;
};

// ParseEmergencyPolicy parses an emergency file: ParseTrustPolicy rules
// first (its failures map to kTooLarge, kMalformedJson or kInvalidPolicy
// with its detail, rule id included), then ReadEmergencyMetadata
// (kNotEmergency when absent), then ValidateEmergencyMetadata (kBadMetadata
// naming every problem). The "unknown key trustgate" warning of
// ParseTrustPolicy is dropped from policy.warnings. No time check here:
// see ApplyEmergency.
base::Result<EmergencyPolicy, EmergencyError> ParseEmergencyPolicy(
    base::ByteView json);

// LoadEmergencyPolicyFile reads `path` as trust policies are read (a
// symlink is kSymlink, a non-regular file kUnreadable, a missing one
// kNotFound, above 4 MiB kTooLarge) and parses it; policy.source is `path`.
base::Result<EmergencyPolicy, EmergencyError> LoadEmergencyPolicyFile(
    const std::filesystem::path& path);

// EmergencyMark is what every verdict decided by an emergency statement
// carries: `"emergency": true` with approver and reason in the output and
// the index. A verdict under it holds at most until `expires`.
struct EmergencyMark {
  base::Time expires{};
  std::optional<base::Time> approved_at;
  std::string approved_by;
  std::string reason;
  std::string source;                // the emergency file's path
  std::array<uint8_t, 32> sha256{};  // of the emergency file's bytes
};

// Displacement records one scope the emergency took over: `scope` (a
// repository URI, or "*") is now governed by `emergency_statement`; it was
// governed by `base_statement` ("" when no base statement covered it).
struct Displacement {
  std::string scope;
  std::string emergency_statement;
  std::string base_statement;
};

// EffectivePolicy is the policy to verify with, plus which of its
// statements came from the emergency file.
struct EffectivePolicy {
  // policy: emergency statements first (in file order), then the base
  // statements that keep at least one scope (in base order, with the taken
  // scopes removed). It satisfies every ParseTrustPolicy document rule
  // (unique names, no scope listed twice, one "*" at most). Its sha256 is
  // SHA-256("trustgate-emergency-v1" || base sha256 || emergency sha256),
  // so verdict provenance and index inputs differ from the base policy's;
  // source is the base's; warnings are the base's then the emergency's
  // (prefixed "emergency policy: ").
  TrustPolicy policy;
  EmergencyMark mark;
  // emergency_statements: names of the statements of `policy` that came
  // from the emergency file.
  std::set<std::string, std::less<>> emergency_statements;
  std::vector<Displacement> displaced;

  // MarkFor returns the mark when the statement named `statement_name`
  // came from the emergency file, else nullptr. Borrowed from *this.
  const EmergencyMark* MarkFor(std::string_view statement_name) const;
};

// ApplyEmergency merges `emergency` onto `base` for verification time `at`
// (see the merge rules at the top of this file). Fails with
//   kExpired          at >= expires (the detail says since when),
//   kNotYetApproved   approvedAt is set and at < approvedAt,
//   kLifetimeTooLong  expires - at > max_ttl, or approvedAt is set and
//                     expires - approvedAt > max_ttl,
//   kNameCollision    a statement name appears in both files,
//   kBadMetadata      `emergency` lacks expires (not from the parser).
// Pure: copies what it needs from both arguments.
base::Result<EffectivePolicy, EmergencyError> ApplyEmergency(
    const TrustPolicy& base, const EmergencyPolicy& emergency, base::Time at,
    std::chrono::microseconds max_ttl = kDefaultMaxEmergencyTtl);

}  // namespace trustgate::policy
