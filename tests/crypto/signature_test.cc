#include "crypto/signature.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/crypto/test_pki.h"

namespace trustgate::crypto {
namespace {

using testpki::Key;
using testpki::KeyKind;

constexpr SignatureAlgorithm kAll[] = {
    SignatureAlgorithm::kPs256, SignatureAlgorithm::kPs384,
    SignatureAlgorithm::kPs512, SignatureAlgorithm::kEs256,
    SignatureAlgorithm::kEs384, SignatureAlgorithm::kEs512};

const base::Bytes& Message() {
  static const base::Bytes m = [] {
    std::string s = "eyJhbGciOiJQUzI1NiJ9.eyJ0YXJnZXRBcnRpZmFjdCI6e319";
    return base::Bytes(s.begin(), s.end());
  }();
  return m;
}

TEST(SignatureNames, JwsNamesRoundTrip) {
  for (SignatureAlgorithm a : kAll) {
    auto r = AlgorithmFromJwsName(ToString(a));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, a);
  }
  EXPECT_EQ(ToString(SignatureAlgorithm::kPs256), "PS256");
  EXPECT_EQ(ToString(SignatureAlgorithm::kEs512), "ES512");
}

TEST(SignatureNames, JwsNamesRejected) {
  for (const char* name :
       {"RS256", "HS256", "none", "ps256", "PS256 ", "", "EdDSA", "ES256K"}) {
    auto r = AlgorithmFromJwsName(name);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.code(), CryptoError::kUnsupportedAlgorithm);
  }
}

TEST(SignatureNames, CoseIds) {
  const std::pair<int64_t, SignatureAlgorithm> kIds[] = {
      {-37, SignatureAlgorithm::kPs256}, {-38, SignatureAlgorithm::kPs384},
      {-39, SignatureAlgorithm::kPs512}, {-7, SignatureAlgorithm::kEs256},
      {-35, SignatureAlgorithm::kEs384}, {-36, SignatureAlgorithm::kEs512}};
  for (const auto& [id, alg] : kIds) {
    auto r = AlgorithmFromCoseId(id);
    ASSERT_TRUE(r.ok()) << id;
    EXPECT_EQ(*r, alg);
  }
  for (int64_t id : {0, -8, -257, -258, -259, 7, 37, -47}) {
    auto r = AlgorithmFromCoseId(id);
    ASSERT_FALSE(r.ok()) << id;
    EXPECT_EQ(r.code(), CryptoError::kUnsupportedAlgorithm);
  }
}

TEST(AlgorithmForKey, AllowedKeys) {
  const std::pair<KeyKind, SignatureAlgorithm> kKeys[] = {
      {KeyKind::kRsa2048, SignatureAlgorithm::kPs256},
      {KeyKind::kRsa3072, SignatureAlgorithm::kPs384},
      {KeyKind::kRsa4096, SignatureAlgorithm::kPs512},
      {KeyKind::kP256, SignatureAlgorithm::kEs256},
      {KeyKind::kP384, SignatureAlgorithm::kEs384},
      {KeyKind::kP521, SignatureAlgorithm::kEs512}};
  for (const auto& [kind, alg] : kKeys) {
    auto r = AlgorithmForKey(Key(kind));
    ASSERT_TRUE(r.ok()) << ToString(alg);
    EXPECT_EQ(*r, alg);
  }
}

TEST(AlgorithmForKey, RejectedKeys) {
  for (KeyKind kind : {KeyKind::kRsa1024, KeyKind::kRsa2040, KeyKind::kP224,
                       KeyKind::kSecp256k1, KeyKind::kEd25519}) {
    auto r = AlgorithmForKey(Key(kind));
    ASSERT_FALSE(r.ok()) << static_cast<int>(kind);
    EXPECT_EQ(r.code(), CryptoError::kUnsupportedKey);
  }
  auto none = AlgorithmForKey(nullptr);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.code(), CryptoError::kUnsupportedKey);
}

// notation-core-go sizes RSA keys as the modulus length in bytes times 8
// (rsa.PublicKey.Size() << 3): a 2047-bit modulus is a "2048-bit" key.
TEST(AlgorithmForKey, RsaSizedInWholeBytesLikeGo) {
  auto r = AlgorithmForKey(Key(KeyKind::kRsa2047));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, SignatureAlgorithm::kPs256);
}

TEST(AlgorithmForKey, RsaPssOnlyKeyRejected) {
  UniqueEvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA-PSS", nullptr));
  ASSERT_TRUE(ctx);
  ASSERT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048), 1);
  EVP_PKEY* raw = nullptr;
  ASSERT_EQ(EVP_PKEY_keygen(ctx.get(), &raw), 1);
  UniqueEvpPkey k(raw);
  auto r = AlgorithmForKey(k.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), CryptoError::kUnsupportedKey);
}

class VerifyTest : public ::testing::TestWithParam<SignatureAlgorithm> {
 protected:
  SignatureAlgorithm alg() const { return GetParam(); }
  EVP_PKEY* key() const { return Key(testpki::KeyKindFor(alg())); }
  base::Bytes Sign() const { return testpki::Sign(alg(), key(), Message()); }
  void ExpectBad(base::ByteView msg, base::ByteView sig) const {
    auto st = VerifySignature(alg(), key(), msg, sig);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), CryptoError::kBadSignature);
  }
};

TEST_P(VerifyTest, GoodSignatureVerifies) {
  base::Bytes sig = Sign();
  EXPECT_TRUE(VerifySignature(alg(), key(), Message(), sig).ok());
  EXPECT_TRUE(
      VerifySignature(alg(), key(), Message(), sig, PssSaltLength::kAuto).ok());
}

TEST_P(VerifyTest, EmptyMessage) {
  base::Bytes sig = testpki::Sign(alg(), key(), {});
  EXPECT_TRUE(VerifySignature(alg(), key(), {}, sig).ok());
  ExpectBad(Message(), sig);
}

TEST_P(VerifyTest, TamperedMessageFails) {
  base::Bytes sig = Sign();
  base::Bytes msg = Message();
  msg[3] ^= 0x01;
  ExpectBad(msg, sig);
  msg = Message();
  msg.push_back('x');
  ExpectBad(msg, sig);
}

TEST_P(VerifyTest, TamperedSignatureFails) {
  base::Bytes sig = Sign();
  for (size_t pos : {size_t{0}, sig.size() / 2, sig.size() - 1}) {
    base::Bytes bad = sig;
    bad[pos] ^= 0x80;
    ExpectBad(Message(), bad);
  }
}

TEST_P(VerifyTest, WrongLengthFails) {
  base::Bytes sig = Sign();
  base::Bytes shorter(sig.begin(), sig.end() - 1);
  ExpectBad(Message(), shorter);
  base::Bytes longer = sig;
  longer.push_back(0);
  ExpectBad(Message(), longer);
  base::Bytes leading_zero = sig;
  leading_zero.insert(leading_zero.begin(), 0);
  ExpectBad(Message(), leading_zero);
  ExpectBad(Message(), {});
}

TEST_P(VerifyTest, WrongKeyFails) {
  EVP_PKEY* other = Key(testpki::KeyKindFor(alg()), 1);
  base::Bytes sig = Sign();
  auto st = VerifySignature(alg(), other, Message(), sig);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), CryptoError::kBadSignature);
}

TEST_P(VerifyTest, AlgorithmMustMatchKey) {
  base::Bytes sig = Sign();
  for (SignatureAlgorithm other : kAll) {
    if (other == alg()) {
      continue;
    }
    auto st = VerifySignature(other, key(), Message(), sig);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), CryptoError::kAlgorithmKeyMismatch);
  }
}

TEST_P(VerifyTest, UnsupportedKeyRejected) {
  base::Bytes sig = Sign();
  auto st = VerifySignature(alg(), Key(KeyKind::kRsa1024), Message(), sig);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), CryptoError::kUnsupportedKey);
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, VerifyTest, ::testing::ValuesIn(kAll),
                         [](const auto& param_info) {
                           return std::string(ToString(param_info.param));
                         });

// ECDSA specifics.

TEST(VerifyEcdsa, DerEncodedSignatureRejected) {
  const auto alg = SignatureAlgorithm::kEs256;
  EVP_PKEY* key = Key(KeyKind::kP256);
  base::Bytes der = testpki::SignNative(alg, key, Message());
  auto st = VerifySignature(alg, key, Message(), der);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), CryptoError::kBadSignature);
}

// Go's ecdsa.Verify accepts both s and n - s; so do we.
TEST(VerifyEcdsa, HighSAccepted) {
  for (auto alg : {SignatureAlgorithm::kEs256, SignatureAlgorithm::kEs384,
                   SignatureAlgorithm::kEs512}) {
    EVP_PKEY* key = Key(testpki::KeyKindFor(alg));
    base::Bytes sig = testpki::Sign(alg, key, Message());
    const size_t f = testpki::EcFieldBytes(alg);
    char group[64] = {0};
    size_t glen = 0;
    ASSERT_EQ(EVP_PKEY_get_group_name(key, group, sizeof(group), &glen), 1);
    std::unique_ptr<EC_GROUP, OsslDeleter<EC_GROUP_free>> g(
        EC_GROUP_new_by_curve_name(OBJ_sn2nid(group)));
    ASSERT_TRUE(g);
    UniqueBignum s(BN_bin2bn(sig.data() + f, static_cast<int>(f), nullptr));
    UniqueBignum neg(BN_new());
    ASSERT_EQ(BN_sub(neg.get(), EC_GROUP_get0_order(g.get()), s.get()), 1);
    base::Bytes flipped = sig;
    ASSERT_GE(BN_bn2binpad(neg.get(), flipped.data() + f, static_cast<int>(f)),
              0);
    ASSERT_NE(flipped, sig);
    EXPECT_TRUE(VerifySignature(alg, key, Message(), flipped).ok())
        << ToString(alg);
  }
}

// Patched returns `in` with bytes [from, from + n) set to `v`.
[[gnu::noinline]] base::Bytes Patched(const base::Bytes& in, size_t from,
                                      size_t n, uint8_t v) {
  base::Bytes out = in;
  for (size_t i = from; i < from + n && i < out.size(); ++i) {
    out[i] = v;
  }
  return out;
}

TEST(VerifyEcdsa, ZeroAndOutOfRangeComponentsRejected) {
  const auto alg = SignatureAlgorithm::kEs256;
  EVP_PKEY* key = Key(KeyKind::kP256);
  base::Bytes sig = testpki::Sign(alg, key, Message());
  ASSERT_EQ(sig.size(), 64u);
  base::Bytes zero_r = Patched(sig, 0, 32, 0);
  base::Bytes zero_s = Patched(sig, 32, 32, 0);
  base::Bytes max_r = Patched(sig, 0, 32, 0xff);
  for (const auto& bad : {zero_r, zero_s, max_r, base::Bytes(64, 0)}) {
    auto st = VerifySignature(alg, key, Message(), bad);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), CryptoError::kBadSignature);
  }
}

// RSA-PSS specifics.

TEST(VerifyPss, SaltLengthMustEqualHashLength) {
  const auto alg = SignatureAlgorithm::kPs256;
  EVP_PKEY* key = Key(KeyKind::kRsa2048);
  for (int salt : {0, 20, 31, 33, 64}) {
    base::Bytes sig = testpki::Sign(alg, key, Message(), salt);
    auto st = VerifySignature(alg, key, Message(), sig);
    ASSERT_FALSE(st.ok()) << salt;
    EXPECT_EQ(st.code(), CryptoError::kBadSignature);
    // The lenient mode (golang-jwt's PSSSaltLengthAuto) accepts it.
    EXPECT_TRUE(
        VerifySignature(alg, key, Message(), sig, PssSaltLength::kAuto).ok())
        << salt;
  }
  base::Bytes exact = testpki::Sign(alg, key, Message(), 32);
  EXPECT_TRUE(VerifySignature(alg, key, Message(), exact).ok());
}

TEST(VerifyPss, Pkcs1v15SignatureRejected) {
  const auto alg = SignatureAlgorithm::kPs256;
  EVP_PKEY* key = Key(KeyKind::kRsa2048);
  base::Bytes sig = testpki::SignNative(alg, key, Message(),
                                        RSA_PSS_SALTLEN_DIGEST, /*pkcs1=*/true);
  for (auto salt : {PssSaltLength::kEqualsHash, PssSaltLength::kAuto}) {
    auto st = VerifySignature(alg, key, Message(), sig, salt);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), CryptoError::kBadSignature);
  }
}

TEST(VerifyPss, GoSizedKeyVerifies) {
  EVP_PKEY* key = Key(KeyKind::kRsa2047);
  base::Bytes sig = testpki::Sign(SignatureAlgorithm::kPs256, key, Message());
  EXPECT_TRUE(
      VerifySignature(SignatureAlgorithm::kPs256, key, Message(), sig).ok());
}

TEST(VerifyConcurrency, SharedKeyAcrossThreads) {
  struct Case {
    SignatureAlgorithm alg;
    base::Bytes good;
    base::Bytes bad;
  };
  std::vector<Case> cases;
  for (auto alg : {SignatureAlgorithm::kPs256, SignatureAlgorithm::kEs256,
                   SignatureAlgorithm::kEs384}) {
    Case c{
        alg, testpki::Sign(alg, Key(testpki::KeyKindFor(alg)), Message()), {}};
    c.bad = c.good;
    c.bad[5] ^= 1;
    cases.push_back(std::move(c));
  }
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        for (const Case& c : cases) {
          EVP_PKEY* k = Key(testpki::KeyKindFor(c.alg));
          if (!VerifySignature(c.alg, k, Message(), c.good).ok()) {
            ++errors;
          }
          if (VerifySignature(c.alg, k, Message(), c.bad).ok()) {
            ++errors;
          }
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(errors.load(), 0);
}

}  // namespace
}  // namespace trustgate::crypto
