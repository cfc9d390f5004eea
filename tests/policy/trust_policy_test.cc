#include "policy/trust_policy.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/policy/test_pki.h"

namespace trustgate::policy {
namespace {

using json = nlohmann::json;
using testing::ScratchDir;
using testing::SharedDir;
using testing::WriteFile;

json BaseStatement(std::string name = "s", json scopes = json::array({"*"})) {
  return json{{"name", name},
              {"registryScopes", scopes},
              {"signatureVerification", {{"level", "strict"}}},
              {"trustStores", json::array({"ca:acme"})},
              {"trustedIdentities", json::array({"*"})}};
}

json DocumentOf(json statements) {
  json doc = json::object();
  doc["version"] = "1.0";
  doc["trustPolicies"] = std::move(statements);
  return doc;
}

json Document(std::initializer_list<json> statements) {
  json arr = json::array();
  for (const json& st : statements) {
    arr.push_back(st);
  }
  return DocumentOf(std::move(arr));
}

json OneStatement(const std::function<void(json&)>& edit) {
  json st = BaseStatement();
  edit(st);
  return Document({st});
}

json WithVersion(json version) {
  json doc = Document({BaseStatement()});
  if (version.is_discarded()) {
    doc.erase("version");
  } else {
    doc["version"] = std::move(version);
  }
  return doc;
}

base::Result<TrustPolicy, PolicyError> ParseText(std::string_view text) {
  return ParseTrustPolicy(base::AsBytes(text));
}

base::Result<TrustPolicy, PolicyError> ParseJson(const json& doc) {
  return ParseText(doc.dump());
}

// RuleId extracts the stable rule id from an error detail
// ("trust policy statement \"s\": <rule-id>: ..." or "<rule-id>: ...").
std::string RuleId(const std::string& detail) {
  size_t start = 0;
  if (detail.rfind("trust policy statement", 0) == 0) {
    start = detail.find(": ") + 2;
  }
  size_t end = detail.find(": ", start);
  return detail.substr(start, end - start);
}

void ExpectOk(const json& doc) {
  auto r = ParseJson(doc);
  EXPECT_TRUE(r.ok()) << doc.dump() << "\n" << (r.ok() ? "" : r.detail());
}

void ExpectRule(const json& doc, PolicyError code, std::string_view rule) {
  auto r = ParseJson(doc);
  ASSERT_FALSE(r.ok()) << "accepted: " << doc.dump();
  EXPECT_EQ(r.code(), code) << r.detail();
  EXPECT_EQ(RuleId(r.detail()), rule) << r.detail();
}

void ExpectInvalid(const json& doc, std::string_view rule) {
  ExpectRule(doc, PolicyError::kInvalid, rule);
}

// ------------------------------------------------------------- JSON

TEST(TrustPolicyJson, RejectsSyntaxErrors) {
  auto r = ParseText("{\"version\": \"1.0\", ");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), PolicyError::kMalformedJson);
  EXPECT_EQ(RuleId(r.detail()), "json-syntax");
  r = ParseText("");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), PolicyError::kMalformedJson);
}

TEST(TrustPolicyJson, IgnoresContentAfterTheDocumentLikeGoDecoder) {
  // notation's json.Decoder.Decode stops after the first value.
  std::string doc = Document({BaseStatement()}).dump();
  auto r = ParseText(doc + "\n{\"version\": \"2.0\"} trailing [");
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(r->warnings.size(), 1u);
  auto clean = ParseText("  " + doc + " \n\t");
  ASSERT_TRUE(clean.ok()) << clean.detail();
  EXPECT_TRUE(clean->warnings.empty());
  // Brackets inside strings do not end the value early.
  json tricky = Document({BaseStatement("a}]\"{")});
  auto t = ParseText(tricky.dump() + "x");
  ASSERT_TRUE(t.ok()) << t.detail();
  EXPECT_EQ(t->statements[0].name, "a}]\"{");
  // The first value itself must still be complete and valid.
  auto cut = ParseText(doc.substr(0, doc.size() - 1));
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.code(), PolicyError::kMalformedJson);
}

TEST(TrustPolicyJson, RejectsWrongTypes) {
  ExpectRule(json::array(), PolicyError::kMalformedJson, "json-type");
  ExpectRule(WithVersion(1.0), PolicyError::kMalformedJson, "json-type");
  ExpectRule(DocumentOf(BaseStatement()), PolicyError::kMalformedJson,
             "json-type");
  ExpectRule(OneStatement([](json& s) { s["name"] = 7; }),
             PolicyError::kMalformedJson, "json-type");
  ExpectRule(OneStatement([](json& s) { s["registryScopes"] = "*"; }),
             PolicyError::kMalformedJson, "json-type");
  ExpectRule(OneStatement([](json& s) { s["trustStores"] = {1}; }),
             PolicyError::kMalformedJson, "json-type");
  ExpectRule(
      OneStatement([](json& s) { s["signatureVerification"] = "strict"; }),
      PolicyError::kMalformedJson, "json-type");
  ExpectRule(OneStatement([](json& s) {
               s["signatureVerification"]["override"] = {{"expiry", true}};
             }),
             PolicyError::kMalformedJson, "json-type");
  ExpectRule(OneStatement([](json& s) {
               s["signatureVerification"]["override"] = json::array();
             }),
             PolicyError::kMalformedJson, "json-type");
}

TEST(TrustPolicyJson, RejectsDuplicateKeys) {
  auto r = ParseText(R"({"version":"1.0","version":"1.0","trustPolicies":[]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), PolicyError::kMalformedJson);
  EXPECT_EQ(RuleId(r.detail()), "duplicate-key");
  // Keys match case-insensitively (Go's decoder), so these collide too.
  r = ParseText(R"({"version":"1.0","Version":"1.0","trustPolicies":[]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(RuleId(r.detail()), "duplicate-key");
  // Inside a statement, in override, and among unknown keys.
  std::string base = BaseStatement().dump();
  std::string dup_name = base;
  dup_name.insert(1, R"("name":"other",)");
  r = ParseText(R"({"version":"1.0","trustPolicies":[)" + dup_name + "]}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(RuleId(r.detail()), "duplicate-key");
  r = ParseText(
      R"({"version":"1.0","trustPolicies":[{"name":"s","registryScopes":["*"],
      "signatureVerification":{"level":"strict","override":{"expiry":"log","expiry":"log"}},
      "trustStores":["ca:acme"],"trustedIdentities":["*"]}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(RuleId(r.detail()), "duplicate-key");
  r = ParseText(R"({"version":"1.0","x":1,"x":2,"trustPolicies":[)" + base +
                "]}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(RuleId(r.detail()), "duplicate-key");
}

TEST(TrustPolicyJson, KeysMatchCaseInsensitivelyAndUnknownKeysWarn) {
  auto r = ParseText(
      R"({"Version":"1.0","TRUSTPOLICIES":[{"Name":"s","registryscopes":["*"],
      "signatureverification":{"LEVEL":"audit"},"trustStores":["ca:a"],
      "trustedIdentities":["*"],"comment":"hi"}],"extra":{}})");
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(r->statements[0].level, Level::kAudit);
  EXPECT_EQ(r->warnings.size(), 2u);
  // Override keys are map keys: exact spelling only.
  ExpectInvalid(OneStatement([](json& s) {
                  s["signatureVerification"]["override"] = {{"Expiry", "log"}};
                }),
                "override-unknown-validation");
}

TEST(TrustPolicyJson, NullMeansAbsent) {
  // Go decodes null as the zero value.
  ExpectOk(OneStatement([](json& s) {
    s["signatureVerification"] = {
        {"level", "skip"}, {"override", nullptr}, {"verifyTimestamp", nullptr}};
    s["trustStores"] = nullptr;
    s["trustedIdentities"] = nullptr;
  }));
  ExpectInvalid(OneStatement([](json& s) { s["registryScopes"] = nullptr; }),
                "scopes-missing");
  ExpectInvalid(WithVersion(nullptr), "version-missing");
  json null_statement = json::array();
  null_statement.push_back(nullptr);
  ExpectInvalid(DocumentOf(null_statement), "name-missing");
  ExpectInvalid(OneStatement([](json& s) { s["trustStores"] = {nullptr}; }),
                "trust-store-malformed");
}

TEST(TrustPolicyJson, HostileBytesNeverCrash) {
  std::string doc =
      OneStatement([](json& s) {
        s["trustedIdentities"] = {
            "x509.subject: C=US, ST=WA, O=a\\, b, CN=\\ x\\ "};
        s["signatureVerification"]["override"] = {{"expiry", "log"}};
      }).dump();
  ASSERT_TRUE(ParseText(doc).ok());
  size_t rejected = 0;
  for (size_t n = 0; n < doc.size(); ++n) {
    rejected += ParseText(doc.substr(0, n)).ok() ? 0 : 1;
    std::string flipped = doc;
    flipped[n] = static_cast<char>(flipped[n] ^ 0x5a);
    (void)ParseText(flipped).ok();
  }
  EXPECT_EQ(rejected, doc.size());
}

// ------------------------------------------------------------- document

TEST(TrustPolicyRules, Version) {
  ExpectOk(Document({BaseStatement()}));
  ExpectInvalid(WithVersion(json(json::value_t::discarded)), "version-missing");
  ExpectInvalid(WithVersion(""), "version-missing");
  ExpectInvalid(WithVersion("2.0"), "version-unsupported");
  ExpectInvalid(WithVersion("1.0.0"), "version-unsupported");
  ExpectInvalid(WithVersion("1"), "version-unsupported");
}

TEST(TrustPolicyRules, Statements) {
  json no_statements = json::object();
  no_statements["version"] = "1.0";
  ExpectInvalid(no_statements, "no-statements");
  ExpectInvalid(DocumentOf(json::array()), "no-statements");
}

TEST(TrustPolicyRules, Names) {
  ExpectInvalid(OneStatement([](json& s) { s.erase("name"); }), "name-missing");
  ExpectInvalid(OneStatement([](json& s) { s["name"] = ""; }), "name-missing");
  ExpectOk(Document(
      {BaseStatement("a", {"r.io/a"}), BaseStatement("b", {"r.io/b"})}));
  ExpectInvalid(Document({BaseStatement("a", {"r.io/a"}),
                          BaseStatement("a", {"r.io/b"})}),
                "duplicate-name");
}

// ------------------------------------------------------------- levels

TEST(TrustPolicyRules, Level) {
  for (const char* level : {"strict", "permissive", "audit"}) {
    ExpectOk(OneStatement(
        [&](json& s) { s["signatureVerification"]["level"] = level; }));
  }
  ExpectInvalid(OneStatement([](json& s) {
                  s["signatureVerification"] = json::object();
                }),
                "level-missing");
  ExpectInvalid(OneStatement([](json& s) { s.erase("signatureVerification"); }),
                "level-missing");
  ExpectInvalid(OneStatement([](json& s) {
                  s["signatureVerification"]["level"] = "Strict";
                }),
                "level-unknown");
  ExpectInvalid(OneStatement([](json& s) {
                  s["signatureVerification"]["level"] = "custom";
                }),
                "level-unknown");
}

TEST(TrustPolicyRules, Overrides) {
  auto with_override = [](json o, const char* level = "strict") {
    return OneStatement([&](json& s) {
      s["signatureVerification"] = {{"level", level}, {"override", o}};
    });
  };
  ExpectOk(with_override({{"authenticity", "log"},
                          {"authenticTimestamp", "log"},
                          {"expiry", "log"},
                          {"revocation", "skip"}}));
  ExpectOk(with_override({{"authenticity", "enforce"},
                          {"expiry", "enforce"},
                          {"revocation", "enforce"}},
                         "audit"));
  ExpectOk(with_override(json::object()));
  ExpectInvalid(with_override({{"integrity", "enforce"}}),
                "integrity-override");
  ExpectInvalid(with_override({{"integrity", "log"}}), "integrity-override");
  ExpectInvalid(with_override({{"authenticity", "skip"}}),
                "override-skip-not-allowed");
  ExpectInvalid(with_override({{"authenticTimestamp", "skip"}}),
                "override-skip-not-allowed");
  ExpectInvalid(with_override({{"expiry", "skip"}}),
                "override-skip-not-allowed");
  ExpectInvalid(with_override({{"trustedIdentity", "log"}}),
                "override-unknown-validation");
  ExpectInvalid(with_override({{"expiry", "warn"}}), "override-unknown-action");
  ExpectInvalid(with_override({{"expiry", ""}}), "override-unknown-action");
}

TEST(TrustPolicyRules, SkipLevel) {
  json skip = BaseStatement();
  skip["signatureVerification"] = {{"level", "skip"}};
  skip.erase("trustStores");
  skip.erase("trustedIdentities");
  ExpectOk(Document({skip}));
  // Empty arrays are the same as absent.
  json empty = skip;
  empty["trustStores"] = json::array();
  empty["trustedIdentities"] = json::array();
  ExpectOk(Document({empty}));
  // notation: a skip level cannot be customised at all, even with a
  // revocation override; an empty override is fine.
  json with_override = skip;
  with_override["signatureVerification"]["override"] = {{"revocation", "skip"}};
  ExpectInvalid(Document({with_override}), "skip-override");
  with_override["signatureVerification"]["override"] = json::object();
  ExpectOk(Document({with_override}));
  json with_store = skip;
  with_store["trustStores"] = {"ca:acme"};
  ExpectInvalid(Document({with_store}), "skip-with-trust-config");
  json with_identity = skip;
  with_identity["trustedIdentities"] = {"*"};
  ExpectInvalid(Document({with_identity}), "skip-with-trust-config");
  // verifyTimestamp is still validated under skip.
  json bad_ts = skip;
  bad_ts["signatureVerification"]["verifyTimestamp"] = "never";
  ExpectInvalid(Document({bad_ts}), "verify-timestamp-unknown");
}

TEST(TrustPolicyRules, VerifyTimestamp) {
  auto with_ts = [](const char* v) {
    return OneStatement(
        [&](json& s) { s["signatureVerification"]["verifyTimestamp"] = v; });
  };
  auto always = ParseJson(with_ts("always"));
  ASSERT_TRUE(always.ok());
  EXPECT_EQ(always->statements[0].verify_timestamp, VerifyTimestamp::kAlways);
  auto after = ParseJson(with_ts("afterCertExpiry"));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->statements[0].verify_timestamp,
            VerifyTimestamp::kAfterCertExpiry);
  auto unset = ParseJson(Document({BaseStatement()}));
  ASSERT_TRUE(unset.ok());
  EXPECT_EQ(unset->statements[0].verify_timestamp, VerifyTimestamp::kAlways);
  ExpectInvalid(with_ts("aftercertexpiry"), "verify-timestamp-unknown");
  ExpectInvalid(with_ts("never"), "verify-timestamp-unknown");
}

// ------------------------------------------------------------- stores

TEST(TrustPolicyRules, TrustStores) {
  auto with_stores = [](json stores) {
    return OneStatement([&](json& s) { s["trustStores"] = stores; });
  };
  auto ok = ParseJson(with_stores(
      {"ca:acme", "signingAuthority:aws_signer-1.0", "tsa:digi.cert"}));
  ASSERT_TRUE(ok.ok()) << ok.detail();
  std::vector<StoreRef> want = {
      {StoreType::kCa, "acme"},
      {StoreType::kSigningAuthority, "aws_signer-1.0"},
      {StoreType::kTsa, "digi.cert"}};
  EXPECT_EQ(ok->statements[0].trust_stores, want);
  EXPECT_TRUE(ok->statements[0].HasStoreOfType(StoreType::kTsa));
  ExpectInvalid(with_stores(json::array()), "trust-stores-missing");
  ExpectInvalid(OneStatement([](json& s) { s.erase("trustStores"); }),
                "trust-stores-missing");
  ExpectInvalid(with_stores({"*"}), "trust-store-malformed");
  ExpectInvalid(with_stores({"acme"}), "trust-store-malformed");
  ExpectInvalid(with_stores({"x509:acme"}), "trust-store-type-unknown");
  ExpectInvalid(with_stores({"CA:acme"}), "trust-store-type-unknown");
  ExpectInvalid(with_stores({"ca:"}), "trust-store-name-invalid");
  ExpectInvalid(with_stores({"ca:a/b"}), "trust-store-name-invalid");
  ExpectInvalid(with_stores({"ca:a:b"}), "trust-store-name-invalid");
  ExpectInvalid(with_stores({"ca:a b"}), "trust-store-name-invalid");
}

// ------------------------------------------------------------- identities

TEST(TrustPolicyRules, TrustedIdentities) {
  auto with_ids = [](json ids) {
    return OneStatement([&](json& s) { s["trustedIdentities"] = ids; });
  };
  auto ok = ParseJson(with_ids(
      {"x509.subject: C=US, ST=WA, L=Seattle, O=acme-rockets.io, OU=Finance, "
       "CN=SecureBuilder",
       "x509.subject: C=US, S=WA, O=wabbit-networks.io, OU=Security Tools",
       "arn:aws:signer:us-west-2:123456789012:/signing-profiles/p"}));
  ASSERT_TRUE(ok.ok()) << ok.detail();
  const auto& ids = ok->statements[0].trusted_identities;
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0].kind, TrustedIdentity::Kind::kX509Subject);
  EXPECT_EQ(ids[0].x509_subject.size(), 6u);
  EXPECT_EQ(ids[1].x509_subject[1].type, "ST");
  // notation-go accepts non-x509 identities at validation (for plugins).
  EXPECT_EQ(ids[2].kind, TrustedIdentity::Kind::kOther);
  auto wildcard = ParseJson(with_ids({"*"}));
  ASSERT_TRUE(wildcard.ok());
  EXPECT_EQ(wildcard->statements[0].trusted_identities[0].kind,
            TrustedIdentity::Kind::kWildcard);

  ExpectInvalid(with_ids(json::array()), "trusted-identities-missing");
  ExpectInvalid(OneStatement([](json& s) { s.erase("trustedIdentities"); }),
                "trusted-identities-missing");
  ExpectInvalid(with_ids({""}), "identity-empty");
  ExpectInvalid(with_ids({"*", "x509.subject: C=US,ST=WA,O=X"}),
                "identity-wildcard-mixed");
  ExpectInvalid(with_ids({"*", "*"}), "identity-wildcard-mixed");
  ExpectInvalid(with_ids({"x509.subject C=US,ST=WA,O=X"}),
                "identity-missing-separator");
  ExpectInvalid(with_ids({"x509.subject:"}), "identity-value-empty");
  ExpectRule(with_ids({"x509.subject: C=US,ST=WA,O=X+OU=Y"}),
             PolicyError::kBadDistinguishedName, "identity-bad-dn");
  ExpectRule(with_ids({"x509.subject: C=US,ST=WA,O=#0403"}),
             PolicyError::kBadDistinguishedName, "identity-bad-dn");
  ExpectRule(with_ids({"x509.subject: C=US,C=CA,ST=WA,O=X"}),
             PolicyError::kBadDistinguishedName, "identity-bad-dn");
  ExpectInvalid(with_ids({"x509.subject: C=US,ST=WA"}),
                "identity-missing-attribute");
  ExpectInvalid(with_ids({"x509.subject: C=US,O=X"}),
                "identity-missing-attribute");
  ExpectInvalid(with_ids({"x509.subject: ST=WA,O=X"}),
                "identity-missing-attribute");
  ExpectInvalid(with_ids({"x509.subject: c=US,st=WA,o=X"}),
                "identity-missing-attribute");
}

TEST(TrustPolicyRules, IdentityOverlap) {
  auto with_ids = [](json ids) {
    return OneStatement([&](json& s) { s["trustedIdentities"] = ids; });
  };
  ExpectInvalid(
      with_ids({"x509.subject: C=US, ST=WA, O=wabbit-network.io, OU=org1",
                "x509.subject:  C=US, ST=WA, O=wabbit-network.io"}),
      "identity-overlap");
  ExpectInvalid(
      with_ids({"x509.subject: C=US,ST=WA,O=X", "x509.subject: C=US,S=WA,O=X"}),
      "identity-overlap");
  // Disjoint values, or neither a subset of the other: notation accepts.
  ExpectOk(with_ids({"x509.subject: C=US,ST=WA,O=X,OU=a",
                     "x509.subject: C=US,ST=WA,O=X,OU=b"}));
  ExpectOk(with_ids({"x509.subject: C=US,ST=WA,O=X,OU=a",
                     "x509.subject: C=US,ST=WA,O=X,CN=b"}));
  // Non-x509 identities are not compared.
  ExpectOk(with_ids({"arn:a", "arn:a"}));
}

TEST(TrustPolicyRules, TooManyIdentities) {
  json ids = json::array();
  for (int i = 0; i < 1025; ++i) {
    ids.push_back("x509.subject: C=US,ST=WA,O=X,CN=" + std::to_string(i));
  }
  ExpectInvalid(OneStatement([&](json& s) { s["trustedIdentities"] = ids; }),
                "too-many-identities");
}

// ------------------------------------------------------------- scopes

TEST(TrustPolicyRules, RegistryScopes) {
  auto with_scopes = [](json scopes) {
    return OneStatement([&](json& s) { s["registryScopes"] = scopes; });
  };
  ExpectOk(with_scopes({"localhost:5000/test-repo"}));
  ExpectOk(with_scopes({"registry.acme-rockets.io/software/net-monitor",
                        "registry.acme-rockets.io/software/net-logger"}));
  ExpectInvalid(with_scopes(json::array()), "scopes-missing");
  ExpectInvalid(OneStatement([](json& s) { s.erase("registryScopes"); }),
                "scopes-missing");
  ExpectInvalid(with_scopes({"*", "localhost:5000/test-repo7"}),
                "scope-wildcard-mixed");
  ExpectInvalid(with_scopes({"*", "*"}), "scope-wildcard-mixed");
  ExpectInvalid(with_scopes({"example.com/*"}), "scope-wildcard-in-uri");
  ExpectInvalid(with_scopes({"ex*test"}), "scope-wildcard-in-uri");
  ExpectInvalid(with_scopes({"localhost:5000\\test-repo"}), "scope-invalid");
  ExpectInvalid(with_scopes({"example.com/rep:tag"}), "scope-invalid");
  ExpectInvalid(
      with_scopes({"localhost:5000/test-repo6", "localhost:5000/test-repo6"}),
      "scope-overlap");
  ExpectInvalid(Document({BaseStatement("a", {"r.io/x"}),
                          BaseStatement("b", {"r.io/y", "r.io/x"})}),
                "scope-overlap");
  ExpectInvalid(
      Document({BaseStatement("a", {"*"}), BaseStatement("b", {"*"})}),
      "global-scope-duplicate");
  ExpectOk(
      Document({BaseStatement("a", {"*"}), BaseStatement("b", {"r.io/x"})}));
}

TEST(IsValidRepositoryUri, NotationExamples) {
  // notation-go oci_test.go TestValidRegistryScopes /
  // TestInvalidRegistryScopes.
  for (const char* ok :
       {"example.com/rep", "example.com:8080/rep/rep2",
        "example.com/rep/subrep/subsub", "10.10.10.10:8080/rep/rep2",
        "domain/rep", "domain:1234/rep", "localhost:5000/test-repo",
        "local/e2e", "Registry.Example.com/a", "r.io/a__b", "r.io/a---b",
        "r.io/a.b_c-d"}) {
    EXPECT_TRUE(IsValidRepositoryUri(ok)) << ok;
  }
  for (const char* bad : {"",
                          "1:1",
                          "a,b",
                          "abcd",
                          "1111",
                          "1,2",
                          "example.com/rep:tag",
                          "example.com/rep/subrep/sub:latest",
                          "example.com",
                          "rep/rep2:latest",
                          "repository",
                          "10.10.10.10",
                          "10.10.10.10:8080/rep/rep2:latest",
                          "local/myOCILayout",
                          "r.io/",
                          "/a",
                          "r.io/a/",
                          "r.io//a",
                          "r.io/a___b",
                          "r.io/a..b",
                          "r.io/-a",
                          "r.io/a-",
                          "-r.io/a",
                          "r-.io/a",
                          "r..io/a",
                          "r.io:/a",
                          "r.io:x/a",
                          "r.io/a_-b",
                          "https://r.io/a",
                          "r.io/a@sha256:00",
                          "*"}) {
    EXPECT_FALSE(IsValidRepositoryUri(bad)) << bad;
  }
}

// ------------------------------------------------------------- actions

TEST(StatementActionFor, LevelsTable) {
  // trust-store-trust-policy.md: Signature Verification details.
  struct Row {
    Level level;
    std::array<Action, 5> actions;  // integrity .. revocation
  };
  const Action E = Action::kEnforce;
  const Action L = Action::kLog;
  const Action S = Action::kSkip;
  for (const Row& row : {Row{Level::kStrict, {E, E, E, E, E}},
                         Row{Level::kPermissive, {E, E, L, L, L}},
                         Row{Level::kAudit, {E, L, L, L, L}},
                         Row{Level::kSkip, {S, S, S, S, S}}}) {
    Statement st;
    st.level = row.level;
    for (size_t v = 0; v < 5; ++v) {
      EXPECT_EQ(st.ActionFor(static_cast<Validation>(v)), row.actions[v])
          << ToString(row.level) << " " << ToString(static_cast<Validation>(v));
    }
  }
}

TEST(StatementActionFor, Overrides) {
  auto r = ParseJson(OneStatement([](json& s) {
    s["signatureVerification"] = {{"level", "audit"},
                                  {"override",
                                   {{"authenticity", "enforce"},
                                    {"expiry", "enforce"},
                                    {"revocation", "skip"}}}};
  }));
  ASSERT_TRUE(r.ok()) << r.detail();
  const Statement& st = r->statements[0];
  EXPECT_EQ(st.ActionFor(Validation::kIntegrity), Action::kEnforce);
  EXPECT_EQ(st.ActionFor(Validation::kAuthenticity), Action::kEnforce);
  EXPECT_EQ(st.ActionFor(Validation::kAuthenticTimestamp), Action::kLog);
  EXPECT_EQ(st.ActionFor(Validation::kExpiry), Action::kEnforce);
  EXPECT_EQ(st.ActionFor(Validation::kRevocation), Action::kSkip);
}

TEST(ToStringNames, AreStable) {
  EXPECT_EQ(ToString(Level::kPermissive), "permissive");
  EXPECT_EQ(ToString(Validation::kAuthenticTimestamp), "authenticTimestamp");
  EXPECT_EQ(ToString(Action::kLog), "log");
  EXPECT_EQ(ToString(VerifyTimestamp::kAfterCertExpiry), "afterCertExpiry");
  EXPECT_EQ(ToString(StoreType::kSigningAuthority), "signingAuthority");
  EXPECT_EQ(ToString(PolicyError::kBadStoreCertificate),
            "bad-store-certificate");
}

// ------------------------------------------------------------- selection

TEST(TrustPolicySelect, ExactThenGlobalThenNothing) {
  auto with_global = ParseJson(
      Document({BaseStatement("exact", {"r.io/team/app", "r.io/other"}),
                BaseStatement("global", {"*"})}));
  ASSERT_TRUE(with_global.ok()) << with_global.detail();
  ASSERT_NE(with_global->Select("r.io/team/app"), nullptr);
  EXPECT_EQ(with_global->Select("r.io/team/app")->name, "exact");
  EXPECT_EQ(with_global->Select("r.io/other")->name, "exact");
  EXPECT_TRUE(with_global->statements[1].global);
  EXPECT_FALSE(with_global->statements[0].global);
  // No prefix matching.
  EXPECT_EQ(with_global->Select("r.io/team/app/sub")->name, "global");
  EXPECT_EQ(with_global->Select("r.io/team")->name, "global");
  // An invalid repository URI selects nothing (notation errors out).
  EXPECT_EQ(with_global->Select("r.io/Team/App"), nullptr);
  EXPECT_EQ(with_global->Select("noslash"), nullptr);

  auto no_global =
      ParseJson(Document({BaseStatement("exact", {"r.io/team/app"})}));
  ASSERT_TRUE(no_global.ok());
  EXPECT_EQ(no_global->Select("r.io/team/other"), nullptr);
}

// ------------------------------------------------------------- files

TEST(LoadTrustPolicyFile, ReadsHashesAndRefuses) {
  ScratchDir dir;
  std::string text = Document({BaseStatement()}).dump();
  WriteFile(dir.path() / "p.json", text);
  auto ok = LoadTrustPolicyFile(dir.path() / "p.json");
  ASSERT_TRUE(ok.ok()) << ok.detail();
  EXPECT_EQ(ok->source, (dir.path() / "p.json").string());
  EXPECT_EQ(ok->version, "1.0");
  auto direct = ParseText(text);
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(ok->sha256, direct->sha256);
  auto other = ParseText(text + "\n");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->sha256, direct->sha256);
  // SHA-256 of the bytes, not of the meaning.
  std::array<uint8_t, 32> want{};
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(text.data(), text.size(), want.data(), &len,
                       EVP_sha256(), nullptr),
            1);
  EXPECT_EQ(ok->sha256, want);

  auto missing = LoadTrustPolicyFile(dir.path() / "nope.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), PolicyError::kNotFound);

  std::filesystem::create_symlink(dir.path() / "p.json",
                                  dir.path() / "link.json");
  auto link = LoadTrustPolicyFile(dir.path() / "link.json");
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.code(), PolicyError::kSymlink);

  std::filesystem::create_directory(dir.path() / "d.json");
  auto is_dir = LoadTrustPolicyFile(dir.path() / "d.json");
  ASSERT_FALSE(is_dir.ok());
  EXPECT_EQ(is_dir.code(), PolicyError::kUnreadable);

  std::string big(4 * 1024 * 1024 + 1, ' ');
  WriteFile(dir.path() / "big.json", big);
  auto too_big = LoadTrustPolicyFile(dir.path() / "big.json");
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.code(), PolicyError::kTooLarge);
  auto too_big_bytes = ParseText(big);
  ASSERT_FALSE(too_big_bytes.ok());
  EXPECT_EQ(too_big_bytes.code(), PolicyError::kTooLarge);

  WriteFile(dir.path() / "bad.json", "{");
  auto bad = LoadTrustPolicyFile(dir.path() / "bad.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), PolicyError::kMalformedJson);
}

TEST(LoadTrustPolicyFromConfig, PrefersOciNameFallsBackOnlyWhenMissing) {
  ScratchDir dir;
  json oci = Document({BaseStatement("oci")});
  json legacy = Document({BaseStatement("legacy")});
  auto none = LoadTrustPolicyFromConfig(dir.path());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.code(), PolicyError::kNotFound);

  WriteFile(dir.path() / "trustpolicy.json", legacy.dump());
  auto only_legacy = LoadTrustPolicyFromConfig(dir.path());
  ASSERT_TRUE(only_legacy.ok()) << only_legacy.detail();
  EXPECT_EQ(only_legacy->statements[0].name, "legacy");

  WriteFile(dir.path() / "trustpolicy.oci.json", oci.dump());
  auto both = LoadTrustPolicyFromConfig(dir.path());
  ASSERT_TRUE(both.ok()) << both.detail();
  EXPECT_EQ(both->statements[0].name, "oci");
  EXPECT_EQ(both->source, (dir.path() / "trustpolicy.oci.json").string());

  // A broken trustpolicy.oci.json is an error, not a reason to fall back.
  WriteFile(dir.path() / "trustpolicy.oci.json", "{");
  auto broken = LoadTrustPolicyFromConfig(dir.path());
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.code(), PolicyError::kMalformedJson);
  std::filesystem::remove(dir.path() / "trustpolicy.oci.json");
  std::filesystem::create_symlink(dir.path() / "trustpolicy.json",
                                  dir.path() / "trustpolicy.oci.json");
  auto linked = LoadTrustPolicyFromConfig(dir.path());
  ASSERT_FALSE(linked.ok());
  EXPECT_EQ(linked.code(), PolicyError::kSymlink);
}

// ------------------------------------------------------------- interop

std::filesystem::path PackDir() {
  return SharedDir() / "interop" / "notation-e2e";
}

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)),
                     std::istreambuf_iterator<char>());
}

json LoadCases() {
  std::ifstream f(PackDir() / "cases.json");
  if (!f) {
    return json::array();
  }
  return json::parse(f);
}

// Every OCI case of the Notation e2e pack: a case that notation failed with
// "trustPolicy" has a policy we reject; every other case's policy parses,
// and selection gives the case's outcome for its scope.
TEST(NotationE2ePack, PoliciesParseOrFailAsNotationDid) {
  json cases = LoadCases();
  ASSERT_FALSE(cases.empty()) << "no cases.json under " << PackDir();
  int rejected = 0;
  int accepted = 0;
  for (const json& c : cases) {
    if (c.value("type", "") == "blob" || c["trust_policy"].is_null()) {
      continue;  // blob policies are a different document type
    }
    const std::string id = c["id"];
    const std::string file = c["trust_policy"];
    auto policy = LoadTrustPolicyFile(PackDir() / file);
    const bool want_reject = c["failed_validation"] == "trustPolicy";
    if (want_reject) {
      EXPECT_FALSE(policy.ok()) << id << ": " << file << " was accepted";
      if (!policy.ok()) {
        EXPECT_TRUE(policy.code() == PolicyError::kInvalid ||
                    policy.code() == PolicyError::kBadDistinguishedName)
            << id << ": " << policy.detail();
        ++rejected;
      }
      continue;
    }
    ASSERT_TRUE(policy.ok()) << id << ": " << policy.detail();
    ++accepted;
    const Statement* st = policy->Select(c["scope"].get<std::string>());
    if (c["failed_validation"] == "noApplicablePolicy") {
      EXPECT_EQ(st, nullptr) << id;
      continue;
    }
    ASSERT_NE(st, nullptr) << id;
    if (c["expect"] == "skipped") {
      EXPECT_EQ(st->level, Level::kSkip) << id;
    } else {
      EXPECT_NE(st->level, Level::kSkip) << id;
    }
  }
  EXPECT_GT(rejected, 15);
  EXPECT_GT(accepted, 40);
}

// Every policy file of the pack: parse result matches what the cases say
// about it (a file used by no case must still parse or be rejected
// consistently; here we only require that each file gives one answer).
TEST(NotationE2ePack, EveryPolicyFileIsClassified) {
  json cases = LoadCases();
  ASSERT_FALSE(cases.empty());
  std::set<std::string> must_fail;
  std::set<std::string> must_pass;
  for (const json& c : cases) {
    if (c.value("type", "") == "blob" || c["trust_policy"].is_null()) {
      continue;
    }
    (c["failed_validation"] == "trustPolicy" ? must_fail : must_pass)
        .insert(c["trust_policy"].get<std::string>());
  }
  for (const std::string& f : must_fail) {
    EXPECT_EQ(must_pass.count(f), 0u) << f << " both passes and fails";
  }
  int files = 0;
  for (const char* sub : {"config/trustpolicies", "config/supplementary"}) {
    for (const auto& e : std::filesystem::directory_iterator(PackDir() / sub)) {
      std::string rel = std::string(sub) + "/" + e.path().filename().string();
      auto policy = ParseText(ReadAll(e.path()));
      ++files;
      if (must_fail.count(rel) != 0) {
        EXPECT_FALSE(policy.ok()) << rel;
      } else if (must_pass.count(rel) != 0) {
        EXPECT_TRUE(policy.ok()) << rel << ": " << policy.detail();
      } else {
        ADD_FAILURE() << rel << " is used by no case";
      }
    }
  }
  EXPECT_GT(files, 30);
}

TEST(NotationE2ePack, SelectionCases) {
  // registry_scope.go / multi_statements.go as the pack records them.
  auto load = [](const char* name) {
    return LoadTrustPolicyFile(PackDir() / "config/trustpolicies" / name);
  };
  auto single = load("registry_scope_trustpolicy.json");
  ASSERT_TRUE(single.ok()) << single.detail();
  EXPECT_NE(single->Select("localhost:5000/test-repo"), nullptr);
  EXPECT_EQ(single->Select("localhost:5000/test-repo2"), nullptr);
  auto multiple = load("multiple_registry_scope_trustpolicy.json");
  ASSERT_TRUE(multiple.ok());
  EXPECT_NE(multiple->Select("localhost:5000/test-repo2"), nullptr);
  EXPECT_NE(multiple->Select("localhost:5000/test-repo3"), nullptr);
  EXPECT_EQ(multiple->Select("localhost:5000/test-repo"), nullptr);
  auto any = load("any_registry_scope_trust_policy.json");
  ASSERT_TRUE(any.ok());
  EXPECT_NE(any->Select("localhost:5000/test-repo4"), nullptr);
  EXPECT_NE(any->Select("localhost:5000/test-repo5"), nullptr);
  auto mixed =
      load("multi_statements_with_wildcard_registry_scope_trustpolicy.json");
  ASSERT_TRUE(mixed.ok());
  ASSERT_NE(mixed->Select("localhost:5000/test-repo9"), nullptr);
  EXPECT_EQ(mixed->Select("localhost:5000/test-repo9")->name, "e2e");
  EXPECT_EQ(mixed->Select("local/e2e")->name, "e2e2");
  auto none = load("invalid_registry_scope_trustpolicy.json");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->Select("local/e2e"), nullptr);
}

}  // namespace
}  // namespace trustgate::policy
