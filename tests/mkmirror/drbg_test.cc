#include "tools/mkmirror/drbg.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <vector>

namespace trustgate::mkmirror {
namespace {

base::Bytes Draw(size_t n) {
  base::Bytes out(n);
  RngBytes(out.data(), out.size());
  return out;
}

base::Bytes PublicKeyDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  base::Bytes out(der, der + (len > 0 ? len : 0));
  OPENSSL_free(der);
  return out;
}

TEST(Drbg, SameSeedAndLabelSameBytes) {
  ReseedRng(7, "label");
  const base::Bytes a = Draw(100);
  ReseedRng(7, "label");
  const base::Bytes b = Draw(100);
  EXPECT_EQ(a, b);
}

TEST(Drbg, SeedOrLabelChangesBytes) {
  ReseedRng(7, "label");
  const base::Bytes a = Draw(32);
  ReseedRng(8, "label");
  const base::Bytes b = Draw(32);
  ReseedRng(7, "label2");
  const base::Bytes c = Draw(32);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
}

TEST(Drbg, ChunkingDoesNotMatter) {
  ReseedRng(3, "x");
  const base::Bytes whole = Draw(70);
  ReseedRng(3, "x");
  base::Bytes parts = Draw(5);
  for (size_t n : {31, 1, 33}) {
    base::Bytes more = Draw(n);
    parts.insert(parts.end(), more.begin(), more.end());
  }
  EXPECT_EQ(whole, parts);
}

TEST(Drbg, OpenSslDrawsFromIt) {
  ASSERT_TRUE(InstallDeterministicRng());
  ReseedRng(11, "openssl");
  uint8_t a[48];
  ASSERT_EQ(RAND_bytes(a, sizeof(a)), 1);
  ReseedRng(11, "openssl");
  uint8_t b[48];
  ASSERT_EQ(RAND_priv_bytes(b, sizeof(b)), 1);
  EXPECT_EQ(base::Bytes(a, a + 48), base::Bytes(b, b + 48));
}

// The point of the DRBG: provider key generation is reproducible.
TEST(Drbg, KeyGenerationIsReproducible) {
  ASSERT_TRUE(InstallDeterministicRng());
  for (int round = 0; round < 2; ++round) {
    ReseedRng(5, "ec");
    EVP_PKEY* ec1 = EVP_EC_gen("P-256");
    ReseedRng(5, "ec");
    EVP_PKEY* ec2 = EVP_EC_gen("P-256");
    ReseedRng(6, "ec");
    EVP_PKEY* ec3 = EVP_EC_gen("P-256");
    ASSERT_NE(ec1, nullptr);
    EXPECT_EQ(PublicKeyDer(ec1), PublicKeyDer(ec2));
    EXPECT_NE(PublicKeyDer(ec1), PublicKeyDer(ec3));
    EVP_PKEY_free(ec1);
    EVP_PKEY_free(ec2);
    EVP_PKEY_free(ec3);
  }
  ReseedRng(5, "rsa");
  EVP_PKEY* rsa1 = EVP_RSA_gen(1024);
  ReseedRng(5, "rsa");
  EVP_PKEY* rsa2 = EVP_RSA_gen(1024);
  ASSERT_NE(rsa1, nullptr);
  EXPECT_EQ(PublicKeyDer(rsa1), PublicKeyDer(rsa2));
  EVP_PKEY_free(rsa1);
  EVP_PKEY_free(rsa2);
}

TEST(Drbg, ScopedInstallRestoresOpenSslRng) {
  RestoreDefaultRng();
  ASSERT_FALSE(DeterministicRngInstalled());
  {
    ScopedDeterministicRng scoped;
    ASSERT_TRUE(scoped.ok());
    EXPECT_TRUE(DeterministicRngInstalled());
  }
  EXPECT_FALSE(DeterministicRngInstalled());
  // Back on OpenSSL's RNG, a reseed no longer makes draws repeat.
  ReseedRng(1, "x");
  uint8_t a[32];
  ASSERT_EQ(RAND_bytes(a, sizeof(a)), 1);
  ReseedRng(1, "x");
  uint8_t b[32];
  ASSERT_EQ(RAND_bytes(b, sizeof(b)), 1);
  EXPECT_NE(base::Bytes(a, a + 32), base::Bytes(b, b + 32));
}

TEST(FastStream, DeterministicAndDistinctPerStream) {
  std::vector<uint8_t> a(1000), b(1000), c(1000);
  FastStream(1, 2).Fill(a.data(), a.size());
  FastStream(1, 2).Fill(b.data(), b.size());
  FastStream(1, 3).Fill(c.data(), c.size());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<uint8_t> odd(13);
  FastStream(1, 2).Fill(odd.data(), odd.size());
  EXPECT_TRUE(std::equal(odd.begin(), odd.end(), a.begin()));
}

}  // namespace
}  // namespace trustgate::mkmirror
