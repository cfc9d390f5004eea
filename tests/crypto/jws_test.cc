#include "crypto/jws.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/time.h"
#include "crypto/envelope.h"
#include "tests/crypto/envelope_builder.h"

namespace trustgate::crypto {
namespace {

using envtest::GoodJws;
using envtest::JwsInput;
using envtest::JwsProtected;
using envtest::SignerForAlgorithm;
using envtest::SignJws;

constexpr auto kPs256 = SignatureAlgorithm::kPs256;
constexpr auto kEs256 = SignatureAlgorithm::kEs256;

base::Result<Envelope, CryptoError> Parse(std::string_view text) {
  return ParseJws(base::AsBytes(text));
}

// ParseCode returns the error code of a parse that must fail.
std::optional<CryptoError> ParseCode(std::string_view text) {
  auto r = Parse(text);
  if (r.ok()) {
    return std::nullopt;
  }
  return r.code();
}

std::string Sha256Hex(base::ByteView b) {
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256(b.data(), b.size(), md);
  return base::HexEncode(md);
}

// JwsWith signs a PS256 envelope whose protected header is `protected_json`.
std::string JwsWith(std::string protected_json) {
  JwsInput in;
  in.protected_json = std::move(protected_json);
  return SignJws(SignerForAlgorithm(kPs256), kPs256, in);
}

// ---------------------------------------------------------------------------
// Real Notation envelopes (interop/notation-e2e).
// ---------------------------------------------------------------------------

nlohmann::json Signatures() {
  auto text = testpki::ReadFile(testpki::SharedDir() +
                                "/interop/notation-e2e/signatures.json");
  if (!text) {
    return nlohmann::json::array();
  }
  return nlohmann::json::parse(text->begin(), text->end());
}

// CheckAgainstSignaturesJson asserts every field of `e` that
// signatures.json records for the envelope described by `want`.
void CheckAgainstSignaturesJson(const Envelope& e, const nlohmann::json& want) {
  EXPECT_EQ(ToString(e.algorithm), want["alg"].get<std::string>());
  EXPECT_EQ(e.critical, want["crit"].get<std::vector<std::string>>());
  EXPECT_EQ(e.content_type, want["content_type"].get<std::string>());
  EXPECT_EQ(ToString(e.scheme), want["signing_scheme"].get<std::string>());
  // "2025-01-07T08:42:43Z (CBOR tag 1, epoch ...)" for COSE: the first word.
  std::string signing_time = want["signing_time"].get<std::string>();
  signing_time = signing_time.substr(0, signing_time.find(' '));
  ASSERT_TRUE(e.signing_time.has_value());
  EXPECT_EQ(*e.signing_time, *base::ParseRfc3339(signing_time));
  EXPECT_FALSE(e.authentic_signing_time.has_value());
  if (want["expiry"].is_null()) {
    EXPECT_FALSE(e.expiry.has_value());
  } else {
    ASSERT_TRUE(e.expiry.has_value());
    EXPECT_EQ(*e.expiry,
              *base::ParseRfc3339(want["expiry"].get<std::string>()));
  }
  EXPECT_EQ(e.signing_agent, want["signing_agent"].get<std::string>());
  EXPECT_EQ(e.signature.size(), want["signature_bytes"].get<size_t>());
  EXPECT_TRUE(e.extended_attributes.empty());
  EXPECT_FALSE(e.verification_plugin.has_value());

  const auto& chain = want["certificate_chain"];
  ASSERT_EQ(e.certificate_chain.size(), chain.size());
  for (size_t i = 0; i < chain.size(); ++i) {
    EXPECT_EQ(e.certificate_chain[i]->Sha256Hex(),
              chain[i]["sha256_fingerprint"].get<std::string>());
  }

  if (want["timestamp"].is_null()) {
    EXPECT_FALSE(e.timestamp_token.has_value());
  } else {
    ASSERT_TRUE(e.timestamp_token.has_value());
    EXPECT_EQ(e.timestamp_token->size(),
              want["timestamp"]["token_bytes"].get<size_t>());
    EXPECT_EQ(Sha256Hex(*e.timestamp_token),
              want["timestamp"]["token_sha256"].get<std::string>());
  }

  auto payload = ParsePayload(e.payload);
  ASSERT_TRUE(payload.ok()) << payload.detail();
  const auto& target = want["payload"]["targetArtifact"];
  EXPECT_EQ(payload->media_type, target["mediaType"].get<std::string>());
  EXPECT_EQ(payload->digest, target["digest"].get<std::string>());
  EXPECT_EQ(payload->size, target["size"].get<int64_t>());
  std::vector<std::pair<std::string, std::string>> annotations;
  if (target.contains("annotations")) {
    for (const auto& [k, v] : target["annotations"].items()) {
      annotations.emplace_back(k, v.get<std::string>());
    }
  }
  EXPECT_EQ(payload->annotations, annotations);

  auto integrity = VerifyEnvelopeIntegrity(e);
  EXPECT_TRUE(integrity.ok()) << integrity.detail();
}

TEST(JwsInterop, EveryNotationJwsEnvelopeParsesAndVerifies) {
  const nlohmann::json sigs = Signatures();
  ASSERT_FALSE(sigs.empty())
      << "signatures.json not found under " << testpki::SharedDir();
  int checked = 0;
  for (const auto& want : sigs) {
    if (want["envelope"] != "JWS (JSON serialization)") {
      continue;
    }
    const std::string rel = want.contains("envelope_file")
                                ? want["envelope_file"].get<std::string>()
                                : want["detached_signature"].get<std::string>();
    SCOPED_TRACE(rel);
    auto bytes = testpki::ReadFile(testpki::SharedDir() +
                                   "/interop/notation-e2e/" + rel);
    ASSERT_TRUE(bytes.has_value());
    auto envelope = ParseJws(*bytes);
    ASSERT_TRUE(envelope.ok()) << envelope.detail();
    EXPECT_EQ(envelope->format, EnvelopeFormat::kJws);
    CheckAgainstSignaturesJson(*envelope, want);
    ++checked;
  }
  // Seven layout envelopes plus blob.jws.sig.
  EXPECT_EQ(checked, 8);
}

TEST(JwsInterop, NotationNonEnvelopesAreMalformed) {
  for (const char* rel :
       {"layouts/e2e-invalid-signature/blobs/sha256/"
        "9a8decdf3775708f4eed16859f19561d730cad40b1af0dcfc37ac1e5f879a934",
        "config/signatures/malformed.jws.sig"}) {
    SCOPED_TRACE(rel);
    auto bytes = testpki::ReadFile(testpki::SharedDir() +
                                   "/interop/notation-e2e/" + rel);
    ASSERT_TRUE(bytes.has_value());
    auto envelope = ParseJws(*bytes);
    ASSERT_FALSE(envelope.ok());
    EXPECT_EQ(envelope.code(), CryptoError::kMalformed);
  }
}

TEST(JwsInterop, TamperedNotationEnvelopeFailsIntegrity) {
  auto bytes = testpki::ReadFile(
      testpki::SharedDir() +
      "/interop/notation-e2e/layouts/e2e-valid-signature/blobs/sha256/"
      "c9af07e038b2b1a463e648986ad7273157511ffeba0b689f33e5472bae471f50");
  ASSERT_TRUE(bytes.has_value());
  auto original = ParseJws(*bytes);
  ASSERT_TRUE(original.ok()) << original.detail();
  // Change one character of the signature segment.
  std::string text(bytes->begin(), bytes->end());
  const size_t pos = text.find("\"signature\":\"") + 20;
  text[pos] = text[pos] == 'A' ? 'B' : 'A';
  auto tampered = Parse(text);
  ASSERT_TRUE(tampered.ok()) << tampered.detail();
  auto integrity = VerifyEnvelopeIntegrity(*tampered);
  ASSERT_FALSE(integrity.ok());
  EXPECT_EQ(integrity.code(), CryptoError::kBadSignature);
}

// ---------------------------------------------------------------------------
// Built envelopes.
// ---------------------------------------------------------------------------

TEST(Jws, EveryAlgorithmAndSchemeParsesAndVerifies) {
  for (SignatureAlgorithm alg : envtest::AllAlgorithms()) {
    for (SigningScheme scheme :
         {SigningScheme::kX509, SigningScheme::kX509SigningAuthority}) {
      for (bool with_expiry : {false, true}) {
        SCOPED_TRACE(std::string(ToString(alg)) + " " +
                     std::string(ToString(scheme)) +
                     (with_expiry ? " expiry" : ""));
        auto e = Parse(GoodJws(alg, scheme, with_expiry));
        ASSERT_TRUE(e.ok()) << e.detail();
        EXPECT_EQ(e->algorithm, alg);
        EXPECT_EQ(e->scheme, scheme);
        const base::Time t = *base::ParseRfc3339(envtest::kSigningTime);
        if (scheme == SigningScheme::kX509) {
          EXPECT_EQ(e->signing_time, t);
          EXPECT_FALSE(e->authentic_signing_time.has_value());
        } else {
          EXPECT_EQ(e->authentic_signing_time, t);
          EXPECT_FALSE(e->signing_time.has_value());
        }
        EXPECT_EQ(e->expiry.has_value(), with_expiry);
        EXPECT_EQ(e->content_type, kPayloadContentType);
        EXPECT_EQ(base::AsString(e->payload), envtest::kPayload);
        EXPECT_EQ(e->signing_agent, "trustgate-test/1.0");
        ASSERT_EQ(e->certificate_chain.size(), 1u);
        EXPECT_EQ(e->certificate_chain[0]->der().size(),
                  SignerForAlgorithm(alg).cert_der.size());
        auto integrity = VerifyEnvelopeIntegrity(*e);
        EXPECT_TRUE(integrity.ok()) << integrity.detail();
      }
    }
  }
}

TEST(Jws, SignedBytesAreTheEncodedSegments) {
  JwsInput in;
  in.protected_json = JwsProtected(kPs256);
  const std::string text = SignJws(SignerForAlgorithm(kPs256), kPs256, in);
  auto e = Parse(text);
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(
      base::AsString(e->signed_bytes),
      envtest::B64Url(in.protected_json) + "." + envtest::B64Url(in.payload));
}

TEST(Jws, TamperedPayloadFailsIntegrity) {
  JwsInput in;
  in.protected_json = JwsProtected(kEs256);
  std::string text = SignJws(SignerForAlgorithm(kEs256), kEs256, in);
  const std::string good = envtest::B64Url(in.payload);
  std::string bad_payload = in.payload;
  bad_payload[bad_payload.find("517")] = '6';
  text.replace(text.find(good), good.size(), envtest::B64Url(bad_payload));
  auto e = Parse(text);
  ASSERT_TRUE(e.ok()) << e.detail();
  auto integrity = VerifyEnvelopeIntegrity(*e);
  ASSERT_FALSE(integrity.ok());
  EXPECT_EQ(integrity.code(), CryptoError::kBadSignature);
}

TEST(Jws, TamperedProtectedHeaderFailsIntegrity) {
  // Sign one header, ship another (still valid) one.
  JwsInput in;
  in.protected_json = JwsProtected(kPs256);
  std::string text = SignJws(SignerForAlgorithm(kPs256), kPs256, in);
  const std::string good = envtest::B64Url(in.protected_json);
  std::string other = in.protected_json;
  other.replace(other.find("03:04:05"), 8, "03:04:06");
  text.replace(text.find(good), good.size(), envtest::B64Url(other));
  auto e = Parse(text);
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(VerifyEnvelopeIntegrity(*e).code(), CryptoError::kBadSignature);
}

TEST(Jws, CorruptedSignatureFailsIntegrity) {
  for (SignatureAlgorithm alg : envtest::AllAlgorithms()) {
    SCOPED_TRACE(ToString(alg));
    auto e = Parse(GoodJws(alg));
    ASSERT_TRUE(e.ok()) << e.detail();
    Envelope bad = *e;
    bad.signature[bad.signature.size() / 2] ^= 0x01;
    EXPECT_EQ(VerifyEnvelopeIntegrity(bad).code(), CryptoError::kBadSignature);
    bad = *e;
    bad.signature.pop_back();
    EXPECT_EQ(VerifyEnvelopeIntegrity(bad).code(), CryptoError::kBadSignature);
  }
}

TEST(Jws, AlgorithmMustMatchTheKey) {
  // A P-256 key, signing honestly, but the header claims ES384.
  JwsInput in;
  in.protected_json = JwsProtected(SignatureAlgorithm::kEs384);
  auto e = Parse(SignJws(SignerForAlgorithm(kEs256), kEs256, in));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(VerifyEnvelopeIntegrity(*e).code(),
            CryptoError::kAlgorithmKeyMismatch);
  // An RSA-3072 key claiming PS256.
  in.protected_json = JwsProtected(kPs256);
  e = Parse(
      SignJws(SignerForAlgorithm(SignatureAlgorithm::kPs384), kPs256, in));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(VerifyEnvelopeIntegrity(*e).code(),
            CryptoError::kAlgorithmKeyMismatch);
  // An RSA key claiming ES256.
  in.protected_json = JwsProtected(kEs256);
  in.chain = {SignerForAlgorithm(kPs256).cert_der};
  e = Parse(SignJws(SignerForAlgorithm(kEs256), kEs256, in));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(VerifyEnvelopeIntegrity(*e).code(),
            CryptoError::kAlgorithmKeyMismatch);
}

TEST(Jws, Rsa1024KeyIsUnsupported) {
  const envtest::Signer& weak = envtest::SignerFor(testpki::KeyKind::kRsa1024);
  JwsInput in;
  in.protected_json = JwsProtected(kPs256);
  auto e = Parse(SignJws(weak, kPs256, in));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(VerifyEnvelopeIntegrity(*e).code(), CryptoError::kUnsupportedKey);
}

TEST(Jws, PssSaltLengthIsNotCheckedForJws) {
  // golang-jwt (Notation's JWS path) verifies PS* with PSSSaltLengthAuto.
  for (int salt : {0, RSA_PSS_SALTLEN_MAX, 20}) {
    SCOPED_TRACE(salt);
    JwsInput in;
    in.protected_json = JwsProtected(kPs256);
    in.pss_salt = salt;
    auto e = Parse(SignJws(SignerForAlgorithm(kPs256), kPs256, in));
    ASSERT_TRUE(e.ok()) << e.detail();
    auto integrity = VerifyEnvelopeIntegrity(*e);
    EXPECT_TRUE(integrity.ok()) << integrity.detail();
  }
}

// Crit.

TEST(Jws, CritRules) {
  const std::string base =
      R"({"alg":"PS256","cty":"application/vnd.cncf.notary.payload.v1+json",)"
      R"("io.cncf.notary.signingScheme":"notary.x509",)"
      R"("io.cncf.notary.signingTime":"2024-01-02T03:04:05Z")";
  struct Case {
    std::string extra;
    std::optional<CryptoError> want;
  };
  const std::vector<Case> cases = {
      {R"(,"crit":["io.cncf.notary.signingScheme"])", std::nullopt},
      // crit absent, empty, wrong type.
      {"", CryptoError::kMissingAttribute},
      {R"(,"crit":[])", CryptoError::kMissingAttribute},
      {R"(,"crit":"io.cncf.notary.signingScheme")", CryptoError::kBadAttribute},
      {R"(,"crit":["io.cncf.notary.signingScheme",7])",
       CryptoError::kBadAttribute},
      // The signing scheme must be listed.
      {R"(,"x":1,"crit":["x"])", CryptoError::kBadAttribute},
      // The expiry must be listed when present.
      {R"(,"io.cncf.notary.expiry":"2025-01-02T03:04:05Z",)"
       R"("crit":["io.cncf.notary.signingScheme"])",
       CryptoError::kBadAttribute},
      {R"(,"io.cncf.notary.expiry":"2025-01-02T03:04:05Z",)"
       R"("crit":["io.cncf.notary.signingScheme","io.cncf.notary.expiry"])",
       std::nullopt},
      // The expiry listed but absent.
      {R"(,"crit":["io.cncf.notary.signingScheme","io.cncf.notary.expiry"])",
       CryptoError::kMalformed},
      // A name listed but absent.
      {R"(,"crit":["io.cncf.notary.signingScheme","com.example.absent"])",
       CryptoError::kMalformed},
      // Notation refuses a Notary or registered header other than the
      // required ones in crit (it is not an extended attribute).
      {R"(,"crit":["io.cncf.notary.signingScheme",)"
       R"("io.cncf.notary.signingTime"])",
       CryptoError::kMalformed},
      {R"(,"crit":["io.cncf.notary.signingScheme","alg"])",
       CryptoError::kMalformed},
      // A required name twice.
      {R"(,"crit":["io.cncf.notary.signingScheme",)"
       R"("io.cncf.notary.signingScheme"])",
       CryptoError::kMalformed},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.extra);
    EXPECT_EQ(ParseCode(JwsWith(base + c.extra + "}")), c.want);
  }
}

TEST(Jws, SigningAuthorityMustMarkAuthenticSigningTimeCritical) {
  std::string h = JwsProtected(kPs256, SigningScheme::kX509SigningAuthority);
  // The last occurrence is the crit entry (the first is the header).
  const std::string listed = R"(,"io.cncf.notary.authenticSigningTime")";
  const size_t at = h.rfind(listed);
  ASSERT_NE(at, std::string::npos);
  ASSERT_GT(at, h.find(R"("crit")"));
  h.erase(at, listed.size());
  EXPECT_EQ(ParseCode(JwsWith(h)), CryptoError::kBadAttribute);
}

TEST(Jws, UnknownCriticalAttributeIsKeptNotRefused) {
  const std::string h =
      R"({"alg":"PS256","cty":"application/vnd.cncf.notary.payload.v1+json",)"
      R"("io.cncf.notary.signingScheme":"notary.x509",)"
      R"("io.cncf.notary.signingTime":"2024-01-02T03:04:05Z",)"
      R"("com.example.critical":{"a":[1,"x"]},"com.example.info":"hello",)"
      R"("crit":["io.cncf.notary.signingScheme","com.example.critical"]})";
  auto e = Parse(JwsWith(h));
  ASSERT_TRUE(e.ok()) << e.detail();
  ASSERT_EQ(e->extended_attributes.size(), 2u);
  EXPECT_EQ(e->extended_attributes[0].key, "com.example.critical");
  EXPECT_EQ(e->extended_attributes[0].value, R"({"a":[1,"x"]})");
  EXPECT_TRUE(e->extended_attributes[0].critical);
  EXPECT_FALSE(e->extended_attributes[0].integer_label);
  EXPECT_EQ(e->extended_attributes[1].key, "com.example.info");
  EXPECT_EQ(e->extended_attributes[1].value, R"("hello")");
  EXPECT_FALSE(e->extended_attributes[1].critical);
  EXPECT_EQ(e->critical,
            (std::vector<std::string>{"io.cncf.notary.signingScheme",
                                      "com.example.critical"}));
  EXPECT_TRUE(VerifyEnvelopeIntegrity(*e).ok());
}

TEST(Jws, VerificationPluginAttributes) {
  const std::string base =
      R"({"alg":"PS256","cty":"application/vnd.cncf.notary.payload.v1+json",)"
      R"("io.cncf.notary.signingScheme":"notary.x509",)"
      R"("io.cncf.notary.signingTime":"2024-01-02T03:04:05Z")";
  const std::string plugin =
      R"(,"io.cncf.notary.verificationPlugin":"com.example.plugin")";
  const std::string min_version =
      R"(,"io.cncf.notary.verificationPluginMinVersion":"1.2.3")";
  const std::string crit_both =
      R"(,"crit":["io.cncf.notary.signingScheme",)"
      R"("io.cncf.notary.verificationPlugin",)"
      R"("io.cncf.notary.verificationPluginMinVersion"]})";
  auto e = Parse(JwsWith(base + plugin + min_version + crit_both));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(e->verification_plugin, "com.example.plugin");
  EXPECT_EQ(e->verification_plugin_min_version, "1.2.3");
  EXPECT_TRUE(e->extended_attributes.empty());

  // The plugin name must be critical, a string, and not blank.
  EXPECT_EQ(ParseCode(JwsWith(base + plugin +
                              R"(,"crit":["io.cncf.notary.signingScheme"]})")),
            CryptoError::kBadAttribute);
  EXPECT_EQ(
      ParseCode(JwsWith(base + R"(,"io.cncf.notary.verificationPlugin":7)" +
                        R"(,"crit":["io.cncf.notary.signingScheme",)"
                        R"("io.cncf.notary.verificationPlugin"]})")),
      CryptoError::kBadAttribute);
  EXPECT_EQ(
      ParseCode(JwsWith(base + R"(,"io.cncf.notary.verificationPlugin":"  ")" +
                        R"(,"crit":["io.cncf.notary.signingScheme",)"
                        R"("io.cncf.notary.verificationPlugin"]})")),
      CryptoError::kBadAttribute);
  // The minimum version must be critical when a plugin is named...
  EXPECT_EQ(ParseCode(JwsWith(base + plugin + min_version +
                              R"(,"crit":["io.cncf.notary.signingScheme",)"
                              R"("io.cncf.notary.verificationPlugin"]})")),
            CryptoError::kBadAttribute);
  // ...and is ignored when none is (as notation-go does).
  e = Parse(JwsWith(base + min_version +
                    R"(,"crit":["io.cncf.notary.signingScheme"]})"));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_FALSE(e->verification_plugin.has_value());
  EXPECT_FALSE(e->verification_plugin_min_version.has_value());
}

// Scheme and times.

TEST(Jws, SchemeAndTimeRules) {
  const std::string start =
      R"({"alg":"PS256","cty":"application/vnd.cncf.notary.payload.v1+json")";
  const std::string st =
      R"(,"io.cncf.notary.signingTime":"2024-01-02T03:04:05Z")";
  const std::string ast =
      R"(,"io.cncf.notary.authenticSigningTime":"2024-01-02T03:04:05Z")";
  const std::string x509 = R"(,"io.cncf.notary.signingScheme":"notary.x509")";
  const std::string sa =
      R"(,"io.cncf.notary.signingScheme":"notary.x509.signingAuthority")";
  const std::string crit = R"(,"crit":["io.cncf.notary.signingScheme"]})";
  const std::string crit_sa = R"(,"crit":["io.cncf.notary.signingScheme",)"
                              R"("io.cncf.notary.authenticSigningTime"]})";
  struct Case {
    std::string header;
    std::optional<CryptoError> want;
  };
  const std::vector<Case> cases = {
      {start + x509 + st + crit, std::nullopt},
      {start + sa + ast + crit_sa, std::nullopt},
      {start + x509 + crit, CryptoError::kMissingAttribute},
      {start + x509 + st + ast + crit_sa, CryptoError::kBadAttribute},
      {start + sa + crit_sa, CryptoError::kMissingAttribute},
      {start + sa + st + ast + crit_sa, CryptoError::kBadAttribute},
      {start + st + crit, CryptoError::kMissingAttribute},
      {start + R"(,"io.cncf.notary.signingScheme":"notary.x509.other")" + st +
           crit,
       CryptoError::kBadAttribute},
      {start + R"(,"io.cncf.notary.signingScheme":1)" + st + crit,
       CryptoError::kBadAttribute},
      // Times must be RFC 3339 strings.
      {start + x509 + R"(,"io.cncf.notary.signingTime":"2024-01-02 03:04:05")" +
           crit,
       CryptoError::kBadAttribute},
      {start + x509 + R"(,"io.cncf.notary.signingTime":1704164645)" + crit,
       CryptoError::kBadAttribute},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.header);
    EXPECT_EQ(ParseCode(JwsWith(c.header)), c.want);
  }
}

TEST(Jws, ExpiryMustBeAfterTheSigningTime) {
  const std::string start =
      R"({"alg":"PS256","cty":"application/vnd.cncf.notary.payload.v1+json",)"
      R"("io.cncf.notary.signingScheme":"notary.x509",)"
      R"("io.cncf.notary.signingTime":"2024-01-02T03:04:05Z",)"
      R"("crit":["io.cncf.notary.signingScheme","io.cncf.notary.expiry"],)";
  EXPECT_EQ(ParseCode(JwsWith(
                start + R"("io.cncf.notary.expiry":"2024-01-02T03:04:04Z"})")),
            CryptoError::kBadAttribute);
  EXPECT_EQ(ParseCode(JwsWith(
                start + R"("io.cncf.notary.expiry":"2024-01-02T03:04:05Z"})")),
            CryptoError::kBadAttribute);
  // The same instant in another offset is still equal.
  EXPECT_EQ(ParseCode(JwsWith(start + R"("io.cncf.notary.expiry":)"
                                      R"("2024-01-02T04:04:05+01:00"})")),
            CryptoError::kBadAttribute);
  auto e = Parse(JwsWith(start + R"("io.cncf.notary.expiry":)"
                                 R"("2024-01-02T03:04:06Z"})"));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(*e->expiry, *base::ParseRfc3339("2024-01-02T03:04:06Z"));
  // Under signingAuthority it is compared with the authentic signing time.
  std::string sa = JwsProtected(kPs256, SigningScheme::kX509SigningAuthority,
                                /*with_expiry=*/true);
  sa.replace(sa.find(envtest::kExpiry), envtest::kExpiry.size(),
             "2023-01-01T00:00:00Z");
  EXPECT_EQ(ParseCode(JwsWith(sa)), CryptoError::kBadAttribute);
}

// Alg and cty.

TEST(Jws, AlgorithmMustBeANotaryOne) {
  for (const char* alg : {"RS256", "HS256", "none", "ps256", "EdDSA", ""}) {
    SCOPED_TRACE(alg);
    std::string h = JwsProtected(kPs256);
    h.replace(h.find("PS256"), 5, alg);
    EXPECT_EQ(ParseCode(JwsWith(h)), CryptoError::kUnsupportedAlgorithm);
  }
  std::string h = JwsProtected(kPs256);
  h.replace(h.find(R"("alg":"PS256",)"), 14, "");
  EXPECT_EQ(ParseCode(JwsWith(h)), CryptoError::kMissingAttribute);
  h = JwsProtected(kPs256);
  h.replace(h.find(R"("PS256")"), 7, "256");
  EXPECT_EQ(ParseCode(JwsWith(h)), CryptoError::kBadAttribute);
}

TEST(Jws, ContentTypeMustBeNotations) {
  std::string h = JwsProtected(kPs256);
  const std::string cty = std::string(kPayloadContentType);
  h.replace(h.find(cty), cty.size(), "application/json");
  EXPECT_EQ(ParseCode(JwsWith(h)), CryptoError::kBadContentType);
  h = JwsProtected(kPs256);
  h.replace(h.find(R"("cty":)"), 6 + cty.size() + 3, "");
  EXPECT_EQ(ParseCode(JwsWith(h)), CryptoError::kMissingAttribute);
}

// Base64.

TEST(Jws, SegmentsMustBeBase64UrlWithoutPadding) {
  const std::string good = GoodJws(kPs256);
  ASSERT_TRUE(Parse(good).ok());
  auto segment = [&](const std::string& name) {
    const std::string key = "\"" + name + "\":\"";
    const size_t start = good.find(key) + key.size();
    return std::make_pair(start, good.find('"', start) - start);
  };
  for (const char* name : {"protected", "payload", "signature"}) {
    SCOPED_TRACE(name);
    auto [start, len] = segment(name);
    // Standard alphabet character.
    std::string text = good;
    text[start + 1] = '+';
    EXPECT_EQ(ParseCode(text), CryptoError::kMalformed);
    // Padding.
    text = good;
    text.insert(start + len, "=");
    EXPECT_EQ(ParseCode(text), CryptoError::kMalformed);
    // Whitespace.
    text = good;
    text.insert(start + 4, " ");
    EXPECT_EQ(ParseCode(text), CryptoError::kMalformed);
    // Impossible length.
    text = good;
    text.insert(start, "A");
    if (len % 4 == 0) {
      EXPECT_EQ(ParseCode(text), CryptoError::kMalformed);
    }
  }
}

TEST(Jws, CertificatesAreStandardBase64Der) {
  const envtest::Signer& signer = SignerForAlgorithm(kPs256);
  JwsInput in;
  in.protected_json = JwsProtected(kPs256);
  // base64url instead of base64 (the DER contains bytes that differ).
  in.header_json = R"({"x5c":[")" +
                   EncodeBase64(signer.cert_der, Base64Variant::kUrlUnpadded) +
                   R"("]})";
  EXPECT_EQ(ParseCode(SignJws(signer, kPs256, in)), CryptoError::kMalformed);
  // Not DER.
  in.header_json = R"({"x5c":["AAAA"]})";
  EXPECT_EQ(ParseCode(SignJws(signer, kPs256, in)), CryptoError::kMalformed);
  in.header_json = R"({"x5c":[7]})";
  EXPECT_EQ(ParseCode(SignJws(signer, kPs256, in)), CryptoError::kMalformed);
  in.header_json = R"({"x5c":"abc"})";
  EXPECT_EQ(ParseCode(SignJws(signer, kPs256, in)), CryptoError::kMalformed);
}

TEST(Jws, ChainIsRequiredAndBounded) {
  const envtest::Signer& signer = SignerForAlgorithm(kPs256);
  JwsInput in;
  in.protected_json = JwsProtected(kPs256);
  for (const char* header : {R"({"x5c":[]})", R"({})", R"({"x5c":null})"}) {
    SCOPED_TRACE(header);
    in.header_json = header;
    EXPECT_EQ(ParseCode(SignJws(signer, kPs256, in)), CryptoError::kChainEmpty);
  }
  // No "header" at all.
  std::string text = GoodJws(kPs256);
  const size_t h = text.find(R"(,"header":)");
  text.erase(h, text.find(R"(,"signature")") - h);
  EXPECT_EQ(ParseCode(text), CryptoError::kChainEmpty);
  // 101 certificates.
  in.header_json.clear();
  in.chain.assign(kMaxCertificates + 1, signer.cert_der);
  EXPECT_EQ(ParseCode(SignJws(signer, kPs256, in)), CryptoError::kTooLarge);
  // 100 is fine for parsing (the chain rules are someone else's).
  in.chain.assign(kMaxCertificates, signer.cert_der);
  auto e = Parse(SignJws(signer, kPs256, in));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(e->certificate_chain.size(), kMaxCertificates);
}

TEST(Jws, UnprotectedHeaderMembers) {
  const envtest::Signer& signer = SignerForAlgorithm(kPs256);
  JwsInput in;
  in.protected_json = JwsProtected(kPs256);
  in.timestamp_b64 = "aW52YWxpZAo=";
  auto e = Parse(SignJws(signer, kPs256, in));
  ASSERT_TRUE(e.ok()) << e.detail();
  ASSERT_TRUE(e->timestamp_token.has_value());
  EXPECT_EQ(base::AsString(*e->timestamp_token), "invalid\n");
  // Unpadded standard base64 is refused; an empty token is no token.
  in.timestamp_b64 = "aW52YWxpZAo";
  EXPECT_EQ(ParseCode(SignJws(signer, kPs256, in)), CryptoError::kMalformed);
  in.timestamp_b64.clear();
  in.header_json = R"({"x5c":[")" + envtest::B64(signer.cert_der) +
                   R"("],"io.cncf.notary.timestampSignature":""})";
  e = Parse(SignJws(signer, kPs256, in));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_FALSE(e->timestamp_token.has_value());
  EXPECT_EQ(e->signing_agent, "");
  // Unknown members are ignored (Go's encoding/json drops them).
  in.header_json = R"({"x5c":[")" + envtest::B64(signer.cert_der) +
                   R"("],"kid":"x","io.cncf.notary.other":[1]})";
  EXPECT_TRUE(Parse(SignJws(signer, kPs256, in)).ok());
  // Wrong types of known members are not.
  in.header_json = R"({"x5c":[")" + envtest::B64(signer.cert_der) +
                   R"("],"io.cncf.notary.signingAgent":5})";
  EXPECT_EQ(ParseCode(SignJws(signer, kPs256, in)), CryptoError::kMalformed);
  in.header_json = R"([])";
  EXPECT_EQ(ParseCode(SignJws(signer, kPs256, in)), CryptoError::kMalformed);
}

TEST(Jws, TopLevelShape) {
  const envtest::Signer& signer = SignerForAlgorithm(kPs256);
  JwsInput in;
  in.protected_json = JwsProtected(kPs256);
  // Unknown top-level members are ignored, as notation-core-go does.
  in.extra_top = R"(,"unprotected":{"a":1},"x":null)";
  EXPECT_TRUE(Parse(SignJws(signer, kPs256, in)).ok());
  in.extra_top.clear();
  const std::string good = SignJws(signer, kPs256, in);
  for (const char* member : {"payload", "protected", "signature"}) {
    SCOPED_TRACE(member);
    std::string text = good;
    const std::string key = std::string("\"") + member + "\":";
    text.replace(text.find(key), key.size(), "\"renamed\":");
    EXPECT_EQ(ParseCode(text), CryptoError::kMissingAttribute);
    text = good;
    const size_t at = text.find(key) + key.size();
    text.replace(at, text.find('"', at + 1) - at + 1, "5");
    EXPECT_EQ(ParseCode(text), CryptoError::kMalformed);
  }
  EXPECT_EQ(ParseCode("[]"), CryptoError::kMalformed);
  EXPECT_EQ(ParseCode("\"x\""), CryptoError::kMalformed);
  EXPECT_EQ(ParseCode(""), CryptoError::kMalformed);
  // The general serialization is not Notation's.
  EXPECT_EQ(ParseCode(R"({"payload":"e30","signatures":[]})"),
            CryptoError::kMissingAttribute);
}

TEST(Jws, EmptyPayloadOrSignatureIsMissing) {
  const envtest::Signer& signer = SignerForAlgorithm(kPs256);
  JwsInput in;
  in.protected_json = JwsProtected(kPs256);
  in.payload = "";
  in.payload_b64 = "";
  std::string text = SignJws(signer, kPs256, in);
  EXPECT_EQ(ParseCode(text), CryptoError::kMissingAttribute);
  text = GoodJws(kPs256);
  const std::string key = "\"signature\":\"";
  const size_t at = text.find(key) + key.size();
  text.erase(at, text.find('"', at) - at);
  EXPECT_EQ(ParseCode(text), CryptoError::kMissingAttribute);
}

// Duplicate keys.

TEST(Jws, DuplicateKeysAreRefusedEverywhere) {
  const envtest::Signer& signer = SignerForAlgorithm(kPs256);
  const std::string good = GoodJws(kPs256);
  // Top level.
  {
    std::string text = good;
    text.insert(text.size() - 1, R"(,"payload":"e30")");
    EXPECT_EQ(ParseCode(text), CryptoError::kDuplicateKey);
  }
  // Protected header, plain and escaped.
  for (const char* dup : {R"(,"alg":"PS256")", R"(,"\u0061lg":"PS256")",
                          R"(,"crit":["io.cncf.notary.signingScheme"])"}) {
    SCOPED_TRACE(dup);
    EXPECT_EQ(ParseCode(JwsWith(
                  JwsProtected(kPs256, SigningScheme::kX509, false, dup))),
              CryptoError::kDuplicateKey);
  }
  // Nested inside an extended attribute value.
  EXPECT_EQ(
      ParseCode(JwsWith(JwsProtected(kPs256, SigningScheme::kX509, false,
                                     R"(,"com.example.x":[{"k":1,"k":2}])"))),
      CryptoError::kDuplicateKey);
  // Unprotected header.
  JwsInput in;
  in.protected_json = JwsProtected(kPs256);
  in.header_json = R"({"x5c":[")" + envtest::B64(signer.cert_der) +
                   R"("],"io.cncf.notary.signingAgent":"a",)"
                   R"("io.cncf.notary.signingAgent":"b"})";
  EXPECT_EQ(ParseCode(SignJws(signer, kPs256, in)), CryptoError::kDuplicateKey);
  // Inside the signed payload: the envelope parses (the payload is opaque
  // to it), ParsePayload refuses it.
  in.header_json.clear();
  in.payload =
      R"({"targetArtifact":{"mediaType":"a/b","digest":"sha256:00","size":1,)"
      R"("size":2}})";
  auto e = Parse(SignJws(signer, kPs256, in));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(ParsePayload(e->payload).code(), CryptoError::kDuplicateKey);
}

// Malformed, truncated, oversize.

TEST(Jws, InvalidJsonIsMalformed) {
  const std::string good = GoodJws(kPs256);
  for (size_t cut : {size_t{0}, size_t{1}, good.size() / 3, good.size() / 2,
                     good.size() - 1}) {
    SCOPED_TRACE(cut);
    EXPECT_EQ(ParseCode(good.substr(0, cut)), CryptoError::kMalformed);
  }
  EXPECT_EQ(ParseCode(good + "x"), CryptoError::kMalformed);
  EXPECT_EQ(ParseCode(JwsWith("{")), CryptoError::kMalformed);
  EXPECT_EQ(ParseCode(JwsWith("[]")), CryptoError::kMalformed);
  EXPECT_EQ(ParseCode(JwsWith("")), CryptoError::kMalformed);
  // Invalid UTF-8 in the protected header.
  EXPECT_EQ(ParseCode(JwsWith(JwsProtected(kPs256, SigningScheme::kX509, false,
                                           ",\"x\":\"\xff\""))),
            CryptoError::kMalformed);
}

TEST(Jws, OversizeInputIsRefusedBeforeParsing) {
  std::string big = GoodJws(kPs256);
  big.insert(big.size() - 1,
             ",\"pad\":\"" + std::string(kMaxEnvelopeBytes, 'a') + "\"");
  EXPECT_EQ(ParseCode(big), CryptoError::kTooLarge);
  // Whitespace-only padding just at the bound still parses.
  std::string at_bound = GoodJws(kPs256);
  at_bound.append(kMaxEnvelopeBytes - at_bound.size(), ' ');
  EXPECT_TRUE(Parse(at_bound).ok());
  at_bound.push_back(' ');
  EXPECT_EQ(ParseCode(at_bound), CryptoError::kTooLarge);
}

TEST(Jws, RandomMutationsNeverCrash) {
  JwsInput in;
  in.protected_json = JwsProtected(kEs256, SigningScheme::kX509, true,
                                   R"(,"com.example.x":{"a":[1,{"b":null}]})");
  const std::string good = SignJws(SignerForAlgorithm(kEs256), kEs256, in);
  std::mt19937 rng(20240602);
  int parsed = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string t = good;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits; ++k) {
      const size_t at = rng() % t.size();
      switch (rng() % 3) {
        case 0:
          t[at] = static_cast<char>(rng());
          break;
        case 1:
          t.resize(at + 1);
          break;
        default:
          t.insert(t.begin() + static_cast<std::ptrdiff_t>(at),
                   "{}[]\",:0aA="[rng() % 11]);
          break;
      }
    }
    auto e = Parse(t);
    if (e.ok()) {
      ++parsed;
      (void)VerifyEnvelopeIntegrity(*e);
    }
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace trustgate::crypto
