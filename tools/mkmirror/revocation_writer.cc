#include "tools/mkmirror/revocation_writer.h"

#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

namespace trustgate::mkmirror {
namespace {

using UniqueX509Crl =
    std::unique_ptr<X509_CRL, crypto::OsslDeleter<X509_CRL_free>>;
using UniqueX509Revoked =
    std::unique_ptr<X509_REVOKED, crypto::OsslDeleter<X509_REVOKED_free>>;
using UniqueX509Extension =
    std::unique_ptr<X509_EXTENSION, crypto::OsslDeleter<X509_EXTENSION_free>>;
using UniqueAsn1Integer =
    std::unique_ptr<ASN1_INTEGER, crypto::OsslDeleter<ASN1_INTEGER_free>>;
using UniqueAsn1Enumerated =
    std::unique_ptr<ASN1_ENUMERATED, crypto::OsslDeleter<ASN1_ENUMERATED_free>>;
using UniqueAsn1Time =
    std::unique_ptr<ASN1_TIME, crypto::OsslDeleter<ASN1_TIME_free>>;
using UniqueGeneralizedTime =
    std::unique_ptr<ASN1_GENERALIZEDTIME,
                    crypto::OsslDeleter<ASN1_GENERALIZEDTIME_free>>;
using UniqueOcspBasic =
    std::unique_ptr<OCSP_BASICRESP, crypto::OsslDeleter<OCSP_BASICRESP_free>>;
using UniqueOcspResponse =
    std::unique_ptr<OCSP_RESPONSE, crypto::OsslDeleter<OCSP_RESPONSE_free>>;
using UniqueOcspRequest =
    std::unique_ptr<OCSP_REQUEST, crypto::OsslDeleter<OCSP_REQUEST_free>>;
using UniqueOcspCertId =
    std::unique_ptr<OCSP_CERTID, crypto::OsslDeleter<OCSP_CERTID_free>>;

base::Error<MkError> CryptoFailure(const std::string& what) {
  return base::MakeError(MkError::kCrypto, "OpenSSL failed: " + what);
}

// Time: RFC 5280 §5.1.2.4-6 (UTCTime through 2049, GeneralizedTime after).
UniqueAsn1Time Time(int64_t seconds) {
  return UniqueAsn1Time(ASN1_TIME_set(nullptr, static_cast<time_t>(seconds)));
}

UniqueGeneralizedTime Generalized(int64_t seconds) {
  return UniqueGeneralizedTime(
      ASN1_GENERALIZEDTIME_set(nullptr, static_cast<time_t>(seconds)));
}

UniqueAsn1Integer Integer(int64_t v) {
  UniqueAsn1Integer i(ASN1_INTEGER_new());
  if (i && ASN1_INTEGER_set_int64(i.get(), v) != 1) {
    i.reset();
  }
  return i;
}

template <typename T>
base::Bytes ToDer(const T* object, int (*encode)(const T*, unsigned char**)) {
  unsigned char* der = nullptr;
  const int len = encode(object, &der);
  if (len <= 0) {
    return {};
  }
  base::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

bool AddConfExtension(X509_CRL* crl, X509V3_CTX* ctx, int nid,
                      const std::string& value) {
  UniqueX509Extension ext(
      X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  return ext != nullptr && X509_CRL_add_ext(crl, ext.get(), -1) == 1;
}

base::Status<MkError> AddEntry(X509_CRL* crl, const RevokedEntry& e) {
  if (e.cert == nullptr) {
    return base::MakeError(MkError::kUsage, "CRL entry without certificate");
  }
  UniqueX509Revoked revoked(X509_REVOKED_new());
  UniqueAsn1Integer serial(
      ASN1_INTEGER_dup(X509_get0_serialNumber(e.cert->cert.get())));
  UniqueAsn1Time when = Time(e.revocation_time);
  if (!revoked || !serial || !when ||
      X509_REVOKED_set_serialNumber(revoked.get(), serial.get()) != 1 ||
      X509_REVOKED_set_revocationDate(revoked.get(), when.get()) != 1) {
    return CryptoFailure("CRL entry");
  }
  if (e.reason) {
    // RFC 5280 §5.3.1: reasonCode ::= ENUMERATED, non-critical.
    UniqueAsn1Enumerated reason(ASN1_ENUMERATED_new());
    if (!reason ||
        ASN1_ENUMERATED_set(reason.get(), static_cast<long>(*e.reason)) != 1 ||
        X509_REVOKED_add1_ext_i2d(revoked.get(), NID_crl_reason, reason.get(),
                                  0, 0) != 1) {
      return CryptoFailure("CRL entry reason");
    }
  }
  if (e.invalidity_date) {
    // RFC 5280 §5.3.2: invalidityDate ::= GeneralizedTime, non-critical.
    UniqueGeneralizedTime date = Generalized(*e.invalidity_date);
    if (!date || X509_REVOKED_add1_ext_i2d(revoked.get(), NID_invalidity_date,
                                           date.get(), 0, 0) != 1) {
      return CryptoFailure("CRL entry invalidity date");
    }
  }
  if (X509_CRL_add0_revoked(crl, revoked.get()) != 1) {
    return CryptoFailure("CRL entry");
  }
  static_cast<void>(revoked.release());
  return base::Ok{};
}

OCSP_CERTID* CertId(const Credential& cert, const Credential& issuer) {
  // RFC 6960 §4.1.1 CertID; SHA-1 as Notation's requests use it.
  return OCSP_cert_to_id(EVP_sha1(), cert.cert.get(), issuer.cert.get());
}

int OcspReason(std::optional<CrlReason> reason) {
  return reason ? static_cast<int>(*reason) : OCSP_REVOKED_STATUS_NOSTATUS;
}

}  // namespace

base::Result<base::Bytes, MkError> BuildCrl(const CrlSpec& spec,
                                            const Credential& issuer,
                                            EVP_PKEY* signing_key,
                                            KeyType signing_type) {
  UniqueX509Crl crl(X509_CRL_new());
  UniqueAsn1Time this_update = Time(spec.this_update);
  // RFC 5280 §5.1.2.1: v2 (extensions are used).
  if (!crl || !this_update ||
      X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(),
                               X509_get_subject_name(issuer.cert.get())) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1) {
    return CryptoFailure("CRL header");
  }
  if (spec.next_update) {
    UniqueAsn1Time next_update = Time(*spec.next_update);
    if (!next_update ||
        X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1) {
      return CryptoFailure("CRL nextUpdate");
    }
  }
  for (const RevokedEntry& e : spec.entries) {
    TG_RETURN_IF_ERROR(AddEntry(crl.get(), e));
  }

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer.cert.get(), nullptr, nullptr, crl.get(), 0);
  // RFC 5280 §5.2.1: authorityKeyIdentifier (keyIdentifier of the issuer).
  if (!AddConfExtension(crl.get(), &ctx, NID_authority_key_identifier,
                        "keyid:always")) {
    return CryptoFailure("CRL authority key identifier");
  }
  // §5.2.3: cRLNumber, non-critical.
  UniqueAsn1Integer number = Integer(spec.number);
  if (!number || X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(),
                                       0, 0) != 1) {
    return CryptoFailure("CRL number");
  }
  if (spec.delta_base) {
    // §5.2.4: deltaCRLIndicator, critical, BaseCRLNumber.
    UniqueAsn1Integer base_number = Integer(*spec.delta_base);
    if (!base_number || X509_CRL_add1_ext_i2d(crl.get(), NID_delta_crl,
                                              base_number.get(), 1, 0) != 1) {
      return CryptoFailure("delta CRL indicator");
    }
  }
  if (!spec.distribution_point.empty() &&
      !AddConfExtension(crl.get(), &ctx, NID_issuing_distribution_point,
                        "critical,fullname:URI:" + spec.distribution_point)) {
    // §5.2.5: issuingDistributionPoint, critical.
    return CryptoFailure("issuing distribution point");
  }
  if (!spec.freshest_url.empty() &&
      !AddConfExtension(crl.get(), &ctx, NID_freshest_crl,
                        "URI:" + spec.freshest_url)) {
    // §5.2.6: freshestCRL, non-critical, CRLDistributionPoints syntax.
    return CryptoFailure("freshest CRL");
  }
  if (X509_CRL_sort(crl.get()) != 1 ||
      X509_CRL_sign(crl.get(), signing_key, SignatureDigestFor(signing_type)) <=
          0) {
    return CryptoFailure("CRL signature");
  }
  base::Bytes der = ToDer<X509_CRL>(crl.get(), &i2d_X509_CRL);
  if (der.empty()) {
    return CryptoFailure("CRL encoding");
  }
  return der;
}

base::Result<base::Bytes, MkError> BuildOcspResponse(
    const OcspResponseSpec& spec, const Credential& cert,
    const Credential& issuer, const Credential& responder) {
  UniqueOcspBasic basic(OCSP_BASICRESP_new());
  UniqueOcspCertId id(CertId(cert, issuer));
  UniqueGeneralizedTime this_update = Generalized(spec.this_update);
  UniqueGeneralizedTime next_update;
  UniqueGeneralizedTime revoked_at;
  if (!basic || !id || !this_update) {
    return CryptoFailure("OCSP response");
  }
  if (spec.next_update) {
    next_update = Generalized(*spec.next_update);
  }
  int status = V_OCSP_CERTSTATUS_GOOD;
  int reason = OCSP_REVOKED_STATUS_NOSTATUS;
  if (spec.status == OcspCertStatus::kRevoked) {
    status = V_OCSP_CERTSTATUS_REVOKED;
    reason = OcspReason(spec.reason);
    revoked_at = Generalized(spec.revocation_time);
  } else if (spec.status == OcspCertStatus::kUnknown) {
    status = V_OCSP_CERTSTATUS_UNKNOWN;
  }
  // RFC 6960 §4.2.1: SingleResponse (certID, certStatus, thisUpdate,
  // nextUpdate); the CertID is copied.
  if (OCSP_basic_add1_status(basic.get(), id.get(), status, reason,
                             revoked_at.get(), this_update.get(),
                             next_update.get()) == nullptr) {
    return CryptoFailure("OCSP single response");
  }
  // producedAt: OpenSSL would write the wall clock; OCSP_NOTIME keeps the
  // value set here. The getter is const only to discourage edits; the
  // object is the response's own and writable.
  auto* produced = const_cast<ASN1_GENERALIZEDTIME*>(
      OCSP_resp_get0_produced_at(basic.get()));
  if (produced == nullptr ||
      ASN1_GENERALIZEDTIME_set(
          produced, static_cast<time_t>(spec.produced_at)) == nullptr) {
    return CryptoFailure("OCSP producedAt");
  }
  // §4.2.1: responderID byName. A delegated responder's certificate goes
  // in certs; the issuer's own is left out, because golang.org/x/crypto/ocsp
  // (Notation) takes an embedded certificate as a delegated responder that
  // the issuer must have signed.
  const unsigned long flags =
      OCSP_NOTIME | (&responder == &issuer ? OCSP_NOCERTS : 0);
  if (OCSP_basic_sign(basic.get(), responder.cert.get(), responder.key.get(),
                      SignatureDigestFor(responder.type), nullptr,
                      flags) != 1) {
    return CryptoFailure("OCSP signature");
  }
  UniqueOcspResponse response(
      OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic.get()));
  if (!response) {
    return CryptoFailure("OCSP response");
  }
  base::Bytes der = ToDer<OCSP_RESPONSE>(response.get(), &i2d_OCSP_RESPONSE);
  if (der.empty()) {
    return CryptoFailure("OCSP response encoding");
  }
  return der;
}

base::Result<base::Bytes, MkError> OcspRequestDer(const Credential& cert,
                                                  const Credential& issuer) {
  UniqueOcspRequest request(OCSP_REQUEST_new());
  OCSP_CERTID* id = CertId(cert, issuer);
  if (!request || id == nullptr) {
    OCSP_CERTID_free(id);
    return CryptoFailure("OCSP request");
  }
  // OCSP_request_add0_id takes the CertID over.
  if (OCSP_request_add0_id(request.get(), id) == nullptr) {
    OCSP_CERTID_free(id);
    return CryptoFailure("OCSP request");
  }
  base::Bytes der = ToDer<OCSP_REQUEST>(request.get(), &i2d_OCSP_REQUEST);
  if (der.empty()) {
    return CryptoFailure("OCSP request encoding");
  }
  return der;
}

std::string OcspGetPathElement(base::ByteView request) {
  // Go's url.QueryEscape: unreserved characters (RFC 3986 §2.3) stay,
  // space becomes '+', every other byte %XX in upper-case hex.
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : Base64Std(request)) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                            c == '.' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
  return out;
}

}  // namespace trustgate::mkmirror
