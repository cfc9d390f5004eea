#include "crypto/timestamp.h"

#include <gtest/gtest.h>
#include <openssl/cms.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "crypto/envelope.h"
#include "tests/crypto/test_pki.h"
#include "tests/crypto/test_tsa.h"

namespace trustgate::crypto {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using testpki::CertSpec;
using testpki::KeyKind;
using testtsa::EssMode;
using testtsa::MakeToken;
using testtsa::MakeTsa;
using testtsa::TokenSpec;
using testtsa::Tsa;

base::Time At(const char* rfc3339) {
  std::optional<base::Time> t = base::ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return t.value_or(base::Time{});
}

const base::Bytes& Message() {
  static const base::Bytes m = [] {
    base::Bytes b(256);
    for (size_t i = 0; i < b.size(); ++i) {
      b[i] = static_cast<uint8_t>(i * 7 + 1);
    }
    return b;
  }();
  return m;
}

// A shared valid TSA (P-256 leaf under a P-384 root).
const Tsa& DefaultTsa() {
  static const Tsa* tsa = new Tsa(MakeTsa());
  return *tsa;
}

TokenSpec Good() { return testtsa::GoodTokenSpec(DefaultTsa(), Message()); }

CryptoError CodeOf(const TokenSpec& spec, const Tsa& tsa = DefaultTsa()) {
  auto r = VerifyTimestampToken(MakeToken(spec), spec.message, tsa.Roots());
  EXPECT_FALSE(r.ok()) << "unexpectedly verified";
  return r.ok() ? CryptoError{} : r.code();
}

template <typename LeafTweak>
Tsa TsaWithLeaf(LeafTweak tweak, KeyKind kind = KeyKind::kP256) {
  return MakeTsa(kind, tweak, [](CertSpec&) {});
}

// ---------------------------------------------------------------------------
// Real tokens from the Notation interop pack (Microsoft's public TSA).

std::string PackPath(const std::string& rel) {
  return testpki::SharedDir() + "/interop/notation-e2e/" + rel;
}

constexpr const char* kTimestampedEnvelope =
    "layouts/e2e-with-timestamped-signature/blobs/sha256/"
    "603ff134e97a79cd7a15560b76137c2c4a10451daab11327a7c6f86dac250fee";
constexpr const char* kInvalidTimestampEnvelope =
    "layouts/e2e-with-invalid-timestamped-signature/blobs/sha256/"
    "8d2e70ffc2af68b7f2df6f30dfefcb7bcda1db5f9ac2566fc8c6c2248c8d4c5f";

std::optional<Envelope> LoadEnvelope(EnvelopeFormat format,
                                     const std::string& rel) {
  auto bytes = testpki::ReadFile(PackPath(rel));
  EXPECT_TRUE(bytes.has_value()) << rel;
  if (!bytes) {
    return std::nullopt;
  }
  auto env = ParseEnvelope(format, *bytes);
  EXPECT_TRUE(env.ok()) << rel << ": " << env.detail();
  if (!env.ok()) {
    return std::nullopt;
  }
  return std::move(env).value();
}

// The pack's tsa:e2e store (GlobalSign Root R6, DigiCert Trusted Root G4).
std::vector<CertificatePtr> PackTsaRoots() {
  std::vector<CertificatePtr> roots;
  for (const char* name : {"config/timestamp/globalsignTSARoot.cer",
                           "config/timestamp/DigiCertTSARootSHA384.cer"}) {
    auto bytes = testpki::ReadFile(PackPath(name));
    EXPECT_TRUE(bytes.has_value()) << name;
    if (!bytes) {
      continue;
    }
    auto certs = Certificate::FromFileBytes(*bytes);
    EXPECT_TRUE(certs.ok()) << name << ": " << certs.detail();
    if (certs.ok()) {
      roots.insert(roots.end(), certs->begin(), certs->end());
    }
  }
  EXPECT_EQ(roots.size(), 2u);
  return roots;
}

struct MicrosoftCase {
  const char* name;
  EnvelopeFormat format;
  const char* envelope;
  const char* gen_time;
  const char* leaf_sha256;
};

const MicrosoftCase kMicrosoftCases[] = {
    {"oci-layout-jws", EnvelopeFormat::kJws, kTimestampedEnvelope,
     "2025-01-21T09:17:46.641Z",
     "59283806bbc4fec702339b6026633c2034333fd3cae5368323186209e406d522"},
    {"blob-jws", EnvelopeFormat::kJws, "config/signatures/blob.jws.sig",
     "2024-12-31T08:05:30.009Z",
     "93db2732c49e2624cf0a5cc03ad04acc0927fcaf5e7afdd4a3e23b6fc196aedc"},
    {"blob-cose", EnvelopeFormat::kCose, "config/signatures/blob.cose.sig",
     "2025-01-07T08:42:44.082Z",
     "3403d75002d22e2b8c49a8a113957d9eb225c901b946837fd61ff3ce32c51f65"},
};

constexpr const char* kMicrosoftCaSha256 =
    "36e731cfa9bfd69dafb643809f6dec500902f7197daeaad86ea0159a2268a2b8";

TEST(TimestampInterop, MicrosoftTokensSignatureAndImprintVerify) {
  for (const MicrosoftCase& c : kMicrosoftCases) {
    SCOPED_TRACE(c.name);
    std::optional<Envelope> env = LoadEnvelope(c.format, c.envelope);
    ASSERT_TRUE(env.has_value());
    ASSERT_TRUE(env->timestamp_token.has_value());
    auto contents =
        VerifyTimestampTokenSignature(*env->timestamp_token, env->signature);
    ASSERT_TRUE(contents.ok()) << contents.detail();
    EXPECT_EQ(contents->gen_time, At(c.gen_time));
    EXPECT_EQ(contents->accuracy, milliseconds(500));
    EXPECT_EQ(contents->earliest, At(c.gen_time) - milliseconds(500));
    EXPECT_EQ(contents->latest, At(c.gen_time) + milliseconds(500));
    EXPECT_EQ(contents->policy, "1.3.6.1.4.1.601.10.3.1");
    ASSERT_TRUE(contents->signer);
    EXPECT_EQ(contents->signer->Sha256Hex(), c.leaf_sha256);
    EXPECT_NE(contents->signer->SubjectString().find(
                  "CN=Microsoft Public RSA Time Stamping Authority"),
              std::string::npos);
    ASSERT_EQ(contents->certificates.size(), 2u);
    // The imprint covers exactly the envelope's signature bytes.
    base::Bytes other = env->signature;
    other[0] ^= 0x01;
    EXPECT_EQ(
        VerifyTimestampTokenSignature(*env->timestamp_token, other).code(),
        CryptoError::kTimestampImprintMismatch);
  }
}

TEST(TimestampInterop, MicrosoftTokensUntrustedUnderPackTsaRoots) {
  // The Microsoft root is not in the pack: with the e2e suite's TSA roots
  // the chain cannot be built (notation: "failed to verify the timestamp
  // countersignature").
  const std::vector<CertificatePtr> roots = PackTsaRoots();
  for (const MicrosoftCase& c : kMicrosoftCases) {
    SCOPED_TRACE(c.name);
    std::optional<Envelope> env = LoadEnvelope(c.format, c.envelope);
    ASSERT_TRUE(env.has_value());
    auto r = VerifyTimestampToken(*env->timestamp_token, env->signature, roots);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), CryptoError::kTsaUntrusted) << r.detail();
  }
}

TEST(TimestampInterop, MicrosoftTokenWithItsTopCertificateAsAnchor) {
  // The token's top certificate ("Microsoft Public RSA Timestamping CA
  // 2020") is not self-signed. As an anchor it completes a chain (Go's
  // Roots pool accepts any certificate), which then fails the
  // self-signed-root rule of ValidateTimestampingCertChain: everything
  // before (CMS signature, imprint, path, validity at genTime, EKU rules of
  // the leaf) passed.
  for (const MicrosoftCase& c : kMicrosoftCases) {
    SCOPED_TRACE(c.name);
    std::optional<Envelope> env = LoadEnvelope(c.format, c.envelope);
    ASSERT_TRUE(env.has_value());
    auto contents =
        VerifyTimestampTokenSignature(*env->timestamp_token, env->signature);
    ASSERT_TRUE(contents.ok()) << contents.detail();
    CertificatePtr top;
    for (const CertificatePtr& cert : contents->certificates) {
      if (cert->Sha256Hex() == kMicrosoftCaSha256) {
        top = cert;
      }
    }
    ASSERT_TRUE(top);
    EXPECT_FALSE(top->IsSelfSigned());
    auto r =
        VerifyTimestampToken(*env->timestamp_token, env->signature, {&top, 1});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), CryptoError::kChainNotSelfSigned) << r.detail();
    // The leaf itself as the anchor: a chain of one certificate that is
    // not self-signed.
    auto leaf_only = VerifyTimestampToken(*env->timestamp_token, env->signature,
                                          {&contents->signer, 1});
    ASSERT_FALSE(leaf_only.ok());
    EXPECT_EQ(leaf_only.code(), CryptoError::kChainNotSelfSigned);
  }
}

TEST(TimestampInterop, TamperedMicrosoftTokenFails) {
  std::optional<Envelope> env =
      LoadEnvelope(EnvelopeFormat::kJws, kTimestampedEnvelope);
  ASSERT_TRUE(env.has_value());
  const base::Bytes& token = *env->timestamp_token;
  // The TSTInfo's genTime moved by one millisecond: the message-digest
  // attribute no longer matches.
  const std::string gen = "20250121091746.641Z";
  auto it = std::search(token.begin(), token.end(), gen.begin(), gen.end());
  ASSERT_NE(it, token.end());
  base::Bytes moved = token;
  moved[static_cast<size_t>(it - token.begin()) + 17] = '2';
  EXPECT_EQ(VerifyTimestampTokenSignature(moved, env->signature).code(),
            CryptoError::kBadSignature);
  // One bit of the RSA signature.
  const unsigned char* p = token.data();
  CMS_ContentInfo* cms =
      d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(token.size()));
  ASSERT_NE(cms, nullptr);
  ASN1_OCTET_STRING* sig = CMS_SignerInfo_get0_signature(
      sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0));
  base::Bytes sig_bytes(ASN1_STRING_get0_data(sig),
                        ASN1_STRING_get0_data(sig) + ASN1_STRING_length(sig));
  sig_bytes[100] ^= 0x40;
  ASN1_OCTET_STRING_set(sig, sig_bytes.data(),
                        static_cast<int>(sig_bytes.size()));
  unsigned char* der = nullptr;
  const int len = i2d_CMS_ContentInfo(cms, &der);
  ASSERT_GT(len, 0);
  const base::Bytes flipped(der, der + len);
  OPENSSL_free(der);
  CMS_ContentInfo_free(cms);
  EXPECT_EQ(VerifyTimestampTokenSignature(flipped, env->signature).code(),
            CryptoError::kBadSignature);
  // Anything after the token.
  base::Bytes trailing = token;
  trailing.push_back(0);
  EXPECT_EQ(VerifyTimestampTokenSignature(trailing, env->signature).code(),
            CryptoError::kMalformed);
}

TEST(TimestampInterop, GarbageTokenIsMalformed) {
  std::optional<Envelope> env =
      LoadEnvelope(EnvelopeFormat::kJws, kInvalidTimestampEnvelope);
  ASSERT_TRUE(env.has_value());
  ASSERT_TRUE(env->timestamp_token.has_value());
  EXPECT_EQ(base::AsString(*env->timestamp_token), "invalid\n");
  EXPECT_EQ(VerifyTimestampTokenSignature(*env->timestamp_token, env->signature)
                .code(),
            CryptoError::kMalformed);
  EXPECT_EQ(VerifyTimestampToken(*env->timestamp_token, env->signature,
                                 PackTsaRoots())
                .code(),
            CryptoError::kMalformed);
}

// ---------------------------------------------------------------------------
// A test TSA: the good cases.

TEST(Timestamp, VerifiesAGoodToken) {
  const Tsa& tsa = DefaultTsa();
  const TokenSpec spec = Good();
  auto r = VerifyTimestampToken(MakeToken(spec), Message(), tsa.Roots());
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(r->gen_time, At("2025-01-21T09:17:46.641Z"));
  EXPECT_EQ(r->accuracy, microseconds(0));
  EXPECT_EQ(r->earliest, r->gen_time);
  EXPECT_EQ(r->latest, r->gen_time);
  EXPECT_EQ(r->policy, testtsa::kTestPolicy);
  EXPECT_EQ(r->serial_hex, "2a");
  ASSERT_EQ(r->tsa_chain.size(), 2u);
  EXPECT_EQ(r->tsa_chain[0]->der().size(), tsa.leaf.cert->der().size());
  EXPECT_EQ(r->tsa_chain[0]->Sha256Hex(), tsa.leaf.cert->Sha256Hex());
  EXPECT_EQ(r->tsa_chain[1]->Sha256Hex(), tsa.root.cert->Sha256Hex());
  EXPECT_EQ(r->tsa_subject, "CN=tsa,O=Test TSA,ST=WA,C=US");
  EXPECT_EQ(r->tsa_subject, tsa.leaf.cert->SubjectString());
}

TEST(Timestamp, VerifiesAcrossKeysAndDigests) {
  struct Case {
    KeyKind leaf;
    const char* digest;
    bool pss;
  };
  for (const Case& c : {Case{KeyKind::kP256, "SHA256", false},
                        Case{KeyKind::kP384, "SHA384", false},
                        Case{KeyKind::kP521, "SHA512", false},
                        Case{KeyKind::kRsa2048, "SHA256", false},
                        Case{KeyKind::kRsa2048, "SHA512", false},
                        Case{KeyKind::kRsa2048, "SHA256", true},
                        Case{KeyKind::kRsa2048, "SHA384", true}}) {
    SCOPED_TRACE(std::string(c.digest) + (c.pss ? " pss" : ""));
    const Tsa tsa = MakeTsa(c.leaf);
    TokenSpec spec = testtsa::GoodTokenSpec(tsa, Message());
    spec.signer_digest = c.digest;
    spec.rsa_pss = c.pss;
    auto r = VerifyTimestampToken(MakeToken(spec), Message(), tsa.Roots());
    EXPECT_TRUE(r.ok()) << r.detail();
  }
}

TEST(Timestamp, VerifiesImprintsOfEverySha2) {
  for (const char* digest : {"SHA256", "SHA384", "SHA512"}) {
    SCOPED_TRACE(digest);
    TokenSpec spec = Good();
    spec.imprint_digest = digest;
    auto r =
        VerifyTimestampToken(MakeToken(spec), Message(), DefaultTsa().Roots());
    EXPECT_TRUE(r.ok()) << r.detail();
  }
  TokenSpec sha1 = Good();
  sha1.imprint_digest = "SHA1";
  EXPECT_EQ(CodeOf(sha1), CryptoError::kUnsupportedAlgorithm);
}

TEST(Timestamp, VerifiesOpensslTsaResponses) {
  const Tsa& tsa = DefaultTsa();
  // 2025-01-21T09:17:46.641999Z: OpenSSL writes three fraction digits.
  const base::Bytes token = testtsa::OpensslTsaToken(
      tsa, Message(), 1737451066, 641999, {tsa.root.x509.get()});
  auto r = VerifyTimestampToken(token, Message(), tsa.Roots());
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(r->gen_time, At("2025-01-21T09:17:46.641Z"));
  EXPECT_EQ(r->accuracy, milliseconds(1500));
  EXPECT_EQ(r->policy, testtsa::kTestPolicy);
  ASSERT_EQ(r->tsa_chain.size(), 2u);
  EXPECT_EQ(
      VerifyTimestampToken(token, base::AsBytes("other"), tsa.Roots()).code(),
      CryptoError::kTimestampImprintMismatch);
}

TEST(Timestamp, RootEmbeddedInTheTokenIsNotTrustedByItself) {
  const Tsa& tsa = DefaultTsa();
  TokenSpec spec = Good();
  spec.certificates = {tsa.leaf.x509.get(), tsa.root.x509.get()};
  auto r = VerifyTimestampToken(MakeToken(spec), Message(), tsa.Roots());
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(r->tsa_chain.size(), 2u);
  // The same token against another TSA's roots.
  const Tsa other = MakeTsa(
      KeyKind::kP256, [](CertSpec&) {}, [](CertSpec&) {}, /*key_slot=*/1);
  EXPECT_EQ(CodeOf(spec, other), CryptoError::kTsaUntrusted);
}

TEST(Timestamp, IntermediateCas) {
  EVP_PKEY* root_key = testpki::Key(KeyKind::kP384, 320);
  EVP_PKEY* int_key = testpki::Key(KeyKind::kP256, 321);
  EVP_PKEY* leaf_key = testpki::Key(KeyKind::kP256, 322);
  struct Case {
    const char* name;
    std::string int_key_usage;
    std::string int_eku;
    std::string int_basic_constraints;
    std::optional<CryptoError> want;
  };
  const Case cases[] = {
      {"good", "critical,keyCertSign,cRLSign", "", "critical,CA:TRUE", {}},
      {"eku-timestamping",
       "critical,keyCertSign",
       "timeStamping",
       "critical,CA:TRUE",
       {}},
      {"eku-any",
       "critical,keyCertSign",
       "anyExtendedKeyUsage",
       "critical,CA:TRUE",
       {}},
      {"ku-not-critical", "keyCertSign", "", "critical,CA:TRUE", {}},
      {"eku-codesigning", "critical,keyCertSign", "codeSigning",
       "critical,CA:TRUE", CryptoError::kTsaUntrusted},
      {"ku-missing", "", "", "critical,CA:TRUE", CryptoError::kCaKeyUsage},
      {"ku-without-certsign", "critical,digitalSignature", "",
       "critical,CA:TRUE", CryptoError::kCaKeyUsage},
      {"not-a-ca", "critical,keyCertSign", "", "critical,CA:FALSE",
       CryptoError::kCaBasicConstraints},
      {"pathlen-0-ok",
       "critical,keyCertSign",
       "",
       "critical,CA:TRUE,pathlen:0",
       {}},
  };
  CertSpec root_spec = testpki::RootSpec(root_key, "tsa root");
  testpki::Built root = testpki::Build(root_spec);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CertSpec int_spec = testpki::RootSpec(int_key, "tsa ca");
    int_spec.issuer = root.x509.get();
    int_spec.issuer_key = root_key;
    int_spec.serial = 2;
    int_spec.key_usage = c.int_key_usage;
    int_spec.ext_key_usage = c.int_eku;
    int_spec.basic_constraints = c.int_basic_constraints;
    testpki::Built inter = testpki::Build(int_spec);
    testpki::Built leaf = testpki::Build(
        testtsa::TsaLeafSpec(leaf_key, inter.x509.get(), int_key));
    TokenSpec spec;
    spec.message = Message();
    spec.signer = leaf.x509.get();
    spec.signer_key = leaf_key;
    spec.certificates = {leaf.x509.get(), inter.x509.get()};
    auto r = VerifyTimestampToken(MakeToken(spec), Message(),
                                  std::vector<CertificatePtr>{root.cert});
    if (!c.want) {
      ASSERT_TRUE(r.ok()) << r.detail();
      ASSERT_EQ(r->tsa_chain.size(), 3u);
      EXPECT_EQ(r->tsa_chain[1]->Sha256Hex(), inter.cert->Sha256Hex());
    } else {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.code(), *c.want) << r.detail();
    }
    // Without the intermediate in the token there is no path.
    spec.certificates = {leaf.x509.get()};
    EXPECT_EQ(VerifyTimestampToken(MakeToken(spec), Message(),
                                   std::vector<CertificatePtr>{root.cert})
                  .code(),
              CryptoError::kTsaUntrusted);
  }
}

TEST(Timestamp, SelfSignedTsaLeafAsItsOwnAnchor) {
  // notation-core-go accepts a chain of one self-signed certificate that
  // meets the leaf rules (Go's Verify stops at a leaf found in Roots).
  EVP_PKEY* key = testpki::Key(KeyKind::kP256, 330);
  CertSpec s = testtsa::TsaLeafSpec(key, nullptr, nullptr);
  testpki::Built self = testpki::Build(s);
  TokenSpec spec;
  spec.message = Message();
  spec.signer = self.x509.get();
  spec.signer_key = key;
  spec.certificates = {self.x509.get()};
  auto r = VerifyTimestampToken(MakeToken(spec), Message(),
                                std::vector<CertificatePtr>{self.cert});
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(r->tsa_chain.size(), 1u);
}

// ---------------------------------------------------------------------------
// Failures.

TEST(Timestamp, WrongImprint) {
  TokenSpec spec = Good();
  const base::Bytes token = MakeToken(spec);
  EXPECT_EQ(VerifyTimestampToken(token, base::AsBytes("another signature"),
                                 DefaultTsa().Roots())
                .code(),
            CryptoError::kTimestampImprintMismatch);
  // A token over other bytes.
  spec.message = base::Bytes(Message().begin(), Message().end() - 1);
  auto r =
      VerifyTimestampToken(MakeToken(spec), Message(), DefaultTsa().Roots());
  EXPECT_EQ(r.code(), CryptoError::kTimestampImprintMismatch);
  // A raw imprint of the right length but the wrong value.
  spec = Good();
  spec.imprint_override = base::Bytes(32, 0xab);
  EXPECT_EQ(CodeOf(spec), CryptoError::kTimestampImprintMismatch);
}

TEST(Timestamp, LeafExtendedKeyUsageRules) {
  struct Case {
    const char* name;
    const char* eku;
  };
  for (const Case& c :
       {Case{"not-critical", "timeStamping"}, Case{"missing", ""},
        Case{"extra", "critical,timeStamping,codeSigning"},
        Case{"other", "critical,codeSigning"},
        Case{"any", "critical,anyExtendedKeyUsage"}}) {
    SCOPED_TRACE(c.name);
    const Tsa tsa = TsaWithLeaf([&](CertSpec& s) { s.ext_key_usage = c.eku; });
    EXPECT_EQ(CodeOf(testtsa::GoodTokenSpec(tsa, Message()), tsa),
              CryptoError::kLeafExtendedKeyUsage);
  }
}

TEST(Timestamp, LeafKeyUsageBasicConstraintsAndKey) {
  {
    const Tsa tsa = TsaWithLeaf([](CertSpec& s) { s.key_usage = ""; });
    EXPECT_EQ(CodeOf(testtsa::GoodTokenSpec(tsa, Message()), tsa),
              CryptoError::kLeafKeyUsage);
  }
  {
    const Tsa tsa = TsaWithLeaf(
        [](CertSpec& s) { s.key_usage = "critical,nonRepudiation"; });
    EXPECT_EQ(CodeOf(testtsa::GoodTokenSpec(tsa, Message()), tsa),
              CryptoError::kLeafKeyUsage);
  }
  {
    const Tsa tsa = TsaWithLeaf([](CertSpec& s) {
      s.key_usage = "critical,digitalSignature,keyEncipherment";
    });
    EXPECT_EQ(CodeOf(testtsa::GoodTokenSpec(tsa, Message()), tsa),
              CryptoError::kLeafKeyUsage);
  }
  {
    // Key usage need not be critical for a TSA (notation-core-go).
    const Tsa tsa =
        TsaWithLeaf([](CertSpec& s) { s.key_usage = "digitalSignature"; });
    EXPECT_TRUE(
        VerifyTimestampToken(MakeToken(testtsa::GoodTokenSpec(tsa, Message())),
                             Message(), tsa.Roots())
            .ok());
  }
  {
    const Tsa tsa = TsaWithLeaf(
        [](CertSpec& s) { s.basic_constraints = "critical,CA:TRUE"; });
    EXPECT_EQ(CodeOf(testtsa::GoodTokenSpec(tsa, Message()), tsa),
              CryptoError::kLeafIsCa);
  }
  {
    const Tsa tsa = TsaWithLeaf([](CertSpec&) {}, KeyKind::kRsa1024);
    EXPECT_EQ(CodeOf(testtsa::GoodTokenSpec(tsa, Message()), tsa),
              CryptoError::kUnsupportedKey);
  }
}

TEST(Timestamp, UntrustedRoot) {
  const Tsa other = MakeTsa(
      KeyKind::kP256, [](CertSpec&) {}, [](CertSpec&) {}, /*key_slot=*/1);
  const TokenSpec spec = Good();
  EXPECT_EQ(CodeOf(spec, other), CryptoError::kTsaUntrusted);
  EXPECT_EQ(VerifyTimestampToken(MakeToken(spec), Message(), {}).code(),
            CryptoError::kTsaUntrusted);
  // A root with the same name but another key.
  const Tsa same_name = MakeTsa(
      KeyKind::kP256, [](CertSpec&) {}, [](CertSpec&) {}, /*key_slot=*/2);
  EXPECT_EQ(CodeOf(spec, same_name), CryptoError::kTsaUntrusted);
}

TEST(Timestamp, GenTimeOutsideTsaValidity) {
  // Leaf valid only from 2026: genTime 2025 is before it.
  {
    const Tsa tsa =
        TsaWithLeaf([](CertSpec& s) { s.not_before = "20260101000000Z"; });
    EXPECT_EQ(CodeOf(testtsa::GoodTokenSpec(tsa, Message()), tsa),
              CryptoError::kTsaCertificateNotValid);
  }
  // Leaf expired one second into genTime's second: 09:17:46.641 is after
  // a notAfter of 09:17:46.
  const Tsa tsa =
      TsaWithLeaf([](CertSpec& s) { s.not_after = "20250121091746Z"; });
  TokenSpec spec = testtsa::GoodTokenSpec(tsa, Message());
  spec.signing_time = "250121091740Z";
  EXPECT_EQ(CodeOf(spec, tsa), CryptoError::kTsaCertificateNotValid);
  // genTime exactly at notAfter is still valid (Go: !After(notAfter)).
  spec.gen_time = "20250121091746Z";
  EXPECT_TRUE(
      VerifyTimestampToken(MakeToken(spec), Message(), tsa.Roots()).ok());
  // A nanosecond past it is not.
  spec.gen_time = "20250121091746.000000001Z";
  EXPECT_EQ(CodeOf(spec, tsa), CryptoError::kTsaCertificateNotValid);
  // An expired root counts too.
  const Tsa old_root = MakeTsa(
      KeyKind::kP256, [](CertSpec&) {},
      [](CertSpec& s) { s.not_after = "20241231235959Z"; }, /*key_slot=*/3);
  EXPECT_EQ(CodeOf(testtsa::GoodTokenSpec(old_root, Message()), old_root),
            CryptoError::kTsaCertificateNotValid);
}

TEST(Timestamp, SigningTimeAttributeMustFitTheChain) {
  const Tsa tsa =
      TsaWithLeaf([](CertSpec& s) { s.not_after = "20260101000000Z"; });
  TokenSpec spec = testtsa::GoodTokenSpec(tsa, Message());
  spec.signing_time = "270101000000Z";
  EXPECT_EQ(CodeOf(spec, tsa), CryptoError::kTsaCertificateNotValid);
  spec.signing_time = "2501";
  EXPECT_EQ(CodeOf(spec, tsa), CryptoError::kMalformed);
  // Both UTCTime layouts Go reads.
  spec.signing_time = "2501210917Z";
  EXPECT_TRUE(
      VerifyTimestampToken(MakeToken(spec), Message(), tsa.Roots()).ok());
  spec.signing_time = "250121101746+0100";
  EXPECT_TRUE(
      VerifyTimestampToken(MakeToken(spec), Message(), tsa.Roots()).ok());
}

TEST(Timestamp, TamperedTokens) {
  // A different TSTInfo under the original signature.
  TokenSpec spec = Good();
  TokenSpec other = Good();
  other.serial = 43;
  spec.replace_tst_info = testtsa::BuildTstInfo(other);
  EXPECT_EQ(CodeOf(spec), CryptoError::kBadSignature);
  // A broken signature.
  spec = Good();
  spec.flip_signature_bit = true;
  EXPECT_EQ(CodeOf(spec), CryptoError::kBadSignature);
  // Signed by a key that is not the embedded certificate's.
  spec = Good();
  spec.signer_key = testpki::Key(KeyKind::kP256, 399);
  const base::Bytes wrong_key = [&] {
    // CMS_add1_signer refuses a key that does not match the certificate,
    // so sign with a certificate of that key and embed the real leaf
    // under its issuer and serial.
    CertSpec s = testtsa::TsaLeafSpec(
        spec.signer_key, DefaultTsa().root.x509.get(), DefaultTsa().root_key);
    testpki::Built impostor = testpki::Build(s);
    TokenSpec t = Good();
    t.signer = impostor.x509.get();
    t.signer_key = spec.signer_key;
    t.ess_certificate = DefaultTsa().leaf.x509.get();
    return MakeToken(t);
  }();
  EXPECT_EQ(
      VerifyTimestampToken(wrong_key, Message(), DefaultTsa().Roots()).code(),
      CryptoError::kBadSignature);
}

TEST(Timestamp, SigningCertificateAttribute) {
  const Tsa& tsa = DefaultTsa();
  TokenSpec spec = Good();
  spec.ess = EssMode::kNone;
  EXPECT_EQ(CodeOf(spec), CryptoError::kMissingAttribute);
  // tspclient-go reads only signing-certificate-v2.
  spec.ess = EssMode::kV1Only;
  EXPECT_EQ(CodeOf(spec), CryptoError::kMissingAttribute);
  // Naming another certificate.
  spec = Good();
  spec.ess_certificate = tsa.root.x509.get();
  EXPECT_EQ(CodeOf(spec), CryptoError::kTsaSignerCertificate);
  spec.ess = EssMode::kV2WithIssuerSerial;
  EXPECT_EQ(CodeOf(spec), CryptoError::kTsaSignerCertificate);
  // With issuer and serial, and with SHA-384 / SHA-512 hashes.
  for (const char* digest : {"SHA256", "SHA384", "SHA512"}) {
    SCOPED_TRACE(digest);
    spec = Good();
    spec.ess = EssMode::kV2WithIssuerSerial;
    spec.ess_digest = digest;
    EXPECT_TRUE(
        VerifyTimestampToken(MakeToken(spec), Message(), tsa.Roots()).ok());
  }
  spec = Good();
  spec.ess_digest = "SHA1";
  EXPECT_EQ(CodeOf(spec), CryptoError::kUnsupportedAlgorithm);
}

TEST(Timestamp, SignerMustBeEmbedded) {
  const Tsa& tsa = DefaultTsa();
  TokenSpec spec = Good();
  spec.certificates = {tsa.root.x509.get()};
  EXPECT_EQ(CodeOf(spec), CryptoError::kTsaSignerCertificate);
  spec.certificates = {};
  EXPECT_EQ(CodeOf(spec), CryptoError::kTsaSignerCertificate);
}

TEST(Timestamp, ExactlyOneSigner) {
  TokenSpec spec = Good();
  spec.second_signer = true;
  EXPECT_EQ(CodeOf(spec), CryptoError::kMalformed);
}

TEST(Timestamp, ContentTypeAndVersion) {
  TokenSpec spec = Good();
  spec.content_type_nid = NID_id_smime_ct_contentInfo;
  EXPECT_EQ(CodeOf(spec), CryptoError::kBadContentType);
  // id-data makes OpenSSL write SignedData version 1, which tspclient-go
  // refuses before it looks at the content type.
  spec.content_type_nid = NID_pkcs7_data;
  EXPECT_EQ(CodeOf(spec), CryptoError::kMalformed);
  spec = Good();
  spec.version = 2;
  EXPECT_EQ(CodeOf(spec), CryptoError::kBadAttribute);
}

TEST(Timestamp, SignerAlgorithms) {
  TokenSpec spec = Good();
  spec.signer_digest = "SHA1";
  EXPECT_EQ(CodeOf(spec), CryptoError::kUnsupportedAlgorithm);
}

TEST(Timestamp, Accuracy) {
  const Tsa& tsa = DefaultTsa();
  struct Case {
    const char* name;
    std::string policy;
    std::optional<long> s, ms, us;
    microseconds want;
  };
  const Case cases[] = {
      {"all-components", testtsa::kTestPolicy, 2, 5, 7,
       microseconds(2'005'007)},
      {"millis-only", testtsa::kTestPolicy, {}, 500, {}, milliseconds(500)},
      {"micros-only", testtsa::kTestPolicy, {}, {}, 999, microseconds(999)},
      {"absent", testtsa::kTestPolicy, {}, {}, {}, microseconds(0)},
      {"baseline-absent",
       std::string(kBaselineTimestampPolicy),
       {},
       {},
       {},
       std::chrono::seconds(1)},
      {"baseline-zero",
       std::string(kBaselineTimestampPolicy),
       0,
       {},
       {},
       std::chrono::seconds(1)},
      {"baseline-explicit",
       std::string(kBaselineTimestampPolicy),
       {},
       10,
       {},
       milliseconds(10)},
      // RFC 3161 says 1..999; tspclient-go sums whatever is there.
      {"millis-over-999",
       testtsa::kTestPolicy,
       {},
       1500,
       {},
       milliseconds(1500)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TokenSpec spec = Good();
    spec.policy = c.policy;
    spec.accuracy_seconds = c.s;
    spec.accuracy_millis = c.ms;
    spec.accuracy_micros = c.us;
    auto r = VerifyTimestampToken(MakeToken(spec), Message(), tsa.Roots());
    ASSERT_TRUE(r.ok()) << r.detail();
    EXPECT_EQ(r->accuracy, c.want);
    EXPECT_EQ(r->earliest, At("2025-01-21T09:17:46.641Z") - c.want);
    EXPECT_EQ(r->latest, At("2025-01-21T09:17:46.641Z") + c.want);
    EXPECT_EQ(r->policy, c.policy);
  }
  TokenSpec negative = Good();
  negative.accuracy_seconds = -1;
  EXPECT_EQ(CodeOf(negative), CryptoError::kBadAttribute);
  TokenSpec huge = Good();
  huge.accuracy_seconds = 9'000'000'001;
  EXPECT_EQ(CodeOf(huge), CryptoError::kBadAttribute);
}

TEST(Timestamp, GenTimeAsGoReadsIt) {
  const Tsa& tsa = DefaultTsa();
  struct Case {
    const char* text;
    std::optional<const char*> want;  // nullopt: malformed
  };
  const Case cases[] = {
      {"20250121091746Z", "2025-01-21T09:17:46Z"},
      {"20250121091746.5Z", "2025-01-21T09:17:46.5Z"},
      {"20250121101746.641+0100", "2025-01-21T09:17:46.641Z"},
      {"20250121081746-0100", "2025-01-21T09:17:46Z"},
      {"20240229000000Z", "2024-02-29T00:00:00Z"},
      {"20250121091746.640Z", std::nullopt},         // trailing zero
      {"20250121091746.Z", std::nullopt},            // empty fraction
      {"20250121091746,5Z", std::nullopt},           // comma
      {"20250121091746.1234567891Z", std::nullopt},  // 10 digits
      {"20250121091746+0000", std::nullopt},         // zero offset not "Z"
      {"20250121091746", std::nullopt},              // no zone
      {"202501210917Z", std::nullopt},               // no seconds
      {"20250230000000Z", std::nullopt},             // 30 February
      {"20250121246000Z", std::nullopt},             // hour 24
      {"20250121091760Z", std::nullopt},             // second 60
      {"20250121091746Zx", std::nullopt},            // trailing text
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    TokenSpec spec = Good();
    spec.gen_time = c.text;
    spec.signing_time = "250121091746Z";
    spec.certificates = {tsa.leaf.x509.get()};
    auto r = VerifyTimestampToken(MakeToken(spec), Message(), tsa.Roots());
    if (c.want) {
      ASSERT_TRUE(r.ok()) << r.detail();
      EXPECT_EQ(r->gen_time, At(*c.want));
    } else {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.code(), CryptoError::kMalformed) << r.detail();
    }
  }
  // Sub-microsecond digits: the interval is widened to whole microseconds.
  TokenSpec spec = Good();
  spec.gen_time = "20250121091746.6410005Z";
  spec.accuracy_millis = 1;
  auto r = VerifyTimestampToken(MakeToken(spec), Message(), tsa.Roots());
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(r->gen_time, At("2025-01-21T09:17:46.641Z"));
  EXPECT_EQ(r->earliest, At("2025-01-21T09:17:46.640Z"));
  EXPECT_EQ(r->latest, At("2025-01-21T09:17:46.642001Z"));
}

TEST(Timestamp, StructureAndBounds) {
  const base::Bytes token = MakeToken(Good());
  const auto roots = DefaultTsa().Roots();
  EXPECT_EQ(VerifyTimestampToken({}, Message(), roots).code(),
            CryptoError::kMalformed);
  base::Bytes trailing = token;
  trailing.push_back(0);
  EXPECT_EQ(VerifyTimestampToken(trailing, Message(), roots).code(),
            CryptoError::kMalformed);
  base::Bytes big(kMaxTimestampTokenBytes + 1, 0x30);
  EXPECT_EQ(VerifyTimestampToken(big, Message(), roots).code(),
            CryptoError::kTooLarge);
  // The outer SEQUENCE re-encoded with an indefinite length: OpenSSL reads
  // it, tspclient-go does not.
  ASSERT_EQ(token[0], 0x30);
  ASSERT_EQ(token[1], 0x82);
  base::Bytes indefinite(token.begin() + 2, token.end());
  indefinite[0] = 0x30;  // replaces the two length octets
  indefinite[1] = 0x80;
  indefinite.push_back(0);
  indefinite.push_back(0);
  {
    const unsigned char* p = indefinite.data();
    CMS_ContentInfo* cms =
        d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(indefinite.size()));
    EXPECT_NE(cms, nullptr);
    CMS_ContentInfo_free(cms);
  }
  EXPECT_EQ(VerifyTimestampToken(indefinite, Message(), roots).code(),
            CryptoError::kMalformed);
  // SignedData version 1 instead of 3.
  const uint8_t version3[] = {0x02, 0x01, 0x03};
  auto it = std::search(token.begin(), token.end(), std::begin(version3),
                        std::end(version3));
  ASSERT_NE(it, token.end());
  base::Bytes v1 = token;
  v1[static_cast<size_t>(it - token.begin()) + 2] = 0x01;
  EXPECT_EQ(VerifyTimestampToken(v1, Message(), roots).code(),
            CryptoError::kMalformed);
  // Truncated.
  for (size_t cut : {size_t{1}, size_t{10}, token.size() / 2}) {
    base::Bytes shorter(token.begin(), token.end() - static_cast<long>(cut));
    EXPECT_EQ(VerifyTimestampToken(shorter, Message(), roots).code(),
              CryptoError::kMalformed);
  }
}

TEST(Timestamp, TooManyCertificates) {
  const Tsa& tsa = DefaultTsa();
  EVP_PKEY* key = testpki::Key(KeyKind::kP256, 340);
  std::vector<testpki::Built> fillers;
  for (long i = 0; i < static_cast<long>(kMaxTimestampCertificates); ++i) {
    CertSpec s = testpki::RootSpec(key, "filler " + std::to_string(i));
    s.serial = 1000 + i;
    fillers.push_back(testpki::Build(s));
  }
  TokenSpec spec = Good();
  for (const testpki::Built& b : fillers) {
    spec.certificates.push_back(b.x509.get());
  }
  EXPECT_EQ(CodeOf(spec, tsa), CryptoError::kTooLarge);
  spec.certificates.pop_back();  // exactly the bound
  EXPECT_TRUE(
      VerifyTimestampToken(MakeToken(spec), Message(), tsa.Roots()).ok());
}

TEST(Timestamp, MutatedTokensNeverVerify) {
  // Every single-byte change of a good token fails (or, in the unsigned
  // parts, still yields the same verified time) and never crashes.
  const Tsa& tsa = DefaultTsa();
  const base::Bytes token = MakeToken(Good());
  const auto roots = tsa.Roots();
  for (size_t i = 0; i < token.size(); i += 3) {
    base::Bytes mutated = token;
    mutated[i] ^= 0x5a;
    auto r = VerifyTimestampToken(mutated, Message(), roots);
    if (r.ok()) {
      EXPECT_EQ(r->gen_time, At("2025-01-21T09:17:46.641Z")) << i;
      EXPECT_EQ(r->accuracy, microseconds(0)) << i;
    }
  }
}

TEST(Timestamp, ConcurrentVerificationsShareRoots) {
  // The engine verifies tokens on many threads against the same parsed
  // trust-store certificates.
  const Tsa& tsa = DefaultTsa();
  const std::vector<CertificatePtr> roots = tsa.Roots();
  const base::Bytes token = MakeToken(Good());
  TokenSpec bad_spec = Good();
  bad_spec.flip_signature_bit = true;
  const base::Bytes bad = MakeToken(bad_spec);
  std::atomic<int> good_ok{0};
  std::atomic<int> bad_failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (VerifyTimestampToken(token, Message(), roots).ok()) {
          ++good_ok;
        }
        if (VerifyTimestampToken(bad, Message(), roots).code() ==
            CryptoError::kBadSignature) {
          ++bad_failed;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(good_ok.load(), 100);
  EXPECT_EQ(bad_failed.load(), 100);
}

// ---------------------------------------------------------------------------
// WithinValidity.

TEST(Timestamp, WithinValidityAtTheEdges) {
  EVP_PKEY* key = testpki::Key(KeyKind::kP256, 350);
  CertSpec s = testpki::RootSpec(key, "signer");
  s.not_before = "20250121091746Z";
  s.not_after = "20250121091747Z";
  const CertificatePtr cert = testpki::Build(s).cert;
  TimestampProof p;
  p.earliest = At("2025-01-21T09:17:46Z");
  p.latest = At("2025-01-21T09:17:47Z");
  EXPECT_TRUE(WithinValidity(p, *cert));
  p.earliest -= microseconds(1);
  EXPECT_FALSE(WithinValidity(p, *cert));
  p.earliest += microseconds(1);
  p.latest += microseconds(1);
  EXPECT_FALSE(WithinValidity(p, *cert));

  // Through real verification: genTime 46.5 +- 500 ms is exactly
  // [46, 47], inside; 46.641 +- 500 ms ends at 47.141, outside.
  const Tsa& tsa = DefaultTsa();
  TokenSpec spec = Good();
  spec.gen_time = "20250121091746.5Z";
  spec.accuracy_millis = 500;
  auto inside = VerifyTimestampToken(MakeToken(spec), Message(), tsa.Roots());
  ASSERT_TRUE(inside.ok()) << inside.detail();
  EXPECT_TRUE(WithinValidity(*inside, *cert));
  spec.gen_time = "20250121091746.641Z";
  auto outside = VerifyTimestampToken(MakeToken(spec), Message(), tsa.Roots());
  ASSERT_TRUE(outside.ok()) << outside.detail();
  EXPECT_FALSE(WithinValidity(*outside, *cert));
  // Sub-microsecond genTime: 46.4999995 - 0.5 s is below 46 by half a
  // microsecond, which must not round into the validity.
  spec.gen_time = "20250121091746.4999995Z";
  auto below = VerifyTimestampToken(MakeToken(spec), Message(), tsa.Roots());
  ASSERT_TRUE(below.ok()) << below.detail();
  EXPECT_FALSE(WithinValidity(*below, *cert));
}

TEST(Timestamp, ErrorNames) {
  EXPECT_EQ(ToString(CryptoError::kTimestampImprintMismatch),
            "timestamp-imprint-mismatch");
  EXPECT_EQ(ToString(CryptoError::kTsaSignerCertificate),
            "tsa-signer-certificate");
  EXPECT_EQ(ToString(CryptoError::kTsaUntrusted), "tsa-untrusted");
  EXPECT_EQ(ToString(CryptoError::kTsaCertificateNotValid),
            "tsa-certificate-not-valid");
}

}  // namespace
}  // namespace trustgate::crypto
