#include "crypto/chain.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/time.h"
#include "tests/crypto/test_pki.h"

namespace trustgate::crypto {
namespace {

using testpki::Build;
using testpki::CertSpec;
using testpki::Key;
using testpki::KeyKind;
using testpki::MakePki;
using testpki::Pki;

using Tweak = std::function<void(CertSpec&)>;
const Tweak kKeep = [](CertSpec&) {};

// Chain builds root -> intermediate -> leaf (P-256 unless given) with the
// tweaks applied and returns the leaf-first chain.
Pki Make(const Tweak& leaf, const Tweak& inter = kKeep,
         const Tweak& root = kKeep, KeyKind leaf_kind = KeyKind::kP256,
         KeyKind ca_kind = KeyKind::kP256) {
  return MakePki(leaf_kind, ca_kind, leaf, inter, root);
}

void ExpectOk(std::span<const CertificatePtr> chain) {
  auto st = ValidateSigningChain(chain);
  EXPECT_TRUE(st.ok()) << ToString(st.ok() ? CryptoError::kMalformed
                                           : st.code())
                       << ": " << (st.ok() ? "" : st.detail());
}

void ExpectCode(std::span<const CertificatePtr> chain, CryptoError code) {
  auto st = ValidateSigningChain(chain);
  ASSERT_FALSE(st.ok()) << "expected " << ToString(code);
  EXPECT_EQ(st.code(), code) << ToString(st.code()) << ": " << st.detail();
}

CertificatePtr SelfSignedLeaf(const Tweak& tweak = kKeep,
                              KeyKind kind = KeyKind::kRsa2048) {
  CertSpec s;
  s.key = Key(kind, 20);
  tweak(s);
  return Build(s).cert;
}

// ---------------------------------------------------------------------------
// Valid chains.

TEST(SigningChain, ValidThreeLevelChains) {
  const std::pair<KeyKind, KeyKind> kKinds[] = {
      {KeyKind::kP256, KeyKind::kP256},
      {KeyKind::kRsa2048, KeyKind::kRsa2048},
      {KeyKind::kP384, KeyKind::kRsa3072},
      {KeyKind::kRsa3072, KeyKind::kP521},
      {KeyKind::kP521, KeyKind::kP384},
      {KeyKind::kRsa4096, KeyKind::kP256}};
  for (const auto& [leaf, ca] : kKinds) {
    Pki pki = MakePki(leaf, ca);
    ExpectOk(pki.Chain());
  }
}

TEST(SigningChain, TwoLevelChain) {
  Pki pki = Make(kKeep);
  CertSpec leaf;
  leaf.key = pki.leaf_key;
  leaf.issuer = pki.root.x509.get();
  leaf.issuer_key = Key(KeyKind::kP256, 100);  // the root's key
  auto direct = Build(leaf);
  std::vector<CertificatePtr> chain = {direct.cert, pki.root.cert};
  ExpectOk(chain);
}

TEST(SigningChain, FourLevelChain) {
  Pki pki = Make(kKeep);
  // root -> intermediate -> second intermediate -> leaf
  CertSpec second = testpki::RootSpec(Key(KeyKind::kP256, 103), "second");
  second.issuer = pki.intermediate.x509.get();
  second.issuer_key = Key(KeyKind::kP256, 101);
  auto sec = Build(second);
  CertSpec leaf;
  leaf.key = pki.leaf_key;
  leaf.issuer = sec.x509.get();
  leaf.issuer_key = Key(KeyKind::kP256, 103);
  auto lf = Build(leaf);
  std::vector<CertificatePtr> chain = {lf.cert, sec.cert, pki.intermediate.cert,
                                       pki.root.cert};
  ExpectOk(chain);
}

TEST(SigningChain, SelfSignedLeafAlone) {
  std::vector<CertificatePtr> chain = {SelfSignedLeaf()};
  ExpectOk(chain);
  // Also with an explicit CA:FALSE and nonRepudiation.
  chain = {SelfSignedLeaf([](CertSpec& s) {
    s.basic_constraints = "critical,CA:FALSE";
    s.key_usage = "critical,digitalSignature,nonRepudiation";
  })};
  ExpectOk(chain);
}

TEST(SigningChain, InteropCertificatesAlone) {
  for (const char* rel :
       {"config/localkeys/e2e.crt", "config/localkeys/expired_e2e.crt",
        "config/localkeys/new_e2e.crt", "config/derived/testcert2.crt",
        "config/derived/testcert3.crt", "config/derived/testcert7.crt",
        "config/derived/testcert11.crt"}) {
    auto bytes = testpki::ReadFile(testpki::SharedDir() +
                                   "/interop/notation-e2e/" + rel);
    ASSERT_TRUE(bytes.has_value()) << rel;
    auto certs = Certificate::FromFileBytes(*bytes);
    ASSERT_TRUE(certs.ok()) << rel;
    ExpectOk(*certs);
  }
}

TEST(SigningChain, TsaRootIsNotASigningLeaf) {
  auto bytes = testpki::ReadFile(testpki::SharedDir() +
                                 "/interop/notation-e2e/config/timestamp/"
                                 "globalsignTSARoot.cer");
  ASSERT_TRUE(bytes.has_value());
  auto certs = Certificate::FromFileBytes(*bytes);
  ASSERT_TRUE(certs.ok());
  ExpectCode(*certs, CryptoError::kLeafIsCa);
}

// Validity is not this function's business.
TEST(SigningChain, ExpiredCertificatesStillPassStructure) {
  Pki pki = Make([](CertSpec& s) {
    s.not_before = "20000101000000Z";
    s.not_after = "20000102000000Z";
  });
  ExpectOk(pki.Chain());
}

// ---------------------------------------------------------------------------
// Structure.

TEST(SigningChain, Empty) {
  ExpectCode({}, CryptoError::kChainEmpty);
  std::vector<CertificatePtr> null_entry = {nullptr};
  ExpectCode(null_entry, CryptoError::kChainEmpty);
}

TEST(SigningChain, SingleCertificateMustBeSelfSigned) {
  Pki pki = Make(kKeep);
  std::vector<CertificatePtr> chain = {pki.leaf.cert};
  ExpectCode(chain, CryptoError::kChainNotSelfSigned);
  // Self-issued but signed by another key.
  chain = {SelfSignedLeaf(
      [](CertSpec& s) { s.issuer_key = Key(KeyKind::kRsa2048, 21); })};
  ExpectCode(chain, CryptoError::kChainNotSelfSigned);
}

TEST(SigningChain, SingleSelfSignedCaRefused) {
  std::vector<CertificatePtr> chain = {SelfSignedLeaf(
      [](CertSpec& s) { s.basic_constraints = "critical,CA:TRUE"; })};
  ExpectCode(chain, CryptoError::kLeafIsCa);
  // A root alone is a CA, not a signing certificate.
  Pki pki = Make(kKeep);
  chain = {pki.root.cert};
  ExpectCode(chain, CryptoError::kLeafIsCa);
}

TEST(SigningChain, WrongOrder) {
  Pki pki = Make(kKeep);
  std::vector<CertificatePtr> reversed = {pki.root.cert, pki.intermediate.cert,
                                          pki.leaf.cert};
  EXPECT_FALSE(ValidateSigningChain(reversed).ok());
  std::vector<CertificatePtr> swapped = {pki.intermediate.cert, pki.leaf.cert,
                                         pki.root.cert};
  ExpectCode(swapped, CryptoError::kChainBroken);
}

TEST(SigningChain, MissingIntermediate) {
  Pki pki = Make(kKeep);
  std::vector<CertificatePtr> chain = {pki.leaf.cert, pki.root.cert};
  ExpectCode(chain, CryptoError::kChainBroken);
}

TEST(SigningChain, MustEndInSelfSignedRoot) {
  Pki pki = Make(kKeep);
  std::vector<CertificatePtr> chain = {pki.leaf.cert, pki.intermediate.cert};
  ExpectCode(chain, CryptoError::kChainNotSelfSigned);
}

TEST(SigningChain, RedundantRootRefused) {
  Pki pki = Make(kKeep);
  std::vector<CertificatePtr> chain = {pki.leaf.cert, pki.intermediate.cert,
                                       pki.root.cert, pki.root.cert};
  ExpectCode(chain, CryptoError::kChainBroken);
}

TEST(SigningChain, ForgedIntermediate) {
  Pki pki = Make(kKeep);
  // Same name as the real intermediate, another key, signed by the root:
  // the leaf's signature does not verify with it.
  CertSpec forged = testpki::RootSpec(Key(KeyKind::kP256, 30), "intermediate");
  forged.issuer = pki.root.x509.get();
  forged.issuer_key = Key(KeyKind::kP256, 100);
  auto f = Build(forged);
  std::vector<CertificatePtr> chain = {pki.leaf.cert, f.cert, pki.root.cert};
  ExpectCode(chain, CryptoError::kChainBroken);
}

TEST(SigningChain, Sha1SignedLeafRefused) {
  // Go's CheckSignature refuses SHA-1, so Notation cannot link this leaf.
  Pki pki = Make([](CertSpec& s) { s.digest = "SHA1"; });
  ExpectCode(pki.Chain(), CryptoError::kChainBroken);
}

TEST(SigningChain, RsaPssSignedChain) {
  Pki ok = Make(
      [](CertSpec& s) {
        s.digest = "SHA256";
        s.pss_salt = 32;
      },
      [](CertSpec& s) {
        s.digest = "SHA384";
        s.pss_salt = 48;
      },
      kKeep, KeyKind::kRsa2048, KeyKind::kRsa2048);
  ExpectOk(ok.Chain());
  Pki bad = Make(
      [](CertSpec& s) {
        s.digest = "SHA256";
        s.pss_salt = 20;
      },
      kKeep, kKeep, KeyKind::kRsa2048, KeyKind::kRsa2048);
  ExpectCode(bad.Chain(), CryptoError::kChainBroken);
}

// ---------------------------------------------------------------------------
// CA certificates.

TEST(SigningChain, IntermediateMustBeCa) {
  ExpectCode(Make(kKeep, [](CertSpec& s) { s.basic_constraints = ""; }).Chain(),
             CryptoError::kCaBasicConstraints);
  ExpectCode(
      Make(kKeep,
           [](CertSpec& s) { s.basic_constraints = "critical,CA:FALSE"; })
          .Chain(),
      CryptoError::kCaBasicConstraints);
  // notation-core-go does not require basicConstraints to be critical.
  ExpectOk(Make(kKeep, [](CertSpec& s) {
             s.basic_constraints = "CA:TRUE";
           }).Chain());
}

TEST(SigningChain, RootMustBeCa) {
  EXPECT_FALSE(
      ValidateSigningChain(
          Make(kKeep, kKeep, [](CertSpec& s) { s.basic_constraints = ""; })
              .Chain())
          .ok());
  ExpectCode(
      Make(kKeep, kKeep,
           [](CertSpec& s) { s.basic_constraints = "critical,CA:FALSE"; })
          .Chain(),
      CryptoError::kCaBasicConstraints);
}

TEST(SigningChain, CaKeyUsage) {
  ExpectCode(Make(kKeep, [](CertSpec& s) { s.key_usage = ""; }).Chain(),
             CryptoError::kCaKeyUsage);
  ExpectCode(
      Make(kKeep, [](CertSpec& s) { s.key_usage = "keyCertSign"; }).Chain(),
      CryptoError::kCaKeyUsage);  // not critical
  ExpectCode(Make(kKeep,
                  [](CertSpec& s) {
                    s.key_usage = "critical,digitalSignature,cRLSign";
                  })
                 .Chain(),
             CryptoError::kCaKeyUsage);
  ExpectCode(
      Make(kKeep, kKeep, [](CertSpec& s) { s.key_usage = "critical,cRLSign"; })
          .Chain(),
      CryptoError::kCaKeyUsage);
  ExpectOk(Make(kKeep, [](CertSpec& s) {
             s.key_usage = "critical,keyCertSign";
           }).Chain());
}

TEST(SigningChain, PathLength) {
  // One intermediate below the root: pathlen 0 on the root is exceeded.
  ExpectCode(Make(kKeep, kKeep,
                  [](CertSpec& s) {
                    s.basic_constraints = "critical,CA:TRUE,pathlen:0";
                  })
                 .Chain(),
             CryptoError::kPathLength);
  ExpectOk(Make(kKeep, kKeep, [](CertSpec& s) {
             s.basic_constraints = "critical,CA:TRUE,pathlen:1";
           }).Chain());
  // pathlen 0 on the intermediate: the leaf directly below is fine.
  ExpectOk(Make(kKeep, [](CertSpec& s) {
             s.basic_constraints = "critical,CA:TRUE,pathlen:0";
           }).Chain());
}

TEST(SigningChain, PathLengthFourLevels) {
  auto build = [](const std::string& root_bc) {
    Pki pki =
        Make(kKeep, kKeep, [&](CertSpec& s) { s.basic_constraints = root_bc; });
    CertSpec second = testpki::RootSpec(Key(KeyKind::kP256, 103), "second");
    second.issuer = pki.intermediate.x509.get();
    second.issuer_key = Key(KeyKind::kP256, 101);
    auto sec = Build(second);
    CertSpec leaf;
    leaf.key = pki.leaf_key;
    leaf.issuer = sec.x509.get();
    leaf.issuer_key = Key(KeyKind::kP256, 103);
    auto lf = Build(leaf);
    return std::vector<CertificatePtr>{lf.cert, sec.cert, pki.intermediate.cert,
                                       pki.root.cert};
  };
  ExpectCode(build("critical,CA:TRUE,pathlen:1"), CryptoError::kPathLength);
  ExpectOk(build("critical,CA:TRUE,pathlen:2"));
  ExpectOk(build("critical,CA:TRUE"));
}

// ---------------------------------------------------------------------------
// The signing (leaf) certificate.

TEST(SigningChain, LeafMustNotBeCa) {
  ExpectCode(Make([](CertSpec& s) {
               s.basic_constraints = "critical,CA:TRUE";
             }).Chain(),
             CryptoError::kLeafIsCa);
  ExpectOk(Make([](CertSpec& s) {
             s.basic_constraints = "critical,CA:FALSE";
           }).Chain());
}

TEST(SigningChain, LeafKeyUsage) {
  const std::pair<const char*, bool> kCases[] = {
      {"", false},                         // absent
      {"digitalSignature", false},         // not critical
      {"critical,nonRepudiation", false},  // no digitalSignature
      {"critical,digitalSignature,keyEncipherment", false},
      {"critical,digitalSignature,dataEncipherment", false},
      {"critical,digitalSignature,keyAgreement", false},
      {"critical,digitalSignature,keyCertSign", false},
      {"critical,digitalSignature,cRLSign", false},
      {"critical,digitalSignature,keyAgreement,encipherOnly", false},
      {"critical,digitalSignature,keyAgreement,decipherOnly", false},
      {"critical,digitalSignature", true},
      {"critical,digitalSignature,nonRepudiation", true},
  };
  for (const auto& [ku, ok] : kCases) {
    SCOPED_TRACE(ku);
    Pki pki = Make([&](CertSpec& s) { s.key_usage = ku; });
    if (ok) {
      ExpectOk(pki.Chain());
    } else {
      ExpectCode(pki.Chain(), CryptoError::kLeafKeyUsage);
    }
    // The same rule applies to a single self-signed certificate.
    std::vector<CertificatePtr> single = {
        SelfSignedLeaf([&](CertSpec& s) { s.key_usage = ku; })};
    if (ok) {
      ExpectOk(single);
    } else {
      ExpectCode(single, CryptoError::kLeafKeyUsage);
    }
  }
}

TEST(SigningChain, LeafExtendedKeyUsage) {
  const std::pair<const char*, bool> kCases[] = {
      {"", true},
      {"codeSigning", true},
      {"critical,codeSigning", true},
      {"anyExtendedKeyUsage", true},
      {"1.3.6.1.4.1.311.10.3.13", true},  // an unknown purpose
      {"codeSigning,1.2.3.4", true},
      {"serverAuth", false},
      {"clientAuth", false},
      {"emailProtection", false},
      {"timeStamping", false},
      {"OCSPSigning", false},
      {"codeSigning,serverAuth", false},
      {"anyExtendedKeyUsage,timeStamping", false},
  };
  for (const auto& [eku, ok] : kCases) {
    SCOPED_TRACE(eku);
    Pki pki = Make([&](CertSpec& s) { s.ext_key_usage = eku; });
    if (ok) {
      ExpectOk(pki.Chain());
    } else {
      ExpectCode(pki.Chain(), CryptoError::kLeafExtendedKeyUsage);
    }
  }
}

TEST(SigningChain, CaExtendedKeyUsageNotChecked) {
  ExpectOk(
      Make(kKeep, [](CertSpec& s) { s.ext_key_usage = "serverAuth"; }).Chain());
}

TEST(SigningChain, LeafKeyOutsideScheme) {
  for (KeyKind kind : {KeyKind::kRsa1024, KeyKind::kRsa2040, KeyKind::kP224,
                       KeyKind::kEd25519}) {
    Pki pki = Make(kKeep, kKeep, kKeep, kind, KeyKind::kP256);
    ExpectCode(pki.Chain(), CryptoError::kUnsupportedKey);
  }
  // CA keys are not restricted to the signing scheme.
  Pki pki = Make(kKeep, kKeep, kKeep, KeyKind::kP256, KeyKind::kRsa1024);
  ExpectOk(pki.Chain());
}

TEST(SigningChain, SharedCertificatesAcrossThreads) {
  // The engine validates cached chains from pool threads.
  Pki good = Make(kKeep, kKeep, kKeep, KeyKind::kRsa2048, KeyKind::kP256);
  Pki bad = Make([](CertSpec& s) { s.ext_key_usage = "serverAuth"; });
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (!ValidateSigningChain(good.Chain()).ok()) {
          ++errors;
        }
        auto st = ValidateSigningChain(bad.Chain());
        if (st.ok() || st.code() != CryptoError::kLeafExtendedKeyUsage) {
          ++errors;
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(errors.load(), 0);
}

// ---------------------------------------------------------------------------
// Validity at a time.

TEST(FirstCertificateInvalidAt, Indexes) {
  Pki pki = Make(
      [](CertSpec& s) {
        s.not_before = "20250101000000Z";
        s.not_after = "20250201000000Z";
      },
      [](CertSpec& s) {
        s.not_before = "20240101000000Z";
        s.not_after = "20250115000000Z";
      },
      [](CertSpec& s) {
        s.not_before = "20200101000000Z";
        s.not_after = "20300101000000Z";
      });
  auto chain = pki.Chain();
  auto at = [](const char* t) { return base::ParseRfc3339(t).value(); };
  EXPECT_EQ(FirstCertificateInvalidAt(chain, at("2025-01-10T00:00:00Z")),
            std::nullopt);
  EXPECT_EQ(FirstCertificateInvalidAt(chain, at("2025-01-01T00:00:00Z")),
            std::nullopt);  // not_before is inclusive
  EXPECT_EQ(FirstCertificateInvalidAt(chain, at("2025-01-15T00:00:00Z")),
            std::nullopt);  // not_after is inclusive
  EXPECT_EQ(FirstCertificateInvalidAt(chain, at("2025-01-20T00:00:00Z")), 1u);
  EXPECT_EQ(FirstCertificateInvalidAt(chain, at("2024-06-01T00:00:00Z")), 0u);
  EXPECT_EQ(FirstCertificateInvalidAt(chain, at("2031-01-01T00:00:00Z")), 0u);
  EXPECT_EQ(FirstCertificateInvalidAt({}, at("2031-01-01T00:00:00Z")),
            std::nullopt);
}

}  // namespace
}  // namespace trustgate::crypto
