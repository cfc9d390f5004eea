#include "engine/report.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/time.h"
#include "engine/verdict.h"

namespace trustgate::engine {
namespace {

using Json = nlohmann::ordered_json;

base::Time At(int64_t seconds, int64_t micros = 0) {
  return base::TimeFromUnixSeconds(seconds) + std::chrono::microseconds(micros);
}

std::string Hex64(char c) { return std::string(64, c); }

// FullVerdict sets every field, optional ones included.
ArtifactVerdict FullVerdict() {
  ArtifactVerdict v;
  v.repository = "registry.example.com/payments/api";
  v.digest = "sha256:" + Hex64('a');
  v.media_type = "application/vnd.oci.image.manifest.v1+json";
  v.tags = {"v1.2", "latest"};
  v.verdict = Verdict::kVerified;
  v.reason = Reason::kOk;
  v.policy = "payments";
  v.level = "permissive+expiry=log";
  SignatureVerdict good;
  good.digest = "sha256:" + Hex64('b');
  good.envelope = "jws";
  good.scheme = "notary.x509";
  good.identity = "CN=signer,O=Acme,ST=WA,C=US";
  good.signing_time = At(1700000000, 123456);
  good.authentic_signing_time = At(1700000001);
  good.timestamp = TimestampInfo{"CN=TSA,O=Acme,C=US", At(1700000002, 500000)};
  good.trust_store = "ca:payments";
  good.chain = {Hex64('1'), Hex64('2'), Hex64('3')};
  for (auto& c : good.validations) {
    c.status = CheckStatus::kPass;
  }
  good.validations[static_cast<size_t>(Check::kExpiry)] = {
      CheckStatus::kLogged, "expired", "signature expired at ..."};
  good.validations[static_cast<size_t>(Check::kPlugin)] = {
      CheckStatus::kSkipped, "", ""};
  good.reason = Reason::kOk;
  good.valid_until = At(1800000000);
  SignatureVerdict bad;
  bad.digest = "sha256:" + Hex64('c');
  bad.envelope = "cose";
  bad.scheme = "notary.x509.signingAuthority";
  bad.identity = "CN=other,O=Evil,C=XX";
  bad.trust_store = "";
  bad.chain = {Hex64('4')};
  bad.validations[0] = {CheckStatus::kPass, "", ""};
  bad.validations[1] = {CheckStatus::kFail, "untrusted", "no anchor"};
  bad.reason = Reason::kAuthenticity;
  bad.error = "certificate chain is not anchored in ca:payments";
  bad.plugin = PluginUse{"com.amazonaws.signer.notation.plugin",
                         "1.2.0",
                         {"SIGNATURE_VERIFIER.TRUSTED_IDENTITY",
                          "SIGNATURE_VERIFIER.REVOCATION_CHECK"},
                         true};
  v.signatures = {good, bad};
  v.blobs = {3, 1, 2};
  v.error = "";
  v.valid_until = At(1800000000);
  v.verified_at = At(1750000000, 42);
  return v;
}

// MinimalVerdict leaves every optional field absent.
ArtifactVerdict MinimalVerdict() {
  ArtifactVerdict v;
  v.repository = "r";
  v.digest = "sha256:" + Hex64('d');
  v.media_type = "application/vnd.oci.image.index.v1+json";
  v.verdict = Verdict::kFailed;
  v.reason = Reason::kUnsigned;
  v.error = "no signature";
  return v;
}

void ExpectSameCheck(const CheckResult& a, const CheckResult& b) {
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.code, b.code);
  EXPECT_EQ(a.detail, b.detail);
}

void ExpectSameSignature(const SignatureVerdict& a, const SignatureVerdict& b) {
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(a.envelope, b.envelope);
  EXPECT_EQ(a.scheme, b.scheme);
  EXPECT_EQ(a.identity, b.identity);
  EXPECT_EQ(a.signing_time, b.signing_time);
  EXPECT_EQ(a.authentic_signing_time, b.authentic_signing_time);
  ASSERT_EQ(a.timestamp.has_value(), b.timestamp.has_value());
  if (a.timestamp) {
    EXPECT_EQ(a.timestamp->tsa, b.timestamp->tsa);
    EXPECT_EQ(a.timestamp->gen_time, b.timestamp->gen_time);
  }
  EXPECT_EQ(a.trust_store, b.trust_store);
  EXPECT_EQ(a.chain, b.chain);
  for (size_t i = 0; i < kCheckCount; ++i) {
    ExpectSameCheck(a.validations[i], b.validations[i]);
  }
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.valid_until, b.valid_until);
  ASSERT_EQ(a.plugin.has_value(), b.plugin.has_value());
  if (a.plugin) {
    EXPECT_EQ(a.plugin->name, b.plugin->name);
    EXPECT_EQ(a.plugin->version, b.plugin->version);
    EXPECT_EQ(a.plugin->capabilities, b.plugin->capabilities);
    EXPECT_EQ(a.plugin->cached, b.plugin->cached);
  }
}

void ExpectSameVerdict(const ArtifactVerdict& a, const ArtifactVerdict& b) {
  EXPECT_EQ(a.repository, b.repository);
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(a.media_type, b.media_type);
  EXPECT_EQ(a.tags, b.tags);
  EXPECT_EQ(a.verdict, b.verdict);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.policy, b.policy);
  EXPECT_EQ(a.level, b.level);
  ASSERT_EQ(a.signatures.size(), b.signatures.size());
  for (size_t i = 0; i < a.signatures.size(); ++i) {
    ExpectSameSignature(a.signatures[i], b.signatures[i]);
  }
  EXPECT_EQ(a.blobs.checked, b.blobs.checked);
  EXPECT_EQ(a.blobs.bad, b.blobs.bad);
  EXPECT_EQ(a.blobs.missing, b.blobs.missing);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.valid_until, b.valid_until);
  EXPECT_EQ(a.verified_at, b.verified_at);
  ASSERT_EQ(a.emergency.has_value(), b.emergency.has_value());
  if (a.emergency) {
    EXPECT_EQ(a.emergency->approved_by, b.emergency->approved_by);
    EXPECT_EQ(a.emergency->reason, b.emergency->reason);
    EXPECT_EQ(a.emergency->expires, b.emergency->expires);
  }
}

std::vector<std::string> Keys(const Json& j) {
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) {
    keys.push_back(it.key());
  }
  return keys;
}

// ReadAll rewinds `f` and returns its content.
std::string ReadAll(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    out.append(buf, n);
  }
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

TEST(VerdictNamesTest, ReasonCodesAreTheContractStrings) {
  const std::vector<std::string> expected = {"ok",
                                             "skipped",
                                             "unsigned",
                                             "no-policy",
                                             "integrity",
                                             "authenticity",
                                             "trusted-identity",
                                             "expiry",
                                             "authentic-timestamp",
                                             "revocation",
                                             "plugin",
                                             "blob-integrity",
                                             "blob-missing",
                                             "manifest-integrity",
                                             "malformed"};
  ASSERT_EQ(expected.size(), kReasonCount);
  for (size_t i = 0; i < expected.size(); ++i) {
    auto r = static_cast<Reason>(i);
    EXPECT_EQ(ToString(r), expected[i]);
    auto back = ReasonFromString(expected[i]);
    ASSERT_TRUE(back.has_value()) << expected[i];
    EXPECT_EQ(*back, r);
  }
  EXPECT_FALSE(ReasonFromString("OK").has_value());
  EXPECT_FALSE(ReasonFromString("").has_value());
  EXPECT_FALSE(ReasonFromString("trusted_identity").has_value());
}

TEST(VerdictNamesTest, ChecksStatusesVerdicts) {
  const std::vector<std::string> checks = {
      "integrity",          "authenticity", "trustedIdentity", "expiry",
      "authenticTimestamp", "revocation",   "plugin"};
  ASSERT_EQ(checks.size(), kCheckCount);
  for (size_t i = 0; i < checks.size(); ++i) {
    EXPECT_EQ(ToString(static_cast<Check>(i)), checks[i]);
    EXPECT_EQ(CheckFromString(checks[i]), static_cast<Check>(i));
  }
  EXPECT_EQ(ToString(CheckStatus::kPass), "pass");
  EXPECT_EQ(ToString(CheckStatus::kFail), "fail");
  EXPECT_EQ(ToString(CheckStatus::kLogged), "logged");
  EXPECT_EQ(ToString(CheckStatus::kSkipped), "skipped");
  EXPECT_EQ(CheckStatusFromString("logged"), CheckStatus::kLogged);
  EXPECT_FALSE(CheckStatusFromString("warn").has_value());
  EXPECT_EQ(ToString(Verdict::kVerified), "verified");
  EXPECT_EQ(ToString(Verdict::kSkipped), "skipped");
  EXPECT_EQ(ToString(Verdict::kFailed), "failed");
  EXPECT_EQ(VerdictFromString("failed"), Verdict::kFailed);
  EXPECT_FALSE(VerdictFromString("pass").has_value());
}

TEST(ReportJsonTest, FieldsInContractOrder) {
  Json j = ToJson(FullVerdict());
  EXPECT_EQ(Keys(j), (std::vector<std::string>{
                         "repository", "digest", "mediaType", "tags", "verdict",
                         "reason", "policy", "level", "signatures", "blobs",
                         "error", "validUntil", "verifiedAt"}));
  const Json& sig = j["signatures"][0];
  EXPECT_EQ(Keys(sig), (std::vector<std::string>{
                           "digest", "envelope", "scheme", "identity",
                           "signingTime", "authenticSigningTime", "timestamp",
                           "trustStore", "chain", "validations", "error",
                           "reason", "validUntil", "findings", "revocation"}));
  EXPECT_EQ(Keys(sig["validations"]),
            (std::vector<std::string>{
                "integrity", "authenticity", "trustedIdentity", "expiry",
                "authenticTimestamp", "revocation", "plugin"}));
  EXPECT_EQ(Keys(sig["timestamp"]),
            (std::vector<std::string>{"tsa", "genTime", "accuracyMicros"}));
  EXPECT_EQ(Keys(j["blobs"]),
            (std::vector<std::string>{"checked", "bad", "missing"}));
  EXPECT_EQ(sig["validations"]["expiry"], "logged");
  EXPECT_EQ(sig["signingTime"], "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(sig["timestamp"]["genTime"], "2023-11-14T22:13:22.5Z");
  EXPECT_EQ(j["verdict"], "verified");
  EXPECT_EQ(j["reason"], "ok");
  EXPECT_EQ(j["signatures"][1]["reason"], "authenticity");
  EXPECT_TRUE(j["error"].is_null());
}

TEST(ReportJsonTest, AbsentValuesAreNull) {
  Json j = ToJson(MinimalVerdict());
  EXPECT_TRUE(j["policy"].is_null());
  EXPECT_TRUE(j["level"].is_null());
  EXPECT_TRUE(j["validUntil"].is_null());
  EXPECT_TRUE(j["tags"].is_array());
  EXPECT_TRUE(j["tags"].empty());
  EXPECT_EQ(j["verifiedAt"], "1970-01-01T00:00:00Z");
  ArtifactVerdict v = MinimalVerdict();
  v.signatures.emplace_back();
  Json s = ToJson(v)["signatures"][0];
  EXPECT_TRUE(s["envelope"].is_null());
  EXPECT_TRUE(s["signingTime"].is_null());
  EXPECT_TRUE(s["authenticSigningTime"].is_null());
  EXPECT_TRUE(s["timestamp"].is_null());
  EXPECT_TRUE(s["error"].is_null());
  EXPECT_TRUE(s["chain"].is_array());
  EXPECT_EQ(s["validations"]["integrity"], "skipped");
}

TEST(ReportJsonTest, RoundTripsWithAndWithoutOptionalFields) {
  ArtifactVerdict with_sig_defaults = MinimalVerdict();
  with_sig_defaults.signatures.emplace_back();
  for (const ArtifactVerdict& v :
       {FullVerdict(), MinimalVerdict(), with_sig_defaults}) {
    auto back = FromJson(ToJson(v));
    ASSERT_TRUE(back.ok()) << back.detail();
    ExpectSameVerdict(*back, v);
    std::string line = ToJsonLine(v);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    auto again = FromJsonLine(line);
    ASSERT_TRUE(again.ok()) << again.detail();
    EXPECT_EQ(ToJsonLine(*again), line);
  }
}

TEST(ReportJsonTest, EmergencyFieldsOnlyUnderAnEmergencyPolicy) {
  EXPECT_FALSE(ToJson(FullVerdict()).contains("emergency"));
  ArtifactVerdict v = FullVerdict();
  v.emergency = EmergencyInfo{"oncall@example.com", "INC-1: CA rotated early",
                              At(1760000000)};
  Json j = ToJson(v);
  EXPECT_EQ(j["emergency"], true);
  EXPECT_EQ(j["emergencyApprovedBy"], "oncall@example.com");
  EXPECT_EQ(j["emergencyReason"], "INC-1: CA rotated early");
  EXPECT_EQ(j["emergencyExpires"], "2025-10-09T08:53:20Z");
  auto back = FromJsonLine(ToJsonLine(v));
  ASSERT_TRUE(back.ok()) << back.detail();
  ASSERT_TRUE(back->emergency.has_value());
  EXPECT_EQ(back->emergency->approved_by, "oncall@example.com");
  EXPECT_EQ(back->emergency->reason, "INC-1: CA rotated early");
  EXPECT_EQ(back->emergency->expires, At(1760000000));
  EXPECT_EQ(ToJsonLine(*back), ToJsonLine(v));

  Json lying = j;
  lying["emergency"] = false;
  EXPECT_EQ(FromJson(lying).code(), ReportError::kBadField);
  Json incomplete = j;
  incomplete.erase("emergencyApprovedBy");
  EXPECT_FALSE(FromJson(incomplete).ok());
}

TEST(ReportJsonTest, InvalidUtf8StaysValidJson) {
  ArtifactVerdict v = MinimalVerdict();
  v.tags = {std::string("bad\xff\xfe tag"), "ok"};
  v.error = std::string("\xc3", 1);
  std::string line = ToJsonLine(v);
  auto back = FromJsonLine(line);
  ASSERT_TRUE(back.ok()) << back.detail();
  EXPECT_EQ(back->tags.size(), 2u);
  EXPECT_EQ(ToJsonLine(*back), line);
}

TEST(ReportJsonTest, RejectsMalformedRecords) {
  EXPECT_EQ(FromJsonLine("").code(), ReportError::kBadJson);
  EXPECT_EQ(FromJsonLine("{").code(), ReportError::kBadJson);
  EXPECT_EQ(FromJsonLine("[]").code(), ReportError::kBadField);

  Json good = ToJson(FullVerdict());
  std::string line = good.dump();
  // Duplicate key at top level and inside a signature.
  std::string dup = line;
  dup.insert(1, "\"verdict\":\"failed\",");
  EXPECT_EQ(FromJsonLine(dup).code(), ReportError::kBadJson);
  std::string dup_inner = line;
  size_t at = dup_inner.find("\"validations\":{") + 15;
  dup_inner.insert(at, "\"plugin\":\"pass\",");
  EXPECT_EQ(FromJsonLine(dup_inner).code(), ReportError::kBadJson);

  for (const char* field : {"repository", "digest", "tags", "verdict", "reason",
                            "policy", "signatures", "blobs"}) {
    Json j = good;
    j.erase(field);
    EXPECT_EQ(FromJson(j).code(), ReportError::kMissingField) << field;
  }
  {
    Json j = good;
    j["signatures"][0]["validations"].erase("revocation");
    EXPECT_EQ(FromJson(j).code(), ReportError::kMissingField);
  }
  {
    Json j = good;
    j["reason"] = "bogus";
    EXPECT_EQ(FromJson(j).code(), ReportError::kBadField);
  }
  {
    Json j = good;
    j["verdict"] = 1;
    EXPECT_EQ(FromJson(j).code(), ReportError::kBadField);
  }
  {
    Json j = good;
    j["signatures"][0]["signingTime"] = "yesterday";
    EXPECT_EQ(FromJson(j).code(), ReportError::kBadField);
  }
  {
    Json j = good;
    j["signatures"][0]["validations"]["expiry"] = "warn";
    EXPECT_EQ(FromJson(j).code(), ReportError::kBadField);
  }
  {
    Json j = good;
    j["blobs"]["bad"] = -1;
    EXPECT_EQ(FromJson(j).code(), ReportError::kBadField);
  }
  {
    Json j = good;
    j["tags"] = Json::array({1});
    EXPECT_EQ(FromJson(j).code(), ReportError::kBadField);
  }
  {
    Json j = good;
    j["signatures"][0]["findings"][0]["check"] = "nope";
    EXPECT_EQ(FromJson(j).code(), ReportError::kBadField);
  }
  // Deep nesting in an ignored field is refused, not recursed into.
  std::string deep = line;
  deep.insert(1,
              "\"x\":" + std::string(100, '[') + std::string(100, ']') + ",");
  EXPECT_EQ(FromJsonLine(deep).code(), ReportError::kBadJson);
  // Unknown keys at normal depth are ignored.
  std::string extra = line;
  extra.insert(1, "\"future\":{\"a\":1},");
  EXPECT_TRUE(FromJsonLine(extra).ok());
}

TEST(SummaryTest, CountsVerdictsReasonsSignatures) {
  Summary s;
  s.Add(FullVerdict());
  s.Add(MinimalVerdict());
  ArtifactVerdict skipped = MinimalVerdict();
  skipped.verdict = Verdict::kSkipped;
  skipped.reason = Reason::kSkipped;
  s.Add(skipped);
  EXPECT_EQ(s.artifacts, 3u);
  EXPECT_EQ(s.count(Verdict::kVerified), 1u);
  EXPECT_EQ(s.count(Verdict::kFailed), 1u);
  EXPECT_EQ(s.count(Verdict::kSkipped), 1u);
  EXPECT_EQ(s.count(Reason::kUnsigned), 1u);
  EXPECT_EQ(s.count(Reason::kOk), 1u);
  EXPECT_EQ(s.signatures_verified, 2u);
  s.elapsed_seconds = 1.5;
  EXPECT_DOUBLE_EQ(s.ArtifactsPerSecond(), 2.0);
  Json j = SummaryToJson(s);
  EXPECT_EQ(j["artifacts"], 3);
  EXPECT_EQ(j["failed"], 1);
  EXPECT_EQ(j["reasons"].size(), kReasonCount);
  EXPECT_EQ(j["reasons"]["unsigned"], 1);
}

std::vector<ArtifactVerdict> Sample(size_t n) {
  std::vector<ArtifactVerdict> out;
  for (size_t i = 0; i < n; ++i) {
    ArtifactVerdict v = (i % 3 == 0) ? FullVerdict() : MinimalVerdict();
    v.digest = "sha256:" + std::string(60, 'e') + std::to_string(1000 + i);
    if (i % 3 == 2) {
      v.verdict = Verdict::kSkipped;
      v.reason = Reason::kSkipped;
      v.policy = "legacy";
      v.error.clear();
    }
    out.push_back(std::move(v));
  }
  return out;
}

TEST(ReportWriterTest, JsonlOneLinePerArtifact) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ReportWriter w(f, Format::kJsonl);
  Summary summary;
  auto verdicts = Sample(7);
  for (const auto& v : verdicts) {
    ASSERT_TRUE(w.Write(v).ok());
    summary.Add(v);
  }
  ASSERT_TRUE(w.Finish(summary).ok());
  auto lines = Lines(ReadAll(f));
  std::fclose(f);
  ASSERT_EQ(lines.size(), verdicts.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i], ToJsonLine(verdicts[i]));
    auto back = FromJsonLine(lines[i]);
    ASSERT_TRUE(back.ok()) << back.detail();
    EXPECT_EQ(back->digest, verdicts[i].digest);
  }
}

TEST(ReportWriterTest, JsonDocumentHasArtifactsAndSummary) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{5}}) {
    std::FILE* f = std::tmpfile();
    ASSERT_NE(f, nullptr);
    ReportWriter w(f, Format::kJson);
    Summary summary;
    auto verdicts = Sample(n);
    for (const auto& v : verdicts) {
      ASSERT_TRUE(w.Write(v).ok());
      summary.Add(v);
    }
    summary.elapsed_seconds = 2;
    ASSERT_TRUE(w.Finish(summary).ok());
    std::string text = ReadAll(f);
    std::fclose(f);
    Json doc = Json::parse(text, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << text;
    EXPECT_EQ(Keys(doc), (std::vector<std::string>{"artifacts", "summary"}));
    ASSERT_TRUE(doc["artifacts"].is_array());
    ASSERT_EQ(doc["artifacts"].size(), n);
    for (size_t i = 0; i < n; ++i) {
      auto back = FromJson(doc["artifacts"][i]);
      ASSERT_TRUE(back.ok()) << back.detail();
      ExpectSameVerdict(*back, verdicts[i]);
    }
    EXPECT_EQ(doc["summary"]["artifacts"], n);
  }
}

TEST(ReportWriterTest, TextOneLinePerArtifactThenSummary) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ReportWriter w(f, Format::kText);
  Summary summary;
  auto verdicts = Sample(6);
  verdicts[1].tags = {"evil\x1b[31m"};
  verdicts[1].reason = Reason::kIntegrity;
  verdicts[1].error = "line one\nline two";
  for (const auto& v : verdicts) {
    ASSERT_TRUE(w.Write(v).ok());
    summary.Add(v);
  }
  summary.elapsed_seconds = 3;
  summary.reused = 4;
  ASSERT_TRUE(w.Finish(summary).ok());
  auto lines = Lines(ReadAll(f));
  std::fclose(f);
  ASSERT_GT(lines.size(), verdicts.size());
  for (size_t i = 0; i < verdicts.size(); ++i) {
    const std::string& line = lines[i];
    switch (verdicts[i].verdict) {
      case Verdict::kVerified:
        EXPECT_EQ(line.rfind("VERIFIED  ", 0), 0u) << line;
        EXPECT_NE(line.find(" by CN=signer"), std::string::npos) << line;
        EXPECT_NE(line.find("(ca:payments)"), std::string::npos) << line;
        break;
      case Verdict::kSkipped:
        EXPECT_EQ(line.rfind("SKIPPED   ", 0), 0u) << line;
        break;
      case Verdict::kFailed:
        EXPECT_EQ(line.rfind("FAILED    ", 0), 0u) << line;
        break;
    }
    // The reference starts in the same column for every verdict.
    EXPECT_EQ(line.find(verdicts[i].repository + "@sha256:"), 10u) << line;
    EXPECT_EQ(line.find('\x1b'), std::string::npos);
  }
  EXPECT_NE(lines[1].find("integrity: "), std::string::npos) << lines[1];
  EXPECT_NE(lines[0].find("(v1.2, latest)"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("\xe2\x80\xa6"), std::string::npos) << lines[0];
  // Summary block after a blank line.
  EXPECT_TRUE(lines[verdicts.size()].empty());
  EXPECT_EQ(lines[verdicts.size() + 1].rfind("6 artifacts", 0), 0u);
  EXPECT_EQ(lines[verdicts.size() + 2].rfind("4 verdicts reused", 0), 0u);
}

TEST(ReportWriterTest, TextFullDigests) {
  ArtifactVerdict v = MinimalVerdict();
  std::string line = TextLine(v, ReportWriter::TextOptions{true});
  EXPECT_NE(line.find(v.digest), std::string::npos);
  line = TextLine(v, ReportWriter::TextOptions{});
  EXPECT_EQ(line.find(v.digest), std::string::npos);
}

TEST(ReportWriterTest, WriteErrorIsReported) {
  std::FILE* f = std::fopen("/dev/full", "w");
  if (f == nullptr) {
    GTEST_SKIP() << "/dev/full is not available";
  }
  ReportWriter w(f, Format::kJsonl);
  Summary summary;
  bool failed = false;
  for (int i = 0; i < 2000 && !failed; ++i) {
    failed = !w.Write(FullVerdict()).ok();
  }
  auto status = w.Finish(summary);
  std::fclose(f);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), ReportError::kWrite);
}

TEST(ReportFormatTest, Names) {
  EXPECT_EQ(FormatFromString("jsonl"), Format::kJsonl);
  EXPECT_EQ(FormatFromString("json"), Format::kJson);
  EXPECT_EQ(FormatFromString("text"), Format::kText);
  EXPECT_FALSE(FormatFromString("yaml").has_value());
}

}  // namespace
}  // namespace trustgate::engine
