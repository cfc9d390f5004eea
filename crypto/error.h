#pragma once

#include <string_view>

namespace trustgate::crypto {

// CryptoError is the stable error code of everything in crypto/. Values are
// never renumbered or reused.
enum class CryptoError {
  kMalformed = 1,              // bytes do not parse (JSON, CBOR, DER, b64)
  kTooLarge = 2,               // above a size or count bound
  kUnsupportedAlgorithm = 3,   // alg not one of PS256..PS512, ES256..ES512
  kUnsupportedKey = 4,         // key type/size outside the signing scheme
  kAlgorithmKeyMismatch = 5,   // alg does not match the leaf's key
  kBadSignature = 6,           // the signature does not verify
  kMissingAttribute = 7,       // a required header/attribute is absent
  kBadAttribute = 8,           // an attribute has the wrong type or value
  kUnknownCritical = 9,        // crit names an attribute we cannot process
  kBadContentType = 10,        // payload content type is not Notation's
  kChainEmpty = 11,            // no certificates in the envelope
  kChainBroken = 12,           // cert i is not issued by cert i+1
  kChainNotSelfSigned = 13,    // last certificate is not self-signed
  kLeafKeyUsage = 14,          // leaf key usage violates the rules
  kLeafExtendedKeyUsage = 15,  // leaf EKU violates the rules
  kCaBasicConstraints = 16,    // issuer is not a CA
  kCaKeyUsage = 17,            // issuer lacks keyCertSign
  kPathLength = 18,            // a path length constraint is exceeded
  kLeafIsCa = 19,              // leaf has basicConstraints CA:TRUE
  kDuplicateKey = 20,          // duplicate key in signed JSON/CBOR map
  // RFC 3161 timestamp tokens (crypto/timestamp.h).
  kTimestampImprintMismatch = 21,  // imprint is not over the signature
  kTsaSignerCertificate = 22,      // signer cert absent / not the ESS one
  kTsaUntrusted = 23,              // no valid chain to a trusted TSA root
  kTsaCertificateNotValid = 24,    // TSA cert not valid at genTime
  // Revocation (crypto/crl.h, crypto/ocsp.h).
  kRevocationExpired = 25,             // CRL/OCSP past (or without) nextUpdate
  kRevocationIssuerMismatch = 26,      // CRL/responder names another issuer
  kRevocationSignerUnauthorized = 27,  // issuer may not sign CRLs / no EKU
  kDeltaCrlMismatch = 28,              // delta CRL missing or not for base
  kCrlScope = 29,                      // CRL scope excludes the certificate
  kOcspResponseStatus = 30,            // OCSP responseStatus not successful
  kOcspNoMatchingResponse = 31,        // no SingleResponse for the cert
  kOcspStatusUnknown = 32,             // responder answered "unknown"
  kUnsupportedRevocationUrl = 33,      // CRL/OCSP URL is not http
};

// ToString returns the stable kebab-case name of `e`.
std::string_view ToString(CryptoError e);

}  // namespace trustgate::crypto
