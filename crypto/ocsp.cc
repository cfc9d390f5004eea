#include "crypto/ocsp.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace trustgate::crypto {
namespace {

using UniqueOcspResponse =
    std::unique_ptr<OCSP_RESPONSE, OsslDeleter<OCSP_RESPONSE_free>>;
using UniqueOcspBasic =
    std::unique_ptr<OCSP_BASICRESP, OsslDeleter<OCSP_BASICRESP_free>>;
using UniqueOcspRequest =
    std::unique_ptr<OCSP_REQUEST, OsslDeleter<OCSP_REQUEST_free>>;
using UniqueOcspCertId =
    std::unique_ptr<OCSP_CERTID, OsslDeleter<OCSP_CERTID_free>>;

// DER contents of id-pkix-ocsp-basic (1.3.6.1.5.5.7.48.1.1) and id-ad-ocsp
// (1.3.6.1.5.5.7.48.1).
constexpr std::array<uint8_t, 9> kOidOcspBasic = {0x2b, 0x06, 0x01, 0x05, 0x05,
                                                  0x07, 0x30, 0x01, 0x01};
constexpr std::array<uint8_t, 8> kOidAdOcsp = {0x2b, 0x06, 0x01, 0x05,
                                               0x05, 0x07, 0x30, 0x01};

base::ByteView View(const ASN1_STRING* s) {
  return base::ByteView(ASN1_STRING_get0_data(s),
                        static_cast<size_t>(ASN1_STRING_length(s)));
}

CertRevocation Unknown(CryptoError code, std::string detail) {
  ERR_clear_error();
  CertRevocation r;
  r.status = RevocationStatus::kUnknown;
  r.method = RevocationMethod::kOcsp;
  r.code = code;
  r.detail = std::move(detail);
  return r;
}

// The raw pieces of an OCSPResponse that signatures are computed over,
// found as golang.org/x/crypto/ocsp's encoding/asn1 finds them.
struct RawResponse {
  base::ByteView response_type;  // OID contents
  base::ByteView tbs;            // ResponseData, whole encoding
  base::ByteView signature;      // BIT STRING contents after unused-bits
  bool signature_aligned = false;
  std::optional<base::ByteView> first_cert;  // certs[0], whole encoding
};

// Walks OCSPResponse -> responseBytes -> BasicOCSPResponse (RFC 6960
// §4.2.1). Each level must fill its container exactly (x/crypto refuses
// trailing data). Returns an error text or empty.
std::string WalkResponse(base::ByteView der, RawResponse* out) {
  using internal::DerElement;
  using internal::ReadDerElement;
  base::ByteView in = der;
  DerElement resp;
  if (!ReadDerElement(&in, &resp) || resp.tag != 0x30) {
    return "not a DER OCSPResponse";
  }
  if (!in.empty()) {
    return "trailing data after the OCSP response";
  }
  base::ByteView fields = resp.content;
  DerElement status, bytes_tagged;
  if (!ReadDerElement(&fields, &status) || status.tag != V_ASN1_ENUMERATED) {
    return "OCSP responseStatus missing";
  }
  if (!ReadDerElement(&fields, &bytes_tagged) || bytes_tagged.tag != 0xa0) {
    return "OCSP responseBytes missing";
  }
  base::ByteView rb_in = bytes_tagged.content;
  DerElement rb, type, octets;
  if (!ReadDerElement(&rb_in, &rb) || rb.tag != 0x30) {
    return "OCSP responseBytes malformed";
  }
  base::ByteView rb_fields = rb.content;
  if (!ReadDerElement(&rb_fields, &type) || type.tag != V_ASN1_OBJECT ||
      !ReadDerElement(&rb_fields, &octets) ||
      octets.tag != V_ASN1_OCTET_STRING) {
    return "OCSP responseBytes malformed";
  }
  out->response_type = type.content;
  base::ByteView basic_in = octets.content;
  DerElement basic;
  if (!ReadDerElement(&basic_in, &basic) || basic.tag != 0x30) {
    return "BasicOCSPResponse malformed";
  }
  if (!basic_in.empty()) {
    return "trailing data after the BasicOCSPResponse";
  }
  base::ByteView b = basic.content;
  DerElement tbs, alg, sig;
  if (!ReadDerElement(&b, &tbs) || tbs.tag != 0x30 ||
      !ReadDerElement(&b, &alg) || alg.tag != 0x30 ||
      !ReadDerElement(&b, &sig) || sig.tag != V_ASN1_BIT_STRING ||
      sig.content.empty()) {
    return "BasicOCSPResponse malformed";
  }
  out->tbs = tbs.full;
  out->signature_aligned = sig.content[0] == 0;
  out->signature = sig.content.subspan(1);
  if (!b.empty() && b[0] == 0xa0) {
    DerElement certs_tagged, certs_seq, first;
    if (!ReadDerElement(&b, &certs_tagged)) {
      return "BasicOCSPResponse certs malformed";
    }
    base::ByteView cin = certs_tagged.content;
    if (!ReadDerElement(&cin, &certs_seq) || certs_seq.tag != 0x30) {
      return "BasicOCSPResponse certs malformed";
    }
    base::ByteView list = certs_seq.content;
    if (!list.empty()) {
      if (!ReadDerElement(&list, &first)) {
        return "BasicOCSPResponse certs malformed";
      }
      out->first_cert = first.full;
    }
  }
  return {};
}

std::optional<base::Time> OcspTime(const ASN1_GENERALIZEDTIME* t) {
  return internal::ParseDerTime(t, internal::TimeFormat::kAsn1Generalized);
}

const char* DigestForNid(int nid) {
  switch (nid) {
    case NID_sha1:
      return "SHA1";
    case NID_sha256:
      return "SHA256";
    case NID_sha384:
      return "SHA384";
    case NID_sha512:
      return "SHA512";
    default:
      return nullptr;
  }
}

std::optional<base::Bytes> Digest(const char* name, base::ByteView data) {
  std::unique_ptr<EVP_MD, OsslDeleter<EVP_MD_free>> md(
      EVP_MD_fetch(nullptr, name, nullptr));
  if (!md) {
    ERR_clear_error();
    return std::nullopt;
  }
  base::Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md.get(),
                 nullptr) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

enum class CertIdMatch { kOtherSerial, kSerialOnly, kFull };

// Compares `id` with `cert`'s CertID (RFC 6960 §4.1.1) under the hash
// algorithm `id` names (SHA-1/256/384/512 only, x/crypto's table).
CertIdMatch MatchCertId(OCSP_CERTID* id, const Certificate& cert,
                        const Certificate& issuer) {
  ASN1_OCTET_STRING* name_hash = nullptr;
  ASN1_OBJECT* md = nullptr;
  ASN1_OCTET_STRING* key_hash = nullptr;
  ASN1_INTEGER* serial = nullptr;
  if (OCSP_id_get0_info(&name_hash, &md, &key_hash, &serial, id) != 1 ||
      serial == nullptr || name_hash == nullptr || key_hash == nullptr ||
      ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(cert.x509())) != 0) {
    return CertIdMatch::kOtherSerial;
  }
  const char* digest = DigestForNid(OBJ_obj2nid(md));
  const ASN1_BIT_STRING* key_bits = X509_get0_pubkey_bitstr(issuer.x509());
  if (digest == nullptr || key_bits == nullptr) {
    return CertIdMatch::kSerialOnly;
  }
  const auto want_name = Digest(digest, issuer.subject_der());
  const auto want_key = Digest(digest, View(key_bits));
  return want_name && want_key &&
                 std::ranges::equal(*want_name, View(name_hash)) &&
                 std::ranges::equal(*want_key, View(key_hash))
             ? CertIdMatch::kFull
             : CertIdMatch::kSerialOnly;
}

// Go's Certificate.CheckSignature of `cert`'s own signature with `key`
// (the x509 algorithm table, SHA-1 allowed).
bool CertificateSignedBy(const Certificate& cert, EVP_PKEY* key) {
  const X509_ALGOR* alg = nullptr;
  X509_get0_signature(nullptr, &alg, cert.x509());
  const bool ok = internal::SignatureAlgorithmAllowed(
                      alg, key, internal::GoSignatureAlgorithms::kX509) &&
                  X509_verify(cert.x509(), key) == 1;
  ERR_clear_error();
  return ok;
}

bool HasOcspSigning(const Certificate& cert) {
  return std::ranges::find(cert.extended_key_usage(),
                           ExtendedKeyUsage::kOcspSigning) !=
         cert.extended_key_usage().end();
}

bool IsUnreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

// Go's url.QueryEscape.
std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if (IsUnreserved(c)) {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      const auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  }
  return out;
}

// Go's path.Clean for a rooted path.
std::string CleanRootedPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) {
      j = path.size();
    }
    const std::string_view part = path.substr(i, j - i);
    if (part.empty() || part == ".") {
      // skip
    } else if (part == "..") {
      if (!parts.empty()) {
        parts.pop_back();
      }
    } else {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (std::string_view p : parts) {
    out.push_back('/');
    out.append(p);
  }
  return out.empty() ? "/" : out;
}

}  // namespace

base::Result<std::vector<std::string>, CryptoError> OcspResponders(
    const Certificate& cert) {
  std::vector<std::string> urls;
  const int idx = X509_get_ext_by_NID(cert.x509(), NID_info_access, -1);
  if (idx < 0) {
    return urls;
  }
  base::ByteView value =
      View(X509_EXTENSION_get_data(X509_get_ext(cert.x509(), idx)));
  // RFC 5280 §4.2.2.1, read as Go's crypto/x509 parser.go: each
  // AccessDescription's location is taken when it is a URI ([6]).
  const auto malformed = [&cert]() {
    return base::MakeError(CryptoError::kMalformed,
                           "certificate " + cert.SubjectString() +
                               ": authority information access extension "
                               "does not parse");
  };
  internal::DerElement outer;
  if (!internal::ReadDerElement(&value, &outer) || outer.tag != 0x30) {
    return malformed();
  }
  base::ByteView list = outer.content;
  while (!list.empty()) {
    internal::DerElement desc, method, location;
    if (!internal::ReadDerElement(&list, &desc) || desc.tag != 0x30) {
      return malformed();
    }
    base::ByteView d = desc.content;
    if (!internal::ReadDerElement(&d, &method) || method.tag != V_ASN1_OBJECT ||
        method.content.empty()) {
      return malformed();
    }
    if (d.empty() || d[0] != 0x86) {
      continue;
    }
    if (!internal::ReadDerElement(&d, &location)) {
      return malformed();
    }
    if (std::ranges::equal(method.content, kOidAdOcsp)) {
      urls.emplace_back(base::AsString(location.content));
    }
  }
  return urls;
}

base::Result<base::Bytes, CryptoError> BuildOcspRequest(
    const Certificate& cert, const Certificate& issuer) {
  // notation-core-go executeOCSPCheck: ocsp.CreateRequest with SHA-1.
  UniqueOcspCertId id(OCSP_cert_to_id(EVP_sha1(), cert.x509(), issuer.x509()));
  UniqueOcspRequest req(OCSP_REQUEST_new());
  if (!id || !req || OCSP_request_add0_id(req.get(), id.get()) == nullptr) {
    ERR_clear_error();
    return base::MakeError(CryptoError::kMalformed,
                           "cannot build the OCSP request");
  }
  id.release();  // owned by req
  unsigned char* der = nullptr;
  const int len = i2d_OCSP_REQUEST(req.get(), &der);
  if (len <= 0) {
    ERR_clear_error();
    return base::MakeError(CryptoError::kMalformed,
                           "cannot encode the OCSP request");
  }
  base::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

std::optional<std::string> OcspGetUrl(std::string_view server,
                                      base::ByteView request) {
  // notation-core-go executeOCSPCheck: GET only when the base64 and its
  // query escape are both under 255 characters.
  if (request.size() > 1024) {
    return std::nullopt;
  }
  std::string b64(4 * ((request.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                      request.data(), static_cast<int>(request.size()));
  b64.resize(static_cast<size_t>(std::max(n, 0)));
  if (b64.size() >= 255) {
    return std::nullopt;
  }
  const std::string escaped = QueryEscape(b64);
  if (escaped.size() >= 255) {
    return std::nullopt;
  }
  // url.JoinPath(server, escaped): the server's path, cleaned, then "/"
  // and the element; query and fragment stay after the path.
  size_t authority_end = 0;
  const size_t scheme_end = server.find("://");
  if (scheme_end != std::string_view::npos) {
    authority_end = server.find_first_of("/?#", scheme_end + 3);
    if (authority_end == std::string_view::npos) {
      authority_end = server.size();
    }
  }
  size_t path_end = server.find_first_of("?#", authority_end);
  if (path_end == std::string_view::npos) {
    path_end = server.size();
  }
  const std::string_view path =
      server.substr(authority_end, path_end - authority_end);
  std::string joined = CleanRootedPath(std::string("/") + std::string(path));
  if (joined.back() != '/') {
    joined.push_back('/');
  }
  joined.append(escaped);
  return std::string(server.substr(0, authority_end)) + joined +
         std::string(server.substr(path_end));
}

CertRevocation EvaluateOcspResponse(
    base::ByteView response_der, const Certificate& cert,
    const Certificate& issuer, base::Time now,
    std::optional<base::Time> authentic_signing_time) {
  if (response_der.size() > kMaxOcspResponseSize) {
    return Unknown(CryptoError::kTooLarge,
                   "OCSP response of " + std::to_string(response_der.size()) +
                       " bytes; Notation reads at most 20480");
  }
  const unsigned char* p = response_der.data();
  UniqueOcspResponse resp(
      d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(response_der.size())));
  if (!resp) {
    return Unknown(CryptoError::kMalformed,
                   "OCSP response does not parse as DER");
  }
  // RFC 6960 §4.2.1: only a successful response carries a status.
  const int status = OCSP_response_status(resp.get());
  if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    return Unknown(CryptoError::kOcspResponseStatus,
                   std::string("OCSP responder answered \"") +
                       OCSP_response_status_str(status) + "\"");
  }
  RawResponse raw;
  if (std::string err = WalkResponse(response_der, &raw); !err.empty()) {
    return Unknown(CryptoError::kMalformed, err);
  }
  if (!std::ranges::equal(raw.response_type, kOidOcspBasic)) {
    return Unknown(CryptoError::kMalformed,
                   "OCSP response type is not id-pkix-ocsp-basic");
  }
  UniqueOcspBasic basic(OCSP_response_get1_basic(resp.get()));
  if (!basic) {
    return Unknown(CryptoError::kMalformed, "BasicOCSPResponse does not parse");
  }
  const int count = OCSP_resp_count(basic.get());
  if (count <= 0) {
    return Unknown(CryptoError::kMalformed, "OCSP response has no responses");
  }
  // Every time must be one encoding/asn1 accepts, or x/crypto refuses the
  // whole response.
  if (!OcspTime(OCSP_resp_get0_produced_at(basic.get()))) {
    return Unknown(CryptoError::kMalformed, "OCSP producedAt is not valid");
  }
  OCSP_SINGLERESP* match = nullptr;
  bool serial_matched = false;
  for (int i = 0; i < count; ++i) {
    OCSP_SINGLERESP* single = OCSP_resp_get0(basic.get(), i);
    int reason = 0;
    ASN1_GENERALIZEDTIME* revoked_at = nullptr;
    ASN1_GENERALIZEDTIME* this_update = nullptr;
    ASN1_GENERALIZEDTIME* next_update = nullptr;
    const int s = OCSP_single_get0_status(single, &reason, &revoked_at,
                                          &this_update, &next_update);
    if (s < 0 || !OcspTime(this_update) ||
        (next_update != nullptr && !OcspTime(next_update)) ||
        (s == V_OCSP_CERTSTATUS_REVOKED && !OcspTime(revoked_at))) {
      return Unknown(CryptoError::kMalformed,
                     "OCSP SingleResponse " + std::to_string(i) +
                         " has an invalid status or time");
    }
    // x/crypto uses the first SingleResponse with the certificate's serial
    // number; we also require its issuer hashes to be the issuer's.
    if (match == nullptr && !serial_matched) {
      switch (
          MatchCertId(const_cast<OCSP_CERTID*>(OCSP_SINGLERESP_get0_id(single)),
                      cert, issuer)) {
        case CertIdMatch::kFull:
          match = single;
          serial_matched = true;
          break;
        case CertIdMatch::kSerialOnly:
          serial_matched = true;
          break;
        case CertIdMatch::kOtherSerial:
          break;
      }
    }
  }
  if (match == nullptr) {
    return Unknown(
        CryptoError::kOcspNoMatchingResponse,
        std::string(serial_matched ? "OCSP response's status for the serial "
                                     "number of "
                                   : "OCSP response has no status for ") +
            cert.SubjectString() +
            (serial_matched ? " names another issuer than " : " issued by ") +
            issuer.SubjectString());
  }

  // Signature (x/crypto ParseResponseForCert, RFC 6960 §4.2.2.2).
  const X509_ALGOR* alg = OCSP_resp_get0_tbs_sigalg(basic.get());
  if (!raw.signature_aligned) {
    return Unknown(CryptoError::kBadSignature,
                   "OCSP response signature has unused bits");
  }
  if (raw.first_cert) {
    auto signer = Certificate::FromDer(*raw.first_cert);
    if (!signer.ok()) {
      return Unknown(
          CryptoError::kMalformed,
          "OCSP responder certificate does not parse: " + signer.detail());
    }
    const Certificate& responder = **signer;
    if (!internal::VerifyRawSignature(alg, responder.public_key(),
                                      internal::GoSignatureAlgorithms::kOcsp,
                                      raw.tbs, raw.signature)) {
      return Unknown(CryptoError::kBadSignature,
                     "OCSP response signature does not verify with the "
                     "responder certificate " +
                         responder.SubjectString());
    }
    if (!CertificateSignedBy(responder, issuer.public_key())) {
      return Unknown(CryptoError::kRevocationSignerUnauthorized,
                     "OCSP responder certificate " + responder.SubjectString() +
                         " is not signed by " + issuer.SubjectString());
    }
    // RFC 6960 §4.2.2.2: a delegated responder is issued directly by the
    // CA and carries id-kp-OCSPSigning. Stricter than x/crypto.
    const bool is_issuer = std::ranges::equal(responder.der(), issuer.der());
    if (!is_issuer) {
      if (!std::ranges::equal(responder.issuer_der(), issuer.subject_der())) {
        return Unknown(
            CryptoError::kRevocationIssuerMismatch,
            "OCSP responder certificate " + responder.SubjectString() +
                " names another issuer than " + issuer.SubjectString());
      }
      if (!HasOcspSigning(responder)) {
        return Unknown(CryptoError::kRevocationSignerUnauthorized,
                       "OCSP responder certificate " +
                           responder.SubjectString() +
                           " lacks the OCSPSigning extended key usage");
      }
    }
  } else if (!internal::VerifyRawSignature(
                 alg, issuer.public_key(),
                 internal::GoSignatureAlgorithms::kOcsp, raw.tbs,
                 raw.signature)) {
    return Unknown(CryptoError::kBadSignature,
                   "OCSP response signature does not verify with the key of " +
                       issuer.SubjectString());
  }

  // x/crypto: a critical singleExtension is refused; notation-core-go reads
  // the invalidity date from the (non-critical) single extensions.
  std::optional<base::Time> invalidity_date;
  for (int i = 0; i < OCSP_SINGLERESP_get_ext_count(match); ++i) {
    X509_EXTENSION* ext = OCSP_SINGLERESP_get_ext(match, i);
    if (X509_EXTENSION_get_critical(ext) > 0) {
      return Unknown(CryptoError::kUnknownCritical,
                     "OCSP SingleResponse has critical extension " +
                         internal::OidText(X509_EXTENSION_get_object(ext)));
    }
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_invalidity_date) {
      // The last one wins (extensionsToMap); one that does not parse is
      // ignored.
      const base::ByteView v = View(X509_EXTENSION_get_data(ext));
      const unsigned char* q = v.data();
      std::unique_ptr<ASN1_GENERALIZEDTIME, OsslDeleter<ASN1_TIME_free>> t(
          d2i_ASN1_GENERALIZEDTIME(nullptr, &q, static_cast<long>(v.size())));
      invalidity_date = t && q == v.data() + v.size()
                            ? OcspTime(t.get())
                            : std::optional<base::Time>();
    }
  }

  int reason = -1;
  ASN1_GENERALIZEDTIME* revoked_at = nullptr;
  ASN1_GENERALIZEDTIME* this_update = nullptr;
  ASN1_GENERALIZEDTIME* next_update = nullptr;
  const int cert_status = OCSP_single_get0_status(match, &reason, &revoked_at,
                                                  &this_update, &next_update);
  CertRevocation r;
  r.method = RevocationMethod::kOcsp;
  r.this_update = OcspTime(this_update);
  // trust-store-trust-policy.md "Revocation Checking with OCSP": expired
  // when the current time is after nextUpdate. notation-core-go compares
  // with a zero NextUpdate when it is absent, so such a response is always
  // expired.
  if (next_update == nullptr) {
    CertRevocation u =
        Unknown(CryptoError::kRevocationExpired,
                "OCSP response has no nextUpdate; Notation treats it as "
                "expired");
    u.this_update = r.this_update;
    return u;
  }
  r.next_update = OcspTime(next_update);
  if (now > *r.next_update) {
    CertRevocation u = Unknown(
        CryptoError::kRevocationExpired,
        "OCSP response expired at " + base::FormatRfc3339(*r.next_update));
    u.this_update = r.this_update;
    u.next_update = r.next_update;
    return u;
  }
  switch (cert_status) {
    case V_OCSP_CERTSTATUS_GOOD:
      r.status = RevocationStatus::kGood;
      r.detail = "OCSP status good";
      break;
    case V_OCSP_CERTSTATUS_REVOKED:
      r.revocation_time = OcspTime(revoked_at);
      if (reason >= 0) {
        r.reason = reason;
      }
      r.invalidity_date = invalidity_date;
      // trust-store-trust-policy.md: a signature whose authentic signing
      // time is before the invalidity date is unaffected.
      if (authentic_signing_time && invalidity_date &&
          *authentic_signing_time < *invalidity_date) {
        r.status = RevocationStatus::kGood;
        r.detail = "OCSP status revoked with invalidity date " +
                   base::FormatRfc3339(*invalidity_date) +
                   ", after the authentic signing time";
      } else {
        r.status = RevocationStatus::kRevoked;
        r.detail =
            "OCSP status revoked at " +
            (r.revocation_time ? base::FormatRfc3339(*r.revocation_time)
                               : std::string("?")) +
            (reason >= 0 ? " (reason " + std::to_string(reason) + ")" : "");
      }
      break;
    default: {
      CertRevocation u = Unknown(CryptoError::kOcspStatusUnknown,
                                 "OCSP responder does not know the "
                                 "certificate");
      u.this_update = r.this_update;
      u.next_update = r.next_update;
      return u;
    }
  }
  ERR_clear_error();
  return r;
}

bool IsConclusiveOcspResult(const CertRevocation& r) {
  return r.status != RevocationStatus::kUnknown ||
         r.code == CryptoError::kOcspStatusUnknown;
}

CertRevocation CombineOcspResults(std::span<const CertRevocation> results) {
  if (results.empty()) {
    return Unknown(CryptoError::kMalformed, "no OCSP results to combine");
  }
  for (const CertRevocation& r : results) {
    if (IsConclusiveOcspResult(r)) {
      return r;
    }
  }
  return results.back();
}

}  // namespace trustgate::crypto
