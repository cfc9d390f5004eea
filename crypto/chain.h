#pragma once

// Rules for the certificate chain embedded in a signature envelope
// (Notary Project signature-specification.md, "Certificate Requirements";
// notation-core-go x509 ValidateCodeSigningCertChain). Time is an input.

#include <optional>
#include <span>

#include "base/result.h"
#include "base/time.h"
#include "crypto/certificate.h"
#include "crypto/error.h"

namespace trustgate::crypto {

// ValidateSigningChain checks a leaf-first embedded chain: non-empty; a
// single certificate must be self-signed; otherwise each certificate is
// issued by the next and the last is a self-signed root; CA certificates
// have basicConstraints CA and keyCertSign and respect path length; the
// leaf meets the code-signing key usage / EKU rules. Validity periods are
// not checked here.
base::Status<CryptoError> ValidateSigningChain(
    std::span<const CertificatePtr> chain);

// FirstCertificateInvalidAt returns the index of the first certificate of
// `chain` not valid at `t`, or nullopt when all are.
std::optional<size_t> FirstCertificateInvalidAt(
    std::span<const CertificatePtr> chain, base::Time t);

}  // namespace trustgate::crypto
