// Tests of engine/plugin.h against a real plugin process: the test plugin
// (tests/plugins/test_plugin.cc) installed under several names.

#include "engine/plugin.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_pipeline.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "crypto/base64.h"
#include "engine/index.h"
#include "tests/crypto/test_pki.h"
#include "tests/support/test_util.h"

namespace trustgate::engine {
namespace {

namespace fs = std::filesystem;
using policy::Action;
using policy::TrustedIdentity;

constexpr char kProfileArn[] =
    "arn:aws:signer:us-west-2:123456789012:/signing-profiles/TrustgateTest";
constexpr char kProfileVersionArn[] =
    "arn:aws:signer:us-west-2:123456789012:/signing-profiles/TrustgateTest/"
    "a1B2c3D4e5";
constexpr char kOtherProfileArn[] =
    "arn:aws:signer:us-west-2:123456789012:/signing-profiles/Someone";
constexpr char kJobArnPrefix[] =
    "arn:aws:signer:us-west-2:123456789012:/signing-jobs/";
constexpr char kAttrProfileVersion[] =
    "com.amazonaws.signer.signingProfileVersion";
constexpr char kAttrJob[] = "com.amazonaws.signer.signingJob";

const base::Time kNow = base::TimeFromUnixSeconds(1767225600);  // 2026-01-01

fs::path TestPluginBinary() {
  if (const char* env = std::getenv("TRUSTGATE_TEST_PLUGIN");
      env != nullptr && *env != '\0') {
    return env;
  }
  // build/tests/engine/engine_test -> build/tests/plugins/test_plugin
  return fs::read_symlink("/proc/self/exe").parent_path().parent_path() /
         "plugins" / "test_plugin";
}

// A P-384 chain (what AWS Signer uses), made once.
const crypto::testpki::Pki& Chain() {
  static const crypto::testpki::Pki* pki =
      new crypto::testpki::Pki(crypto::testpki::MakePki(
          crypto::testpki::KeyKind::kP384, crypto::testpki::KeyKind::kP384));
  return *pki;
}

std::string JsonString(const std::string& s) {
  return nlohmann::json(s).dump();
}

size_t CountFds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e :
       fs::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

class PluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(TestPluginBinary()))
        << TestPluginBinary() << " is missing: build the test_plugin target";
    plugin_dir_ = tmp_.path() / "plugins";
    fs::create_directories(plugin_dir_);
    log_file_ = (tmp_.path() / "calls.log").string();
    config_["log_file"] = log_file_;
    identities_.push_back(
        TrustedIdentity{TrustedIdentity::Kind::kOther, kProfileArn, {}});
  }

  // Install copies the test plugin in as plugin `name`.
  fs::path Install(const std::string& name) {
    const fs::path exe = PluginExecutablePath(plugin_dir_, name);
    fs::create_directories(exe.parent_path());
    fs::copy_file(TestPluginBinary(), exe,
                  fs::copy_options::overwrite_existing);
    fs::permissions(exe, fs::perms::owner_all | fs::perms::group_read |
                             fs::perms::group_exec);
    return exe;
  }

  // AwsEnvelope is an AWS-Signer-style envelope naming plugin `name`.
  crypto::Envelope AwsEnvelope(const std::string& name,
                               const std::string& job = "job-1") const {
    crypto::Envelope e;
    e.format = crypto::EnvelopeFormat::kJws;
    e.algorithm = crypto::SignatureAlgorithm::kEs384;
    e.content_type = std::string(crypto::kPayloadContentType);
    e.scheme = crypto::SigningScheme::kX509SigningAuthority;
    e.authentic_signing_time = base::TimeFromUnixSeconds(1767139200);
    e.expiry = base::TimeFromUnixSeconds(1798675200);
    e.verification_plugin = name;
    e.critical = {std::string(crypto::kHeaderSigningScheme),
                  std::string(crypto::kHeaderAuthenticSigningTime),
                  std::string(crypto::kHeaderExpiry),
                  std::string(crypto::kHeaderVerificationPlugin),
                  kAttrProfileVersion,
                  kAttrJob};
    e.extended_attributes.push_back(
        {kAttrProfileVersion, JsonString(kProfileVersionArn), true, false});
    e.extended_attributes.push_back(
        {kAttrJob, JsonString(kJobArnPrefix + job), true, false});
    for (const auto& cert : Chain().Chain()) {
      e.certificate_der.emplace_back(cert->der().begin(), cert->der().end());
    }
    return e;
  }

  PluginCall Call(const crypto::Envelope& e,
                  const std::string& digest = "sha256:" +
                                              std::string(64, 'a')) {
    digests_.push_back(digest);
    PluginCall c;
    c.plugin = *e.verification_plugin;
    if (e.verification_plugin_min_version) {
      c.min_version = *e.verification_plugin_min_version;
    }
    c.envelope = &e;
    c.trusted_identities = identities_;
    c.config = &config_;
    c.signature_digest = digests_.back();
    c.now = kNow;
    return c;
  }

  std::unique_ptr<PluginRunner> Runner(PluginRunnerOptions o = {},
                                       base::Time now = kNow) {
    if (o.plugin_dir.empty()) {
      o.plugin_dir = plugin_dir_;
    }
    auto r = PluginRunner::Create(std::move(o), now);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.detail());
    return r.ok() ? std::move(r).value() : nullptr;
  }

  int Invocations(const std::string& command) const {
    std::ifstream in(log_file_);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      n += line == command ? 1 : 0;
    }
    return n;
  }

  trustgate::testing::TempDir tmp_;
  fs::path plugin_dir_;
  std::string log_file_;
  PluginConfig config_;
  std::vector<TrustedIdentity> identities_;
  std::deque<std::string> digests_;
};

// --- SemVer, names ---

TEST(PluginVersionTest, ValidVersionsFollowNotationsRegex) {
  for (const char* v :
       {"0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1",
        "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0-x-y-z.--",
        "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85",
        "1.0.0+21AF26D3----117B344092BD", "99999999999999999999999.1.1"}) {
    EXPECT_TRUE(IsValidPluginVersion(v)) << v;
  }
  for (const char* v :
       {"", "v1.0.0", "1", "1.0", "1.0.0.0", "01.0.0", "1.02.0", "1.0.00",
        "1.0.0-", "1.0.0-01", "1.0.0-a..b", "1.0.0+", "1.0.0+a..b", "1.0.0-a_b",
        " 1.0.0", "1.0.0 ", "-1.0.0", "1.0.0-alpha+", "a.b.c"}) {
    EXPECT_FALSE(IsValidPluginVersion(v)) << v;
  }
}

TEST(PluginVersionTest, ComparesAsGoSemver) {
  // semver.org §11 example order.
  const std::vector<std::string> order = {
      "1.0.0-alpha",  "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
      "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",       "1.0.0",
      "1.0.1",        "1.1.0",         "1.10.0",           "2.0.0",
      "10.0.0"};
  for (size_t i = 0; i < order.size(); ++i) {
    for (size_t j = 0; j < order.size(); ++j) {
      const int want = i < j ? -1 : (i > j ? 1 : 0);
      EXPECT_EQ(ComparePluginVersions(order[i], order[j]), want)
          << order[i] << " vs " << order[j];
    }
  }
  EXPECT_EQ(ComparePluginVersions("1.0.0+build.1", "1.0.0+build.2"), 0);
  EXPECT_EQ(ComparePluginVersions("1.0.0-rc.1+x", "1.0.0-rc.1"), 0);
  EXPECT_EQ(ComparePluginVersions("99999999999999999999.0.0", "9.0.0"), 1);
  EXPECT_EQ(ComparePluginVersions("1.0.0-2", "1.0.0-10"), -1);
  EXPECT_EQ(ComparePluginVersions("1.0.0-a10", "1.0.0-a9"), -1);  // ASCII
  EXPECT_EQ(ComparePluginVersions("v1.0.0", "1.0.0"), std::nullopt);
}

TEST(PluginNameTest, RefusesNamesThatAreNotOneComponent) {
  EXPECT_TRUE(IsValidPluginName("com.amazonaws.signer.notation.plugin"));
  EXPECT_TRUE(IsValidPluginName("a b"));
  for (std::string bad :
       {std::string(), std::string("."), std::string(".."), std::string("a/b"),
        std::string("../x"), std::string("a\nb"), std::string("a\0b", 3),
        std::string(256, 'a')}) {
    EXPECT_FALSE(IsValidPluginName(bad)) << bad;
  }
  EXPECT_EQ(PluginExecutablePath("/p", "x.y"), fs::path("/p/x.y/notation-x.y"));
  EXPECT_EQ(DefaultPluginDir("/home/u/.config/notation"),
            fs::path("/home/u/.config/notation/plugins"));
}

TEST(PluginFlagsTest, ParsesDurationsAndConfigEntries) {
  using std::chrono::milliseconds;
  EXPECT_EQ(ParsePluginDuration("30s"), milliseconds(30000));
  EXPECT_EQ(ParsePluginDuration("1h30m"), milliseconds(5400000));
  EXPECT_EQ(ParsePluginDuration("1500ms"), milliseconds(1500));
  EXPECT_EQ(ParsePluginDuration("2m1ms"), milliseconds(120001));
  EXPECT_EQ(ParsePluginDuration("1d"), milliseconds(86400000));
  EXPECT_EQ(ParsePluginDuration("0"), milliseconds(0));
  for (const char* bad : {"", "10", "s", "1x", "-1s", "1s1h", "1h1h", "1.5s",
                          " 1s", "1s ", "99999999999999999999s", "36600d"}) {
    EXPECT_FALSE(ParsePluginDuration(bad).has_value()) << bad;
  }
  EXPECT_EQ(
      ParsePluginConfigEntry("a=b=c"),
      std::make_optional(std::make_pair(std::string("a"), std::string("b=c"))));
  EXPECT_EQ(
      ParsePluginConfigEntry("a="),
      std::make_optional(std::make_pair(std::string("a"), std::string())));
  EXPECT_FALSE(ParsePluginConfigEntry("=b").has_value());
  EXPECT_FALSE(ParsePluginConfigEntry("ab").has_value());
}

// --- the request ---

TEST(PluginRequestTest, BuildsTheContractsJsonExactly) {
  crypto::Envelope e;
  e.content_type = std::string(crypto::kPayloadContentType);
  e.scheme = crypto::SigningScheme::kX509SigningAuthority;
  e.authentic_signing_time = base::TimeFromUnixSeconds(1700000000);
  e.expiry = base::TimeFromUnixSeconds(1800000000);
  e.extended_attributes = {
      {"z.second", "\"two\"", true, false},
      {"a.first", "1", false, false},
      {"7", "\"cose int label\"", false, true},  // never sent
  };
  e.certificate_der = {base::Bytes{0x30, 0x03, 0x02, 0x01, 0x01},
                       base::Bytes{0xff}};
  const std::vector<TrustedIdentity> ids = {
      {TrustedIdentity::Kind::kOther, "arn:aws:signer:x", {}},
      {TrustedIdentity::Kind::kX509Subject,
       "x509.subject: C=US, ST=WA, O=\"Q\"",
       {}}};
  const PluginConfig config = {{"b", "2"}, {"a", "1\n"}};
  PluginCall call;
  call.plugin = "com.example.p";
  call.min_version = "1.0.0";
  call.envelope = &e;
  call.trusted_identities = ids;
  call.config = &config;
  const std::vector<PluginCapability> asked = {
      PluginCapability::kTrustedIdentity, PluginCapability::kRevocationCheck};
  EXPECT_EQ(internal::BuildVerifySignatureRequest(call, asked),
            R"({"contractVersion":"1.0","signature":{"criticalAttributes":{)"
            R"("contentType":"application/vnd.cncf.notary.payload.v1+json",)"
            R"("signingScheme":"notary.x509.signingAuthority",)"
            R"("expiry":"2027-01-15T08:00:00Z",)"
            R"("authenticSigningTime":"2023-11-14T22:13:20Z",)"
            R"("verificationPlugin":"com.example.p",)"
            R"("verificationPluginMinVersion":"1.0.0",)"
            R"("extendedAttributes":{"a.first":1,"z.second":"two"}},)"
            R"("unprocessedAttributes":["z.second","a.first"],)"
            R"("certificateChain":["MAMCAQE=","/w=="]},)"
            R"("trustPolicy":{"trustedIdentities":["arn:aws:signer:x",)"
            R"("x509.subject: C=US, ST=WA, O=\"Q\""],)"
            R"("signatureVerification":["SIGNATURE_VERIFIER.TRUSTED_IDENTITY",)"
            R"("SIGNATURE_VERIFIER.REVOCATION_CHECK"]},)"
            R"("pluginConfig":{"a":"1\n","b":"2"}})");

  // notary.x509: no authenticSigningTime; no expiry, no attributes, no
  // config: omitted (Go's omitempty), lists empty.
  crypto::Envelope x;
  x.content_type = std::string(crypto::kPayloadContentType);
  x.signing_time = base::TimeFromUnixSeconds(1700000000);
  x.certificate_der = {base::Bytes{0x01}};
  PluginCall plain;
  plain.plugin = "p";
  plain.envelope = &x;
  EXPECT_EQ(
      internal::BuildVerifySignatureRequest(
          plain,
          std::vector<PluginCapability>{PluginCapability::kRevocationCheck}),
      R"({"contractVersion":"1.0","signature":{"criticalAttributes":{)"
      R"("contentType":"application/vnd.cncf.notary.payload.v1+json",)"
      R"("signingScheme":"notary.x509","verificationPlugin":"p"},)"
      R"("unprocessedAttributes":[],"certificateChain":["AQ=="]},)"
      R"("trustPolicy":{"trustedIdentities":[],)"
      R"("signatureVerification":["SIGNATURE_VERIFIER.REVOCATION_CHECK"]}})");
  EXPECT_EQ(internal::BuildMetadataRequest(nullptr), "{}");
  EXPECT_EQ(internal::BuildMetadataRequest(&config),
            R"({"pluginConfig":{"a":"1\n","b":"2"}})");
}

TEST(PluginRequestTest, ReplacesInvalidUtf8AsGoDoes) {
  crypto::Envelope x;
  x.content_type = "a\xff\"b";
  x.certificate_der = {base::Bytes{0x01}};
  PluginCall c;
  c.plugin = "p";
  c.envelope = &x;
  const std::string j = internal::BuildVerifySignatureRequest(c, {});
  // U+FFFD written as UTF-8 (Go escapes it as \ufffd: the same JSON string).
  EXPECT_NE(j.find("\"contentType\":\"a\xEF\xBF\xBD\\\"b\""), std::string::npos)
      << j;
}

// --- responses (no process) ---

class PluginResponseTest : public ::testing::Test {
 protected:
  PluginResponseTest() {
    e_.content_type = std::string(crypto::kPayloadContentType);
    e_.extended_attributes = {{"x.a", "\"1\"", true, false}};
    e_.certificate_der = {base::Bytes{0x01}};
    call_.plugin = "p";
    call_.envelope = &e_;
  }
  PluginOutcome Process(std::string_view json) {
    PluginOutcome out;
    internal::ProcessVerifyResponse(call_, asked_, json, &out);
    return out;
  }
  crypto::Envelope e_;
  PluginCall call_;
  std::vector<PluginCapability> asked_ = {PluginCapability::kTrustedIdentity};
};

TEST_F(PluginResponseTest, ChecksKeysAttributesAndTypes) {
  const std::string ok_ti =
      R"("SIGNATURE_VERIFIER.TRUSTED_IDENTITY":{"success":true})";
  auto good = Process(R"({"verificationResults":{)" + ok_ti +
                      R"(},"processedAttributes":["x.a"],"future":1})");
  EXPECT_TRUE(good.Passed());
  ASSERT_EQ(good.results.size(), 1u);
  EXPECT_EQ(good.results[0].status, CheckStatus::kPass);

  struct Case {
    std::string json;
    PluginError code;
  };
  const std::vector<Case> cases = {
      {"not json", PluginError::kMalformedResponse},
      {"[]", PluginError::kMalformedResponse},
      {R"({"verificationResults":{)" + ok_ti + "," + ok_ti +
           R"(},"processedAttributes":["x.a"]})",
       PluginError::kMalformedResponse},  // duplicate capability
      {R"({"verificationResults":{)" + ok_ti +
           R"(},"verificationResults":{},"processedAttributes":["x.a"]})",
       PluginError::kMalformedResponse},  // duplicate member
      {R"({"verificationResults":[],"processedAttributes":["x.a"]})",
       PluginError::kMalformedResponse},
      {R"({"verificationResults":{"SIGNATURE_VERIFIER.TRUSTED_IDENTITY":)"
       R"({"success":"yes"}},"processedAttributes":["x.a"]})",
       PluginError::kMalformedResponse},
      {R"({"verificationResults":{"SIGNATURE_VERIFIER.TRUSTED_IDENTITY":)"
       R"({"success":false,"reason":7}},"processedAttributes":["x.a"]})",
       PluginError::kMalformedResponse},
      {R"({"verificationResults":{)" + ok_ti + R"(},"processedAttributes":{}})",
       PluginError::kMalformedResponse},
      {R"({"verificationResults":{},"processedAttributes":["x.a"]})",
       PluginError::kResultMismatch},
      {R"({"processedAttributes":["x.a"]})", PluginError::kResultMismatch},
      {R"({"verificationResults":{"SIGNATURE_VERIFIER.REVOCATION_CHECK":)"
       R"({"success":true}},"processedAttributes":["x.a"]})",
       PluginError::kResultMismatch},
      {R"({"verificationResults":{)" + ok_ti +
           R"(,"SIGNATURE_VERIFIER.REVOCATION_CHECK":{"success":true}},)"
           R"("processedAttributes":["x.a"]})",
       PluginError::kResultMismatch},  // more than asked
      {R"({"verificationResults":{"SIGNATURE_VERIFIER.TRUSTED_IDENTITY":)"
       R"(null},"processedAttributes":["x.a"]})",
       PluginError::kResultMismatch},
      {R"({"verificationResults":{)" + ok_ti + R"(},"processedAttributes":[]})",
       PluginError::kUnprocessedAttribute},
      {R"({"verificationResults":{)" + ok_ti + R"(}})",
       PluginError::kUnprocessedAttribute},
      {R"({"verificationResults":{)" + ok_ti +
           R"(},"processedAttributes":[1,"X.A"]})",
       PluginError::kUnprocessedAttribute},
  };
  for (const Case& c : cases) {
    for (Action a : {Action::kEnforce, Action::kLog}) {
      call_.trusted_identity_action = a;
      auto out = Process(c.json);
      ASSERT_TRUE(out.error.has_value()) << c.json;
      EXPECT_EQ(out.error->code, c.code) << c.json;
      EXPECT_FALSE(out.Passed());
      EXPECT_TRUE(out.results.empty());
    }
  }
}

TEST_F(PluginResponseTest, FailuresFollowTheAction) {
  const std::string failed =
      R"({"verificationResults":{"SIGNATURE_VERIFIER.TRUSTED_IDENTITY":)"
      R"({"success":false,"reason":"no\nmatch"}},"processedAttributes":["x.a"]})";
  call_.trusted_identity_action = Action::kEnforce;
  auto enforced = Process(failed);
  EXPECT_FALSE(enforced.error.has_value());
  EXPECT_FALSE(enforced.Passed());
  ASSERT_NE(enforced.FirstEnforcedFailure(), nullptr);
  EXPECT_EQ(enforced.results[0].status, CheckStatus::kFail);
  EXPECT_EQ(enforced.results[0].reason, "no match");  // sanitized

  call_.trusted_identity_action = Action::kLog;
  auto logged = Process(failed);
  EXPECT_TRUE(logged.Passed());
  EXPECT_EQ(logged.results[0].status, CheckStatus::kLogged);

  // Go decoding: a missing or null success is false.
  call_.trusted_identity_action = Action::kEnforce;
  auto missing = Process(
      R"({"verificationResults":{"SIGNATURE_VERIFIER.TRUSTED_IDENTITY":)"
      R"({"reason":null}},"processedAttributes":["x.a"]})");
  EXPECT_FALSE(missing.Passed());
  EXPECT_EQ(missing.results[0].status, CheckStatus::kFail);
}

TEST(PluginMetadataTest, ValidatesAsNotationGo) {
  auto meta = [](const std::string& extra_or_override) {
    nlohmann::json j = {
        {"name", "p"},
        {"description", "d"},
        {"version", "1.0.0"},
        {"url", "u"},
        {"supportedContractVersions", {"1.0"}},
        {"capabilities",
         {"SIGNATURE_GENERATOR.RAW", "SIGNATURE_VERIFIER.REVOCATION_CHECK",
          "SIGNATURE_VERIFIER.TRUSTED_IDENTITY",
          "SIGNATURE_VERIFIER.REVOCATION_CHECK"}}};
    if (!extra_or_override.empty()) {
      j.merge_patch(nlohmann::json::parse(extra_or_override));
    }
    return j.dump();
  };
  auto ok = internal::ParseMetadataResponse("p", meta(""));
  ASSERT_TRUE(ok.ok()) << ok.detail();
  EXPECT_EQ(ok->version, "1.0.0");
  EXPECT_EQ(ok->capabilities, (std::vector<PluginCapability>{
                                  PluginCapability::kRevocationCheck,
                                  PluginCapability::kTrustedIdentity}));

  const std::vector<std::pair<std::string, PluginError>> cases = {
      {R"({"name":""})", PluginError::kInvalidMetadata},
      {R"({"name":null})", PluginError::kInvalidMetadata},
      {R"({"name":"q"})", PluginError::kInvalidMetadata},
      {R"({"description":""})", PluginError::kInvalidMetadata},
      {R"({"url":""})", PluginError::kInvalidMetadata},
      {R"({"version":""})", PluginError::kInvalidMetadata},
      {R"({"capabilities":[]})", PluginError::kInvalidMetadata},
      {R"({"supportedContractVersions":["2.0"]})",
       PluginError::kInvalidMetadata},
      {R"({"supportedContractVersions":null})", PluginError::kInvalidMetadata},
      {R"({"version":"v1.0.0"})", PluginError::kInvalidVersion},
      {R"({"version":"1.0"})", PluginError::kInvalidVersion},
      {R"({"capabilities":["SIGNATURE_GENERATOR.RAW"]})",
       PluginError::kNoVerifierCapability},
      {R"({"version":1})", PluginError::kMalformedResponse},
      {R"({"capabilities":"SIGNATURE_VERIFIER.TRUSTED_IDENTITY"})",
       PluginError::kMalformedResponse},
  };
  for (const auto& [patch, code] : cases) {
    auto r = internal::ParseMetadataResponse("p", meta(patch));
    ASSERT_FALSE(r.ok()) << patch;
    EXPECT_EQ(r.code(), code) << patch << ": " << r.detail();
  }
  auto dup = internal::ParseMetadataResponse(
      "p", R"({"name":"p","name":"p","description":"d","version":"1.0.0",)"
           R"("url":"u","supportedContractVersions":["1.0"],)"
           R"("capabilities":["SIGNATURE_VERIFIER.TRUSTED_IDENTITY"]})");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.code(), PluginError::kMalformedResponse);
}

TEST(PluginErrorTextTest, UsesThePluginsErrorJson) {
  internal::PluginProcessOutput o;
  o.exit_code = 1;
  o.err = R"({"errorCode":"THROTTLED","errorMessage":"slow down",)"
          R"("errorMetadata":{"retry":"5s"}})";
  auto e = internal::PluginErrorText("p", "verify-signature", o);
  EXPECT_EQ(e.code, PluginError::kPluginError);
  EXPECT_NE(e.detail.find("THROTTLED: slow down"), std::string::npos);

  o.err = R"({"unrelated":1})";  // notation-go: "incomplete json"
  EXPECT_EQ(internal::PluginErrorText("p", "x", o).code,
            PluginError::kExitStatus);
  o.err = "";
  EXPECT_EQ(internal::PluginErrorText("p", "x", o).code,
            PluginError::kExitStatus);
  o.signal = SIGSEGV;
  EXPECT_EQ(internal::PluginErrorText("p", "x", o).code, PluginError::kCrashed);
}

// --- processes ---

TEST(PluginProcessTest, SurvivesAChildThatDoesNotReadItsStdin) {
  // 4 MiB on stdin to /bin/true: the write gets EPIPE, never SIGPIPE.
  const std::string input(4 << 20, 'x');
  const size_t fds = CountFds();
  for (int i = 0; i < 5; ++i) {
    auto r = internal::RunPluginProcess("/bin/true", "get-plugin-metadata",
                                        input, std::chrono::seconds(10),
                                        kMaxPluginOutputBytes);
    ASSERT_TRUE(r.ok()) << r.detail();
    EXPECT_EQ(r->exit_code, 0);
    auto f = internal::RunPluginProcess("/bin/false", "x", input,
                                        std::chrono::seconds(10),
                                        kMaxPluginOutputBytes);
    ASSERT_TRUE(f.ok()) << f.detail();
    EXPECT_EQ(f->exit_code, 1);
  }
  EXPECT_EQ(CountFds(), fds);  // no descriptor leaked
}

TEST(PluginProcessTest, ReportsSpawnFailure) {
  auto r = internal::RunPluginProcess("/nonexistent/plugin", "x", "",
                                      std::chrono::seconds(1),
                                      kMaxPluginOutputBytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), PluginError::kSpawn);
}

// --- the runner against the test plugin ---

TEST_F(PluginTest, GoodPluginVerifiesArnIdentitiesAndRevocation) {
  Install("com.example.good");
  auto runner = Runner();
  const crypto::Envelope e = AwsEnvelope("com.example.good");
  const fs::path request_file = tmp_.path() / "request.json";
  config_["request_file"] = request_file.string();
  PluginOutcome out = runner->RunVerification(Call(e));
  ASSERT_FALSE(out.error.has_value()) << out.error->detail;
  EXPECT_TRUE(out.Passed());
  EXPECT_TRUE(out.invoked);
  EXPECT_FALSE(out.cached);
  EXPECT_EQ(out.version, "1.2.0");
  ASSERT_EQ(out.asked.size(), 2u);
  ASSERT_EQ(out.results.size(), 2u);
  EXPECT_EQ(out.results[0].capability, PluginCapability::kTrustedIdentity);
  EXPECT_EQ(out.results[0].status, CheckStatus::kPass);
  EXPECT_EQ(out.results[1].capability, PluginCapability::kRevocationCheck);
  EXPECT_EQ(out.results[1].status, CheckStatus::kPass);
  EXPECT_EQ(out.processed_attributes.size(), 2u);

  // What the plugin received.
  auto req = nlohmann::json::parse(trustgate::testing::ReadFile(request_file),
                                   nullptr, false);
  ASSERT_TRUE(req.is_object());
  EXPECT_EQ(req["contractVersion"], "1.0");
  const auto& crit = req["signature"]["criticalAttributes"];
  EXPECT_EQ(crit["signingScheme"], "notary.x509.signingAuthority");
  EXPECT_EQ(crit["authenticSigningTime"], "2025-12-31T00:00:00Z");
  EXPECT_EQ(crit["extendedAttributes"][kAttrProfileVersion],
            kProfileVersionArn);
  EXPECT_EQ(req["signature"]["unprocessedAttributes"],
            nlohmann::json({kAttrProfileVersion, kAttrJob}));
  const auto& chain = req["signature"]["certificateChain"];
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[0].get<std::string>(),
            crypto::EncodeBase64(Chain().leaf.cert->der(),
                                 crypto::Base64Variant::kStandardPadded));
  EXPECT_EQ(req["trustPolicy"]["trustedIdentities"],
            nlohmann::json({kProfileArn}));
  EXPECT_EQ(req["pluginConfig"]["log_file"], log_file_);

  // A version ARN identity matches too; another profile does not.
  identities_ = {{TrustedIdentity::Kind::kOther, kProfileVersionArn, {}}};
  EXPECT_TRUE(runner->RunVerification(Call(e, "sha256:2")).Passed());
  identities_ = {{TrustedIdentity::Kind::kOther, kOtherProfileArn, {}}};
  PluginOutcome other = runner->RunVerification(Call(e, "sha256:3"));
  EXPECT_FALSE(other.error.has_value());
  EXPECT_FALSE(other.Passed());
  ASSERT_NE(other.FirstEnforcedFailure(), nullptr);
  EXPECT_EQ(other.FirstEnforcedFailure()->capability,
            PluginCapability::kTrustedIdentity);
  // Audit: authenticity is logged.
  PluginCall audit = Call(e, "sha256:4");
  audit.trusted_identity_action = Action::kLog;
  audit.revocation_action = Action::kLog;
  PluginOutcome logged = runner->RunVerification(audit);
  EXPECT_TRUE(logged.Passed());
  EXPECT_EQ(logged.results[0].status, CheckStatus::kLogged);
}

TEST_F(PluginTest, RevocationFromTheFixtureFollowsTheAction) {
  Install("com.example.good");
  const fs::path revoked = tmp_.path() / "revoked.txt";
  trustgate::testing::WriteFile(revoked,
                                std::string(kJobArnPrefix) + "job-bad\n");
  config_["revocation_file"] = revoked.string();
  auto runner = Runner();
  const crypto::Envelope good = AwsEnvelope("com.example.good", "job-ok");
  const crypto::Envelope bad = AwsEnvelope("com.example.good", "job-bad");
  EXPECT_TRUE(runner->RunVerification(Call(good, "sha256:1")).Passed());

  PluginOutcome strict = runner->RunVerification(Call(bad, "sha256:2"));
  ASSERT_FALSE(strict.error.has_value());
  ASSERT_NE(strict.FirstEnforcedFailure(), nullptr);
  EXPECT_EQ(strict.FirstEnforcedFailure()->capability,
            PluginCapability::kRevocationCheck);

  PluginCall permissive = Call(bad, "sha256:3");
  permissive.revocation_action = Action::kLog;
  PluginOutcome p = runner->RunVerification(permissive);
  EXPECT_TRUE(p.Passed());
  EXPECT_EQ(p.results[1].status, CheckStatus::kLogged);

  // revocation: skip -> REVOCATION_CHECK is not asked for at all.
  PluginCall skip = Call(bad, "sha256:4");
  skip.revocation_action = Action::kSkip;
  PluginOutcome s = runner->RunVerification(skip);
  EXPECT_TRUE(s.Passed());
  EXPECT_EQ(s.asked,
            std::vector<PluginCapability>{PluginCapability::kTrustedIdentity});
  EXPECT_EQ(s.results.size(), 1u);
  EXPECT_EQ(s.capabilities.size(), 2u);

  // The revocation service unreachable (offline): unknown is a failure.
  config_["revocation_file"] = (tmp_.path() / "absent").string();
  auto offline = Runner();
  PluginOutcome o = offline->RunVerification(Call(good, "sha256:5"));
  ASSERT_FALSE(o.error.has_value());
  ASSERT_NE(o.FirstEnforcedFailure(), nullptr);
  EXPECT_EQ(o.FirstEnforcedFailure()->capability,
            PluginCapability::kRevocationCheck);
}

struct Misbehaviour {
  std::string mode;
  PluginError code;
};

class PluginMisbehaviourTest
    : public PluginTest,
      public ::testing::WithParamInterface<Misbehaviour> {};

TEST_P(PluginMisbehaviourTest, IsACodedErrorAtEveryLevel) {
  const std::string name = "com.example." + GetParam().mode;
  Install(name);
  PluginRunnerOptions o;
  o.timeout = std::chrono::milliseconds(700);
  const fs::path pid_file = tmp_.path() / "pids";
  config_["pid_file"] = pid_file.string();
  auto runner = Runner(o);
  const crypto::Envelope e = AwsEnvelope(name);
  int n = 0;
  for (Action a : {Action::kEnforce, Action::kLog}) {
    PluginCall c = Call(e, "sha256:" + std::to_string(++n));
    c.trusted_identity_action = a;
    c.revocation_action = a;
    PluginOutcome out = runner->RunVerification(c);
    ASSERT_TRUE(out.error.has_value()) << GetParam().mode;
    EXPECT_EQ(out.error->code, GetParam().code)
        << GetParam().mode << ": " << out.error->detail;
    EXPECT_FALSE(out.Passed());
    EXPECT_TRUE(out.results.empty());
    // The detail names the plugin.
    EXPECT_NE(out.error->detail.find(name), std::string::npos)
        << out.error->detail;
  }
  if (GetParam().mode == "hang") {
    EXPECT_EQ(runner->stats().timeouts, 2u);
    // The plugin's own child (which held stdout open) died with its group.
    std::ifstream in(pid_file);
    pid_t pid = 0;
    int checked = 0;
    while (in >> pid) {
      ++checked;
      bool gone = false;
      for (int i = 0; i < 200 && !gone; ++i) {
        gone = ::kill(pid, 0) != 0 && errno == ESRCH;
        if (!gone) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
      EXPECT_TRUE(gone) << "grandchild " << pid << " survived the timeout";
    }
    EXPECT_EQ(checked, 2);
  }
  if (GetParam().mode == "error") {
    // The plugin's own words reach the message.
    PluginOutcome out = runner->RunVerification(Call(e, "sha256:9"));
    EXPECT_NE(out.error->detail.find("access denied to the signer API"),
              std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, PluginMisbehaviourTest,
    ::testing::Values(Misbehaviour{"hang", PluginError::kTimeout},
                      Misbehaviour{"crash", PluginError::kCrashed},
                      Misbehaviour{"garbage", PluginError::kMalformedResponse},
                      Misbehaviour{"error", PluginError::kPluginError},
                      Misbehaviour{"exit2", PluginError::kExitStatus},
                      Misbehaviour{"omit", PluginError::kUnprocessedAttribute},
                      Misbehaviour{"wrongcaps", PluginError::kResultMismatch},
                      Misbehaviour{"extracaps", PluginError::kResultMismatch},
                      Misbehaviour{"huge", PluginError::kOutputTooLarge}),
    [](const ::testing::TestParamInfo<Misbehaviour>& param_info) {
      return param_info.param.mode;
    });

TEST_F(PluginTest, MetadataMisbehaviourIsACodedError) {
  PluginRunnerOptions o;
  o.timeout = std::chrono::milliseconds(700);
  const std::vector<std::pair<PluginConfig, PluginError>> cases = {
      {{{"metadata_mode", "hang"}}, PluginError::kTimeout},
      {{{"metadata_mode", "crash"}}, PluginError::kCrashed},
      {{{"metadata_mode", "garbage"}}, PluginError::kMalformedResponse},
      {{{"capabilities", "none"}}, PluginError::kNoVerifierCapability},
      {{{"metadata_name", "com.example.someone"}},
       PluginError::kInvalidMetadata},
      {{{"contract", "2.0"}}, PluginError::kInvalidMetadata},
      {{{"version", "v1.0.0"}}, PluginError::kInvalidVersion},
  };
  Install("com.example.good");
  const crypto::Envelope e = AwsEnvelope("com.example.good");
  for (const auto& [extra, code] : cases) {
    config_ = extra;
    config_["log_file"] = log_file_;
    auto runner = Runner(o);
    for (Action a : {Action::kEnforce, Action::kLog}) {
      PluginCall c = Call(e);
      c.trusted_identity_action = a;
      c.revocation_action = a;
      PluginOutcome out = runner->RunVerification(c);
      ASSERT_TRUE(out.error.has_value()) << extra.begin()->second;
      EXPECT_EQ(out.error->code, code) << out.error->detail;
      EXPECT_FALSE(out.Passed());
    }
  }
  // Errors are remembered for the run: one metadata call per runner.
  EXPECT_EQ(Invocations("get-plugin-metadata"), static_cast<int>(cases.size()));
  EXPECT_EQ(Invocations("verify-signature"), 0);
}

TEST_F(PluginTest, MissingPluginNamesItselfAndTheDirectory) {
  auto runner = Runner();
  const crypto::Envelope e =
      AwsEnvelope("com.amazonaws.signer.notation.plugin");
  PluginOutcome out = runner->RunVerification(Call(e));
  ASSERT_TRUE(out.error.has_value());
  EXPECT_EQ(out.error->code, PluginError::kNotInstalled);
  EXPECT_NE(out.error->detail.find("com.amazonaws.signer.notation.plugin"),
            std::string::npos);
  EXPECT_NE(
      out.error->detail.find(
          (plugin_dir_ / "com.amazonaws.signer.notation.plugin").string()),
      std::string::npos)
      << out.error->detail;
  EXPECT_FALSE(out.Passed());
}

TEST_F(PluginTest, RefusesSymlinksDirectoriesAndNonExecutables) {
  // A symlink to a perfectly good plugin.
  const fs::path target =
      tmp_.path() / "elsewhere" / "notation-com.example.link";
  fs::create_directories(target.parent_path());
  fs::copy_file(TestPluginBinary(), target);
  fs::permissions(target, fs::perms::owner_all);
  const fs::path link = PluginExecutablePath(plugin_dir_, "com.example.link");
  fs::create_directories(link.parent_path());
  fs::create_symlink(target, link);
  // A directory where the executable should be.
  fs::create_directories(PluginExecutablePath(plugin_dir_, "com.example.dir"));
  // Not executable.
  const fs::path noexec = Install("com.example.noexec");
  fs::permissions(noexec, fs::perms::owner_read | fs::perms::owner_write);

  auto runner = Runner();
  const std::vector<std::pair<std::string, PluginError>> cases = {
      {"com.example.link", PluginError::kNotRegularFile},
      {"com.example.dir", PluginError::kNotRegularFile},
      {"com.example.noexec", PluginError::kNotExecutable},
      {"../plugins/com.example.link", PluginError::kInvalidName},
      {"..", PluginError::kInvalidName},
  };
  for (const auto& [name, code] : cases) {
    const crypto::Envelope e = AwsEnvelope(name);
    PluginOutcome out = runner->RunVerification(Call(e));
    ASSERT_TRUE(out.error.has_value()) << name;
    EXPECT_EQ(out.error->code, code) << name << ": " << out.error->detail;
  }
  EXPECT_EQ(Invocations("get-plugin-metadata"), 0);
}

TEST_F(PluginTest, MinimumVersionIsComparedAsSemver) {
  Install("com.example.good");
  struct Case {
    std::string plugin_version;
    std::string min_version;
    std::optional<PluginError> code;
  };
  const std::vector<Case> cases = {
      {"1.2.0", "1.2.0", std::nullopt},
      {"1.2.0", "1.1.9", std::nullopt},
      {"1.10.0", "1.9.0", std::nullopt},
      {"1.2.0+build.7", "1.2.0", std::nullopt},
      {"1.2.0", "1.2.1", PluginError::kVersionTooLow},
      {"1.2.0-rc.1", "1.2.0", PluginError::kVersionTooLow},
      {"0.9.0", "1.0.0", PluginError::kVersionTooLow},
      {"1.2.0", "v1.0.0", PluginError::kInvalidVersion},
      {"1.2.0", "1.0", PluginError::kInvalidVersion},
  };
  for (const Case& c : cases) {
    config_["version"] = c.plugin_version;
    auto runner = Runner();
    crypto::Envelope e = AwsEnvelope("com.example.good");
    e.verification_plugin_min_version = c.min_version;
    PluginOutcome out = runner->RunVerification(Call(e));
    if (c.code) {
      ASSERT_TRUE(out.error.has_value())
          << c.plugin_version << " " << c.min_version;
      EXPECT_EQ(out.error->code, *c.code) << out.error->detail;
    } else {
      EXPECT_TRUE(out.Passed()) << c.plugin_version << " " << c.min_version
                                << ": " << (out.error ? out.error->detail : "");
    }
  }
}

TEST_F(PluginTest, UnknownAttributesMustComeBackProcessed) {
  Install("com.example.good");
  auto runner = Runner();
  crypto::Envelope e = AwsEnvelope("com.example.good");
  // Not critical, but notation-go hands every extended attribute over and
  // requires it back.
  e.extended_attributes.push_back({"com.example.note", "\"x\"", false, false});
  PluginOutcome out = runner->RunVerification(Call(e));
  ASSERT_TRUE(out.error.has_value());
  EXPECT_EQ(out.error->code, PluginError::kUnprocessedAttribute);

  crypto::Envelope cose = AwsEnvelope("com.example.good");
  cose.format = crypto::EnvelopeFormat::kCose;
  cose.extended_attributes.push_back({"-70000", "1", true, true});
  PluginOutcome c = runner->RunVerification(Call(cose, "sha256:c"));
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, PluginError::kUnprocessedAttribute);
}

TEST_F(PluginTest, RevocationOnlyPluginUnderSkipLeavesCriticalsUnprocessed) {
  Install("com.example.good");
  config_["capabilities"] = "rc";
  auto runner = Runner();
  const crypto::Envelope e = AwsEnvelope("com.example.good");
  PluginCall c = Call(e);
  c.revocation_action = Action::kSkip;
  PluginOutcome out = runner->RunVerification(c);
  ASSERT_TRUE(out.error.has_value());
  EXPECT_EQ(out.error->code, PluginError::kUnprocessedAttribute);
  EXPECT_TRUE(out.asked.empty());

  // Without critical extended attributes there is nothing to do: no call.
  crypto::Envelope plain = AwsEnvelope("com.example.good");
  plain.extended_attributes.clear();
  PluginCall p = Call(plain, "sha256:p");
  p.revocation_action = Action::kSkip;
  PluginOutcome ok = runner->RunVerification(p);
  EXPECT_TRUE(ok.Passed());
  EXPECT_FALSE(ok.invoked);
  EXPECT_EQ(Invocations("verify-signature"), 0);
  EXPECT_EQ(Invocations("get-plugin-metadata"), 1);
}

TEST_F(PluginTest, MetadataOnceForManySignatures) {
  Install("com.example.good");
  auto runner = Runner();
  const crypto::Envelope e = AwsEnvelope("com.example.good");
  constexpr int kSignatures = 12;
  std::vector<std::string> digests;
  for (int i = 0; i < kSignatures; ++i) {
    digests.push_back("sha256:" + std::to_string(i));
  }
  std::vector<PluginCall> calls;
  for (const std::string& d : digests) {
    calls.push_back(Call(e, d));
  }
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kSignatures; i += 4) {
        passed += runner->RunVerification(calls[i]).Passed() ? 1 : 0;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(passed.load(), kSignatures);
  EXPECT_EQ(Invocations("get-plugin-metadata"), 1);
  EXPECT_EQ(Invocations("verify-signature"), kSignatures);
  EXPECT_EQ(runner->stats().metadata_invocations, 1u);
  EXPECT_EQ(runner->stats().verify_invocations,
            static_cast<uint64_t>(kSignatures));
}

TEST_F(PluginTest, ConcurrencyBoundHoldsFromTbbTasks) {
  Install("com.example.good");
  const fs::path counter = tmp_.path() / "counter";
  config_["counter_file"] = counter.string();
  config_["sleep_ms"] = "150";
  PluginRunnerOptions o;
  o.jobs = 2;
  auto runner = Runner(o);
  const crypto::Envelope e = AwsEnvelope("com.example.good");
  constexpr int kSignatures = 8;
  std::vector<PluginCall> calls;
  for (int i = 0; i < kSignatures; ++i) {
    calls.push_back(Call(e, "sha256:" + std::to_string(i)));
  }
  std::atomic<int> passed{0};
  tbb::parallel_for(0, kSignatures, 1, [&](int i) {
    passed += runner->RunVerification(calls[i]).Passed() ? 1 : 0;
  });
  EXPECT_EQ(passed.load(), kSignatures);
  long running = -1;
  long max = -1;
  std::ifstream(counter) >> running >> max;
  EXPECT_EQ(running, 0);
  EXPECT_EQ(max, 2);  // never more than jobs, and the bound was reached
  EXPECT_LE(runner->stats().max_concurrent, 2u);
  EXPECT_GT(runner->stats().suspended_waits, 0u);
}

TEST_F(PluginTest, WorksInsideAParallelPipelineAndPastTheSuspensionCap) {
  Install("com.example.good");
  config_["sleep_ms"] = "50";
  for (size_t cap : {size_t{1024}, size_t{1}}) {
    PluginRunnerOptions o;
    o.jobs = 2;
    o.max_suspended = cap;
    auto runner = Runner(o);
    const crypto::Envelope e = AwsEnvelope("com.example.good");
    constexpr int kSignatures = 10;
    std::vector<PluginCall> calls;
    for (int i = 0; i < kSignatures; ++i) {
      calls.push_back(
          Call(e, "sha256:" + std::to_string(cap) + "-" + std::to_string(i)));
    }
    // The shape of engine/run.cc: a serial source, a parallel stage that
    // verifies, a serial in-order sink.
    int next = 0;
    std::vector<int> order;
    std::atomic<int> passed{0};
    tbb::parallel_pipeline(
        4, tbb::make_filter<void, int>(tbb::filter_mode::serial_in_order,
                                       [&](tbb::flow_control& fc) {
                                         if (next == kSignatures) {
                                           fc.stop();
                                           return 0;
                                         }
                                         return next++;
                                       }) &
               tbb::make_filter<int, int>(
                   tbb::filter_mode::parallel,
                   [&](int i) {
                     passed +=
                         runner->RunVerification(calls[i]).Passed() ? 1 : 0;
                     return i;
                   }) &
               tbb::make_filter<int, void>(tbb::filter_mode::serial_in_order,
                                           [&](int i) { order.push_back(i); }));
    EXPECT_EQ(passed.load(), kSignatures);
    ASSERT_EQ(order.size(), static_cast<size_t>(kSignatures));
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
    EXPECT_LE(runner->stats().max_concurrent, 2u);
    if (cap == 1) {
      EXPECT_GT(runner->stats().blocked_waits, 0u);
    } else {
      EXPECT_GT(runner->stats().suspended_waits, 0u);
    }
  }
}

TEST_F(PluginTest, ConcurrencyBoundHoldsFromBlockingThreads) {
  Install("com.example.good");
  const fs::path counter = tmp_.path() / "counter";
  config_["counter_file"] = counter.string();
  config_["sleep_ms"] = "100";
  PluginRunnerOptions o;
  o.jobs = 3;
  o.wait = WaitMode::kBlock;
  auto runner = Runner(o);
  const crypto::Envelope e = AwsEnvelope("com.example.good");
  constexpr int kSignatures = 9;
  std::vector<PluginCall> calls;
  for (int i = 0; i < kSignatures; ++i) {
    calls.push_back(Call(e, "sha256:" + std::to_string(i)));
  }
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kSignatures; ++i) {
    threads.emplace_back([&, i] {
      passed += runner->RunVerification(calls[i]).Passed() ? 1 : 0;
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(passed.load(), kSignatures);
  long running = -1;
  long max = -1;
  std::ifstream(counter) >> running >> max;
  EXPECT_LE(max, 3);
  EXPECT_GE(max, 2);
  EXPECT_EQ(runner->stats().suspended_waits, 0u);
}

TEST_F(PluginTest, IdenticalConcurrentRequestsShareOneInvocation) {
  Install("com.example.good");
  config_["sleep_ms"] = "600";
  PluginRunnerOptions o;
  o.jobs = 4;
  o.wait = WaitMode::kBlock;
  auto runner = Runner(o);
  // Resolve first, so that the four calls start together.
  ASSERT_TRUE(
      runner->Resolve("com.example.good", std::nullopt, &config_, kNow).ok());
  const crypto::Envelope e = AwsEnvelope("com.example.good");
  const PluginCall call = Call(e);
  std::vector<std::thread> threads;
  std::atomic<int> passed{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back(
        [&] { passed += runner->RunVerification(call).Passed() ? 1 : 0; });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(passed.load(), 4);
  EXPECT_EQ(Invocations("verify-signature"), 1);
  EXPECT_EQ(runner->stats().shared_invocations, 3u);
}

TEST_F(PluginTest, IndexCacheAvoidsReRunsWithinTheTtl) {
  Install("com.example.good");
  PluginRunnerOptions o;
  o.index_path = tmp_.path() / "index.db";
  const crypto::Envelope e = AwsEnvelope("com.example.good");
  const crypto::Envelope revoked = AwsEnvelope("com.example.good", "job-bad");
  const fs::path revoked_file = tmp_.path() / "revoked.txt";
  trustgate::testing::WriteFile(revoked_file,
                                std::string(kJobArnPrefix) + "job-bad\n");
  config_["revocation_file"] = revoked_file.string();
  auto run = [&](PluginRunner& r, base::Time now) {
    std::vector<PluginOutcome> outs;
    for (int i = 0; i < 3; ++i) {
      PluginCall c = Call(i == 2 ? revoked : e, "sha256:" + std::to_string(i));
      c.now = now;
      outs.push_back(r.RunVerification(c));
    }
    return outs;
  };
  {
    auto first = Runner(o);
    auto outs = run(*first, kNow);
    EXPECT_TRUE(outs[0].Passed());
    EXPECT_FALSE(outs[2].Passed());
    EXPECT_FALSE(outs[0].cached);
    EXPECT_EQ(first->stats().cache_writes, 4u);  // metadata + 3 answers
  }
  EXPECT_EQ(Invocations("get-plugin-metadata"), 1);
  EXPECT_EQ(Invocations("verify-signature"), 3);
  {
    // A second runner on the same index, an hour later: no process at all.
    auto second = Runner(o, kNow + std::chrono::hours(1));
    auto outs = run(*second, kNow + std::chrono::hours(1));
    for (const auto& out : outs) {
      EXPECT_TRUE(out.cached);
      EXPECT_FALSE(out.invoked);
    }
    EXPECT_TRUE(outs[0].Passed());
    EXPECT_TRUE(outs[1].Passed());
    ASSERT_NE(outs[2].FirstEnforcedFailure(), nullptr);  // re-checked
    EXPECT_EQ(outs[2].FirstEnforcedFailure()->capability,
              PluginCapability::kRevocationCheck);
    // The action is applied at use, not stored.
    PluginCall logged = Call(revoked, "sha256:2");
    logged.now = kNow + std::chrono::hours(1);
    logged.revocation_action = Action::kLog;
    EXPECT_TRUE(second->RunVerification(logged).Passed());
    EXPECT_EQ(second->stats().verify_cache_hits, 4u);
    EXPECT_EQ(second->stats().metadata_cache_hits, 1u);
  }
  EXPECT_EQ(Invocations("get-plugin-metadata"), 1);
  EXPECT_EQ(Invocations("verify-signature"), 3);
  {
    // A different request (another trusted identity) is another key.
    identities_.push_back(
        {TrustedIdentity::Kind::kOther, kOtherProfileArn, {}});
    auto third = Runner(o, kNow + std::chrono::hours(2));
    PluginCall c = Call(e, "sha256:0");
    c.now = kNow + std::chrono::hours(2);
    EXPECT_FALSE(third->RunVerification(c).cached);
    identities_.pop_back();
  }
  EXPECT_EQ(Invocations("verify-signature"), 4);
  {
    // Past the TTL: asked again (metadata too).
    auto late = Runner(o, kNow + std::chrono::hours(25));
    auto outs = run(*late, kNow + std::chrono::hours(25));
    EXPECT_FALSE(outs[0].cached);
    EXPECT_EQ(late->stats().verify_invocations, 3u);
  }
  EXPECT_EQ(Invocations("get-plugin-metadata"), 2);
  EXPECT_EQ(Invocations("verify-signature"), 7);
  {
    // TTL zero: no cache.
    PluginRunnerOptions none = o;
    none.cache_ttl = std::chrono::seconds(0);
    auto r = Runner(none, kNow + std::chrono::hours(25));
    auto outs = run(*r, kNow + std::chrono::hours(25));
    EXPECT_FALSE(outs[0].cached);
  }
  EXPECT_EQ(Invocations("verify-signature"), 10);
}

TEST_F(PluginTest, ReplacedExecutableInvalidatesTheCache) {
  Install("com.example.good");
  PluginRunnerOptions o;
  o.index_path = tmp_.path() / "index.db";
  const crypto::Envelope e = AwsEnvelope("com.example.good");
  EXPECT_TRUE(Runner(o)->RunVerification(Call(e)).Passed());
  // Same plugin, rebuilt: one byte appended changes its SHA-256.
  const fs::path exe = PluginExecutablePath(plugin_dir_, "com.example.good");
  std::ofstream(exe, std::ios::app | std::ios::binary) << '\0';
  auto r = Runner(o);
  PluginOutcome out = r->RunVerification(Call(e));
  EXPECT_TRUE(out.Passed());
  EXPECT_FALSE(out.cached);
  EXPECT_EQ(Invocations("get-plugin-metadata"), 2);
  EXPECT_EQ(Invocations("verify-signature"), 2);
}

TEST_F(PluginTest, ErrorsAreNotCached) {
  Install("com.example.garbage");
  PluginRunnerOptions o;
  o.index_path = tmp_.path() / "index.db";
  const crypto::Envelope e = AwsEnvelope("com.example.garbage");
  for (int i = 0; i < 2; ++i) {
    PluginOutcome out = Runner(o)->RunVerification(Call(e));
    ASSERT_TRUE(out.error.has_value());
    EXPECT_EQ(out.error->code, PluginError::kMalformedResponse);
  }
  EXPECT_EQ(Invocations("verify-signature"), 2);
}

TEST_F(PluginTest, NoDescriptorLeaksAcrossInvocations) {
  Install("com.example.good");
  Install("com.example.crash");
  auto runner = Runner();
  const crypto::Envelope good = AwsEnvelope("com.example.good");
  const crypto::Envelope crash = AwsEnvelope("com.example.crash");
  runner->RunVerification(Call(good, "sha256:warm"));
  runner->RunVerification(Call(crash, "sha256:warm"));
  const size_t fds = CountFds();
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(
        runner->RunVerification(Call(good, "sha256:" + std::to_string(i)))
            .Passed());
    EXPECT_FALSE(
        runner->RunVerification(Call(crash, "sha256:" + std::to_string(i)))
            .Passed());
  }
  EXPECT_EQ(CountFds(), fds);
}

TEST_F(PluginTest, CreateFailsOnAnUnusableIndex) {
  PluginRunnerOptions o;
  o.plugin_dir = plugin_dir_;
  o.index_path = tmp_.path() / "no" / "such" / "dir" / "index.db";
  auto r = PluginRunner::Create(o, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), PluginError::kCache);
}

}  // namespace
}  // namespace trustgate::engine
