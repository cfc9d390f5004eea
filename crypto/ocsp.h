#pragma once

// OCSP (RFC 6960) request building and response evaluation with Notation's
// semantics (notation-core-go v1.3 revocation/internal/ocsp over
// golang.org/x/crypto/ocsp). Pure functions: no network, no clock. The
// result types (RevocationStatus, CertRevocation) are in crypto/crl.h.
//
// As for CRLs, we are stricter than Notation where it skips a check RFC
// 6960 requires for trusting a response, and never laxer; each such place
// says "stricter than notation-core-go".

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/time.h"
#include "crypto/certificate.h"
#include "crypto/crl.h"
#include "crypto/error.h"

namespace trustgate::crypto {

// kMaxOcspResponseSize: notation-core-go reads at most 20480 bytes of an
// OCSP response (ocspMaxResponseSize); a longer one does not parse there.
inline constexpr size_t kMaxOcspResponseSize = 20480;

// OcspResponders returns the id-ad-ocsp URIs of `cert`'s authority
// information access extension, every scheme, in order, as Go's
// crypto/x509 fills Certificate.OCSPServer (locations that are not a URI
// are skipped). Notation asks each in turn (CombineOcspResults); one that is
// not http (IsHttpUrl) gives kUnknown for that responder. Empty: the
// certificate has no OCSP information. Fails with kMalformed if the
// extension does not parse.
base::Result<std::vector<std::string>, CryptoError> OcspResponders(
    const Certificate& cert);

// BuildOcspRequest returns the DER OCSPRequest Notation sends for `cert`
// issued by `issuer`, byte for byte what golang.org/x/crypto/ocsp
// CreateRequest makes with SHA-1 (notation-core-go executeOCSPCheck): one
// request, CertID with sha1 (NULL parameters), SHA-1 of the issuer's
// encoded subject, SHA-1 of the issuer's subjectPublicKey BIT STRING
// contents, `cert`'s serial number; no version, requestor name, nonce or
// signature. Fails with kMalformed only if OpenSSL cannot encode it.
base::Result<base::Bytes, CryptoError> BuildOcspRequest(
    const Certificate& cert, const Certificate& issuer);

// OcspGetUrl returns the URL Notation GETs for `request` at responder
// `server` (RFC 6960 Appendix A.1): when the standard base64 of the request
// and its query-escaped form are both shorter than 255 characters, the
// escaped form joined to the server's path (as Go's url.JoinPath: the path
// cleaned, one "/" between). nullopt: Notation POSTs the DER instead
// (Content-Type application/ocsp-request).
std::optional<std::string> OcspGetUrl(std::string_view server,
                                      base::ByteView request);

// EvaluateOcspResponse decides `cert`'s status from one DER OCSPResponse
// from one of its responders; `issuer` is the next certificate of the
// chain, `now` the verification time and `authentic_signing_time` the
// signature's authentic signing time under notary.x509.signingAuthority
// (nullopt otherwise). Borrows everything. Never fails: anything wrong
// gives kUnknown with a code.
//
// Rules (golang.org/x/crypto/ocsp ParseResponseForCert and notation-core-go
// checkStatusFromServer unless marked):
//  - At most kMaxOcspResponseSize bytes; no bytes after the response.
//  - responseStatus successful (else kOcspResponseStatus), responseType
//    id-pkix-ocsp-basic, no bytes after the BasicOCSPResponse.
//  - The SingleResponse used is the first whose CertID has `cert`'s serial
//    number (as x/crypto chooses it); its hash algorithm must be
//    SHA-1/256/384/512 and its issuer name and key hashes the issuer's
//    (RFC 6960 §4.1.1; stricter than x/crypto, which compares the serial
//    number only). Otherwise kOcspNoMatchingResponse.
//  - Signature: when the response carries certificates, the first one is
//    the signer: it must parse, the response signature must verify with
//    its key, and it must be signed by `issuer`'s key; it must also name
//    `issuer` as its issuer and carry the id-kp-OCSPSigning extended key
//    usage unless it is `issuer` itself (RFC 6960 §4.2.2.2; stricter than
//    x/crypto, which checks neither). Without certificates the response
//    must verify with `issuer`'s key. Response signatures: RSA PKCS#1
//    v1.5 or ECDSA with SHA-1/256/384/512 (x/crypto's table). The
//    responder certificate's own validity and id-pkix-ocsp-nocheck are
//    not checked (Notation does not either).
//  - A critical singleExtension gives kUnknownCritical.
//  - nextUpdate must be present and `now` not after it (else
//    kRevocationExpired); thisUpdate and producedAt are not compared with
//    `now`; response extensions (nonce) are ignored.
//  - good: kGood. revoked: kRevoked, unless an invalidityDate
//    singleExtension parses and the authentic signing time is before it
//    (then kGood); the revocation time itself is not compared. unknown:
//    kUnknown with kOcspStatusUnknown.
CertRevocation EvaluateOcspResponse(
    base::ByteView response_der, const Certificate& cert,
    const Certificate& issuer, base::Time now,
    std::optional<base::Time> authentic_signing_time);

// IsConclusiveOcspResult is true when Notation stops asking further
// responders after `r`: the responder answered good, revoked or unknown
// (kOcspStatusUnknown). Any other kUnknown (download failure, bad
// response) moves on to the next responder.
bool IsConclusiveOcspResult(const CertRevocation& r);

// CombineOcspResults combines the per-responder results (download failures
// as kUnknown), in the order of OcspResponders(), as notation-core-go
// does: the first conclusive result decides; otherwise the last one. An
// empty list gives kUnknown. A kUnknown outcome (including the responder's
// own "unknown") makes Notation fall back to the certificate's CRLs when
// it has any (trust-store-trust-policy.md: OCSP is preferred, CRL is the
// fallback).
CertRevocation CombineOcspResults(std::span<const CertRevocation> results);

}  // namespace trustgate::crypto
