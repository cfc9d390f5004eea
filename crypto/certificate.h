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
  // FromDer parses one DER certificate (copied). Trailing bytes fail.
  static base::Result<CertificatePtr, CryptoError> FromDer(base::ByteView der);
  // FromFileBytes parses a file's content: one or more PEM CERTIFICATE
  // blocks, or one DER certificate. Fails on anything else or on zero
  // certificates.
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
  // subject_multi_valued is true if any subject RDN has several attributes.
  bool subject_multi_valued() const { return subject_multi_valued_; }

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
  // IsIssuedBy: issuer name equals `issuer`'s subject and the signature
  // verifies with `issuer`'s key.
  bool IsIssuedBy(const Certificate& issuer) const;
  // IsSelfSigned: self-issued and verifies with its own key.
  bool IsSelfSigned() const;

 private:
  Certificate() = default;
  UniqueX509 x509_;
  base::Bytes der_;
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
