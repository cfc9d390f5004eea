// Integration tests of the trustgate binary on mirrors made by mkmirror:
// every reason code, every level and override combination, the verdict
// index (export, check), exit codes, targets and hostile layouts.

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/support/http_server.h"
#include "tests/support/test_util.h"

namespace trustgate::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Verification time for every run: inside every generated certificate's
// validity (mkmirror's default --now is 2026-01-01T00:00:00Z).
constexpr const char* kAt = "2026-06-01T00:00:00Z";

struct Expected {
  std::string repository;
  std::string digest;
  std::string tag;
  std::string verdict;
  std::string reason;
};

// One generated `test` mirror shared by the whole suite (read-only; tests
// that damage a mirror copy it first).
class TestMirror : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    CommandResult r = RunCommand({Binary("MKMIRROR_BIN"), "--preset", "test",
                                  "--seed", "7", "--out", root().string()},
                                 dir_->path() / "scratch");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const std::string& line : Lines(ReadFile(root() / "expected.jsonl"))) {
      json j = json::parse(line);
      Expected e{j["repository"], j["digest"], j.value("tag", ""), j["verdict"],
                 j["reason"]};
      expected_->push_back(e);
    }
    for (const std::string& line :
         Lines(ReadFile(root() / "expected-offline.jsonl"))) {
      json j = json::parse(line);
      Expected e{j["repository"], j["digest"], j.value("tag", ""), j["verdict"],
                 j["reason"]};
      offline_->push_back(e);
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static fs::path root() { return dir_->path() / "gen"; }
  static fs::path mirror() { return root() / "mirror"; }
  static fs::path config() { return root() / "config"; }
  // expected(): outcomes with the mirror's revocation data available;
  // offline(): with none (revocable certificates are then unknown).
  static const std::vector<Expected>& expected() { return *expected_; }
  static const std::vector<Expected>& offline() { return *offline_; }

  static const Expected& Case(const std::string& tag) {
    for (const Expected& e : *expected_) {
      if (e.tag == tag) {
        return e;
      }
    }
    ADD_FAILURE() << "no case " << tag;
    static Expected none;
    return none;
  }

  // Verify runs `trustgate verify` on `mirror_dir` with jsonl output and
  // extra arguments; returns the result and the parsed verdicts by
  // "repository@digest".
  struct Verified {
    CommandResult result;
    std::map<std::string, json> by_key;
  };
  Verified Verify(const std::vector<std::string>& extra,
                  const fs::path& mirror_dir = mirror()) {
    std::vector<std::string> argv = {Binary("TRUSTGATE_BIN"),
                                     "verify",
                                     "--mirror",
                                     mirror_dir.string(),
                                     "--at",
                                     kAt,
                                     "--format",
                                     "jsonl"};
    bool has_config = false;
    bool has_index = false;
    for (const std::string& a : extra) {
      has_config = has_config || a == "--policy" || a == "--config";
      has_index = has_index || a == "--index";
    }
    if (!has_config) {
      argv.insert(argv.end(), {"--config", config().string()});
    }
    if (!has_index) {
      argv.push_back("--no-index");
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    Verified v;
    v.result = RunCommand(argv, scratch_.path());
    for (const std::string& line : Lines(v.result.out)) {
      json j = json::parse(line, nullptr, false);
      EXPECT_TRUE(j.is_object()) << line;
      if (j.is_object()) {
        v.by_key[j["repository"].get<std::string>() + "@" +
                 j["digest"].get<std::string>()] = j;
      }
    }
    return v;
  }

  // PolicyWith writes a copy of the generated policy where every
  // statement's signatureVerification is `verification`; returns the
  // arguments selecting it.
  std::vector<std::string> PolicyWith(const json& verification) {
    json policy = json::parse(ReadFile(config() / "trustpolicy.oci.json"));
    for (json& statement : policy["trustPolicies"]) {
      statement["signatureVerification"] = verification;
      if (verification["level"] == "skip") {
        statement.erase("trustStores");
        statement.erase("trustedIdentities");
      }
    }
    fs::path file =
        scratch_.path() / ("policy-" + std::to_string(++n_) + ".json");
    WriteFile(file, policy.dump(2));
    return {"--policy", file.string(), "--trust-store",
            (config() / "truststore").string()};
  }

  // Outcome returns "verdict/reason" of the case tagged `tag` in `v`.
  std::string Outcome(const Verified& v, const std::string& tag) {
    const Expected& e = Case(tag);
    auto it = v.by_key.find(e.repository + "@" + e.digest);
    if (it == v.by_key.end()) {
      return "absent";
    }
    return it->second["verdict"].get<std::string>() + "/" +
           it->second["reason"].get<std::string>();
  }

  TempDir scratch_;
  int n_ = 0;
  static TempDir* dir_;
  static std::vector<Expected>* expected_;
  static std::vector<Expected>* offline_;
};

TempDir* TestMirror::dir_ = nullptr;
std::vector<Expected>* TestMirror::expected_ = new std::vector<Expected>();
std::vector<Expected>* TestMirror::offline_ = new std::vector<Expected>();

// ExpectAll compares every verdict of `v` with `want`.
void ExpectAll(const std::map<std::string, json>& by_key,
               const std::vector<Expected>& want) {
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(by_key.size(), want.size());
  for (const Expected& e : want) {
    SCOPED_TRACE(e.tag + " " + e.repository + "@" + e.digest);
    auto it = by_key.find(e.repository + "@" + e.digest);
    ASSERT_NE(it, by_key.end());
    EXPECT_EQ(it->second["verdict"], e.verdict);
    EXPECT_EQ(it->second["reason"], e.reason) << it->second.dump();
  }
}

TEST_F(TestMirror, EveryArtifactAsExpectedWithoutRevocationData) {
  Verified v = Verify({"--offline"});
  EXPECT_EQ(v.result.exit_code, 1) << v.result.err;  // bad cases fail
  ExpectAll(v.by_key, offline());
}

TEST_F(TestMirror, EveryArtifactAsExpectedWithAnOfflineCrlDir) {
  Verified v =
      Verify({"--offline", "--crl-dir", (root() / "revocation").string()});
  EXPECT_EQ(v.result.exit_code, 1) << v.result.err;
  ExpectAll(v.by_key, expected());
  // Each revocable certificate's result says where its data came from.
  const Expected& e = Case("crl-good");
  const json& sig =
      v.by_key[e.repository + "@" + e.digest]["signatures"].back();
  ASSERT_FALSE(sig["revocation"].empty());
  EXPECT_EQ(sig["revocation"][0]["status"], "good");
  EXPECT_EQ(sig["revocation"][0]["source"], "crl-dir");
}

// Every reason code but `skipped` (which needs a skip statement: see
// SkipLevelSkipsEverythingEvenUnsigned) is produced by the test preset.
TEST_F(TestMirror, CoversEveryReasonCode) {
  std::set<std::string> reasons;
  for (const Expected& e : expected()) {
    reasons.insert(e.reason);
  }
  for (const char* r :
       {"ok", "unsigned", "no-policy", "integrity", "authenticity",
        "trusted-identity", "expiry", "authentic-timestamp", "blob-integrity",
        "blob-missing", "manifest-integrity", "malformed", "revocation",
        "plugin"}) {
    EXPECT_TRUE(reasons.count(r)) << r;
  }
}

TEST_F(TestMirror, VerifiedArtifactsCarryProvenance) {
  Verified v = Verify({});
  const Expected& e = Case("good-jws-es256");
  const json& j = v.by_key[e.repository + "@" + e.digest];
  ASSERT_EQ(j["verdict"], "verified");
  ASSERT_FALSE(j["signatures"].empty());
  const json& sig = j["signatures"].back();
  EXPECT_EQ(sig["envelope"], "jws");
  EXPECT_EQ(sig["scheme"], "notary.x509");
  EXPECT_EQ(sig["trustStore"].get<std::string>().rfind("ca:", 0), 0u);
  EXPECT_GE(sig["chain"].size(), 2u);
  EXPECT_EQ(sig["chain"][0].get<std::string>().size(), 64u);
  EXPECT_NE(sig["identity"].get<std::string>().find("O=Acme Corp"),
            std::string::npos);
  for (const char* check : {"integrity", "authenticity", "trustedIdentity",
                            "expiry", "authenticTimestamp", "revocation"}) {
    EXPECT_EQ(sig["validations"][check], "pass") << check;
  }
  EXPECT_EQ(sig["validations"]["plugin"], "skipped");
  EXPECT_GT(j["blobs"]["checked"].get<int>(), 0);
  EXPECT_EQ(j["blobs"]["bad"], 0);

  const Expected& sa = Case("good-signing-authority-cose");
  const json& k = v.by_key[sa.repository + "@" + sa.digest];
  EXPECT_EQ(k["verdict"], "verified");
  EXPECT_EQ(k["signatures"].back()["scheme"], "notary.x509.signingAuthority");
  EXPECT_EQ(k["signatures"].back()["envelope"], "cose");
  EXPECT_FALSE(k["signatures"].back()["authenticSigningTime"].is_null());
  EXPECT_EQ(k["signatures"].back()["trustStore"].get<std::string>().rfind(
                "signingAuthority:", 0),
            0u);
}

TEST_F(TestMirror, PermissiveLogsExpiryAndTimestampButEnforcesAuthenticity) {
  Verified v = Verify(PolicyWith({{"level", "permissive"}}));
  EXPECT_EQ(Outcome(v, "bad-expired-signature"), "verified/ok");
  EXPECT_EQ(Outcome(v, "bad-expired-cert"), "verified/ok");
  EXPECT_EQ(Outcome(v, "bad-wrong-chain"), "failed/authenticity");
  EXPECT_EQ(Outcome(v, "bad-identity"), "failed/trusted-identity");
  EXPECT_EQ(Outcome(v, "bad-tampered-payload"), "failed/integrity");
  EXPECT_EQ(Outcome(v, "unsigned"), "failed/unsigned");
  const Expected& e = Case("bad-expired-signature");
  EXPECT_EQ(v.by_key[e.repository + "@" + e.digest]["signatures"]
                .back()["validations"]["expiry"],
            "logged");
}

TEST_F(TestMirror, AuditLogsAuthenticityButEnforcesIntegrity) {
  Verified v = Verify(PolicyWith({{"level", "audit"}}));
  EXPECT_EQ(Outcome(v, "bad-wrong-chain"), "verified/ok");
  EXPECT_EQ(Outcome(v, "bad-identity"), "verified/ok");
  EXPECT_EQ(Outcome(v, "bad-expired-cert"), "verified/ok");
  EXPECT_EQ(Outcome(v, "bad-corrupted-signature"), "failed/integrity");
  EXPECT_EQ(Outcome(v, "bad-target-mismatch"), "failed/integrity");
  EXPECT_EQ(Outcome(v, "unsigned"), "failed/unsigned");
  const Expected& e = Case("bad-wrong-chain");
  const json& sig =
      v.by_key[e.repository + "@" + e.digest]["signatures"].back();
  EXPECT_EQ(sig["validations"]["authenticity"], "logged");
}

TEST_F(TestMirror, RevocationSkipOverrideAcceptsUnknownStatus) {
  Verified skip = Verify(PolicyWith(
      {{"level", "strict"}, {"override", {{"revocation", "skip"}}}}));
  EXPECT_EQ(Outcome(skip, "revocation-unknown"), "verified/ok");
  Verified log = Verify(PolicyWith({{"level", "permissive"}}));
  EXPECT_EQ(Outcome(log, "revocation-unknown"), "verified/ok");
  const Expected& e = Case("revocation-unknown");
  EXPECT_EQ(log.by_key[e.repository + "@" + e.digest]["signatures"]
                .back()["validations"]["revocation"],
            "logged");
}

TEST_F(TestMirror, RevokedUnknownGoodAtEveryLevel) {
  // {level, override} -> outcome of crl-revoked, revocation-unknown,
  // crl-good and ts-revoked-tsa (a revoked TSA fails the timestamp check).
  struct Row {
    json verification;
    const char* revoked;
    const char* unknown;
    const char* tsa_revoked;
  };
  const std::vector<Row> rows = {
      {{{"level", "strict"}},
       "failed/revocation",
       "failed/revocation",
       "failed/authentic-timestamp"},
      {{{"level", "permissive"}}, "verified/ok", "verified/ok", "verified/ok"},
      {{{"level", "audit"}}, "verified/ok", "verified/ok", "verified/ok"},
      {{{"level", "strict"}, {"override", {{"revocation", "log"}}}},
       "verified/ok",
       "verified/ok",
       "failed/authentic-timestamp"},
      {{{"level", "strict"}, {"override", {{"revocation", "skip"}}}},
       "verified/ok",
       "verified/ok",
       "failed/authentic-timestamp"},
      {{{"level", "permissive"}, {"override", {{"revocation", "enforce"}}}},
       "failed/revocation",
       "failed/revocation",
       "verified/ok"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.verification.dump());
    std::vector<std::string> args = PolicyWith(row.verification);
    args.insert(args.end(),
                {"--offline", "--crl-dir", (root() / "revocation").string()});
    Verified v = Verify(args);
    EXPECT_EQ(Outcome(v, "crl-revoked"), row.revoked);
    EXPECT_EQ(Outcome(v, "crl-delta-revoked"), row.revoked);
    EXPECT_EQ(Outcome(v, "ocsp-revoked"), row.revoked);
    EXPECT_EQ(Outcome(v, "revocation-unknown"), row.unknown);
    EXPECT_EQ(Outcome(v, "crl-expired"), row.unknown);
    EXPECT_EQ(Outcome(v, "crl-good"), "verified/ok");
    EXPECT_EQ(Outcome(v, "ocsp-good"), "verified/ok");
    EXPECT_EQ(Outcome(v, "ts-revoked-tsa"), row.tsa_revoked);
    const Expected& e = Case("crl-revoked");
    const json& sig =
        v.by_key[e.repository + "@" + e.digest]["signatures"].back();
    std::string want =
        row.verification.contains("override") &&
                row.verification["override"]["revocation"] == "skip"
            ? "skipped"
        : std::string(row.revoked) == "verified/ok" ? "logged"
                                                    : "fail";
    EXPECT_EQ(sig["validations"]["revocation"], want);
  }
}

// trust-store-trust-policy.md "Timestamp countersignature verification"
// (notation-go verifyTimestamp): whether the token is checked depends on
// the authenticTimestamp action, a tsa store in the statement, and
// verifyTimestamp with the chain's expiry; without a check, every chain
// certificate must be valid at the verification time.
TEST_F(TestMirror, TimestampTriggerConditions) {
  struct Row {
    const char* verify_timestamp;
    bool tsa_store;
    const char* authentic_timestamp;  // override, "" for the level's
    // expired leaf + good token, valid leaf + no token, valid leaf +
    // garbage token, expired leaf + token after its expiry, valid leaf +
    // no token (the legacy repository)
    std::array<const char*, 5> want;
  };
  const char* ok = "verified/ok";
  const char* ts = "failed/authentic-timestamp";
  const std::vector<Row> rows = {
      {"always", true, "", {ok, ts, ts, ts, ts}},
      {"afterCertExpiry", true, "", {ok, ok, ok, ts, ok}},
      {"always", false, "", {ts, ok, ok, ts, ok}},
      {"afterCertExpiry", false, "", {ts, ok, ok, ts, ok}},
      {"always", true, "log", {ok, ok, ok, ok, ok}},
      {"afterCertExpiry", true, "log", {ok, ok, ok, ok, ok}},
      // Only revocation may be overridden to skip: a configuration error.
      {"always", true, "skip", {}},
  };
  const std::array<const char*, 5> cases = {
      "ts-expired-cert-rescued", "ts-missing", "ts-garbage-token",
      "ts-outside-validity", "ts-valid-cert-after-expiry-policy"};
  for (const Row& row : rows) {
    json policy = json::parse(ReadFile(config() / "trustpolicy.oci.json"));
    for (json& statement : policy["trustPolicies"]) {
      const std::string name = statement["name"];
      if (name != "releases-timestamped" && name != "releases-legacy") {
        continue;
      }
      json& sv = statement["signatureVerification"];
      sv["verifyTimestamp"] = row.verify_timestamp;
      if (std::string(row.authentic_timestamp).empty()) {
        sv.erase("override");
      } else {
        sv["override"] = {{"authenticTimestamp", row.authentic_timestamp}};
      }
      if (!row.tsa_store) {
        json stores = json::array();
        for (const json& store : statement["trustStores"]) {
          if (store.get<std::string>().rfind("tsa:", 0) != 0) {
            stores.push_back(store);
          }
        }
        statement["trustStores"] = stores;
      }
    }
    fs::path file =
        scratch_.path() / ("ts-policy-" + std::to_string(++n_) + ".json");
    WriteFile(file, policy.dump(2));
    Verified v = Verify({"--policy", file.string(), "--trust-store",
                         (config() / "truststore").string(), "--offline",
                         "--crl-dir", (root() / "revocation").string()});
    if (row.want[0] == nullptr) {
      EXPECT_EQ(v.result.exit_code, 2);
      EXPECT_TRUE(v.by_key.empty());
      continue;
    }
    for (size_t i = 0; i < cases.size(); ++i) {
      EXPECT_EQ(Outcome(v, cases[i]), row.want[i])
          << cases[i] << " with verifyTimestamp " << row.verify_timestamp
          << (row.tsa_store ? ", a tsa store" : ", no tsa store")
          << ", authenticTimestamp " << row.authentic_timestamp;
    }
  }
}

TEST_F(TestMirror, PluginSignaturesFailAtEveryLevelButSkip) {
  for (const char* level : {"strict", "permissive", "audit"}) {
    Verified v = Verify(PolicyWith({{"level", level}}));
    EXPECT_EQ(Outcome(v, "plugin-required"), "failed/plugin") << level;
  }
}

// EmergencyPolicy writes an emergency file that puts payments/api under an
// audit-level statement until `expires`; returns its path.
fs::path WriteEmergencyPolicy(const fs::path& config_dir, const fs::path& dir,
                              const std::string& expires) {
  json base = json::parse(ReadFile(config_dir / "trustpolicy.oci.json"));
  json statement;
  for (const json& s : base["trustPolicies"]) {
    if (s["name"] == "payments") {
      statement = s;
    }
  }
  statement["name"] = "payments-api-emergency";
  statement["registryScopes"] = {"registry.example.com/payments/api"};
  statement["signatureVerification"] = {{"level", "audit"}};
  json emergency = {{"version", "1.0"},
                    {"trustgate",
                     {{"emergency",
                       {{"expires", expires},
                        {"approvedBy", "security-oncall@example.com"},
                        {"reason", "INC-4711: payments CA rotated early"}}}}},
                    {"trustPolicies", {statement}}};
  fs::path file = dir / ("emergency-" + expires + ".json");
  WriteFile(file, emergency.dump(2));
  return file;
}

TEST_F(TestMirror, EmergencyPolicyAppliesUntilItExpiresAndMarksItsVerdicts) {
  const Expected& rescued = Case("bad-wrong-chain");  // payments/api
  fs::path file = WriteEmergencyPolicy(config(), scratch_.path(),
                                       "2026-06-01T12:00:00Z");  // kAt + 12h
  Verified v = Verify({"--emergency-policy", file.string()});
  EXPECT_EQ(v.result.exit_code, 1) << v.result.err;  // other repos still fail
  EXPECT_NE(v.result.err.find("EMERGENCY POLICY"), std::string::npos);
  const json& r = v.by_key[rescued.repository + "@" + rescued.digest];
  EXPECT_EQ(r["verdict"], "verified");
  EXPECT_EQ(r["policy"], "payments-api-emergency");
  EXPECT_EQ(r["emergency"], true);
  EXPECT_EQ(r["emergencyApprovedBy"], "security-oncall@example.com");
  EXPECT_EQ(r["emergencyReason"], "INC-4711: payments CA rotated early");
  EXPECT_EQ(r["emergencyExpires"], "2026-06-01T12:00:00Z");
  EXPECT_EQ(r["validUntil"], "2026-06-01T12:00:00Z");
  size_t marked = 0;
  for (const auto& [key, verdict] : v.by_key) {
    bool in_scope =
        verdict["repository"] == "registry.example.com/payments/api";
    EXPECT_EQ(verdict.contains("emergency"), in_scope) << key;
    marked += in_scope ? 1 : 0;
  }
  EXPECT_GT(marked, 1u);
  // payments/storage keeps the base statement and its verdicts.
  Verified base = Verify({});
  for (const auto& [key, verdict] : base.by_key) {
    if (verdict["repository"] != "registry.example.com/payments/api") {
      EXPECT_EQ(v.by_key[key]["verdict"], verdict["verdict"]) << key;
      EXPECT_EQ(v.by_key[key]["reason"], verdict["reason"]) << key;
    }
  }
  // The index keeps the mark: export prints it back.
  fs::path index = scratch_.path() / "emergency.db";
  Verified indexed =
      Verify({"--emergency-policy", file.string(), "--index", index.string()});
  CommandResult exported =
      RunCommand({Binary("TRUSTGATE_BIN"), "export", "--index", index.string(),
                  "--format", "jsonl"},
                 scratch_.path());
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  bool found = false;
  for (const std::string& line : Lines(exported.out)) {
    json j = json::parse(line);
    if (j["digest"] == rescued.digest) {
      found = true;
      EXPECT_EQ(j["emergency"], true);
      EXPECT_EQ(j["emergencyApprovedBy"], "security-oncall@example.com");
    }
  }
  EXPECT_TRUE(found);
  // `check` accepts the verdict while the emergency lasts, not after.
  const Expected& good = Case("good-jws-es256");  // payments/api
  std::string reference = good.repository + "@" + good.digest;
  for (auto [at, want] : {std::pair{"2026-06-01T06:00:00Z", 0},
                          std::pair{"2026-06-01T13:00:00Z", 1}}) {
    CommandResult checked =
        RunCommand({Binary("TRUSTGATE_BIN"), "check", "--index", index.string(),
                    "--at", at, reference},
                   scratch_.path());
    EXPECT_EQ(checked.exit_code, want) << at << " " << checked.out;
  }
}

TEST_F(TestMirror, ExpiredOrTooLongEmergencyPolicyVerifiesNothing) {
  // Expired before --at: exit 2, and no verdict at all.
  fs::path expired =
      WriteEmergencyPolicy(config(), scratch_.path(), "2026-05-31T00:00:00Z");
  Verified v = Verify({"--emergency-policy", expired.string()});
  EXPECT_EQ(v.result.exit_code, 2);
  EXPECT_TRUE(v.by_key.empty());
  EXPECT_NE(v.result.err.find("expired"), std::string::npos) << v.result.err;
  // 48 h of lifetime left is over the default 24 h maximum...
  fs::path long_lived =
      WriteEmergencyPolicy(config(), scratch_.path(), "2026-06-03T00:00:00Z");
  v = Verify({"--emergency-policy", long_lived.string()});
  EXPECT_EQ(v.result.exit_code, 2);
  EXPECT_TRUE(v.by_key.empty());
  // ...and allowed with --max-emergency-ttl 72h.
  v = Verify({"--emergency-policy", long_lived.string(), "--max-emergency-ttl",
              "72h"});
  EXPECT_EQ(v.result.exit_code, 1) << v.result.err;
  EXPECT_EQ(Outcome(v, "bad-wrong-chain"), "verified/ok");
  // Bad durations and missing files are usage errors.
  v = Verify({"--emergency-policy", long_lived.string(), "--max-emergency-ttl",
              "soon"});
  EXPECT_EQ(v.result.exit_code, 2);
  v = Verify(
      {"--emergency-policy", (scratch_.path() / "absent.json").string()});
  EXPECT_EQ(v.result.exit_code, 2);
  EXPECT_TRUE(v.by_key.empty());
}

TEST_F(TestMirror, SkipLevelSkipsEverythingEvenUnsigned) {
  Verified v = Verify(PolicyWith({{"level", "skip"}}));
  EXPECT_EQ(Outcome(v, "unsigned"), "skipped/skipped");
  EXPECT_EQ(Outcome(v, "bad-tampered-payload"), "skipped/skipped");
  EXPECT_EQ(Outcome(v, "good-jws-es256"), "skipped/skipped");
}

TEST_F(TestMirror, OverridesChangeOnlyTheirValidation) {
  Verified strict_log = Verify(
      PolicyWith({{"level", "strict"},
                  {"override", {{"expiry", "log"}, {"authenticity", "log"}}}}));
  EXPECT_EQ(Outcome(strict_log, "bad-expired-signature"), "verified/ok");
  EXPECT_EQ(Outcome(strict_log, "bad-wrong-chain"), "verified/ok");
  EXPECT_EQ(Outcome(strict_log, "bad-expired-cert"),
            "failed/authentic-timestamp");

  Verified permissive_enforce =
      Verify(PolicyWith({{"level", "permissive"},
                         {"override", {{"authenticTimestamp", "enforce"}}}}));
  EXPECT_EQ(Outcome(permissive_enforce, "bad-expired-cert"),
            "failed/authentic-timestamp");
  EXPECT_EQ(Outcome(permissive_enforce, "bad-expired-signature"),
            "verified/ok");

  Verified audit_enforce = Verify(PolicyWith(
      {{"level", "audit"}, {"override", {{"authenticity", "enforce"}}}}));
  EXPECT_EQ(Outcome(audit_enforce, "bad-wrong-chain"), "failed/authenticity");
  EXPECT_EQ(Outcome(audit_enforce, "bad-expired-signature"), "verified/ok");
}

TEST_F(TestMirror, IntegrityOverrideIsAConfigurationError) {
  Verified v = Verify(
      PolicyWith({{"level", "strict"}, {"override", {{"integrity", "log"}}}}));
  EXPECT_EQ(v.result.exit_code, 2);
  EXPECT_TRUE(v.by_key.empty());
  EXPECT_NE(v.result.err.find("integrity"), std::string::npos);
}

TEST_F(TestMirror, NoBlobsSkipsBlobChecks) {
  Verified v = Verify({"--no-blobs"});
  EXPECT_EQ(Outcome(v, "bad-blob-tampered"), "verified/ok");
  EXPECT_EQ(Outcome(v, "bad-blob-missing"), "verified/ok");
  // Manifest integrity is still checked: it is what the signature signs.
  EXPECT_EQ(Outcome(v, "bad-manifest-tampered"), "failed/manifest-integrity");
  const Expected& e = Case("good-jws-es256");
  EXPECT_EQ(v.by_key[e.repository + "@" + e.digest]["blobs"]["checked"], 0);
}

TEST_F(TestMirror, IndexExportAndCheck) {
  fs::path index = scratch_.path() / "index.db";
  Verified v = Verify({"--index", index.string()});
  ASSERT_EQ(v.result.exit_code, 1);

  CommandResult exported =
      RunCommand({Binary("TRUSTGATE_BIN"), "export", "--index", index.string(),
                  "--format", "jsonl"},
                 scratch_.path());
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  std::map<std::string, std::string> from_index;
  for (const std::string& line : Lines(exported.out)) {
    json j = json::parse(line);
    from_index[j["repository"].get<std::string>() + "@" +
               j["digest"].get<std::string>()] = line;
  }
  ASSERT_EQ(from_index.size(), v.by_key.size());
  for (const auto& [key, j] : v.by_key) {
    EXPECT_EQ(json::parse(from_index[key]), j) << key;
  }

  // Every verified signature's trust anchor is recorded for rotation
  // queries.
  CommandResult anchors = RunCommand(
      {"sqlite3", index.string(),
       "SELECT count(*) FROM signatures s JOIN verdicts v ON v.repository = "
       "s.repository AND v.digest = s.artifact_digest WHERE v.verdict = "
       "'verified' AND s.reason = 'ok' AND s.anchor_fingerprint IS NULL"},
      scratch_.path());
  EXPECT_EQ(anchors.exit_code, 0) << anchors.err;
  EXPECT_EQ(anchors.out, "0\n");

  const Expected& good = Case("good-cose-ps256");
  const Expected& bad = Case("bad-identity");
  std::string good_ref = good.repository + "@" + good.digest;
  std::string bad_ref = bad.repository + "@" + bad.digest;
  auto check = [&](std::vector<std::string> refs) {
    std::vector<std::string> argv = {
        Binary("TRUSTGATE_BIN"), "check", "--index",
        index.string(),          "--at",  kAt};
    argv.insert(argv.end(), refs.begin(), refs.end());
    return RunCommand(argv, scratch_.path());
  };
  EXPECT_EQ(check({good_ref}).exit_code, 0);
  EXPECT_EQ(check({bad_ref}).exit_code, 1);
  EXPECT_EQ(check({good_ref, bad_ref}).exit_code, 1);
  std::string unknown = good.repository + "@sha256:" + std::string(64, 'a');
  CommandResult u = check({unknown});
  EXPECT_EQ(u.exit_code, 1);
  EXPECT_NE(u.out.find("unknown"), std::string::npos);
  // A verdict past its valid_until (certificates expire) is not an answer.
  CommandResult late =
      RunCommand({Binary("TRUSTGATE_BIN"), "check", "--index", index.string(),
                  "--at", "2099-01-01T00:00:00Z", good_ref},
                 scratch_.path());
  EXPECT_EQ(late.exit_code, 1);
}

TEST_F(TestMirror, TargetsNarrowTheRun) {
  const Expected& e = Case("good-jws-es384");
  Verified by_tag = Verify({e.repository + ":" + e.tag});
  EXPECT_EQ(by_tag.result.exit_code, 0) << by_tag.result.err;
  ASSERT_EQ(by_tag.by_key.size(), 1u);
  EXPECT_EQ(by_tag.by_key.begin()->second["digest"], e.digest);

  Verified by_digest = Verify({e.repository + "@" + e.digest});
  EXPECT_EQ(by_digest.result.exit_code, 0);
  EXPECT_EQ(by_digest.by_key.size(), 1u);

  Verified missing = Verify({"registry.example.com/nope/nothing"});
  EXPECT_EQ(missing.result.exit_code, 1);
  EXPECT_TRUE(missing.by_key.empty());

  Verified bad = Verify({e.repository + "@sha256:xyz"});
  EXPECT_EQ(bad.result.exit_code, 2);
}

TEST_F(TestMirror, ConfigurationErrorsExitTwoAndVerifyNothing) {
  Verified no_policy =
      Verify({"--config", (scratch_.path() / "empty").string()});
  EXPECT_EQ(no_policy.result.exit_code, 2);
  EXPECT_TRUE(no_policy.by_key.empty());

  fs::path bad = scratch_.path() / "bad.json";
  WriteFile(bad, "{\"version\": \"1.0\", \"trustPolicies\": [");
  Verified malformed = Verify({"--policy", bad.string(), "--trust-store",
                               (config() / "truststore").string()});
  EXPECT_EQ(malformed.result.exit_code, 2);

  Verified no_store =
      Verify({"--policy", (config() / "trustpolicy.oci.json").string(),
              "--trust-store", (scratch_.path() / "absent").string()});
  EXPECT_EQ(no_store.result.exit_code, 2);

  Verified bad_at = Verify({"--at", "yesterday"});
  EXPECT_EQ(bad_at.result.exit_code, 2);

  Verified no_mirror = Verify({}, scratch_.path() / "no-such-mirror");
  EXPECT_EQ(no_mirror.result.exit_code, 2);
}

TEST_F(TestMirror, QuietDropsTheSummaryLine) {
  Verified loud = Verify({});
  EXPECT_NE(loud.result.err.find("artifacts:"), std::string::npos);
  // Not a terminal: never a progress line.
  EXPECT_EQ(loud.result.err.find("ETA"), std::string::npos);
  Verified quiet = Verify({"--quiet"});
  // Warnings stay; the summary goes.
  EXPECT_EQ(quiet.result.err.find("artifacts:"), std::string::npos);
  EXPECT_EQ(quiet.by_key.size(), loud.by_key.size());
}

TEST_F(TestMirror, OutputFormatsAgree) {
  const Expected& e = Case("good-jws-ps256");
  std::string target = e.repository + "@" + e.digest;
  CommandResult json_out =
      RunCommand({Binary("TRUSTGATE_BIN"), "verify", "--mirror",
                  mirror().string(), "--config", config().string(),
                  "--no-index", "--at", kAt, "--format", "json", target},
                 scratch_.path());
  ASSERT_EQ(json_out.exit_code, 0) << json_out.err;
  json doc = json::parse(json_out.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << json_out.out;
  ASSERT_EQ(doc["artifacts"].size(), 1u);
  EXPECT_EQ(doc["artifacts"][0]["verdict"], "verified");
  EXPECT_EQ(doc["summary"]["verified"], 1);

  CommandResult text =
      RunCommand({Binary("TRUSTGATE_BIN"), "verify", "--mirror",
                  mirror().string(), "--config", config().string(),
                  "--no-index", "--at", kAt, "--format", "text", target},
                 scratch_.path());
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("VERIFIED"), std::string::npos);
}

// ServeTestMirror generates the `test` preset into `out` for `server`'s
// address and serves its revocation directory (CRLs, OCSP responses),
// each answer after `delay`.
void ServeTestMirror(HttpServer& server, const fs::path& out,
                     const fs::path& scratch, std::chrono::milliseconds delay) {
  CommandResult gen =
      RunCommand({Binary("MKMIRROR_BIN"), "--preset", "test", "--seed", "7",
                  "--out", out.string(), "--revocation-url", server.Url("")},
                 scratch);
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const fs::path files = out / "revocation";
  server.Handle("/", [files, delay](const HttpServer::Request& request) {
    HttpServer::Response response;
    fs::path file = files / request.path.substr(1);
    if (request.path.size() < 2 ||
        request.path.find("..") != std::string::npos ||
        !fs::is_regular_file(file)) {
      response.status = 404;
      return response;
    }
    response.body = ReadFile(file);
    response.delay = delay;
    return response;
  });
}

// Revocation data over real HTTP on 127.0.0.1: a mirror generated for the
// test server's address, its CRLs and OCSP responses served from mkmirror's
// revocation directory; a second run answers from the index's cache.
TEST(RevocationOverHttp, FetchesOncePerRunAndReusesTheIndexCache) {
  TempDir dir;
  HttpServer server;
  fs::path out = dir.path() / "gen";
  ASSERT_NO_FATAL_FAILURE(ServeTestMirror(server, out, dir.path() / "scratch",
                                          std::chrono::milliseconds(0)));
  std::map<std::string, json> want;
  for (const std::string& line : Lines(ReadFile(out / "expected.jsonl"))) {
    json j = json::parse(line);
    want[j["repository"].get<std::string>() + "@" +
         j["digest"].get<std::string>()] = j;
  }
  fs::path index = dir.path() / "index.db";
  auto verify = [&] {
    return RunCommand(
        {"env", "NOTATION_CACHE=" + (dir.path() / "cache").string(),
         Binary("TRUSTGATE_BIN"), "verify", "--mirror",
         (out / "mirror").string(), "--config", (out / "config").string(),
         "--index", index.string(), "--at", kAt, "--format", "jsonl"},
        dir.path() / "scratch");
  };
  CommandResult first = verify();
  EXPECT_EQ(first.exit_code, 1) << first.err;
  size_t checked = 0;
  for (const std::string& line : Lines(first.out)) {
    json j = json::parse(line);
    const json& w = want[j["repository"].get<std::string>() + "@" +
                         j["digest"].get<std::string>()];
    EXPECT_EQ(j["reason"], w["reason"]) << w.dump();
    ++checked;
  }
  EXPECT_EQ(checked, want.size());
  const int fetched = server.TotalRequests();
  EXPECT_GT(fetched, 0);
  // Shared per run: far fewer requests than signatures checked.
  EXPECT_LT(static_cast<size_t>(fetched), want.size());
  server.ResetCounts();
  CommandResult second = verify();
  EXPECT_EQ(second.exit_code, 1) << second.err;
  // Cached data is reused; only answers that could not be cached (404s,
  // inconclusive OCSP) are asked again.
  EXPECT_LT(server.TotalRequests(), fetched / 2) << "second run uses caches";
  EXPECT_EQ(Lines(second.out).size(), want.size());
}

TEST(RevocationOverHttp, TimeoutFlagsBoundEachRequest) {
  TempDir dir;
  HttpServer server;
  fs::path out = dir.path() / "gen";
  // Every answer is right but comes after 1.5 s.
  ASSERT_NO_FATAL_FAILURE(ServeTestMirror(server, out, dir.path() / "scratch",
                                          std::chrono::milliseconds(1500)));
  std::map<std::string, std::string> digest_of;  // tag -> repo@digest
  for (const std::string& line : Lines(ReadFile(out / "expected.jsonl"))) {
    json j = json::parse(line);
    digest_of[j.value("tag", "")] = j["repository"].get<std::string>() + "@" +
                                    j["digest"].get<std::string>();
  }
  auto verify = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {
        "env",
        "NOTATION_CACHE=" + (dir.path() / "cache").string(),
        Binary("TRUSTGATE_BIN"),
        "verify",
        "--mirror",
        (out / "mirror").string(),
        "--config",
        (out / "config").string(),
        "--no-index",
        "--at",
        kAt,
        "--format",
        "jsonl"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    CommandResult r = RunCommand(argv, dir.path() / "scratch");
    std::map<std::string, std::string> outcome;
    for (const std::string& line : Lines(r.out)) {
      json j = json::parse(line);
      outcome[j["repository"].get<std::string>() + "@" +
              j["digest"].get<std::string>()] =
          j["verdict"].get<std::string>() + "/" +
          j["reason"].get<std::string>();
    }
    return std::pair{r, outcome};
  };
  // 200 ms is too short for the slow responder: revocation is unknown.
  auto [r, outcome] =
      verify({"--crl-timeout", "200ms", "--ocsp-timeout", "200ms"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(outcome[digest_of["crl-good"]], "failed/revocation");
  EXPECT_EQ(outcome[digest_of["ocsp-good"]], "failed/revocation");
  // Bad values are usage errors: nothing verified.
  for (const char* bad : {"0", "soon", "-1s", "11m"}) {
    auto [bad_r, bad_outcome] = verify({"--crl-timeout", bad});
    EXPECT_EQ(bad_r.exit_code, 2) << bad;
    EXPECT_TRUE(bad_outcome.empty()) << bad;
  }
  auto [ocsp_r, ocsp_outcome] = verify({"--ocsp-timeout", "x"});
  EXPECT_EQ(ocsp_r.exit_code, 2);
}

// Hostile layouts: one broken repository never stops the run for others.
class HostileMirror : public TestMirror {
 protected:
  void SetUp() override {
    copy_ = scratch_.path() / "mirror";
    fs::copy(mirror(), copy_, fs::copy_options::recursive);
  }
  fs::path RepoDir(const std::string& tag) {
    const Expected& e = Case(tag);
    return copy_ / e.repository;
  }
  fs::path copy_;
};

TEST_F(HostileMirror, GarbageIndexJsonFailsOnlyItsRepository) {
  fs::path repo = RepoDir("good-jws-es256");
  WriteFile(repo / "index.json", "{ not json");
  Verified v = Verify({}, copy_);
  EXPECT_EQ(v.result.exit_code, 1);
  EXPECT_EQ(Outcome(v, "good-jws-es256"), "absent");
  EXPECT_NE(v.result.err.find("index.json"), std::string::npos);
  // Another team's repository still verifies.
  EXPECT_EQ(Outcome(v, "good-signing-authority-jws"), "verified/ok");
}

TEST_F(HostileMirror, BadOciLayoutFileFailsItsArtifactsAsMalformed) {
  WriteFile(RepoDir("good-jws-es521") / "oci-layout", "not a layout");
  Verified v = Verify({}, copy_);
  EXPECT_EQ(Outcome(v, "good-jws-es521"), "failed/malformed");
  EXPECT_EQ(Outcome(v, "good-signing-authority-jws"), "verified/ok");
}

// Sha256Of returns the hex SHA-256 of a file (coreutils, independent of
// the code under test).
std::string Sha256Of(const fs::path& file, const fs::path& scratch) {
  CommandResult r = RunCommand({"sha256sum", file.string()}, scratch);
  return r.out.substr(0, 64);
}

// AddSignature adds a signature manifest for `subject` whose single layer
// is `envelope` (stored as a blob) to the layout at `repo`.
void AddSignature(const fs::path& repo, const json& subject,
                  const std::string& envelope, const fs::path& scratch) {
  fs::path tmp = scratch / "envelope.tmp";
  WriteFile(tmp, envelope);
  std::string hex = Sha256Of(tmp, scratch);
  fs::rename(tmp, repo / "blobs" / "sha256" / hex);
  json manifest = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"artifactType", "application/vnd.cncf.notary.signature"},
      {"config",
       {{"mediaType", "application/vnd.oci.empty.v1+json"},
        {"digest",
         "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c"
         "060f61caaff8a"},
        {"size", 2}}},
      {"layers", json::array({{{"mediaType", "application/jose+json"},
                               {"digest", "sha256:" + hex},
                               {"size", envelope.size()}}})},
      {"subject", subject}};
  std::string text = manifest.dump();
  WriteFile(tmp, text);
  std::string manifest_hex = Sha256Of(tmp, scratch);
  fs::rename(tmp, repo / "blobs" / "sha256" / manifest_hex);
  json index = json::parse(ReadFile(repo / "index.json"));
  index["manifests"].push_back(
      {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
       {"digest", "sha256:" + manifest_hex},
       {"size", text.size()}});
  WriteFile(repo / "index.json", index.dump());
}

json DescriptorOf(const fs::path& repo, const std::string& digest) {
  json index = json::parse(ReadFile(repo / "index.json"));
  for (const json& d : index["manifests"]) {
    if (d["digest"] == digest) {
      return {{"mediaType", d["mediaType"]},
              {"digest", d["digest"]},
              {"size", d["size"]}};
    }
  }
  return {};
}

TEST_F(HostileMirror, OversizeEnvelopeIsMalformedAndNeverRead) {
  const Expected& e = Case("unsigned");
  fs::path repo = copy_ / e.repository;
  // 33 MiB: above Notation's 32 MiB envelope bound (CVE-2023-25656 class).
  AddSignature(repo, DescriptorOf(repo, e.digest), std::string(33u << 20, 'A'),
               scratch_.path());
  Verified v = Verify({}, copy_);
  EXPECT_EQ(Outcome(v, "unsigned"), "failed/malformed");
  const json& j = v.by_key[e.repository + "@" + e.digest];
  ASSERT_EQ(j["signatures"].size(), 1u);
  EXPECT_NE(j["signatures"][0]["error"].get<std::string>().find("32 MiB"),
            std::string::npos);
}

TEST_F(HostileMirror, GarbageEnvelopeNextToAGoodOneStillVerifies) {
  const Expected& e = Case("good-jws-es256");
  fs::path repo = copy_ / e.repository;
  AddSignature(repo, DescriptorOf(repo, e.digest), "{\"payload\": 1}",
               scratch_.path());
  Verified v = Verify({}, copy_);
  EXPECT_EQ(Outcome(v, "good-jws-es256"), "verified/ok");
}

TEST_F(HostileMirror, SymlinkedBlobOutOfTheMirrorIsNeverFollowed) {
  const Expected& e = Case("good-jws-ps384");
  fs::path repo = copy_ / e.repository;
  // Replace every layer-sized blob but the manifest with a symlink to a
  // file outside the mirror holding the same bytes.
  std::string hex = e.digest.substr(7);
  json manifest = json::parse(ReadFile(repo / "blobs" / "sha256" / hex));
  std::string layer = manifest["layers"][0]["digest"];
  fs::path layer_path = repo / "blobs" / "sha256" / layer.substr(7);
  fs::path outside = scratch_.path() / "outside-blob";
  fs::copy_file(layer_path, outside);
  fs::remove(layer_path);
  fs::create_symlink(outside, layer_path);
  Verified v = Verify({}, copy_);
  EXPECT_EQ(Outcome(v, "good-jws-ps384"), "failed/blob-integrity");
}

TEST_F(HostileMirror, SymlinkedRepositoryDirectoryIsSkipped) {
  fs::path link = copy_ / "registry.example.com" / "linked";
  fs::create_symlink(scratch_.path() / "elsewhere", link);
  fs::create_directories(scratch_.path() / "elsewhere");
  WriteFile(scratch_.path() / "elsewhere" / "oci-layout",
            "{\"imageLayoutVersion\":\"1.0.0\"}");
  Verified v = Verify({}, copy_);
  for (const auto& [key, j] : v.by_key) {
    EXPECT_EQ(key.find("registry.example.com/linked"), std::string::npos);
  }
}

}  // namespace
}  // namespace trustgate::testing
