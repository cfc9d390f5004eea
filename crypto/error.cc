#include "crypto/error.h"

namespace trustgate::crypto {

// The names are part of the output format: never change a spelling.
std::string_view ToString(CryptoError e) {
  switch (e) {
    case CryptoError::kMalformed:
      return "malformed";
    case CryptoError::kTooLarge:
      return "too-large";
    case CryptoError::kUnsupportedAlgorithm:
      return "unsupported-algorithm";
    case CryptoError::kUnsupportedKey:
      return "unsupported-key";
    case CryptoError::kAlgorithmKeyMismatch:
      return "algorithm-key-mismatch";
    case CryptoError::kBadSignature:
      return "bad-signature";
    case CryptoError::kMissingAttribute:
      return "missing-attribute";
    case CryptoError::kBadAttribute:
      return "bad-attribute";
    case CryptoError::kUnknownCritical:
      return "unknown-critical";
    case CryptoError::kBadContentType:
      return "bad-content-type";
    case CryptoError::kChainEmpty:
      return "chain-empty";
    case CryptoError::kChainBroken:
      return "chain-broken";
    case CryptoError::kChainNotSelfSigned:
      return "chain-not-self-signed";
    case CryptoError::kLeafKeyUsage:
      return "leaf-key-usage";
    case CryptoError::kLeafExtendedKeyUsage:
      return "leaf-extended-key-usage";
    case CryptoError::kCaBasicConstraints:
      return "ca-basic-constraints";
    case CryptoError::kCaKeyUsage:
      return "ca-key-usage";
    case CryptoError::kPathLength:
      return "path-length";
    case CryptoError::kLeafIsCa:
      return "leaf-is-ca";
    case CryptoError::kDuplicateKey:
      return "duplicate-key";
    case CryptoError::kTimestampImprintMismatch:
      return "timestamp-imprint-mismatch";
    case CryptoError::kTsaSignerCertificate:
      return "tsa-signer-certificate";
    case CryptoError::kTsaUntrusted:
      return "tsa-untrusted";
    case CryptoError::kTsaCertificateNotValid:
      return "tsa-certificate-not-valid";
    case CryptoError::kRevocationExpired:
      return "revocation-expired";
    case CryptoError::kRevocationIssuerMismatch:
      return "revocation-issuer-mismatch";
    case CryptoError::kRevocationSignerUnauthorized:
      return "revocation-signer-unauthorized";
    case CryptoError::kDeltaCrlMismatch:
      return "delta-crl-mismatch";
    case CryptoError::kCrlScope:
      return "crl-scope";
    case CryptoError::kOcspResponseStatus:
      return "ocsp-response-status";
    case CryptoError::kOcspNoMatchingResponse:
      return "ocsp-no-matching-response";
    case CryptoError::kOcspStatusUnknown:
      return "ocsp-status-unknown";
    case CryptoError::kUnsupportedRevocationUrl:
      return "unsupported-revocation-url";
  }
  return "unknown";
}

}  // namespace trustgate::crypto
