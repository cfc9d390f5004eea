#include "crypto/signature.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstring>
#include <string>

#include "crypto/ossl.h"

namespace trustgate::crypto {
namespace {

// signing-scheme.md / signature-specification.md "Algorithm Selection":
// the hash that goes with each algorithm.
const char* DigestName(SignatureAlgorithm a) {
  switch (a) {
    case SignatureAlgorithm::kPs256:
    case SignatureAlgorithm::kEs256:
      return "SHA256";
    case SignatureAlgorithm::kPs384:
    case SignatureAlgorithm::kEs384:
      return "SHA384";
    case SignatureAlgorithm::kPs512:
    case SignatureAlgorithm::kEs512:
      return "SHA512";
  }
  return "";
}

bool IsRsaPss(SignatureAlgorithm a) {
  return a == SignatureAlgorithm::kPs256 || a == SignatureAlgorithm::kPs384 ||
         a == SignatureAlgorithm::kPs512;
}

// Field size in bytes of the curve an ES* algorithm uses (P-521: 66).
size_t EcFieldBytes(SignatureAlgorithm a) {
  switch (a) {
    case SignatureAlgorithm::kEs256:
      return 32;
    case SignatureAlgorithm::kEs384:
      return 48;
    case SignatureAlgorithm::kEs512:
      return 66;
    default:
      return 0;
  }
}

// BadSignature also drops whatever OpenSSL queued on this thread.
base::Error<CryptoError> BadSignature(std::string detail) {
  ERR_clear_error();
  return base::MakeError(CryptoError::kBadSignature, std::move(detail));
}

// RFC 7518 §3.4 / RFC 9053 §2.1: the signature is r||s, each exactly the
// field size, big-endian. OpenSSL wants a DER ECDSA-Sig-Value.
base::Result<base::Bytes, CryptoError> RawEcdsaToDer(base::ByteView raw,
                                                     size_t field_bytes) {
  if (raw.size() != 2 * field_bytes) {
    return BadSignature("ECDSA signature is " + std::to_string(raw.size()) +
                        " bytes; the algorithm requires exactly " +
                        std::to_string(2 * field_bytes) + " (r||s)");
  }
  const int n = static_cast<int>(field_bytes);
  UniqueBignum r(BN_bin2bn(raw.data(), n, nullptr));
  UniqueBignum s(BN_bin2bn(raw.data() + field_bytes, n, nullptr));
  UniqueEcdsaSig sig(ECDSA_SIG_new());
  if (!r || !s || !sig) {
    return BadSignature("out of memory converting ECDSA signature");
  }
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return BadSignature("cannot build ECDSA signature");
  }
  // ECDSA_SIG_set0 took ownership of r and s.
  (void)r.release();
  (void)s.release();
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0 || der == nullptr) {
    return BadSignature("cannot encode ECDSA signature");
  }
  base::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

}  // namespace

std::string_view ToString(SignatureAlgorithm a) {
  switch (a) {
    case SignatureAlgorithm::kPs256:
      return "PS256";
    case SignatureAlgorithm::kPs384:
      return "PS384";
    case SignatureAlgorithm::kPs512:
      return "PS512";
    case SignatureAlgorithm::kEs256:
      return "ES256";
    case SignatureAlgorithm::kEs384:
      return "ES384";
    case SignatureAlgorithm::kEs512:
      return "ES512";
  }
  return "unknown";
}

// signature-envelope-jws.md: `alg` is one of these RFC 7518 names.
base::Result<SignatureAlgorithm, CryptoError> AlgorithmFromJwsName(
    std::string_view name) {
  static constexpr SignatureAlgorithm kAll[] = {
      SignatureAlgorithm::kPs256, SignatureAlgorithm::kPs384,
      SignatureAlgorithm::kPs512, SignatureAlgorithm::kEs256,
      SignatureAlgorithm::kEs384, SignatureAlgorithm::kEs512};
  for (SignatureAlgorithm a : kAll) {
    if (ToString(a) == name) {
      return a;
    }
  }
  return base::MakeError(CryptoError::kUnsupportedAlgorithm,
                         "JWS alg \"" + std::string(name) +
                             "\" is not one of PS256, PS384, PS512, ES256, "
                             "ES384, ES512");
}

// signature-envelope-cose.md: algorithm ids from the IANA COSE registry.
base::Result<SignatureAlgorithm, CryptoError> AlgorithmFromCoseId(int64_t id) {
  switch (id) {
    case -37:
      return SignatureAlgorithm::kPs256;
    case -38:
      return SignatureAlgorithm::kPs384;
    case -39:
      return SignatureAlgorithm::kPs512;
    case -7:
      return SignatureAlgorithm::kEs256;
    case -35:
      return SignatureAlgorithm::kEs384;
    case -36:
      return SignatureAlgorithm::kEs512;
    default:
      break;
  }
  return base::MakeError(CryptoError::kUnsupportedAlgorithm,
                         "COSE alg " + std::to_string(id) +
                             " is not one of PS256 (-37), PS384 (-38), PS512 "
                             "(-39), ES256 (-7), ES384 (-35), ES512 (-36)");
}

// signature-specification.md "Algorithm Selection": the key decides the
// algorithm. RSA keys are sized like notation-core-go does (modulus length
// in whole bytes times 8, so 2048 means a 256-byte modulus).
base::Result<SignatureAlgorithm, CryptoError> AlgorithmForKey(
    const EVP_PKEY* key) {
  if (key == nullptr) {
    return base::MakeError(CryptoError::kUnsupportedKey, "no public key");
  }
  const int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_RSA) {
    // EVP_PKEY_get_size is the modulus length in bytes for RSA.
    const int bits = EVP_PKEY_get_size(key) * 8;
    switch (bits) {
      case 2048:
        return SignatureAlgorithm::kPs256;
      case 3072:
        return SignatureAlgorithm::kPs384;
      case 4096:
        return SignatureAlgorithm::kPs512;
      default:
        return base::MakeError(
            CryptoError::kUnsupportedKey,
            "RSA key of " + std::to_string(EVP_PKEY_get_bits(key)) +
                " bits; the signing scheme allows only 2048, 3072 or 4096");
    }
  }
  if (id == EVP_PKEY_EC) {
    char group[64] = {0};
    size_t group_len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof(group), &group_len) != 1) {
      return base::MakeError(CryptoError::kUnsupportedKey,
                             "EC key with explicit or unknown curve "
                             "parameters; only named P-256, P-384, P-521");
    }
    std::string_view name(group, group_len);
    if (name == "prime256v1" || name == "P-256") {
      return SignatureAlgorithm::kEs256;
    }
    if (name == "secp384r1" || name == "P-384") {
      return SignatureAlgorithm::kEs384;
    }
    if (name == "secp521r1" || name == "P-521") {
      return SignatureAlgorithm::kEs512;
    }
    return base::MakeError(CryptoError::kUnsupportedKey,
                           "EC curve " + std::string(name) +
                               " is not allowed; only P-256, P-384, P-521");
  }
  return base::MakeError(CryptoError::kUnsupportedKey,
                         "key type is neither RSA nor EC (RSA-PSS-only, "
                         "EdDSA and other keys are not allowed)");
}

base::Status<CryptoError> VerifySignature(SignatureAlgorithm algorithm,
                                          const EVP_PKEY* key,
                                          base::ByteView message,
                                          base::ByteView signature) {
  return VerifySignature(algorithm, key, message, signature,
                         PssSaltLength::kEqualsHash);
}

base::Status<CryptoError> VerifySignature(SignatureAlgorithm algorithm,
                                          const EVP_PKEY* key,
                                          base::ByteView message,
                                          base::ByteView signature,
                                          PssSaltLength pss_salt) {
  // signing-scheme.md: the algorithm must be the one the key implies.
  TG_ASSIGN_OR_RETURN(SignatureAlgorithm key_alg, AlgorithmForKey(key));
  if (key_alg != algorithm) {
    return base::MakeError(CryptoError::kAlgorithmKeyMismatch,
                           "algorithm " + std::string(ToString(algorithm)) +
                               " does not match the key, which requires " +
                               std::string(ToString(key_alg)));
  }
  // EVP_DigestVerifyInit_ex takes a non-const key but only up-refs and
  // reads it.
  EVP_PKEY* pkey = const_cast<EVP_PKEY*>(key);
  base::Bytes der_sig;
  base::ByteView to_check = signature;
  if (IsRsaPss(algorithm)) {
    // RFC 8017 §8.1.2 step 1: the signature is exactly k bytes (Go's
    // rsa.VerifyPSS insists too; OpenSSL alone would accept shorter ones).
    if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key))) {
      return BadSignature("RSA-PSS signature is " +
                          std::to_string(signature.size()) +
                          " bytes; the key's modulus is " +
                          std::to_string(EVP_PKEY_get_size(key)));
    }
  } else {
    TG_ASSIGN_OR_RETURN(der_sig,
                        RawEcdsaToDer(signature, EcFieldBytes(algorithm)));
    to_check = der_sig;
  }

  UniqueEvpMdCtx ctx(EVP_MD_CTX_new());
  if (!ctx) {
    return BadSignature("out of memory");
  }
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestVerifyInit_ex(ctx.get(), &pctx, DigestName(algorithm), nullptr,
                              nullptr, pkey, nullptr) != 1) {
    return BadSignature("cannot initialise verification");
  }
  if (IsRsaPss(algorithm)) {
    // signing-scheme.md: RSASSA-PSS, MGF1 with the same hash, salt length
    // equal to the hash length (RFC 7518 §3.5).
    const int salt = pss_salt == PssSaltLength::kEqualsHash
                         ? RSA_PSS_SALTLEN_DIGEST
                         : RSA_PSS_SALTLEN_AUTO;
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, DigestName(algorithm),
                                          nullptr) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) != 1) {
      return BadSignature("cannot configure RSA-PSS");
    }
  }
  const int rc = EVP_DigestVerify(ctx.get(), to_check.data(), to_check.size(),
                                  message.data(), message.size());
  // Leave nothing on this thread's OpenSSL error queue for other callers.
  ERR_clear_error();
  if (rc != 1) {
    return BadSignature(std::string(ToString(algorithm)) +
                        " signature does not verify with the key");
  }
  return base::Ok{};
}

}  // namespace trustgate::crypto
