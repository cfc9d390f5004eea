#include "tools/mkmirror/timestamp_writer.h"

#include <gtest/gtest.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>

#include <memory>
#include <string>

#include "crypto/certificate.h"
#include "crypto/timestamp.h"
#include "tools/mkmirror/drbg.h"

namespace trustgate::mkmirror {
namespace {

constexpr int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z
constexpr int64_t kDay = 86400;

crypto::CertificatePtr Parse(const Credential& c) {
  auto cert = crypto::Certificate::FromDer(c.der);
  return cert.ok() ? *cert : nullptr;
}

// Roots is a trust anchor list of one certificate.
std::vector<crypto::CertificatePtr> Roots(const Credential& c) {
  return {Parse(c)};
}

// A TSA root and leaf, deterministic.
class TimestampWriter : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(rng_.ok());
    ReseedRng(7, "tsa-test");
    CertSpec spec;
    spec.role = CertRole::kRoot;
    spec.subject = {{"C", "US"}, {"O", "Test TSA"}, {"CN", "tsa root"}};
    spec.not_before = kNow - 400 * kDay;
    spec.not_after = kNow + 400 * kDay;
    root_ = IssueCertificate(spec, KeyType::kEc384, nullptr).value();
    spec.role = CertRole::kLeaf;
    spec.leaf_usage = LeafUsage::kTimeStamping;
    spec.subject.back().second = "tsa";
    leaf_ = IssueCertificate(spec, KeyType::kEc256, root_.get()).value();
    rsa_leaf_ = IssueCertificate(spec, KeyType::kRsa2048, root_.get()).value();
  }

  base::Bytes Token(const Credential& leaf, const TimestampSpec& spec,
                    base::ByteView message, const EVP_MD* md) {
    auto token =
        IssueTimestampToken({&leaf, {&leaf, root_.get()}}, spec, message, md);
    EXPECT_TRUE(token.ok()) << token.detail();
    return token.ok() ? *token : base::Bytes();
  }

  // OpenSslVerifies checks `token` with OpenSSL's own RFC 3161 verifier:
  // CMS signature, ESS signing certificate, TSA leaf with a critical
  // timeStamping EKU chaining to the root, version and imprint.
  bool OpenSslVerifies(const base::Bytes& token, base::ByteView message,
                       const EVP_MD* md) {
    const unsigned char* p = token.data();
    std::unique_ptr<PKCS7, decltype(&PKCS7_free)> p7(
        d2i_PKCS7(nullptr, &p, static_cast<long>(token.size())), &PKCS7_free);
    if (!p7) {
      return false;
    }
    TS_VERIFY_CTX* ctx = TS_VERIFY_CTX_new();
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, root_->cert.get());
    TS_VERIFY_CTX_set_store(ctx, store);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(message.data(), message.size(), digest, &len, md, nullptr);
    unsigned char* imprint = static_cast<unsigned char*>(OPENSSL_malloc(len));
    memcpy(imprint, digest, len);
    TS_VERIFY_CTX_set_imprint(ctx, imprint, len);
    TS_VERIFY_CTX_set_flags(ctx,
                            TS_VFY_SIGNATURE | TS_VFY_VERSION | TS_VFY_IMPRINT);
    const bool ok = TS_RESP_verify_token(ctx, p7.get()) == 1;
    TS_VERIFY_CTX_free(ctx);  // frees the store and the imprint
    return ok;
  }

  ScopedDeterministicRng rng_;
  std::unique_ptr<Credential> root_;
  std::unique_ptr<Credential> leaf_;
  std::unique_ptr<Credential> rsa_leaf_;
};

TEST_F(TimestampWriter, TokenVerifiesWithOpenSslAndTrustgate) {
  const base::Bytes message = {1, 2, 3, 4, 5};
  TimestampSpec spec;
  spec.gen_time = kNow - 3600;
  spec.gen_time_millis = 250;
  spec.accuracy_seconds = 1;
  spec.serial = 77;
  for (const Credential* leaf : {leaf_.get(), rsa_leaf_.get()}) {
    const base::Bytes token = Token(*leaf, spec, message, EVP_sha384());
    EXPECT_TRUE(OpenSslVerifies(token, message, EVP_sha384()));
    EXPECT_FALSE(OpenSslVerifies(token, base::Bytes{9}, EVP_sha384()));

    auto proof = crypto::VerifyTimestampToken(token, message, Roots(*root_));
    ASSERT_TRUE(proof.ok()) << proof.detail();
    EXPECT_EQ(proof->gen_time, base::TimeFromUnixSeconds(kNow - 3600) +
                                   std::chrono::milliseconds(250));
    EXPECT_EQ(proof->accuracy, std::chrono::seconds(1));
    EXPECT_EQ(proof->policy, kTestTimestampPolicy);
    EXPECT_EQ(proof->serial_hex, "4d");
    ASSERT_EQ(proof->tsa_chain.size(), 2u);
    const base::ByteView chain_leaf = proof->tsa_chain[0]->der();
    EXPECT_EQ(base::Bytes(chain_leaf.begin(), chain_leaf.end()), leaf->der);
  }
}

TEST_F(TimestampWriter, WrongMessageOrRootFails) {
  TimestampSpec spec;
  spec.gen_time = kNow;
  const base::Bytes token =
      Token(*leaf_, spec, base::Bytes{1, 2}, EVP_sha256());
  auto mismatch =
      crypto::VerifyTimestampToken(token, base::Bytes{1, 3}, Roots(*root_));
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.code(), crypto::CryptoError::kTimestampImprintMismatch);
  // Trusting only the leaf's sibling hierarchy: untrusted.
  ReseedRng(8, "other-root");
  CertSpec other;
  other.role = CertRole::kRoot;
  other.subject = {{"C", "US"}, {"O", "Other"}, {"CN", "other root"}};
  other.not_before = kNow - kDay;
  other.not_after = kNow + kDay;
  auto other_root = IssueCertificate(other, KeyType::kEc256, nullptr).value();
  auto untrusted = crypto::VerifyTimestampToken(token, base::Bytes{1, 2},
                                                Roots(*other_root));
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.code(), crypto::CryptoError::kTsaUntrusted);
}

TEST_F(TimestampWriter, AccuracyAndFractionsAreWrittenAsAsked) {
  TimestampSpec spec;
  spec.gen_time = kNow;
  spec.gen_time_millis = 500;
  spec.accuracy_millis = 20;
  spec.accuracy_micros = 5;
  const base::Bytes token = Token(*leaf_, spec, base::Bytes{7}, EVP_sha512());
  auto contents = crypto::VerifyTimestampTokenSignature(token, base::Bytes{7});
  ASSERT_TRUE(contents.ok()) << contents.detail();
  EXPECT_EQ(contents->gen_time,
            base::TimeFromUnixSeconds(kNow) + std::chrono::milliseconds(500));
  EXPECT_EQ(contents->accuracy, std::chrono::microseconds(20005));
  // No accuracy under a non-baseline policy: zero.
  TimestampSpec bare;
  bare.gen_time = kNow;
  auto exact = crypto::VerifyTimestampTokenSignature(
      Token(*leaf_, bare, base::Bytes{7}, EVP_sha256()), base::Bytes{7});
  ASSERT_TRUE(exact.ok()) << exact.detail();
  EXPECT_EQ(exact->accuracy, std::chrono::microseconds(0));
  EXPECT_EQ(exact->earliest, exact->latest);
}

TEST_F(TimestampWriter, DeterministicForTheSameRngState) {
  TimestampSpec spec;
  spec.gen_time = kNow;
  ReseedRng(3, "token");
  const base::Bytes a = Token(*leaf_, spec, base::Bytes{1}, EVP_sha256());
  ReseedRng(3, "token");
  const base::Bytes b = Token(*leaf_, spec, base::Bytes{1}, EVP_sha256());
  EXPECT_EQ(a, b);
  ReseedRng(4, "token");
  EXPECT_NE(a, Token(*leaf_, spec, base::Bytes{1}, EVP_sha256()));
}

TEST_F(TimestampWriter, RefusesBadRequests) {
  TimestampSpec spec;
  spec.gen_time_millis = 1000;
  auto r = IssueTimestampToken({leaf_.get(), {}}, spec, base::Bytes{1},
                               EVP_sha256());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), MkError::kUsage);
  EXPECT_FALSE(
      IssueTimestampToken({nullptr, {}}, {}, base::Bytes{1}, EVP_sha256())
          .ok());
}

TEST(ImprintDigest, FollowsTheSignatureAlgorithm) {
  EXPECT_EQ(EVP_MD_get_type(ImprintDigestFor(KeyType::kEc256)), NID_sha256);
  EXPECT_EQ(EVP_MD_get_type(ImprintDigestFor(KeyType::kRsa2048)), NID_sha256);
  EXPECT_EQ(EVP_MD_get_type(ImprintDigestFor(KeyType::kEc384)), NID_sha384);
  EXPECT_EQ(EVP_MD_get_type(ImprintDigestFor(KeyType::kRsa3072)), NID_sha384);
  EXPECT_EQ(EVP_MD_get_type(ImprintDigestFor(KeyType::kEc521)), NID_sha512);
  EXPECT_EQ(EVP_MD_get_type(ImprintDigestFor(KeyType::kRsa4096)), NID_sha512);
}

}  // namespace
}  // namespace trustgate::mkmirror
