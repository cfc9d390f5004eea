#include "crypto/chain.h"

#include <string>

#include "crypto/signature.h"

namespace trustgate::crypto {
namespace {

// The rules follow notation-core-go x509/codesigning_cert_validations.go
// (ValidateCodeSigningCertChain, as called by notation-go with no signing
// time) and signature-specification.md "Certificate Requirements".

base::Error<CryptoError> Fail(CryptoError code, const Certificate& cert,
                              std::string what) {
  return base::MakeError(
      code, "certificate \"" + cert.SubjectString() + "\": " + std::move(what));
}

// Go's CheckSignatureFrom refuses a parent that is a v3 certificate without
// basic constraints, whose basic constraints say cA FALSE, or whose key
// usage (when non-zero) lacks keyCertSign. notation-core-go uses that call
// (through isSelfSigned) to decide whether a non-root certificate is a
// redundant self-signed one.
bool GoCanSign(const Certificate& cert) {
  if (cert.version() == 3 && !cert.has_basic_constraints()) {
    return false;
  }
  if (cert.has_basic_constraints() && !cert.is_ca()) {
    return false;
  }
  if (cert.key_usage() != 0 && (cert.key_usage() & kKuKeyCertSign) == 0) {
    return false;
  }
  return true;
}

// signature-specification.md: "The keyUsage extension MUST be present and
// MUST be marked critical" (for both the leaf and CA certificates;
// notation-core-go validateCodeSigningKeyUsagePresent).
bool KeyUsagePresentAndCritical(const Certificate& cert) {
  return cert.has_key_usage() && cert.key_usage_critical();
}

base::Status<CryptoError> ValidateLeaf(const Certificate& leaf) {
  // RFC 5280 §4.2.1.9 / spec: if basicConstraints is present, cA is FALSE.
  if (leaf.has_basic_constraints() && leaf.is_ca()) {
    return Fail(CryptoError::kLeafIsCa, leaf,
                "the signing certificate has basicConstraints CA:TRUE; a "
                "signing certificate must not be a CA");
  }
  if (!leaf.has_key_usage()) {
    return Fail(CryptoError::kLeafKeyUsage, leaf,
                "key usage extension must be present");
  }
  if (!leaf.key_usage_critical()) {
    return Fail(CryptoError::kLeafKeyUsage, leaf,
                "key usage extension must be marked critical");
  }
  // Spec: digitalSignature set; keyCertSign, cRLSign, keyEncipherment,
  // dataEncipherment, keyAgreement, encipherOnly, decipherOnly not set
  // (nonRepudiation is allowed).
  if ((leaf.key_usage() & kKuDigitalSignature) == 0) {
    return Fail(CryptoError::kLeafKeyUsage, leaf,
                "key usage must include digitalSignature");
  }
  constexpr uint32_t kForbidden =
      kKuKeyEncipherment | kKuDataEncipherment | kKuKeyAgreement |
      kKuKeyCertSign | kKuCrlSign | kKuEncipherOnly | kKuDecipherOnly;
  if ((leaf.key_usage() & kForbidden) != 0) {
    return Fail(CryptoError::kLeafKeyUsage, leaf,
                "key usage must be digitalSignature (and optionally "
                "nonRepudiation) only");
  }
  // Spec: when present, EKU must not contain serverAuth, clientAuth,
  // emailProtection, timeStamping or OCSPSigning. codeSigning,
  // anyExtendedKeyUsage and other purposes are accepted; criticality is
  // not checked (notation-core-go validateCodeSigningExtendedKeyUsage).
  for (ExtendedKeyUsage eku : leaf.extended_key_usage()) {
    switch (eku) {
      case ExtendedKeyUsage::kServerAuth:
      case ExtendedKeyUsage::kClientAuth:
      case ExtendedKeyUsage::kEmailProtection:
      case ExtendedKeyUsage::kTimeStamping:
      case ExtendedKeyUsage::kOcspSigning:
        return Fail(CryptoError::kLeafExtendedKeyUsage, leaf,
                    "extended key usage must not contain serverAuth, "
                    "clientAuth, emailProtection, timeStamping or "
                    "OCSPSigning");
      default:
        break;
    }
  }
  // Spec "Algorithm Selection": the signing key is RSA 2048/3072/4096 or
  // EC P-256/384/521 (notation-core-go validateSignatureAlgorithm).
  auto alg = AlgorithmForKey(leaf.public_key());
  if (!alg.ok()) {
    return Fail(CryptoError::kUnsupportedKey, leaf, alg.detail());
  }
  return base::Ok{};
}

// `below` is the number of CA certificates between this one and the leaf
// (0 for the leaf's issuer).
base::Status<CryptoError> ValidateCa(const Certificate& ca, size_t below) {
  // RFC 5280 §4.2.1.9: basicConstraints with cA TRUE. (The spec text says
  // "present, critical"; notation-core-go checks presence and cA only.)
  if (!ca.has_basic_constraints() || !ca.is_ca()) {
    return Fail(CryptoError::kCaBasicConstraints, ca,
                "an issuing certificate must have basicConstraints CA:TRUE");
  }
  // RFC 5280 §4.2.1.9: pathLenConstraint bounds the CA certificates that
  // may follow it in the path.
  if (ca.path_len().has_value() &&
      static_cast<size_t>(*ca.path_len()) < below) {
    return Fail(CryptoError::kPathLength, ca,
                "path length constraint " + std::to_string(*ca.path_len()) +
                    " is exceeded by " + std::to_string(below) +
                    " intermediate certificate(s) below it");
  }
  if (!KeyUsagePresentAndCritical(ca)) {
    return Fail(CryptoError::kCaKeyUsage, ca,
                "key usage extension must be present and critical");
  }
  if ((ca.key_usage() & kKuKeyCertSign) == 0) {
    return Fail(CryptoError::kCaKeyUsage, ca,
                "key usage must include keyCertSign");
  }
  return base::Ok{};
}

}  // namespace

base::Status<CryptoError> ValidateSigningChain(
    std::span<const CertificatePtr> chain) {
  if (chain.empty()) {
    return base::MakeError(CryptoError::kChainEmpty,
                           "the signature carries no certificate");
  }
  for (const CertificatePtr& c : chain) {
    if (!c) {
      return base::MakeError(CryptoError::kChainEmpty, "null certificate");
    }
  }
  // A single certificate: self-issued and self-signed, and a valid signing
  // leaf (a self-signed certificate with CA:TRUE is refused as a leaf).
  if (chain.size() == 1) {
    const Certificate& cert = *chain[0];
    if (!cert.IsSelfSigned()) {
      return Fail(CryptoError::kChainNotSelfSigned, cert,
                  "a chain of one certificate must be self-signed");
    }
    return ValidateLeaf(cert);
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    const Certificate& cert = *chain[i];
    const bool last = i + 1 == chain.size();
    if (last) {
      // The chain ends in a self-signed root. (Go's isSelfSigned also asks
      // CheckSignatureFrom's CA questions; ValidateCa below asks stricter
      // ones of the root, so the accepted set is the same.)
      if (!cert.IsSelfSigned()) {
        return Fail(CryptoError::kChainNotSelfSigned, cert,
                    "the last certificate of the chain must be a "
                    "self-signed root");
      }
    } else {
      // No self-signed certificate before the root (a redundant root or a
      // self-signed leaf in a longer chain).
      if (GoCanSign(cert) && cert.IsSelfSigned()) {
        return Fail(CryptoError::kChainBroken, cert,
                    "a self-signed certificate may only be the last one of "
                    "the chain");
      }
      if (!cert.IsIssuedBy(*chain[i + 1])) {
        return Fail(CryptoError::kChainBroken, cert,
                    "not issued by the next certificate of the chain (\"" +
                        chain[i + 1]->SubjectString() + "\")");
      }
    }
    if (i == 0) {
      TG_RETURN_IF_ERROR(ValidateLeaf(cert));
    } else {
      TG_RETURN_IF_ERROR(ValidateCa(cert, i - 1));
    }
  }
  return base::Ok{};
}

std::optional<size_t> FirstCertificateInvalidAt(
    std::span<const CertificatePtr> chain, base::Time t) {
  for (size_t i = 0; i < chain.size(); ++i) {
    if (!chain[i] || !chain[i]->ValidAt(t)) {
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace trustgate::crypto
