#pragma once

// Semantic trust-policy diff (issue 5, parts 2 and 3): what each side of a
// change enforces, repository by repository, not how the JSON reads.
//
// For every repository URI named by either policy, and for "*" (any other
// repository: the global statement), the statement each side selects is
// compared:
//   level              strict > permissive > audit > skip
//   per validation     the effective action, enforce > log > skip
//   identities         set inclusion: "*" accepts every signer; an
//                      x509.subject DN with fewer attributes accepts more
//                      (DN subset); other identities (plugin ones such as
//                      AWS Signer profile ARNs) compare as exact strings
//   trust stores       by reference, and the anchors in them by SHA-256
//                      fingerprint, per store type
//   verifyTimestamp    always is stronger than afterCertExpiry
//
// Change rule ids (stable, part of the output format) and their effect:
//   level-lowered / level-raised              weakens / strengthens
//   override-relaxed / override-tightened     weakens / strengthens
//     (an effective action changed by an override on either side; a change
//      that only follows the level is reported as the level's)
//   identity-broadened / identity-narrowed    weakens / strengthens
//   store-added / store-removed               weakens / strengthens; neutral
//     when the store's anchors are trusted on the other side anyway
//   anchor-added / anchor-removed             weakens / strengthens (with
//     --managed-anchors an added managed anchor is neutral)
//   unmanaged-anchor                          weakens: an added anchor that
//     is not in the managed set
//   scope-moved                               neutral (the statement's
//     content is compared as well)
//   scope-uncovered / scope-covered           strengthens (artifacts there
//     now fail with no-policy) / weakens (a repository that failed with
//     no-policy is now verified, or skipped)
//   timestamp-relaxed / timestamp-tightened   weakens / strengthens; neutral
//     when neither side has a tsa store (the setting is inert)
//
// Everything here is pure computation over parsed policies and loaded
// stores, except the Load* helpers, which read files.

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "policy/error.h"
#include "policy/trust_policy.h"
#include "policy/trust_store.h"

namespace trustgate::policy {

// Effect is the security direction of a change.
enum class Effect { kWeakens, kStrengthens, kNeutral };
std::string_view ToString(Effect e);  // "weakens", "strengthens", "neutral"

// PolicyChange is one semantic change.
struct PolicyChange {
  std::string rule;       // stable rule id (see above)
  std::string scope;      // repository URI, or "*" for any other repository
  std::string statement;  // the new side's statement (the old one's when
                          // the scope is uncovered)
  std::string from;       // old value ("" when none)
  std::string to;         // new value ("" when none)
  Effect effect = Effect::kNeutral;
  std::string message;   // one line for a person; names no scope
  bool allowed = false;  // its rule was passed to --allow
};

// kDiffRules lists every change rule id.
inline constexpr std::array<std::string_view, 16> kDiffRules = {
    "level-lowered",      "level-raised",       "override-relaxed",
    "override-tightened", "identity-broadened", "identity-narrowed",
    "anchor-added",       "anchor-removed",     "store-added",
    "store-removed",      "scope-moved",        "scope-uncovered",
    "scope-covered",      "timestamp-relaxed",  "timestamp-tightened",
    "unmanaged-anchor"};

// IsDiffRule is true for a rule id of kDiffRules.
bool IsDiffRule(std::string_view rule);

// PolicySide is one side of a diff. `store` null means the anchors are
// unknown (a policy file given without its trust store): stores are then
// compared by reference only.
struct PolicySide {
  const TrustPolicy* policy = nullptr;
  const TrustStore* store = nullptr;
};

using Fingerprint = std::array<uint8_t, 32>;

// DiffOptions tunes the verdicts.
struct DiffOptions {
  // managed_anchors: when set, the only anchors that may be added without
  // weakening (others are unmanaged-anchor).
  const std::set<Fingerprint>* managed_anchors = nullptr;
  // allow: rule ids whose changes do not count as weakening.
  std::set<std::string, std::less<>> allow;
};

// DiffPolicies lists the changes from `before` to `after`, ordered by
// scope (repository URIs sorted, "*" last), then in a fixed order of
// checks (coverage, level, overrides, identities, stores and anchors per
// type ca / signingAuthority / tsa, verifyTimestamp).
std::vector<PolicyChange> DiffPolicies(const PolicySide& before,
                                       const PolicySide& after,
                                       const DiffOptions& options);

// DriftSelection says which changes a drift report keeps.
enum class DriftSelection {
  kWeaker,  // only where the environment is weaker than the baseline
            // (effect weakens; this includes scope-covered: repositories
            // the baseline does not cover)
  kAll,     // every difference
};

// DriftChanges compares an environment with the baseline it should be
// derived from: DiffPolicies(baseline, environment) filtered by
// `selection`.
std::vector<PolicyChange> DriftChanges(const PolicySide& baseline,
                                       const PolicySide& environment,
                                       const DiffOptions& options,
                                       DriftSelection selection);

// Weakens is true when a change weakens and is not allowed.
bool Weakens(const std::vector<PolicyChange>& changes);

// LoadedPolicy is a policy read from a config dir or a file, and its trust
// store when it came from a config dir.
struct LoadedPolicy {
  TrustPolicy policy;
  std::optional<TrustStore> store;
  std::string label;  // the path as given

  PolicySide Side() const {
    return PolicySide{&policy, store ? &*store : nullptr};
  }
};

// LoadPolicyInput reads `path`: a directory is a Notation config dir
// (trustpolicy.oci.json or trustpolicy.json, and truststore/ whose
// referenced stores are loaded; a missing truststore/ or store counts as
// no anchors); a regular file is a policy alone. Fails on a symlink
// (kSymlink), a spec-invalid policy (the ParseTrustPolicy error, naming
// the file, statement and rule), and a referenced store that is present
// but unusable (symlinked, unreadable, a bad certificate).
base::Result<LoadedPolicy, PolicyError> LoadPolicyInput(
    const std::filesystem::path& path);

// LoadManagedAnchors reads the certificates (.pem, .crt, .cer; PEM or DER)
// in `dir` and its sub-directories (at most 4 levels, 10000 files; other
// files are ignored) and returns their fingerprints. A symlink anywhere,
// an unreadable or unparsable certificate file, or `dir` not being a
// directory fails.
base::Result<std::set<Fingerprint>, PolicyError> LoadManagedAnchors(
    const std::filesystem::path& dir);

}  // namespace trustgate::policy
