#include "tools/mkmirror/pki.h"

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

namespace trustgate::mkmirror {
namespace {

using UniqueX509Name =
    std::unique_ptr<X509_NAME, crypto::OsslDeleter<X509_NAME_free>>;
using UniqueX509Extension =
    std::unique_ptr<X509_EXTENSION, crypto::OsslDeleter<X509_EXTENSION_free>>;
using UniqueAsn1Integer =
    std::unique_ptr<ASN1_INTEGER, crypto::OsslDeleter<ASN1_INTEGER_free>>;

base::Error<MkError> CryptoFailure(std::string what) {
  return base::MakeError(MkError::kCrypto, "OpenSSL failed: " + what);
}

const char* ExtendedKeyUsageFor(LeafUsage usage) {
  switch (usage) {
    case LeafUsage::kTimeStamping:
      return "critical,timeStamping";
    case LeafUsage::kOcspSigning:
      return "OCSPSigning";
    case LeafUsage::kCodeSigning:
    case LeafUsage::kCertSignOnly:
      break;
  }
  return "codeSigning";
}

bool AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  UniqueX509Extension ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  return ext != nullptr && X509_add_ext(cert, ext.get(), -1) == 1;
}

}  // namespace

const EVP_MD* SignatureDigestFor(KeyType type) {
  // The digest follows the key size.
  switch (type) {
    case KeyType::kEc384:
    case KeyType::kRsa3072:
      return EVP_sha384();
    case KeyType::kEc521:
    case KeyType::kRsa4096:
      return EVP_sha512();
    default:
      return EVP_sha256();
  }
}

std::string_view ToString(KeyType type) {
  switch (type) {
    case KeyType::kEc256:
      return "ec256";
    case KeyType::kEc384:
      return "ec384";
    case KeyType::kEc521:
      return "ec521";
    case KeyType::kRsa1024:
      return "rsa1024";
    case KeyType::kRsa2048:
      return "rsa2048";
    case KeyType::kRsa3072:
      return "rsa3072";
    case KeyType::kRsa4096:
      return "rsa4096";
  }
  return "unknown";
}

std::optional<KeyType> KeyTypeFromName(std::string_view name) {
  for (KeyType t : {KeyType::kEc256, KeyType::kEc384, KeyType::kEc521,
                    KeyType::kRsa2048, KeyType::kRsa3072, KeyType::kRsa4096}) {
    if (ToString(t) == name) {
      return t;
    }
  }
  return std::nullopt;
}

bool IsRsa(KeyType type) {
  return type == KeyType::kRsa1024 || type == KeyType::kRsa2048 ||
         type == KeyType::kRsa3072 || type == KeyType::kRsa4096;
}

base::Result<crypto::UniqueEvpPkey, MkError> GenerateKey(KeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::kEc256:
      key = EVP_EC_gen("P-256");
      break;
    case KeyType::kEc384:
      key = EVP_EC_gen("P-384");
      break;
    case KeyType::kEc521:
      key = EVP_EC_gen("P-521");
      break;
    case KeyType::kRsa1024:
      key = EVP_RSA_gen(1024);
      break;
    case KeyType::kRsa2048:
      key = EVP_RSA_gen(2048);
      break;
    case KeyType::kRsa3072:
      key = EVP_RSA_gen(3072);
      break;
    case KeyType::kRsa4096:
      key = EVP_RSA_gen(4096);
      break;
  }
  if (key == nullptr) {
    return CryptoFailure("key generation (" + std::string(ToString(type)) +
                         ")");
  }
  return crypto::UniqueEvpPkey(key);
}

std::string FormatDn(const DistinguishedName& dn) {
  std::string out;
  for (const auto& [attr, value] : dn) {
    if (!out.empty()) {
      out += ", ";
    }
    out += attr + "=" + value;
  }
  return out;
}

base::Result<std::unique_ptr<Credential>, MkError> IssueCertificate(
    const CertSpec& spec, KeyType type, const Credential* issuer) {
  auto credential = std::make_unique<Credential>();
  credential->type = type;
  credential->subject = spec.subject;
  TG_ASSIGN_OR_RETURN(credential->key, GenerateKey(type));

  crypto::UniqueX509 cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return CryptoFailure("X509_new");
  }
  // RFC 5280 §4.1.2.2: positive, at most 20 octets.
  uint8_t serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) {
    return CryptoFailure("RAND_bytes");
  }
  serial_bytes[0] = static_cast<uint8_t>((serial_bytes[0] & 0x7f) | 0x10);
  crypto::UniqueBignum serial_bn(
      BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  UniqueAsn1Integer serial(
      serial_bn ? BN_to_ASN1_INTEGER(serial_bn.get(), nullptr) : nullptr);
  if (!serial || X509_set_serialNumber(cert.get(), serial.get()) != 1) {
    return CryptoFailure("serial number");
  }

  UniqueX509Name name(X509_NAME_new());
  for (const auto& [attr, value] : spec.subject) {
    if (X509_NAME_add_entry_by_txt(
            name.get(), attr.c_str(), MBSTRING_UTF8,
            reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
            0) != 1) {
      return CryptoFailure("subject attribute " + attr);
    }
  }
  if (X509_set_subject_name(cert.get(), name.get()) != 1 ||
      X509_set_issuer_name(cert.get(),
                           issuer ? X509_get_subject_name(issuer->cert.get())
                                  : name.get()) != 1) {
    return CryptoFailure("names");
  }
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                    static_cast<time_t>(spec.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                    static_cast<time_t>(spec.not_after)) == nullptr) {
    return CryptoFailure("validity");
  }
  if (X509_set_pubkey(cert.get(), credential->key.get()) != 1) {
    return CryptoFailure("public key");
  }

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer->cert.get() : cert.get(), cert.get(),
                 nullptr, nullptr, 0);
  bool ok = true;
  switch (spec.role) {
    case CertRole::kRoot:
      // RFC 5280 §4.2.1.9 / §4.2.1.3: CA, keyCertSign + cRLSign, critical.
      ok = AddExtension(cert.get(), &ctx, NID_basic_constraints,
                        "critical,CA:TRUE") &&
           AddExtension(cert.get(), &ctx, NID_key_usage,
                        "critical,keyCertSign,cRLSign") &&
           AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
      break;
    case CertRole::kIntermediate:
      ok = AddExtension(
               cert.get(), &ctx, NID_basic_constraints,
               ("critical,CA:TRUE,pathlen:" + std::to_string(spec.path_length))
                   .c_str()) &&
           AddExtension(cert.get(), &ctx, NID_key_usage,
                        "critical,keyCertSign,cRLSign") &&
           AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash") &&
           AddExtension(cert.get(), &ctx, NID_authority_key_identifier,
                        "keyid:always");
      break;
    case CertRole::kLeaf:
      // signature-specification.md, Certificate Requirements: leaf key
      // usage digitalSignature (critical), EKU id-kp-codeSigning. TSA
      // leaves: EKU timeStamping only, critical (RFC 3161 §2.3).
      ok = AddExtension(cert.get(), &ctx, NID_basic_constraints,
                        "critical,CA:FALSE") &&
           AddExtension(cert.get(), &ctx, NID_key_usage,
                        spec.leaf_usage == LeafUsage::kCertSignOnly
                            ? "critical,keyCertSign"
                            : "critical,digitalSignature") &&
           AddExtension(cert.get(), &ctx, NID_ext_key_usage,
                        ExtendedKeyUsageFor(spec.leaf_usage)) &&
           AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash") &&
           (issuer == nullptr ||
            AddExtension(cert.get(), &ctx, NID_authority_key_identifier,
                         "keyid:always"));
      break;
  }
  if (ok && !spec.crl_url.empty()) {
    ok = AddExtension(cert.get(), &ctx, NID_crl_distribution_points,
                      ("URI:" + spec.crl_url).c_str());
  }
  if (ok && !spec.ocsp_url.empty()) {
    ok = AddExtension(cert.get(), &ctx, NID_info_access,
                      ("OCSP;URI:" + spec.ocsp_url).c_str());
  }
  if (!ok) {
    return CryptoFailure("certificate extensions");
  }

  const Credential* signer = issuer ? issuer : credential.get();
  if (X509_sign(cert.get(), signer->key.get(),
                SignatureDigestFor(signer->type)) <= 0) {
    return CryptoFailure("certificate signature");
  }
  int der_len = i2d_X509(cert.get(), nullptr);
  if (der_len <= 0) {
    return CryptoFailure("certificate DER");
  }
  credential->der.resize(static_cast<size_t>(der_len));
  unsigned char* p = credential->der.data();
  i2d_X509(cert.get(), &p);
  credential->sha256_hex = HexDigest(HashAlgorithm::kSha256, credential->der);
  credential->cert = std::move(cert);
  return credential;
}

std::string ToPem(const Credential& credential) {
  crypto::UniqueBio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), credential.cert.get()) != 1) {
    return {};
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace trustgate::mkmirror
