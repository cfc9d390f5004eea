#include "policy/diff.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/policy/org_fixture.h"
#include "tests/policy/test_pki.h"

namespace trustgate::policy {
namespace {

using json = nlohmann::json;
using testing::DataFile;
using testing::OrgStores;
using testing::Pki;
using testing::ScratchDir;
using testing::TestCert;
using testing::WriteConfig;
using testing::WriteFile;
using testing::WriteStore;

constexpr char kApi[] = "registry.example.com/payments/api";
constexpr char kLedger[] = "registry.example.com/payments/ledger";
constexpr char kBase[] = "registry.example.com/platform/base";
constexpr char kInference[] = "registry.example.com/ml/inference";

// Statement positions in org/production.json.
constexpr size_t kPayments = 0;
constexpr size_t kPlatform = 1;
constexpr size_t kGlobal = 3;

json Production() { return json::parse(DataFile("org/production.json")); }

json& Sv(json& doc, size_t i) {
  return doc["trustPolicies"][i]["signatureVerification"];
}

std::string Fp(const TestCert& cert) {
  auto parsed = crypto::Certificate::FromDer(cert.Der());
  return "sha256:" + parsed.value()->Sha256Hex();
}

Fingerprint RawFp(const TestCert& cert) {
  return crypto::Certificate::FromDer(cert.Der()).value()->sha256();
}

std::string Dump(const std::vector<PolicyChange>& changes) {
  std::string out;
  for (const PolicyChange& c : changes) {
    out +=
        c.rule + "@" + c.scope + "(" + std::string(ToString(c.effect)) + ") ";
  }
  return out;
}

std::vector<PolicyChange> With(const std::vector<PolicyChange>& changes,
                               const std::string& rule,
                               const std::string& scope = "") {
  std::vector<PolicyChange> out;
  for (const PolicyChange& c : changes) {
    if (c.rule == rule && (scope.empty() || c.scope == scope)) {
      out.push_back(c);
    }
  }
  return out;
}

class DiffTest : public ::testing::Test {
 protected:
  // Config makes a config dir holding `doc` and the org stores it
  // references, lets `edit` change the trust store, and loads it.
  LoadedPolicy Config(
      const json& doc,
      const std::function<void(const std::filesystem::path&)>& edit = {}) {
    std::filesystem::path dir = dir_.path() / ("c" + std::to_string(n_++));
    WriteConfig(dir, doc.dump(), OrgStores::kReferenced);
    if (edit) {
      edit(dir / "truststore");
    }
    auto loaded = LoadPolicyInput(dir);
    EXPECT_TRUE(loaded.ok()) << loaded.detail();
    return std::move(loaded).value();
  }

  // PolicyOnly loads `doc` as a policy file (anchors unknown).
  LoadedPolicy PolicyOnly(const json& doc) {
    std::filesystem::path file =
        dir_.path() / ("p" + std::to_string(n_++) + ".json");
    WriteFile(file, doc.dump());
    auto loaded = LoadPolicyInput(file);
    EXPECT_TRUE(loaded.ok()) << loaded.detail();
    return std::move(loaded).value();
  }

  static std::vector<PolicyChange> Diff(const LoadedPolicy& before,
                                        const LoadedPolicy& after,
                                        const DiffOptions& options = {}) {
    return DiffPolicies(before.Side(), after.Side(), options);
  }

  ScratchDir dir_;
  int n_ = 0;
};

TEST_F(DiffTest, SamePolicyHasNoChange) {
  LoadedPolicy a = Config(Production());
  LoadedPolicy b = Config(Production());
  EXPECT_TRUE(Diff(a, b).empty()) << Dump(Diff(a, b));
  EXPECT_FALSE(Weakens(Diff(a, b)));
}

TEST_F(DiffTest, ReorderedAndReformattedIsNoChange) {
  json doc = Production();
  json reordered = doc;
  std::swap(reordered["trustPolicies"][0], reordered["trustPolicies"][2]);
  reordered["trustPolicies"][2]["trustedIdentities"] = {
      "x509.subject: OU=Payments,O=Example Corp,S=WA,C=US"};
  reordered["trustPolicies"][2]["signatureVerification"]["override"] = {
      {"revocation", "enforce"}};
  reordered["trustPolicies"][2]["trustStores"] = {"tsa:public-tsa",
                                                  "ca:payments"};
  std::vector<PolicyChange> changes = Diff(Config(doc), Config(reordered));
  EXPECT_TRUE(changes.empty()) << Dump(changes);
}

TEST_F(DiffTest, LevelLoweredAndRaised) {
  json strict = Production();
  json permissive = Production();
  Sv(permissive, kPayments)["level"] = "permissive";
  LoadedPolicy s = Config(strict);
  LoadedPolicy p = Config(permissive);

  std::vector<PolicyChange> down = Diff(s, p);
  ASSERT_EQ(down.size(), 2u) << Dump(down);  // api and ledger
  for (const PolicyChange& c : down) {
    EXPECT_EQ(c.rule, "level-lowered");
    EXPECT_EQ(c.effect, Effect::kWeakens);
    EXPECT_EQ(c.statement, "payments");
    EXPECT_EQ(c.from, "strict");
    EXPECT_EQ(c.to, "permissive");
  }
  EXPECT_EQ(down[0].scope, kApi);
  EXPECT_EQ(down[1].scope, kLedger);
  EXPECT_TRUE(Weakens(down));

  std::vector<PolicyChange> up = Diff(p, s);
  ASSERT_EQ(up.size(), 2u) << Dump(up);
  EXPECT_EQ(With(up, "level-raised").size(), 2u);
  EXPECT_EQ(up[0].effect, Effect::kStrengthens);
  EXPECT_FALSE(Weakens(up));
}

TEST_F(DiffTest, LevelToSkipComparesNothingElse) {
  json skip = Production();
  skip["trustPolicies"][kPayments]["signatureVerification"] = {
      {"level", "skip"}};
  skip["trustPolicies"][kPayments].erase("trustStores");
  skip["trustPolicies"][kPayments].erase("trustedIdentities");
  std::vector<PolicyChange> changes = Diff(Config(Production()), Config(skip));
  EXPECT_EQ(changes.size(), 2u) << Dump(changes);
  EXPECT_EQ(With(changes, "level-lowered").size(), 2u);
}

TEST_F(DiffTest, OverrideRelaxedAndTightened) {
  json relaxed = Production();
  Sv(relaxed, kPlatform)["override"] = {{"revocation", "log"}};
  LoadedPolicy before = Config(Production());
  LoadedPolicy after = Config(relaxed);

  std::vector<PolicyChange> changes = Diff(before, after);
  ASSERT_EQ(changes.size(), 2u) << Dump(changes);  // base, distroless
  EXPECT_EQ(changes[0].rule, "override-relaxed");
  EXPECT_EQ(changes[0].scope, kBase);
  EXPECT_EQ(changes[0].from, "revocation:enforce");
  EXPECT_EQ(changes[0].to, "revocation:log");
  EXPECT_EQ(changes[0].effect, Effect::kWeakens);

  std::vector<PolicyChange> back = Diff(after, before);
  ASSERT_EQ(back.size(), 2u) << Dump(back);
  EXPECT_EQ(back[0].rule, "override-tightened");
  EXPECT_EQ(back[0].from, "revocation:log");
  EXPECT_EQ(back[0].to, "revocation:enforce");
  EXPECT_EQ(back[0].effect, Effect::kStrengthens);
}

TEST_F(DiffTest, ActionChangesThatFollowTheLevelAreTheLevels) {
  // permissive -> strict with expiry kept at log: the level is raised,
  // authenticTimestamp and revocation follow it, expiry does not change.
  json permissive = Production();
  Sv(permissive, kPayments)["level"] = "permissive";
  json strict = Production();
  Sv(strict, kPayments)["override"] = {{"expiry", "log"}};
  std::vector<PolicyChange> changes = Diff(Config(permissive), Config(strict));
  EXPECT_EQ(With(changes, "level-raised").size(), 2u) << Dump(changes);
  EXPECT_EQ(changes.size(), 2u) << Dump(changes);

  // strict -> permissive with revocation skipped: both reported.
  json lowered = Production();
  Sv(lowered, kPayments) = {{"level", "permissive"},
                            {"override", {{"revocation", "skip"}}}};
  changes = Diff(Config(Production()), Config(lowered));
  EXPECT_EQ(With(changes, "level-lowered").size(), 2u) << Dump(changes);
  ASSERT_EQ(With(changes, "override-relaxed").size(), 2u) << Dump(changes);
  EXPECT_EQ(With(changes, "override-relaxed")[0].to, "revocation:skip");
}

TEST_F(DiffTest, IdentityBroadenedAndNarrowed) {
  json narrow = Production();
  json broad = Production();
  broad["trustPolicies"][kPayments]["trustedIdentities"] = {
      "x509.subject: C=US, ST=WA, O=Example Corp"};
  LoadedPolicy n = Config(narrow);
  LoadedPolicy b = Config(broad);

  std::vector<PolicyChange> wider = Diff(n, b);
  ASSERT_EQ(wider.size(), 2u) << Dump(wider);
  EXPECT_EQ(wider[0].rule, "identity-broadened");
  EXPECT_EQ(wider[0].effect, Effect::kWeakens);
  EXPECT_EQ(wider[0].to, "x509.subject: C=US, ST=WA, O=Example Corp");
  EXPECT_EQ(wider[0].from, "");

  std::vector<PolicyChange> narrower = Diff(b, n);
  ASSERT_EQ(narrower.size(), 2u) << Dump(narrower);
  EXPECT_EQ(narrower[0].rule, "identity-narrowed");
  EXPECT_EQ(narrower[0].effect, Effect::kStrengthens);
  EXPECT_EQ(narrower[0].from, "x509.subject: C=US, ST=WA, O=Example Corp");
}

TEST_F(DiffTest, WildcardAndAdditionalIdentities) {
  json star = Production();
  star["trustPolicies"][kPayments]["trustedIdentities"] = {"*"};
  std::vector<PolicyChange> to_star = Diff(Config(Production()), Config(star));
  EXPECT_EQ(With(to_star, "identity-broadened").size(), 2u) << Dump(to_star);
  EXPECT_EQ(With(to_star, "identity-narrowed").size(), 0u);
  std::vector<PolicyChange> from_star =
      Diff(Config(star), Config(Production()));
  EXPECT_EQ(With(from_star, "identity-narrowed").size(), 2u);
  EXPECT_EQ(With(from_star, "identity-broadened").size(), 0u);

  json two = Production();
  two["trustPolicies"][kPayments]["trustedIdentities"].push_back(
      "x509.subject: C=US, ST=WA, O=Example Corp, OU=Payments Release");
  std::vector<PolicyChange> added = Diff(Config(Production()), Config(two));
  EXPECT_EQ(added.size(), 2u) << Dump(added);
  EXPECT_EQ(With(added, "identity-broadened").size(), 2u);

  // A signing-profile ARN (AWS Signer) swapped for another: both ways.
  json other = Production();
  other["trustPolicies"][2]["trustedIdentities"] = {
      "arn:aws:signer:us-west-2:123456789012:/signing-profiles/other"};
  std::vector<PolicyChange> swapped = Diff(Config(Production()), Config(other));
  EXPECT_EQ(With(swapped, "identity-broadened", kInference).size(), 1u);
  EXPECT_EQ(With(swapped, "identity-narrowed", kInference).size(), 1u);
  EXPECT_EQ(swapped.size(), 2u) << Dump(swapped);
}

TEST_F(DiffTest, StoreAddedAndRemoved) {
  json more = Production();
  more["trustPolicies"][kPayments]["trustStores"].push_back("ca:platform");
  LoadedPolicy before = Config(Production());
  LoadedPolicy after = Config(more);

  std::vector<PolicyChange> added = Diff(before, after);
  ASSERT_EQ(added.size(), 2u) << Dump(added);
  EXPECT_EQ(added[0].rule, "store-added");
  EXPECT_EQ(added[0].to, "ca:platform");
  EXPECT_EQ(added[0].effect, Effect::kWeakens);
  // The anchors that came with the store are the store's change.
  EXPECT_TRUE(With(added, "anchor-added").empty());

  std::vector<PolicyChange> removed = Diff(after, before);
  ASSERT_EQ(removed.size(), 2u) << Dump(removed);
  EXPECT_EQ(removed[0].rule, "store-removed");
  EXPECT_EQ(removed[0].from, "ca:platform");
  EXPECT_EQ(removed[0].effect, Effect::kStrengthens);
}

TEST_F(DiffTest, StoreWithAnchorsTrustedAlreadyIsNeutral) {
  json renamed = Production();
  renamed["trustPolicies"][kPayments]["trustStores"] = {"ca:payments-v2",
                                                        "tsa:public-tsa"};
  LoadedPolicy before = Config(Production());
  LoadedPolicy after =
      Config(renamed, [](const std::filesystem::path& truststore) {
        WriteStore(truststore, StoreType::kCa, "payments-v2",
                   {&Pki().payments});
      });
  std::vector<PolicyChange> changes = Diff(before, after);
  ASSERT_EQ(changes.size(), 4u) << Dump(changes);
  for (const PolicyChange& c : changes) {
    EXPECT_EQ(c.effect, Effect::kNeutral) << c.rule;
  }
  EXPECT_EQ(With(changes, "store-added").size(), 2u);
  EXPECT_EQ(With(changes, "store-removed").size(), 2u);
  EXPECT_FALSE(Weakens(changes));

  // Known only by name (policy files): the same rename weakens.
  std::vector<PolicyChange> blind =
      Diff(PolicyOnly(Production()), PolicyOnly(renamed));
  EXPECT_EQ(With(blind, "store-added")[0].effect, Effect::kWeakens);
  EXPECT_EQ(With(blind, "store-removed")[0].effect, Effect::kStrengthens);
}

TEST_F(DiffTest, AnchorAddedAndRemoved) {
  auto add_previous = [](const std::filesystem::path& truststore) {
    WriteStore(truststore, StoreType::kCa, "payments",
               {&Pki().payments, &Pki().payments_previous});
  };
  LoadedPolicy before = Config(Production());
  LoadedPolicy after = Config(Production(), add_previous);

  std::vector<PolicyChange> added = Diff(before, after);
  ASSERT_EQ(added.size(), 2u) << Dump(added);
  EXPECT_EQ(added[0].rule, "anchor-added");
  EXPECT_EQ(added[0].scope, kApi);
  EXPECT_EQ(added[0].to, Fp(Pki().payments_previous));
  EXPECT_EQ(added[0].effect, Effect::kWeakens);

  std::vector<PolicyChange> removed = Diff(after, before);
  ASSERT_EQ(removed.size(), 2u) << Dump(removed);
  EXPECT_EQ(removed[0].rule, "anchor-removed");
  EXPECT_EQ(removed[0].from, Fp(Pki().payments_previous));
  EXPECT_EQ(removed[0].effect, Effect::kStrengthens);
}

TEST_F(DiffTest, AnchorInTheSharedInfrastructureStoreReachesEveryScope) {
  LoadedPolicy before = Config(Production());
  LoadedPolicy after =
      Config(Production(), [](const std::filesystem::path& truststore) {
        WriteStore(truststore, StoreType::kTsa, "public-tsa",
                   {&Pki().tsa, &Pki().payments_previous});
      });
  std::vector<PolicyChange> changes = Diff(before, after);
  // Every scope whose statement trusts tsa:public-tsa: payments (2),
  // platform (2), and "*".
  EXPECT_EQ(With(changes, "anchor-added").size(), 5u) << Dump(changes);
  EXPECT_EQ(With(changes, "anchor-added", "*").size(), 1u);
  EXPECT_TRUE(With(changes, "anchor-added", kInference).empty());
}

TEST_F(DiffTest, ManagedAndUnmanagedAnchors) {
  auto add_previous = [](const std::filesystem::path& truststore) {
    WriteStore(truststore, StoreType::kCa, "payments",
               {&Pki().payments, &Pki().payments_previous});
  };
  LoadedPolicy before = Config(Production());
  LoadedPolicy after = Config(Production(), add_previous);

  std::set<Fingerprint> managed = {RawFp(Pki().payments_previous)};
  DiffOptions options;
  options.managed_anchors = &managed;
  std::vector<PolicyChange> ok = Diff(before, after, options);
  ASSERT_EQ(ok.size(), 2u) << Dump(ok);
  EXPECT_EQ(ok[0].rule, "anchor-added");
  EXPECT_EQ(ok[0].effect, Effect::kNeutral);
  EXPECT_FALSE(Weakens(ok));

  std::set<Fingerprint> other = {RawFp(Pki().platform)};
  options.managed_anchors = &other;
  std::vector<PolicyChange> rogue = Diff(before, after, options);
  ASSERT_EQ(rogue.size(), 2u) << Dump(rogue);
  EXPECT_EQ(rogue[0].rule, "unmanaged-anchor");
  EXPECT_EQ(rogue[0].effect, Effect::kWeakens);
  EXPECT_TRUE(Weakens(rogue));
}

TEST_F(DiffTest, ScopeMovedToAnIdenticalStatementIsNeutral) {
  json split = Production();
  json ledger = split["trustPolicies"][kPayments];
  ledger["name"] = "payments-ledger";
  ledger["registryScopes"] = {kLedger};
  split["trustPolicies"][kPayments]["registryScopes"] = {kApi};
  split["trustPolicies"].push_back(ledger);
  LoadedPolicy before = Config(Production());
  LoadedPolicy after = Config(split);

  std::vector<PolicyChange> changes = Diff(before, after);
  ASSERT_EQ(changes.size(), 1u) << Dump(changes);
  EXPECT_EQ(changes[0].rule, "scope-moved");
  EXPECT_EQ(changes[0].scope, kLedger);
  EXPECT_EQ(changes[0].from, "payments");
  EXPECT_EQ(changes[0].to, "payments-ledger");
  EXPECT_EQ(changes[0].statement, "payments-ledger");
  EXPECT_EQ(changes[0].effect, Effect::kNeutral);
  // And back.
  std::vector<PolicyChange> back = Diff(after, before);
  ASSERT_EQ(back.size(), 1u) << Dump(back);
  EXPECT_EQ(back[0].from, "payments-ledger");
  EXPECT_EQ(back[0].to, "payments");
}

TEST_F(DiffTest, ScopeMovedToTheGlobalStatementComparesItsContent) {
  json dropped = Production();
  dropped["trustPolicies"][kPayments]["registryScopes"] = {kApi};
  std::vector<PolicyChange> changes =
      Diff(Config(Production()), Config(dropped));
  // The ledger is now governed by the shared-infrastructure statement.
  EXPECT_EQ(With(changes, "scope-moved", kLedger).size(), 1u) << Dump(changes);
  EXPECT_EQ(With(changes, "identity-broadened", kLedger).size(), 1u);
  EXPECT_EQ(With(changes, "identity-narrowed", kLedger).size(), 1u);
  EXPECT_EQ(With(changes, "store-added", kLedger).size(), 1u);
  EXPECT_EQ(With(changes, "store-removed", kLedger).size(), 1u);
  EXPECT_TRUE(Weakens(changes));
  for (const PolicyChange& c : changes) {
    EXPECT_EQ(c.scope, kLedger);
  }
}

TEST_F(DiffTest, ScopeUncoveredAndCovered) {
  json no_global = Production();
  no_global["trustPolicies"].erase(kGlobal);
  LoadedPolicy with = Config(Production());
  LoadedPolicy without = Config(no_global);

  std::vector<PolicyChange> gone = Diff(with, without);
  ASSERT_EQ(gone.size(), 1u) << Dump(gone);
  EXPECT_EQ(gone[0].rule, "scope-uncovered");
  EXPECT_EQ(gone[0].scope, "*");
  EXPECT_EQ(gone[0].statement, "shared-infrastructure");
  EXPECT_EQ(gone[0].effect, Effect::kStrengthens);

  std::vector<PolicyChange> back = Diff(without, with);
  ASSERT_EQ(back.size(), 1u) << Dump(back);
  EXPECT_EQ(back[0].rule, "scope-covered");
  EXPECT_EQ(back[0].to, "shared-infrastructure");
  EXPECT_EQ(back[0].effect, Effect::kWeakens);

  // A named repository dropped where nothing else covers it.
  json fewer = no_global;
  fewer["trustPolicies"][kPayments]["registryScopes"] = {kApi};
  std::vector<PolicyChange> dropped = Diff(without, Config(fewer));
  ASSERT_EQ(dropped.size(), 1u) << Dump(dropped);
  EXPECT_EQ(dropped[0].rule, "scope-uncovered");
  EXPECT_EQ(dropped[0].scope, kLedger);
}

TEST_F(DiffTest, TimestampRelaxedAndTightened) {
  json relaxed = Production();
  Sv(relaxed, kGlobal)["verifyTimestamp"] = "afterCertExpiry";
  LoadedPolicy before = Config(Production());
  LoadedPolicy after = Config(relaxed);
  std::vector<PolicyChange> changes = Diff(before, after);
  ASSERT_EQ(changes.size(), 1u) << Dump(changes);
  EXPECT_EQ(changes[0].rule, "timestamp-relaxed");
  EXPECT_EQ(changes[0].scope, "*");
  EXPECT_EQ(changes[0].from, "always");
  EXPECT_EQ(changes[0].to, "afterCertExpiry");
  EXPECT_EQ(changes[0].effect, Effect::kWeakens);
  std::vector<PolicyChange> back = Diff(after, before);
  ASSERT_EQ(back.size(), 1u) << Dump(back);
  EXPECT_EQ(back[0].rule, "timestamp-tightened");
  EXPECT_EQ(back[0].effect, Effect::kStrengthens);

  // Without a tsa store the setting does nothing.
  json inert = Production();
  inert["trustPolicies"][2]["signatureVerification"]["verifyTimestamp"] =
      "afterCertExpiry";
  std::vector<PolicyChange> none = Diff(before, Config(inert));
  ASSERT_EQ(none.size(), 1u) << Dump(none);
  EXPECT_EQ(none[0].rule, "timestamp-relaxed");
  EXPECT_EQ(none[0].effect, Effect::kNeutral);
}

TEST_F(DiffTest, ManyScopesAreComparedOncePerStatementPair) {
  json big = Production();
  json& scopes = big["trustPolicies"][kPlatform]["registryScopes"];
  for (int i = 0; i < 20000; ++i) {
    scopes.push_back("registry.example.com/platform/image" + std::to_string(i));
  }
  json lowered = big;
  Sv(lowered, kPlatform)["level"] = "audit";
  Sv(lowered, kPlatform)["override"] = {{"revocation", "skip"}};
  std::vector<PolicyChange> changes = Diff(Config(big), Config(lowered));
  EXPECT_EQ(With(changes, "level-lowered").size(), 20002u);
  EXPECT_EQ(With(changes, "override-relaxed").size(), 20002u);
  EXPECT_EQ(changes.size(), 40004u);
  EXPECT_EQ(With(changes, "level-lowered",
                 "registry.example.com/platform/"
                 "image19999")
                .size(),
            1u);
}

TEST_F(DiffTest, AllowedRulesDoNotWeaken) {
  json permissive = Production();
  Sv(permissive, kPayments)["level"] = "permissive";
  DiffOptions options;
  options.allow = {"level-lowered"};
  std::vector<PolicyChange> changes =
      Diff(Config(Production()), Config(permissive), options);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_TRUE(changes[0].allowed);
  EXPECT_FALSE(Weakens(changes));
  options.allow = {"identity-broadened"};
  EXPECT_TRUE(Weakens(Diff(Config(Production()), Config(permissive), options)));
}

TEST_F(DiffTest, DriftKeepsWhatIsWeakerThanTheBaseline) {
  LoadedPolicy production = Config(Production());
  json doc = json::parse(DataFile("org/staging.json"));
  LoadedPolicy staging = Config(doc, [](const std::filesystem::path& ts) {
    testing::WriteOrgStore(ts, {StoreType::kCa, "platform-staging"});
  });
  std::vector<PolicyChange> weaker = DriftChanges(
      production.Side(), staging.Side(), {}, DriftSelection::kWeaker);
  // payments permissive (2 scopes), ca:platform-staging (2 scopes),
  // verifyTimestamp on the global statement.
  EXPECT_EQ(With(weaker, "level-lowered").size(), 2u) << Dump(weaker);
  EXPECT_EQ(With(weaker, "store-added").size(), 2u) << Dump(weaker);
  EXPECT_EQ(With(weaker, "timestamp-relaxed", "*").size(), 1u);
  EXPECT_EQ(weaker.size(), 5u) << Dump(weaker);

  // Staging as the baseline: production is only stronger.
  std::vector<PolicyChange> reverse = DriftChanges(
      staging.Side(), production.Side(), {}, DriftSelection::kWeaker);
  EXPECT_TRUE(reverse.empty()) << Dump(reverse);
  std::vector<PolicyChange> all =
      DriftChanges(staging.Side(), production.Side(), {}, DriftSelection::kAll);
  EXPECT_EQ(all.size(), 5u) << Dump(all);
}

TEST_F(DiffTest, DevelopmentAgainstProduction) {
  std::vector<PolicyChange> changes =
      Diff(Config(Production()),
           Config(json::parse(DataFile("org/development.json"))));
  const std::string scratch = "registry.example.com/experiments/scratch";
  EXPECT_EQ(With(changes, "scope-moved", scratch).size(), 1u) << Dump(changes);
  EXPECT_EQ(With(changes, "level-lowered", scratch).size(), 1u);
  EXPECT_EQ(With(changes, "override-relaxed", kApi).size(), 1u);
  EXPECT_EQ(With(changes, "identity-broadened", kBase).size(), 1u);
  EXPECT_EQ(With(changes, "store-removed", kBase).size(), 1u);  // tsa
  EXPECT_EQ(With(changes, "store-added", kBase).size(), 1u);    // shared
  EXPECT_EQ(With(changes, "level-lowered", "*").size(), 1u);
  EXPECT_EQ(With(changes, "store-added", "*").size(), 2u);
  // The ml repository is only named by production: under development it
  // falls to the permissive global statement.
  EXPECT_EQ(With(changes, "scope-moved", kInference).size(), 1u);
  EXPECT_TRUE(Weakens(changes));
}

// -------------------------------------------------------------- loading

TEST_F(DiffTest, LoadPolicyInputKinds) {
  std::filesystem::path dir = dir_.path() / "cfg";
  WriteConfig(dir, Production().dump(), OrgStores::kReferenced);
  auto config = LoadPolicyInput(dir);
  ASSERT_TRUE(config.ok()) << config.detail();
  EXPECT_TRUE(config->store.has_value());
  auto file = LoadPolicyInput(dir / "trustpolicy.oci.json");
  ASSERT_TRUE(file.ok()) << file.detail();
  EXPECT_FALSE(file->store.has_value());

  auto missing = LoadPolicyInput(dir_.path() / "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), PolicyError::kNotFound);

  std::filesystem::create_directory_symlink(dir, dir_.path() / "link");
  auto linked = LoadPolicyInput(dir_.path() / "link");
  ASSERT_FALSE(linked.ok());
  EXPECT_EQ(linked.code(), PolicyError::kSymlink);

  // A config dir without truststore/: no anchors, not an error.
  std::filesystem::path bare = dir_.path() / "bare";
  WriteConfig(bare, Production().dump(), OrgStores::kNone);
  auto no_store = LoadPolicyInput(bare);
  ASSERT_TRUE(no_store.ok()) << no_store.detail();
  EXPECT_TRUE(no_store->store.has_value());
}

TEST_F(DiffTest, LoadPolicyInputBadInput) {
  std::filesystem::path dir = dir_.path() / "cfg";
  json invalid = Production();
  Sv(invalid, kPayments)["override"] = {{"integrity", "skip"}};
  WriteConfig(dir, invalid.dump(), OrgStores::kNone);
  auto bad = LoadPolicyInput(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), PolicyError::kInvalid);
  EXPECT_NE(bad.detail().find("integrity-override"), std::string::npos);
  EXPECT_NE(bad.detail().find("\"payments\""), std::string::npos);

  // A symlinked certificate in a referenced store.
  std::filesystem::path linked = dir_.path() / "linked";
  WriteConfig(linked, Production().dump(), OrgStores::kReferenced);
  std::filesystem::path cert = linked / "truststore/x509/ca/payments/cert0.pem";
  std::filesystem::rename(cert, dir_.path() / "outside.pem");
  std::filesystem::create_symlink(dir_.path() / "outside.pem", cert);
  auto sym = LoadPolicyInput(linked);
  ASSERT_FALSE(sym.ok());
  EXPECT_EQ(sym.code(), PolicyError::kSymlink);

  // A certificate file that is not one.
  std::filesystem::path garbage = dir_.path() / "garbage";
  WriteConfig(garbage, Production().dump(), OrgStores::kReferenced);
  WriteFile(garbage / "truststore/x509/ca/platform/cert0.pem", "garbage");
  auto gar = LoadPolicyInput(garbage);
  ASSERT_FALSE(gar.ok());
  EXPECT_EQ(gar.code(), PolicyError::kBadCertificate);

  // A symlinked truststore/.
  std::filesystem::path ts_link = dir_.path() / "tslink";
  WriteConfig(ts_link, Production().dump(), OrgStores::kNone);
  std::filesystem::create_directory_symlink(linked / "truststore",
                                            ts_link / "truststore");
  auto tsl = LoadPolicyInput(ts_link);
  ASSERT_FALSE(tsl.ok());
  EXPECT_EQ(tsl.code(), PolicyError::kSymlink);
}

TEST_F(DiffTest, LoadManagedAnchors) {
  std::filesystem::path dir = dir_.path() / "managed";
  WriteFile(dir / "payments/2025.pem", Pki().payments.Pem());
  WriteFile(dir / "payments/2022.crt", Pki().payments_previous.Der());
  WriteFile(dir / "README.md", "managed by the PKI team");
  auto managed = LoadManagedAnchors(dir);
  ASSERT_TRUE(managed.ok()) << managed.detail();
  EXPECT_EQ(managed->size(), 2u);
  EXPECT_EQ(managed->count(RawFp(Pki().payments_previous)), 1u);

  WriteFile(dir / "broken.pem", "nope");
  auto broken = LoadManagedAnchors(dir);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.code(), PolicyError::kBadCertificate);
  std::filesystem::remove(dir / "broken.pem");

  std::filesystem::create_symlink(dir / "payments/2025.pem", dir / "link.pem");
  auto linked = LoadManagedAnchors(dir);
  ASSERT_FALSE(linked.ok());
  EXPECT_EQ(linked.code(), PolicyError::kSymlink);

  EXPECT_EQ(LoadManagedAnchors(dir / "README.md").code(),
            PolicyError::kNotDirectory);
  EXPECT_EQ(LoadManagedAnchors(dir_.path() / "none").code(),
            PolicyError::kNotFound);
}

TEST(DiffRulesTest, RuleIds) {
  EXPECT_TRUE(IsDiffRule("level-lowered"));
  EXPECT_TRUE(IsDiffRule("unmanaged-anchor"));
  EXPECT_FALSE(IsDiffRule("level"));
  EXPECT_EQ(ToString(Effect::kWeakens), "weakens");
  EXPECT_EQ(ToString(Effect::kStrengthens), "strengthens");
  EXPECT_EQ(ToString(Effect::kNeutral), "neutral");
}

}  // namespace
}  // namespace trustgate::policy
