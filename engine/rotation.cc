#include "engine/rotation.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "base/file.h"
#include "crypto/certificate.h"
#include "policy/trust_policy.h"

namespace trustgate::engine {
namespace {

// The trust store's bound on one certificate file (policy/trust_store.cc).
constexpr size_t kMaxCertificateFileBytes = 8 * 1024 * 1024;

bool IsHex64(std::string_view s) {
  if (s.size() != 64) {
    return false;
  }
  for (char c : s) {
    bool digit = c >= '0' && c <= '9';
    bool lower = c >= 'a' && c <= 'f';
    bool upper = c >= 'A' && c <= 'F';
    if (!digit && !lower && !upper) {
      return false;
    }
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// AuthenticityEnforced reads the authenticity action from a stored level
// string (engine/verifier.h LevelString: "<level>" then "+<validation>=
// <action>" per override). SPEC-NOTES.md: Levels: strict and permissive
// enforce authenticity, audit logs it, skip skips it. Anything unreadable
// counts as enforced (conservative: the artifact is then reported).
bool AuthenticityEnforced(std::string_view level) {
  size_t plus = level.find('+');
  std::string_view name = level.substr(0, plus);
  bool enforced = !(name == "audit" || name == "skip");
  while (plus != std::string_view::npos) {
    size_t next = level.find('+', plus + 1);
    std::string_view item = level.substr(plus + 1, next - plus - 1);
    constexpr std::string_view kKey = "authenticity=";
    if (item.substr(0, kKey.size()) == kKey) {
      enforced = item.substr(kKey.size()) == "enforce";
    }
    plus = next;
  }
  return enforced;
}

// StringArray parses a stored JSON array of strings.
std::optional<std::vector<std::string>> StringArray(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    return std::nullopt;
  }
  std::vector<std::string> out;
  out.reserve(j.size());
  for (const auto& e : j) {
    if (!e.is_string()) {
      return std::nullopt;
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

base::Error<RotationError> Corrupt(const TrustPathRow& row,
                                   std::string_view column) {
  return base::MakeError(RotationError::kCorrupt,
                         "the index row of " + row.repository + "@" +
                             row.digest + " has a " + std::string(column) +
                             " value that is not a JSON array of strings; "
                             "the file is damaged or was not written by "
                             "trustgate");
}

// Removal is a validated RotationChange.
struct Removal {
  std::set<std::string, std::less<>> anchors;  // lowercase hex
  std::string store;                           // "" for anchors
};

base::Result<Removal, RotationError> Validate(const RotationChange& change) {
  Removal out;
  if (const auto* anchor = std::get_if<RemoveAnchor>(&change)) {
    if (anchor->fingerprints.empty()) {
      return base::MakeError(RotationError::kBadArgument,
                             "no anchor certificate given: name the "
                             "certificate(s) to remove");
    }
    for (const std::string& fp : anchor->fingerprints) {
      if (!IsHex64(fp)) {
        return base::MakeError(RotationError::kBadArgument,
                               "\"" + fp +
                                   "\" is not a SHA-256 fingerprint (64 hex "
                                   "digits)");
      }
      out.anchors.insert(Lower(fp));
    }
    return out;
  }
  const std::string& store = std::get<RemoveStore>(change).store;
  size_t colon = store.find(':');
  std::string_view type = std::string_view(store).substr(0, colon);
  std::string_view name = colon == std::string::npos
                              ? std::string_view()
                              : std::string_view(store).substr(colon + 1);
  if (type == "tsa") {
    return base::MakeError(
        RotationError::kBadArgument,
        "store " + store +
            ": tsa stores are out of scope: the index records which ca or "
            "signingAuthority store and anchor each signature rested on, "
            "not which TSA root its timestamp chained to");
  }
  // trust-store-trust-policy.md: Trust Store: <type>:<name>.
  if (colon == std::string::npos ||
      (type != "ca" && type != "signingAuthority") ||
      !policy::IsValidStoreName(name)) {
    return base::MakeError(RotationError::kBadArgument,
                           "store \"" + store +
                               "\" is not of the form ca:<name> or "
                               "signingAuthority:<name> (names "
                               "[a-zA-Z0-9_.-]+)");
  }
  out.store = store;
  return out;
}

// Reliance is how one passing signature relates to the removal.
struct Reliance {
  bool uses = false;      // rests on a removed anchor / the removed store
  bool survives = false;  // still anchored afterwards
};

base::Result<Reliance, RotationError> Evaluate(const TrustPathRow& row,
                                               const Removal& removal) {
  Reliance r;
  if (row.trust_store.empty()) {
    // Authenticity did not pass through a store (it was logged): nothing
    // anchored it, nothing can be taken away.
    r.survives = true;
    return r;
  }
  if (!removal.store.empty()) {
    r.uses = row.trust_store == removal.store;
  } else if (!row.anchor_fingerprint.empty()) {
    r.uses = removal.anchors.count(Lower(row.anchor_fingerprint)) != 0;
  } else {
    // No recorded anchor: the chain is the upper bound of what it could
    // have rested on.
    std::optional<std::vector<std::string>> chain = StringArray(row.chain);
    if (!chain) {
      return Corrupt(row, "chain");
    }
    for (const std::string& fp : *chain) {
      r.uses = r.uses || removal.anchors.count(Lower(fp)) != 0;
    }
  }
  r.survives = !r.uses || !AuthenticityEnforced(row.level);
  return r;
}

// ArtifactOutcome is the per-artifact result of a scan.
struct ArtifactOutcome {
  const TrustPathRow* first = nullptr;  // first passing signature row
  bool uses = false;
  bool impacted = false;
};

// Scan walks every verified artifact with its passing signatures and calls
// `done(repository, digest, tags json, outcome)` once per artifact.
template <typename Done>
base::Status<RotationError> Scan(VerdictIndex& index, const Removal& removal,
                                 Done done) {
  std::optional<base::Error<RotationError>> error;
  bool open = false;
  TrustPathRow current;  // the artifact's first row
  bool any_signature = false;
  bool uses = false;
  bool survives = false;
  auto flush = [&]() -> bool {
    if (!open) {
      return true;
    }
    ArtifactOutcome outcome;
    outcome.first = any_signature ? &current : nullptr;
    // No recorded passing signature: unknown trust path, conservative.
    outcome.uses = any_signature ? uses : true;
    outcome.impacted = any_signature ? !survives : true;
    auto status = done(current, outcome);
    if (!status.ok()) {
      error = std::move(status).error();
      return false;
    }
    return true;
  };
  auto status = index.ForEachVerifiedTrustPath([&](const TrustPathRow& row) {
    if (!open || row.repository != current.repository ||
        row.digest != current.digest) {
      if (!flush()) {
        return false;
      }
      open = true;
      current = row;
      any_signature = false;
      uses = false;
      survives = false;
    }
    if (!row.has_signature) {
      return true;
    }
    auto r = Evaluate(row, removal);
    if (!r.ok()) {
      error = std::move(r).error();
      return false;
    }
    if (!any_signature) {
      current = row;  // remember the first passing signature
    }
    any_signature = true;
    uses = uses || r->uses;
    survives = survives || r->survives;
    return true;
  });
  if (!status.ok()) {
    return base::MakeError(RotationError::kIndex, status.detail());
  }
  if (error) {
    return std::move(*error);
  }
  if (!flush()) {
    return std::move(*error);
  }
  return base::Ok{};
}

}  // namespace

std::string_view ToString(RotationError e) {
  switch (e) {
    case RotationError::kIndex:
      return "index";
    case RotationError::kBadArgument:
      return "bad-argument";
    case RotationError::kCorrupt:
      return "corrupt";
    case RotationError::kUnreadableFile:
      return "unreadable-file";
    case RotationError::kBadCertificate:
      return "bad-certificate";
  }
  return "unknown";
}

base::Result<std::vector<AnchorCertificate>, RotationError>
ParseAnchorCertificates(base::ByteView bytes) {
  auto certs = crypto::Certificate::FromFileBytes(bytes);
  if (!certs.ok()) {
    return base::MakeError(
        RotationError::kBadCertificate,
        "not a certificate file (PEM or DER): " + certs.detail());
  }
  std::vector<AnchorCertificate> out;
  std::set<std::string> seen;
  for (const crypto::CertificatePtr& cert : *certs) {
    AnchorCertificate a;
    a.fingerprint = cert->Sha256Hex();
    if (!seen.insert(a.fingerprint).second) {
      continue;
    }
    a.subject = cert->SubjectString();
    a.not_after = cert->not_after();
    out.push_back(std::move(a));
  }
  return out;
}

base::Result<std::vector<AnchorCertificate>, RotationError>
ReadAnchorCertificates(const std::filesystem::path& path) {
  const std::string p = path.string();
  // The file named on the command line may be a symlink (it is an input,
  // not part of a trust store).
  auto read = base::ReadBoundedRegularFile(p, kMaxCertificateFileBytes,
                                           "certificate file " + p,
                                           base::Symlinks::kFollow);
  if (!read.ok()) {
    std::string detail = read.detail();
    if (read.code() == base::FileError::kNotRegular) {
      detail += "; name a .pem/.crt file holding the anchor certificate(s)";
    }
    return base::MakeError(RotationError::kUnreadableFile, std::move(detail));
  }
  auto parsed = ParseAnchorCertificates(*read);
  if (!parsed.ok()) {
    return base::MakeError(parsed.code(),
                           "certificate file " + p + ": " + parsed.detail());
  }
  return parsed;
}

base::Result<ImpactReport, RotationError> RotationImpact(
    VerdictIndex& index, const RotationChange& change) {
  TG_ASSIGN_OR_RETURN(Removal removal, Validate(change));
  ImpactReport report;
  auto status = Scan(
      index, removal,
      [&](const TrustPathRow& row,
          const ArtifactOutcome& outcome) -> base::Status<RotationError> {
        ++report.verified;
        if (!outcome.impacted) {
          return base::Ok{};
        }
        std::optional<std::vector<std::string>> tags = StringArray(row.tags);
        if (!tags) {
          return Corrupt(row, "tags");
        }
        if (report.impacted.empty() ||
            report.impacted.back().repository != row.repository) {
          report.impacted.push_back(ImpactedRepository{row.repository, {}});
        }
        ImpactedArtifact a;
        a.digest = row.digest;
        a.tags = std::move(*tags);
        if (outcome.first != nullptr) {
          a.signature = row.signature_digest;
          a.anchor = Lower(row.anchor_fingerprint);
          a.trust_store = row.trust_store;
        }
        report.impacted.back().artifacts.push_back(std::move(a));
        ++report.count;
        return base::Ok{};
      });
  if (!status.ok()) {
    return std::move(status).error();
  }
  return report;
}

base::Result<StatusReport, RotationError> RotationStatus(
    VerdictIndex& index, std::span<const std::string> anchor_fingerprints) {
  RemoveAnchor change;
  change.fingerprints.assign(anchor_fingerprints.begin(),
                             anchor_fingerprints.end());
  TG_ASSIGN_OR_RETURN(Removal removal, Validate(change));
  StatusReport report;
  auto status = Scan(
      index, removal,
      [&](const TrustPathRow& row,
          const ArtifactOutcome& outcome) -> base::Status<RotationError> {
        ++report.verified;
        if (!outcome.uses && !outcome.impacted) {
          return base::Ok{};
        }
        if (report.repositories.empty() ||
            report.repositories.back().repository != row.repository) {
          report.repositories.push_back(RepositoryDependence{row.repository});
        }
        RepositoryDependence& repo = report.repositories.back();
        ++repo.using_anchor;
        ++report.using_anchor;
        if (outcome.impacted) {
          ++repo.dependent;
          ++report.dependent;
        }
        return base::Ok{};
      });
  if (!status.ok()) {
    return std::move(status).error();
  }
  return report;
}

}  // namespace trustgate::engine
