#pragma once

// Test-only builders of real CRLs and OCSP responses with OpenSSL, for the
// crypto tests, the engine tests and any generator that needs revocation
// data. Like test_pki.h, everything aborts on an OpenSSL failure: these are
// fixtures, not inputs under test.
//
// Times use OpenSSL's ASN1_TIME_set_string syntax: 13 characters
// ("240101000000Z") give a UTCTime, 15 ("20240101000000Z") a
// GeneralizedTime.

#include <openssl/asn1.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "tests/crypto/test_pki.h"

namespace trustgate::crypto::testrev {

using testpki::Die;

// RawExtension is an extension given as OID text, criticality and the DER
// of its value (the OCTET STRING contents).
struct RawExtension {
  std::string oid;
  bool critical = false;
  base::Bytes value;
};

// DerNull is the DER of NULL, a convenient extension value.
inline base::Bytes DerNull() { return {0x05, 0x00}; }

inline X509_EXTENSION* MakeRawExtension(const RawExtension& e) {
  ASN1_OBJECT* obj = OBJ_txt2obj(e.oid.c_str(), 1);
  ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
  if (obj == nullptr || os == nullptr ||
      ASN1_OCTET_STRING_set(os, e.value.data(),
                            static_cast<int>(e.value.size())) != 1) {
    Die("raw extension");
  }
  X509_EXTENSION* ext =
      X509_EXTENSION_create_by_OBJ(nullptr, obj, e.critical ? 1 : 0, os);
  ASN1_OBJECT_free(obj);
  ASN1_OCTET_STRING_free(os);
  if (ext == nullptr) {
    Die("X509_EXTENSION_create_by_OBJ");
  }
  return ext;
}

inline ASN1_TIME* MakeTime(const std::string& text) {
  ASN1_TIME* t = ASN1_TIME_new();
  if (t == nullptr || ASN1_TIME_set_string(t, text.c_str()) != 1) {
    Die("ASN1_TIME_set_string");
  }
  return t;
}

inline ASN1_GENERALIZEDTIME* MakeGeneralizedTime(const std::string& text) {
  ASN1_GENERALIZEDTIME* t = ASN1_GENERALIZEDTIME_new();
  if (t == nullptr || ASN1_GENERALIZEDTIME_set_string(t, text.c_str()) != 1) {
    Die("ASN1_GENERALIZEDTIME_set_string");
  }
  return t;
}

// CrlEntrySpec is one revoked certificate.
struct CrlEntrySpec {
  long serial = 0;
  std::string revocation_time = "20240101000000Z";
  std::optional<int> reason;  // CRLReason; absent when nullopt
  bool reason_critical = false;
  // GeneralizedTime "YYYYMMDDHHMMSSZ"; absent when nullopt.
  std::optional<std::string> invalidity_date;
  std::vector<RawExtension> extra_extensions;
};

// CrlSpec describes one CRL to build.
struct CrlSpec {
  const X509* issuer = nullptr;  // the issuer name is its subject
  EVP_PKEY* key = nullptr;       // signing key
  // Replaces the issuer name when set.
  std::vector<std::pair<std::string, std::string>> issuer_name;
  std::string this_update = "20240101000000Z";
  std::optional<std::string> next_update = "20991231000000Z";
  std::optional<long> number = 1;          // cRLNumber
  std::optional<long> delta_base;          // deltaCRLIndicator
  std::vector<std::string> freshest_urls;  // freshestCRL URIs
  // issuingDistributionPoint in OpenSSL config syntax, e.g.
  // "critical,onlyuser:TRUE"; empty = absent.
  std::string idp;
  std::vector<CrlEntrySpec> entries;
  std::vector<RawExtension> extra_extensions;
  std::string digest = "SHA256";  // "" for Ed25519
  long version = 1;               // 1 = v2; -1 omits the field
};

inline base::Bytes CrlToDer(const X509_CRL* crl) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_CRL(crl, &der);
  if (len <= 0) {
    Die("i2d_X509_CRL");
  }
  base::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// BuildCrl returns the DER of a signed CRL.
inline base::Bytes BuildCrl(const CrlSpec& spec) {
  if (spec.issuer == nullptr || spec.key == nullptr) {
    Die("CrlSpec without issuer or key");
  }
  X509_CRL* crl = X509_CRL_new();
  if (spec.version >= 0) {
    X509_CRL_set_version(crl, spec.version);
  }
  if (spec.issuer_name.empty()) {
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(spec.issuer));
  } else {
    X509_NAME* name = X509_NAME_new();
    for (const auto& [type, value] : spec.issuer_name) {
      X509_NAME_add_entry_by_txt(
          name, type.c_str(), MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(value.data()),
          static_cast<int>(value.size()), -1, 0);
    }
    X509_CRL_set_issuer_name(crl, name);
    X509_NAME_free(name);
  }
  ASN1_TIME* t = MakeTime(spec.this_update);
  X509_CRL_set1_lastUpdate(crl, t);
  ASN1_TIME_free(t);
  if (spec.next_update) {
    t = MakeTime(*spec.next_update);
    X509_CRL_set1_nextUpdate(crl, t);
    ASN1_TIME_free(t);
  }
  for (const CrlEntrySpec& e : spec.entries) {
    X509_REVOKED* rev = X509_REVOKED_new();
    ASN1_INTEGER* serial = ASN1_INTEGER_new();
    ASN1_INTEGER_set(serial, e.serial);
    X509_REVOKED_set_serialNumber(rev, serial);
    ASN1_INTEGER_free(serial);
    t = MakeTime(e.revocation_time);
    X509_REVOKED_set_revocationDate(rev, t);
    ASN1_TIME_free(t);
    if (e.reason) {
      ASN1_ENUMERATED* reason = ASN1_ENUMERATED_new();
      ASN1_ENUMERATED_set(reason, *e.reason);
      if (X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason,
                                    e.reason_critical ? 1 : 0, 0) != 1) {
        Die("reason ext");
      }
      ASN1_ENUMERATED_free(reason);
    }
    if (e.invalidity_date) {
      ASN1_GENERALIZEDTIME* g = MakeGeneralizedTime(*e.invalidity_date);
      if (X509_REVOKED_add1_ext_i2d(rev, NID_invalidity_date, g, 0, 0) != 1) {
        Die("invalidity ext");
      }
      ASN1_GENERALIZEDTIME_free(g);
    }
    for (const RawExtension& raw : e.extra_extensions) {
      X509_EXTENSION* ext = MakeRawExtension(raw);
      X509_REVOKED_add_ext(rev, ext, -1);
      X509_EXTENSION_free(ext);
    }
    X509_CRL_add0_revoked(crl, rev);
  }
  if (spec.number) {
    ASN1_INTEGER* n = ASN1_INTEGER_new();
    ASN1_INTEGER_set(n, *spec.number);
    X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, 0);
    ASN1_INTEGER_free(n);
  }
  if (spec.delta_base) {
    ASN1_INTEGER* n = ASN1_INTEGER_new();
    ASN1_INTEGER_set(n, *spec.delta_base);
    X509_CRL_add1_ext_i2d(crl, NID_delta_crl, n, 1, 0);
    ASN1_INTEGER_free(n);
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, const_cast<X509*>(spec.issuer), nullptr, nullptr, crl,
                 0);
  if (!spec.freshest_urls.empty()) {
    std::string conf;
    for (const std::string& u : spec.freshest_urls) {
      conf += (conf.empty() ? "URI:" : ",URI:") + u;
    }
    X509_EXTENSION* ext =
        X509V3_EXT_conf_nid(nullptr, &ctx, NID_freshest_crl, conf.c_str());
    if (ext == nullptr) {
      Die("freshest ext");
    }
    X509_CRL_add_ext(crl, ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (!spec.idp.empty()) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(
        nullptr, &ctx, NID_issuing_distribution_point, spec.idp.c_str());
    if (ext == nullptr) {
      Die("idp ext");
    }
    X509_CRL_add_ext(crl, ext, -1);
    X509_EXTENSION_free(ext);
  }
  for (const RawExtension& raw : spec.extra_extensions) {
    X509_EXTENSION* ext = MakeRawExtension(raw);
    X509_CRL_add_ext(crl, ext, -1);
    X509_EXTENSION_free(ext);
  }
  UniqueEvpMdCtx md(EVP_MD_CTX_new());
  if (EVP_DigestSignInit_ex(md.get(), nullptr,
                            spec.digest.empty() ? nullptr : spec.digest.c_str(),
                            nullptr, nullptr, spec.key, nullptr) != 1 ||
      X509_CRL_sign_ctx(crl, md.get()) <= 0) {
    Die("X509_CRL_sign_ctx");
  }
  base::Bytes der = CrlToDer(crl);
  X509_CRL_free(crl);
  return der;
}

// CrlToPem wraps a DER CRL in a "X509 CRL" PEM block.
inline std::string CrlToPem(base::ByteView der) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio(bio.get(), PEM_STRING_X509_CRL, "", der.data(),
                    static_cast<long>(der.size())) <= 0) {
    Die("PEM_write_bio");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// OcspCertStatus is the status an OCSP SingleResponse reports.
enum class OcspCertStatus { kGood, kRevoked, kUnknown };

// OcspSpec describes one OCSP response to build.
struct OcspSpec {
  // The CertID names `cert` issued by `issuer`.
  const X509* cert = nullptr;
  const X509* issuer = nullptr;
  std::string certid_digest = "SHA1";
  // The signer: `signer_cert` (put in the response's certs unless
  // include_signer_cert is false) with `signer_key`.
  const X509* signer_cert = nullptr;
  EVP_PKEY* signer_key = nullptr;
  bool include_signer_cert = true;
  bool responder_id_by_key = false;
  std::string digest = "SHA256";
  OcspCertStatus status = OcspCertStatus::kGood;
  std::string revocation_time = "20240101000000Z";
  int reason = -1;  // -1: no reason
  std::string this_update = "20240101000000Z";
  std::optional<std::string> next_update = "20991231000000Z";
  std::optional<std::string> invalidity_date;  // singleExtension
  std::vector<RawExtension> single_extensions;
  // A non-successful responseStatus (then there are no responseBytes).
  int response_status = OCSP_RESPONSE_STATUS_SUCCESSFUL;
  // A further SingleResponse (status good) placed before the real one, for
  // `extra_cert_before` issued by `extra_issuer_before` (default: issuer).
  const X509* extra_cert_before = nullptr;
  const X509* extra_issuer_before = nullptr;
};

inline OCSP_CERTID* CertId(const std::string& digest, const X509* cert,
                           const X509* issuer) {
  const EVP_MD* md = EVP_get_digestbyname(digest.c_str());
  OCSP_CERTID* id = OCSP_cert_to_id(md, cert, issuer);
  if (id == nullptr) {
    Die("OCSP_cert_to_id");
  }
  return id;
}

// BuildOcspResponse returns the DER of an OCSPResponse.
inline base::Bytes BuildOcspResponse(const OcspSpec& spec) {
  OCSP_RESPONSE* resp = nullptr;
  if (spec.response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    resp = OCSP_response_create(spec.response_status, nullptr);
  } else {
    if (spec.cert == nullptr || spec.issuer == nullptr ||
        spec.signer_cert == nullptr || spec.signer_key == nullptr) {
      Die("OcspSpec incomplete");
    }
    OCSP_BASICRESP* bs = OCSP_BASICRESP_new();
    ASN1_TIME* this_update = MakeTime(spec.this_update);
    ASN1_TIME* next_update =
        spec.next_update ? MakeTime(*spec.next_update) : nullptr;
    if (spec.extra_cert_before != nullptr) {
      OCSP_CERTID* other =
          CertId(spec.certid_digest, spec.extra_cert_before,
                 spec.extra_issuer_before != nullptr ? spec.extra_issuer_before
                                                     : spec.issuer);
      OCSP_basic_add1_status(bs, other, V_OCSP_CERTSTATUS_GOOD, 0, nullptr,
                             this_update, next_update);
      OCSP_CERTID_free(other);
    }
    OCSP_CERTID* id = CertId(spec.certid_digest, spec.cert, spec.issuer);
    int status = V_OCSP_CERTSTATUS_GOOD;
    ASN1_TIME* revoked = nullptr;
    if (spec.status == OcspCertStatus::kRevoked) {
      status = V_OCSP_CERTSTATUS_REVOKED;
      revoked = MakeTime(spec.revocation_time);
    } else if (spec.status == OcspCertStatus::kUnknown) {
      status = V_OCSP_CERTSTATUS_UNKNOWN;
    }
    OCSP_SINGLERESP* single = OCSP_basic_add1_status(
        bs, id, status, spec.reason, revoked, this_update, next_update);
    if (single == nullptr) {
      Die("OCSP_basic_add1_status");
    }
    OCSP_CERTID_free(id);
    ASN1_TIME_free(revoked);
    ASN1_TIME_free(this_update);
    ASN1_TIME_free(next_update);
    if (spec.invalidity_date) {
      ASN1_GENERALIZEDTIME* g = MakeGeneralizedTime(*spec.invalidity_date);
      OCSP_SINGLERESP_add1_ext_i2d(single, NID_invalidity_date, g, 0, 0);
      ASN1_GENERALIZEDTIME_free(g);
    }
    for (const RawExtension& raw : spec.single_extensions) {
      X509_EXTENSION* ext = MakeRawExtension(raw);
      OCSP_SINGLERESP_add_ext(single, ext, -1);
      X509_EXTENSION_free(ext);
    }
    UniqueEvpMdCtx md(EVP_MD_CTX_new());
    if (EVP_DigestSignInit_ex(md.get(), nullptr, spec.digest.c_str(), nullptr,
                              nullptr, spec.signer_key, nullptr) != 1) {
      Die("OCSP DigestSignInit");
    }
    unsigned long flags = spec.include_signer_cert ? 0 : OCSP_NOCERTS;
    if (spec.responder_id_by_key) {
      flags |= OCSP_RESPID_KEY;
    }
    // OpenSSL refuses to sign with a key that does not match the signer
    // certificate; for "wrong key" cases sign through a stand-in
    // certificate of the same subject and add the real one afterwards (the
    // certificates are outside the signed data).
    X509* signer = const_cast<X509*>(spec.signer_cert);
    UniqueX509 stand_in;
    if (X509_check_private_key(signer, spec.signer_key) != 1) {
      ERR_clear_error();
      testpki::CertSpec cs;
      cs.key = spec.signer_key;
      cs.subject.clear();
      stand_in = testpki::BuildX509(cs);
      X509_set_subject_name(stand_in.get(), X509_get_subject_name(signer));
      signer = stand_in.get();
      flags |= OCSP_NOCERTS;
    }
    if (OCSP_basic_sign_ctx(bs, signer, md.get(), nullptr, flags) != 1) {
      Die("OCSP_basic_sign_ctx");
    }
    if (stand_in && spec.include_signer_cert &&
        OCSP_basic_add1_cert(bs, const_cast<X509*>(spec.signer_cert)) != 1) {
      Die("OCSP_basic_add1_cert");
    }
    resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
    OCSP_BASICRESP_free(bs);
  }
  if (resp == nullptr) {
    Die("OCSP_response_create");
  }
  unsigned char* der = nullptr;
  const int len = i2d_OCSP_RESPONSE(resp, &der);
  OCSP_RESPONSE_free(resp);
  if (len <= 0) {
    Die("i2d_OCSP_RESPONSE");
  }
  base::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// Extension values for certificates (CertSpec::extra_extensions).
inline std::pair<int, std::string> CdpExtension(const std::string& url) {
  return {NID_crl_distribution_points, "URI:" + url};
}
inline std::pair<int, std::string> OcspAiaExtension(const std::string& url) {
  return {NID_info_access, "OCSP;URI:" + url};
}
inline std::pair<int, std::string> FreshestCrlExtension(
    const std::string& url) {
  return {NID_freshest_crl, "URI:" + url};
}

}  // namespace trustgate::crypto::testrev
