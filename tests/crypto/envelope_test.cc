#include "crypto/envelope.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/crypto/envelope_builder.h"

namespace trustgate::crypto {
namespace {

constexpr auto kPs256 = SignatureAlgorithm::kPs256;

TEST(Envelope, ToStringNames) {
  EXPECT_EQ(ToString(EnvelopeFormat::kJws), "jws");
  EXPECT_EQ(ToString(EnvelopeFormat::kCose), "cose");
  EXPECT_EQ(ToString(SigningScheme::kX509), "notary.x509");
  EXPECT_EQ(ToString(SigningScheme::kX509SigningAuthority),
            "notary.x509.signingAuthority");
}

TEST(Envelope, ParseEnvelopeDispatchesOnFormat) {
  const std::string jws = envtest::GoodJws(kPs256);
  const base::Bytes cose = envtest::GoodCose(kPs256);
  auto j = ParseEnvelope(EnvelopeFormat::kJws, base::AsBytes(jws));
  ASSERT_TRUE(j.ok()) << j.detail();
  EXPECT_EQ(j->format, EnvelopeFormat::kJws);
  auto c = ParseEnvelope(EnvelopeFormat::kCose, cose);
  ASSERT_TRUE(c.ok()) << c.detail();
  EXPECT_EQ(c->format, EnvelopeFormat::kCose);
  // The wrong format for the bytes.
  EXPECT_EQ(ParseEnvelope(EnvelopeFormat::kCose, base::AsBytes(jws)).code(),
            CryptoError::kMalformed);
  EXPECT_EQ(ParseEnvelope(EnvelopeFormat::kJws, cose).code(),
            CryptoError::kMalformed);
}

TEST(Envelope, IntegrityAcrossFormatsAndAlgorithms) {
  for (SignatureAlgorithm alg : envtest::AllAlgorithms()) {
    SCOPED_TRACE(ToString(alg));
    const std::string jws = envtest::GoodJws(alg);
    for (auto [format, bytes] :
         {std::pair{EnvelopeFormat::kJws, envtest::ToBytes(jws)},
          std::pair{EnvelopeFormat::kCose, envtest::GoodCose(alg)}}) {
      SCOPED_TRACE(ToString(format));
      auto e = ParseEnvelope(format, bytes);
      ASSERT_TRUE(e.ok()) << e.detail();
      EXPECT_TRUE(VerifyEnvelopeIntegrity(*e).ok());
      // Integrity is over signed_bytes exactly.
      Envelope changed = *e;
      changed.signed_bytes.push_back(0);
      EXPECT_EQ(VerifyEnvelopeIntegrity(changed).code(),
                CryptoError::kBadSignature);
      // A different algorithm than the key's.
      changed = *e;
      changed.algorithm = alg == kPs256 ? SignatureAlgorithm::kEs256 : kPs256;
      EXPECT_EQ(VerifyEnvelopeIntegrity(changed).code(),
                CryptoError::kAlgorithmKeyMismatch);
      // Another key.
      changed = *e;
      const SignatureAlgorithm other =
          alg == kPs256 ? SignatureAlgorithm::kPs384 : kPs256;
      auto other_cert =
          Certificate::FromDer(envtest::SignerForAlgorithm(other).cert_der);
      ASSERT_TRUE(other_cert.ok());
      changed.certificate_chain[0] = *other_cert;
      EXPECT_EQ(VerifyEnvelopeIntegrity(changed).code(),
                CryptoError::kAlgorithmKeyMismatch);
    }
  }
}

TEST(Envelope, IntegrityNeedsASupportedLeafKey) {
  auto e = ParseEnvelope(EnvelopeFormat::kCose, envtest::GoodCose(kPs256));
  ASSERT_TRUE(e.ok()) << e.detail();
  Envelope changed = *e;
  changed.certificate_chain.clear();
  EXPECT_EQ(VerifyEnvelopeIntegrity(changed).code(), CryptoError::kChainEmpty);
  for (testpki::KeyKind kind :
       {testpki::KeyKind::kRsa1024, testpki::KeyKind::kP224,
        testpki::KeyKind::kEd25519}) {
    testpki::CertSpec spec;
    spec.key = testpki::Key(kind);
    if (kind == testpki::KeyKind::kEd25519) {
      spec.digest = "";
    }
    changed.certificate_chain = {testpki::Build(spec).cert};
    EXPECT_EQ(VerifyEnvelopeIntegrity(changed).code(),
              CryptoError::kUnsupportedKey);
  }
}

TEST(Envelope, DeferredCertificateParsing) {
  const ParseOptions deferred{CertificateParsing::kDeferred};
  for (EnvelopeFormat format : {EnvelopeFormat::kJws, EnvelopeFormat::kCose}) {
    SCOPED_TRACE(ToString(format));
    const base::Bytes bytes = format == EnvelopeFormat::kJws
                                  ? envtest::ToBytes(envtest::GoodJws(kPs256))
                                  : envtest::GoodCose(kPs256);
    auto parsed = ParseEnvelope(format, bytes);
    ASSERT_TRUE(parsed.ok()) << parsed.detail();
    ASSERT_EQ(parsed->certificate_der.size(), 1u);
    EXPECT_EQ(parsed->certificate_der[0],
              envtest::SignerForAlgorithm(kPs256).cert_der);
    ASSERT_EQ(parsed->certificate_chain.size(), 1u);

    auto e = ParseEnvelope(format, bytes, deferred);
    ASSERT_TRUE(e.ok()) << e.detail();
    EXPECT_EQ(e->certificate_der, parsed->certificate_der);
    EXPECT_TRUE(e->certificate_chain.empty());
    // Integrity needs the chain the caller supplies.
    EXPECT_EQ(VerifyEnvelopeIntegrity(*e).code(), CryptoError::kChainEmpty);
    Envelope filled = *e;
    filled.certificate_chain = parsed->certificate_chain;
    EXPECT_TRUE(VerifyEnvelopeIntegrity(filled).ok());
  }
  // Deferred: bad DER is the caller's to find; the bounds still hold.
  envtest::CoseInput in;
  in.protected_map = envtest::CoseProtected(kPs256);
  in.unprotected_map.Set(envtest::Label(33),
                         envtest::Cbor().Array(1).Bytes({1, 2, 3}));
  const base::Bytes bad_der =
      envtest::SignCose(envtest::SignerForAlgorithm(kPs256), kPs256, in);
  EXPECT_EQ(ParseEnvelope(EnvelopeFormat::kCose, bad_der).code(),
            CryptoError::kMalformed);
  auto e = ParseEnvelope(EnvelopeFormat::kCose, bad_der, deferred);
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(e->certificate_der, (std::vector<base::Bytes>{{1, 2, 3}}));
  in.unprotected_map.Set(envtest::Label(33), envtest::Cbor().Array(0));
  EXPECT_EQ(ParseEnvelope(EnvelopeFormat::kCose,
                          envtest::SignCose(envtest::SignerForAlgorithm(kPs256),
                                            kPs256, in),
                          deferred)
                .code(),
            CryptoError::kChainEmpty);
}

// ParsePayload.

std::optional<CryptoError> PayloadCode(std::string_view json) {
  auto r = ParsePayload(base::AsBytes(json));
  if (r.ok()) {
    return std::nullopt;
  }
  return r.code();
}

TEST(Payload, ParsesTheDescriptor) {
  auto p = ParsePayload(base::AsBytes(
      R"({"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("digest":"sha256:53b0191218aed9a3c1f7c661736ac40cfc8eb928642348fd843ba3f0483c0c20",)"
      R"("size":582,"annotations":{"purpose":"e2e","b":""},)"
      R"("artifactType":"application/vnd.unknown","urls":["https://x"],)"
      R"("platform":{"os":"linux"},"data":"e30=","future":{"x":[1]}},)"
      R"("other":true})"));
  ASSERT_TRUE(p.ok()) << p.detail();
  EXPECT_EQ(p->media_type, "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(p->digest,
            "sha256:"
            "53b0191218aed9a3c1f7c661736ac40cfc8eb928642348fd843ba3f0483c0c20");
  EXPECT_EQ(p->size, 582);
  EXPECT_EQ(p->annotations, (std::vector<std::pair<std::string, std::string>>{
                                {"purpose", "e2e"}, {"b", ""}}));
  p = ParsePayload(base::AsBytes(envtest::kPayload));
  ASSERT_TRUE(p.ok()) << p.detail();
  EXPECT_TRUE(p->annotations.empty());
  // Null annotations are none.
  p = ParsePayload(base::AsBytes(
      R"({"targetArtifact":{"mediaType":"a/b","digest":"sha256:00",)"
      R"("size":0,"annotations":null}})"));
  ASSERT_TRUE(p.ok()) << p.detail();
}

TEST(Payload, StrictTypesAndRequiredMembers) {
  const std::string head = R"({"targetArtifact":{)";
  const std::string mt = R"("mediaType":"a/b")";
  const std::string dg = R"("digest":"sha256:00")";
  const std::string sz = R"("size":1)";
  struct Case {
    std::string json;
    std::optional<CryptoError> want;
  };
  const std::vector<Case> cases = {
      {head + mt + "," + dg + "," + sz + "}}", std::nullopt},
      {head + dg + "," + sz + "}}", CryptoError::kMissingAttribute},
      {head + mt + "," + sz + "}}", CryptoError::kMissingAttribute},
      {head + mt + "," + dg + "}}", CryptoError::kMissingAttribute},
      {R"({"target":{}})", CryptoError::kMissingAttribute},
      {R"({"targetArtifact":[]})", CryptoError::kBadAttribute},
      {R"({"targetArtifact":null})", CryptoError::kBadAttribute},
      {head + R"("mediaType":1,)" + dg + "," + sz + "}}",
       CryptoError::kBadAttribute},
      {head + mt + R"(,"digest":null,)" + sz + "}}",
       CryptoError::kBadAttribute},
      {head + mt + "," + dg + R"(,"size":"1"}})", CryptoError::kBadAttribute},
      {head + mt + "," + dg + R"(,"size":1.0}})", CryptoError::kBadAttribute},
      {head + mt + "," + dg + R"(,"size":1e2}})", CryptoError::kBadAttribute},
      {head + mt + "," + dg + R"(,"size":18446744073709551615}})",
       CryptoError::kBadAttribute},
      {head + mt + "," + dg + R"(,"size":-1}})", std::nullopt},
      {head + mt + "," + dg + "," + sz + R"(,"annotations":{"a":1}}})",
       CryptoError::kBadAttribute},
      {head + mt + "," + dg + "," + sz + R"(,"annotations":[]}})",
       CryptoError::kBadAttribute},
      {head + mt + "," + dg + "," + sz + R"(,"artifactType":5}})",
       CryptoError::kBadAttribute},
      {head + mt + "," + dg + "," + sz + R"(,"urls":[5]}})",
       CryptoError::kBadAttribute},
      {head + mt + "," + dg + "," + sz + R"(,"data":"!"}})",
       CryptoError::kBadAttribute},
      {head + mt + "," + dg + "," + sz + R"(,"platform":"linux"}})",
       CryptoError::kBadAttribute},
      {"[]", CryptoError::kMalformed},
      {"", CryptoError::kMalformed},
      {R"({"targetArtifact":{)", CryptoError::kMalformed},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    EXPECT_EQ(PayloadCode(c.json), c.want);
  }
}

TEST(Payload, DuplicateKeysAtEveryLevel) {
  for (
      const char* json : {
          R"({"targetArtifact":{"mediaType":"a/b","digest":"sha256:00","size":1},)"
          R"("targetArtifact":{"mediaType":"a/b","digest":"sha256:01","size":1}})",
          R"({"targetArtifact":{"mediaType":"a/b","digest":"sha256:00",)"
          R"("digest":"sha256:01","size":1}})",
          R"({"targetArtifact":{"mediaType":"a/b","digest":"sha256:00","size":1,)"
          R"("annotations":{"k":"1","k":"2"}}})",
          R"({"targetArtifact":{"mediaType":"a/b","digest":"sha256:00","size":1,)"
          R"("future":[{"x":1,"x":1}]}})",
          R"({"other":{"a":1,"a":1},"targetArtifact":{"mediaType":"a/b",)"
          R"("digest":"sha256:00","size":1}})",
      }) {
    SCOPED_TRACE(json);
    EXPECT_EQ(PayloadCode(json), CryptoError::kDuplicateKey);
  }
}

}  // namespace
}  // namespace trustgate::crypto
