#pragma once

// RFC 3161 timestamp countersignatures of Notary Project signatures
// (signature-specification.md "Timestamp Signature";
// trust-store-trust-policy.md "Timestamp Countersignature Verification
// details"), with the exact behaviour of notation-go's verifyTimestamp:
// tspclient-go (ParseSignedToken, SignedToken.Verify, TSTInfo.Validate) and
// notation-core-go (x509.ValidateTimestampingCertChain). Revocation of the
// TSA chain is the caller's (it gets the chain). Time is never read here:
// the only time that matters is the token's own genTime.

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/time.h"
#include "crypto/certificate.h"
#include "crypto/error.h"

namespace trustgate::crypto {

// kMaxTimestampTokenBytes bounds a token: tspclient-go reads at most 1 MiB
// of a TSA's HTTP response (http.go maxBodyLength), so no token Notation
// obtained is larger.
inline constexpr size_t kMaxTimestampTokenBytes = size_t{1} << 20;
// kMaxTimestampCertificates bounds the certificates a token may carry.
inline constexpr size_t kMaxTimestampCertificates = 100;

// kBaselineTimestampPolicy is the RFC 3628 §5.2 baseline time-stamp policy
// under which a token without accuracy means an accuracy of one second.
inline constexpr std::string_view kBaselineTimestampPolicy = "0.4.0.2023.1.1";

// TimestampContents is what a token says, once its CMS signature has been
// verified with the signer certificate the token itself carries and its
// message imprint matched. It is authenticated by nothing else: the signer
// is NOT yet trusted (VerifyTimestampToken adds that).
struct TimestampContents {
  // gen_time: TSTInfo.genTime rounded down to the microsecond.
  base::Time gen_time{};
  // accuracy: the effective accuracy (TSTInfo.accuracy seconds + millis +
  // micros; when all are absent or zero, one second under the baseline
  // policy, else zero; tspclient-go TSTInfo.Validate).
  std::chrono::microseconds accuracy{0};
  // earliest / latest: genTime - accuracy rounded down and genTime +
  // accuracy rounded up to the microsecond. Certificate validity times are
  // whole seconds, so comparing these with them is exact even when genTime
  // has sub-microsecond digits.
  base::Time earliest{};
  base::Time latest{};
  std::string policy;      // TSTInfo.policy, dotted OID
  std::string serial_hex;  // TSTInfo.serialNumber, lowercase hex magnitude
  CertificatePtr signer;   // the embedded certificate that signed the token
  std::vector<CertificatePtr> certificates;  // every embedded certificate
};

// TimestampProof is a verified timestamp: the token's signature verifies
// with a TSA certificate whose chain leads to one of the trusted TSA roots.
struct TimestampProof {
  base::Time gen_time{};                  // as in TimestampContents
  std::chrono::microseconds accuracy{0};  // effective accuracy
  base::Time earliest{};                  // genTime - accuracy (floor)
  base::Time latest{};                    // genTime + accuracy (ceil)
  std::string policy;                     // TSTInfo.policy, dotted OID
  std::string serial_hex;                 // TSTInfo.serialNumber
  // tsa_chain: leaf first, ending at the trusted root (what the caller
  // checks for revocation).
  std::vector<CertificatePtr> tsa_chain;
  // tsa_subject: the TSA leaf's subject (RFC 4514, Go order).
  std::string tsa_subject;
};

// VerifyTimestampTokenSignature parses `token_der` (the decoded
// io.cncf.notary.timestampSignature: a CMS ContentInfo holding SignedData)
// and checks everything that needs no trust anchor, in this order, never
// looking at the TSTInfo before the CMS signature verified:
//  - size (kTooLarge above kMaxTimestampTokenBytes or
//    kMaxTimestampCertificates certificates); DER/BER with definite lengths
//    only and nothing after the ContentInfo, SignedData version 3, exactly
//    one SignerInfo of version 1 identified by issuer and serial number,
//    every embedded certificate parses (kMalformed);
//  - eContentType id-ct-TSTInfo (kBadContentType);
//  - the signer is an embedded certificate (kTsaSignerCertificate) with an
//    RSA 2048/3072/4096 or EC P-256/384/521 key (kUnsupportedKey); digest
//    SHA-256/384/512 and a signature algorithm tspclient-go knows
//    (kUnsupportedAlgorithm);
//  - signed attributes present (kMissingAttribute) and the signature over
//    them verifies (kBadSignature);
//  - content-type attribute equals the eContentType (kMissingAttribute,
//    kBadContentType), message-digest attribute equals the digest of the
//    TSTInfo (kMissingAttribute, kBadSignature);
//  - signing-certificate-v2 present (kMissingAttribute) and its first
//    ESSCertIDv2 names the signer: hash (SHA-256 default, SHA-384/512) over
//    the signer's DER and, when present, issuer and serial
//    (kUnsupportedAlgorithm, kTsaSignerCertificate);
//  - TSTInfo parses (kMalformed), version 1 (kBadAttribute), message imprint
//    SHA-256/384/512 (kUnsupportedAlgorithm) of `signature_bytes`
//    (kTimestampImprintMismatch), genTime as Go reads a GeneralizedTime
//    (kMalformed), accuracy components non-negative (kBadAttribute).
// Borrows its arguments for the call; the result owns everything.
base::Result<TimestampContents, CryptoError> VerifyTimestampTokenSignature(
    base::ByteView token_der, base::ByteView signature_bytes);

// VerifyTimestampToken is VerifyTimestampTokenSignature and then the TSA's
// authenticity, as notation-go does it:
//  - a chain is built with OpenSSL from the signer through the token's
//    certificates to any certificate of `tsa_roots` (the certificates of
//    the policy's `tsa` stores; any of them is an anchor, as in Go's
//    x509.VerifyOptions.Roots), no CRLs (kTsaUntrusted when there is no
//    valid one, kCaBasicConstraints, kCaKeyUsage or kPathLength when
//    OpenSSL names that reason);
//  - every certificate of that chain is valid at genTime (Go's
//    CurrentTime, inclusive bounds; kTsaCertificateNotValid) and, when it
//    has an extended key usage, allows timeStamping or any (Go's
//    checkChainForKeyUsage; kTsaUntrusted);
//  - the chain meets ValidateTimestampingCertChain: ends in a self-signed
//    root (kChainNotSelfSigned), each certificate issued by the next with
//    no self-signed one before the root (kChainBroken), CA certificates
//    with basicConstraints CA (kCaBasicConstraints), path length
//    (kPathLength), key usage present with keyCertSign (kCaKeyUsage); the
//    leaf not a CA (kLeafIsCa), key usage present with digitalSignature
//    and no CA/encipherment bits (kLeafKeyUsage), extended key usage
//    exactly timeStamping and critical (kLeafExtendedKeyUsage), key
//    RSA 2048/3072/4096 or EC P-256/384/521 (kUnsupportedKey);
//  - a signing-time signed attribute, when present, lies inside every
//    chain certificate's validity (tspclient-go; kTsaCertificateNotValid).
// Whether the interval fits the signing certificates is the caller's
// question (WithinValidity). Thread-safe; borrows its arguments.
base::Result<TimestampProof, CryptoError> VerifyTimestampToken(
    base::ByteView token_der, base::ByteView signature_bytes,
    std::span<const CertificatePtr> tsa_roots);

// WithinValidity is true when the whole interval [genTime - accuracy,
// genTime + accuracy] lies inside `cert`'s validity, bounds included
// (tspclient-go Timestamp.BoundedAfter(notBefore) &&
// BoundedBefore(notAfter), as notation-go checks every signing
// certificate).
bool WithinValidity(const TimestampProof& proof, const Certificate& cert);

}  // namespace trustgate::crypto
