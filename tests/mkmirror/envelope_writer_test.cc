#include "tools/mkmirror/envelope_writer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "crypto/envelope.h"
#include "tests/mkmirror/envelope_check.h"
#include "tools/mkmirror/drbg.h"

namespace trustgate::mkmirror {
namespace {

using testing::CheckedEnvelope;
using testing::CheckEnvelope;

constexpr int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z

struct Pki {
  std::unique_ptr<Credential> root;
  std::unique_ptr<Credential> leaf;
  Signer signer() const { return Signer{leaf.get(), {leaf.get(), root.get()}}; }
};

Pki MakePki(KeyType leaf_type) {
  EXPECT_TRUE(InstallDeterministicRng());
  ReseedRng(1, "envelope-test:" + std::string(ToString(leaf_type)));
  Pki p;
  CertSpec spec;
  spec.subject = {
      {"C", "US"}, {"ST", "WA"}, {"O", "Acme Corp"}, {"CN", "root"}};
  spec.not_before = kNow - 86400 * 365;
  spec.not_after = kNow + 86400 * 3650;
  spec.role = CertRole::kRoot;
  p.root = IssueCertificate(spec, KeyType::kEc256, nullptr).value();
  spec.subject.back().second = "leaf";
  spec.role = CertRole::kLeaf;
  p.leaf = IssueCertificate(spec, leaf_type, p.root.get()).value();
  return p;
}

EnvelopeRequest Request(EnvelopeFormat format) {
  EnvelopeRequest r;
  r.format = format;
  r.signing_time = kNow - 3600;
  r.target = {"application/vnd.oci.image.manifest.v1+json",
              "sha256:2f3a23b6373afb134ddcd864be8e037e34a662d090d33ee849471ff7"
              "3c873345",
              1024};
  return r;
}

CheckedEnvelope Build(const EnvelopeRequest& r, const Pki& p) {
  auto bytes = BuildEnvelope(r, p.signer());
  EXPECT_TRUE(bytes.ok());
  if (!bytes.ok()) {
    return {};
  }
  return CheckEnvelope(MediaType(r.format), *bytes);
}

class EnvelopeByKey
    : public ::testing::TestWithParam<std::tuple<EnvelopeFormat, KeyType>> {};

TEST_P(EnvelopeByKey, GoodEnvelopeVerifies) {
  const auto [format, type] = GetParam();
  const Pki p = MakePki(type);
  const EnvelopeRequest r = Request(format);
  const CheckedEnvelope e = Build(r, p);
  ASSERT_TRUE(e.parsed);
  EXPECT_TRUE(e.signature_valid);
  EXPECT_TRUE(testing::KeyMatchesAlg(e.chain[0], e.alg)) << e.alg;
  EXPECT_EQ(e.content_type, "application/vnd.cncf.notary.payload.v1+json");
  EXPECT_EQ(e.signing_scheme, "notary.x509");
  EXPECT_EQ(e.crit, std::vector<std::string>{"io.cncf.notary.signingScheme"});
  EXPECT_EQ(e.signing_time, kNow - 3600);
  EXPECT_FALSE(e.authentic_signing_time.has_value());
  EXPECT_FALSE(e.expiry.has_value());
  EXPECT_TRUE(e.other_protected.empty());
  EXPECT_EQ(e.payload, PayloadJson(r.target));
  ASSERT_EQ(e.chain.size(), 2u);
  EXPECT_EQ(e.chain[0], p.leaf->der);
  EXPECT_EQ(e.chain[1], p.root->der);
  EXPECT_EQ(e.signing_agent, kSigningAgent);
}

INSTANTIATE_TEST_SUITE_P(
    All, EnvelopeByKey,
    ::testing::Combine(::testing::Values(EnvelopeFormat::kJws,
                                         EnvelopeFormat::kCose),
                       ::testing::Values(KeyType::kEc256, KeyType::kEc384,
                                         KeyType::kEc521, KeyType::kRsa2048)));

TEST(EnvelopeWriter, PayloadShape) {
  const std::string json = PayloadJson(Request(EnvelopeFormat::kJws).target);
  // signature-specification.md, Payload; keys sorted as Notation writes.
  EXPECT_EQ(json,
            "{\"targetArtifact\":{\"digest\":\"sha256:2f3a23b6373afb134ddcd864b"
            "e8e037e34a662d090d33ee849471ff73c873345\",\"mediaType\":"
            "\"application/vnd.oci.image.manifest.v1+json\",\"size\":1024}}");
}

TEST(EnvelopeWriter, SigningAuthorityAndExpiry) {
  const Pki p = MakePki(KeyType::kEc384);
  for (EnvelopeFormat f : {EnvelopeFormat::kJws, EnvelopeFormat::kCose}) {
    EnvelopeRequest r = Request(f);
    r.scheme = SigningScheme::kX509SigningAuthority;
    r.expiry = kNow + 86400;
    const CheckedEnvelope e = Build(r, p);
    ASSERT_TRUE(e.parsed);
    EXPECT_TRUE(e.signature_valid);
    EXPECT_EQ(e.signing_scheme, "notary.x509.signingAuthority");
    EXPECT_FALSE(e.signing_time.has_value());
    EXPECT_EQ(e.authentic_signing_time, kNow - 3600);
    EXPECT_EQ(e.expiry, kNow + 86400);
    EXPECT_EQ(e.crit,
              (std::vector<std::string>{"io.cncf.notary.signingScheme",
                                        "io.cncf.notary.authenticSigningTime",
                                        "io.cncf.notary.expiry"}));
  }
}

TEST(EnvelopeWriter, Defects) {
  const Pki p = MakePki(KeyType::kEc256);
  for (EnvelopeFormat f : {EnvelopeFormat::kJws, EnvelopeFormat::kCose}) {
    EnvelopeRequest r = Request(f);
    r.defect = EnvelopeDefect::kTamperedPayload;
    CheckedEnvelope tampered = Build(r, p);
    ASSERT_TRUE(tampered.parsed);
    EXPECT_FALSE(tampered.signature_valid);
    EXPECT_NE(tampered.payload, PayloadJson(r.target));
    EXPECT_TRUE(nlohmann::json::accept(tampered.payload));

    r.defect = EnvelopeDefect::kCorruptedSignature;
    CheckedEnvelope corrupted = Build(r, p);
    ASSERT_TRUE(corrupted.parsed);
    EXPECT_FALSE(corrupted.signature_valid);
    EXPECT_EQ(corrupted.payload, PayloadJson(r.target));

    r.defect = EnvelopeDefect::kNone;
    r.extra_critical =
        std::make_pair(std::string("com.example.unknown"), std::string("v"));
    CheckedEnvelope critical = Build(r, p);
    ASSERT_TRUE(critical.parsed);
    EXPECT_TRUE(critical.signature_valid);  // signed, but not understood
    EXPECT_EQ(critical.other_protected,
              std::vector<std::string>{"com.example.unknown"});
    EXPECT_EQ(critical.crit.back(), "com.example.unknown");
  }
}

// RFC 8949 §4.2.1 key order, as in Notation's own COSE envelopes: integer
// labels first, then text labels by length.
TEST(EnvelopeWriter, CoseHeaderOrder) {
  const Pki p = MakePki(KeyType::kEc256);
  EnvelopeRequest r = Request(EnvelopeFormat::kCose);
  r.expiry = kNow + 60;
  auto bytes = BuildEnvelope(r, p.signer());
  ASSERT_TRUE(bytes.ok());
  const base::Bytes& b = *bytes;
  ASSERT_GT(b.size(), 8u);
  EXPECT_EQ(b[0], 0xd2);  // tag 18
  EXPECT_EQ(b[1], 0x84);  // array(4)
  const std::string text(b.begin(), b.end());
  const size_t expiry = text.find("io.cncf.notary.expiry");
  const size_t signing_time = text.find("io.cncf.notary.signingTime");
  const size_t scheme = text.find("io.cncf.notary.signingScheme\x6b");
  ASSERT_NE(expiry, std::string::npos);
  ASSERT_NE(scheme, std::string::npos);
  EXPECT_LT(expiry, signing_time);
  EXPECT_LT(signing_time, scheme);
}

TEST(EnvelopeWriter, SignRawSizes) {
  for (auto [type, size] :
       std::vector<std::pair<KeyType, size_t>>{{KeyType::kEc256, 64},
                                               {KeyType::kEc384, 96},
                                               {KeyType::kEc521, 132},
                                               {KeyType::kRsa2048, 256}}) {
    ReseedRng(2, "sizes");
    auto key = GenerateKey(type);
    ASSERT_TRUE(key.ok());
    auto sig = SignRaw(type, key->get(), base::AsBytes("message"));
    ASSERT_TRUE(sig.ok());
    EXPECT_EQ(sig->size(), size) << ToString(type);
  }
}

TEST(EnvelopeWriter, RejectsSignerWithoutChain) {
  auto r = BuildEnvelope(Request(EnvelopeFormat::kJws), Signer{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), MkError::kUsage);
}

TEST(EnvelopeWriter, CountersignerTokenInTheUnprotectedHeader) {
  for (KeyType type : {KeyType::kEc256, KeyType::kEc384, KeyType::kRsa4096}) {
    const Pki p = MakePki(type);
    for (EnvelopeFormat format :
         {EnvelopeFormat::kJws, EnvelopeFormat::kCose}) {
      EnvelopeRequest r = Request(format);
      base::Bytes seen;
      int seen_md = 0;
      r.countersigner =
          [&](base::ByteView signature,
              const EVP_MD* md) -> base::Result<base::Bytes, MkError> {
        seen.assign(signature.begin(), signature.end());
        seen_md = EVP_MD_get_type(md);
        return base::Bytes{0x30, 0x03, 0x02, 0x01, 0x07};
      };
      auto bytes = BuildEnvelope(r, p.signer());
      ASSERT_TRUE(bytes.ok());
      const CheckedEnvelope e = CheckEnvelope(MediaType(format), *bytes);
      ASSERT_TRUE(e.parsed);
      EXPECT_TRUE(e.signature_valid);
      // The token covers exactly the signature the envelope carries, hashed
      // as its algorithm hashes.
      EXPECT_EQ(seen, e.signature);
      EXPECT_EQ(seen_md, type == KeyType::kEc256   ? NID_sha256
                         : type == KeyType::kEc384 ? NID_sha384
                                                   : NID_sha512);
      ASSERT_TRUE(e.timestamp_token.has_value());
      EXPECT_FALSE(e.timestamp_malformed);
      EXPECT_EQ(*e.timestamp_token,
                (base::Bytes{0x30, 0x03, 0x02, 0x01, 0x07}));
      // trustgate's parser finds it too.
      auto parsed = crypto::ParseEnvelope(format == EnvelopeFormat::kJws
                                              ? crypto::EnvelopeFormat::kJws
                                              : crypto::EnvelopeFormat::kCose,
                                          *bytes);
      ASSERT_TRUE(parsed.ok()) << parsed.detail();
      ASSERT_TRUE(parsed->timestamp_token.has_value());
      EXPECT_EQ(*parsed->timestamp_token, *e.timestamp_token);
      EXPECT_EQ(parsed->signature, seen);
      if (format == EnvelopeFormat::kJws) {
        // notation-core-go's field order: the token first, standard base64.
        const auto env =
            nlohmann::ordered_json::parse(bytes->begin(), bytes->end());
        EXPECT_EQ(env["header"].begin().key(),
                  "io.cncf.notary.timestampSignature");
        EXPECT_EQ(env["header"]["io.cncf.notary.timestampSignature"],
                  "MAMCAQc=");
      }
    }
  }
  RestoreDefaultRng();
}

TEST(EnvelopeWriter, CountersignerErrorsPropagate) {
  const Pki p = MakePki(KeyType::kEc256);
  EnvelopeRequest r = Request(EnvelopeFormat::kCose);
  r.countersigner = [](base::ByteView,
                       const EVP_MD*) -> base::Result<base::Bytes, MkError> {
    return base::MakeError(MkError::kCrypto, "no TSA");
  };
  auto bytes = BuildEnvelope(r, p.signer());
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.code(), MkError::kCrypto);
  RestoreDefaultRng();
}

}  // namespace
}  // namespace trustgate::mkmirror
