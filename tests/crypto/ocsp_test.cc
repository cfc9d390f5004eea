#include "crypto/ocsp.h"

#include <gtest/gtest.h>
#include <openssl/ocsp.h>

#include <algorithm>
#include <string>
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
using testrev::BuildOcspResponse;
using testrev::OcspCertStatus;
using testrev::OcspSpec;

base::Time T(const char* rfc3339) {
  auto t = base::ParseRfc3339(rfc3339);
  if (!t) {
    ADD_FAILURE() << "bad time " << rfc3339;
    return base::Time{};
  }
  return *t;
}

const base::Time kNow = T("2025-01-01T00:00:00Z");

// root -> intermediate (issuer, key slot 101) -> leaf (serial 3, with an
// OCSP responder), plus a delegated responder issued by the intermediate.
class OcspTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = testpki::MakePki(
        KeyKind::kP256, KeyKind::kP256,
        [](CertSpec& leaf) {
          leaf.extra_extensions.push_back(
              testrev::OcspAiaExtension("http://ocsp.example.com"));
        },
        [](CertSpec&) {}, [](CertSpec&) {});
    responder_ = Responder("OCSPSigning", issuer_x509(), issuer_key());
  }

  Built Responder(const std::string& eku, const X509* by, EVP_PKEY* by_key,
                  long serial = 40) {
    CertSpec spec;
    spec.subject = {{"C", "US"}, {"O", "Notary"}, {"CN", "ocsp responder"}};
    spec.key = Key(KeyKind::kP256, 40);
    spec.issuer = by;
    spec.issuer_key = by_key;
    spec.ext_key_usage = eku;
    spec.serial = serial;
    return testpki::Build(spec);
  }

  const Certificate& leaf() const { return *pki_.leaf.cert; }
  const Certificate& issuer() const { return *pki_.intermediate.cert; }
  const X509* issuer_x509() const { return pki_.intermediate.x509.get(); }
  EVP_PKEY* issuer_key() const { return Key(KeyKind::kP256, 101); }

  // Signed by the issuer itself, no certificates.
  OcspSpec Spec() const {
    OcspSpec s;
    s.cert = pki_.leaf.x509.get();
    s.issuer = issuer_x509();
    s.signer_cert = issuer_x509();
    s.signer_key = issuer_key();
    s.include_signer_cert = false;
    return s;
  }

  OcspSpec DelegatedSpec() const {
    OcspSpec s = Spec();
    s.signer_cert = responder_.x509.get();
    s.signer_key = Key(KeyKind::kP256, 40);
    s.include_signer_cert = true;
    return s;
  }

  CertRevocation Eval(const OcspSpec& spec, base::Time now = kNow,
                      std::optional<base::Time> signing = std::nullopt) {
    return EvaluateOcspResponse(BuildOcspResponse(spec), leaf(), issuer(), now,
                                signing);
  }

  testpki::Pki pki_;
  Built responder_;
};

// ---------------------------------------------------------------------------
// Statuses

TEST_F(OcspTest, GoodSignedByIssuer) {
  CertRevocation r = Eval(Spec());
  EXPECT_EQ(r.status, RevocationStatus::kGood) << r.detail;
  EXPECT_EQ(r.method, RevocationMethod::kOcsp);
  EXPECT_FALSE(r.code.has_value());
  EXPECT_EQ(*r.this_update, T("2024-01-01T00:00:00Z"));
  EXPECT_EQ(*r.next_update, T("2099-12-31T00:00:00Z"));
  EXPECT_TRUE(IsConclusiveOcspResult(r));
}

TEST_F(OcspTest, Revoked) {
  OcspSpec s = Spec();
  s.status = OcspCertStatus::kRevoked;
  s.revocation_time = "20240601000000Z";
  s.reason = 1;
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kRevoked) << r.detail;
  EXPECT_EQ(*r.revocation_time, T("2024-06-01T00:00:00Z"));
  EXPECT_EQ(r.reason, 1);
  EXPECT_TRUE(IsConclusiveOcspResult(r));
  s.reason = -1;
  r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kRevoked);
  EXPECT_FALSE(r.reason.has_value());
}

TEST_F(OcspTest, UnknownStatus) {
  OcspSpec s = Spec();
  s.status = OcspCertStatus::kUnknown;
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kOcspStatusUnknown);
  // The responder answered: Notation asks no further responder (but falls
  // back to CRLs).
  EXPECT_TRUE(IsConclusiveOcspResult(r));
}

TEST_F(OcspTest, InvalidityDateAgainstAuthenticSigningTime) {
  OcspSpec s = Spec();
  s.status = OcspCertStatus::kRevoked;
  s.revocation_time = "20240601000000Z";
  s.invalidity_date = "20240501000000Z";
  CertRevocation r = Eval(s, kNow, T("2024-04-01T00:00:00Z"));
  EXPECT_EQ(r.status, RevocationStatus::kGood) << r.detail;
  EXPECT_EQ(*r.invalidity_date, T("2024-05-01T00:00:00Z"));
  EXPECT_EQ(Eval(s, kNow, T("2024-05-02T00:00:00Z")).status,
            RevocationStatus::kRevoked);
  EXPECT_EQ(Eval(s, kNow, std::nullopt).status, RevocationStatus::kRevoked);
  // Only the invalidity date counts, never the revocation time.
  s.invalidity_date.reset();
  EXPECT_EQ(Eval(s, kNow, T("2024-01-01T00:00:00Z")).status,
            RevocationStatus::kRevoked);
}

// ---------------------------------------------------------------------------
// Signers

TEST_F(OcspTest, DelegatedResponderWithEku) {
  CertRevocation r = Eval(DelegatedSpec());
  EXPECT_EQ(r.status, RevocationStatus::kGood) << r.detail;
  OcspSpec by_key = DelegatedSpec();
  by_key.responder_id_by_key = true;
  by_key.status = OcspCertStatus::kRevoked;
  EXPECT_EQ(Eval(by_key).status, RevocationStatus::kRevoked);
}

TEST_F(OcspTest, DelegatedResponderWithoutEkuIsUnknown) {
  Built no_eku = Responder("codeSigning", issuer_x509(), issuer_key());
  OcspSpec s = DelegatedSpec();
  s.signer_cert = no_eku.x509.get();
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kRevocationSignerUnauthorized);
  Built none = Responder("", issuer_x509(), issuer_key());
  s.signer_cert = none.x509.get();
  EXPECT_EQ(Eval(s).code, CryptoError::kRevocationSignerUnauthorized);
}

TEST_F(OcspTest, ResponderFromAnotherCaIsUnknown) {
  // Issued by the root, not by the leaf's issuer.
  Built other =
      Responder("OCSPSigning", pki_.root.x509.get(), Key(KeyKind::kP256, 100));
  OcspSpec s = DelegatedSpec();
  s.signer_cert = other.x509.get();
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kRevocationSignerUnauthorized);
}

TEST_F(OcspTest, ResponseNotSignedByTheResponderKey) {
  OcspSpec s = DelegatedSpec();
  s.signer_key = Key(KeyKind::kP256, 41);
  EXPECT_EQ(Eval(s).code, CryptoError::kBadSignature);
}

TEST_F(OcspTest, DelegatedResponderCertificateOmitted) {
  // Without the certificate the response must verify with the issuer key.
  OcspSpec s = DelegatedSpec();
  s.include_signer_cert = false;
  EXPECT_EQ(Eval(s).code, CryptoError::kBadSignature);
}

TEST_F(OcspTest, WrongKeyIsUnknown) {
  OcspSpec s = Spec();
  s.signer_key = Key(KeyKind::kP256, 9);
  s.status = OcspCertStatus::kRevoked;
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kBadSignature);
}

TEST_F(OcspTest, IssuerCertificateIncluded) {
  // x/crypto checks the included certificate's own signature with the
  // issuer key: that fails for an intermediate issuer (its certificate is
  // signed by the root), so Notation cannot use such a response.
  OcspSpec s = Spec();
  s.include_signer_cert = true;
  EXPECT_EQ(Eval(s).code, CryptoError::kRevocationSignerUnauthorized);
  // For a certificate issued by a self-signed root it works.
  OcspSpec by_root;
  by_root.cert = pki_.intermediate.x509.get();
  by_root.issuer = pki_.root.x509.get();
  by_root.signer_cert = pki_.root.x509.get();
  by_root.signer_key = Key(KeyKind::kP256, 100);
  CertRevocation r = EvaluateOcspResponse(BuildOcspResponse(by_root), issuer(),
                                          *pki_.root.cert, kNow, std::nullopt);
  EXPECT_EQ(r.status, RevocationStatus::kGood) << r.detail;
}

TEST(OcspAlgorithmTest, RsaSignatures) {
  testpki::Pki pki = testpki::MakePki(KeyKind::kRsa2048, KeyKind::kRsa2048);
  OcspSpec s;
  s.cert = pki.leaf.x509.get();
  s.issuer = pki.intermediate.x509.get();
  s.signer_cert = pki.intermediate.x509.get();
  s.signer_key = Key(KeyKind::kRsa2048, 101);
  s.include_signer_cert = false;
  for (const char* digest : {"SHA1", "SHA256", "SHA512"}) {
    s.digest = digest;
    EXPECT_EQ(EvaluateOcspResponse(BuildOcspResponse(s), *pki.leaf.cert,
                                   *pki.intermediate.cert, kNow, std::nullopt)
                  .status,
              RevocationStatus::kGood)
        << digest;
  }
  // golang.org/x/crypto/ocsp has no RSASSA-PSS: such a response cannot be
  // verified.
  OCSP_BASICRESP* bs = OCSP_BASICRESP_new();
  OCSP_CERTID* id = testrev::CertId("SHA1", s.cert, s.issuer);
  ASN1_TIME* now = testrev::MakeTime("20240101000000Z");
  ASN1_TIME* next = testrev::MakeTime("20991231000000Z");
  ASSERT_NE(OCSP_basic_add1_status(bs, id, V_OCSP_CERTSTATUS_GOOD, 0, nullptr,
                                   now, next),
            nullptr);
  UniqueEvpMdCtx md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  ASSERT_EQ(EVP_DigestSignInit_ex(md.get(), &pctx, "SHA256", nullptr, nullptr,
                                  s.signer_key, nullptr),
            1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
  ASSERT_EQ(OCSP_basic_sign_ctx(bs, const_cast<X509*>(s.signer_cert), md.get(),
                                nullptr, OCSP_NOCERTS),
            1);
  OCSP_RESPONSE* resp =
      OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
  unsigned char* der = nullptr;
  const int len = i2d_OCSP_RESPONSE(resp, &der);
  ASSERT_GT(len, 0);
  base::Bytes bytes(der, der + len);
  OPENSSL_free(der);
  OCSP_RESPONSE_free(resp);
  OCSP_BASICRESP_free(bs);
  OCSP_CERTID_free(id);
  ASN1_TIME_free(now);
  ASN1_TIME_free(next);
  EXPECT_EQ(EvaluateOcspResponse(bytes, *pki.leaf.cert, *pki.intermediate.cert,
                                 kNow, std::nullopt)
                .code,
            CryptoError::kBadSignature);
}

// ---------------------------------------------------------------------------
// Freshness, matching, structure

TEST_F(OcspTest, StaleResponseIsUnknown) {
  OcspSpec s = Spec();
  s.next_update = "20241231000000Z";
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kRevocationExpired);
  EXPECT_FALSE(IsConclusiveOcspResult(r));
  s.status = OcspCertStatus::kRevoked;
  EXPECT_EQ(Eval(s).code, CryptoError::kRevocationExpired);
  // At nextUpdate exactly it is still current.
  EXPECT_EQ(Eval(Spec(), T("2099-12-31T00:00:00Z")).status,
            RevocationStatus::kGood);
}

TEST_F(OcspTest, NoNextUpdateIsUnknown) {
  OcspSpec s = Spec();
  s.next_update.reset();
  EXPECT_EQ(Eval(s).code, CryptoError::kRevocationExpired);
}

TEST_F(OcspTest, FutureThisUpdateIsNotChecked) {
  // Notation never compares thisUpdate with the current time.
  OcspSpec s = Spec();
  s.this_update = "20260101000000Z";
  EXPECT_EQ(Eval(s).status, RevocationStatus::kGood);
}

TEST_F(OcspTest, CertIdForAnotherCertificate) {
  CertSpec other_spec;
  other_spec.key = Key(KeyKind::kP256, 50);
  other_spec.issuer = issuer_x509();
  other_spec.issuer_key = issuer_key();
  other_spec.serial = 77;
  Built other = testpki::Build(other_spec);
  OcspSpec s = Spec();
  s.cert = other.x509.get();
  CertRevocation r = Eval(s);
  EXPECT_EQ(r.status, RevocationStatus::kUnknown);
  EXPECT_EQ(r.code, CryptoError::kOcspNoMatchingResponse);
  EXPECT_FALSE(IsConclusiveOcspResult(r));
  // Several responses: the matching one is used.
  s = Spec();
  s.status = OcspCertStatus::kRevoked;
  s.extra_cert_before = other.x509.get();
  EXPECT_EQ(Eval(s).status, RevocationStatus::kRevoked);
}

TEST_F(OcspTest, CertIdWithSameSerialOtherIssuer) {
  // Same serial number, issuer hashes of another CA: stricter than
  // x/crypto, which matches on the serial number alone.
  OcspSpec s = Spec();
  s.issuer = pki_.root.x509.get();
  EXPECT_EQ(Eval(s).code, CryptoError::kOcspNoMatchingResponse);
  // x/crypto takes the first SingleResponse with the serial number; when
  // that one names another issuer we do not look further.
  s = Spec();
  s.status = OcspCertStatus::kRevoked;
  s.extra_cert_before = pki_.leaf.x509.get();
  s.extra_issuer_before = pki_.root.x509.get();
  EXPECT_EQ(Eval(s).code, CryptoError::kOcspNoMatchingResponse);
}

TEST_F(OcspTest, Sha256CertId) {
  OcspSpec s = Spec();
  s.certid_digest = "SHA256";
  EXPECT_EQ(Eval(s).status, RevocationStatus::kGood);
  s.certid_digest = "SHA512";
  EXPECT_EQ(Eval(s).status, RevocationStatus::kGood);
  s.certid_digest = "SHA224";  // not in x/crypto's table
  EXPECT_EQ(Eval(s).code, CryptoError::kOcspNoMatchingResponse);
}

TEST_F(OcspTest, CriticalSingleExtensionIsUnknown) {
  OcspSpec s = Spec();
  s.single_extensions = {{"1.2.3.4.7", true, testrev::DerNull()}};
  EXPECT_EQ(Eval(s).code, CryptoError::kUnknownCritical);
  s.single_extensions = {{"1.2.3.4.7", false, testrev::DerNull()}};
  EXPECT_EQ(Eval(s).status, RevocationStatus::kGood);
}

TEST_F(OcspTest, ErrorResponseStatus) {
  for (int status :
       {OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, OCSP_RESPONSE_STATUS_TRYLATER,
        OCSP_RESPONSE_STATUS_UNAUTHORIZED, OCSP_RESPONSE_STATUS_INTERNALERROR,
        OCSP_RESPONSE_STATUS_SIGREQUIRED}) {
    OcspSpec s = Spec();
    s.response_status = status;
    CertRevocation r = Eval(s);
    EXPECT_EQ(r.status, RevocationStatus::kUnknown);
    EXPECT_EQ(r.code, CryptoError::kOcspResponseStatus) << status;
    EXPECT_FALSE(IsConclusiveOcspResult(r));
  }
}

TEST_F(OcspTest, MalformedBytes) {
  for (const std::string& junk :
       {std::string(), std::string("\x30"),
        std::string("\x30\x03\x0a\x01\x00", 5), std::string("garbage")}) {
    CertRevocation r = EvaluateOcspResponse(base::AsBytes(junk), leaf(),
                                            issuer(), kNow, std::nullopt);
    EXPECT_EQ(r.status, RevocationStatus::kUnknown) << junk;
    EXPECT_EQ(r.code, CryptoError::kMalformed) << junk;
  }
  const base::Bytes der = BuildOcspResponse(Spec());
  for (size_t n = 0; n < der.size(); ++n) {
    CertRevocation r = EvaluateOcspResponse(
        base::ByteView(der).first(n), leaf(), issuer(), kNow, std::nullopt);
    EXPECT_EQ(r.status, RevocationStatus::kUnknown) << n;
  }
  base::Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_EQ(
      EvaluateOcspResponse(trailing, leaf(), issuer(), kNow, std::nullopt).code,
      CryptoError::kMalformed);
}

TEST_F(OcspTest, NoByteFlipTurnsRevokedIntoGood) {
  OcspSpec s = DelegatedSpec();
  s.status = OcspCertStatus::kRevoked;
  const base::Bytes der = BuildOcspResponse(s);
  for (size_t i = 0; i < der.size(); ++i) {
    base::Bytes mutated = der;
    mutated[i] ^= 0x01;
    CertRevocation r =
        EvaluateOcspResponse(mutated, leaf(), issuer(), kNow, std::nullopt);
    EXPECT_NE(r.status, RevocationStatus::kGood) << "byte " << i;
  }
}

TEST_F(OcspTest, TooLarge) {
  base::Bytes big(kMaxOcspResponseSize + 1, 0x30);
  EXPECT_EQ(
      EvaluateOcspResponse(big, leaf(), issuer(), kNow, std::nullopt).code,
      CryptoError::kTooLarge);
}

// ---------------------------------------------------------------------------
// Requests, responders, combining

TEST_F(OcspTest, RequestParsesBackAsGoBuildsIt) {
  auto req = BuildOcspRequest(leaf(), issuer());
  ASSERT_TRUE(req.ok()) << req.detail();
  const unsigned char* p = req->data();
  std::unique_ptr<OCSP_REQUEST, OsslDeleter<OCSP_REQUEST_free>> parsed(
      d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(req->size())));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(p, req->data() + req->size());
  EXPECT_EQ(OCSP_request_onereq_count(parsed.get()), 1);
  EXPECT_EQ(OCSP_request_is_signed(parsed.get()), 0);
  EXPECT_EQ(OCSP_REQUEST_get_ext_count(parsed.get()), 0);
  OCSP_CERTID* id =
      OCSP_onereq_get0_id(OCSP_request_onereq_get0(parsed.get(), 0));
  ASN1_OCTET_STRING* name_hash = nullptr;
  ASN1_OBJECT* md = nullptr;
  ASN1_OCTET_STRING* key_hash = nullptr;
  ASN1_INTEGER* serial = nullptr;
  ASSERT_EQ(OCSP_id_get0_info(&name_hash, &md, &key_hash, &serial, id), 1);
  EXPECT_EQ(OBJ_obj2nid(md), NID_sha1);
  EXPECT_EQ(ASN1_INTEGER_get(serial), 3);

  auto sha1 = [](base::ByteView data) {
    base::Bytes out(20);
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha1(), nullptr);
    return out;
  };
  const base::Bytes want_name = sha1(issuer().subject_der());
  const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(issuer().x509());
  const base::Bytes want_key =
      sha1(base::ByteView(ASN1_STRING_get0_data(bits),
                          static_cast<size_t>(ASN1_STRING_length(bits))));
  EXPECT_TRUE(std::ranges::equal(
      base::ByteView(ASN1_STRING_get0_data(name_hash), 20), want_name));
  EXPECT_TRUE(std::ranges::equal(
      base::ByteView(ASN1_STRING_get0_data(key_hash), 20), want_key));

  // Go's encoding: no version, AlgorithmIdentifier sha1 with NULL, nothing
  // else: OCSPRequest{TBSRequest{requestList{Request{CertID}}}}.
  const base::Bytes alg_id = {0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                              0x03, 0x02, 0x1a, 0x05, 0x00};
  ASSERT_GE(req->size(), 10u + alg_id.size());
  EXPECT_TRUE(std::ranges::equal(
      base::ByteView(*req).subspan(10, alg_id.size()), alg_id));
  for (size_t i = 0; i < 10; i += 2) {
    EXPECT_EQ((*req)[i], 0x30) << i;  // five nested SEQUENCEs, short lengths
  }
  EXPECT_EQ((*req)[1] + 2u, req->size());
}

TEST(OcspRespondersTest, ReadsOcspUrisInOrder) {
  CertSpec spec;
  spec.key = Key(KeyKind::kP256, 1);
  spec.extra_extensions = {{NID_info_access,
                            "caIssuers;URI:http://ca.example.com/ca.cer,"
                            "OCSP;URI:ldap://ocsp.example.com,"
                            "OCSP;URI:http://ocsp1.example.com,"
                            "OCSP;email:ocsp@example.com,"
                            "OCSP;URI:http://ocsp2.example.com/path"}};
  Built b = testpki::Build(spec);
  auto urls = OcspResponders(*b.cert);
  ASSERT_TRUE(urls.ok());
  ASSERT_EQ(urls->size(), 3u);
  EXPECT_EQ((*urls)[0], "ldap://ocsp.example.com");
  EXPECT_EQ((*urls)[1], "http://ocsp1.example.com");
  EXPECT_EQ((*urls)[2], "http://ocsp2.example.com/path");
  spec.extra_extensions.clear();
  Built none = testpki::Build(spec);
  auto empty = OcspResponders(*none.cert);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_F(OcspTest, GetUrl) {
  auto req = BuildOcspRequest(leaf(), issuer());
  ASSERT_TRUE(req.ok());
  // Expected: standard base64 with '+', '/', '=' query-escaped.
  std::string b64(4 * ((req->size() + 2) / 3) + 1, '\0');
  b64.resize(static_cast<size_t>(
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), req->data(),
                      static_cast<int>(req->size()))));
  std::string escaped;
  for (char c : b64) {
    escaped += c == '+'   ? "%2B"
               : c == '/' ? "%2F"
               : c == '=' ? "%3D"
                          : std::string(1, c);
  }
  EXPECT_EQ(OcspGetUrl("http://ocsp.example.com", *req),
            "http://ocsp.example.com/" + escaped);
  EXPECT_EQ(OcspGetUrl("http://ocsp.example.com/", *req),
            "http://ocsp.example.com/" + escaped);
  EXPECT_EQ(OcspGetUrl("http://ocsp.example.com/a//b/../c/?x=1", *req),
            "http://ocsp.example.com/a/c/" + escaped + "?x=1");
  // A long request is POSTed.
  base::Bytes big(200, 0xff);
  EXPECT_FALSE(OcspGetUrl("http://ocsp.example.com", big).has_value());
}

TEST(CombineOcspResultsTest, NotationOrder) {
  CertRevocation failed;
  failed.status = RevocationStatus::kUnknown;
  failed.code = CryptoError::kBadSignature;
  CertRevocation stale = failed;
  stale.code = CryptoError::kRevocationExpired;
  CertRevocation good;
  good.status = RevocationStatus::kGood;
  CertRevocation said_unknown = failed;
  said_unknown.code = CryptoError::kOcspStatusUnknown;
  CertRevocation revoked;
  revoked.status = RevocationStatus::kRevoked;

  std::vector<CertRevocation> v = {failed, good, revoked};
  EXPECT_EQ(CombineOcspResults(v).status, RevocationStatus::kGood);
  v = {said_unknown, good};
  EXPECT_EQ(CombineOcspResults(v).code, CryptoError::kOcspStatusUnknown);
  v = {failed, stale};
  EXPECT_EQ(CombineOcspResults(v).code, CryptoError::kRevocationExpired);
  v = {revoked};
  EXPECT_EQ(CombineOcspResults(v).status, RevocationStatus::kRevoked);
  EXPECT_EQ(CombineOcspResults({}).status, RevocationStatus::kUnknown);
}

}  // namespace
}  // namespace trustgate::crypto
