#include "tools/mkmirror/revocation_writer.h"

#include <gtest/gtest.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "crypto/certificate.h"
#include "crypto/crl.h"
#include "crypto/ocsp.h"
#include "tools/mkmirror/drbg.h"

namespace trustgate::mkmirror {
namespace {

constexpr int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z
constexpr int64_t kDay = 86400;
constexpr std::string_view kBase = "http://127.0.0.1:9";

crypto::CertificatePtr Parse(const Credential& c) {
  auto cert = crypto::Certificate::FromDer(c.der);
  return cert.ok() ? *cert : nullptr;
}

base::Time At(int64_t seconds) { return base::TimeFromUnixSeconds(seconds); }

// A root, an intermediate (the CRL and OCSP issuer), a delegated OCSP
// responder and leaves, deterministic.
class RevocationWriter : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(rng_.ok());
    ReseedRng(11, "revocation-test");
    CertSpec spec;
    spec.role = CertRole::kRoot;
    spec.subject = {{"C", "US"}, {"O", "Test"}, {"CN", "root"}};
    spec.not_before = kNow - 400 * kDay;
    spec.not_after = kNow + 400 * kDay;
    root_ = IssueCertificate(spec, KeyType::kEc384, nullptr).value();
    spec.role = CertRole::kIntermediate;
    spec.subject.back().second = "intermediate";
    ca_ = IssueCertificate(spec, KeyType::kEc256, root_.get()).value();
    spec.role = CertRole::kLeaf;
    spec.leaf_usage = LeafUsage::kOcspSigning;
    spec.subject.back().second = "responder";
    responder_ = IssueCertificate(spec, KeyType::kEc256, ca_.get()).value();
    spec.leaf_usage = LeafUsage::kCodeSigning;
    spec.crl_url = std::string(kBase) + "/ca.crl";
    spec.ocsp_url = std::string(kBase);
    for (int i = 0; i < 4; ++i) {
      spec.subject.back().second = "leaf " + std::to_string(i);
      leaves_.push_back(
          IssueCertificate(spec, KeyType::kEc256, ca_.get()).value());
    }
  }

  CrlSpec Current(int64_t number) const {
    CrlSpec spec;
    spec.this_update = kNow - kDay;
    spec.next_update = kNow + 30 * kDay;
    spec.number = number;
    spec.distribution_point = std::string(kBase) + "/ca.crl";
    return spec;
  }

  crypto::CrlPtr Crl(const CrlSpec& spec, const Credential* signer = nullptr) {
    const Credential& s = signer != nullptr ? *signer : *ca_;
    auto der = BuildCrl(spec, *ca_, s.key.get(), s.type);
    EXPECT_TRUE(der.ok()) << der.detail();
    auto crl = crypto::ParseCrlDer(der.ok() ? *der : base::Bytes{});
    EXPECT_TRUE(crl.ok()) << crl.detail();
    return crl.ok() ? *crl : nullptr;
  }

  crypto::CertRevocation Evaluate(const Credential& leaf,
                                  const crypto::Crl& base,
                                  const crypto::Crl* delta = nullptr,
                                  std::optional<int64_t> signing = {},
                                  int64_t at = kNow) {
    std::optional<base::Time> signing_time;
    if (signing) {
      signing_time = At(*signing);
    }
    return crypto::EvaluateCrl(*Parse(leaf), *Parse(*ca_), base, delta, At(at),
                               signing_time);
  }

  ScopedDeterministicRng rng_;
  std::unique_ptr<Credential> root_;
  std::unique_ptr<Credential> ca_;
  std::unique_ptr<Credential> responder_;
  std::vector<std::unique_ptr<Credential>> leaves_;
};

TEST_F(RevocationWriter, CrlVerifiesWithItsIssuerKeyOnly) {
  CrlSpec spec = Current(5);
  spec.entries.push_back({leaves_[0].get(), kNow - kDay,
                          CrlReason::kKeyCompromise, kNow - 2 * kDay});
  auto der = BuildCrl(spec, *ca_, ca_->key.get(), ca_->type);
  ASSERT_TRUE(der.ok()) << der.detail();
  const unsigned char* p = der->data();
  std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(
      d2i_X509_CRL(nullptr, &p, static_cast<long>(der->size())),
      &X509_CRL_free);
  ASSERT_TRUE(crl);
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca_->cert.get())), 1);
  EXPECT_NE(X509_CRL_verify(crl.get(), X509_get0_pubkey(root_->cert.get())), 1);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()),
                          X509_get_subject_name(ca_->cert.get())),
            0);

  // Signed by another key in the CA's name: OpenSSL and trustgate refuse.
  auto forged_der = BuildCrl(spec, *ca_, root_->key.get(), root_->type);
  ASSERT_TRUE(forged_der.ok());
  p = forged_der->data();
  std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> forged(
      d2i_X509_CRL(nullptr, &p, static_cast<long>(forged_der->size())),
      &X509_CRL_free);
  ASSERT_TRUE(forged);
  EXPECT_NE(X509_CRL_verify(forged.get(), X509_get0_pubkey(ca_->cert.get())),
            1);
  auto forged_crl = crypto::ParseCrlDer(*forged_der);
  ASSERT_TRUE(forged_crl.ok());
  const auto r = Evaluate(*leaves_[1], **forged_crl);
  EXPECT_EQ(r.status, crypto::RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, crypto::CryptoError::kBadSignature);
}

TEST_F(RevocationWriter, CrlFieldsAsSpecified) {
  CrlSpec spec = Current(5);
  spec.freshest_url = std::string(kBase) + "/ca-delta.crl";
  spec.entries.push_back({leaves_[0].get(), kNow - kDay,
                          CrlReason::kKeyCompromise, kNow - 2 * kDay});
  spec.entries.push_back(
      {leaves_[1].get(), kNow - kDay, CrlReason::kCertificateHold, {}});
  spec.entries.push_back({leaves_[2].get(), kNow - kDay, {}, {}});
  crypto::CrlPtr crl = Crl(spec);
  ASSERT_TRUE(crl);
  EXPECT_EQ(crl->this_update(), At(kNow - kDay));
  EXPECT_EQ(crl->next_update(), At(kNow + 30 * kDay));
  EXPECT_EQ(crl->number(), "5");
  EXPECT_FALSE(crl->has_delta_indicator());
  EXPECT_EQ(crl->freshest_crl_urls(),
            std::vector<std::string>{std::string(kBase) + "/ca-delta.crl"});
  ASSERT_TRUE(crl->issuing_distribution_point().has_value());
  EXPECT_TRUE(crl->issuing_distribution_point()->critical);
  EXPECT_FALSE(crl->issuing_distribution_point()->only_user_certs);
  EXPECT_TRUE(crl->unsupported_critical_extension().empty());
  EXPECT_EQ(crl->entry_count(), 3u);

  const auto entries = crl->EntriesFor(*Parse(*leaves_[0]));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].revocation_time, At(kNow - kDay));
  EXPECT_EQ(entries[0].reason, 1);
  EXPECT_EQ(entries[0].invalidity_date, At(kNow - 2 * kDay));
  const auto hold = crl->EntriesFor(*Parse(*leaves_[1]));
  ASSERT_EQ(hold.size(), 1u);
  EXPECT_EQ(hold[0].reason, crypto::kReasonCertificateHold);
  EXPECT_FALSE(hold[0].invalidity_date.has_value());
  const auto bare = crl->EntriesFor(*Parse(*leaves_[2]));
  ASSERT_EQ(bare.size(), 1u);
  EXPECT_FALSE(bare[0].has_reason);
}

TEST_F(RevocationWriter, CrlEvaluations) {
  CrlSpec base_spec = Current(5);
  base_spec.freshest_url = std::string(kBase) + "/ca-delta.crl";
  base_spec.entries.push_back(
      {leaves_[0].get(), kNow - kDay, CrlReason::kKeyCompromise, {}});
  base_spec.entries.push_back(
      {leaves_[1].get(), kNow - kDay, CrlReason::kCertificateHold, {}});
  crypto::CrlPtr base = Crl(base_spec);
  CrlSpec delta_spec = Current(6);
  delta_spec.delta_base = 5;
  delta_spec.entries.push_back({leaves_[2].get(), kNow - kDay,
                                CrlReason::kKeyCompromise, kNow - 3 * kDay});
  crypto::CrlPtr delta = Crl(delta_spec);
  ASSERT_TRUE(base && delta);
  EXPECT_EQ(delta->delta_base_number(), "5");

  using crypto::RevocationStatus;
  EXPECT_EQ(Evaluate(*leaves_[0], *base, delta.get()).status,
            RevocationStatus::kRevoked);
  EXPECT_EQ(Evaluate(*leaves_[1], *base, delta.get()).status,
            RevocationStatus::kRevoked);  // certificateHold
  EXPECT_EQ(Evaluate(*leaves_[2], *base, delta.get()).status,
            RevocationStatus::kRevoked);  // only in the delta
  EXPECT_EQ(Evaluate(*leaves_[3], *base, delta.get()).status,
            RevocationStatus::kGood);
  // The base names a delta: without it, unknown.
  EXPECT_EQ(Evaluate(*leaves_[3], *base).status, RevocationStatus::kUnknown);
  // Invalidity date after the authentic signing time: good for it.
  EXPECT_EQ(Evaluate(*leaves_[2], *base, delta.get(), kNow - 4 * kDay).status,
            RevocationStatus::kGood);
  EXPECT_EQ(Evaluate(*leaves_[2], *base, delta.get(), kNow - 2 * kDay).status,
            RevocationStatus::kRevoked);
  // Past nextUpdate: unknown.
  const auto late =
      Evaluate(*leaves_[3], *base, delta.get(), {}, kNow + 31 * kDay);
  EXPECT_EQ(late.status, RevocationStatus::kUnknown);
  EXPECT_EQ(late.code, crypto::CryptoError::kRevocationExpired);
}

TEST_F(RevocationWriter, OcspResponsesVerifyAndSayWhatWasAsked) {
  OcspResponseSpec spec;
  spec.produced_at = kNow - 3600;
  spec.this_update = kNow - 3600;
  spec.next_update = kNow + 7 * kDay;
  struct Case {
    OcspCertStatus status;
    const Credential* signer;
    crypto::RevocationStatus expected;
  };
  const Case cases[] = {
      {OcspCertStatus::kGood, responder_.get(),
       crypto::RevocationStatus::kGood},
      {OcspCertStatus::kRevoked, ca_.get(), crypto::RevocationStatus::kRevoked},
      {OcspCertStatus::kUnknown, responder_.get(),
       crypto::RevocationStatus::kUnknown},
  };
  for (const Case& c : cases) {
    spec.status = c.status;
    spec.revocation_time = kNow - kDay;
    spec.reason = CrlReason::kKeyCompromise;
    auto der = BuildOcspResponse(spec, *leaves_[0], *ca_, *c.signer);
    ASSERT_TRUE(der.ok()) << der.detail();
    ASSERT_LE(der->size(), crypto::kMaxOcspResponseSize);

    // OpenSSL: the response verifies against the CA hierarchy.
    const unsigned char* p = der->data();
    std::unique_ptr<OCSP_RESPONSE, decltype(&OCSP_RESPONSE_free)> response(
        d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der->size())),
        &OCSP_RESPONSE_free);
    ASSERT_TRUE(response);
    EXPECT_EQ(OCSP_response_status(response.get()),
              OCSP_RESPONSE_STATUS_SUCCESSFUL);
    std::unique_ptr<OCSP_BASICRESP, decltype(&OCSP_BASICRESP_free)> basic(
        OCSP_response_get1_basic(response.get()), &OCSP_BASICRESP_free);
    ASSERT_TRUE(basic);
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, root_->cert.get());
    STACK_OF(X509)* untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, ca_->cert.get());
    EXPECT_EQ(OCSP_basic_verify(basic.get(), untrusted, store, 0), 1);
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    int status = -1;
    int reason = -1;
    ASN1_GENERALIZEDTIME* revoked_at = nullptr;
    ASN1_GENERALIZEDTIME* this_update = nullptr;
    ASN1_GENERALIZEDTIME* next_update = nullptr;
    OCSP_CERTID* id =
        OCSP_cert_to_id(EVP_sha1(), leaves_[0]->cert.get(), ca_->cert.get());
    EXPECT_EQ(OCSP_resp_find_status(basic.get(), id, &status, &reason,
                                    &revoked_at, &this_update, &next_update),
              1);
    OCSP_CERTID_free(id);
    EXPECT_EQ(status, static_cast<int>(c.status));
    EXPECT_EQ(reason, c.status == OcspCertStatus::kRevoked
                          ? OCSP_REVOKED_STATUS_KEYCOMPROMISE
                          : -1);
    ASSERT_NE(next_update, nullptr);
    int days = 0;
    int seconds = 0;
    ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, this_update, next_update), 1);
    EXPECT_EQ(days * kDay + seconds, 7 * kDay + 3600);

    // trustgate's evaluation.
    const auto r = crypto::EvaluateOcspResponse(
        *der, *Parse(*leaves_[0]), *Parse(*ca_), At(kNow), std::nullopt);
    EXPECT_EQ(r.status, c.expected) << r.detail;
    if (c.status == OcspCertStatus::kUnknown) {
      EXPECT_EQ(r.code, crypto::CryptoError::kOcspStatusUnknown);
    }
    // About another certificate: no matching response.
    const auto other = crypto::EvaluateOcspResponse(
        *der, *Parse(*leaves_[1]), *Parse(*ca_), At(kNow), std::nullopt);
    EXPECT_EQ(other.status, crypto::RevocationStatus::kUnknown);
  }
}

TEST_F(RevocationWriter, OcspRequestAndPathAreWhatNotationSends) {
  for (const auto& leaf : leaves_) {
    auto mine = OcspRequestDer(*leaf, *ca_);
    ASSERT_TRUE(mine.ok());
    auto reference = crypto::BuildOcspRequest(*Parse(*leaf), *Parse(*ca_));
    ASSERT_TRUE(reference.ok());
    EXPECT_EQ(*mine, *reference);
    const std::string element = OcspGetPathElement(*mine);
    EXPECT_LT(element.size(), 255u);
    EXPECT_EQ(element.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(crypto::OcspGetUrl(kBase, *mine),
              std::string(kBase) + "/" + element);
    EXPECT_EQ(crypto::OcspGetUrl(std::string(kBase) + "/rev", *mine),
              std::string(kBase) + "/rev/" + element);
  }
  EXPECT_EQ(OcspGetPathElement(base::Bytes{0xfb, 0xff}), "%2B%2F8%3D");
}

}  // namespace
}  // namespace trustgate::mkmirror
