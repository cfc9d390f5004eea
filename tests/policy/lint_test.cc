#include "policy/lint.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/policy/org_fixture.h"
#include "tests/policy/test_pki.h"

namespace trustgate::policy {
namespace {

using json = nlohmann::json;
using testing::DataFile;
using testing::MakeCert;
using testing::OrgStores;
using testing::Pki;
using testing::RootSpec;
using testing::ScratchDir;
using testing::TestCert;
using testing::WriteConfig;
using testing::WriteFile;
using testing::WriteStore;

base::Time Now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now());
}

constexpr char kPaymentsDn[] =
    "x509.subject: C=US, ST=WA, O=Example Corp, OU=Payments";
constexpr char kPlatformDn[] =
    "x509.subject: C=US, ST=WA, O=Example Corp, OU=Platform";
constexpr char kInfraDn[] =
    "x509.subject: C=US, ST=WA, O=Example Corp, OU=Infrastructure";
constexpr char kPaymentsApi[] = "registry.example.com/payments/api";
constexpr char kPlatformBase[] = "registry.example.com/platform/base";

json Stmt(const std::string& name, json scopes, const std::string& level,
          json stores, json identities) {
  json st = {{"name", name},
             {"registryScopes", std::move(scopes)},
             {"signatureVerification", {{"level", level}}}};
  if (!stores.empty()) {
    st["trustStores"] = std::move(stores);
  }
  if (!identities.empty()) {
    st["trustedIdentities"] = std::move(identities);
  }
  return st;
}

// Clean building blocks: each alone lints clean.
json Payments() {
  return Stmt("payments", {kPaymentsApi}, "strict",
              {"ca:payments", "tsa:public-tsa"}, {kPaymentsDn});
}
json Platform() {
  return Stmt("platform-base-images", {kPlatformBase}, "strict",
              {"ca:platform", "tsa:public-tsa"}, {kPlatformDn});
}
json Global() {
  return Stmt("shared-infrastructure", {"*"}, "strict",
              {"ca:shared-infra", "tsa:public-tsa"}, {kInfraDn});
}

std::string Doc(std::vector<json> statements) {
  json doc = {{"version", "1.0"}, {"trustPolicies", statements}};
  return doc.dump();
}

size_t Count(const std::vector<LintFinding>& findings, const std::string& rule,
             const std::string& statement = "*any*") {
  size_t n = 0;
  for (const LintFinding& f : findings) {
    if (f.rule == rule && (statement == "*any*" || f.statement == statement)) {
      ++n;
    }
  }
  return n;
}

std::string Rules(const std::vector<LintFinding>& findings) {
  std::string out;
  for (const LintFinding& f : findings) {
    out += f.rule + "@" + f.statement + " ";
  }
  return out;
}

class LintTest : public ::testing::Test {
 protected:
  std::filesystem::path NewConfig(const std::string& policy_json,
                                  OrgStores stores = OrgStores::kReferenced) {
    std::filesystem::path dir =
        dir_.path() / ("config" + std::to_string(configs_++));
    WriteConfig(dir, policy_json, stores);
    return dir;
  }

  LintReport LintConfig(const std::string& policy_json,
                        OrgStores stores = OrgStores::kReferenced,
                        std::optional<base::Time> at = std::nullopt) {
    LintSource source;
    source.config_dir = NewConfig(policy_json, stores);
    return LintFiles(source, at.value_or(Now()));
  }

  ScratchDir dir_;
  int configs_ = 0;
};

// ------------------------------------------------------------ clean org

TEST_F(LintTest, ProductionOrgIsClean) {
  LintReport r = LintConfig(DataFile("org/production.json"));
  EXPECT_TRUE(r.errors.empty()) << Rules(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << Rules(r.warnings);
  EXPECT_TRUE(r.stores_checked);
  EXPECT_EQ(r.ExitCode(), 0);
}

TEST_F(LintTest, BuildingBlocksAreClean) {
  LintReport r = LintConfig(Doc({Payments(), Platform(), Global()}));
  EXPECT_TRUE(r.warnings.empty()) << Rules(r.warnings);
  EXPECT_EQ(r.ExitCode(), 0);
}

TEST_F(LintTest, DevelopmentOrgHasTheExpectedWarnings) {
  LintReport r = LintConfig(DataFile("org/development.json"));
  EXPECT_TRUE(r.errors.empty()) << Rules(r.errors);
  EXPECT_EQ(Count(r.warnings, "revocation-relaxed", "payments"), 1u);
  EXPECT_EQ(Count(r.warnings, "wildcard-identity", "platform-base-images"), 1u);
  EXPECT_EQ(Count(r.warnings, "wildcard-identity", "shared-infrastructure"),
            1u);
  // Not strict, and 3 stores against at most 2 scoped.
  EXPECT_EQ(Count(r.warnings, "broad-global", "shared-infrastructure"), 2u);
  // ca:shared-infra is trusted by both scoped statements.
  EXPECT_EQ(Count(r.warnings, "shared-store", "payments"), 1u);
  EXPECT_EQ(Count(r.warnings, "shared-store", "platform-base-images"), 1u);
  EXPECT_EQ(Count(r.warnings, "no-tsa", "platform-base-images"), 1u);
  EXPECT_EQ(r.ExitCode(), 1);
}

// ---------------------------------------------------------- each rule

TEST_F(LintTest, SharedStoreAmongScopedStatements) {
  json payments = Payments();
  payments["trustStores"].push_back("ca:platform");
  LintReport r = LintConfig(Doc({payments, Platform(), Global()}));
  EXPECT_EQ(Count(r.warnings, "shared-store", "payments"), 1u);
  EXPECT_EQ(Count(r.warnings, "shared-store", "platform-base-images"), 1u);
  EXPECT_EQ(r.ExitCode(), 1);
}

TEST_F(LintTest, SharedStoreIgnoresGlobalAndTsa) {
  // tsa:public-tsa is in all three; ca:shared-infra in the global and one
  // scoped statement: the recommended pattern.
  json payments = Payments();
  payments["trustStores"].push_back("ca:shared-infra");
  LintReport r = LintConfig(Doc({payments, Platform(), Global()}));
  EXPECT_EQ(Count(r.warnings, "shared-store"), 0u) << Rules(r.warnings);
}

TEST_F(LintTest, WildcardIdentityAtStrictAndPermissiveOnly) {
  json strict = Payments();
  strict["trustedIdentities"] = {"*"};
  json permissive = Platform();
  permissive["trustedIdentities"] = {"*"};
  permissive["signatureVerification"]["level"] = "permissive";
  json audit = Stmt("ml", {"registry.example.com/ml/inference"}, "audit",
                    {"ca:shared-infra"}, {"*"});
  LintReport r = LintConfig(Doc({strict, permissive, audit, Global()}));
  EXPECT_EQ(Count(r.warnings, "wildcard-identity", "payments"), 1u);
  EXPECT_EQ(Count(r.warnings, "wildcard-identity", "platform-base-images"), 1u);
  EXPECT_EQ(Count(r.warnings, "wildcard-identity", "ml"), 0u);
}

TEST_F(LintTest, BroadGlobalNotStrict) {
  for (const char* level : {"permissive", "audit", "skip"}) {
    json global = Global();
    global["signatureVerification"]["level"] = level;
    if (std::string(level) == "skip") {
      global.erase("trustStores");
      global.erase("trustedIdentities");
    }
    LintReport r = LintConfig(Doc({Payments(), global}));
    EXPECT_EQ(Count(r.warnings, "broad-global", "shared-infrastructure"), 1u)
        << level;
  }
}

TEST_F(LintTest, BroadGlobalMoreStoresThanAnyScopedStatement) {
  json global = Global();
  global["trustStores"] = {"ca:shared-infra", "ca:payments", "tsa:public-tsa"};
  LintReport r = LintConfig(Doc({Payments(), Platform(), global}));
  EXPECT_EQ(Count(r.warnings, "broad-global", "shared-infrastructure"), 1u);
  // As many as the broadest scoped statement: fine.
  json payments = Payments();
  payments["trustStores"] = {"ca:payments", "ca:platform", "tsa:public-tsa"};
  LintReport equal = LintConfig(Doc({payments, global}));
  EXPECT_EQ(Count(equal.warnings, "broad-global"), 0u) << Rules(equal.warnings);
  // A global statement alone has nothing to be broader than.
  LintReport alone = LintConfig(Doc({global}));
  EXPECT_EQ(Count(alone.warnings, "broad-global"), 0u);
}

TEST_F(LintTest, RevocationRelaxedOnlyAtStrict) {
  for (const char* action : {"log", "skip"}) {
    json payments = Payments();
    payments["signatureVerification"]["override"] = {{"revocation", action}};
    LintReport r = LintConfig(Doc({payments, Global()}));
    EXPECT_EQ(Count(r.warnings, "revocation-relaxed", "payments"), 1u)
        << action;
  }
  json enforce = Payments();
  enforce["signatureVerification"]["override"] = {{"revocation", "enforce"}};
  EXPECT_EQ(Count(LintConfig(Doc({enforce})).warnings, "revocation-relaxed"),
            0u);
  json permissive = Payments();
  permissive["signatureVerification"] = {
      {"level", "permissive"}, {"override", {{"revocation", "skip"}}}};
  EXPECT_EQ(Count(LintConfig(Doc({permissive})).warnings, "revocation-relaxed"),
            0u);
}

TEST_F(LintTest, WeakLevelOnScopesOnly) {
  json permissive = Payments();
  permissive["signatureVerification"]["level"] = "permissive";
  json audit = Platform();
  audit["signatureVerification"]["level"] = "audit";
  json skip = Stmt("experiments", {"registry.example.com/experiments/x"},
                   "skip", json::array(), json::array());
  json global = Global();
  global["signatureVerification"]["level"] = "permissive";
  LintReport r = LintConfig(Doc({permissive, audit, skip, global}));
  EXPECT_EQ(Count(r.warnings, "weak-level", "payments"), 1u);
  EXPECT_EQ(Count(r.warnings, "weak-level", "platform-base-images"), 1u);
  EXPECT_EQ(Count(r.warnings, "weak-level", "experiments"), 0u);
  EXPECT_EQ(Count(r.warnings, "weak-level", "shared-infrastructure"), 0u);
  EXPECT_EQ(Count(r.warnings, "broad-global", "shared-infrastructure"), 1u);
}

TEST_F(LintTest, IntermediateAnchor) {
  TestCert root = MakeCert(RootSpec("Payments", "Payments Root"));
  TestCert intermediate =
      MakeCert(RootSpec("Payments", "Payments Issuing CA"), &root);
  std::filesystem::path dir =
      NewConfig(Doc({Payments(), Global()}), OrgStores::kReferenced);
  std::filesystem::remove_all(dir / "truststore/x509/ca/payments");
  WriteStore(dir / "truststore", StoreType::kCa, "payments", {&intermediate});
  LintReport r = LintFiles(LintSource{dir, {}, {}}, Now());
  EXPECT_TRUE(r.errors.empty()) << Rules(r.errors);
  EXPECT_EQ(Count(r.warnings, "intermediate-anchor", "payments"), 1u);
  // The root itself is fine.
  std::filesystem::remove_all(dir / "truststore/x509/ca/payments");
  WriteStore(dir / "truststore", StoreType::kCa, "payments", {&root});
  EXPECT_EQ(Count(LintFiles(LintSource{dir, {}, {}}, Now()).warnings,
                  "intermediate-anchor"),
            0u);
}

TEST_F(LintTest, AnchorExpiringAndExpired) {
  std::string policy = Doc({Payments(), Global()});
  // Every org root has the same lifetime; judge against payments'.
  std::filesystem::path dir = NewConfig(policy);
  auto certs =
      crypto::Certificate::FromFileBytes(base::AsBytes(Pki().payments.Pem()));
  ASSERT_TRUE(certs.ok());
  base::Time not_after = certs->front()->not_after();
  const auto day = std::chrono::hours(24);
  LintSource source{dir, {}, {}};

  LintReport far = LintFiles(source, not_after - 60 * day);
  EXPECT_EQ(Count(far.warnings, "anchor-expiring"), 0u);
  EXPECT_EQ(Count(far.warnings, "anchor-expired"), 0u);

  LintReport soon = LintFiles(source, not_after - 10 * day);
  // ca:payments, ca:shared-infra, tsa:public-tsa: three anchors expire
  // within the window (roots minted within the same second or so).
  EXPECT_EQ(Count(soon.warnings, "anchor-expiring"), 3u)
      << Rules(soon.warnings);
  // Store findings name the first statement using the store: payments
  // for ca:payments and tsa:public-tsa.
  EXPECT_EQ(Count(soon.warnings, "anchor-expiring", "payments"), 2u);
  EXPECT_EQ(Count(soon.warnings, "anchor-expiring", "shared-infrastructure"),
            1u);
  EXPECT_EQ(Count(soon.warnings, "anchor-expired"), 0u);

  LintReport past = LintFiles(source, not_after + day);
  EXPECT_EQ(Count(past.warnings, "anchor-expired"), 3u);
  EXPECT_EQ(Count(past.warnings, "anchor-expiring"), 0u);
  EXPECT_EQ(past.ExitCode(), 1);
}

TEST_F(LintTest, MissingAndEmptyStore) {
  json payments = Payments();
  payments["trustStores"] = {"ca:payments", "ca:payments-hsm",
                             "tsa:public-tsa"};
  json platform = Platform();
  platform["trustStores"] = {"ca:platform-new", "tsa:public-tsa"};
  std::filesystem::path dir = NewConfig(Doc({Payments(), Global()}));
  WriteFile(dir / "trustpolicy.oci.json", Doc({payments, platform, Global()}));
  WriteStore(dir / "truststore", StoreType::kCa, "platform-new", {});
  LintReport r = LintFiles(LintSource{dir, {}, {}}, Now());
  EXPECT_TRUE(r.errors.empty()) << Rules(r.errors);
  EXPECT_EQ(Count(r.warnings, "missing-store", "payments"), 1u);
  EXPECT_EQ(Count(r.warnings, "empty-store", "platform-base-images"), 1u);
  EXPECT_EQ(r.ExitCode(), 1);
}

TEST_F(LintTest, ConfigWithoutTrustStoreDirMissesEveryStore) {
  LintReport r = LintConfig(Doc({Payments()}), OrgStores::kNone);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(Count(r.warnings, "missing-store"), 2u);
}

TEST_F(LintTest, UnusedStore) {
  LintReport r = LintConfig(Doc({Payments(), Global()}), OrgStores::kAll);
  // payments-previous, platform, platform-staging, aws-signer.
  EXPECT_EQ(Count(r.warnings, "unused-store"), 4u) << Rules(r.warnings);
  EXPECT_EQ(Count(r.warnings, "unused-store", ""), 4u);
}

TEST_F(LintTest, NoTsaForStrictX509Only) {
  json payments = Payments();
  payments["trustStores"] = {"ca:payments"};
  json ml = Stmt("ml-aws-signer", {"registry.example.com/ml/inference"},
                 "strict", {"signingAuthority:aws-signer"},
                 {"arn:aws:signer:us-west-2:123456789012:/signing-profiles/"
                  "ml_inference"});
  json platform = Platform();
  platform["trustStores"] = {"ca:platform"};
  platform["signatureVerification"]["level"] = "permissive";
  LintReport r = LintConfig(Doc({payments, ml, platform, Global()}));
  EXPECT_EQ(Count(r.warnings, "no-tsa", "payments"), 1u);
  EXPECT_EQ(Count(r.warnings, "no-tsa", "ml-aws-signer"), 0u);
  EXPECT_EQ(Count(r.warnings, "no-tsa", "platform-base-images"), 0u);
}

TEST_F(LintTest, EmergencyWithoutExpiryOrApprover) {
  LintReport bad = LintConfig(DataFile("org/emergency_no_expiry.json"));
  EXPECT_TRUE(bad.errors.empty()) << Rules(bad.errors);
  EXPECT_EQ(Count(bad.warnings, "emergency-no-expiry"), 1u);
  // The "trustgate" key itself is expected there: no ignored-content.
  EXPECT_EQ(Count(bad.warnings, "ignored-content"), 0u) << Rules(bad.warnings);

  LintReport good = LintConfig(DataFile("org/emergency_approved.json"));
  EXPECT_TRUE(good.warnings.empty()) << Rules(good.warnings);
  EXPECT_EQ(good.ExitCode(), 0);
  // Against the whole production trust store: the stores only the base
  // policy uses are not "unused".
  LintReport full =
      LintConfig(DataFile("org/emergency_approved.json"), OrgStores::kAll);
  EXPECT_TRUE(full.warnings.empty()) << Rules(full.warnings);

  // Only one of the two.
  json doc = json::parse(DataFile("org/emergency_approved.json"));
  doc["trustgate"]["emergency"].erase("approvedBy");
  EXPECT_EQ(Count(LintConfig(doc.dump()).warnings, "emergency-no-expiry"), 1u);
  doc = json::parse(DataFile("org/emergency_approved.json"));
  doc["trustgate"]["emergency"].erase("expires");
  LintReport no_expiry = LintConfig(doc.dump());
  EXPECT_EQ(Count(no_expiry.warnings, "emergency-no-expiry"), 1u);
  EXPECT_TRUE(no_expiry.errors.empty()) << Rules(no_expiry.errors);
}

TEST_F(LintTest, EmergencyMalformedIsAnError) {
  json doc = json::parse(DataFile("org/emergency_approved.json"));
  doc["trustgate"]["emergency"]["expires"] = "tomorrow";
  LintReport r = LintConfig(doc.dump());
  EXPECT_EQ(Count(r.errors, "emergency-malformed"), 1u) << Rules(r.errors);
  EXPECT_EQ(r.ExitCode(), 2);
  doc["trustgate"] = "yes";
  EXPECT_EQ(Count(LintConfig(doc.dump()).errors, "emergency-malformed"), 1u);
  // What verify --emergency-policy refuses, lint refuses: an unknown key,
  // a null value, no reason, a miscased "trustgate".
  json approved = json::parse(DataFile("org/emergency_approved.json"));
  doc = approved;
  doc["trustgate"]["emergency"]["ticket"] = "INC-4711";
  EXPECT_EQ(Count(LintConfig(doc.dump()).errors, "emergency-malformed"), 1u);
  doc = approved;
  doc["trustgate"]["emergency"]["approvedBy"] = nullptr;
  EXPECT_EQ(Count(LintConfig(doc.dump()).errors, "emergency-malformed"), 1u);
  doc = approved;
  doc["trustgate"]["emergency"].erase("reason");
  LintReport no_reason = LintConfig(doc.dump());
  EXPECT_EQ(Count(no_reason.errors, "emergency-malformed"), 1u)
      << Rules(no_reason.errors);
  EXPECT_EQ(no_reason.ExitCode(), 2);
  doc = approved;
  doc["TrustGate"] = doc["trustgate"];
  doc.erase("trustgate");
  EXPECT_EQ(Count(LintConfig(doc.dump()).errors, "emergency-malformed"), 1u);
}

TEST_F(LintTest, TrailingContentIsNotAnEmergencyProblem) {
  // notation ignores content after the policy's JSON value (a warning);
  // only an emergency file must not have any.
  LintReport plain = LintConfig(Doc({Payments()}) + " trailing");
  EXPECT_TRUE(plain.errors.empty()) << Rules(plain.errors);
  EXPECT_EQ(Count(plain.warnings, "ignored-content"), 1u);
  LintReport emergency =
      LintConfig(DataFile("org/emergency_approved.json") + " trailing");
  EXPECT_EQ(Count(emergency.errors, "emergency-malformed"), 1u)
      << Rules(emergency.errors);
}

TEST_F(LintTest, IgnoredContent) {
  json payments = Payments();
  payments["trustedIdentites"] = {kPaymentsDn};  // typo'd extra key
  LintReport r = LintConfig(Doc({payments}));
  EXPECT_EQ(Count(r.warnings, "ignored-content"), 1u);
  // A sub-directory inside a store.
  std::filesystem::path dir = NewConfig(Doc({Payments()}));
  std::filesystem::create_directories(dir / "truststore/x509/ca/payments/old");
  EXPECT_EQ(Count(LintFiles(LintSource{dir, {}, {}}, Now()).warnings,
                  "ignored-content"),
            1u);
}

// ------------------------------------------------------------- errors

TEST_F(LintTest, CollectsSeveralSpecErrors) {
  LintReport r =
      LintConfig(DataFile("bad/multiple_errors.json"), OrgStores::kNone);
  EXPECT_EQ(Count(r.errors, "integrity-override", "payments"), 1u);
  EXPECT_EQ(
      Count(r.errors, "identity-missing-attribute", "platform-base-images"),
      1u);
  EXPECT_EQ(Count(r.errors, "duplicate-name", "payments"), 1u);
  EXPECT_EQ(Count(r.errors, "scope-overlap", "payments"), 1u);
  EXPECT_EQ(Count(r.errors, "global-scope-duplicate", "global-b"), 1u);
  EXPECT_EQ(r.errors.size(), 5u) << Rules(r.errors);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.ExitCode(), 2);
}

TEST(CollectPolicyErrorsTest, NothingForAValidPolicy) {
  EXPECT_TRUE(CollectPolicyErrors(base::AsBytes(Doc({Payments()}))).empty());
}

TEST(CollectPolicyErrorsTest, AlwaysIncludesTheParserError) {
  json unnamed = Payments();
  unnamed.erase("name");
  json bad_scope = Platform();
  bad_scope["registryScopes"] = {"https://registry.example.com/x"};
  json typed = Platform();
  typed["registryScopes"] = "registry.example.com/x";
  const std::vector<std::string> docs = {
      "{",
      "[]",
      "{\"version\":\"2.0\",\"trustPolicies\":[]}",
      R"({"trustPolicies":[]})",
      Doc({}),
      Doc({Payments(), unnamed}),
      Doc({Payments(), bad_scope, unnamed}),
      Doc({typed, bad_scope}),
      R"({"version":"1.0","version":"1.0","trustPolicies":[]})",
  };
  for (const std::string& doc : docs) {
    auto parsed = ParseTrustPolicy(base::AsBytes(doc));
    ASSERT_FALSE(parsed.ok()) << doc;
    std::vector<LintFinding> errors = CollectPolicyErrors(base::AsBytes(doc));
    ASSERT_FALSE(errors.empty()) << doc;
    std::string detail = parsed.detail();
    bool found = false;
    for (const LintFinding& f : errors) {
      found = found || detail.find(f.rule + ": ") != std::string::npos;
    }
    EXPECT_TRUE(found) << doc << " -> " << detail << " / " << Rules(errors);
  }
}

TEST(CollectPolicyErrorsTest, AgreesWithTheParserOnMutatedDocuments) {
  // Every prefix and many single-byte changes of a real policy: errors
  // exactly when ParseTrustPolicy refuses it, and never a crash.
  const std::string base = DataFile("org/emergency_approved.json");
  std::vector<std::string> docs;
  for (size_t i = 0; i < base.size(); ++i) {
    docs.push_back(base.substr(0, i));
  }
  const char replacements[] = {'"',  '{', '}', '[', ']', ',',  ':',
                               '\\', 'x', '0', ' ', '*', '\0', '\xff'};
  uint32_t state = 12345;
  for (int n = 0; n < 3000; ++n) {
    state = state * 1103515245u + 12345u;
    std::string doc = base;
    doc[(state >> 8) % doc.size()] =
        replacements[(state >> 20) % sizeof(replacements)];
    docs.push_back(std::move(doc));
  }
  for (const std::string& doc : docs) {
    auto bytes = base::AsBytes(doc);
    bool valid = ParseTrustPolicy(bytes).ok();
    std::vector<LintFinding> errors = CollectPolicyErrors(bytes);
    ASSERT_EQ(errors.empty(), valid) << doc;
  }
}

TEST(CollectPolicyErrorsTest, NamesUnnamedStatementsByPosition) {
  json unnamed = Payments();
  unnamed.erase("name");
  json typed = Platform();
  typed["registryScopes"] = "registry.example.com/x";
  std::vector<LintFinding> errors =
      CollectPolicyErrors(base::AsBytes(Doc({Global(), unnamed, typed})));
  EXPECT_EQ(Count(errors, "name-missing", "#2"), 1u) << Rules(errors);
  ASSERT_EQ(Count(errors, "json-type"), 1u) << Rules(errors);
  for (const LintFinding& f : errors) {
    if (f.rule == "json-type") {
      EXPECT_NE(f.message.find("trustPolicies[2]"), std::string::npos)
          << f.message;
    }
  }
  // Also the version, even when statements are broken too.
  json doc = json::parse(Doc({unnamed}));
  doc["version"] = "2.0";
  errors = CollectPolicyErrors(base::AsBytes(doc.dump()));
  EXPECT_EQ(Count(errors, "version-unsupported"), 1u) << Rules(errors);
  EXPECT_EQ(Count(errors, "name-missing"), 1u) << Rules(errors);
}

TEST(CollectPolicyErrorsTest, BoundsTheNumberOfErrors) {
  std::vector<json> many;
  for (int i = 0; i < 50; ++i) {
    json st = Payments();
    st["name"] = "s" + std::to_string(i);
    st["registryScopes"] = {"registry.example.com/r" + std::to_string(i)};
    st["signatureVerification"]["level"] = "bogus";
    many.push_back(st);
  }
  std::vector<LintFinding> errors =
      CollectPolicyErrors(base::AsBytes(Doc(many)), 10);
  EXPECT_EQ(errors.size(), 11u);
  EXPECT_EQ(errors.back().rule, "too-many-errors");
}

TEST(CollectPolicyErrorsTest, ManyStatementsStayCheap) {
  // 10000 statements all listing the same scope: the overlap check and the
  // error list must not go quadratic.
  std::vector<json> many;
  for (int i = 0; i < 10000; ++i) {
    json st = Payments();
    st["name"] = "s" + std::to_string(i);
    many.push_back(st);
  }
  std::string doc = Doc(many);
  ASSERT_LT(doc.size(), 4u * 1024 * 1024);
  std::vector<LintFinding> errors = CollectPolicyErrors(base::AsBytes(doc));
  ASSERT_EQ(errors.size(), 201u);
  EXPECT_EQ(errors.front().rule, "scope-overlap");
  EXPECT_EQ(errors.back().rule, "too-many-errors");
}

TEST_F(LintTest, PolicyFileProblemsAreErrors) {
  std::filesystem::path dir = NewConfig(Doc({Payments()}));
  // Missing.
  LintReport missing = LintFiles(LintSource{{}, dir / "nope.json", {}}, Now());
  EXPECT_EQ(Count(missing.errors, "policy-not-found"), 1u);
  // A directory where a file is expected.
  LintReport directory = LintFiles(LintSource{{}, dir, {}}, Now());
  EXPECT_EQ(Count(directory.errors, "policy-unreadable"), 1u);
  EXPECT_EQ(directory.ExitCode(), 2);
  // A symlinked policy, also in a config dir.
  std::filesystem::path other = dir_.path() / "linked";
  std::filesystem::create_directories(other);
  std::filesystem::create_symlink(dir / "trustpolicy.oci.json",
                                  other / "trustpolicy.oci.json");
  EXPECT_EQ(Count(LintFiles(LintSource{other, {}, {}}, Now()).errors,
                  "policy-symlink"),
            1u);
  EXPECT_EQ(
      Count(LintFiles(LintSource{{}, other / "trustpolicy.oci.json", {}}, Now())
                .errors,
            "policy-symlink"),
      1u);
  // No config at all, and a config dir without a policy.
  EXPECT_EQ(Count(LintFiles(LintSource{}, Now()).errors, "policy-not-found"),
            1u);
  std::filesystem::create_directories(dir_.path() / "empty");
  EXPECT_EQ(
      Count(LintFiles(LintSource{dir_.path() / "empty", {}, {}}, Now()).errors,
            "policy-not-found"),
      1u);
}

TEST_F(LintTest, LegacyPolicyNameInConfigDir) {
  std::filesystem::path dir = dir_.path() / "legacy";
  WriteFile(dir / "trustpolicy.json", Doc({Payments()}));
  LintReport r = LintFiles(LintSource{dir, {}, {}}, Now());
  EXPECT_TRUE(r.errors.empty()) << Rules(r.errors);
  EXPECT_NE(r.policy_source.find("trustpolicy.json"), std::string::npos);
}

TEST_F(LintTest, StoreProblemsAreErrors) {
  std::filesystem::path dir = NewConfig(Doc({Payments(), Global()}));
  // A symlinked store.
  std::filesystem::path real = dir_.path() / "elsewhere";
  std::filesystem::rename(dir / "truststore/x509/ca/payments", real);
  std::filesystem::create_directory_symlink(
      real, dir / "truststore/x509/ca/payments");
  LintReport linked = LintFiles(LintSource{dir, {}, {}}, Now());
  EXPECT_EQ(Count(linked.errors, "store-symlink", "payments"), 1u)
      << Rules(linked.errors);
  EXPECT_EQ(linked.ExitCode(), 2);
  // A file that is not a certificate.
  std::filesystem::remove(dir / "truststore/x509/ca/payments");
  WriteFile(dir / "truststore/x509/ca/payments/root.pem", "not a cert");
  EXPECT_EQ(Count(LintFiles(LintSource{dir, {}, {}}, Now()).errors,
                  "store-bad-certificate"),
            1u);
}

TEST_F(LintTest, UnreadableCertificateIsAnError) {
  std::filesystem::path dir = NewConfig(Doc({Payments(), Global()}));
  // A FIFO where a certificate file should be (unreadable whoever runs the
  // test, root included).
  std::filesystem::path fifo = dir / "truststore/x509/ca/payments/feed.pem";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  LintReport r = LintFiles(LintSource{dir, {}, {}}, Now());
  EXPECT_EQ(Count(r.errors, "store-unreadable", "payments"), 1u)
      << Rules(r.errors);
  EXPECT_EQ(r.ExitCode(), 2);
}

TEST_F(LintTest, TrustStoreDirProblems) {
  std::filesystem::path dir = NewConfig(Doc({Payments()}));
  LintSource missing{{}, dir / "trustpolicy.oci.json", dir / "nope"};
  EXPECT_EQ(Count(LintFiles(missing, Now()).errors, "trust-store-not-found"),
            1u);
  LintSource file{
      {}, dir / "trustpolicy.oci.json", dir / "trustpolicy.oci.json"};
  EXPECT_EQ(Count(LintFiles(file, Now()).errors, "trust-store-not-directory"),
            1u);
  // Explicit policy + store.
  LintSource both{{}, dir / "trustpolicy.oci.json", dir / "truststore"};
  LintReport r = LintFiles(both, Now());
  EXPECT_TRUE(r.errors.empty()) << Rules(r.errors);
  EXPECT_TRUE(r.stores_checked);
}

TEST_F(LintTest, PolicyOnlyLintSkipsStoreRules) {
  json payments = Payments();
  payments["trustStores"] = {"ca:does-not-exist", "tsa:public-tsa"};
  std::filesystem::path dir = NewConfig(Doc({Global()}));
  WriteFile(dir / "policy.json", Doc({payments}));
  LintReport r = LintFiles(LintSource{{}, dir / "policy.json", {}}, Now());
  EXPECT_FALSE(r.stores_checked);
  EXPECT_TRUE(r.warnings.empty()) << Rules(r.warnings);
  EXPECT_EQ(r.ExitCode(), 0);
}

// -------------------------------------------------------- pure pieces

TEST(LintPolicyTest, PureWithoutStore) {
  auto policy =
      ParseTrustPolicy(base::AsBytes(DataFile("org/development.json")));
  ASSERT_TRUE(policy.ok()) << policy.detail();
  LintInput input;
  input.policy = &*policy;
  input.at = Now();
  LintReport r = LintPolicy(input);
  EXPECT_FALSE(r.stores_checked);
  EXPECT_EQ(Count(r.warnings, "missing-store"), 0u);
  EXPECT_EQ(Count(r.warnings, "revocation-relaxed", "payments"), 1u);
  for (const LintFinding& f : r.warnings) {
    EXPECT_FALSE(f.fix.empty()) << f.rule;
    EXPECT_NE(f.message.find(f.fix), std::string::npos) << f.rule;
  }
}

TEST(ListStoreDirectoriesTest, ListsStoresOfEveryType) {
  ScratchDir dir;
  WriteStore(dir.path(), StoreType::kCa, "b", {});
  WriteStore(dir.path(), StoreType::kCa, "a", {});
  WriteStore(dir.path(), StoreType::kTsa, "t", {});
  WriteFile(dir.path() / "x509/ca/stray.pem", "x");
  std::vector<StoreRef> refs = ListStoreDirectories(dir.path());
  ASSERT_EQ(refs.size(), 3u);
  EXPECT_EQ(refs[0], (StoreRef{StoreType::kCa, "a"}));
  EXPECT_EQ(refs[1], (StoreRef{StoreType::kCa, "b"}));
  EXPECT_EQ(refs[2], (StoreRef{StoreType::kTsa, "t"}));
  EXPECT_TRUE(ListStoreDirectories(dir.path() / "nope").empty());
}

}  // namespace
}  // namespace trustgate::policy
