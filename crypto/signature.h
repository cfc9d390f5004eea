#pragma once

// The signature-verification primitive every envelope uses (and the one
// the Wycheproof vectors are run through): Notary Project signing-scheme.md
// algorithms only.

#include <openssl/evp.h>

#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/error.h"

namespace trustgate::crypto {

// SignatureAlgorithm is the closed set of Notary Project algorithms.
enum class SignatureAlgorithm {
  kPs256,  // RSASSA-PSS SHA-256, RSA 2048
  kPs384,  // RSASSA-PSS SHA-384, RSA 3072
  kPs512,  // RSASSA-PSS SHA-512, RSA 4096
  kEs256,  // ECDSA P-256 SHA-256
  kEs384,  // ECDSA P-384 SHA-384
  kEs512,  // ECDSA P-521 SHA-512
};

// ToString returns the JWS name ("PS256", ...).
std::string_view ToString(SignatureAlgorithm a);

// AlgorithmFromJwsName maps "PS256".."ES512"; kUnsupportedAlgorithm else.
base::Result<SignatureAlgorithm, CryptoError> AlgorithmFromJwsName(
    std::string_view name);

// AlgorithmFromCoseId maps COSE ids (-37 PS256, -38 PS384, -39 PS512,
// -7 ES256, -35 ES384, -36 ES512); kUnsupportedAlgorithm else.
base::Result<SignatureAlgorithm, CryptoError> AlgorithmFromCoseId(int64_t id);

// AlgorithmForKey derives the only algorithm a key may sign with:
// RSA 2048/3072/4096 -> PS256/384/512, P-256/384/521 -> ES256/384/512.
// Any other key fails with kUnsupportedKey. Borrows `key`.
base::Result<SignatureAlgorithm, CryptoError> AlgorithmForKey(
    const EVP_PKEY* key);

// PssSaltLength selects how an RSASSA-PSS salt length is checked.
enum class PssSaltLength {
  // Salt length must equal the hash length (signing-scheme.md, RFC 7518
  // §3.5, go-cose). The default.
  kEqualsHash,
  // Any salt length the encoding carries (what notation-core-go's JWS path
  // accepts: golang-jwt verifies PS* with rsa.PSSSaltLengthAuto).
  kAuto,
};

// VerifySignature checks `signature` over `message` with `key` under
// `algorithm`. ECDSA signatures are raw r||s (IEEE P1363, as JWS and COSE
// carry them) of exactly twice the field size; RSA-PSS signatures are
// exactly the modulus length and use MGF1 with the same hash and salt
// length equal to the hash length. Fails with kUnsupportedKey when the key
// is outside the signing scheme, kAlgorithmKeyMismatch when `algorithm` is
// not the one AlgorithmForKey(key) gives, and kBadSignature on any
// malformed or non-verifying signature. Thread-safe, borrows everything.
base::Status<CryptoError> VerifySignature(SignatureAlgorithm algorithm,
                                          const EVP_PKEY* key,
                                          base::ByteView message,
                                          base::ByteView signature);

// VerifySignature as above with an explicit RSA-PSS salt-length rule
// (ignored for ECDSA).
base::Status<CryptoError> VerifySignature(SignatureAlgorithm algorithm,
                                          const EVP_PKEY* key,
                                          base::ByteView message,
                                          base::ByteView signature,
                                          PssSaltLength pss_salt);

}  // namespace trustgate::crypto
