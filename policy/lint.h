#pragma once

// Trust-policy lint (issue 5, part 1): every spec violation of a trust
// policy as an error (the validation `verify` uses: ParseTrustPolicy,
// TrustStore::Load), and the mistakes multi-team organisations make as
// warnings, each with a stable rule id, the statement it concerns and a
// one-line fix.
//
// Warning rule ids (stable, part of the output format):
//   shared-store         a ca or signingAuthority store referenced by two or
//                        more scoped statements (the global statement and
//                        tsa stores do not count)
//   wildcard-identity    "*" trusted identity at level strict or permissive
//   broad-global         the global "*" statement is not strict, or trusts
//                        more ca/signingAuthority stores than every scoped
//                        statement does
//   revocation-relaxed   revocation overridden to log or skip at strict
//   weak-level           permissive or audit on a scoped statement
//   intermediate-anchor  a certificate that is not a self-signed root in a
//                        ca or signingAuthority store
//   anchor-expiring      an anchor whose notAfter is within 30 days of --at
//   anchor-expired       an anchor whose notAfter is before --at
//   missing-store        a referenced store directory that does not exist
//   empty-store          a referenced store holding no certificate
//   unused-store         a store directory no statement references (not
//                        for an emergency policy, which applies on top of
//                        the base policy and its stores)
//   no-tsa               a strict statement with ca stores (notary.x509)
//                        and no tsa store
//   emergency-no-expiry  an emergency policy without expires or approvedBy
//                        (policy/emergency.h ValidateEmergencyMetadata:
//                        no-expiry, no-approver)
//   ignored-content      something notation accepts but ignores (unknown
//                        policy keys, trailing content, sub-directories
//                        in a store, ...): a typo a person should see
//
// Error rule ids: every rule id of ParseTrustPolicy (trust_policy.cc, e.g.
// "duplicate-name", "scope-overlap"), plus
//   policy-not-found, policy-symlink, policy-unreadable, policy-too-large
//   trust-store-not-found, trust-store-not-directory  (the --trust-store dir)
//   store-symlink, store-unreadable, store-not-directory, store-too-large,
//   store-bad-certificate, store-bad-store-certificate  (a referenced store)
//   emergency-malformed  the "trustgate" object is refused by
//                        ReadEmergencyMetadata (the reader verify uses:
//                        wrong types, unknown or repeated keys, a bad time,
//                        trailing content), or lacks a reason, or its
//                        approvedAt is not before expires: verify
//                        --emergency-policy refuses such a file
//   too-many-errors      the error list was cut short

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/time.h"
#include "policy/emergency.h"
#include "policy/error.h"
#include "policy/trust_policy.h"
#include "policy/trust_store.h"

namespace trustgate::policy {

// LintFinding is one error or warning.
struct LintFinding {
  std::string rule;       // stable rule id (see above)
  std::string statement;  // statement name; "" for document/store-wide
  std::string message;    // what is wrong and the fix, one line
  std::string fix;        // the fix alone ("" when message carries it)
};

// LintReport is the outcome of a lint run.
struct LintReport {
  std::vector<LintFinding> errors;
  std::vector<LintFinding> warnings;
  // stores_checked is false when no trust store was given (policy-only
  // lint): store-based rules were not evaluated.
  bool stores_checked = true;
  // policy_source: the policy file that was linted (LintFiles).
  std::string policy_source;

  // ExitCode is 2 with errors, 1 with warnings only, 0 when clean.
  int ExitCode() const;
};

// CollectPolicyErrors validates `json` as ParseTrustPolicy does but keeps
// going: every statement is validated on its own, then the cross-statement
// rules (duplicate-name, scope-overlap, global-scope-duplicate) and the
// version are checked, so one run reports many errors. It reports nothing
// when ParseTrustPolicy accepts `json`, and always reports at least the
// error ParseTrustPolicy gives when it refuses it. At most `max_errors`
// (then a final too-many-errors finding).
std::vector<LintFinding> CollectPolicyErrors(base::ByteView json,
                                             size_t max_errors = 200);

// LintInput is everything the pure lint needs.
struct LintInput {
  const TrustPolicy* policy = nullptr;  // required, validated
  // store: the loaded trust store; null for a policy-only lint.
  const TrustStore* store = nullptr;
  // present_stores: the store directories that exist under the trust store
  // root (ListStoreDirectories); used for unused-store.
  std::vector<StoreRef> present_stores;
  // store_warnings: TrustStore::Load's warnings (ignored-content).
  std::vector<std::string> store_warnings;
  // emergency: the "trustgate.emergency" object when the policy is an
  // emergency policy (policy/emergency.h ReadEmergencyMetadata).
  std::optional<EmergencyMetadata> emergency;
  base::Time at{};
};

// LintPolicy applies the warning rules to a validated policy and its
// loaded stores. Store load failures other than missing/empty are errors.
// Pure: no I/O, no clock.
LintReport LintPolicy(const LintInput& input);

// ListStoreDirectories lists <root>/x509/{ca,signingAuthority,tsa}/<name>
// entries that are directories or symlinks (a symlinked store is still a
// store someone put there), sorted. A missing root or type directory
// lists nothing. Bounded to 10000 entries per type.
std::vector<StoreRef> ListStoreDirectories(const std::filesystem::path& root);

// LintSource says which files to lint. With `policy_file`, that file;
// else the policy of `config_dir` (trustpolicy.oci.json, else
// trustpolicy.json). The trust store root is `trust_store_dir`, else
// `<config_dir>/truststore` when config_dir is set, else none
// (policy-only lint).
struct LintSource {
  std::optional<std::filesystem::path> config_dir;
  std::optional<std::filesystem::path> policy_file;
  std::optional<std::filesystem::path> trust_store_dir;
};

// LintFiles reads the policy (refusing symlinks and non-regular files, at
// most 4 MiB), collects every error, and when the policy is valid loads
// its stores and applies LintPolicy at `at`. Never fails: problems are
// errors in the report.
LintReport LintFiles(const LintSource& source, base::Time at);

}  // namespace trustgate::policy
