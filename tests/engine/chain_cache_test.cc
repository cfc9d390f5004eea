#include "engine/chain_cache.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <thread>

#include "policy/trust_policy.h"
#include "policy/trust_store.h"
#include "tests/crypto/test_pki.h"
#include "tests/support/test_util.h"

namespace trustgate::engine {
namespace {

namespace fs = std::filesystem;
using crypto::testpki::KeyKind;
using crypto::testpki::MakePki;
using crypto::testpki::Pki;
using crypto::testpki::ToPem;

// A policy with one statement trusting ca:acme for `identity`, and the
// trust store holding `pki`'s root.
struct TrustFixture {
  testing::TempDir dir;
  policy::TrustPolicy policy;
  policy::TrustStore store;

  TrustFixture(const Pki& pki, const std::string& identity,
               const std::string& stores = R"("ca:acme")") {
    testing::WriteFile(dir.path() / "x509" / "ca" / "acme" / "root.pem",
                       ToPem(pki.root.x509.get()));
    std::string json = R"({"version": "1.0", "trustPolicies": [{
        "name": "acme", "registryScopes": ["*"],
        "signatureVerification": {"level": "strict"},
        "trustStores": [)" +
                       stores + R"(],
        "trustedIdentities": [")" +
                       identity + R"("]}]})";
    auto parsed = policy::ParseTrustPolicy(base::AsBytes(json));
    EXPECT_TRUE(parsed.ok()) << parsed.detail();
    policy = std::move(parsed).value();
    std::vector<std::string> warnings;
    store = policy::TrustStore::Load(dir.path(), policy, &warnings);
  }
};

std::vector<base::ByteView> Ders(const Pki& pki) {
  return {pki.leaf.cert->der(), pki.intermediate.cert->der(),
          pki.root.cert->der()};
}

TEST(ChainCache, ParsesEachDistinctChainOnce) {
  Pki pki = MakePki(KeyKind::kP256, KeyKind::kP256);
  TrustFixture setup(pki, "*");
  ChainCache cache(setup.policy, setup.store);
  auto first = cache.Facts(Ders(pki));
  ASSERT_TRUE(first.ok()) << first.detail();
  auto second = cache.Facts(Ders(pki));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first.value().get(), second.value().get());
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.hits(), 1u);
  const ChainFacts& facts = *first.value();
  ASSERT_EQ(facts.fingerprints.size(), 3u);
  EXPECT_EQ(facts.fingerprints[0], pki.leaf.cert->Sha256Hex());
  EXPECT_FALSE(facts.structure_error.has_value());
}

TEST(ChainCache, ConcurrentLookupsAgree) {
  Pki pki = MakePki(KeyKind::kP256, KeyKind::kP256);
  TrustFixture setup(pki, "*");
  ChainCache cache(setup.policy, setup.store);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto facts = cache.Facts(Ders(pki));
        if (!facts.ok() ||
            !cache.Outcome(*facts.value(), 0, policy::StoreType::kCa)
                 .authentic) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(cache.hits() + cache.misses(), 1600u);
  EXPECT_LE(cache.misses(), 8u);  // racing first lookups at most
}

TEST(ChainCache, StructuralProblemsAreRecordedNotThrown) {
  Pki pki = MakePki(KeyKind::kP256, KeyKind::kP256);
  TrustFixture setup(pki, "*");
  ChainCache cache(setup.policy, setup.store);
  // Leaf straight to the root: the leaf is not issued by the root.
  auto facts = cache.Facts({pki.leaf.cert->der(), pki.root.cert->der()});
  ASSERT_TRUE(facts.ok());
  ASSERT_TRUE(facts.value()->structure_error.has_value());
  EXPECT_EQ(facts.value()->structure_error->code,
            crypto::CryptoError::kChainBroken);

  base::Bytes garbage = {0x30, 0x03, 0x02, 0x01, 0x01};
  auto bad = cache.Facts({base::ByteView(garbage)});
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(cache.Facts({}).ok());
}

TEST(ChainCache, AuthenticWhenAChainCertificateIsInTheStore) {
  Pki pki = MakePki(KeyKind::kP384, KeyKind::kP384);
  TrustFixture setup(pki, "x509.subject: C=US, ST=WA, O=Notary");
  ChainCache cache(setup.policy, setup.store);
  auto facts = cache.Facts(Ders(pki));
  ASSERT_TRUE(facts.ok());
  TrustOutcome out = cache.Outcome(*facts.value(), 0, policy::StoreType::kCa);
  EXPECT_TRUE(out.authentic);
  EXPECT_EQ(out.trust_store, "ca:acme");
  EXPECT_EQ(out.anchor_sha256, pki.root.cert->Sha256Hex());
  EXPECT_TRUE(out.identity_ok);
}

TEST(ChainCache, AnotherPkisRootIsNotTrusted) {
  Pki trusted = MakePki(KeyKind::kP256, KeyKind::kP256);
  Pki other = MakePki(KeyKind::kP256, KeyKind::kRsa2048);
  TrustFixture setup(trusted, "*");
  ChainCache cache(setup.policy, setup.store);
  auto facts = cache.Facts(Ders(other));
  ASSERT_TRUE(facts.ok());
  TrustOutcome out = cache.Outcome(*facts.value(), 0, policy::StoreType::kCa);
  EXPECT_FALSE(out.authentic);
  EXPECT_EQ(out.authenticity_code, "untrusted-chain");
}

TEST(ChainCache, IdentityIsASubsetMatchOnTheLeaf) {
  Pki pki = MakePki(KeyKind::kP256, KeyKind::kP256);
  TrustFixture mismatch(pki, "x509.subject: C=US, ST=WA, O=Other Corp");
  ChainCache cache(mismatch.policy, mismatch.store);
  auto facts = cache.Facts(Ders(pki));
  ASSERT_TRUE(facts.ok());
  TrustOutcome out = cache.Outcome(*facts.value(), 0, policy::StoreType::kCa);
  EXPECT_TRUE(out.authentic);
  EXPECT_FALSE(out.identity_ok);
  EXPECT_FALSE(out.identity_detail.empty());

  // The root's subject (C=US, ST=WA, O=Notary, CN=root) matches no leaf
  // identity: the match is on the leaf only.
  TrustFixture root_cn(pki, "x509.subject: C=US, ST=WA, O=Notary, CN=root");
  ChainCache cache2(root_cn.policy, root_cn.store);
  auto facts2 = cache2.Facts(Ders(pki));
  EXPECT_FALSE(
      cache2.Outcome(*facts2.value(), 0, policy::StoreType::kCa).identity_ok);
}

TEST(ChainCache, MissingStoreFailsAuthenticity) {
  Pki pki = MakePki(KeyKind::kP256, KeyKind::kP256);
  TrustFixture setup(pki, "*", R"("ca:acme", "ca:absent")");
  ChainCache cache(setup.policy, setup.store);
  auto facts = cache.Facts(Ders(pki));
  TrustOutcome out = cache.Outcome(*facts.value(), 0, policy::StoreType::kCa);
  EXPECT_FALSE(out.authentic);
  EXPECT_EQ(out.authenticity_code, "trust-store-unavailable");
}

TEST(ChainCache, SchemeSelectsTheStoreType) {
  Pki pki = MakePki(KeyKind::kP256, KeyKind::kP256);
  TrustFixture setup(pki, "*");
  ChainCache cache(setup.policy, setup.store);
  auto facts = cache.Facts(Ders(pki));
  TrustOutcome out =
      cache.Outcome(*facts.value(), 0, policy::StoreType::kSigningAuthority);
  EXPECT_FALSE(out.authentic);
  EXPECT_EQ(out.authenticity_code, "no-trusted-certificates");
}

}  // namespace
}  // namespace trustgate::engine
