#pragma once

// Revocation data for mkmirror's test PKI: CRLs (RFC 5280 §5; base and
// delta) and OCSP responses (RFC 6960 §4.2), DER, signed with OpenSSL, every
// time a parameter so that output depends only on the inputs and the RNG
// state (drbg.h). Also the OCSP request Notation sends for a certificate
// and the URL path element it GETs, so that a generated response can be
// stored under the name an HTTP client will ask for.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "tools/mkmirror/pki.h"
#include "tools/mkmirror/util.h"

namespace trustgate::mkmirror {

// CrlReason is an RFC 5280 §5.3.1 CRLReason (value 7 is unused).
enum class CrlReason {
  kUnspecified = 0,
  kKeyCompromise = 1,
  kCaCompromise = 2,
  kAffiliationChanged = 3,
  kSuperseded = 4,
  kCessationOfOperation = 5,
  kCertificateHold = 6,
  kRemoveFromCrl = 8,
  kPrivilegeWithdrawn = 9,
  kAaCompromise = 10,
};

// RevokedEntry is one revokedCertificates entry. Borrows `cert` (only its
// serial number is used).
struct RevokedEntry {
  const Credential* cert = nullptr;
  int64_t revocation_time = 0;  // Unix seconds
  // reasonCode entry extension (§5.3.1), when set.
  std::optional<CrlReason> reason;
  // invalidityDate entry extension (§5.3.2, GeneralizedTime), when set.
  std::optional<int64_t> invalidity_date;
};

// CrlSpec describes a CRL (v2).
struct CrlSpec {
  int64_t this_update = 0;             // Unix seconds
  std::optional<int64_t> next_update;  // Unix seconds
  int64_t number = 1;                  // cRLNumber (§5.2.3)
  // delta_base, when set, makes this a delta CRL: a critical
  // deltaCRLIndicator (§5.2.4) naming that base CRL number.
  std::optional<int64_t> delta_base;
  // distribution_point, when not empty: a critical issuingDistributionPoint
  // (§5.2.5) whose fullName is this URI and that restricts nothing else
  // (a base CRL names its own URL; a delta CRL its base's, §5.2.4: both
  // have the same scope).
  std::string distribution_point;
  // freshest_url, when not empty: a freshestCRL extension (§5.2.6) naming
  // where the delta CRL is.
  std::string freshest_url;
  std::vector<RevokedEntry> entries;
};

// BuildCrl returns the DER CRL `spec` describes, issued in the name of
// `issuer` (issuer name = its subject, authorityKeyIdentifier = its subject
// key identifier) and signed with `signing_key` of type `signing_type`
// (normally `issuer`'s own key; another key makes a forged CRL). Entries
// are sorted by serial number. Fails with kCrypto when OpenSSL refuses and
// kUsage for an entry without a certificate.
base::Result<base::Bytes, MkError> BuildCrl(const CrlSpec& spec,
                                            const Credential& issuer,
                                            EVP_PKEY* signing_key,
                                            KeyType signing_type);

// OcspCertStatus is a SingleResponse certStatus (RFC 6960 §4.2.1).
enum class OcspCertStatus { kGood, kRevoked, kUnknown };

// OcspResponseSpec describes a successful BasicOCSPResponse about one
// certificate.
struct OcspResponseSpec {
  OcspCertStatus status = OcspCertStatus::kGood;
  int64_t produced_at = 0;  // Unix seconds
  int64_t this_update = 0;
  std::optional<int64_t> next_update;
  // For kRevoked: revocationTime and the optional revocationReason.
  int64_t revocation_time = 0;
  std::optional<CrlReason> reason;
};

// BuildOcspResponse returns the DER OCSPResponse (responseStatus
// successful, id-pkix-ocsp-basic) with one SingleResponse for `cert` issued
// by `issuer` (CertID with SHA-1, as in the request Notation sends), signed
// by `responder` (`issuer` itself, or a delegated responder it issued with
// LeafUsage::kOcspSigning) with its digest (SignatureDigestFor), the
// responder named by its subject and, when delegated, its certificate
// embedded (Notation reads an embedded certificate as a delegated
// responder's). No nonce.
// Fails with kCrypto when OpenSSL refuses.
base::Result<base::Bytes, MkError> BuildOcspResponse(
    const OcspResponseSpec& spec, const Credential& cert,
    const Credential& issuer, const Credential& responder);

// OcspRequestDer returns the DER OCSPRequest Notation sends for `cert`
// issued by `issuer` (golang.org/x/crypto/ocsp CreateRequest with SHA-1, as
// notation-core-go v1.3 revocation/internal/ocsp executeOCSPCheck calls
// it): one Request whose CertID has hashAlgorithm sha1 with NULL
// parameters, the SHA-1 of the issuer's subject and of its public key bits,
// and the serial number; no version, requestor name, extensions or
// signature.
base::Result<base::Bytes, MkError> OcspRequestDer(const Credential& cert,
                                                  const Credential& issuer);

// OcspGetPathElement returns what Notation appends to a responder URL to GET
// `request` (RFC 6960 Appendix A.1; notation-core-go executeOCSPCheck):
// Go's url.QueryEscape of the standard base64 (with padding) of the DER,
// i.e. '+', '/' and '=' written %2B, %2F and %3D. Notation uses GET only
// when this is shorter than 255 characters (and POSTs otherwise).
std::string OcspGetPathElement(base::ByteView request);

}  // namespace trustgate::mkmirror
