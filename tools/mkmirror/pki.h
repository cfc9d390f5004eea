#pragma once

// Test PKI for mkmirror: keys of every Notary Project type (plus a weak one
// for negative cases), root and intermediate CAs and code-signing leaves,
// all issued with OpenSSL. Key generation draws from OpenSSL's RNG; call
// ReseedRng (drbg.h) first for reproducible keys.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/ossl.h"
#include "tools/mkmirror/util.h"

namespace trustgate::mkmirror {

// KeyType is a signing key kind. kRsa1024 exists only for the negative case
// (signing-scheme.md allows RSA 2048/3072/4096 and P-256/384/521 only).
enum class KeyType {
  kEc256,
  kEc384,
  kEc521,
  kRsa1024,
  kRsa2048,
  kRsa3072,
  kRsa4096
};

// ToString returns the command-line name ("ec256", "rsa3072", ...).
std::string_view ToString(KeyType type);

// KeyTypeFromName parses a command-line name; nullopt if unknown.
std::optional<KeyType> KeyTypeFromName(std::string_view name);

// IsRsa tells whether `type` is an RSA key.
bool IsRsa(KeyType type);

// GenerateKey makes a new key of `type`.
base::Result<crypto::UniqueEvpPkey, MkError> GenerateKey(KeyType type);

// DistinguishedName is an ordered list of (short name, value) RDNs, e.g.
// {{"C","US"},{"ST","WA"},{"O","Acme Corp"}}; one attribute per RDN.
using DistinguishedName = std::vector<std::pair<std::string, std::string>>;

// FormatDn renders `dn` the way trust policies write it: "C=US, ST=WA, ...".
std::string FormatDn(const DistinguishedName& dn);

// CertRole is what a certificate is for; it decides the extensions.
enum class CertRole { kRoot, kIntermediate, kLeaf };

// LeafUsage selects a leaf's key usage: kCodeSigning is the valid one
// (digitalSignature, critical; EKU codeSigning); kCertSignOnly is the
// negative case (keyCertSign without digitalSignature); kTimeStamping is a
// TSA signing certificate (digitalSignature, critical; EKU timeStamping
// alone and critical: RFC 3161 §2.3, signature-specification.md "Timestamp
// certificate requirements"); kOcspSigning a delegated OCSP responder
// (digitalSignature, critical; EKU id-kp-OCSPSigning: RFC 6960 §4.2.2.2).
enum class LeafUsage {
  kCodeSigning,
  kCertSignOnly,
  kTimeStamping,
  kOcspSigning
};

// CertSpec describes a certificate to issue.
struct CertSpec {
  DistinguishedName subject;
  int64_t not_before = 0;  // Unix seconds
  int64_t not_after = 0;   // Unix seconds
  CertRole role = CertRole::kLeaf;
  LeafUsage leaf_usage = LeafUsage::kCodeSigning;
  // crl_url, when set, becomes a CRL distribution point (RFC 5280
  // §4.2.1.13); ocsp_url an OCSP responder in authority information
  // access (§4.2.2.1).
  std::string crl_url;
  std::string ocsp_url;
  // path_length: an intermediate's pathLenConstraint (RFC 5280 §4.2.1.9),
  // the number of CA certificates allowed below it.
  int path_length = 0;
};

// Credential is a key with its certificate.
struct Credential {
  KeyType type = KeyType::kEc256;
  crypto::UniqueEvpPkey key;
  crypto::UniqueX509 cert;
  base::Bytes der;         // the certificate's DER
  std::string sha256_hex;  // SHA-256 of der, lowercase hex
  DistinguishedName subject;
};

// IssueCertificate generates a key of `type` and a certificate for it per
// `spec`, signed by `issuer` (self-signed when null). Serial numbers are
// 128-bit values from the RNG.
base::Result<std::unique_ptr<Credential>, MkError> IssueCertificate(
    const CertSpec& spec, KeyType type, const Credential* issuer);

// SignatureDigestFor returns the digest a key of `type` signs certificates,
// CRLs and OCSP responses with (SHA-256, or SHA-384 / SHA-512 for the
// larger keys).
const EVP_MD* SignatureDigestFor(KeyType type);

// ToPem returns the PEM encoding of `credential`'s certificate.
std::string ToPem(const Credential& credential);

}  // namespace trustgate::mkmirror
