#pragma once

// Certificate: one parsed X.509 certificate that owns its DER and exposes
// exactly what the Notary Project rules need.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/time.h"
#include "crypto/error.h"
#include "crypto/ossl.h"

namespace trustgate::crypto {

// KeyUsage bits (RFC 5280 §4.2.1.3), as a bit set.
enum KeyUsageBit : uint32_t {
  kKuDigitalSignature = 1u << 0,
  kKuNonRepudiation = 1u << 1,
  kKuKeyEncipherment = 1u << 2,
  kKuDataEncipherment = 1u << 3,
  kKuKeyAgreement = 1u << 4,
  kKuKeyCertSign = 1u << 5,
  kKuCrlSign = 1u << 6,
  kKuEncipherOnly = 1u << 7,
  kKuDecipherOnly = 1u << 8,
};

// ExtendedKeyUsage is the closed set of EKU purposes the rules name.
enum class ExtendedKeyUsage {
  kServerAuth,
  kClientAuth,
  kCodeSigning,
  kEmailProtection,
  kTimeStamping,
  kOcspSigning,
  kAny,
  kOther,
};

// DnAttribute is one attribute of a distinguished name, type as Go's
// pkix.Name.String() spells it (C, ST, L, O, OU, CN, SERIALNUMBER, STREET,
// POSTALCODE; other types as a dotted OID).
struct DnAttribute {
  std::string type;
  std::string value;
  friend bool operator==(const DnAttribute&, const DnAttribute&) = default;
};

class Certificate;
using CertificatePtr = std::shared_ptr<const Certificate>;

class Certificate {
 public:
  // FromDer parses one DER certificate (copied). Trailing bytes fail, and so
  // does anything Go's x509.ParseCertificate refuses that matters here:
  // name values that are not PrintableString / UTF8String / IA5String /
  // T61String / BMPString / NumericString (or invalid for their type),
  // malformed validity times, duplicate extensions, malformed basic
  // constraints / key usage / extended key usage, negative serial numbers,
  // EC keys outside P-224/256/384/521. Fails with kMalformed.
  static base::Result<CertificatePtr, CryptoError> FromDer(base::ByteView der);
  // FromFileBytes parses a file's content as notation-core-go's
  // ReadCertificateFile does: if there is any PEM block, every PEM block
  // (text around them is ignored) must be a certificate; otherwise the
  // bytes must be one or more concatenated DER certificates. Fails with
  // kMalformed on anything else or on zero certificates, kTooLarge above
  // 1000 certificates.
  static base::Result<std::vector<CertificatePtr>, CryptoError> FromFileBytes(
      base::ByteView bytes);

  X509* x509() const { return x509_.get(); }
  // der returns the exact encoding (what trust-store identity compares).
  base::ByteView der() const { return der_; }
  const std::array<uint8_t, 32>& sha256() const { return sha256_; }
  // Sha256Hex is the lowercase hex SHA-256 fingerprint of der().
  std::string Sha256Hex() const;

  // subject/issuer attributes in RFC 4514 string order (most specific
  // first, as Go prints "CN=e2e,O=Notary,L=Seattle,ST=WA,C=US").
  const std::vector<DnAttribute>& subject() const { return subject_; }
  // SubjectString / IssuerString print those as RFC 4514 with escapes.
  const std::string& SubjectString() const { return subject_string_; }
  const std::string& IssuerString() const { return issuer_string_; }
  // subject_multi_valued is true if any RDN of SubjectString() has several
  // attributes. As in Go's pkix.Name.String(), that happens when a type of
  // C, ST, L, STREET, POSTALCODE, O or OU occurs more than once (the
  // certificate's own RDN grouping is flattened, as Go flattens it).
  bool subject_multi_valued() const { return subject_multi_valued_; }
  // subject_der / issuer_der are the exact encoded names.
  base::ByteView subject_der() const { return subject_der_; }
  base::ByteView issuer_der() const { return issuer_der_; }
  // version is the X.509 version (1, 2 or 3).
  int version() const { return version_; }

  base::Time not_before() const { return not_before_; }
  base::Time not_after() const { return not_after_; }
  // ValidAt is true when not_before <= t <= not_after.
  bool ValidAt(base::Time t) const;

  EVP_PKEY* public_key() const;

  // is_ca: basicConstraints present with cA TRUE.
  bool is_ca() const { return is_ca_; }
  bool has_basic_constraints() const { return has_basic_constraints_; }
  // path_len: pathLenConstraint, when present.
  std::optional<int> path_len() const { return path_len_; }
  bool has_key_usage() const { return has_key_usage_; }
  bool key_usage_critical() const { return key_usage_critical_; }
  uint32_t key_usage() const { return key_usage_; }  // KeyUsageBit set
  bool has_extended_key_usage() const { return !eku_.empty(); }
  bool extended_key_usage_critical() const { return eku_critical_; }
  const std::vector<ExtendedKeyUsage>& extended_key_usage() const {
    return eku_;
  }
  // self_issued: subject == issuer (byte-wise on the encoded names).
  bool self_issued() const { return self_issued_; }
  // IsIssuedBy: issuer name equals `issuer`'s subject (byte-wise) and the
  // signature verifies with `issuer`'s key. Like Go's CheckSignature, only
  // RSA PKCS#1 v1.5 / ECDSA with SHA-256/384/512, RSASSA-PSS with matching
  // MGF1 hash and salt = hash length, and Ed25519 signatures are accepted
  // (MD5, SHA-1 and DSA never). It does not look at the issuer's basic
  // constraints or key usage (chain.h does). Thread-safe.
  bool IsIssuedBy(const Certificate& issuer) const;
  // IsSelfSigned: self-issued and verifies with its own key.
  bool IsSelfSigned() const;

 private:
  Certificate() = default;
  UniqueX509 x509_;
  base::Bytes der_;
  base::Bytes subject_der_;
  base::Bytes issuer_der_;
  int version_ = 3;
  bool signature_algorithm_ok_ = false;
  std::array<uint8_t, 32> sha256_{};
  std::vector<DnAttribute> subject_;
  std::string subject_string_;
  std::string issuer_string_;
  bool subject_multi_valued_ = false;
  base::Time not_before_{};
  base::Time not_after_{};
  bool is_ca_ = false;
  bool has_basic_constraints_ = false;
  std::optional<int> path_len_;
  bool has_key_usage_ = false;
  bool key_usage_critical_ = false;
  uint32_t key_usage_ = 0;
  std::vector<ExtendedKeyUsage> eku_;
  bool eku_critical_ = false;
  bool self_issued_ = false;
};

}  // namespace trustgate::crypto
