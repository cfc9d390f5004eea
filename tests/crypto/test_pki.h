#pragma once

// Test-only helpers that make real keys, signatures and X.509 certificates
// with OpenSSL, for the crypto tests (and any other test that needs a PKI).
// Everything aborts the test binary on an OpenSSL failure: these are our
// fixtures, not inputs under test.

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "crypto/certificate.h"
#include "crypto/ossl.h"
#include "crypto/signature.h"

namespace trustgate::crypto::testpki {

[[noreturn]] inline void Die(const char* what) {
  std::fprintf(stderr, "test_pki: %s\n", what);
  ERR_print_errors_fp(stderr);
  std::abort();
}

// SharedDir is $TRUSTGATE_SHARED, else /work/shared.
inline std::string SharedDir() {
  const char* env = std::getenv("TRUSTGATE_SHARED");
  return env != nullptr && *env != '\0' ? env : "/work/shared";
}

// ReadFile returns a file's bytes, or nullopt.
inline std::optional<base::Bytes> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return base::Bytes(s.begin(), s.end());
}

// KeyKind names the keys tests use.
enum class KeyKind {
  kRsa2048,
  kRsa3072,
  kRsa4096,
  kRsa1024,
  kRsa2047,  // 2047-bit modulus: 256 bytes, Go sizes it as 2048
  kRsa2040,  // 255-byte modulus
  kP256,
  kP384,
  kP521,
  kP224,
  kSecp256k1,
  kEd25519,
};

inline UniqueEvpPkey Generate(KeyKind kind) {
  EVP_PKEY* k = nullptr;
  switch (kind) {
    case KeyKind::kRsa2048:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
      break;
    case KeyKind::kRsa3072:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{3072});
      break;
    case KeyKind::kRsa4096:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{4096});
      break;
    case KeyKind::kRsa1024:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024});
      break;
    case KeyKind::kRsa2047:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2047});
      break;
    case KeyKind::kRsa2040:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2040});
      break;
    case KeyKind::kP256:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyKind::kP384:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case KeyKind::kP521:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521");
      break;
    case KeyKind::kP224:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-224");
      break;
    case KeyKind::kSecp256k1:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp256k1");
      break;
    case KeyKind::kEd25519:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (k == nullptr) {
    Die("key generation failed");
  }
  return UniqueEvpPkey(k);
}

// Key returns a process-wide cached key of `kind` (RSA 4096 generation is
// slow). `slot` gives distinct keys of the same kind.
inline EVP_PKEY* Key(KeyKind kind, int slot = 0) {
  static std::mutex mu;
  static std::map<std::pair<KeyKind, int>, UniqueEvpPkey> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& entry = cache[{kind, slot}];
  if (!entry) {
    entry = Generate(kind);
  }
  return entry.get();
}

inline const char* DigestFor(SignatureAlgorithm a) {
  switch (a) {
    case SignatureAlgorithm::kPs256:
    case SignatureAlgorithm::kEs256:
      return "SHA256";
    case SignatureAlgorithm::kPs384:
    case SignatureAlgorithm::kEs384:
      return "SHA384";
    default:
      return "SHA512";
  }
}

inline size_t EcFieldBytes(SignatureAlgorithm a) {
  switch (a) {
    case SignatureAlgorithm::kEs256:
      return 32;
    case SignatureAlgorithm::kEs384:
      return 48;
    default:
      return 66;
  }
}

inline bool IsPss(SignatureAlgorithm a) {
  return a == SignatureAlgorithm::kPs256 || a == SignatureAlgorithm::kPs384 ||
         a == SignatureAlgorithm::kPs512;
}

// SignDer signs `msg` and returns OpenSSL's native encoding (DER for
// ECDSA). For RSA, `pss_salt` is the salt length (RSA_PSS_SALTLEN_DIGEST
// by default); `pkcs1` signs with PKCS#1 v1.5 instead of PSS.
inline base::Bytes SignNative(SignatureAlgorithm a, EVP_PKEY* key,
                              base::ByteView msg,
                              int pss_salt = RSA_PSS_SALTLEN_DIGEST,
                              bool pkcs1 = false) {
  UniqueEvpMdCtx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit_ex(ctx.get(), &pctx, DigestFor(a), nullptr, nullptr,
                            key, nullptr) != 1) {
    Die("DigestSignInit");
  }
  if (IsPss(a)) {
    if (pkcs1) {
      if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
        Die("pkcs1 padding");
      }
    } else if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
               EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_salt) != 1) {
      Die("pss padding");
    }
  }
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, msg.data(), msg.size()) != 1) {
    Die("DigestSign size");
  }
  base::Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()) !=
      1) {
    Die("DigestSign");
  }
  sig.resize(len);
  return sig;
}

// DerToRaw converts a DER ECDSA signature to r||s of 2*field bytes.
inline base::Bytes DerToRaw(base::ByteView der, size_t field) {
  const unsigned char* p = der.data();
  UniqueEcdsaSig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) {
    Die("d2i_ECDSA_SIG");
  }
  base::Bytes raw(2 * field);
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(),
                   static_cast<int>(field)) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + field,
                   static_cast<int>(field)) < 0) {
    Die("bn2binpad");
  }
  return raw;
}

// Sign returns the signature as JWS/COSE carry it (raw r||s for ECDSA).
inline base::Bytes Sign(SignatureAlgorithm a, EVP_PKEY* key, base::ByteView msg,
                        int pss_salt = RSA_PSS_SALTLEN_DIGEST) {
  base::Bytes native = SignNative(a, key, msg, pss_salt);
  if (IsPss(a)) {
    return native;
  }
  return DerToRaw(native, EcFieldBytes(a));
}

// KeyKindFor returns the key kind that goes with a signing algorithm.
inline KeyKind KeyKindFor(SignatureAlgorithm a) {
  switch (a) {
    case SignatureAlgorithm::kPs256:
      return KeyKind::kRsa2048;
    case SignatureAlgorithm::kPs384:
      return KeyKind::kRsa3072;
    case SignatureAlgorithm::kPs512:
      return KeyKind::kRsa4096;
    case SignatureAlgorithm::kEs256:
      return KeyKind::kP256;
    case SignatureAlgorithm::kEs384:
      return KeyKind::kP384;
    default:
      return KeyKind::kP521;
  }
}

// CertSpec describes one certificate to build. Extension strings use
// OpenSSL's config syntax ("critical,CA:TRUE,pathlen:0",
// "critical,digitalSignature", "codeSigning,1.2.3.4"); empty = absent.
struct CertSpec {
  std::vector<std::pair<std::string, std::string>> subject = {{"C", "US"},
                                                              {"ST", "WA"},
                                                              {"L", "Seattle"},
                                                              {"O", "Notary"},
                                                              {"CN", "leaf"}};
  // Appended after `subject`: {type, ASN.1 string type (V_ASN1_* or
  // MBSTRING_UTF8), raw bytes}.
  std::vector<std::tuple<std::string, int, std::string>> extra_subject;
  EVP_PKEY* key = nullptr;         // subject key (public part used)
  const X509* issuer = nullptr;    // nullptr: self-issued
  EVP_PKEY* issuer_key = nullptr;  // nullptr: sign with `key`
  // ASN1_TIME_set_string syntax: 13 chars = UTCTime, 15 = GeneralizedTime.
  std::string not_before = "200101000000Z";
  std::string not_after = "20991231235959Z";
  // Store the time strings as given, without OpenSSL's format check
  // (up to 12 leading digits: UTCTime, else GeneralizedTime).
  bool raw_times = false;
  std::string basic_constraints;
  std::string key_usage = "critical,digitalSignature";
  std::string ext_key_usage = "codeSigning";
  // Further extensions {nid, conf}, appended in order (duplicates allowed).
  std::vector<std::pair<int, std::string>> extra_extensions;
  std::string digest = "SHA256";  // "" for Ed25519
  // RSASSA-PSS certificate signature with this salt (-1: PKCS#1 v1.5).
  int pss_salt = -1;
  long serial = 1;
  int version = 3;  // X.509 version
};

// CA / leaf presets.
inline CertSpec RootSpec(EVP_PKEY* key, const std::string& cn = "root") {
  CertSpec s;
  s.subject = {{"C", "US"}, {"ST", "WA"}, {"O", "Notary"}, {"CN", cn}};
  s.key = key;
  s.basic_constraints = "critical,CA:TRUE";
  s.key_usage = "critical,keyCertSign,cRLSign";
  s.ext_key_usage = "";
  return s;
}

inline void AddExt(X509* x, X509V3_CTX* ctx, int nid, const std::string& v) {
  if (v.empty()) {
    return;
  }
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, v.c_str());
  if (ext == nullptr) {
    Die("X509V3_EXT_conf_nid");
  }
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

inline UniqueX509 BuildX509(const CertSpec& spec) {
  if (spec.key == nullptr) {
    Die("CertSpec without key");
  }
  UniqueX509 x(X509_new());
  X509_set_version(x.get(), spec.version - 1);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), spec.serial);
  X509_NAME* name = X509_get_subject_name(x.get());
  for (const auto& [type, value] : spec.subject) {
    if (X509_NAME_add_entry_by_txt(
            name, type.c_str(), MBSTRING_UTF8,
            reinterpret_cast<const unsigned char*>(value.data()),
            static_cast<int>(value.size()), -1, 0) != 1) {
      Die("add name entry");
    }
  }
  for (const auto& [type, asn1_type, value] : spec.extra_subject) {
    if (X509_NAME_add_entry_by_txt(
            name, type.c_str(), asn1_type,
            reinterpret_cast<const unsigned char*>(value.data()),
            static_cast<int>(value.size()), -1, 0) != 1) {
      Die("add raw name entry");
    }
  }
  if (spec.issuer != nullptr) {
    X509_set_issuer_name(x.get(), X509_get_subject_name(spec.issuer));
  } else {
    X509_set_issuer_name(x.get(), name);
  }
  if (spec.raw_times) {
    for (auto [t, text] :
         {std::pair{X509_getm_notBefore(x.get()), &spec.not_before},
          std::pair{X509_getm_notAfter(x.get()), &spec.not_after}}) {
      ASN1_STRING_set(t, text->data(), static_cast<int>(text->size()));
      size_t digits = 0;
      while (digits < text->size() && isdigit((*text)[digits])) {
        ++digits;
      }
      t->type = digits <= 12 ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME;
    }
  } else if (ASN1_TIME_set_string(X509_getm_notBefore(x.get()),
                                  spec.not_before.c_str()) != 1 ||
             ASN1_TIME_set_string(X509_getm_notAfter(x.get()),
                                  spec.not_after.c_str()) != 1) {
    Die("validity");
  }
  X509_set_pubkey(x.get(), spec.key);
  X509V3_CTX ctx;
  X509V3_set_ctx(
      &ctx, spec.issuer != nullptr ? const_cast<X509*>(spec.issuer) : x.get(),
      x.get(), nullptr, nullptr, 0);
  AddExt(x.get(), &ctx, NID_basic_constraints, spec.basic_constraints);
  AddExt(x.get(), &ctx, NID_key_usage, spec.key_usage);
  AddExt(x.get(), &ctx, NID_ext_key_usage, spec.ext_key_usage);
  for (const auto& [nid, conf] : spec.extra_extensions) {
    AddExt(x.get(), &ctx, nid, conf);
  }
  EVP_PKEY* signer = spec.issuer_key != nullptr ? spec.issuer_key : spec.key;
  UniqueEvpMdCtx md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit_ex(md.get(), &pctx,
                            spec.digest.empty() ? nullptr : spec.digest.c_str(),
                            nullptr, nullptr, signer, nullptr) != 1) {
    Die("cert DigestSignInit");
  }
  if (spec.pss_salt >= 0) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, spec.pss_salt) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, spec.digest.c_str(), nullptr) !=
            1) {
      Die("cert pss");
    }
  }
  if (X509_sign_ctx(x.get(), md.get()) <= 0) {
    Die("X509_sign_ctx");
  }
  return x;
}

inline base::Bytes ToDer(const X509* x) {
  unsigned char* der = nullptr;
  int len = i2d_X509(x, &der);
  if (len <= 0) {
    Die("i2d_X509");
  }
  base::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

inline std::string ToPem(const X509* x) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), x);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// Parse builds a Certificate from an X509 and aborts if it does not parse.
inline CertificatePtr Parse(const X509* x) {
  auto r = Certificate::FromDer(ToDer(x));
  if (!r.ok()) {
    std::fprintf(stderr, "test_pki: parse: %s\n", r.detail().c_str());
    std::abort();
  }
  return std::move(r).value();
}

// Built keeps the OpenSSL object (to issue from) and the parsed form.
struct Built {
  UniqueX509 x509;
  CertificatePtr cert;
};

inline Built Build(const CertSpec& spec) {
  Built b;
  b.x509 = BuildX509(spec);
  b.cert = Parse(b.x509.get());
  return b;
}

// Pki is a root -> intermediate -> leaf hierarchy of one key family.
struct Pki {
  Built root;
  Built intermediate;
  Built leaf;
  EVP_PKEY* leaf_key = nullptr;
  std::vector<CertificatePtr> Chain() const {
    return {leaf.cert, intermediate.cert, root.cert};
  }
};

// MakePki builds a valid three-level code-signing hierarchy. Tweak the
// specs through the callbacks to make a case fail.
template <typename LeafTweak, typename IntTweak, typename RootTweak>
Pki MakePki(KeyKind leaf_kind, KeyKind ca_kind, LeafTweak leaf_tweak,
            IntTweak int_tweak, RootTweak root_tweak) {
  Pki pki;
  EVP_PKEY* root_key = Key(ca_kind, 100);
  EVP_PKEY* int_key = Key(ca_kind, 101);
  pki.leaf_key = Key(leaf_kind, 102);
  CertSpec root = RootSpec(root_key, "root");
  root_tweak(root);
  pki.root = Build(root);
  CertSpec inter = RootSpec(int_key, "intermediate");
  inter.issuer = pki.root.x509.get();
  inter.issuer_key = root_key;
  inter.serial = 2;
  int_tweak(inter);
  pki.intermediate = Build(inter);
  CertSpec leaf;
  leaf.key = pki.leaf_key;
  leaf.issuer = pki.intermediate.x509.get();
  leaf.issuer_key = int_key;
  leaf.serial = 3;
  leaf_tweak(leaf);
  pki.leaf = Build(leaf);
  return pki;
}

inline Pki MakePki(KeyKind leaf_kind, KeyKind ca_kind) {
  auto keep = [](CertSpec&) {};
  return MakePki(leaf_kind, ca_kind, keep, keep, keep);
}

}  // namespace trustgate::crypto::testpki
