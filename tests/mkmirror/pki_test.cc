#include "tools/mkmirror/pki.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tools/mkmirror/drbg.h"

namespace trustgate::mkmirror {
namespace {

constexpr int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z
constexpr int64_t kDay = 86400;

DistinguishedName Dn(const std::string& cn) {
  return {{"C", "US"}, {"ST", "WA"}, {"O", "Acme Corp"}, {"CN", cn}};
}

struct Chain {
  std::unique_ptr<Credential> root, intermediate, leaf;
};

Chain MakeChain(KeyType leaf_type, LeafUsage usage = LeafUsage::kCodeSigning,
                uint64_t seed = 1) {
  EXPECT_TRUE(InstallDeterministicRng());
  Chain c;
  CertSpec spec;
  spec.subject = Dn("root");
  spec.not_before = kNow - 365 * kDay;
  spec.not_after = kNow + 20 * 365 * kDay;
  spec.role = CertRole::kRoot;
  ReseedRng(seed, "root");
  auto root = IssueCertificate(spec, KeyType::kEc256, nullptr);
  EXPECT_TRUE(root.ok());
  c.root = std::move(root).value();
  spec.subject = Dn("intermediate");
  spec.role = CertRole::kIntermediate;
  ReseedRng(seed, "intermediate");
  auto inter = IssueCertificate(spec, KeyType::kEc384, c.root.get());
  EXPECT_TRUE(inter.ok());
  c.intermediate = std::move(inter).value();
  spec.subject = Dn("leaf");
  spec.role = CertRole::kLeaf;
  spec.not_before = kNow - kDay;
  spec.not_after = kNow + 10 * 365 * kDay;
  spec.leaf_usage = usage;
  ReseedRng(seed, "leaf");
  auto leaf = IssueCertificate(spec, leaf_type, c.intermediate.get());
  EXPECT_TRUE(leaf.ok());
  c.leaf = std::move(leaf).value();
  return c;
}

// Verifies leaf -> intermediate -> root with OpenSSL at `at`.
int VerifyAt(const Chain& c, int64_t at) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, c.root->cert.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  sk_X509_push(untrusted, c.intermediate->cert.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, c.leaf->cert.get(), untrusted);
  X509_STORE_CTX_set_time(ctx, 0, static_cast<time_t>(at));
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
  const int ok = X509_verify_cert(ctx);
  const int err = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  X509_STORE_free(store);
  return err;
}

TEST(Pki, KeyTypeNames) {
  EXPECT_EQ(KeyTypeFromName("ec384"), KeyType::kEc384);
  EXPECT_EQ(KeyTypeFromName("rsa4096"), KeyType::kRsa4096);
  EXPECT_EQ(KeyTypeFromName("rsa1024"), std::nullopt);  // not a CLI choice
  EXPECT_EQ(KeyTypeFromName("dsa"), std::nullopt);
  EXPECT_EQ(ToString(KeyType::kEc521), "ec521");
  EXPECT_TRUE(IsRsa(KeyType::kRsa2048));
  EXPECT_FALSE(IsRsa(KeyType::kEc256));
}

TEST(Pki, FormatDn) {
  EXPECT_EQ(FormatDn(Dn("x")), "C=US, ST=WA, O=Acme Corp, CN=x");
}

TEST(Pki, ChainVerifiesWithinValidityOnly) {
  Chain c = MakeChain(KeyType::kEc256);
  EXPECT_EQ(VerifyAt(c, kNow), X509_V_OK);
  EXPECT_EQ(VerifyAt(c, kNow - 2 * kDay), X509_V_ERR_CERT_NOT_YET_VALID);
  EXPECT_EQ(VerifyAt(c, kNow + 11 * 365 * kDay), X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST(Pki, Extensions) {
  Chain c = MakeChain(KeyType::kEc256);
  // RFC 5280 §4.2.1.9 / §4.2.1.3.
  EXPECT_EQ(X509_check_ca(c.root->cert.get()), 1);
  EXPECT_EQ(X509_check_ca(c.intermediate->cert.get()), 1);
  EXPECT_EQ(X509_check_ca(c.leaf->cert.get()), 0);
  EXPECT_EQ(X509_get_key_usage(c.root->cert.get()),
            static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(X509_get_key_usage(c.leaf->cert.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(c.leaf->cert.get()),
            static_cast<uint32_t>(XKU_CODE_SIGN));
  EXPECT_EQ(X509_get_pathlen(c.intermediate->cert.get()), 0);
  // Key usage is critical on the leaf.
  int crit = -1;
  void* ku =
      X509_get_ext_d2i(c.leaf->cert.get(), NID_key_usage, &crit, nullptr);
  EXPECT_EQ(crit, 1);
  ASN1_BIT_STRING_free(static_cast<ASN1_BIT_STRING*>(ku));
  EXPECT_EQ(c.leaf->sha256_hex.size(), 64u);
  EXPECT_EQ(c.leaf->type, KeyType::kEc256);
}

TEST(Pki, BadLeafUsage) {
  Chain c = MakeChain(KeyType::kEc256, LeafUsage::kCertSignOnly);
  EXPECT_EQ(X509_get_key_usage(c.leaf->cert.get()),
            static_cast<uint32_t>(KU_KEY_CERT_SIGN));
}

TEST(Pki, KeySizes) {
  ASSERT_TRUE(InstallDeterministicRng());
  ReseedRng(1, "sizes");
  for (auto [type, bits] :
       std::vector<std::pair<KeyType, int>>{{KeyType::kEc256, 256},
                                            {KeyType::kEc384, 384},
                                            {KeyType::kEc521, 521},
                                            {KeyType::kRsa1024, 1024},
                                            {KeyType::kRsa2048, 2048}}) {
    auto key = GenerateKey(type);
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(EVP_PKEY_get_bits(key->get()), bits) << ToString(type);
  }
}

TEST(Pki, ReproducibleForSameSeed) {
  Chain a = MakeChain(KeyType::kEc256, LeafUsage::kCodeSigning, 9);
  Chain b = MakeChain(KeyType::kEc256, LeafUsage::kCodeSigning, 9);
  Chain other = MakeChain(KeyType::kEc256, LeafUsage::kCodeSigning, 10);
  EXPECT_EQ(a.leaf->der, b.leaf->der);
  EXPECT_EQ(a.root->der, b.root->der);
  EXPECT_NE(a.leaf->der, other.leaf->der);
}

TEST(Pki, Pem) {
  Chain c = MakeChain(KeyType::kEc256);
  const std::string pem = ToPem(*c.root);
  EXPECT_EQ(pem.rfind("-----BEGIN CERTIFICATE-----\n", 0), 0u);
}

}  // namespace
}  // namespace trustgate::mkmirror
