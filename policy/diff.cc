#include "policy/diff.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "base/bytes.h"
#include "base/file.h"
#include "crypto/certificate.h"
#include "policy/json_text.h"

namespace trustgate::policy {
namespace {

constexpr size_t kMaxManagedFiles = 10000;
constexpr int kMaxManagedDepth = 4;
constexpr size_t kMaxCertFileBytes = 8 * 1024 * 1024;  // as trust_store.cc

constexpr std::array<Validation, 4> kOverridable = {
    Validation::kAuthenticity, Validation::kAuthenticTimestamp,
    Validation::kExpiry, Validation::kRevocation};
constexpr std::array<StoreType, 3> kStoreTypes = {
    StoreType::kCa, StoreType::kSigningAuthority, StoreType::kTsa};

// LevelRank orders levels by what they enforce (SPEC-NOTES.md: Levels).
int LevelRank(Level l) {
  switch (l) {
    case Level::kStrict:
      return 3;
    case Level::kPermissive:
      return 2;
    case Level::kAudit:
      return 1;
    case Level::kSkip:
      return 0;
  }
  return 0;
}

// ActionRank: enforce > log > skip.
int ActionRank(Action a) {
  switch (a) {
    case Action::kEnforce:
      return 2;
    case Action::kLog:
      return 1;
    case Action::kSkip:
      return 0;
  }
  return 0;
}

// DnCovers: every subject `narrow` accepts, `broad` accepts too. A policy
// DN matches a subject holding all its attributes with equal values
// (trust-store-trust-policy.md: Trusted Identities Constraints; dn.h
// IsDnSubset), so `broad` covers `narrow` when each attribute of `broad`
// is pinned to the same value by `narrow`. (An empty value in `broad`
// also matches subjects without the attribute, so `narrow` must pin it to
// empty as well.)
bool DnCovers(const std::vector<crypto::DnAttribute>& broad,
              const std::vector<crypto::DnAttribute>& narrow) {
  for (const crypto::DnAttribute& attr : broad) {
    auto it = std::find_if(
        narrow.begin(), narrow.end(),
        [&](const crypto::DnAttribute& n) { return n.type == attr.type; });
    if (it == narrow.end() || it->value != attr.value) {
      return false;
    }
  }
  return true;
}

// IdentityCovers: `a` accepts every signer `b` accepts.
bool IdentityCovers(const TrustedIdentity& a, const TrustedIdentity& b) {
  using Kind = TrustedIdentity::Kind;
  if (a.kind == Kind::kWildcard) {
    return true;
  }
  if (b.kind == Kind::kWildcard) {
    return false;
  }
  if (a.kind == Kind::kX509Subject && b.kind == Kind::kX509Subject) {
    return DnCovers(a.x509_subject, b.x509_subject);
  }
  // Plugin identities (e.g. AWS Signer profile ARNs): exact strings.
  return a.kind == b.kind && a.raw == b.raw;
}

bool SetCovers(const std::vector<TrustedIdentity>& set,
               const TrustedIdentity& b) {
  for (const TrustedIdentity& a : set) {
    if (IdentityCovers(a, b)) {
      return true;
    }
  }
  return false;
}

std::string FingerprintText(const Fingerprint& fp) {
  return "sha256:" + base::HexEncode(base::ByteView(fp.data(), fp.size()));
}

// Anchors of one store type as one side trusts them: fingerprint ->
// (certificate, the stores holding it).
struct AnchorInfo {
  crypto::CertificatePtr cert;
  std::vector<StoreRef> stores;
};
using AnchorMap = std::map<Fingerprint, AnchorInfo>;

const std::vector<crypto::CertificatePtr>* StoreCertificates(
    const TrustStore* store, const StoreRef& ref) {
  if (store == nullptr) {
    return nullptr;
  }
  const NamedStore* named = store->Find(ref);
  if (named == nullptr || named->error) {
    return nullptr;  // missing, empty or unusable: no anchors
  }
  return &named->certificates;
}

AnchorMap AnchorsOf(const Statement& st, StoreType type,
                    const TrustStore* store) {
  AnchorMap out;
  for (const StoreRef& ref : st.trust_stores) {
    if (ref.type != type) {
      continue;
    }
    const auto* certs = StoreCertificates(store, ref);
    if (certs == nullptr) {
      continue;
    }
    for (const crypto::CertificatePtr& cert : *certs) {
      AnchorInfo& info = out[cert->sha256()];
      info.cert = cert;
      if (std::find(info.stores.begin(), info.stores.end(), ref) ==
          info.stores.end()) {
        info.stores.push_back(ref);
      }
    }
  }
  return out;
}

std::vector<StoreRef> RefsOfType(const Statement& st, StoreType type) {
  std::vector<StoreRef> out;
  for (const StoreRef& ref : st.trust_stores) {
    if (ref.type == type &&
        std::find(out.begin(), out.end(), ref) == out.end()) {
      out.push_back(ref);
    }
  }
  return out;
}

bool Contains(const std::vector<StoreRef>& refs, const StoreRef& ref) {
  return std::find(refs.begin(), refs.end(), ref) != refs.end();
}

const Statement* GlobalOf(const TrustPolicy& policy) {
  for (const Statement& st : policy.statements) {
    if (st.global) {
      return &st;
    }
  }
  return nullptr;
}

// ScopeIndex is TrustPolicy::Select over a hash of the scopes: an exact
// match, else the global statement (trust-store-trust-policy.md:
// Selecting a trust policy). Scopes of a validated policy are valid
// repository URIs, so Select's URI check has nothing to refuse here.
class ScopeIndex {
 public:
  explicit ScopeIndex(const TrustPolicy& policy) {
    for (const Statement& st : policy.statements) {
      if (st.global) {
        global_ = &st;
        continue;
      }
      for (const std::string& scope : st.registry_scopes) {
        by_scope_.emplace(scope, &st);
      }
    }
  }
  const Statement* Select(const std::string& scope) const {
    auto it = by_scope_.find(scope);
    return it != by_scope_.end() ? it->second : global_;
  }

 private:
  std::unordered_map<std::string_view, const Statement*> by_scope_;
  const Statement* global_ = nullptr;
};

class Differ {
 public:
  Differ(const PolicySide& before, const PolicySide& after,
         const DiffOptions& options, std::vector<PolicyChange>* out)
      : before_(before), after_(after), options_(options), out_(out) {}

  void Scope(const std::string& scope, const Statement* b, const Statement* a) {
    scope_ = scope;
    if (b == nullptr && a == nullptr) {
      return;
    }
    if (a == nullptr) {
      statement_ = b->name;
      Add("scope-uncovered", b->name, "", Effect::kStrengthens,
          "no longer governed by any statement (was " + Quote(b->name) +
              "): its artifacts now fail verification with no-policy");
      return;
    }
    statement_ = a->name;
    if (b == nullptr) {
      Add("scope-covered", "", a->name, Effect::kWeakens,
          std::string("was governed by no statement (failing with "
                      "no-policy) and is now ") +
              (a->level == Level::kSkip ? std::string("skipped")
                                        : std::string("verified")) +
              " under " + Quote(a->name));
      return;
    }
    if (b->name != a->name) {
      Add("scope-moved", b->name, a->name, Effect::kNeutral,
          "moved from statement " + Quote(b->name) + " to " + Quote(a->name));
    }
    // The content comparison depends only on the two statements: do it
    // once per pair, however many repositories the pair governs.
    auto key =
        std::make_pair(Index(*before_.policy, b), Index(*after_.policy, a));
    auto it = content_.find(key);
    if (it == content_.end()) {
      std::vector<PolicyChange> content;
      std::vector<PolicyChange>* out = std::exchange(out_, &content);
      Statements(*b, *a);
      out_ = out;
      it = content_.emplace(key, std::move(content)).first;
    }
    for (const PolicyChange& c : it->second) {
      out_->push_back(c);
      out_->back().scope = scope;
    }
  }

 private:
  static size_t Index(const TrustPolicy& policy, const Statement* st) {
    return static_cast<size_t>(st - policy.statements.data());
  }

  void Add(std::string rule, std::string from, std::string to, Effect effect,
           std::string message) {
    PolicyChange c;
    c.allowed = options_.allow.count(rule) != 0;
    c.rule = std::move(rule);
    c.scope = scope_;
    c.statement = statement_;
    c.from = std::move(from);
    c.to = std::move(to);
    c.effect = effect;
    c.message = std::move(message);
    out_->push_back(std::move(c));
  }

  void Statements(const Statement& b, const Statement& a) {
    // Level (trust-store-trust-policy.md: Signature Verification levels).
    int br = LevelRank(b.level);
    int ar = LevelRank(a.level);
    if (br != ar) {
      bool lowered = ar < br;
      Add(lowered ? "level-lowered" : "level-raised",
          std::string(ToString(b.level)), std::string(ToString(a.level)),
          lowered ? Effect::kWeakens : Effect::kStrengthens,
          "level " + std::string(ToString(b.level)) + " -> " +
              std::string(ToString(a.level)) +
              (a.level == Level::kSkip ? " (signatures are not checked at all)"
                                       : ""));
    }
    if (b.level == Level::kSkip || a.level == Level::kSkip) {
      return;  // nothing else is in force on the skipped side
    }
    Overrides(b, a);
    Identities(b, a);
    for (StoreType type : kStoreTypes) {
      Stores(b, a, type);
    }
    Timestamp(b, a);
  }

  // Per validation, the effective action; a difference that the level
  // alone explains was reported as the level's.
  void Overrides(const Statement& b, const Statement& a) {
    for (Validation v : kOverridable) {
      Action ba = b.ActionFor(v);
      Action aa = a.ActionFor(v);
      if (ba == aa) {
        continue;
      }
      size_t i = static_cast<size_t>(v);
      if (!b.overrides[i] && !a.overrides[i]) {
        continue;
      }
      bool relaxed = ActionRank(aa) < ActionRank(ba);
      const std::string name(ToString(v));
      Add(relaxed ? "override-relaxed" : "override-tightened",
          name + ":" + std::string(ToString(ba)),
          name + ":" + std::string(ToString(aa)),
          relaxed ? Effect::kWeakens : Effect::kStrengthens,
          name + " failures " + std::string(ToString(ba)) + " -> " +
              std::string(ToString(aa)));
    }
  }

  void Identities(const Statement& b, const Statement& a) {
    for (const TrustedIdentity& id : a.trusted_identities) {
      if (!SetCovers(b.trusted_identities, id)) {
        Add("identity-broadened", "", id.raw, Effect::kWeakens,
            "now accepts signers matching " + Quote(id.raw) +
                ", which no identity accepted before");
      }
    }
    for (const TrustedIdentity& id : b.trusted_identities) {
      if (!SetCovers(a.trusted_identities, id)) {
        Add("identity-narrowed", id.raw, "", Effect::kStrengthens,
            "signers matching " + Quote(id.raw) +
                " are no longer all accepted");
      }
    }
  }

  void Stores(const Statement& b, const Statement& a, StoreType type) {
    const std::vector<StoreRef> brefs = RefsOfType(b, type);
    const std::vector<StoreRef> arefs = RefsOfType(a, type);
    const bool known = before_.store != nullptr && after_.store != nullptr;
    const AnchorMap banchors = AnchorsOf(b, type, before_.store);
    const AnchorMap aanchors = AnchorsOf(a, type, after_.store);
    const std::string tsa_note =
        type == StoreType::kTsa
            ? " (a timestamping authority whose time is trusted)"
            : "";

    for (const StoreRef& ref : arefs) {
      if (Contains(brefs, ref)) {
        continue;
      }
      bool adds_anchor = true;
      if (known) {
        adds_anchor = false;
        const auto* certs = StoreCertificates(after_.store, ref);
        for (size_t i = 0; certs != nullptr && i < certs->size(); ++i) {
          adds_anchor =
              adds_anchor || banchors.count((*certs)[i]->sha256()) == 0;
        }
      }
      Add("store-added", "", ToString(ref),
          adds_anchor ? Effect::kWeakens : Effect::kNeutral,
          "now trusts store " + ToString(ref) + tsa_note +
              (adds_anchor ? std::string()
                           : std::string(", whose anchors were trusted "
                                         "already")));
    }
    for (const StoreRef& ref : brefs) {
      if (Contains(arefs, ref)) {
        continue;
      }
      bool removes_anchor = true;
      if (known) {
        removes_anchor = false;
        const auto* certs = StoreCertificates(before_.store, ref);
        for (size_t i = 0; certs != nullptr && i < certs->size(); ++i) {
          removes_anchor =
              removes_anchor || aanchors.count((*certs)[i]->sha256()) == 0;
        }
      }
      Add("store-removed", ToString(ref), "",
          removes_anchor ? Effect::kStrengthens : Effect::kNeutral,
          "no longer trusts store " + ToString(ref) +
              (removes_anchor
                   ? std::string(
                         ": artifacts signed under it stop verifying; make "
                         "sure they were re-signed")
                   : std::string(", whose anchors stay trusted through "
                                 "another store")));
    }
    if (!known) {
      return;
    }
    // Anchors that changed inside stores both sides trust (anchors that
    // came or went with a whole store were reported above).
    auto in_common_store = [&](const AnchorInfo& info) {
      for (const StoreRef& ref : info.stores) {
        if (Contains(brefs, ref) && Contains(arefs, ref)) {
          return true;
        }
      }
      return false;
    };
    for (const auto& [fp, info] : aanchors) {
      if (banchors.count(fp) != 0 || !in_common_store(info)) {
        continue;
      }
      const std::string what = "anchor \"" + info.cert->SubjectString() +
                               "\" (" + FingerprintText(fp) + ") in " +
                               ToString(info.stores.front());
      if (options_.managed_anchors == nullptr) {
        Add("anchor-added", "", FingerprintText(fp), Effect::kWeakens,
            "trusts the new " + what + tsa_note);
      } else if (options_.managed_anchors->count(fp) != 0) {
        Add("anchor-added", "", FingerprintText(fp), Effect::kNeutral,
            "trusts the new managed " + what);
      } else {
        Add("unmanaged-anchor", "", FingerprintText(fp), Effect::kWeakens,
            "trusts the new " + what +
                ", which is not one of the managed anchors");
      }
    }
    for (const auto& [fp, info] : banchors) {
      if (aanchors.count(fp) != 0 || !in_common_store(info)) {
        continue;
      }
      Add("anchor-removed", FingerprintText(fp), "", Effect::kStrengthens,
          "no longer trusts anchor \"" + info.cert->SubjectString() + "\" (" +
              FingerprintText(fp) + ") of " + ToString(info.stores.front()) +
              ": signatures chaining to it stop verifying; remove an anchor "
              "only once nothing depends on it");
    }
  }

  // SPEC-NOTES.md: Time. verifyTimestamp only matters with a tsa store.
  void Timestamp(const Statement& b, const Statement& a) {
    if (b.verify_timestamp == a.verify_timestamp) {
      return;
    }
    bool inert = !b.HasStoreOfType(StoreType::kTsa) &&
                 !a.HasStoreOfType(StoreType::kTsa);
    bool relaxed = a.verify_timestamp == VerifyTimestamp::kAfterCertExpiry;
    Add(relaxed ? "timestamp-relaxed" : "timestamp-tightened",
        std::string(ToString(b.verify_timestamp)),
        std::string(ToString(a.verify_timestamp)),
        inert ? Effect::kNeutral
              : (relaxed ? Effect::kWeakens : Effect::kStrengthens),
        "verifyTimestamp " + std::string(ToString(b.verify_timestamp)) +
            " -> " + std::string(ToString(a.verify_timestamp)) +
            (inert ? " (no tsa store on either side: no effect)"
                   : (relaxed ? " (timestamps are only checked once a "
                                "certificate has expired)"
                              : "")));
  }

  const PolicySide& before_;
  const PolicySide& after_;
  const DiffOptions& options_;
  std::vector<PolicyChange>* out_;
  std::map<std::pair<size_t, size_t>, std::vector<PolicyChange>> content_;
  std::string scope_;
  std::string statement_;
};

// ReadCertificateFile reads one regular file (no symlinks, bounded). A
// file that vanished since it was listed is kUnreadable, as in trust_store.cc.
base::Result<base::Bytes, PolicyError> ReadCertificateFile(
    const std::filesystem::path& path) {
  auto data = base::ReadBoundedRegularFile(
      path.string(), kMaxCertFileBytes, path.string(), base::Symlinks::kRefuse);
  if (!data.ok()) {
    return base::MakeError(data.code() == base::FileError::kNotFound
                               ? PolicyError::kUnreadable
                               : FromFileError(data.code()),
                           data.detail());
  }
  return std::move(data).value();
}

bool HasCertificateExtension(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  return ext == ".pem" || ext == ".crt" || ext == ".cer";
}

}  // namespace

std::string_view ToString(Effect e) {
  switch (e) {
    case Effect::kWeakens:
      return "weakens";
    case Effect::kStrengthens:
      return "strengthens";
    case Effect::kNeutral:
      return "neutral";
  }
  return "unknown";
}

bool IsDiffRule(std::string_view rule) {
  return std::find(kDiffRules.begin(), kDiffRules.end(), rule) !=
         kDiffRules.end();
}

std::vector<PolicyChange> DiffPolicies(const PolicySide& before,
                                       const PolicySide& after,
                                       const DiffOptions& options) {
  std::vector<PolicyChange> out;
  // Every repository URI named by either side (notation selects by exact
  // match only: trust-store-trust-policy.md, Selecting a trust policy),
  // then "*" for everything else.
  std::set<std::string> scopes;
  for (const TrustPolicy* p : {before.policy, after.policy}) {
    for (const Statement& st : p->statements) {
      if (st.global) {
        continue;
      }
      scopes.insert(st.registry_scopes.begin(), st.registry_scopes.end());
    }
  }
  ScopeIndex before_index(*before.policy);
  ScopeIndex after_index(*after.policy);
  Differ differ(before, after, options, &out);
  for (const std::string& scope : scopes) {
    differ.Scope(scope, before_index.Select(scope), after_index.Select(scope));
  }
  differ.Scope("*", GlobalOf(*before.policy), GlobalOf(*after.policy));
  return out;
}

std::vector<PolicyChange> DriftChanges(const PolicySide& baseline,
                                       const PolicySide& environment,
                                       const DiffOptions& options,
                                       DriftSelection selection) {
  std::vector<PolicyChange> all = DiffPolicies(baseline, environment, options);
  if (selection == DriftSelection::kAll) {
    return all;
  }
  std::vector<PolicyChange> weaker;
  for (PolicyChange& c : all) {
    if (c.effect == Effect::kWeakens) {
      weaker.push_back(std::move(c));
    }
  }
  return weaker;
}

bool Weakens(const std::vector<PolicyChange>& changes) {
  for (const PolicyChange& c : changes) {
    if (c.effect == Effect::kWeakens && !c.allowed) {
      return true;
    }
  }
  return false;
}

base::Result<LoadedPolicy, PolicyError> LoadPolicyInput(
    const std::filesystem::path& path) {
  const std::string p = path.string();
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) {
    int e = errno;
    return base::MakeError(
        e == ENOENT ? PolicyError::kNotFound : PolicyError::kUnreadable,
        p + ": " + std::strerror(e) +
            "; give a Notation config dir or a trust policy file");
  }
  if (S_ISLNK(st.st_mode)) {
    return base::MakeError(PolicyError::kSymlink,
                           p + " is a symlink; symlinks are not supported, "
                               "name the directory or file itself");
  }
  LoadedPolicy out;
  out.label = p;
  if (S_ISREG(st.st_mode)) {
    auto policy = LoadTrustPolicyFile(path);
    if (!policy.ok()) {
      return std::move(policy).error();
    }
    out.policy = std::move(policy).value();
    return out;
  }
  if (!S_ISDIR(st.st_mode)) {
    return base::MakeError(PolicyError::kUnreadable,
                           p + " is neither a directory nor a regular file");
  }
  auto policy = LoadTrustPolicyFromConfig(path);
  if (!policy.ok()) {
    return std::move(policy).error();
  }
  out.policy = std::move(policy).value();
  std::filesystem::path root = path / "truststore";
  struct stat rst {};
  if (::lstat(root.c_str(), &rst) == 0) {
    if (S_ISLNK(rst.st_mode)) {
      return base::MakeError(PolicyError::kSymlink,
                             "trust store " + root.string() +
                                 " is a symlink; symlinks are refused");
    }
    if (!S_ISDIR(rst.st_mode)) {
      return base::MakeError(
          PolicyError::kNotDirectory,
          "trust store " + root.string() + " is not a directory");
    }
  }
  // A missing truststore/ loads as every store missing: no anchors.
  out.store = TrustStore::Load(root, out.policy, nullptr);
  for (const NamedStore& named : out.store->stores()) {
    if (named.error && named.error->code != PolicyError::kNotFound &&
        named.error->code != PolicyError::kEmptyStore) {
      return base::MakeError(named.error->code, p + ": " + named.error->detail);
    }
  }
  return out;
}

base::Result<std::set<Fingerprint>, PolicyError> LoadManagedAnchors(
    const std::filesystem::path& dir) {
  const std::string d = dir.string();
  std::error_code ec;
  auto status = std::filesystem::symlink_status(dir, ec);
  if (ec || !std::filesystem::exists(status)) {
    return base::MakeError(
        PolicyError::kNotFound,
        "managed anchors directory " + d + " does not exist");
  }
  if (std::filesystem::is_symlink(status)) {
    return base::MakeError(PolicyError::kSymlink,
                           "managed anchors directory " + d +
                               " is a symlink; symlinks are refused");
  }
  if (!std::filesystem::is_directory(status)) {
    return base::MakeError(PolicyError::kNotDirectory,
                           "managed anchors " + d + " is not a directory");
  }
  std::set<Fingerprint> out;
  size_t files = 0;
  std::filesystem::recursive_directory_iterator it(dir, ec);
  std::filesystem::recursive_directory_iterator end;
  while (!ec && it != end) {
    const std::filesystem::path p = it->path();
    auto st = it->symlink_status(ec);
    if (ec) {
      break;
    }
    if (std::filesystem::is_symlink(st)) {
      return base::MakeError(PolicyError::kSymlink,
                             "managed anchor " + p.string() +
                                 " is a symlink; copy the certificate in");
    }
    if (std::filesystem::is_directory(st)) {
      if (it.depth() + 1 >= kMaxManagedDepth) {
        it.disable_recursion_pending();
      }
    } else if (std::filesystem::is_regular_file(st) &&
               HasCertificateExtension(p)) {
      if (++files > kMaxManagedFiles) {
        return base::MakeError(PolicyError::kTooLarge,
                               "more than " + std::to_string(kMaxManagedFiles) +
                                   " managed anchor files in " + d);
      }
      auto bytes = ReadCertificateFile(p);
      if (!bytes.ok()) {
        return std::move(bytes).error();
      }
      auto certs = crypto::Certificate::FromFileBytes(*bytes);
      if (!certs.ok()) {
        return base::MakeError(PolicyError::kBadCertificate,
                               "managed anchor " + p.string() +
                                   " is not a PEM or DER certificate file (" +
                                   certs.detail() + ")");
      }
      for (const crypto::CertificatePtr& cert : *certs) {
        out.insert(cert->sha256());
      }
    }
    it.increment(ec);
  }
  if (ec) {
    return base::MakeError(
        PolicyError::kUnreadable,
        "cannot list managed anchors in " + d + ": " + ec.message());
  }
  return out;
}

}  // namespace trustgate::policy
