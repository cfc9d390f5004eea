#pragma once

// Rotation impact (issue 5, part 5): from the trust paths the verdict
// index recorded (engine/index.h: signatures.trust_store,
// anchor_fingerprint, chain), which artifacts verified today would stop
// verifying if a trust anchor or a whole trust store were removed, and how
// many still depend on an anchor (so an operator knows when it can go:
// add the new anchor, wait a cache lifetime, re-sign or confirm, then
// remove the old one).
//
// Model. A `verified` artifact stops verifying when none of its recorded
// passing signatures (signatures.reason = 'ok') would still be anchored
// after the change. A passing signature is still anchored when:
//   - its statement does not enforce authenticity (level audit, or
//     authenticity overridden to log; read from verdicts.level): removing
//     an anchor only turns the check into a logged failure
//     (SPEC-NOTES.md: Levels), so it never stops verifying;
//   - it recorded no trust store: it did not rest on an anchor (the
//     verifier records the store exactly when authenticity passed);
//   - RemoveStore: its recorded trust store is another store;
//   - RemoveAnchor: its recorded anchor is not removed; when the writer
//     recorded no anchor (older indexes), its chain contains none of the
//     removed certificates (trust-store-trust-policy.md: a chain is trusted
//     when one of its certificates is byte-identical to a store
//     certificate, so a chain without the removed certificate cannot have
//     rested on it).
//
// Limits (conservative, stated in every report): the index records only
// the signatures trustgate evaluated, and like `notation verify` it stops
// at the first signature that passes, and only the first store/anchor that
// matched. An artifact that also carries another valid signature under a
// remaining anchor, or whose chain also matches another store certificate,
// is reported as impacted. A verified artifact with no recorded passing
// signature is reported as impacted too (its trust path is unknown).
// tsa stores are out of scope: the index does not record which TSA root a
// timestamp chained to.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/time.h"
#include "engine/index.h"

namespace trustgate::engine {

// RotationError is why a rotation query could not be answered. Stable.
enum class RotationError {
  kIndex = 1,           // the index could not be opened or read
  kBadArgument = 2,     // no anchors, a malformed fingerprint, a store name
                        // that is not ca:/signingAuthority:<name>
  kCorrupt = 3,         // a stored tags/chain value is not a JSON array of
                        // strings (the file is damaged or not ours)
  kUnreadableFile = 4,  // the certificate file is missing, not a regular
                        // file, unreadable or above 8 MiB
  kBadCertificate = 5,  // the certificate file holds no parsable
                        // certificate
};
std::string_view ToString(RotationError e);  // "index", "bad-argument", ...

// AnchorCertificate is one certificate named for removal or status.
struct AnchorCertificate {
  std::string fingerprint;  // lowercase hex SHA-256 of the DER
  std::string subject;      // RFC 4514
  base::Time not_after{};
};

// ParseAnchorCertificates reads every certificate of `bytes` (PEM, several
// allowed, or DER) as trust store files are read
// (crypto::Certificate::FromFileBytes). kBadCertificate on anything else.
// Duplicates are kept once.
base::Result<std::vector<AnchorCertificate>, RotationError>
ParseAnchorCertificates(base::ByteView bytes);

// ReadAnchorCertificates reads `path` (a regular file, symlinks followed:
// the operator names it; at most 8 MiB) and parses it.
base::Result<std::vector<AnchorCertificate>, RotationError>
ReadAnchorCertificates(const std::filesystem::path& path);

// RemoveAnchor removes certificates (by SHA-256 fingerprint, hex, any
// case) from every trust store.
struct RemoveAnchor {
  std::vector<std::string> fingerprints;
};

// RemoveStore removes one named store ("ca:acme",
// "signingAuthority:aws-signer").
struct RemoveStore {
  std::string store;
};

using RotationChange = std::variant<RemoveAnchor, RemoveStore>;

// ImpactedArtifact is a verified artifact that would stop verifying.
struct ImpactedArtifact {
  std::string digest;
  std::vector<std::string> tags;
  // The first (by digest) recorded passing signature, its anchor and store
  // as recorded ("" when not recorded).
  std::string signature;
  std::string anchor;
  std::string trust_store;
};

// ImpactedRepository groups the impacted artifacts of one repository.
struct ImpactedRepository {
  std::string repository;
  std::vector<ImpactedArtifact> artifacts;  // by digest
};

// ImpactReport is RotationImpact's answer.
struct ImpactReport {
  std::vector<ImpactedRepository> impacted;  // by repository
  uint64_t count = 0;                        // impacted artifacts
  uint64_t verified = 0;                     // verified artifacts examined
};

// RotationImpact lists every `verified` artifact of `index` that would stop
// verifying after `change` (model above). kBadArgument for an empty or
// malformed fingerprint list or a store that is not ca/signingAuthority
// (tsa: out of scope, see above); kIndex when reading fails; kCorrupt for
// damaged rows. Reads only.
base::Result<ImpactReport, RotationError> RotationImpact(
    VerdictIndex& index, const RotationChange& change);

// RepositoryDependence counts, in one repository, the verified artifacts
// that rest on the anchors.
struct RepositoryDependence {
  std::string repository;
  uint64_t dependent = 0;     // would stop verifying without the anchors
  uint64_t using_anchor = 0;  // have a passing signature anchored at one
                              // of them (dependent ones included)
};

// StatusReport is RotationStatus's answer.
struct StatusReport {
  uint64_t verified = 0;      // verified artifacts examined
  uint64_t dependent = 0;     // sum of RepositoryDependence::dependent
  uint64_t using_anchor = 0;  // sum of RepositoryDependence::using_anchor
  std::vector<RepositoryDependence> repositories;  // using_anchor > 0, sorted

  // CanRemove: no verified artifact depends on the anchors any more.
  bool CanRemove() const { return dependent == 0; }
};

// RotationStatus says how many verified artifacts of `index` still depend
// on `anchor_fingerprints` (taken together), per repository. Errors as
// RotationImpact.
base::Result<StatusReport, RotationError> RotationStatus(
    VerdictIndex& index, std::span<const std::string> anchor_fingerprints);

}  // namespace trustgate::engine
