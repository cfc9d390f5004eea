#include "tools/mkmirror/timestamp_writer.h"

#include <openssl/cms.h>
#include <openssl/ess.h>
#include <openssl/ts.h>

#include <ctime>
#include <memory>

namespace trustgate::mkmirror {
namespace {

using UniqueTstInfo =
    std::unique_ptr<TS_TST_INFO, crypto::OsslDeleter<TS_TST_INFO_free>>;
using UniqueMsgImprint =
    std::unique_ptr<TS_MSG_IMPRINT, crypto::OsslDeleter<TS_MSG_IMPRINT_free>>;
using UniqueAccuracy =
    std::unique_ptr<TS_ACCURACY, crypto::OsslDeleter<TS_ACCURACY_free>>;
using UniqueX509Algor =
    std::unique_ptr<X509_ALGOR, crypto::OsslDeleter<X509_ALGOR_free>>;
using UniqueAsn1Integer =
    std::unique_ptr<ASN1_INTEGER, crypto::OsslDeleter<ASN1_INTEGER_free>>;
using UniqueAsn1Object =
    std::unique_ptr<ASN1_OBJECT, crypto::OsslDeleter<ASN1_OBJECT_free>>;
using UniqueAsn1String =
    std::unique_ptr<ASN1_STRING, crypto::OsslDeleter<ASN1_STRING_free>>;
using UniqueAsn1Time =
    std::unique_ptr<ASN1_TIME, crypto::OsslDeleter<ASN1_TIME_free>>;
using UniqueCms =
    std::unique_ptr<CMS_ContentInfo, crypto::OsslDeleter<CMS_ContentInfo_free>>;
using UniqueEssV2 =
    std::unique_ptr<ESS_SIGNING_CERT_V2,
                    crypto::OsslDeleter<ESS_SIGNING_CERT_V2_free>>;

base::Error<MkError> CryptoFailure(const std::string& what) {
  return base::MakeError(MkError::kCrypto,
                         "OpenSSL failed building a timestamp token: " + what);
}

UniqueAsn1Integer Integer(int64_t v) {
  UniqueAsn1Integer i(ASN1_INTEGER_new());
  if (i && ASN1_INTEGER_set_int64(i.get(), v) != 1) {
    i.reset();
  }
  return i;
}

// GeneralizedTimeText renders genTime as RFC 3161 §2.4.2 wants it:
// YYYYMMDDhhmmss[.s...]Z, the fraction without trailing zeros.
std::string GeneralizedTimeText(int64_t seconds, int millis) {
  const time_t t = static_cast<time_t>(seconds);
  struct tm tm_utc {};
  gmtime_r(&t, &tm_utc);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y%m%d%H%M%S", &tm_utc);
  std::string text = buf;
  if (millis > 0) {
    std::string f = {'.', static_cast<char>('0' + millis / 100),
                     static_cast<char>('0' + millis / 10 % 10),
                     static_cast<char>('0' + millis % 10)};
    while (f.back() == '0') {
      f.pop_back();
    }
    text += f;
  }
  return text + "Z";
}

base::Result<base::Bytes, MkError> TstInfoDer(const TimestampSpec& spec,
                                              base::ByteView message,
                                              const EVP_MD* imprint_digest) {
  UniqueTstInfo tst(TS_TST_INFO_new());
  if (!tst || TS_TST_INFO_set_version(tst.get(), 1) != 1) {
    return CryptoFailure("TSTInfo");
  }
  UniqueAsn1Object policy(OBJ_txt2obj(spec.policy.c_str(), 1));
  if (!policy || TS_TST_INFO_set_policy_id(tst.get(), policy.get()) != 1) {
    return CryptoFailure("TSTInfo policy " + spec.policy);
  }
  // RFC 3161 §2.4.2: messageImprint = the hash of the time-stamped data,
  // here the signature bytes, with its algorithm (parameters NULL, as
  // tspclient-go requests it).
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(message.data(), message.size(), digest, &digest_len,
                 imprint_digest, nullptr) != 1) {
    return CryptoFailure("imprint digest");
  }
  UniqueX509Algor alg(X509_ALGOR_new());
  UniqueMsgImprint imprint(TS_MSG_IMPRINT_new());
  if (!alg || !imprint ||
      X509_ALGOR_set0(alg.get(), OBJ_nid2obj(EVP_MD_get_type(imprint_digest)),
                      V_ASN1_NULL, nullptr) != 1 ||
      TS_MSG_IMPRINT_set_algo(imprint.get(), alg.get()) != 1 ||
      TS_MSG_IMPRINT_set_msg(imprint.get(), digest,
                             static_cast<int>(digest_len)) != 1 ||
      TS_TST_INFO_set_msg_imprint(tst.get(), imprint.get()) != 1) {
    return CryptoFailure("message imprint");
  }
  UniqueAsn1Integer serial = Integer(spec.serial);
  if (!serial || TS_TST_INFO_set_serial(tst.get(), serial.get()) != 1) {
    return CryptoFailure("serial number");
  }
  const std::string gen_text =
      GeneralizedTimeText(spec.gen_time, spec.gen_time_millis);
  std::unique_ptr<ASN1_GENERALIZEDTIME,
                  crypto::OsslDeleter<ASN1_GENERALIZEDTIME_free>>
      gen(ASN1_GENERALIZEDTIME_new());
  if (!gen ||
      ASN1_GENERALIZEDTIME_set_string(gen.get(), gen_text.c_str()) != 1 ||
      TS_TST_INFO_set_time(tst.get(), gen.get()) != 1) {
    return CryptoFailure("genTime " + gen_text);
  }
  if (spec.accuracy_seconds || spec.accuracy_millis || spec.accuracy_micros) {
    UniqueAccuracy accuracy(TS_ACCURACY_new());
    if (!accuracy) {
      return CryptoFailure("accuracy");
    }
    const std::pair<std::optional<int>,
                    int (*)(TS_ACCURACY*, const ASN1_INTEGER*)>
        parts[] = {{spec.accuracy_seconds, &TS_ACCURACY_set_seconds},
                   {spec.accuracy_millis, &TS_ACCURACY_set_millis},
                   {spec.accuracy_micros, &TS_ACCURACY_set_micros}};
    for (const auto& [value, setter] : parts) {
      if (!value) {
        continue;
      }
      UniqueAsn1Integer v = Integer(*value);
      if (!v || setter(accuracy.get(), v.get()) != 1) {
        return CryptoFailure("accuracy");
      }
    }
    if (TS_TST_INFO_set_accuracy(tst.get(), accuracy.get()) != 1) {
      return CryptoFailure("accuracy");
    }
  }
  unsigned char* der = nullptr;
  const int len = i2d_TS_TST_INFO(tst.get(), &der);
  if (len <= 0) {
    return CryptoFailure("TSTInfo encoding");
  }
  base::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// AddSigningCertificateV2 adds the RFC 5816 signing-certificate-v2
// attribute naming `signer` (ESSCertIDv2 with SHA-256, the DEFAULT hash and
// therefore omitted, and issuerSerial), as tspclient-go requires.
bool AddSigningCertificateV2(CMS_SignerInfo* si, X509* signer) {
  UniqueEssV2 ess(
      OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), signer, nullptr, 1));
  if (!ess) {
    return false;
  }
  unsigned char* der = nullptr;
  const int len = i2d_ESS_SIGNING_CERT_V2(ess.get(), &der);
  if (len <= 0) {
    return false;
  }
  UniqueAsn1String seq(ASN1_STRING_new());
  const bool ok = seq && ASN1_STRING_set(seq.get(), der, len) == 1;
  OPENSSL_free(der);
  return ok &&
         CMS_signed_add1_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2,
                                     V_ASN1_SEQUENCE, seq.get(), -1) == 1;
}

}  // namespace

const EVP_MD* ImprintDigestFor(KeyType type) {
  switch (type) {
    case KeyType::kEc384:
    case KeyType::kRsa3072:
      return EVP_sha384();
    case KeyType::kEc521:
    case KeyType::kRsa4096:
      return EVP_sha512();
    case KeyType::kEc256:
    case KeyType::kRsa1024:
    case KeyType::kRsa2048:
      break;
  }
  return EVP_sha256();
}

base::Result<base::Bytes, MkError> IssueTimestampToken(
    const TimestampAuthority& tsa, const TimestampSpec& spec,
    base::ByteView message, const EVP_MD* imprint_digest) {
  if (tsa.signer == nullptr || imprint_digest == nullptr ||
      spec.gen_time_millis < 0 || spec.gen_time_millis > 999) {
    return base::MakeError(MkError::kUsage, "bad timestamp request");
  }
  TG_ASSIGN_OR_RETURN(base::Bytes tst_info,
                      TstInfoDer(spec, message, imprint_digest));

  // RFC 3161 §2.4.2 / RFC 5652 §5: SignedData, eContentType id-ct-TSTInfo
  // (which makes it version 3), the TSTInfo encapsulated.
  constexpr unsigned int kFlags =
      CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP | CMS_NOCERTS;
  UniqueCms cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, kFlags));
  if (!cms || CMS_set1_eContentType(
                  cms.get(), OBJ_nid2obj(NID_id_smime_ct_TSTInfo)) != 1) {
    return CryptoFailure("SignedData");
  }
  CMS_SignerInfo* si =
      CMS_add1_signer(cms.get(), tsa.signer->cert.get(), tsa.signer->key.get(),
                      SignatureDigestFor(tsa.signer->type), kFlags);
  if (si == nullptr) {
    return CryptoFailure("SignerInfo");
  }
  // signing-time = genTime (whole seconds): OpenSSL would otherwise add the
  // wall clock. RFC 5652 §11.3: UTCTime before 2050.
  UniqueAsn1Time signing_time(
      ASN1_TIME_set(nullptr, static_cast<time_t>(spec.gen_time)));
  if (!signing_time ||
      CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime,
                                  ASN1_STRING_type(signing_time.get()),
                                  signing_time.get(), -1) != 1) {
    return CryptoFailure("signing-time attribute");
  }
  if (!AddSigningCertificateV2(si, tsa.signer->cert.get())) {
    return CryptoFailure("signing-certificate-v2 attribute");
  }
  for (const Credential* cert : tsa.certificates) {
    if (CMS_add1_cert(cms.get(), cert->cert.get()) != 1) {
      return CryptoFailure("embedded certificate");
    }
  }
  crypto::UniqueBio content(
      BIO_new_mem_buf(tst_info.data(), static_cast<int>(tst_info.size())));
  // CMS_final digests the content, adds content-type and message-digest and
  // signs the signed attributes.
  if (!content ||
      CMS_final(cms.get(), content.get(), nullptr, CMS_BINARY) != 1) {
    return CryptoFailure("signing");
  }
  unsigned char* der = nullptr;
  const int len = i2d_CMS_ContentInfo(cms.get(), &der);
  if (len <= 0) {
    return CryptoFailure("encoding");
  }
  base::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

}  // namespace trustgate::mkmirror
