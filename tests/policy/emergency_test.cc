#include "policy/emergency.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "base/bytes.h"
#include "base/time.h"
#include "policy/trust_policy.h"

namespace trustgate::policy {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::minutes;

constexpr char kPayments[] = "registry.example.com/payments/api";
constexpr char kLedger[] = "registry.example.com/payments/ledger";
constexpr char kWeb[] = "registry.example.com/payments/web";
constexpr char kBaseImage[] = "registry.example.com/platform/base";
constexpr char kOther[] = "registry.example.com/misc/tool";

base::Time T(const char* rfc3339) {
  auto t = base::ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return t.value_or(base::Time{});
}

// The base policy: payments (three repositories), platform, and a global
// statement over a shared-infrastructure store.
constexpr char kBasePolicy[] = R"({
  "version": "1.0",
  "trustPolicies": [
    {
      "name": "payments",
      "registryScopes": ["registry.example.com/payments/api",
                         "registry.example.com/payments/ledger",
                         "registry.example.com/payments/web"],
      "signatureVerification": {"level": "strict"},
      "trustStores": ["ca:payments", "tsa:public-tsa"],
      "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Example Corp, OU=Payments"]
    },
    {
      "name": "platform",
      "registryScopes": ["registry.example.com/platform/base"],
      "signatureVerification": {"level": "strict"},
      "trustStores": ["ca:platform"],
      "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Example Corp, OU=Platform"]
    },
    {
      "name": "global",
      "registryScopes": ["*"],
      "signatureVerification": {"level": "strict"},
      "trustStores": ["ca:shared-infra"],
      "trustedIdentities": ["*"]
    }
  ]
})";

TrustPolicy BasePolicy() {
  auto p = ParseTrustPolicy(base::AsBytes(kBasePolicy));
  EXPECT_TRUE(p.ok()) << p.detail();
  return std::move(p).value();
}

// EmergencyDoc builds an emergency document: `trustgate` is the value of
// the "trustgate" member (omitted when empty), `statements` the
// trustPolicies array.
std::string EmergencyDoc(const std::string& trustgate,
                         const std::string& statements) {
  std::string doc = "{\"version\": \"1.0\",";
  if (!trustgate.empty()) {
    doc += "\"trustgate\": " + trustgate + ",";
  }
  doc += "\"trustPolicies\": " + statements + "}";
  return doc;
}

std::string Metadata(const std::string& expires = "2026-03-01T18:00:00Z",
                     const std::string& extra = "") {
  return R"({"emergency": {"expires": ")" + expires +
         R"(", "approvedBy": "security-oncall@example.com", "reason": "INC-4711: payments CA rotated early")" +
         extra + "}}";
}

// A payments emergency: api only, trusting the previous CA too.
const std::string kApiStatement = R"([{
  "name": "payments-emergency",
  "registryScopes": ["registry.example.com/payments/api"],
  "signatureVerification": {"level": "strict"},
  "trustStores": ["ca:payments", "ca:payments-previous"],
  "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Example Corp, OU=Payments"]
}])";

base::Result<EmergencyPolicy, EmergencyError> Parse(const std::string& doc) {
  return ParseEmergencyPolicy(base::AsBytes(doc));
}

EmergencyPolicy MustParse(const std::string& doc) {
  auto e = Parse(doc);
  EXPECT_TRUE(e.ok()) << e.detail();
  return std::move(e).value();
}

// ------------------------------------------------------------------ parse

TEST(ParseEmergencyPolicy, ReadsStatementsAndMetadata) {
  EmergencyPolicy e = MustParse(EmergencyDoc(Metadata(), kApiStatement));
  ASSERT_EQ(e.policy.statements.size(), 1u);
  EXPECT_EQ(e.policy.statements[0].name, "payments-emergency");
  ASSERT_EQ(e.policy.statements[0].trust_stores.size(), 2u);
  EXPECT_EQ(e.policy.statements[0].trust_stores[1].name, "payments-previous");
  ASSERT_TRUE(e.metadata.expires.has_value());
  EXPECT_EQ(*e.metadata.expires, T("2026-03-01T18:00:00Z"));
  EXPECT_EQ(e.metadata.approved_by, "security-oncall@example.com");
  EXPECT_EQ(e.metadata.reason, "INC-4711: payments CA rotated early");
  EXPECT_FALSE(e.metadata.approved_at.has_value());
  // The "trustgate" member is expected here: no "unknown key" warning.
  for (const std::string& w : e.policy.warnings) {
    EXPECT_EQ(w.find("trustgate"), std::string::npos) << w;
  }
}

TEST(ParseEmergencyPolicy, ReadsApprovedAt) {
  EmergencyPolicy e = MustParse(
      EmergencyDoc(Metadata("2026-03-01T18:00:00Z",
                            R"(, "approvedAt": "2026-03-01T09:30:00+01:00")"),
                   kApiStatement));
  ASSERT_TRUE(e.metadata.approved_at.has_value());
  EXPECT_EQ(*e.metadata.approved_at, T("2026-03-01T08:30:00Z"));
}

TEST(ParseEmergencyPolicy, KeepsOtherWarnings) {
  std::string statements = kApiStatement;
  statements.insert(statements.find("\"name\""), "\"nmae\": \"typo\", ");
  EmergencyPolicy e = MustParse(EmergencyDoc(Metadata(), statements));
  ASSERT_EQ(e.policy.warnings.size(), 1u);
  EXPECT_NE(e.policy.warnings[0].find("nmae"), std::string::npos);
}

TEST(ParseEmergencyPolicy, InvalidStatementsAreRefusedAsTrustPolicies) {
  struct Case {
    const char* name;
    std::string statements;
    EmergencyError code;
  };
  const Case cases[] = {
      {"integrity override",
       R"([{"name": "e", "registryScopes": ["registry.example.com/a/b"],
            "signatureVerification": {"level": "strict",
                                      "override": {"integrity": "log"}},
            "trustStores": ["ca:x"], "trustedIdentities": ["*"]}])",
       EmergencyError::kInvalidPolicy},
      {"no trust stores",
       R"([{"name": "e", "registryScopes": ["registry.example.com/a/b"],
            "signatureVerification": {"level": "strict"},
            "trustedIdentities": ["*"]}])",
       EmergencyError::kInvalidPolicy},
      {"scope listed twice",
       R"([{"name": "e", "registryScopes": ["registry.example.com/a/b"],
            "signatureVerification": {"level": "skip"}},
           {"name": "f", "registryScopes": ["registry.example.com/a/b"],
            "signatureVerification": {"level": "skip"}}])",
       EmergencyError::kInvalidPolicy},
      {"bad DN",
       R"([{"name": "e", "registryScopes": ["registry.example.com/a/b"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:x"],
            "trustedIdentities": ["x509.subject: C=US, O=missing-state"]}])",
       EmergencyError::kInvalidPolicy},
      {"no statements", "[]", EmergencyError::kInvalidPolicy},
      {"statements not an array", "{}", EmergencyError::kMalformedJson},
  };
  for (const Case& c : cases) {
    auto e = Parse(EmergencyDoc(Metadata(), c.statements));
    ASSERT_FALSE(e.ok()) << c.name;
    EXPECT_EQ(e.code(), c.code) << c.name << ": " << e.detail();
  }
}

TEST(ParseEmergencyPolicy, RefusesMalformedJson) {
  EXPECT_EQ(Parse("{\"version\": \"1.0\",").code(),
            EmergencyError::kMalformedJson);
  EXPECT_EQ(Parse("").code(), EmergencyError::kMalformedJson);
  // Notation ignores content after the first value; an emergency file
  // must not carry any.
  std::string trailing = EmergencyDoc(Metadata(), kApiStatement) + " {}";
  EXPECT_TRUE(ParseTrustPolicy(base::AsBytes(trailing)).ok());
  EXPECT_EQ(Parse(trailing).code(), EmergencyError::kMalformedJson);
}

TEST(ParseEmergencyPolicy, RefusesTooLarge) {
  std::string doc = EmergencyDoc(Metadata(), kApiStatement);
  doc.append(5 * 1024 * 1024, ' ');
  EXPECT_EQ(Parse(doc).code(), EmergencyError::kTooLarge);
}

TEST(ParseEmergencyPolicy, RefusesDocumentsWithoutEmergency) {
  EXPECT_EQ(Parse(EmergencyDoc("", kApiStatement)).code(),
            EmergencyError::kNotEmergency);
  EXPECT_EQ(Parse(EmergencyDoc("{}", kApiStatement)).code(),
            EmergencyError::kNotEmergency);
}

TEST(ParseEmergencyPolicy, RefusesIncompleteMetadata) {
  const std::string incomplete[] = {
      R"({"emergency": {"approvedBy": "a", "reason": "r"}})",
      R"({"emergency": {"expires": "2026-03-01T18:00:00Z", "reason": "r"}})",
      R"({"emergency": {"expires": "2026-03-01T18:00:00Z", "approvedBy": "a"}})",
      R"({"emergency": {"expires": "", "approvedBy": "a", "reason": "r"}})",
      R"({"emergency": {"expires": "2026-03-01T18:00:00Z", "approvedBy": "",
                        "reason": "r"}})",
      R"({"emergency": {"expires": "2026-03-01T18:00:00Z", "approvedBy": "a",
                        "reason": "r", "approvedAt": "2026-03-01T18:00:00Z"}})",
      R"({"emergency": {}})",
  };
  for (const std::string& md : incomplete) {
    auto e = Parse(EmergencyDoc(md, kApiStatement));
    ASSERT_FALSE(e.ok()) << md;
    EXPECT_EQ(e.code(), EmergencyError::kBadMetadata) << md;
  }
}

TEST(ParseEmergencyPolicy, RefusesMalformedMetadata) {
  const std::string malformed[] = {
      // not objects
      R"("yes")",
      R"({"emergency": true})",
      R"({"emergency": null})",
      // wrong types, null values
      R"({"emergency": {"expires": 1767290400, "approvedBy": "a",
                        "reason": "r"}})",
      R"({"emergency": {"expires": "2026-03-01T18:00:00Z",
                        "approvedBy": ["a"], "reason": "r"}})",
      R"({"emergency": {"expires": "2026-03-01T18:00:00Z", "approvedBy": null,
                        "reason": "r"}})",
      // bad times
      R"({"emergency": {"expires": "tomorrow", "approvedBy": "a",
                        "reason": "r"}})",
      R"({"emergency": {"expires": "2026-03-01 18:00:00", "approvedBy": "a",
                        "reason": "r"}})",
      R"({"emergency": {"expires": "2026-03-01T18:00:00Z", "approvedBy": "a",
                        "reason": "r", "approvedAt": "noon"}})",
      // duplicate and unknown keys
      R"({"emergency": {"expires": "2026-03-01T18:00:00Z",
                        "expires": "2027-03-01T18:00:00Z", "approvedBy": "a",
                        "reason": "r"}})",
      R"({"emergency": {"expires": "2026-03-01T18:00:00Z", "approvedBy": "a",
                        "reason": "r", "expiry": "2027-03-01T18:00:00Z"}})",
      R"({"emergency": {"Expires": "2026-03-01T18:00:00Z", "approvedBy": "a",
                        "reason": "r"}})",
      R"({"emergency": {"expires": "2026-03-01T18:00:00Z", "approvedBy": "a",
                        "reason": "r"}, "emergency": {}})",
      R"({"emergency": {"expires": "2026-03-01T18:00:00Z", "approvedBy": "a",
                        "reason": "r"}, "ttl": "1h"})",
      // not one line of text
      R"({"emergency": {"expires": "2026-03-01T18:00:00Z", "approvedBy": "a",
                        "reason": "line one\nline two"}})",
      R"({"emergency": {"expires": "2026-03-01T18:00:00Z",
                        "approvedBy": "a\u001b[2J", "reason": "r"}})",
  };
  for (const std::string& md : malformed) {
    auto e = Parse(EmergencyDoc(md, kApiStatement));
    ASSERT_FALSE(e.ok()) << md;
    EXPECT_EQ(e.code(), EmergencyError::kMalformedJson) << md << e.detail();
  }
  std::string long_reason(5000, 'x');
  auto e = Parse(EmergencyDoc(
      R"({"emergency": {"expires": "2026-03-01T18:00:00Z", "approvedBy": "a",
                        "reason": ")" +
          long_reason + "\"}}",
      kApiStatement));
  EXPECT_EQ(e.code(), EmergencyError::kMalformedJson);
}

TEST(ParseEmergencyPolicy, RefusesMisspelledOrRepeatedTrustgateKey) {
  std::string doc = "{\"version\": \"1.0\", \"TrustGate\": " + Metadata() +
                    ", \"trustPolicies\": " + kApiStatement + "}";
  // notation (and ParseTrustPolicy) ignore the key; we refuse it.
  EXPECT_TRUE(ParseTrustPolicy(base::AsBytes(doc)).ok());
  EXPECT_EQ(Parse(doc).code(), EmergencyError::kMalformedJson);
  std::string twice = "{\"version\": \"1.0\", \"trustgate\": " + Metadata() +
                      ", \"trustgate\": " + Metadata() +
                      ", \"trustPolicies\": " + kApiStatement + "}";
  auto e = Parse(twice);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.code(), EmergencyError::kMalformedJson);
}

// ------------------------------------------------------------ metadata

TEST(ReadEmergencyMetadata, AbsentIsNotAnError) {
  auto m = ReadEmergencyMetadata(base::AsBytes(kBasePolicy));
  ASSERT_TRUE(m.ok()) << m.detail();
  EXPECT_FALSE(m->has_value());
}

TEST(ReadEmergencyMetadata, IncompleteIsReadForLint) {
  auto m = ReadEmergencyMetadata(base::AsBytes(
      EmergencyDoc(R"({"emergency": {"reason": "let the release through"}})",
                   kApiStatement)));
  ASSERT_TRUE(m.ok()) << m.detail();
  ASSERT_TRUE(m->has_value());
  EXPECT_FALSE((*m)->expires.has_value());
  EXPECT_EQ((*m)->reason, "let the release through");
}

TEST(ValidateEmergencyMetadata, ListsEveryProblem) {
  EmergencyMetadata empty;
  std::set<EmergencyProblem> got;
  for (const EmergencyFinding& f : ValidateEmergencyMetadata(empty)) {
    got.insert(f.problem);
    EXPECT_FALSE(f.message.empty());
  }
  EXPECT_EQ(got, (std::set<EmergencyProblem>{EmergencyProblem::kNoExpiry,
                                             EmergencyProblem::kNoApprover,
                                             EmergencyProblem::kNoReason}));

  EmergencyMetadata complete;
  complete.expires = T("2026-03-01T18:00:00Z");
  complete.approved_by = "oncall";
  complete.reason = "INC-1";
  EXPECT_TRUE(ValidateEmergencyMetadata(complete).empty());
  complete.approved_at = T("2026-03-01T17:00:00Z");
  EXPECT_TRUE(ValidateEmergencyMetadata(complete).empty());
  complete.approved_at = T("2026-03-01T19:00:00Z");
  auto findings = ValidateEmergencyMetadata(complete);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].problem, EmergencyProblem::kApprovedAfterExpiry);
}

TEST(EmergencyNames, AreStable) {
  EXPECT_EQ(ToString(EmergencyError::kExpired), "expired");
  EXPECT_EQ(ToString(EmergencyError::kLifetimeTooLong), "lifetime-too-long");
  EXPECT_EQ(ToString(EmergencyError::kNameCollision), "name-collision");
  EXPECT_EQ(ToString(EmergencyProblem::kNoExpiry), "no-expiry");
  EXPECT_EQ(static_cast<int>(EmergencyError::kExpired), 9);
  EXPECT_EQ(static_cast<int>(EmergencyError::kNameCollision), 12);
}

TEST(ParseEmergencyTtl, AcceptsDurationsAndRefusesTheRest) {
  EXPECT_EQ(ParseEmergencyTtl("24h"), std::chrono::microseconds(hours(24)));
  EXPECT_EQ(ParseEmergencyTtl("90m"), std::chrono::microseconds(minutes(90)));
  EXPECT_EQ(ParseEmergencyTtl("1h30m"), std::chrono::microseconds(minutes(90)));
  EXPECT_EQ(ParseEmergencyTtl("2d"), std::chrono::microseconds(hours(48)));
  EXPECT_EQ(ParseEmergencyTtl("45s"),
            std::chrono::microseconds(std::chrono::seconds(45)));
  for (const char* bad : {"", "24", "h", "0h", "-1h", "1.5h", "24H", "1w",
                          "367d", "99999999999h", "1h ", " 1h"}) {
    EXPECT_FALSE(ParseEmergencyTtl(bad).has_value()) << bad;
  }
}

// ----------------------------------------------------------------- apply

// Expires 2026-03-01T18:00:00Z; verified 6 hours before.
constexpr char kExpires[] = "2026-03-01T18:00:00Z";
constexpr char kSixHoursBefore[] = "2026-03-01T12:00:00Z";

TEST(ApplyEmergency, EmergencyScopeWinsOthersUntouched) {
  TrustPolicy base = BasePolicy();
  EmergencyPolicy e = MustParse(EmergencyDoc(Metadata(), kApiStatement));
  auto applied = ApplyEmergency(base, e, T(kSixHoursBefore), hours(24));
  ASSERT_TRUE(applied.ok()) << applied.detail();
  const TrustPolicy& merged = applied->policy;

  const Statement* api = merged.Select(kPayments);
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->name, "payments-emergency");
  const EmergencyMark* mark = applied->MarkFor(api->name);
  ASSERT_NE(mark, nullptr);
  EXPECT_EQ(mark->approved_by, "security-oncall@example.com");
  EXPECT_EQ(mark->reason, "INC-4711: payments CA rotated early");
  EXPECT_EQ(mark->expires, T(kExpires));

  // The rest of the payments statement still governs ledger and web.
  for (const char* repo : {kLedger, kWeb}) {
    const Statement* st = merged.Select(repo);
    ASSERT_NE(st, nullptr) << repo;
    EXPECT_EQ(st->name, "payments") << repo;
    EXPECT_EQ(applied->MarkFor(st->name), nullptr);
  }
  ASSERT_NE(merged.Select(kBaseImage), nullptr);
  EXPECT_EQ(merged.Select(kBaseImage)->name, "platform");
  ASSERT_NE(merged.Select(kOther), nullptr);
  EXPECT_EQ(merged.Select(kOther)->name, "global");
  EXPECT_EQ(applied->MarkFor("global"), nullptr);

  // The base payments statement lost exactly the taken scope.
  for (const Statement& st : merged.statements) {
    if (st.name == "payments") {
      EXPECT_EQ(st.registry_scopes, (std::vector<std::string>{kLedger, kWeb}));
    }
  }
  ASSERT_EQ(applied->displaced.size(), 1u);
  EXPECT_EQ(applied->displaced[0].scope, kPayments);
  EXPECT_EQ(applied->displaced[0].emergency_statement, "payments-emergency");
  EXPECT_EQ(applied->displaced[0].base_statement, "payments");
  EXPECT_EQ(applied->emergency_statements,
            (std::set<std::string, std::less<>>{"payments-emergency"}));
  // Provenance differs from both files.
  EXPECT_NE(merged.sha256, base.sha256);
  EXPECT_NE(merged.sha256, e.policy.sha256);
  EXPECT_EQ(mark->sha256, e.policy.sha256);
}

TEST(ApplyEmergency, MergedPolicyKeepsDocumentRules) {
  TrustPolicy base = BasePolicy();
  // Take every payments scope and one the base only covered through "*".
  EmergencyPolicy e = MustParse(EmergencyDoc(Metadata(), R"([{
    "name": "payments-emergency",
    "registryScopes": ["registry.example.com/payments/api",
                       "registry.example.com/payments/ledger",
                       "registry.example.com/payments/web",
                       "registry.example.com/misc/tool"],
    "signatureVerification": {"level": "permissive"},
    "trustStores": ["ca:payments-previous"],
    "trustedIdentities": ["*"]
  }])"));
  auto applied = ApplyEmergency(base, e, T(kSixHoursBefore), hours(24));
  ASSERT_TRUE(applied.ok()) << applied.detail();
  const TrustPolicy& merged = applied->policy;
  std::set<std::string> names;
  std::set<std::string> scopes;
  int globals = 0;
  for (const Statement& st : merged.statements) {
    EXPECT_TRUE(names.insert(st.name).second) << st.name;
    EXPECT_FALSE(st.registry_scopes.empty()) << st.name;
    for (const std::string& s : st.registry_scopes) {
      EXPECT_TRUE(scopes.insert(s).second) << s;
    }
    globals += st.global ? 1 : 0;
  }
  EXPECT_EQ(globals, 1);
  // The base payments statement lost every scope: dropped.
  EXPECT_EQ(names, (std::set<std::string>{"payments-emergency", "platform",
                                          "global"}));
  EXPECT_EQ(merged.statements[0].name, "payments-emergency");
  EXPECT_EQ(merged.Select(kOther)->name, "payments-emergency");
  EXPECT_EQ(merged.Select("registry.example.com/misc/other")->name, "global");
  ASSERT_EQ(applied->displaced.size(), 4u);
  EXPECT_EQ(applied->displaced[3].scope, kOther);
  EXPECT_EQ(applied->displaced[3].base_statement, "global");
}

TEST(ApplyEmergency, GlobalEmergencyReplacesOnlyTheBaseGlobal) {
  TrustPolicy base = BasePolicy();
  EmergencyPolicy e = MustParse(EmergencyDoc(Metadata(), R"([{
    "name": "global-emergency",
    "registryScopes": ["*"],
    "signatureVerification": {"level": "audit"},
    "trustStores": ["ca:shared-infra", "ca:shared-infra-old"],
    "trustedIdentities": ["*"]
  }])"));
  auto applied = ApplyEmergency(base, e, T(kSixHoursBefore), hours(24));
  ASSERT_TRUE(applied.ok()) << applied.detail();
  const TrustPolicy& merged = applied->policy;
  EXPECT_EQ(merged.Select(kOther)->name, "global-emergency");
  EXPECT_NE(applied->MarkFor(merged.Select(kOther)->name), nullptr);
  EXPECT_EQ(merged.Select(kPayments)->name, "payments");
  EXPECT_EQ(merged.Select(kBaseImage)->name, "platform");
  int globals = 0;
  for (const Statement& st : merged.statements) {
    globals += st.global ? 1 : 0;
    EXPECT_NE(st.name, "global");
  }
  EXPECT_EQ(globals, 1);
  ASSERT_EQ(applied->displaced.size(), 1u);
  EXPECT_EQ(applied->displaced[0].scope, "*");
  EXPECT_EQ(applied->displaced[0].base_statement, "global");
}

TEST(ApplyEmergency, GlobalEmergencyWithoutBaseGlobalCoversTheRest) {
  auto parsed = ParseTrustPolicy(base::AsBytes(R"({"version": "1.0",
    "trustPolicies": [{"name": "platform",
      "registryScopes": ["registry.example.com/platform/base"],
      "signatureVerification": {"level": "strict"},
      "trustStores": ["ca:platform"], "trustedIdentities": ["*"]}]})"));
  ASSERT_TRUE(parsed.ok()) << parsed.detail();
  EXPECT_EQ(parsed->Select(kOther), nullptr);
  EmergencyPolicy e = MustParse(EmergencyDoc(Metadata(), R"([{
    "name": "let-it-through", "registryScopes": ["*"],
    "signatureVerification": {"level": "skip"}}])"));
  auto applied = ApplyEmergency(*parsed, e, T(kSixHoursBefore), hours(24));
  ASSERT_TRUE(applied.ok()) << applied.detail();
  ASSERT_NE(applied->policy.Select(kOther), nullptr);
  EXPECT_EQ(applied->policy.Select(kOther)->name, "let-it-through");
  EXPECT_EQ(applied->policy.Select(kBaseImage)->name, "platform");
  ASSERT_EQ(applied->displaced.size(), 1u);
  EXPECT_EQ(applied->displaced[0].base_statement, "");
}

TEST(ApplyEmergency, RefusesExpired) {
  TrustPolicy base = BasePolicy();
  EmergencyPolicy e = MustParse(EmergencyDoc(Metadata(), kApiStatement));
  // At the expiry instant it is already expired.
  auto at_expiry = ApplyEmergency(base, e, T(kExpires), hours(24));
  ASSERT_FALSE(at_expiry.ok());
  EXPECT_EQ(at_expiry.code(), EmergencyError::kExpired);
  auto later = ApplyEmergency(base, e, T("2026-03-02T09:00:00Z"), hours(24));
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.code(), EmergencyError::kExpired);
  // The detail says since when.
  EXPECT_NE(later.detail().find(kExpires), std::string::npos);
  // A microsecond before: fine.
  auto just_before = ApplyEmergency(
      base, e, T(kExpires) - std::chrono::microseconds(1), hours(24));
  EXPECT_TRUE(just_before.ok()) << just_before.detail();
}

TEST(ApplyEmergency, RefusesLifetimeAboveMaxTtl) {
  TrustPolicy base = BasePolicy();
  EmergencyPolicy e = MustParse(EmergencyDoc(Metadata(), kApiStatement));
  const base::Time expires = T(kExpires);
  // Exactly the TTL is allowed; one second more is not.
  EXPECT_TRUE(ApplyEmergency(base, e, expires - hours(24), hours(24)).ok());
  auto too_long = ApplyEmergency(
      base, e, expires - hours(24) - std::chrono::seconds(1), hours(24));
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.code(), EmergencyError::kLifetimeTooLong);
  // The default is 24h.
  EXPECT_EQ(ApplyEmergency(base, e, expires - hours(25)).code(),
            EmergencyError::kLifetimeTooLong);
  EXPECT_TRUE(ApplyEmergency(base, e, expires - hours(23)).ok());
  // A tighter maximum.
  EXPECT_EQ(ApplyEmergency(base, e, T(kSixHoursBefore), hours(4)).code(),
            EmergencyError::kLifetimeTooLong);
  EXPECT_TRUE(ApplyEmergency(base, e, T(kSixHoursBefore), hours(6)).ok());
}

TEST(ApplyEmergency, ApprovedAtBoundsTheWholeWindow) {
  TrustPolicy base = BasePolicy();
  // Approved 30 hours before it expires: too long even when verified an
  // hour before expiry.
  EmergencyPolicy e = MustParse(EmergencyDoc(
      Metadata(kExpires, R"(, "approvedAt": "2026-02-28T12:00:00Z")"),
      kApiStatement));
  auto late = ApplyEmergency(base, e, T(kExpires) - hours(1), hours(24));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.code(), EmergencyError::kLifetimeTooLong);
  EXPECT_TRUE(ApplyEmergency(base, e, T(kExpires) - hours(1), hours(30)).ok());

  // Approved 8 hours before expiry: refused before approvedAt.
  EmergencyPolicy short_one = MustParse(EmergencyDoc(
      Metadata(kExpires, R"(, "approvedAt": "2026-03-01T10:00:00Z")"),
      kApiStatement));
  auto early =
      ApplyEmergency(base, short_one, T("2026-03-01T09:59:59Z"), hours(24));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.code(), EmergencyError::kNotYetApproved);
  EXPECT_TRUE(
      ApplyEmergency(base, short_one, T("2026-03-01T10:00:00Z"), hours(24))
          .ok());
}

TEST(ApplyEmergency, RefusesNameCollision) {
  TrustPolicy base = BasePolicy();
  std::string statements = kApiStatement;
  statements.replace(statements.find("payments-emergency"),
                     std::string("payments-emergency").size(), "platform");
  EmergencyPolicy e = MustParse(EmergencyDoc(Metadata(), statements));
  auto applied = ApplyEmergency(base, e, T(kSixHoursBefore), hours(24));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.code(), EmergencyError::kNameCollision);
}

TEST(ApplyEmergency, CarriesWarningsOfBothFiles) {
  std::string base_doc = kBasePolicy;
  base_doc.insert(base_doc.find("\"version\""), "\"comment\": \"x\", ");
  auto base = ParseTrustPolicy(base::AsBytes(base_doc));
  ASSERT_TRUE(base.ok()) << base.detail();
  std::string statements = kApiStatement;
  statements.insert(statements.find("\"name\""), "\"nmae\": \"typo\", ");
  EmergencyPolicy e = MustParse(EmergencyDoc(Metadata(), statements));
  auto applied = ApplyEmergency(*base, e, T(kSixHoursBefore), hours(24));
  ASSERT_TRUE(applied.ok()) << applied.detail();
  ASSERT_EQ(applied->policy.warnings.size(), 2u);
  EXPECT_EQ(applied->policy.warnings[1].rfind("emergency policy: ", 0), 0u);
}

// ------------------------------------------------------------------ files

class EmergencyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "tg-emergency-XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path Write(const std::string& name, const std::string& content) {
    fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  fs::path dir_;
};

TEST_F(EmergencyFile, LoadsAndRecordsSource) {
  fs::path p = Write("emergency.json", EmergencyDoc(Metadata(), kApiStatement));
  auto e = LoadEmergencyPolicyFile(p);
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(e->policy.source, p.string());
  auto applied = ApplyEmergency(BasePolicy(), *e, T(kSixHoursBefore));
  ASSERT_TRUE(applied.ok()) << applied.detail();
  EXPECT_EQ(applied->mark.source, p.string());
}

TEST_F(EmergencyFile, RefusesSymlinkDirectoryAndMissing) {
  fs::path target =
      Write("emergency.json", EmergencyDoc(Metadata(), kApiStatement));
  fs::create_symlink(target, dir_ / "link.json");
  EXPECT_EQ(LoadEmergencyPolicyFile(dir_ / "link.json").code(),
            EmergencyError::kSymlink);
  fs::create_directory(dir_ / "dir.json");
  EXPECT_EQ(LoadEmergencyPolicyFile(dir_ / "dir.json").code(),
            EmergencyError::kUnreadable);
  EXPECT_EQ(LoadEmergencyPolicyFile(dir_ / "absent.json").code(),
            EmergencyError::kNotFound);
  fs::path big = Write("big.json", std::string(5 * 1024 * 1024, ' '));
  EXPECT_EQ(LoadEmergencyPolicyFile(big).code(), EmergencyError::kTooLarge);
}

TEST_F(EmergencyFile, ReadsTheOrgFixtures) {
  const char* src = std::getenv("TRUSTGATE_SOURCE");
  if (src == nullptr || *src == '\0') {
    GTEST_SKIP() << "TRUSTGATE_SOURCE is not set";
  }
  fs::path org = fs::path(src) / "tests" / "data" / "policy" / "org";
  auto approved = LoadEmergencyPolicyFile(org / "emergency_approved.json");
  ASSERT_TRUE(approved.ok()) << approved.detail();
  EXPECT_EQ(approved->metadata.approved_by, "security-oncall@example.com");
  auto no_expiry = LoadEmergencyPolicyFile(org / "emergency_no_expiry.json");
  ASSERT_FALSE(no_expiry.ok());
  EXPECT_EQ(no_expiry.code(), EmergencyError::kBadMetadata);
}

}  // namespace
}  // namespace trustgate::policy
