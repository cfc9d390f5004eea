#include "crypto/crl.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "base/time.h"
#include "tests/crypto/test_pki.h"
#include "tests/crypto/test_revocation.h"

namespace trustgate::crypto {
namespace {

using testpki::Built;
using testpki::CertSpec;
using testpki::Key;
using testpki::KeyKind;
using testrev::BuildCrl;
using testrev::CrlEntrySpec;
using testrev::CrlSpec;
using testrev::RawExtension;

constexpr long kLeafSerial = 3;

base::Time T(const char* rfc3339) {
  auto t = base::ParseRfc3339(rfc3339);
  if (!t) {
    ADD_FAILURE() << "bad time " << rfc3339;
    return base::Time{};
  }
  return *t;
}

const base::Time kNow = T("2025-01-01T00:00:00Z");

CrlPtr MustParse(base::ByteView der) {
  auto r = ParseCrl(der);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.detail());
  return r.ok() ? *r : nullptr;
}

// root -> intermediate (issuer, key slot 101) -> leaf (serial 3, with a
// CRL distribution point).
class CrlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = testpki::MakePki(
        KeyKind::kP256, KeyKind::kP256,
        [](CertSpec& leaf) {
          leaf.extra_extensions.push_back(
              testrev::CdpExtension("http://crl.example.com/int.crl"));
        },
        [](CertSpec&) {}, [](CertSpec&) {});
  }

  const Certificate& leaf() const { return *pki_.leaf.cert; }
  const Certificate& issuer() const { return *pki_.intermediate.cert; }
  EVP_PKEY* issuer_key() const { return Key(KeyKind::kP256, 101); }

  CrlSpec Spec() const {
    CrlSpec s;
    s.issuer = pki_.intermediate.x509.get();
    s.key = issuer_key();
    return s;
  }

  CertRevocation Eval(const CrlSpec& spec, base::Time now = kNow,
                      std::optional<base::Time> signing = std::nullopt) {
    CrlPtr crl = MustParse(BuildCrl(spec));
    if (!crl) {
      return {};
    }
    return EvaluateCrl(leaf(), issuer(), *crl, nullptr, now, signing);
  }

  testpki::Pki pki_;
};

CrlEntrySpec Entry(long serial, std::optional<int> reason = std::nullopt,
                   std::string when = "20240601000000Z") {
  CrlEntrySpec e;
  e.serial = serial;
  e.reason = reason;
  e.revocation_time = std::move(when);
  return e;
}

// ---------------------------------------------------------------------------
// Statuses

TEST_F(CrlTest, EmptyCrlIsGood) {
  CertRevocation r = Eval(Spec());
  EXPECT_EQ(r.status, RevocationStatus::kGood) << r.detail;
  EXPECT_EQ(r.method, RevocationMethod::kCrl);
  EXPECT_FALSE(r.code.has_value());
  ASSERT_TRUE(r.next_update.has_value());
  EXPECT_EQ(*r.next_update, T("2099-12-31T00:00:00Z"));
  EXPECT_EQ(*r.this_update, T("2024-01-01T00:00:00Z"));
}

TEST_F(CrlTest, OtherSerialsAreGood) {
  CrlSpec s = Spec();
  s.entries = {Entry(2, 1), Entry(4, 1), Entry(30, 1), Entry(-3, 1)};
  EXPECT_EQ(Eval(s).status, RevocationStatus::kGood);
}

TEST_F(CrlTest, RevokedWithReason) {
  CrlSpec s = Spec();
  s.entries = {Entry(2), Entry(kLeafSerial, 1, "20240601120000Z")};
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kRevoked) << r.detail;
  EXPECT_FALSE(r.code.has_value());
  ASSERT_TRUE(r.reason.has_value());
  EXPECT_EQ(*r.reason, 1);
  ASSERT_TRUE(r.revocation_time.has_value());
  EXPECT_EQ(*r.revocation_time, T("2024-06-01T12:00:00Z"));
  EXPECT_TRUE(r.next_update.has_value());
}

TEST_F(CrlTest, RevokedWithoutReason) {
  CrlSpec s = Spec();
  s.entries = {Entry(kLeafSerial)};
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kRevoked);
  EXPECT_FALSE(r.reason.has_value());
}

TEST_F(CrlTest, UtcTimeRevocationDate) {
  CrlSpec s = Spec();
  s.this_update = "240101000000Z";
  s.next_update = "491231000000Z";
  s.entries = {Entry(kLeafSerial, 1, "240601000000Z")};
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kRevoked);
  EXPECT_EQ(*r.revocation_time, T("2024-06-01T00:00:00Z"));
  EXPECT_EQ(*r.next_update, T("2049-12-31T00:00:00Z"));
}

TEST_F(CrlTest, CertificateHoldIsRevoked) {
  CrlSpec s = Spec();
  s.entries = {Entry(kLeafSerial, kReasonCertificateHold)};
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kRevoked);
  EXPECT_EQ(r.reason, kReasonCertificateHold);
}

TEST_F(CrlTest, LatestTemporaryEntryDecides) {
  // Hold, then removeFromCRL later: released.
  CrlSpec s = Spec();
  s.entries = {Entry(kLeafSerial, kReasonCertificateHold, "20240101000000Z"),
               Entry(kLeafSerial, kReasonRemoveFromCrl, "20240201000000Z")};
  EXPECT_EQ(Eval(s).status, RevocationStatus::kGood);
  // removeFromCRL, then held again later: revoked.
  s.entries = {Entry(kLeafSerial, kReasonRemoveFromCrl, "20240101000000Z"),
               Entry(kLeafSerial, kReasonCertificateHold, "20240201000000Z")};
  EXPECT_EQ(Eval(s).status, RevocationStatus::kRevoked);
  // Same time: the first one stays (notation-core-go uses Before).
  s.entries = {Entry(kLeafSerial, kReasonCertificateHold, "20240101000000Z"),
               Entry(kLeafSerial, kReasonRemoveFromCrl, "20240101000000Z")};
  EXPECT_EQ(Eval(s).status, RevocationStatus::kRevoked);
  // A permanent revocation anywhere wins over a release.
  s.entries = {Entry(kLeafSerial, kReasonRemoveFromCrl, "20240101000000Z"),
               Entry(kLeafSerial, 4, "20230101000000Z")};
  EXPECT_EQ(Eval(s).status, RevocationStatus::kRevoked);
}

TEST_F(CrlTest, InvalidityDateAgainstAuthenticSigningTime) {
  CrlSpec s = Spec();
  CrlEntrySpec e = Entry(kLeafSerial, 1, "20240601000000Z");
  e.invalidity_date = "20240501000000Z";
  s.entries = {e};
  // Signed before the key became invalid: still good for this signature.
  CertRevocation before = Eval(s, kNow, T("2024-04-30T23:59:59Z"));
  EXPECT_EQ(before.status, RevocationStatus::kGood) << before.detail;
  ASSERT_TRUE(before.invalidity_date.has_value());
  EXPECT_EQ(*before.invalidity_date, T("2024-05-01T00:00:00Z"));
  // Signed after (or at) the invalidity date: revoked.
  EXPECT_EQ(Eval(s, kNow, T("2024-05-01T00:00:01Z")).status,
            RevocationStatus::kRevoked);
  EXPECT_EQ(Eval(s, kNow, T("2024-05-01T00:00:00Z")).status,
            RevocationStatus::kRevoked);
  // No authentic signing time (notary.x509): revoked.
  EXPECT_EQ(Eval(s, kNow, std::nullopt).status, RevocationStatus::kRevoked);
  // The revocation date itself is never compared with the signing time.
  CrlSpec no_invalidity = Spec();
  no_invalidity.entries = {Entry(kLeafSerial, 1, "20240601000000Z")};
  EXPECT_EQ(Eval(no_invalidity, kNow, T("2024-01-01T00:00:00Z")).status,
            RevocationStatus::kRevoked);
}

TEST_F(CrlTest, MalformedInvalidityDateIsUnknown) {
  CrlSpec s = Spec();
  CrlEntrySpec e = Entry(kLeafSerial, 1);
  // A UTCTime where a GeneralizedTime is required.
  e.extra_extensions.push_back({"2.5.29.24",
                                false,
                                {0x17, 0x0d, '2', '4', '0', '5', '0', '1', '0',
                                 '0', '0', '0', '0', '0', 'Z'}});
  s.entries = {e};
  CertRevocation r = Eval(s, kNow, T("2024-01-01T00:00:00Z"));
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kMalformed);
}

// ---------------------------------------------------------------------------
// CRL validity

TEST_F(CrlTest, ExpiredCrlIsUnknown) {
  CrlSpec s = Spec();
  s.next_update = "20241231000000Z";
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kRevocationExpired);
  // Even when the certificate is listed.
  s.entries = {Entry(kLeafSerial, 1)};
  EXPECT_EQ(Eval(s).status, RevocationStatus::kUnknown);
  // Exactly at nextUpdate it is still current.
  EXPECT_EQ(Eval(Spec(), T("2099-12-31T00:00:00Z")).status,
            RevocationStatus::kGood);
  EXPECT_EQ(Eval(Spec(), T("2099-12-31T00:00:00.000001Z")).code,
            CryptoError::kRevocationExpired);
}

TEST_F(CrlTest, MissingNextUpdateIsUnknown) {
  CrlSpec s = Spec();
  s.next_update.reset();
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kRevocationExpired);
}

TEST_F(CrlTest, WrongKeyIsUnknown) {
  CrlSpec s = Spec();
  s.key = Key(KeyKind::kP256, 7);
  s.entries = {Entry(kLeafSerial, 1)};
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kBadSignature);
}

TEST_F(CrlTest, SignedByRootInsteadOfIssuerIsUnknown) {
  CrlSpec s = Spec();
  s.issuer = pki_.root.x509.get();
  s.key = Key(KeyKind::kP256, 100);
  EXPECT_EQ(Eval(s).code, CryptoError::kBadSignature);
}

TEST_F(CrlTest, WrongIssuerNameIsUnknown) {
  // Right key, other name: stricter than notation-core-go.
  CrlSpec s = Spec();
  s.issuer_name = {{"C", "US"}, {"O", "Other"}, {"CN", "intermediate"}};
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kRevocationIssuerMismatch);
}

TEST_F(CrlTest, IssuerMustBeAllowedToSignCrls) {
  // An issuer with a key usage but no cRLSign.
  testpki::Pki pki = testpki::MakePki(
      KeyKind::kP256, KeyKind::kP256, [](CertSpec&) {},
      [](CertSpec& inter) { inter.key_usage = "critical,keyCertSign"; },
      [](CertSpec&) {});
  CrlSpec s;
  s.issuer = pki.intermediate.x509.get();
  s.key = Key(KeyKind::kP256, 101);
  CrlPtr crl = MustParse(BuildCrl(s));
  CertRevocation r = EvaluateCrl(*pki.leaf.cert, *pki.intermediate.cert, *crl,
                                 nullptr, kNow, std::nullopt);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kRevocationSignerUnauthorized);

  // A non-CA "issuer".
  CrlSpec by_leaf;
  by_leaf.issuer = pki_.leaf.x509.get();
  by_leaf.key = pki_.leaf_key;
  crl = MustParse(BuildCrl(by_leaf));
  r = EvaluateCrl(leaf(), leaf(), *crl, nullptr, kNow, std::nullopt);
  EXPECT_EQ(r.code, CryptoError::kRevocationSignerUnauthorized);
}

TEST_F(CrlTest, UnknownCriticalCrlExtensionIsUnknown) {
  CrlSpec s = Spec();
  s.extra_extensions = {{"1.2.3.4.5", true, testrev::DerNull()}};
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kUnknownCritical);
  // Non-critical unknown extensions are fine.
  s.extra_extensions = {{"1.2.3.4.5", false, testrev::DerNull()}};
  EXPECT_EQ(Eval(s).status, RevocationStatus::kGood);
  // A critical CRL number is not allowed either (RFC 5280 says
  // non-critical; notation-core-go only allows IDP and delta indicator).
  s.extra_extensions = {{"2.5.29.20", true, {0x02, 0x01, 0x05}}};
  s.number.reset();
  EXPECT_EQ(Eval(s).code, CryptoError::kUnknownCritical);
}

TEST_F(CrlTest, UnknownCriticalEntryExtension) {
  CrlSpec s = Spec();
  CrlEntrySpec mine = Entry(kLeafSerial, 1);
  mine.extra_extensions = {{"1.2.3.4.6", true, testrev::DerNull()}};
  s.entries = {mine};
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kUnknownCritical);
  // On another certificate's entry it does not matter (notation-core-go
  // only reads the matching entries).
  CrlEntrySpec other = Entry(9, 1);
  other.extra_extensions = {{"1.2.3.4.6", true, testrev::DerNull()}};
  s.entries = {other};
  EXPECT_EQ(Eval(s).status, RevocationStatus::kGood);
  // A critical reasonCode is "unsupported" too.
  CrlEntrySpec critical_reason = Entry(kLeafSerial, 1);
  critical_reason.reason_critical = true;
  s.entries = {critical_reason};
  EXPECT_EQ(Eval(s).code, CryptoError::kUnknownCritical);
}

TEST_F(CrlTest, IssuingDistributionPointScope) {
  CrlSpec s = Spec();
  s.idp = "critical,fullname:URI:http://crl.example.com/int.crl";
  EXPECT_EQ(Eval(s).status, RevocationStatus::kGood);
  s.idp = "critical,onlyuser:TRUE";
  EXPECT_EQ(Eval(s).status, RevocationStatus::kGood);
  s.entries = {Entry(kLeafSerial, 1)};
  EXPECT_EQ(Eval(s).status, RevocationStatus::kRevoked);
  s.entries.clear();
  // Stricter than notation-core-go: a CRL that does not cover the
  // certificate cannot say it is good.
  s.idp = "critical,onlyCA:TRUE";
  EXPECT_EQ(Eval(s).code, CryptoError::kCrlScope);
  s.idp = "critical,indirectCRL:TRUE";
  EXPECT_EQ(Eval(s).code, CryptoError::kCrlScope);
  s.idp = "critical,onlysomereasons:keyCompromise";
  EXPECT_EQ(Eval(s).code, CryptoError::kCrlScope);
  s.idp = "critical,onlyAA:TRUE";
  EXPECT_EQ(Eval(s).code, CryptoError::kCrlScope);
  // An issuing distribution point that does not parse (notation-core-go
  // accepts it because it never reads the extension).
  s.idp.clear();
  s.extra_extensions = {{"2.5.29.28", true, {}}};
  EXPECT_EQ(Eval(s).code, CryptoError::kCrlScope);
}

TEST_F(CrlTest, CaCertificateAgainstUserOnlyCrl) {
  // The intermediate checked against a root CRL limited to user certs.
  CrlSpec s;
  s.issuer = pki_.root.x509.get();
  s.key = Key(KeyKind::kP256, 100);
  s.idp = "critical,onlyuser:TRUE";
  CrlPtr crl = MustParse(BuildCrl(s));
  CertRevocation r =
      EvaluateCrl(issuer(), *pki_.root.cert, *crl, nullptr, kNow, std::nullopt);
  EXPECT_EQ(r.code, CryptoError::kCrlScope);
  s.idp = "critical,onlyCA:TRUE";
  crl = MustParse(BuildCrl(s));
  r = EvaluateCrl(issuer(), *pki_.root.cert, *crl, nullptr, kNow, std::nullopt);
  EXPECT_EQ(r.status, RevocationStatus::kGood);
}

// ---------------------------------------------------------------------------
// Signature algorithms

TEST(CrlAlgorithmTest, RsaSha1AndPssAccepted) {
  // Go's CheckSignature accepts SHA-1 for CRLs; RSASSA-PSS with salt =
  // hash length; not other salts.
  testpki::Pki pki = testpki::MakePki(KeyKind::kRsa2048, KeyKind::kRsa2048);
  EVP_PKEY* key = Key(KeyKind::kRsa2048, 101);
  CrlSpec s;
  s.issuer = pki.intermediate.x509.get();
  s.key = key;
  s.digest = "SHA1";
  CrlPtr crl = MustParse(BuildCrl(s));
  EXPECT_EQ(EvaluateCrl(*pki.leaf.cert, *pki.intermediate.cert, *crl, nullptr,
                        kNow, std::nullopt)
                .status,
            RevocationStatus::kGood);

  // PSS: sign the CRL by hand with chosen parameters.
  for (int salt : {32, 20}) {
    X509_CRL* x = X509_CRL_new();
    X509_CRL_set_version(x, 1);
    X509_CRL_set_issuer_name(
        x, X509_get_subject_name(pki.intermediate.x509.get()));
    ASN1_TIME* t = testrev::MakeTime("20240101000000Z");
    X509_CRL_set1_lastUpdate(x, t);
    ASN1_TIME_free(t);
    t = testrev::MakeTime("20991231000000Z");
    X509_CRL_set1_nextUpdate(x, t);
    ASN1_TIME_free(t);
    UniqueEvpMdCtx md(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    ASSERT_EQ(EVP_DigestSignInit_ex(md.get(), &pctx, "SHA256", nullptr, nullptr,
                                    key, nullptr),
              1);
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", nullptr), 1);
    ASSERT_GT(X509_CRL_sign_ctx(x, md.get()), 0);
    base::Bytes der = testrev::CrlToDer(x);
    X509_CRL_free(x);
    CrlPtr pss = MustParse(der);
    ASSERT_TRUE(pss);
    CertRevocation r = EvaluateCrl(*pki.leaf.cert, *pki.intermediate.cert, *pss,
                                   nullptr, kNow, std::nullopt);
    if (salt == 32) {
      EXPECT_EQ(r.status, RevocationStatus::kGood) << r.detail;
    } else {
      EXPECT_EQ(r.code, CryptoError::kBadSignature);
    }
  }
}

TEST(CrlAlgorithmTest, Ed25519Accepted) {
  testpki::Pki pki = testpki::MakePki(
      KeyKind::kP256, KeyKind::kEd25519, [](CertSpec& c) { c.digest = ""; },
      [](CertSpec& c) { c.digest = ""; }, [](CertSpec& c) { c.digest = ""; });
  CrlSpec s;
  s.issuer = pki.intermediate.x509.get();
  s.key = Key(KeyKind::kEd25519, 101);
  s.digest = "";
  s.entries = {Entry(kLeafSerial, 1)};
  CrlPtr crl = MustParse(BuildCrl(s));
  EXPECT_EQ(EvaluateCrl(*pki.leaf.cert, *pki.intermediate.cert, *crl, nullptr,
                        kNow, std::nullopt)
                .status,
            RevocationStatus::kRevoked);
}

TEST_F(CrlTest, VerificationIsMemoisedPerIssuer) {
  CrlPtr crl = MustParse(BuildCrl(Spec()));
  EXPECT_TRUE(crl->VerifiedBy(issuer()));
  EXPECT_FALSE(crl->VerifiedBy(*pki_.root.cert));
  EXPECT_TRUE(crl->VerifiedBy(issuer()));
  EXPECT_FALSE(crl->VerifiedBy(*pki_.root.cert));
  EXPECT_FALSE(crl->VerifiedBy(leaf()));
}

// ---------------------------------------------------------------------------
// Delta CRLs

class DeltaCrlTest : public CrlTest {
 protected:
  CrlSpec Base() const {
    CrlSpec s = Spec();
    s.number = 10;
    s.freshest_urls = {"http://crl.example.com/int-delta.crl"};
    return s;
  }
  CrlSpec Delta() const {
    CrlSpec s = Spec();
    s.number = 11;
    s.delta_base = 10;
    return s;
  }
  CertRevocation EvalPair(const CrlSpec& base, const CrlSpec& delta,
                          std::optional<base::Time> signing = std::nullopt) {
    CrlPtr b = MustParse(BuildCrl(base));
    CrlPtr d = MustParse(BuildCrl(delta));
    if (!b || !d) {
      return {};
    }
    return EvaluateCrl(leaf(), issuer(), *b, d.get(), kNow, signing);
  }
};

TEST_F(DeltaCrlTest, ParsesFields) {
  CrlPtr b = MustParse(BuildCrl(Base()));
  CrlPtr d = MustParse(BuildCrl(Delta()));
  EXPECT_EQ(b->number(), "10");
  EXPECT_FALSE(b->has_delta_indicator());
  ASSERT_EQ(b->freshest_crl_urls().size(), 1u);
  EXPECT_EQ(b->freshest_crl_urls()[0], "http://crl.example.com/int-delta.crl");
  EXPECT_EQ(d->number(), "11");
  EXPECT_TRUE(d->has_delta_indicator());
  EXPECT_EQ(d->delta_base_number(), "10");
}

TEST_F(DeltaCrlTest, GoodWithEmptyDelta) {
  CertRevocation r = EvalPair(Base(), Delta());
  EXPECT_EQ(r.status, RevocationStatus::kGood) << r.detail;
}

TEST_F(DeltaCrlTest, DeltaAddsRevocation) {
  CrlSpec delta = Delta();
  delta.entries = {Entry(kLeafSerial, 1)};
  delta.next_update = "20980101000000Z";
  CertRevocation r = EvalPair(Base(), delta);
  EXPECT_EQ(r.status, RevocationStatus::kRevoked) << r.detail;
  // The result holds until the earlier nextUpdate.
  EXPECT_EQ(*r.next_update, T("2098-01-01T00:00:00Z"));
}

TEST_F(DeltaCrlTest, DeltaReleasesHold) {
  CrlSpec base = Base();
  base.entries = {
      Entry(kLeafSerial, kReasonCertificateHold, "20240101000000Z")};
  CrlSpec delta = Delta();
  delta.entries = {Entry(kLeafSerial, kReasonRemoveFromCrl, "20240301000000Z")};
  EXPECT_EQ(EvalPair(base, delta).status, RevocationStatus::kGood);
  EXPECT_EQ(EvalPair(base, Delta()).status, RevocationStatus::kRevoked);
}

TEST_F(DeltaCrlTest, BaseForOlderDeltaIsAccepted) {
  // Delta built for base number 8, base is number 10: allowed (<=).
  CrlSpec delta = Delta();
  delta.delta_base = 8;
  EXPECT_EQ(EvalPair(Base(), delta).status, RevocationStatus::kGood);
}

TEST_F(DeltaCrlTest, WrongBaseNumberIsUnknown) {
  CrlSpec delta = Delta();
  delta.delta_base = 11;
  delta.number = 12;
  CertRevocation r = EvalPair(Base(), delta);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kDeltaCrlMismatch);
}

TEST_F(DeltaCrlTest, DeltaNumberMustBeGreater) {
  CrlSpec delta = Delta();
  delta.number = 10;
  EXPECT_EQ(EvalPair(Base(), delta).code, CryptoError::kDeltaCrlMismatch);
  delta.number.reset();
  EXPECT_EQ(EvalPair(Base(), delta).code, CryptoError::kDeltaCrlMismatch);
  CrlSpec base = Base();
  base.number.reset();
  EXPECT_EQ(EvalPair(base, Delta()).code, CryptoError::kDeltaCrlMismatch);
}

TEST_F(DeltaCrlTest, DeltaNeedsIndicator) {
  CrlSpec delta = Delta();
  delta.delta_base.reset();
  EXPECT_EQ(EvalPair(Base(), delta).code, CryptoError::kDeltaCrlMismatch);
}

TEST_F(DeltaCrlTest, DeltaIsValidatedLikeTheBase) {
  CrlSpec delta = Delta();
  delta.key = Key(KeyKind::kP256, 8);
  delta.entries = {Entry(kLeafSerial, 1)};
  EXPECT_EQ(EvalPair(Base(), delta).code, CryptoError::kBadSignature);
  delta = Delta();
  delta.next_update = "20241201000000Z";
  EXPECT_EQ(EvalPair(Base(), delta).code, CryptoError::kRevocationExpired);
  delta = Delta();
  delta.next_update.reset();
  EXPECT_EQ(EvalPair(Base(), delta).code, CryptoError::kRevocationExpired);
}

TEST_F(DeltaCrlTest, NamedDeltaMustBeSupplied) {
  CrlPtr b = MustParse(BuildCrl(Base()));
  CertRevocation r =
      EvaluateCrl(leaf(), issuer(), *b, nullptr, kNow, std::nullopt);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kDeltaCrlMismatch);
}

TEST_F(DeltaCrlTest, DeltaAsBaseIsUnknown) {
  CrlPtr d = MustParse(BuildCrl(Delta()));
  CertRevocation r =
      EvaluateCrl(leaf(), issuer(), *d, nullptr, kNow, std::nullopt);
  EXPECT_EQ(r.code, CryptoError::kDeltaCrlMismatch);
}

TEST_F(DeltaCrlTest, FreshestCrlInCertificateNeedsDelta) {
  testpki::Pki pki = testpki::MakePki(
      KeyKind::kP256, KeyKind::kP256,
      [](CertSpec& leaf) {
        leaf.extra_extensions = {
            testrev::CdpExtension("http://crl.example.com/int.crl"),
            testrev::FreshestCrlExtension(
                "http://crl.example.com/int-delta.crl")};
      },
      [](CertSpec&) {}, [](CertSpec&) {});
  EXPECT_TRUE(HasFreshestCrl(*pki.leaf.cert));
  EXPECT_FALSE(HasFreshestCrl(leaf()));
  CrlSpec s;
  s.issuer = pki.intermediate.x509.get();
  s.key = Key(KeyKind::kP256, 101);
  CrlPtr b = MustParse(BuildCrl(s));
  CertRevocation r = EvaluateCrl(*pki.leaf.cert, *pki.intermediate.cert, *b,
                                 nullptr, kNow, std::nullopt);
  EXPECT_EQ(r.code, CryptoError::kDeltaCrlMismatch);
}

// ---------------------------------------------------------------------------
// Parsing

TEST_F(CrlTest, PemCrl) {
  CrlSpec s = Spec();
  s.entries = {Entry(kLeafSerial, 1)};
  const base::Bytes der = BuildCrl(s);
  const std::string pem =
      "junk before\n" +
      testpki::ToPem(pki_.root.x509.get()) +  // another block first
      testrev::CrlToPem(der) + "trailing text\n";
  auto r = ParseCrl(base::AsBytes(pem));
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_TRUE(std::ranges::equal((*r)->der(), der));
  EXPECT_EQ(
      EvaluateCrl(leaf(), issuer(), **r, nullptr, kNow, std::nullopt).status,
      RevocationStatus::kRevoked);
  // The DER-only parser (what Notation downloads) refuses PEM.
  auto der_only = ParseCrlDer(base::AsBytes(pem));
  ASSERT_FALSE(der_only.ok());
  EXPECT_EQ(der_only.code(), CryptoError::kMalformed);
  // A PEM file without a CRL block.
  auto no_crl = ParseCrl(base::AsBytes("-----BEGIN X509 CRL-----\n" +
                                       testpki::ToPem(pki_.root.x509.get())));
  EXPECT_FALSE(no_crl.ok());
}

TEST_F(CrlTest, ParsedFields) {
  CrlSpec s = Spec();
  s.number = 123456789;
  s.entries = {Entry(kLeafSerial, 1), Entry(5, 6)};
  CrlPtr crl = MustParse(BuildCrl(s));
  EXPECT_TRUE(std::ranges::equal(crl->issuer_der(), issuer().subject_der()));
  EXPECT_NE(crl->IssuerString().find("CN=intermediate"), std::string::npos);
  EXPECT_EQ(crl->number(), "123456789");
  EXPECT_EQ(crl->entry_count(), 2u);
  EXPECT_FALSE(crl->has_delta_indicator());
  EXPECT_FALSE(crl->issuing_distribution_point().has_value());
  std::vector<CrlEntry> entries = crl->EntriesFor(leaf());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].reason, 1);
  EXPECT_TRUE(entries[0].has_reason);
}

TEST_F(CrlTest, TrailingBytesAfterTheCrlAreIgnored) {
  base::Bytes der = BuildCrl(Spec());
  const size_t size = der.size();
  der.push_back(0x00);
  der.push_back(0x01);
  auto r = ParseCrlDer(der);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->der().size(), size);
}

TEST_F(CrlTest, MalformedBytes) {
  for (const std::string& junk :
       {std::string(), std::string("\x30"), std::string("\x30\x00", 2),
        std::string("not a crl"), std::string("\x30\x80\x00\x00", 4),
        std::string(
            "-----BEGIN X509 CRL-----\n!!!\n-----END X509 CRL-----\n")}) {
    auto r = ParseCrl(base::AsBytes(junk));
    ASSERT_FALSE(r.ok()) << junk;
    EXPECT_EQ(r.code(), CryptoError::kMalformed);
  }
  // Every truncation fails to parse.
  const base::Bytes der = BuildCrl(Spec());
  for (size_t n = 0; n < der.size(); ++n) {
    EXPECT_FALSE(ParseCrl(base::ByteView(der).first(n)).ok()) << n;
  }
}

TEST_F(CrlTest, NoByteFlipTurnsRevokedIntoGood) {
  CrlSpec s = Spec();
  s.entries = {Entry(kLeafSerial, 1)};
  const base::Bytes der = BuildCrl(s);
  for (size_t i = 0; i < der.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80}) {
      base::Bytes mutated = der;
      mutated[i] ^= mask;
      auto r = ParseCrlDer(mutated);
      if (!r.ok()) {
        continue;
      }
      CertRevocation e =
          EvaluateCrl(leaf(), issuer(), **r, nullptr, kNow, std::nullopt);
      EXPECT_NE(e.status, RevocationStatus::kGood) << "byte " << i;
    }
  }
}

TEST_F(CrlTest, VersionOneCrlIsRefused) {
  // Go's ParseRevocationList requires the v2 version field.
  CrlSpec s = Spec();
  s.version = -1;
  s.number.reset();
  auto r = ParseCrl(BuildCrl(s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), CryptoError::kMalformed);
}

TEST_F(CrlTest, FractionalTimesAreRefused) {
  // crypto/x509 reads CRL times with cryptobyte: no fractional seconds.
  CrlSpec s = Spec();
  s.this_update = "20240101000000.5Z";
  EXPECT_FALSE(ParseCrl(BuildCrl(s)).ok());
}

TEST_F(CrlTest, MalformedReasonCodeIsRefused) {
  // An INTEGER where the reasonCode ENUMERATED belongs, on another entry.
  CrlSpec s = Spec();
  CrlEntrySpec e = Entry(9);
  e.extra_extensions = {{"2.5.29.21", false, {0x02, 0x01, 0x01}}};
  s.entries = {e};
  auto r = ParseCrl(BuildCrl(s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), CryptoError::kMalformed);
}

TEST_F(CrlTest, WideReasonCodeRevokes) {
  // Go reads reasonCode into a 64-bit int: a five-byte value parses and,
  // being neither hold nor removeFromCRL, revokes.
  CrlSpec s = Spec();
  CrlEntrySpec e = Entry(kLeafSerial);
  e.extra_extensions = {
      {"2.5.29.21", false, {0x0a, 0x05, 0x01, 0x00, 0x00, 0x00, 0x06}}};
  s.entries = {e};
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kRevoked);
  EXPECT_EQ(r.reason, -1);
  // Nine bytes do not fit: the CRL does not parse.
  e.extra_extensions = {
      {"2.5.29.21",
       false,
       {0x0a, 0x09, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06}}};
  s.entries = {e};
  EXPECT_FALSE(ParseCrl(BuildCrl(s)).ok());
}

TEST_F(CrlTest, TooLarge) {
  base::Bytes big(kMaxCrlSize, 0x30);
  auto r = ParseCrl(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), CryptoError::kTooLarge);
}

TEST_F(CrlTest, ManyEntriesAndDuplicates) {
  CrlSpec s = Spec();
  for (long i = 1000; i < 3000; ++i) {
    s.entries.push_back(Entry(i, 1));
  }
  s.entries.push_back(
      Entry(kLeafSerial, kReasonCertificateHold, "20240101000000Z"));
  s.entries.push_back(Entry(500, 1));
  s.entries.push_back(
      Entry(kLeafSerial, kReasonRemoveFromCrl, "20240201000000Z"));
  CrlPtr crl = MustParse(BuildCrl(s));
  std::vector<CrlEntry> mine = crl->EntriesFor(leaf());
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_LT(mine[0].index, mine[1].index);
  EXPECT_EQ(
      EvaluateCrl(leaf(), issuer(), *crl, nullptr, kNow, std::nullopt).status,
      RevocationStatus::kGood);
}

TEST_F(CrlTest, ConcurrentEvaluation) {
  CrlSpec s = Spec();
  s.entries = {Entry(kLeafSerial, 1)};
  CrlPtr crl = MustParse(BuildCrl(s));
  std::vector<std::thread> threads;
  std::atomic<int> revoked{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (EvaluateCrl(leaf(), issuer(), *crl, nullptr, kNow, std::nullopt)
                .status == RevocationStatus::kRevoked) {
          ++revoked;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(revoked.load(), 200);
}

// ---------------------------------------------------------------------------
// Certificate extensions, URLs, combining

TEST(CrlDistributionPointsTest, ReadsUrisInOrder) {
  CertSpec spec;
  spec.key = Key(KeyKind::kP256, 1);
  spec.extra_extensions = {
      {NID_crl_distribution_points,
       "URI:ldap://ldap.example.com/cn=crl,URI:http://a.example.com/a.crl,"
       "URI:HTTP://B.example.com/b.crl"}};
  Built b = testpki::Build(spec);
  auto urls = CrlDistributionPoints(*b.cert);
  ASSERT_TRUE(urls.ok());
  ASSERT_EQ(urls->size(), 3u);
  EXPECT_EQ((*urls)[0], "ldap://ldap.example.com/cn=crl");
  EXPECT_EQ((*urls)[1], "http://a.example.com/a.crl");
  EXPECT_EQ((*urls)[2], "HTTP://B.example.com/b.crl");
  EXPECT_FALSE(IsHttpUrl((*urls)[0]));
  EXPECT_TRUE(IsHttpUrl((*urls)[1]));
  EXPECT_TRUE(IsHttpUrl((*urls)[2]));

  spec.extra_extensions.clear();
  Built none = testpki::Build(spec);
  auto empty = CrlDistributionPoints(*none.cert);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(CrlDistributionPointsTest, GoRules) {
  // Two distribution points; in the first the URI follows an email name
  // (Go stops at the first non-URI name); the second has no name.
  // SEQUENCE { DP { [0] { [0] { [1] "a@b", [6] "http://x" } } },
  //            DP { [1] reasons } }
  const base::Bytes value = {0x30, 0x1a,                               //
                             0x30, 0x13, 0xa0, 0x11, 0xa0, 0x0f,       //
                             0x81, 0x03, 'a',  '@',  'b',              //
                             0x86, 0x08, 'h',  't',  't',  'p',  ':',  //
                             '/',  '/',  'x',                          //
                             0x30, 0x03, 0x81, 0x01, 0x00};
  auto urls = internal::UrisFromDistributionPoints(value);
  ASSERT_TRUE(urls.has_value());
  EXPECT_TRUE(urls->empty());
  // nameRelativeToCRLIssuer makes Go fail.
  const base::Bytes relative = {0x30, 0x06, 0x30, 0x04, 0xa0, 0x02, 0xa1, 0x00};
  EXPECT_FALSE(internal::UrisFromDistributionPoints(relative).has_value());
  EXPECT_FALSE(internal::UrisFromDistributionPoints({}).has_value());
}

TEST(IsHttpUrlTest, Cases) {
  EXPECT_TRUE(IsHttpUrl("http://crl.example.com/x.crl"));
  EXPECT_TRUE(IsHttpUrl("Http://crl.example.com/x%20y.crl"));
  EXPECT_FALSE(IsHttpUrl("https://crl.example.com/x.crl"));
  EXPECT_FALSE(IsHttpUrl("ldap://crl.example.com"));
  EXPECT_FALSE(IsHttpUrl("http"));
  EXPECT_FALSE(IsHttpUrl("httpx://a"));
  EXPECT_FALSE(IsHttpUrl("http://a/\nb"));
  EXPECT_FALSE(IsHttpUrl("http://a/%zz"));
  EXPECT_FALSE(IsHttpUrl(""));
}

TEST(CombineCrlResultsTest, FirstNonGoodDecides) {
  CertRevocation good;
  good.status = RevocationStatus::kGood;
  good.method = RevocationMethod::kCrl;
  good.next_update = T("2030-01-01T00:00:00Z");
  CertRevocation good_sooner = good;
  good_sooner.next_update = T("2029-01-01T00:00:00Z");
  CertRevocation revoked;
  revoked.status = RevocationStatus::kRevoked;
  CertRevocation unknown;
  unknown.status = RevocationStatus::kUnknown;
  unknown.code = CryptoError::kRevocationExpired;

  std::vector<CertRevocation> all_good = {good, good_sooner};
  CertRevocation r = CombineCrlResults(all_good);
  EXPECT_EQ(r.status, RevocationStatus::kGood);
  EXPECT_EQ(*r.next_update, T("2029-01-01T00:00:00Z"));

  std::vector<CertRevocation> unknown_first = {good, unknown, revoked};
  EXPECT_EQ(CombineCrlResults(unknown_first).status,
            RevocationStatus::kUnknown);
  std::vector<CertRevocation> revoked_first = {revoked, unknown};
  EXPECT_EQ(CombineCrlResults(revoked_first).status,
            RevocationStatus::kRevoked);
  EXPECT_EQ(CombineCrlResults({}).status, RevocationStatus::kUnknown);
}

TEST(RevocationStatusTest, Names) {
  EXPECT_EQ(ToString(RevocationStatus::kGood), "good");
  EXPECT_EQ(ToString(RevocationStatus::kRevoked), "revoked");
  EXPECT_EQ(ToString(RevocationStatus::kUnknown), "unknown");
  EXPECT_EQ(ToString(RevocationMethod::kCrl), "crl");
  EXPECT_EQ(ToString(RevocationMethod::kOcsp), "ocsp");
  EXPECT_EQ(ToString(CryptoError::kRevocationExpired), "revocation-expired");
  EXPECT_EQ(ToString(CryptoError::kDeltaCrlMismatch), "delta-crl-mismatch");
}

TEST(DerTimeTest, GoFormats) {
  auto parse = [](int type, const char* text, internal::TimeFormat f) {
    ASN1_TIME* t = ASN1_STRING_type_new(type);
    ASN1_STRING_set(t, text, -1);
    auto r = internal::ParseDerTime(t, f);
    ASN1_TIME_free(t);
    return r;
  };
  using internal::TimeFormat;
  EXPECT_EQ(parse(V_ASN1_UTCTIME, "491231235959Z", TimeFormat::kCryptobyte),
            T("2049-12-31T23:59:59Z"));
  EXPECT_EQ(parse(V_ASN1_UTCTIME, "500101000000Z", TimeFormat::kCryptobyte),
            T("1950-01-01T00:00:00Z"));
  EXPECT_EQ(parse(V_ASN1_UTCTIME, "2401010000Z", TimeFormat::kCryptobyte),
            T("2024-01-01T00:00:00Z"));
  EXPECT_EQ(parse(V_ASN1_UTCTIME, "240101000000+0100", TimeFormat::kCryptobyte),
            T("2023-12-31T23:00:00Z"));
  EXPECT_FALSE(
      parse(V_ASN1_UTCTIME, "240101000000+0000", TimeFormat::kCryptobyte));
  EXPECT_FALSE(parse(V_ASN1_UTCTIME, "240230000000Z", TimeFormat::kCryptobyte));
  EXPECT_FALSE(
      parse(V_ASN1_UTCTIME, "240101000000Z", TimeFormat::kAsn1Generalized));
  EXPECT_EQ(parse(V_ASN1_GENERALIZEDTIME, "20240101000000.25Z",
                  TimeFormat::kAsn1Generalized),
            T("2024-01-01T00:00:00.25Z"));
  EXPECT_FALSE(parse(V_ASN1_GENERALIZEDTIME, "20240101000000.250Z",
                     TimeFormat::kAsn1Generalized));
  EXPECT_FALSE(parse(V_ASN1_GENERALIZEDTIME, "20240101000000.25Z",
                     TimeFormat::kCryptobyte));
  EXPECT_FALSE(
      parse(V_ASN1_GENERALIZEDTIME, "202401010000Z", TimeFormat::kCryptobyte));
}

}  // namespace
}  // namespace trustgate::crypto
