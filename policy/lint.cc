#include "policy/lint.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "base/unique_fd.h"
#include "policy/json_text.h"

namespace trustgate::policy {
namespace {

namespace dom = simdjson::dom;

constexpr size_t kMaxStoreDirsPerType = 10000;
// anchor-expiring: issue 5 part 1, "expires within 30 days of --at".
constexpr auto kExpiringWindow = std::chrono::hours(24 * 30);

constexpr std::string_view kStatementLabel = "trust policy statement ";

bool RefLess(const StoreRef& a, const StoreRef& b) {
  if (a.type != b.type) {
    return static_cast<int>(a.type) < static_cast<int>(b.type);
  }
  return a.name < b.name;
}

struct RefCompare {
  bool operator()(const StoreRef& a, const StoreRef& b) const {
    return RefLess(a, b);
  }
};

bool IsRuleId(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

// SplitRule splits "<rule-id>: <message>" (ParseTrustPolicy's detail after
// the statement label). A text without a rule id keeps `fallback_rule`.
void SplitRule(std::string_view text, std::string_view fallback_rule,
               LintFinding* out) {
  size_t colon = text.find(": ");
  if (colon != std::string_view::npos && IsRuleId(text.substr(0, colon))) {
    out->rule = std::string(text.substr(0, colon));
    out->message = std::string(text.substr(colon + 2));
    return;
  }
  out->rule = std::string(fallback_rule);
  out->message = std::string(text);
}

// FindingFromDetail turns a ParseTrustPolicy detail
//   trust policy statement "<name>": <rule-id>: <message>
//   trust policy statement #<n>: <rule-id>: <message>
//   <rule-id>: <message>
// into a finding. `names` are the statement names the document holds
// (a name may itself contain `": `, so known names are tried first).
LintFinding FindingFromDetail(std::string_view detail,
                              const std::vector<std::string>& names,
                              std::string_view fallback_rule) {
  LintFinding f;
  if (detail.substr(0, kStatementLabel.size()) == kStatementLabel) {
    std::string_view rest = detail.substr(kStatementLabel.size());
    if (!rest.empty() && rest.front() == '#') {
      size_t colon = rest.find(": ");
      if (colon != std::string_view::npos) {
        f.statement = std::string(rest.substr(0, colon));
        SplitRule(rest.substr(colon + 2), fallback_rule, &f);
        return f;
      }
    }
    for (const std::string& name : names) {
      std::string label = Quote(name) + ": ";
      if (rest.substr(0, label.size()) == label) {
        f.statement = name;
        SplitRule(rest.substr(label.size()), fallback_rule, &f);
        return f;
      }
    }
    // Unknown name: the label ends at the first `": ` followed by a rule.
    size_t pos = 0;
    while ((pos = rest.find("\": ", pos)) != std::string_view::npos) {
      std::string_view after = rest.substr(pos + 3);
      size_t colon = after.find(": ");
      if (colon != std::string_view::npos && IsRuleId(after.substr(0, colon)) &&
          rest.front() == '"') {
        f.statement = std::string(rest.substr(1, pos - 1));
        SplitRule(after, fallback_rule, &f);
        return f;
      }
      pos += 3;
    }
  }
  SplitRule(detail, fallback_rule, &f);
  return f;
}

// FoldedMember returns the first member of `obj` whose key equals `key`
// ASCII-case-insensitively (Go's decoder binds keys that way).
std::optional<dom::element> FoldedMember(dom::object obj,
                                         std::string_view key) {
  for (dom::key_value_pair kv : obj) {
    if (AsciiEqualFold(kv.key, key)) {
      return kv.value;
    }
  }
  return std::nullopt;
}

std::string DomStatementName(dom::element elem) {
  dom::object obj;
  if (elem.get_object().get(obj) != simdjson::SUCCESS) {
    return {};
  }
  std::optional<dom::element> name = FoldedMember(obj, "name");
  std::string_view sv;
  if (!name || name->get_string().get(sv) != simdjson::SUCCESS) {
    return {};
  }
  return std::string(sv);
}

void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  size_t pos = 0;
  while ((pos = s->find(from, pos)) != std::string::npos) {
    s->replace(pos, from.size(), to);
    pos += to.size();
  }
}

// ---------------------------------------------------------------- files

std::string PolicyFileRule(PolicyError code) {
  switch (code) {
    case PolicyError::kNotFound:
      return "policy-not-found";
    case PolicyError::kSymlink:
      return "policy-symlink";
    case PolicyError::kTooLarge:
      return "policy-too-large";
    default:
      return "policy-unreadable";
  }
}

// IsSelfSignedRoot: self-issued and the signature verifies under its own
// key (any algorithm: this is about the certificate's role, not its
// strength).
bool IsSelfSignedRoot(const crypto::Certificate& cert) {
  if (!cert.self_issued()) {
    return false;
  }
  EVP_PKEY* key = X509_get0_pubkey(cert.x509());
  if (key == nullptr) {
    return false;
  }
  int rc = X509_verify(cert.x509(), key);
  ERR_clear_error();
  return rc == 1;
}

std::string JoinStatements(const std::vector<const Statement*>& sts) {
  std::string out;
  for (const Statement* st : sts) {
    if (!out.empty()) {
      out.append(", ");
    }
    out.append(Quote(st->name));
  }
  return out;
}

std::string ScopesOf(const Statement& st) {
  if (st.global) {
    return "any other repository";
  }
  std::string out;
  for (size_t i = 0; i < st.registry_scopes.size(); ++i) {
    if (i == 3) {
      out.append(" and " + std::to_string(st.registry_scopes.size() - 3) +
                 " more");
      break;
    }
    if (i != 0) {
      out.append(", ");
    }
    out.append(st.registry_scopes[i]);
  }
  return out;
}

class FindingSink {
 public:
  explicit FindingSink(std::vector<LintFinding>* out) : out_(out) {}
  void Add(std::string rule, std::string statement, std::string message,
           std::string fix) {
    LintFinding f;
    f.rule = std::move(rule);
    f.statement = std::move(statement);
    f.message = std::move(message);
    if (!fix.empty()) {
      f.message.append("; fix: ");
      f.message.append(fix);
    }
    f.fix = std::move(fix);
    out_->push_back(std::move(f));
  }

 private:
  std::vector<LintFinding>* out_;
};

// HasTrustgateMember: the document's first JSON value is an object with a
// top-level key "trustgate" (in any case: ReadEmergencyMetadata refuses a
// miscased one, and that should be seen). Only then is the document an
// emergency policy candidate; an ordinary policy with content after its
// JSON value (which notation ignores) must not be judged by the stricter
// emergency reader.
bool HasTrustgateMember(base::ByteView json) {
  std::string_view text = base::AsString(json);
  if (text.size() > kMaxTrustPolicyBytes) {
    return false;
  }
  text = text.substr(0, FirstValueEnd(text));
  dom::parser parser;
  dom::element root;
  dom::object top;
  if (parser.parse(text.data(), text.size()).get(root) != simdjson::SUCCESS ||
      root.get_object().get(top) != simdjson::SUCCESS) {
    return false;
  }
  return FoldedMember(top, "trustgate").has_value();
}

}  // namespace

int LintReport::ExitCode() const {
  if (!errors.empty()) {
    return 2;
  }
  return warnings.empty() ? 0 : 1;
}

// ------------------------------------------------------ collect errors

std::vector<LintFinding> CollectPolicyErrors(base::ByteView json,
                                             size_t max_errors) {
  std::vector<LintFinding> out;
  auto first = ParseTrustPolicy(json);
  if (first.ok()) {
    return out;
  }
  std::vector<std::string> names;
  std::string_view text = base::AsString(json);
  dom::parser parser;
  dom::element root;
  dom::object top;
  dom::array statements;
  std::optional<dom::element> policies;
  bool have_dom = first.code() != PolicyError::kTooLarge;
  if (have_dom) {
    text = text.substr(0, FirstValueEnd(text));
    have_dom =
        parser.parse(text.data(), text.size()).get(root) == simdjson::SUCCESS &&
        root.get_object().get(top) == simdjson::SUCCESS;
  }
  if (have_dom) {
    policies = FoldedMember(top, "trustPolicies");
    have_dom =
        policies && policies->get_array().get(statements) == simdjson::SUCCESS;
  }
  if (have_dom) {
    for (dom::element e : statements) {
      names.push_back(DomStatementName(e));
    }
  }
  LintFinding first_finding =
      FindingFromDetail(first.detail(), names, "invalid");
  if (!have_dom) {
    out.push_back(std::move(first_finding));
    return out;
  }

  // Keep one more than asked for: its presence means "cut short".
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  auto add = [&](LintFinding f) {
    if (out.size() > max_errors ||
        !seen.emplace(f.rule, f.statement, f.message).second) {
      return;
    }
    out.push_back(std::move(f));
  };

  // The version, checked with a known-good statement so only its rules
  // can fire (ParseTrustPolicy: version-missing, version-unsupported).
  {
    std::string doc = "{";
    std::optional<dom::element> version = FoldedMember(top, "version");
    if (version) {
      doc += "\"version\":" + simdjson::to_string(*version) + ",";
    }
    doc +=
        "\"trustPolicies\":[{\"name\":\"v\",\"registryScopes\":[\"*\"],"
        "\"signatureVerification\":{\"level\":\"skip\"}}]}";
    auto r = ParseTrustPolicy(base::AsBytes(doc));
    if (!r.ok()) {
      add(FindingFromDetail(r.detail(), {}, "invalid"));
    }
  }

  // Each statement on its own: a document holding only it.
  size_t index = 0;
  for (dom::element e : statements) {
    if (out.size() > max_errors) {
      break;
    }
    std::string doc = "{\"version\":\"1.0\",\"trustPolicies\":[" +
                      simdjson::to_string(e) + "]}";
    auto r = ParseTrustPolicy(base::AsBytes(doc));
    if (!r.ok()) {
      std::string detail = r.detail();
      // Positions in the one-statement document are 0 / #1: map them back.
      ReplaceAll(&detail, "trustPolicies[0]",
                 "trustPolicies[" + std::to_string(index) + "]");
      if (detail.rfind("trust policy statement #1: ", 0) == 0) {
        detail.replace(0, std::string_view("trust policy statement #1").size(),
                       "trust policy statement #" + std::to_string(index + 1));
      }
      std::vector<std::string> one_name = {names[index]};
      add(FindingFromDetail(detail, one_name, "invalid"));
    }
    ++index;
  }

  // Cross-statement rules, in ParseTrustPolicy's words.
  std::set<std::string> seen_names;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) {
      continue;
    }
    if (!seen_names.insert(names[i]).second) {
      add(LintFinding{"duplicate-name", names[i],
                      "another statement has the same name; statement names "
                      "must be unique",
                      ""});
    }
  }
  // Scopes as written, of every statement (an invalid statement's scopes
  // still collide with the others').
  std::unordered_map<std::string, size_t> owner;
  index = 0;
  for (dom::element e : statements) {
    const size_t i = index++;
    dom::object obj;
    if (e.get_object().get(obj) != simdjson::SUCCESS) {
      continue;
    }
    std::optional<dom::element> scopes_elem =
        FoldedMember(obj, "registryScopes");
    dom::array scopes;
    if (!scopes_elem ||
        scopes_elem->get_array().get(scopes) != simdjson::SUCCESS) {
      continue;
    }
    std::set<std::string> own;
    for (dom::element s : scopes) {
      std::string_view sv;
      if (s.get_string().get(sv) != simdjson::SUCCESS ||
          !own.emplace(sv).second) {
        continue;  // a repeat inside one statement: its own error above
      }
      std::string scope(sv);
      auto [it, inserted] = owner.emplace(scope, i);
      if (inserted) {
        continue;
      }
      const std::string label = names[it->second].empty()
                                    ? "#" + std::to_string(it->second + 1)
                                    : Quote(names[it->second]);
      const std::string self =
          names[i].empty() ? "#" + std::to_string(i + 1) : names[i];
      if (scope == "*") {
        add(LintFinding{"global-scope-duplicate", self,
                        "the global scope \"*\" is also used by trust policy "
                        "statement " +
                            label + "; only one statement may be global",
                        ""});
      } else {
        add(LintFinding{"scope-overlap", self,
                        "registry scope " + Quote(scope) +
                            " is already listed by trust policy statement " +
                            label +
                            "; a scope may appear in one statement, once",
                        ""});
      }
    }
  }

  // Whatever ParseTrustPolicy said is always reported.
  bool covered = false;
  for (const LintFinding& f : out) {
    covered = covered || (f.rule == first_finding.rule &&
                          f.statement == first_finding.statement);
  }
  if (!covered) {
    out.insert(out.begin(), std::move(first_finding));
  }
  if (out.size() > max_errors) {
    out.resize(max_errors);
    out.push_back(LintFinding{"too-many-errors", "",
                              "more than " + std::to_string(max_errors) +
                                  " errors; fix these and lint again",
                              ""});
  }
  return out;
}

// ------------------------------------------------------------ the rules

LintReport LintPolicy(const LintInput& input) {
  LintReport report;
  report.stores_checked = input.store != nullptr;
  FindingSink errors(&report.errors);
  FindingSink warnings(&report.warnings);
  const TrustPolicy& policy = *input.policy;

  // ignored-content: what notation silently ignores. The emergency marker
  // is the one unknown top-level key that is meant to be there.
  for (const std::string& w : policy.warnings) {
    if (input.emergency &&
        w.find("unknown key \"trustgate\"") != std::string::npos) {
      continue;
    }
    warnings.Add("ignored-content", "", "trust policy: " + w,
                 "remove it, or fix the key's spelling");
  }
  for (const std::string& w : input.store_warnings) {
    warnings.Add("ignored-content", "", w,
                 "move it out of the store, or rename it");
  }

  // Which statements use each store.
  std::map<StoreRef, std::vector<const Statement*>, RefCompare> users;
  for (const Statement& st : policy.statements) {
    for (const StoreRef& ref : st.trust_stores) {
      std::vector<const Statement*>& v = users[ref];
      if (std::find(v.begin(), v.end(), &st) == v.end()) {
        v.push_back(&st);
      }
    }
  }
  auto trust_store_count = [](const Statement& st) {
    std::set<StoreRef, RefCompare> refs;
    for (const StoreRef& ref : st.trust_stores) {
      if (ref.type != StoreType::kTsa) {
        refs.insert(ref);
      }
    }
    return refs.size();
  };
  size_t max_scoped_stores = 0;
  bool has_scoped_verifying = false;
  for (const Statement& st : policy.statements) {
    if (!st.global && st.level != Level::kSkip) {
      has_scoped_verifying = true;
      max_scoped_stores = std::max(max_scoped_stores, trust_store_count(st));
    }
  }

  for (const Statement& st : policy.statements) {
    const bool verifying = st.level != Level::kSkip;
    // weak-level: a scope whose failures are only logged.
    if (!st.global &&
        (st.level == Level::kPermissive || st.level == Level::kAudit)) {
      warnings.Add(
          "weak-level", st.name,
          "level " + std::string(ToString(st.level)) + " for " + ScopesOf(st) +
              (st.level == Level::kAudit
                   ? ": only integrity is enforced, a signature from an "
                     "untrusted signer is only logged"
                   : ": expired certificates, missing timestamps and revoked "
                     "signers are only logged"),
          "set signatureVerification.level to strict (override single "
          "validations if you must)");
    }
    // wildcard-identity: "*" where authenticity is enforced.
    if (st.level == Level::kStrict || st.level == Level::kPermissive) {
      for (const TrustedIdentity& id : st.trusted_identities) {
        if (id.kind == TrustedIdentity::Kind::kWildcard) {
          warnings.Add("wildcard-identity", st.name,
                       "trustedIdentities \"*\" accepts any signer whose "
                       "certificate chains to the statement's trust stores",
                       "list the signers' \"x509.subject: C=..,ST=..,O=..\" "
                       "identities instead of \"*\"");
          break;
        }
      }
    }
    // revocation-relaxed: strict, except for revocation.
    if (st.level == Level::kStrict) {
      const auto& o =
          st.overrides[static_cast<size_t>(Validation::kRevocation)];
      if (o && *o != Action::kEnforce) {
        warnings.Add("revocation-relaxed", st.name,
                     "level strict with revocation overridden to " +
                         std::string(ToString(*o)) +
                         ": a revoked signing certificate still verifies",
                     "remove the revocation override (use --crl-dir for "
                     "offline revocation data)");
      }
    }
    // no-tsa: notary.x509 (ca stores) at strict without a tsa store.
    if (st.level == Level::kStrict && st.HasStoreOfType(StoreType::kCa) &&
        !st.HasStoreOfType(StoreType::kTsa)) {
      warnings.Add("no-tsa", st.name,
                   "strict notary.x509 statement without a tsa store: once a "
                   "signing certificate expires its signatures fail, and no "
                   "timestamp can show they were made in time",
                   "add \"tsa:<name>\" to trustStores with your timestamping "
                   "authority's root certificate");
    }
    // broad-global.
    if (st.global) {
      if (st.level != Level::kStrict) {
        warnings.Add("broad-global", st.name,
                     "the global statement (any repository not listed "
                     "elsewhere) is at level " +
                         std::string(ToString(st.level)),
                     "make the global statement strict and give repositories "
                     "that need less a scoped statement of their own");
      }
      size_t count = trust_store_count(st);
      if (verifying && has_scoped_verifying && count > max_scoped_stores) {
        warnings.Add("broad-global", st.name,
                     "the global statement trusts " + std::to_string(count) +
                         " ca/signingAuthority stores, more than any scoped "
                         "statement (at most " +
                         std::to_string(max_scoped_stores) +
                         "): every unlisted repository accepts all of them",
                     "let the global statement trust only the "
                     "shared-infrastructure store; scope team stores to "
                     "their repositories");
      }
    }
  }

  // shared-store: one team's store trusted for another team's scope.
  for (const auto& [ref, sts] : users) {
    if (ref.type == StoreType::kTsa) {
      continue;
    }
    std::vector<const Statement*> scoped;
    for (const Statement* st : sts) {
      if (!st->global) {
        scoped.push_back(st);
      }
    }
    if (scoped.size() < 2) {
      continue;
    }
    for (const Statement* st : scoped) {
      std::vector<const Statement*> others;
      for (const Statement* o : scoped) {
        if (o != st) {
          others.push_back(o);
        }
      }
      warnings.Add("shared-store", st->name,
                   ToString(ref) + " is also trusted by " +
                       JoinStatements(others) +
                       ": a compromise of a key it certifies reaches those "
                       "repositories too",
                   "give each team its own store; trust a shared store only "
                   "from the global statement");
    }
  }

  // Store contents.
  if (input.store != nullptr) {
    for (const NamedStore& named : input.store->stores()) {
      auto it = users.find(named.ref);
      std::string first_user;
      std::string user_note;
      if (it != users.end() && !it->second.empty()) {
        first_user = it->second.front()->name;
        user_note = " (used by " + JoinStatements(it->second) + ")";
      }
      const std::string ref = ToString(named.ref);
      if (named.error) {
        switch (named.error->code) {
          case PolicyError::kNotFound:
            warnings.Add("missing-store", first_user,
                         ref + " is referenced but does not exist" + user_note +
                             ": every signature that needs it fails",
                         "create the store directory with its certificates, "
                         "or remove the reference");
            break;
          case PolicyError::kEmptyStore:
            warnings.Add("empty-store", first_user,
                         ref + " holds no certificate" + user_note +
                             ": every signature that needs it fails",
                         "add the trusted root certificates, or remove the "
                         "reference");
            break;
          default:
            errors.Add("store-" + std::string(ToString(named.error->code)),
                       first_user, named.error->detail + user_note, "");
            break;
        }
        continue;
      }
      for (const crypto::CertificatePtr& cert : named.certificates) {
        const std::string who = ref + " certificate \"" +
                                cert->SubjectString() + "\" (sha256 " +
                                cert->Sha256Hex().substr(0, 16) + "...)";
        if (named.ref.type != StoreType::kTsa && !IsSelfSignedRoot(*cert)) {
          warnings.Add("intermediate-anchor", first_user,
                       who +
                           " is not a self-signed root: pinning an "
                           "intermediate breaks when the issuer rotates it",
                       "put the root certificate of the chain in the store "
                       "instead");
        }
        const std::string not_after = base::FormatRfc3339(cert->not_after());
        if (cert->not_after() < input.at) {
          warnings.Add("anchor-expired", first_user,
                       who + " expired at " + not_after,
                       "replace it with the issuer's current root, then "
                       "remove it");
        } else if (cert->not_after() - input.at <= kExpiringWindow) {
          warnings.Add("anchor-expiring", first_user,
                       who + " expires at " + not_after + ", within 30 days",
                       "add its successor to the store now, and remove it "
                       "once nothing depends on it (trustgate rotation "
                       "status)");
        }
      }
    }
    // An emergency policy applies on top of the base policy, whose stores
    // it need not reference: unused-store is the base policy's business.
    const bool emergency = input.emergency.has_value();
    for (const StoreRef& present : input.present_stores) {
      if (!emergency && users.count(present) == 0) {
        warnings.Add("unused-store", "",
                     ToString(present) +
                         " exists in the trust store but no statement "
                         "references it",
                     "remove it, or reference it from the statement that "
                     "should trust it");
      }
    }
  }

  // emergency-no-expiry (issue 5 part 4), with the completeness rules
  // verify applies (policy/emergency.h ValidateEmergencyMetadata).
  if (input.emergency) {
    std::string no_expiry;
    for (const EmergencyFinding& f :
         ValidateEmergencyMetadata(*input.emergency)) {
      switch (f.problem) {
        case EmergencyProblem::kNoExpiry:
        case EmergencyProblem::kNoApprover:
          no_expiry += (no_expiry.empty() ? "" : "; ") + f.message;
          break;
        case EmergencyProblem::kNoReason:
        case EmergencyProblem::kApprovedAfterExpiry:
          errors.Add("emergency-malformed", "",
                     f.message + " (verify --emergency-policy refuses it)", "");
          break;
      }
    }
    if (!no_expiry.empty()) {
      warnings.Add("emergency-no-expiry", "",
                   no_expiry + ": nothing ends it or nobody answers for it",
                   "set trustgate.emergency.expires (RFC 3339, hours from "
                   "now) and trustgate.emergency.approvedBy");
    }
  }
  return report;
}

// ------------------------------------------------------------- listing

std::vector<StoreRef> ListStoreDirectories(const std::filesystem::path& root) {
  std::vector<StoreRef> out;
  for (StoreType type :
       {StoreType::kCa, StoreType::kSigningAuthority, StoreType::kTsa}) {
    std::string dir = (root / "x509" / std::string(ToString(type))).string();
    base::UniqueFd fd(
        ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
      continue;
    }
    DIR* listing = ::fdopendir(fd.get());
    if (listing == nullptr) {
      continue;
    }
    fd.Release();  // owned by `listing` now
    std::unique_ptr<DIR, int (*)(DIR*)> closer(listing, ::closedir);
    size_t count = 0;
    while (dirent* ent = ::readdir(listing)) {
      std::string_view name = ent->d_name;
      if (name == "." || name == "..") {
        continue;
      }
      if (++count > kMaxStoreDirsPerType) {
        break;
      }
      struct stat st {};
      if (::fstatat(::dirfd(listing), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) !=
          0) {
        continue;
      }
      if (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)) {
        out.push_back(StoreRef{type, std::string(name)});
      }
    }
  }
  std::sort(out.begin(), out.end(), RefLess);
  return out;
}

// ---------------------------------------------------------------- files

LintReport LintFiles(const LintSource& source, base::Time at) {
  LintReport report;
  report.stores_checked = false;
  std::filesystem::path policy_path;
  if (source.policy_file) {
    policy_path = *source.policy_file;
  } else if (source.config_dir) {
    // trust-store-trust-policy.md: trustpolicy.oci.json, else (only when it
    // does not exist) trustpolicy.json, as LoadTrustPolicyFromConfig.
    policy_path = *source.config_dir / "trustpolicy.oci.json";
    struct stat st {};
    if (::lstat(policy_path.c_str(), &st) != 0 && errno == ENOENT) {
      std::filesystem::path legacy = *source.config_dir / "trustpolicy.json";
      if (::lstat(legacy.c_str(), &st) != 0 && errno == ENOENT) {
        report.errors.push_back(LintFinding{
            "policy-not-found", "",
            "no trust policy in " + source.config_dir->string() +
                ": neither trustpolicy.oci.json nor trustpolicy.json exists",
            ""});
        return report;
      }
      policy_path = legacy;
    }
  } else {
    report.errors.push_back(LintFinding{
        "policy-not-found", "",
        "no trust policy given; pass --config DIR or --policy FILE", ""});
    return report;
  }
  report.policy_source = policy_path.string();
  auto bytes = ReadTrustPolicyFile(policy_path);
  if (!bytes.ok()) {
    report.errors.push_back(
        LintFinding{PolicyFileRule(bytes.code()), "", bytes.detail(), ""});
    return report;
  }
  auto policy = ParseTrustPolicy(*bytes);
  if (!policy.ok()) {
    report.errors = CollectPolicyErrors(*bytes);
  }
  // An emergency policy: its "trustgate" object read by the same reader
  // `verify --emergency-policy` uses.
  std::optional<EmergencyMetadata> emergency;
  if (HasTrustgateMember(*bytes)) {
    auto metadata = ReadEmergencyMetadata(*bytes);
    if (metadata.ok()) {
      emergency = *metadata;
    } else {
      report.errors.push_back(
          LintFinding{"emergency-malformed", "", metadata.detail(), ""});
    }
  }
  if (!report.errors.empty()) {
    return report;
  }
  policy->source = policy_path.string();

  LintInput input;
  input.policy = &policy.value();
  input.emergency = std::move(emergency);
  input.at = at;
  std::optional<std::filesystem::path> root = source.trust_store_dir;
  if (!root && source.config_dir) {
    root = *source.config_dir / "truststore";
  }
  std::optional<TrustStore> store;
  if (root) {
    struct stat st {};
    const std::string r = root->string();
    if (::lstat(r.c_str(), &st) != 0) {
      if (source.trust_store_dir) {
        report.errors.push_back(
            LintFinding{"trust-store-not-found", "",
                        "trust store directory " + r +
                            " does not exist; point --trust-store at the "
                            "directory holding x509/{ca,signingAuthority,tsa}",
                        ""});
        return report;
      }
      // A config dir without a truststore: every store is missing.
    } else if (!S_ISDIR(st.st_mode)) {
      report.errors.push_back(LintFinding{
          "trust-store-not-directory", "",
          "trust store " + r +
              (S_ISLNK(st.st_mode) ? " is a symlink; symlinks are refused"
                                   : " is not a directory"),
          ""});
      return report;
    }
    store = TrustStore::Load(*root, *policy, &input.store_warnings);
    input.store = &*store;
    input.present_stores = ListStoreDirectories(*root);
  }
  LintReport linted = LintPolicy(input);
  linted.policy_source = report.policy_source;
  return linted;
}

}  // namespace trustgate::policy
