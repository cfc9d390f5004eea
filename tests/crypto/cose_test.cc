#include "crypto/cose.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/time.h"
#include "crypto/envelope.h"
#include "tests/crypto/envelope_builder.h"

namespace trustgate::crypto {
namespace {

using envtest::Cbor;
using envtest::CborMap;
using envtest::CoseInput;
using envtest::CoseProtected;
using envtest::CoseUnprotected;
using envtest::EpochTime;
using envtest::GoodCose;
using envtest::Label;
using envtest::SignCose;
using envtest::SignerForAlgorithm;
using envtest::TextArray;

constexpr auto kPs256 = SignatureAlgorithm::kPs256;
constexpr auto kEs256 = SignatureAlgorithm::kEs256;

std::optional<CryptoError> ParseCode(base::ByteView bytes) {
  auto r = ParseCose(bytes);
  if (r.ok()) {
    return std::nullopt;
  }
  return r.code();
}

// CoseWith signs a PS256 envelope with the given protected header.
base::Bytes CoseWith(const CborMap& protected_map) {
  CoseInput in;
  in.protected_map = protected_map;
  return SignCose(SignerForAlgorithm(kPs256), kPs256, in);
}

// CoseWithUnprotected signs a PS256 envelope with the given unprotected
// header (raw CBOR).
base::Bytes CoseWithUnprotected(base::Bytes unprotected) {
  CoseInput in;
  in.protected_map = CoseProtected(kPs256);
  in.unprotected_raw = std::move(unprotected);
  return SignCose(SignerForAlgorithm(kPs256), kPs256, in);
}

Cbor ChainOf(const base::Bytes& der) {
  Cbor c;
  c.Array(1).Bytes(der);
  return c;
}

// ---------------------------------------------------------------------------
// The real Notation COSE signature.
// ---------------------------------------------------------------------------

TEST(CoseInterop, NotationBlobSignatureParsesAndVerifies) {
  auto bytes = testpki::ReadFile(testpki::SharedDir() +
                                 "/interop/notation-e2e/config/signatures/"
                                 "blob.cose.sig");
  ASSERT_TRUE(bytes.has_value())
      << "blob.cose.sig not found under " << testpki::SharedDir();
  auto e = ParseCose(*bytes);
  ASSERT_TRUE(e.ok()) << e.detail();
  // Expected values from signatures.json.
  EXPECT_EQ(e->format, EnvelopeFormat::kCose);
  EXPECT_EQ(e->algorithm, kPs256);
  EXPECT_EQ(e->critical,
            std::vector<std::string>{"io.cncf.notary.signingScheme"});
  EXPECT_EQ(e->content_type, kPayloadContentType);
  EXPECT_EQ(e->scheme, SigningScheme::kX509);
  ASSERT_TRUE(e->signing_time.has_value());
  EXPECT_EQ(*e->signing_time, base::TimeFromUnixSeconds(1736239363));
  EXPECT_EQ(*e->signing_time, *base::ParseRfc3339("2025-01-07T08:42:43Z"));
  EXPECT_FALSE(e->authentic_signing_time.has_value());
  EXPECT_FALSE(e->expiry.has_value());
  EXPECT_EQ(e->signing_agent, "notation-go/1.3.0+unreleased");
  EXPECT_EQ(e->signature.size(), 256u);
  EXPECT_TRUE(e->extended_attributes.empty());
  ASSERT_EQ(e->certificate_chain.size(), 1u);
  EXPECT_EQ(e->certificate_chain[0]->Sha256Hex(),
            "3678adce9daa3a82f4f55fd65e0c87c398b3d9bcd5338c06bbf8850df8c6641d");
  ASSERT_TRUE(e->timestamp_token.has_value());
  EXPECT_EQ(e->timestamp_token->size(), 6031u);
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256(e->timestamp_token->data(), e->timestamp_token->size(), md);
  EXPECT_EQ(base::HexEncode(md),
            "a106070b62a8045fe64d6f7543b1a73a801b112c94d475e59931824dc7610990");

  auto payload = ParsePayload(e->payload);
  ASSERT_TRUE(payload.ok()) << payload.detail();
  EXPECT_EQ(payload->media_type, "application/octet-stream");
  EXPECT_EQ(payload->digest,
            "sha256:"
            "c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4");
  EXPECT_EQ(payload->size, 11357);
  EXPECT_TRUE(payload->annotations.empty());

  auto integrity = VerifyEnvelopeIntegrity(*e);
  EXPECT_TRUE(integrity.ok()) << integrity.detail();

  // One flipped payload byte breaks it.
  base::Bytes tampered = *bytes;
  const std::string needle = "11357";
  auto it = std::search(tampered.begin(), tampered.end(), needle.begin(),
                        needle.end());
  ASSERT_NE(it, tampered.end());
  *it = '2';
  auto bad = ParseCose(tampered);
  ASSERT_TRUE(bad.ok()) << bad.detail();
  EXPECT_EQ(VerifyEnvelopeIntegrity(*bad).code(), CryptoError::kBadSignature);
}

TEST(CoseInterop, JwsEnvelopeIsNotCose) {
  auto bytes = testpki::ReadFile(testpki::SharedDir() +
                                 "/interop/notation-e2e/config/signatures/"
                                 "blob.jws.sig");
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(ParseCode(*bytes), CryptoError::kMalformed);
}

// ---------------------------------------------------------------------------
// Built envelopes.
// ---------------------------------------------------------------------------

TEST(Cose, EveryAlgorithmAndSchemeParsesAndVerifies) {
  for (SignatureAlgorithm alg : envtest::AllAlgorithms()) {
    for (SigningScheme scheme :
         {SigningScheme::kX509, SigningScheme::kX509SigningAuthority}) {
      for (bool with_expiry : {false, true}) {
        SCOPED_TRACE(std::string(ToString(alg)) + " " +
                     std::string(ToString(scheme)) +
                     (with_expiry ? " expiry" : ""));
        auto e = ParseCose(GoodCose(alg, scheme, with_expiry));
        ASSERT_TRUE(e.ok()) << e.detail();
        EXPECT_EQ(e->algorithm, alg);
        EXPECT_EQ(e->scheme, scheme);
        const base::Time t =
            base::TimeFromUnixSeconds(envtest::kSigningTimeUnix);
        if (scheme == SigningScheme::kX509) {
          EXPECT_EQ(e->signing_time, t);
          EXPECT_FALSE(e->authentic_signing_time.has_value());
        } else {
          EXPECT_EQ(e->authentic_signing_time, t);
          EXPECT_FALSE(e->signing_time.has_value());
        }
        if (with_expiry) {
          EXPECT_EQ(e->expiry, base::TimeFromUnixSeconds(envtest::kExpiryUnix));
        } else {
          EXPECT_FALSE(e->expiry.has_value());
        }
        EXPECT_EQ(base::AsString(e->payload), envtest::kPayload);
        EXPECT_EQ(e->signing_agent, "trustgate-test/1.0");
        EXPECT_FALSE(e->timestamp_token.has_value());
        auto integrity = VerifyEnvelopeIntegrity(*e);
        EXPECT_TRUE(integrity.ok()) << integrity.detail();
      }
    }
  }
}

TEST(Cose, SignedBytesAreTheSigStructure) {
  CoseInput in;
  in.protected_map = CoseProtected(kEs256);
  const base::Bytes protected_bytes = in.protected_map.Encode();
  auto e = ParseCose(SignCose(SignerForAlgorithm(kEs256), kEs256, in));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(
      e->signed_bytes,
      envtest::SigStructure(protected_bytes, base::AsBytes(envtest::kPayload)));
  // The first bytes, spelled out: array(4), "Signature1", bstr head.
  ASSERT_GT(e->signed_bytes.size(), 13u);
  EXPECT_EQ(e->signed_bytes[0], 0x84);
  EXPECT_EQ(e->signed_bytes[1], 0x6a);
  EXPECT_EQ(base::AsString(base::ByteView(e->signed_bytes).subspan(2, 10)),
            "Signature1");
}

TEST(Cose, TamperedPayloadOrSignatureFailsIntegrity) {
  for (SignatureAlgorithm alg : envtest::AllAlgorithms()) {
    SCOPED_TRACE(ToString(alg));
    auto e = ParseCose(GoodCose(alg));
    ASSERT_TRUE(e.ok()) << e.detail();
    Envelope bad = *e;
    bad.signature[0] ^= 0x80;
    EXPECT_EQ(VerifyEnvelopeIntegrity(bad).code(), CryptoError::kBadSignature);
  }
  // A payload swapped after signing.
  CoseInput in;
  in.protected_map = CoseProtected(kEs256);
  base::Bytes bytes = SignCose(SignerForAlgorithm(kEs256), kEs256, in);
  auto it = std::search(bytes.begin(), bytes.end(), envtest::kPayload.begin(),
                        envtest::kPayload.end());
  ASSERT_NE(it, bytes.end());
  it[envtest::kPayload.find("517")] = '6';
  auto e = ParseCose(bytes);
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(VerifyEnvelopeIntegrity(*e).code(), CryptoError::kBadSignature);
}

TEST(Cose, PssSaltMustEqualTheHashLength) {
  // go-cose verifies PS* with PSSSaltLengthEqualsHash (RFC 8230 §2).
  CoseInput in;
  in.protected_map = CoseProtected(kPs256);
  in.pss_salt = 0;
  auto e = ParseCose(SignCose(SignerForAlgorithm(kPs256), kPs256, in));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(VerifyEnvelopeIntegrity(*e).code(), CryptoError::kBadSignature);
}

TEST(Cose, AlgorithmMustMatchTheKey) {
  CoseInput in;
  in.protected_map = CoseProtected(SignatureAlgorithm::kEs512);
  auto e = ParseCose(SignCose(SignerForAlgorithm(kEs256), kEs256, in));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(VerifyEnvelopeIntegrity(*e).code(),
            CryptoError::kAlgorithmKeyMismatch);
  // RSA-1024 claiming PS256.
  const envtest::Signer& weak = envtest::SignerFor(testpki::KeyKind::kRsa1024);
  in.protected_map = CoseProtected(kPs256);
  e = ParseCose(SignCose(weak, kPs256, in));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(VerifyEnvelopeIntegrity(*e).code(), CryptoError::kUnsupportedKey);
}

TEST(Cose, NonMinimalProtectedHeadIsSignedMinimally) {
  // go-cose builds Sig_structure with the protected bstr re-encoded
  // deterministically, whatever head the message used.
  CoseInput in;
  in.protected_map = CoseProtected(kPs256);
  const base::Bytes protected_bytes = in.protected_map.Encode();
  ASSERT_LT(protected_bytes.size(), 65536u);
  Cbor item;
  item.Raw({0x5a, 0, 0, static_cast<uint8_t>(protected_bytes.size() >> 8),
            static_cast<uint8_t>(protected_bytes.size() & 0xff)})
      .Raw(protected_bytes);
  in.protected_item = item.bytes();
  auto e = ParseCose(SignCose(SignerForAlgorithm(kPs256), kPs256, in));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_TRUE(VerifyEnvelopeIntegrity(*e).ok());
}

// Tag and framing.

TEST(Cose, MustBeTaggedCoseSign1) {
  CoseInput in;
  in.protected_map = CoseProtected(kPs256);
  const envtest::Signer& signer = SignerForAlgorithm(kPs256);
  in.prefix = {};
  EXPECT_EQ(ParseCode(SignCose(signer, kPs256, in)), CryptoError::kMalformed);
  // COSE_Sign (98), COSE_Mac0 (17).
  in.prefix = {0xd8, 0x62};
  EXPECT_EQ(ParseCode(SignCose(signer, kPs256, in)), CryptoError::kMalformed);
  in.prefix = {0xd1};
  EXPECT_EQ(ParseCode(SignCose(signer, kPs256, in)), CryptoError::kMalformed);
  // Tag 18 in a two-byte head (go-cose wants the exact 0xd2 prefix).
  in.prefix = {0xd8, 0x12};
  EXPECT_EQ(ParseCode(SignCose(signer, kPs256, in)), CryptoError::kMalformed);
  // Self-described CBOR before the tag.
  in.prefix = {0xd9, 0xd9, 0xf7, 0xd2};
  EXPECT_EQ(ParseCode(SignCose(signer, kPs256, in)), CryptoError::kMalformed);
  // Not an array of four.
  EXPECT_EQ(ParseCode(base::Bytes{0xd2, 0x83, 0x40, 0xa0, 0x40}),
            CryptoError::kMalformed);
  EXPECT_EQ(ParseCode(base::Bytes{0xd2}), CryptoError::kMalformed);
  EXPECT_EQ(ParseCode(base::Bytes{}), CryptoError::kMalformed);
  EXPECT_EQ(ParseCode(envtest::ToBytes("{}")), CryptoError::kMalformed);
}

TEST(Cose, TruncatedOrTrailingBytesAreMalformed) {
  const base::Bytes good = GoodCose(kPs256);
  for (size_t cut : {size_t{2}, size_t{3}, good.size() / 4, good.size() / 2,
                     good.size() - 1}) {
    SCOPED_TRACE(cut);
    EXPECT_EQ(ParseCode(base::ByteView(good).first(cut)),
              CryptoError::kMalformed);
  }
  base::Bytes longer = good;
  longer.push_back(0x00);
  EXPECT_EQ(ParseCode(longer), CryptoError::kMalformed);
}

TEST(Cose, OversizeInputIsRefused) {
  base::Bytes big = GoodCose(kPs256);
  big.resize(kMaxEnvelopeBytes + 1, 0);
  EXPECT_EQ(ParseCode(big), CryptoError::kTooLarge);
}

TEST(Cose, HugeDeclaredLengthsNeverAllocate) {
  // A payload bstr that declares 2^64-1 bytes.
  {
    CoseInput in;
    in.protected_map = CoseProtected(kPs256);
    in.payload_item = {0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    EXPECT_EQ(ParseCode(SignCose(SignerForAlgorithm(kPs256), kPs256, in)),
              CryptoError::kMalformed);
  }
  // An unprotected array that declares 2^40 items.
  EXPECT_EQ(
      ParseCode(CoseWithUnprotected(Cbor()
                                        .Map(1)
                                        .Int(33)
                                        .Raw({0x9b, 0, 0, 0x01, 0, 0, 0, 0, 0})
                                        .bytes())),
      CryptoError::kTooLarge);
  // A map that declares 2^32 pairs.
  EXPECT_EQ(ParseCode(CoseWithUnprotected(
                Cbor().Raw({0xba, 0xff, 0xff, 0xff, 0xff}).bytes())),
            CryptoError::kTooLarge);
  // 1000 declared items, 1 present.
  EXPECT_EQ(ParseCode(CoseWithUnprotected(
                Cbor().Map(1).Int(33).Array(1000).Bytes({}).bytes())),
            CryptoError::kMalformed);
  // A protected header whose map declares more entries than it holds.
  CoseInput in;
  in.protected_bytes = Cbor().Map(100).Int(1).Int(-37).bytes();
  EXPECT_EQ(ParseCode(SignCose(SignerForAlgorithm(kPs256), kPs256, in)),
            CryptoError::kMalformed);
  // The whole message declares a longer protected bstr than there is.
  base::Bytes bytes = {0xd2, 0x84, 0x5a, 0x7f, 0xff, 0xff, 0xff, 0xa0};
  EXPECT_EQ(ParseCode(bytes), CryptoError::kMalformed);
}

TEST(Cose, TooManyItemsAreRefused) {
  // 200000 small items in an extended attribute of the protected header.
  CborMap m = CoseProtected(kPs256);
  Cbor big;
  big.Array(200000);
  for (int i = 0; i < 200000; ++i) {
    big.Uint(0);
  }
  m.Set(Label("com.example.big"), big);
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kTooLarge);
}

TEST(Cose, DeepNestingIsRefused) {
  auto nested = [](int depth) {
    Cbor c;
    for (int i = 0; i < depth; ++i) {
      c.Array(1);
    }
    c.Uint(1);
    return c;
  };
  // The protected map itself is one level.
  CborMap m = CoseProtected(kPs256);
  m.Set(Label("com.example.deep"), nested(31));
  EXPECT_TRUE(ParseCose(CoseWith(m)).ok());
  m.Set(Label("com.example.deep"), nested(32));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kMalformed);
  m.Set(Label("com.example.deep"), nested(100000));
  EXPECT_NE(ParseCode(CoseWith(m)), std::nullopt);
}

TEST(Cose, IndefiniteLengthItemsAreRefused) {
  // Indefinite unprotected map.
  EXPECT_EQ(ParseCode(CoseWithUnprotected(
                Cbor()
                    .Raw({0xbf})
                    .Int(33)
                    .Raw(ChainOf(SignerForAlgorithm(kPs256).cert_der).bytes())
                    .Raw({0xff})
                    .bytes())),
            CryptoError::kMalformed);
  // Indefinite byte string payload.
  CoseInput in;
  in.protected_map = CoseProtected(kPs256);
  in.payload_item = Cbor()
                        .Raw({0x5f})
                        .Bytes(base::AsBytes(envtest::kPayload))
                        .Raw({0xff})
                        .bytes();
  EXPECT_EQ(ParseCode(SignCose(SignerForAlgorithm(kPs256), kPs256, in)),
            CryptoError::kMalformed);
  // Indefinite array inside the protected header.
  CborMap m = CoseProtected(kPs256);
  m.Set(Label("com.example.x"), Cbor().Raw({0x9f, 0x01, 0xff}));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kMalformed);
}

TEST(Cose, DuplicateKeysAreRefused) {
  CborMap m = CoseProtected(kPs256);
  m.Add(Label(1), Cbor().Int(-37));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kDuplicateKey);
  // The same label, once in a non-minimal encoding.
  m = CoseProtected(kPs256);
  m.Add(Cbor().Raw({0x18, 0x01}), Cbor().Int(-37));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kDuplicateKey);
  m = CoseProtected(kPs256);
  m.Add(Label("io.cncf.notary.signingScheme"), Cbor().Text("notary.x509"));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kDuplicateKey);
  // Nested in an extended attribute.
  m = CoseProtected(kPs256);
  m.Set(Label("com.example.x"),
        Cbor().Map(2).Text("a").Uint(1).Text("a").Uint(2));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kDuplicateKey);
  // Unprotected header.
  const base::Bytes der = SignerForAlgorithm(kPs256).cert_der;
  EXPECT_EQ(ParseCode(CoseWithUnprotected(Cbor()
                                              .Map(2)
                                              .Int(33)
                                              .Raw(ChainOf(der).bytes())
                                              .Int(33)
                                              .Raw(ChainOf(der).bytes())
                                              .bytes())),
            CryptoError::kDuplicateKey);
}

// Protected header rules.

TEST(Cose, CritRules) {
  CborMap m = CoseProtected(kPs256);
  m.Remove(Label(2));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kMissingAttribute);
  m = CoseProtected(kPs256);
  m.Set(Label(2), Cbor().Array(0));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  m.Set(Label(2), Cbor().Text("io.cncf.notary.signingScheme"));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  m.Set(Label(2), Cbor().Array(1).Bytes({}));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  // Signing scheme not listed.
  m.Set(Label(2), TextArray({"io.cncf.notary.signingTime"}));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  // A listed label must be present.
  m.Set(Label(2), TextArray({"io.cncf.notary.signingScheme", "absent"}));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kMalformed);
  m.Set(Label(2), Cbor().Array(2).Text("io.cncf.notary.signingScheme").Int(99));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kMalformed);
  // Listing other present labels is fine in COSE (go-cose only checks
  // presence), integers included.
  m.Set(Label(2), Cbor()
                      .Array(3)
                      .Text("io.cncf.notary.signingScheme")
                      .Text("io.cncf.notary.signingTime")
                      .Int(1));
  auto e = ParseCose(CoseWith(m));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(e->critical,
            (std::vector<std::string>{"io.cncf.notary.signingScheme",
                                      "io.cncf.notary.signingTime", "1"}));
  // Expiry present must be listed.
  m = CoseProtected(kPs256, SigningScheme::kX509, /*with_expiry=*/true);
  m.Set(Label(2), TextArray({"io.cncf.notary.signingScheme"}));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  // The authentic signing time must be listed under signingAuthority.
  m = CoseProtected(kPs256, SigningScheme::kX509SigningAuthority);
  m.Set(Label(2), TextArray({"io.cncf.notary.signingScheme"}));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  // crit is not allowed in the unprotected header.
  const base::Bytes der = SignerForAlgorithm(kPs256).cert_der;
  EXPECT_EQ(ParseCode(CoseWithUnprotected(
                Cbor()
                    .Map(2)
                    .Int(33)
                    .Raw(ChainOf(der).bytes())
                    .Int(2)
                    .Raw(TextArray({"io.cncf.notary.signingScheme"}).bytes())
                    .bytes())),
            CryptoError::kBadAttribute);
}

TEST(Cose, UnknownCriticalAndExtendedAttributes) {
  CborMap m = CoseProtected(kPs256);
  m.Set(Label("com.example.critical"),
        Cbor()
            .Map(4)
            .Text("n")
            .Int(-5)
            .Text("b")
            .Bytes(envtest::ToBytes("hi"))
            .Text("t")
            .Raw(EpochTime(0).bytes())
            .Int(7)
            .Raw(Cbor().Array(3).Bool(true).Null().Double(1.5).bytes()));
  m.Set(Label(-70000), Cbor().Text("integer label"));
  m.Set(Label(2), Cbor()
                      .Array(3)
                      .Text("io.cncf.notary.signingScheme")
                      .Text("com.example.critical")
                      .Int(-70000));
  m.Set(Label("com.example.info"), Cbor().Text("q\"\n"));
  auto e = ParseCose(CoseWith(m));
  ASSERT_TRUE(e.ok()) << e.detail();
  ASSERT_EQ(e->extended_attributes.size(), 3u);
  const auto& a = e->extended_attributes;
  EXPECT_EQ(a[0].key, "com.example.critical");
  EXPECT_EQ(
      a[0].value,
      R"({"n":-5,"b":"aGk=","t":"1970-01-01T00:00:00Z","7":[true,null,1.5]})");
  EXPECT_TRUE(a[0].critical);
  EXPECT_FALSE(a[0].integer_label);
  EXPECT_EQ(a[1].key, "-70000");
  EXPECT_EQ(a[1].value, R"("integer label")");
  EXPECT_TRUE(a[1].critical);
  EXPECT_TRUE(a[1].integer_label);
  EXPECT_EQ(a[2].key, "com.example.info");
  EXPECT_EQ(a[2].value, R"("q\"\n")");
  EXPECT_FALSE(a[2].critical);
  EXPECT_TRUE(VerifyEnvelopeIntegrity(*e).ok());
}

TEST(Cose, VerificationPluginAttributes) {
  const std::string plugin = "io.cncf.notary.verificationPlugin";
  const std::string min = "io.cncf.notary.verificationPluginMinVersion";
  CborMap m = CoseProtected(kPs256);
  m.Set(Label(plugin), Cbor().Text("com.example.plugin"));
  m.Set(Label(min), Cbor().Text("1.0.0"));
  m.Set(Label(2), TextArray({"io.cncf.notary.signingScheme", plugin, min}));
  auto e = ParseCose(CoseWith(m));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(e->verification_plugin, "com.example.plugin");
  EXPECT_EQ(e->verification_plugin_min_version, "1.0.0");
  EXPECT_TRUE(e->extended_attributes.empty());
  // Not critical / not text.
  m.Set(Label(2), TextArray({"io.cncf.notary.signingScheme", min}));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  m.Set(Label(2), TextArray({"io.cncf.notary.signingScheme", plugin, min}));
  m.Set(Label(plugin), Cbor().Bytes(envtest::ToBytes("x")));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
}

TEST(Cose, AlgorithmRules) {
  CborMap m = CoseProtected(kPs256);
  for (int64_t id : {-257, -8, 0, 1, -65535}) {
    SCOPED_TRACE(id);
    m.Set(Label(1), Cbor().Int(id));
    EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kUnsupportedAlgorithm);
  }
  m.Set(Label(1), Cbor().Text("PS256"));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kUnsupportedAlgorithm);
  m.Set(Label(1), Cbor().Bytes({}));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  m.Remove(Label(1));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kMissingAttribute);
  // An empty protected header has no alg.
  CoseInput in;
  in.protected_item = {0x40};
  EXPECT_EQ(ParseCode(SignCose(SignerForAlgorithm(kPs256), kPs256, in)),
            CryptoError::kMissingAttribute);
  // A protected header that is not a map, or not a bstr.
  in.protected_item = Cbor().Bytes(Cbor().Array(0).bytes()).bytes();
  EXPECT_EQ(ParseCode(SignCose(SignerForAlgorithm(kPs256), kPs256, in)),
            CryptoError::kMalformed);
  in.protected_item = Cbor().Map(0).bytes();
  EXPECT_EQ(ParseCode(SignCose(SignerForAlgorithm(kPs256), kPs256, in)),
            CryptoError::kMalformed);
}

TEST(Cose, ContentTypeRules) {
  CborMap m = CoseProtected(kPs256);
  m.Set(Label(3), Cbor().Text("application/json"));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadContentType);
  m.Set(Label(3), Cbor().Uint(50));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadContentType);
  // go-cose refuses a content type that is not type/subtype.
  m.Set(Label(3), Cbor().Text("json"));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  m.Remove(Label(3));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kMissingAttribute);
}

TEST(Cose, SchemeAndTimeRules) {
  CborMap m = CoseProtected(kPs256);
  m.Set(Label("io.cncf.notary.signingScheme"), Cbor().Text("notary.other"));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  m.Set(Label("io.cncf.notary.signingScheme"), Cbor().Uint(1));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  m.Remove(Label("io.cncf.notary.signingScheme"));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kMalformed);  // crit names it

  // Times: tag 1 only (integer or float content).
  m = CoseProtected(kPs256);
  m.Set(Label("io.cncf.notary.signingTime"),
        Cbor().Uint(envtest::kSigningTimeUnix));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  m.Set(Label("io.cncf.notary.signingTime"),
        Cbor().Tag(0).Text("2024-01-02T03:04:05Z"));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  m.Set(Label("io.cncf.notary.signingTime"),
        Cbor().Text("2024-01-02T03:04:05Z"));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  // Tag 1 with non-numeric content is not well-typed CBOR at all.
  m.Set(Label("io.cncf.notary.signingTime"), Cbor().Tag(1).Text("x"));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kMalformed);
  m.Set(Label("io.cncf.notary.signingTime"), Cbor().Tag(1).Double(1.5e9));
  auto e = ParseCose(CoseWith(m));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_EQ(*e->signing_time, base::TimeFromUnixSeconds(1500000000));
  m.Remove(Label("io.cncf.notary.signingTime"));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kMissingAttribute);

  // signingAuthority needs the authentic signing time; the other scheme's
  // time is ignored in COSE, as notation-core-go does.
  m = CoseProtected(kPs256, SigningScheme::kX509SigningAuthority);
  m.Set(Label("io.cncf.notary.signingTime"), EpochTime(1));
  e = ParseCose(CoseWith(m));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_FALSE(e->signing_time.has_value());
  m.Remove(Label("io.cncf.notary.authenticSigningTime"));
  m.Set(Label(2), TextArray({"io.cncf.notary.signingScheme"}));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
}

TEST(Cose, ExpiryMustBeAfterTheSigningTime) {
  CborMap m = CoseProtected(kPs256, SigningScheme::kX509, true);
  m.Set(Label("io.cncf.notary.expiry"), EpochTime(envtest::kSigningTimeUnix));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  m.Set(Label("io.cncf.notary.expiry"),
        EpochTime(envtest::kSigningTimeUnix - 1));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
  m.Set(Label("io.cncf.notary.expiry"),
        EpochTime(envtest::kSigningTimeUnix + 1));
  EXPECT_TRUE(ParseCose(CoseWith(m)).ok());
  m.Set(Label("io.cncf.notary.expiry"), Cbor().Uint(envtest::kExpiryUnix));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kBadAttribute);
}

TEST(Cose, InvalidUtf8TextIsMalformed) {
  CborMap m = CoseProtected(kPs256);
  m.Set(Label("com.example.x"), Cbor().Raw({0x62, 0xc3, 0x28}));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kMalformed);
  // Overlong '/'.
  m.Set(Label("com.example.x"), Cbor().Raw({0x62, 0xc0, 0xaf}));
  EXPECT_EQ(ParseCode(CoseWith(m)), CryptoError::kMalformed);
}

// Unprotected header.

TEST(Cose, UnprotectedHeaderRules) {
  const base::Bytes der = SignerForAlgorithm(kPs256).cert_der;
  // Timestamp token and agent.
  auto e = ParseCose(
      CoseWithUnprotected(Cbor()
                              .Map(3)
                              .Int(33)
                              .Raw(ChainOf(der).bytes())
                              .Text("io.cncf.notary.timestampSignature")
                              .Bytes(envtest::ToBytes("token"))
                              .Text("io.cncf.notary.signingAgent")
                              .Text("agent/1")
                              .bytes()));
  ASSERT_TRUE(e.ok()) << e.detail();
  ASSERT_TRUE(e->timestamp_token.has_value());
  EXPECT_EQ(base::AsString(*e->timestamp_token), "token");
  EXPECT_EQ(e->signing_agent, "agent/1");
  // Wrongly typed ones are ignored, as notation-core-go does.
  e = ParseCose(
      CoseWithUnprotected(Cbor()
                              .Map(3)
                              .Int(33)
                              .Raw(ChainOf(der).bytes())
                              .Text("io.cncf.notary.timestampSignature")
                              .Text("token")
                              .Text("io.cncf.notary.signingAgent")
                              .Uint(5)
                              .bytes()));
  ASSERT_TRUE(e.ok()) << e.detail();
  EXPECT_FALSE(e->timestamp_token.has_value());
  EXPECT_EQ(e->signing_agent, "");
  // x5chain: missing, empty, a lone bstr, a non-bstr entry.
  EXPECT_EQ(ParseCode(CoseWithUnprotected(Cbor().Map(0).bytes())),
            CryptoError::kChainEmpty);
  EXPECT_EQ(
      ParseCode(CoseWithUnprotected(Cbor().Map(1).Int(33).Array(0).bytes())),
      CryptoError::kChainEmpty);
  EXPECT_EQ(
      ParseCode(CoseWithUnprotected(Cbor().Map(1).Int(33).Bytes(der).bytes())),
      CryptoError::kMalformed);
  EXPECT_EQ(ParseCode(CoseWithUnprotected(
                Cbor().Map(1).Int(33).Array(1).Text("x").bytes())),
            CryptoError::kMalformed);
  EXPECT_EQ(ParseCode(CoseWithUnprotected(
                Cbor().Map(1).Int(33).Array(1).Bytes({1, 2, 3}).bytes())),
            CryptoError::kMalformed);
  // 101 certificates.
  Cbor many;
  many.Map(1).Int(33).Array(kMaxCertificates + 1);
  for (size_t i = 0; i <= kMaxCertificates; ++i) {
    many.Bytes(der);
  }
  EXPECT_EQ(ParseCode(CoseWithUnprotected(many.bytes())),
            CryptoError::kTooLarge);
  // No tags outside the protected header (go-cose decodes the message with
  // tags forbidden).
  EXPECT_EQ(ParseCode(CoseWithUnprotected(Cbor()
                                              .Map(2)
                                              .Int(33)
                                              .Raw(ChainOf(der).bytes())
                                              .Text("x")
                                              .Tag(1)
                                              .Uint(5)
                                              .bytes())),
            CryptoError::kMalformed);
  // Labels must be integers or text.
  EXPECT_EQ(ParseCode(CoseWithUnprotected(Cbor()
                                              .Map(2)
                                              .Int(33)
                                              .Raw(ChainOf(der).bytes())
                                              .Bytes({1})
                                              .Uint(5)
                                              .bytes())),
            CryptoError::kMalformed);
  // Not a map.
  EXPECT_EQ(ParseCode(CoseWithUnprotected(Cbor().Array(0).bytes())),
            CryptoError::kMalformed);
}

TEST(Cose, PayloadAndSignatureShape) {
  // Detached payload.
  CoseInput in;
  in.protected_map = CoseProtected(kPs256);
  in.payload_item = {0xf6};
  EXPECT_EQ(ParseCode(SignCose(SignerForAlgorithm(kPs256), kPs256, in)),
            CryptoError::kMissingAttribute);
  // Empty payload.
  in.payload_item = {0x40};
  EXPECT_EQ(ParseCode(SignCose(SignerForAlgorithm(kPs256), kPs256, in)),
            CryptoError::kMissingAttribute);
  // Payload as text.
  in.payload_item = Cbor().Text("x").bytes();
  EXPECT_EQ(ParseCode(SignCose(SignerForAlgorithm(kPs256), kPs256, in)),
            CryptoError::kMalformed);
  // Empty signature.
  base::Bytes bytes = GoodCose(kPs256);
  // The signature is the last item: a 256-byte bstr (0x59 0x01 0x00 ...).
  ASSERT_GT(bytes.size(), 259u);
  bytes.resize(bytes.size() - 259);
  bytes.push_back(0x40);
  EXPECT_EQ(ParseCode(bytes), CryptoError::kMissingAttribute);
}

TEST(Cose, RandomMutationsNeverCrash) {
  // Every mutated envelope either parses or fails with a code; whatever
  // parses can be checked for integrity. (Most useful under ASan/UBSan.)
  CborMap m = CoseProtected(kEs256, SigningScheme::kX509, true);
  m.Set(Label("com.example.x"),
        Cbor().Map(2).Text("a").Array(2).Uint(1).Tag(1).Uint(2).Int(-3).Bytes(
            {9}));
  CoseInput in;
  in.protected_map = m;
  const base::Bytes good = SignCose(SignerForAlgorithm(kEs256), kEs256, in);
  std::mt19937 rng(20240601);
  int parsed = 0;
  for (int i = 0; i < 4000; ++i) {
    base::Bytes b = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      const size_t at = rng() % b.size();
      switch (rng() % 4) {
        case 0:
          b[at] = static_cast<uint8_t>(rng());
          break;
        case 1:
          b[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 2:
          b.resize(at + 1);
          break;
        default:
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(at),
                   static_cast<uint8_t>(rng()));
          break;
      }
    }
    auto e = ParseCose(b);
    if (e.ok()) {
      ++parsed;
      (void)VerifyEnvelopeIntegrity(*e);
    }
  }
  // Some mutations land in the signature or the agent and still parse.
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace trustgate::crypto
