#pragma once

// Test-only RFC 3161 timestamp authority built with OpenSSL: a TSA PKI
// (root -> TSA leaf with a critical timeStamping extended key usage) and
// timestamp tokens, either hand-built with the CMS API (every field under
// the test's control, including the broken ones) or issued by OpenSSL's own
// TS_RESP_CTX (what a real OpenSSL-based TSA sends). Aborts the binary on an
// OpenSSL failure: these are fixtures, not inputs under test.

#include <openssl/cms.h>
#include <openssl/ess.h>
#include <openssl/ts.h>

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "tests/crypto/test_pki.h"

namespace trustgate::crypto::testtsa {

using testpki::Built;
using testpki::CertSpec;
using testpki::Die;
using testpki::KeyKind;

// kTestPolicy is the TSA policy of the test tokens (not the baseline).
inline constexpr const char* kTestPolicy = "1.2.3.4.1";

// TsaLeafSpec describes a TSA signing certificate as RFC 3161 §2.3 and
// signature-specification.md want it.
inline CertSpec TsaLeafSpec(EVP_PKEY* key, const X509* issuer,
                            EVP_PKEY* issuer_key) {
  CertSpec s;
  s.subject = {{"C", "US"}, {"ST", "WA"}, {"O", "Test TSA"}, {"CN", "tsa"}};
  s.key = key;
  s.issuer = issuer;
  s.issuer_key = issuer_key;
  s.basic_constraints = "critical,CA:FALSE";
  s.key_usage = "critical,digitalSignature";
  s.ext_key_usage = "critical,timeStamping";
  s.serial = 7;
  return s;
}

// Tsa is a root -> leaf timestamping hierarchy.
struct Tsa {
  Built root;
  Built leaf;
  EVP_PKEY* root_key = nullptr;
  EVP_PKEY* leaf_key = nullptr;
  std::vector<CertificatePtr> Roots() const { return {root.cert}; }
};

// MakeTsa builds a TSA; the callbacks tweak the specs to break a case.
template <typename LeafTweak, typename RootTweak>
Tsa MakeTsa(KeyKind leaf_kind, LeafTweak leaf_tweak, RootTweak root_tweak,
            int key_slot = 0) {
  Tsa tsa;
  tsa.root_key = testpki::Key(KeyKind::kP384, 300 + key_slot);
  tsa.leaf_key = testpki::Key(leaf_kind, 310 + key_slot);
  CertSpec root = testpki::RootSpec(tsa.root_key, "tsa root");
  root_tweak(root);
  tsa.root = testpki::Build(root);
  CertSpec leaf = TsaLeafSpec(tsa.leaf_key, tsa.root.x509.get(), tsa.root_key);
  leaf_tweak(leaf);
  tsa.leaf = testpki::Build(leaf);
  return tsa;
}

inline Tsa MakeTsa(KeyKind leaf_kind = KeyKind::kP256) {
  auto keep = [](CertSpec&) {};
  return MakeTsa(leaf_kind, keep, keep);
}

// EssMode says which signing-certificate attribute a token carries.
enum class EssMode {
  kV2,                  // signing-certificate-v2, hash only
  kV2WithIssuerSerial,  // signing-certificate-v2 with issuerSerial
  kV1Only,              // only the SHA-1 signing-certificate (RFC 2634)
  kNone,                // neither
};

// TokenSpec describes a hand-built token. Defaults give a valid token for
// `message` signed by `signer` with `signer_key`.
struct TokenSpec {
  base::Bytes message;  // what the imprint covers (the signature bytes)
  std::string imprint_digest = "SHA256";
  std::optional<base::Bytes> imprint_override;  // raw imprint value
  long version = 1;
  std::string policy = kTestPolicy;
  long serial = 42;
  std::string gen_time = "20250121091746.641Z";    // GeneralizedTime text
  int content_type_nid = NID_id_smime_ct_TSTInfo;  // eContentType
  // Accuracy components; all absent = no accuracy field.
  std::optional<long> accuracy_seconds;
  std::optional<long> accuracy_millis;
  std::optional<long> accuracy_micros;
  // CMS.
  X509* signer = nullptr;
  EVP_PKEY* signer_key = nullptr;
  std::string signer_digest = "SHA256";
  bool rsa_pss = false;                   // sign with RSASSA-PSS (RSA keys)
  std::vector<const X509*> certificates;  // embedded, in this order
  EssMode ess = EssMode::kV2;
  const X509* ess_certificate = nullptr;  // nullptr: the signer
  std::string ess_digest = "SHA256";
  // signing-time attribute as UTCTime text; empty = derived from gen_time.
  std::string signing_time;
  bool second_signer = false;
  // After signing: replace the TSTInfo by this one (the CMS signature no
  // longer covers it), or flip a bit of the signature.
  std::optional<base::Bytes> replace_tst_info;
  bool flip_signature_bit = false;
};

inline base::Bytes I2dTstInfo(TS_TST_INFO* tst) {
  unsigned char* der = nullptr;
  const int len = i2d_TS_TST_INFO(tst, &der);
  if (len <= 0) {
    Die("i2d_TS_TST_INFO");
  }
  base::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

inline ASN1_INTEGER* NewInteger(long v) {
  ASN1_INTEGER* i = ASN1_INTEGER_new();
  if (i == nullptr || ASN1_INTEGER_set_int64(i, v) != 1) {
    Die("ASN1_INTEGER");
  }
  return i;
}

// BuildTstInfo returns the DER TSTInfo the spec describes.
inline base::Bytes BuildTstInfo(const TokenSpec& spec) {
  TS_TST_INFO* tst = TS_TST_INFO_new();
  if (tst == nullptr || TS_TST_INFO_set_version(tst, spec.version) != 1) {
    Die("TSTInfo version");
  }
  ASN1_OBJECT* policy = OBJ_txt2obj(spec.policy.c_str(), 1);
  if (policy == nullptr || TS_TST_INFO_set_policy_id(tst, policy) != 1) {
    Die("TSTInfo policy");
  }
  ASN1_OBJECT_free(policy);
  const EVP_MD* md = EVP_get_digestbyname(spec.imprint_digest.c_str());
  if (md == nullptr) {
    Die("imprint digest");
  }
  base::Bytes digest(EVP_MAX_MD_SIZE);
  unsigned int digest_len = 0;
  if (EVP_Digest(spec.message.data(), spec.message.size(), digest.data(),
                 &digest_len, md, nullptr) != 1) {
    Die("EVP_Digest");
  }
  digest.resize(digest_len);
  if (spec.imprint_override) {
    digest = *spec.imprint_override;
  }
  TS_MSG_IMPRINT* imprint = TS_MSG_IMPRINT_new();
  X509_ALGOR* alg = X509_ALGOR_new();
  X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, nullptr);
  if (TS_MSG_IMPRINT_set_algo(imprint, alg) != 1 ||
      TS_MSG_IMPRINT_set_msg(imprint, digest.data(),
                             static_cast<int>(digest.size())) != 1 ||
      TS_TST_INFO_set_msg_imprint(tst, imprint) != 1) {
    Die("TSTInfo imprint");
  }
  X509_ALGOR_free(alg);
  TS_MSG_IMPRINT_free(imprint);
  ASN1_INTEGER* serial = NewInteger(spec.serial);
  TS_TST_INFO_set_serial(tst, serial);
  ASN1_INTEGER_free(serial);
  // Set the text as is (no format check) so that odd times can be tested.
  ASN1_GENERALIZEDTIME* gen = ASN1_GENERALIZEDTIME_new();
  if (gen == nullptr ||
      ASN1_STRING_set(gen, spec.gen_time.data(),
                      static_cast<int>(spec.gen_time.size())) != 1 ||
      TS_TST_INFO_set_time(tst, gen) != 1) {
    Die("TSTInfo genTime");
  }
  ASN1_GENERALIZEDTIME_free(gen);
  if (spec.accuracy_seconds || spec.accuracy_millis || spec.accuracy_micros) {
    TS_ACCURACY* acc = TS_ACCURACY_new();
    for (auto [value, setter] :
         {std::pair{spec.accuracy_seconds, &TS_ACCURACY_set_seconds},
          std::pair{spec.accuracy_millis, &TS_ACCURACY_set_millis},
          std::pair{spec.accuracy_micros, &TS_ACCURACY_set_micros}}) {
      if (value) {
        ASN1_INTEGER* v = NewInteger(*value);
        setter(acc, v);
        ASN1_INTEGER_free(v);
      }
    }
    TS_TST_INFO_set_accuracy(tst, acc);
    TS_ACCURACY_free(acc);
  }
  base::Bytes der = I2dTstInfo(tst);
  TS_TST_INFO_free(tst);
  return der;
}

// DerSequenceAttr adds a DER SEQUENCE-valued signed attribute.
inline void AddSequenceAttr(CMS_SignerInfo* si, int nid,
                            const base::Bytes& der) {
  if (CMS_signed_add1_attr_by_NID(si, nid, V_ASN1_SEQUENCE, der.data(),
                                  static_cast<int>(der.size())) != 1) {
    Die("add signed attribute");
  }
}

inline CMS_SignerInfo* AddSigner(CMS_ContentInfo* cms, const TokenSpec& spec) {
  const EVP_MD* md = EVP_get_digestbyname(spec.signer_digest.c_str());
  unsigned int flags = CMS_PARTIAL | CMS_NOCERTS | CMS_NOSMIMECAP | CMS_BINARY;
  if (spec.rsa_pss) {
    flags |= CMS_KEY_PARAM;
  }
  CMS_SignerInfo* si =
      CMS_add1_signer(cms, spec.signer, spec.signer_key, md, flags);
  if (si == nullptr) {
    Die("CMS_add1_signer");
  }
  if (spec.rsa_pss) {
    EVP_PKEY_CTX* pctx = CMS_SignerInfo_get0_pkey_ctx(si);
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1) {
      Die("CMS PSS");
    }
  }
  const X509* ess_cert =
      spec.ess_certificate != nullptr ? spec.ess_certificate : spec.signer;
  if (spec.ess == EssMode::kV2 || spec.ess == EssMode::kV2WithIssuerSerial) {
    ESS_SIGNING_CERT_V2* sc = OSSL_ESS_signing_cert_v2_new_init(
        EVP_get_digestbyname(spec.ess_digest.c_str()), ess_cert, nullptr,
        spec.ess == EssMode::kV2WithIssuerSerial ? 1 : 0);
    unsigned char* der = nullptr;
    const int len = sc != nullptr ? i2d_ESS_SIGNING_CERT_V2(sc, &der) : 0;
    if (len <= 0) {
      Die("ESS v2");
    }
    AddSequenceAttr(si, NID_id_smime_aa_signingCertificateV2,
                    base::Bytes(der, der + len));
    OPENSSL_free(der);
    ESS_SIGNING_CERT_V2_free(sc);
  } else if (spec.ess == EssMode::kV1Only) {
    ESS_SIGNING_CERT* sc = OSSL_ESS_signing_cert_new_init(ess_cert, nullptr, 1);
    unsigned char* der = nullptr;
    const int len = sc != nullptr ? i2d_ESS_SIGNING_CERT(sc, &der) : 0;
    if (len <= 0) {
      Die("ESS v1");
    }
    AddSequenceAttr(si, NID_id_smime_aa_signingCertificate,
                    base::Bytes(der, der + len));
    OPENSSL_free(der);
    ESS_SIGNING_CERT_free(sc);
  }
  // A signing-time attribute (CMS would add the current time otherwise).
  std::string when = spec.signing_time;
  if (when.empty()) {
    when = spec.gen_time.substr(2, 12) + "Z";
  }
  ASN1_UTCTIME* t = ASN1_UTCTIME_new();
  if (t == nullptr ||
      ASN1_STRING_set(t, when.data(), static_cast<int>(when.size())) != 1 ||
      CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, V_ASN1_UTCTIME, t,
                                  -1) != 1) {
    Die("signing time");
  }
  ASN1_UTCTIME_free(t);
  return si;
}

// MakeToken builds the DER TimeStampToken the spec describes.
inline base::Bytes MakeToken(const TokenSpec& spec) {
  if (spec.signer == nullptr || spec.signer_key == nullptr) {
    Die("TokenSpec without signer");
  }
  const base::Bytes tst = BuildTstInfo(spec);
  CMS_ContentInfo* cms =
      CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_PARTIAL | CMS_BINARY);
  if (cms == nullptr ||
      CMS_set1_eContentType(cms, OBJ_nid2obj(spec.content_type_nid)) != 1) {
    Die("CMS_sign");
  }
  CMS_SignerInfo* si = AddSigner(cms, spec);
  if (spec.second_signer) {
    AddSigner(cms, spec);
  }
  for (const X509* x : spec.certificates) {
    if (CMS_add1_cert(cms, const_cast<X509*>(x)) != 1) {
      Die("CMS_add1_cert");
    }
  }
  BIO* data = BIO_new_mem_buf(tst.data(), static_cast<int>(tst.size()));
  if (CMS_final(cms, data, nullptr, CMS_BINARY) != 1) {
    Die("CMS_final");
  }
  BIO_free(data);
  if (spec.replace_tst_info) {
    ASN1_OCTET_STRING** content = CMS_get0_content(cms);
    if (content == nullptr || *content == nullptr ||
        ASN1_OCTET_STRING_set(
            *content, spec.replace_tst_info->data(),
            static_cast<int>(spec.replace_tst_info->size())) != 1) {
      Die("replace TSTInfo");
    }
  }
  if (spec.flip_signature_bit) {
    ASN1_OCTET_STRING* sig = CMS_SignerInfo_get0_signature(si);
    base::Bytes bytes(ASN1_STRING_get0_data(sig),
                      ASN1_STRING_get0_data(sig) + ASN1_STRING_length(sig));
    bytes[bytes.size() / 2] ^= 0x01;
    ASN1_OCTET_STRING_set(sig, bytes.data(), static_cast<int>(bytes.size()));
  }
  unsigned char* der = nullptr;
  const int len = i2d_CMS_ContentInfo(cms, &der);
  if (len <= 0) {
    Die("i2d_CMS_ContentInfo");
  }
  base::Bytes out(der, der + len);
  OPENSSL_free(der);
  CMS_ContentInfo_free(cms);
  return out;
}

// GoodTokenSpec is a valid token of `tsa` over `message`, carrying the TSA
// leaf only.
inline TokenSpec GoodTokenSpec(const Tsa& tsa, const base::Bytes& message) {
  TokenSpec spec;
  spec.message = message;
  spec.signer = tsa.leaf.x509.get();
  spec.signer_key = tsa.leaf_key;
  spec.certificates = {tsa.leaf.x509.get()};
  return spec;
}

// OpensslTsaToken asks OpenSSL's TS_RESP_CTX for a token over `message`
// (SHA-256 imprint, policy kTestPolicy, accuracy 1 s 500 ms, genTime with
// millisecond digits at `sec`.`usec`, ESS signing-certificate-v2), the
// TSA leaf and `extra` certificates embedded.
inline base::Bytes OpensslTsaToken(const Tsa& tsa, const base::Bytes& message,
                                   long sec, long usec,
                                   std::vector<X509*> extra = {}) {
  struct Clock {
    long sec;
    long usec;
  } clock{sec, usec};
  TS_RESP_CTX* ctx = TS_RESP_CTX_new();
  ASN1_OBJECT* policy = OBJ_txt2obj(kTestPolicy, 1);
  STACK_OF(X509)* certs = sk_X509_new_null();
  for (X509* x : extra) {
    sk_X509_push(certs, x);
  }
  if (ctx == nullptr ||
      TS_RESP_CTX_set_signer_cert(ctx, tsa.leaf.x509.get()) != 1 ||
      TS_RESP_CTX_set_signer_key(ctx, tsa.leaf_key) != 1 ||
      TS_RESP_CTX_set_def_policy(ctx, policy) != 1 ||
      TS_RESP_CTX_add_md(ctx, EVP_sha256()) != 1 ||
      TS_RESP_CTX_set_accuracy(ctx, 1, 500, 0) != 1 ||
      TS_RESP_CTX_set_clock_precision_digits(ctx, 3) != 1 ||
      TS_RESP_CTX_set_ess_cert_id_digest(ctx, EVP_sha256()) != 1 ||
      TS_RESP_CTX_set_certs(ctx, certs) != 1) {
    Die("TS_RESP_CTX");
  }
  sk_X509_free(certs);
  ASN1_OBJECT_free(policy);
  TS_RESP_CTX_set_time_cb(
      ctx,
      [](TS_RESP_CTX*, void* data, long* s, long* us) {
        *s = static_cast<Clock*>(data)->sec;
        *us = static_cast<Clock*>(data)->usec;
        return 1;
      },
      &clock);
  TS_REQ* req = TS_REQ_new();
  TS_MSG_IMPRINT* imprint = TS_MSG_IMPRINT_new();
  X509_ALGOR* alg = X509_ALGOR_new();
  X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nullptr);
  base::Bytes digest(32);
  unsigned int digest_len = 0;
  if (EVP_Digest(message.data(), message.size(), digest.data(), &digest_len,
                 EVP_sha256(), nullptr) != 1 ||
      TS_MSG_IMPRINT_set_algo(imprint, alg) != 1 ||
      TS_MSG_IMPRINT_set_msg(imprint, digest.data(), 32) != 1 ||
      TS_REQ_set_version(req, 1) != 1 ||
      TS_REQ_set_msg_imprint(req, imprint) != 1 ||
      TS_REQ_set_cert_req(req, 1) != 1) {
    Die("TS_REQ");
  }
  X509_ALGOR_free(alg);
  TS_MSG_IMPRINT_free(imprint);
  BIO* request = BIO_new(BIO_s_mem());
  if (i2d_TS_REQ_bio(request, req) != 1) {
    Die("i2d_TS_REQ_bio");
  }
  TS_REQ_free(req);
  TS_RESP* resp = TS_RESP_create_response(ctx, request);
  BIO_free(request);
  if (resp == nullptr ||
      ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(
          TS_RESP_get_status_info(resp))) != TS_STATUS_GRANTED) {
    Die("TS_RESP_create_response");
  }
  unsigned char* der = nullptr;
  const int len = i2d_PKCS7(TS_RESP_get_token(resp), &der);
  if (len <= 0) {
    Die("i2d_PKCS7");
  }
  base::Bytes out(der, der + len);
  OPENSSL_free(der);
  TS_RESP_free(resp);
  TS_RESP_CTX_free(ctx);
  return out;
}

}  // namespace trustgate::crypto::testtsa
