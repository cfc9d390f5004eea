#include "crypto/timestamp.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/civil_time.h"
#include "crypto/ossl.h"
#include "crypto/signature.h"

namespace trustgate::crypto {
namespace {

using UniqueCms =
    std::unique_ptr<CMS_ContentInfo, OsslDeleter<CMS_ContentInfo_free>>;
using UniqueTstInfo =
    std::unique_ptr<TS_TST_INFO, OsslDeleter<TS_TST_INFO_free>>;
using UniqueX509Store =
    std::unique_ptr<X509_STORE, OsslDeleter<X509_STORE_free>>;
using UniqueX509StoreCtx =
    std::unique_ptr<X509_STORE_CTX, OsslDeleter<X509_STORE_CTX_free>>;
using UniqueEssSigningCertV2 =
    std::unique_ptr<ESS_SIGNING_CERT_V2, OsslDeleter<ESS_SIGNING_CERT_V2_free>>;
using UniqueX509Algor =
    std::unique_ptr<X509_ALGOR, OsslDeleter<X509_ALGOR_free>>;
using UniqueGeneralNames =
    std::unique_ptr<GENERAL_NAMES, OsslDeleter<GENERAL_NAMES_free>>;
using UniqueRsaPssParams =
    std::unique_ptr<RSA_PSS_PARAMS, OsslDeleter<RSA_PSS_PARAMS_free>>;
using UniqueAsn1Integer =
    std::unique_ptr<ASN1_INTEGER, OsslDeleter<ASN1_INTEGER_free>>;

// A stack whose certificates are owned (CMS_get1_certs).
struct OwnedX509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using OwnedX509Stack = std::unique_ptr<STACK_OF(X509), OwnedX509StackFree>;
// A stack that only borrows its certificates.
struct BorrowedX509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
using BorrowedX509Stack =
    std::unique_ptr<STACK_OF(X509), BorrowedX509StackFree>;
struct AnySequenceFree {
  void operator()(ASN1_SEQUENCE_ANY* s) const {
    sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free);
  }
};
using UniqueAnySequence = std::unique_ptr<ASN1_SEQUENCE_ANY, AnySequenceFree>;

// Nesting bound for the BER walk (OpenSSL's own decoder stops at 30
// nested constructed strings; a real token nests about a dozen levels).
constexpr int kMaxNesting = 64;
// Accuracy bound: Go adds the components as nanosecond time.Durations
// (int64); above this the sum would wrap there, so no such token can mean
// anything.
constexpr int64_t kMaxAccuracyMicros = int64_t{9'000'000'000} * 1'000'000;

base::Error<CryptoError> Fail(CryptoError code, std::string detail) {
  ERR_clear_error();
  return base::MakeError(code, "timestamp token: " + std::move(detail));
}

base::Error<CryptoError> FailCert(CryptoError code, const Certificate& cert,
                                  std::string what) {
  ERR_clear_error();
  return base::MakeError(code, "timestamp token: TSA certificate \"" +
                                   cert.SubjectString() +
                                   "\": " + std::move(what));
}

// ---------------------------------------------------------------------------
// BER structure. tspclient-go converts the token from BER to DER before it
// reads it (internal/encoding/asn1/ber ConvertToDER), which refuses
// indefinite lengths and anything after the outermost element. OpenSSL's
// decoder accepts both, so the shape is checked first with OpenSSL's
// header reader.

struct Tlv {
  int tag = 0;
  int cls = 0;
  bool constructed = false;
  base::ByteView content;
  base::ByteView whole;
};

// ReadTlv reads the element at the front of `in` (definite length only).
std::optional<Tlv> ReadTlv(base::ByteView in) {
  if (in.empty()) {
    return std::nullopt;
  }
  const unsigned char* p = in.data();
  long len = 0;
  int tag = 0;
  int cls = 0;
  const long max = static_cast<long>(std::min<size_t>(in.size(), LONG_MAX));
  const int ret = ASN1_get_object(&p, &len, &tag, &cls, max);
  if ((ret & 0x80) != 0 || ret == (V_ASN1_CONSTRUCTED | 1)) {
    return std::nullopt;  // error, or indefinite length
  }
  const auto header = static_cast<size_t>(p - in.data());
  if (len < 0 || static_cast<size_t>(len) > in.size() - header) {
    return std::nullopt;
  }
  Tlv tlv;
  tlv.tag = tag;
  tlv.cls = cls;
  tlv.constructed = (ret & V_ASN1_CONSTRUCTED) != 0;
  tlv.content = in.subspan(header, static_cast<size_t>(len));
  tlv.whole = in.subspan(0, header + static_cast<size_t>(len));
  return tlv;
}

// DefiniteLengthsOnly walks every constructed element of `in` (a sequence
// of elements) and fails on an indefinite length or a malformed header.
bool DefiniteLengthsOnly(base::ByteView in, int depth) {
  while (!in.empty()) {
    std::optional<Tlv> tlv = ReadTlv(in);
    if (!tlv) {
      return false;
    }
    if (tlv->constructed && (depth >= kMaxNesting ||
                             !DefiniteLengthsOnly(tlv->content, depth + 1))) {
      return false;
    }
    in = in.subspan(tlv->whole.size());
  }
  return true;
}

// Children splits a constructed element's content into its elements.
std::optional<std::vector<Tlv>> Children(base::ByteView content) {
  std::vector<Tlv> out;
  while (!content.empty()) {
    std::optional<Tlv> tlv = ReadTlv(content);
    if (!tlv) {
      return std::nullopt;
    }
    out.push_back(*tlv);
    content = content.subspan(tlv->whole.size());
  }
  return out;
}

// SmallInteger reads a universal INTEGER element into a long (nullopt when
// it is not an INTEGER or does not fit).
std::optional<long> SmallInteger(const Tlv& tlv) {
  if (tlv.cls != V_ASN1_UNIVERSAL || tlv.tag != V_ASN1_INTEGER ||
      tlv.constructed) {
    return std::nullopt;
  }
  const unsigned char* p = tlv.whole.data();
  UniqueAsn1Integer v(
      d2i_ASN1_INTEGER(nullptr, &p, static_cast<long>(tlv.whole.size())));
  int64_t out = 0;
  if (!v || ASN1_INTEGER_get_int64(&out, v.get()) != 1 || out < LONG_MIN ||
      out > LONG_MAX) {
    return std::nullopt;
  }
  return static_cast<long>(out);
}

// CheckShape applies tspclient-go's structural rules that OpenSSL's CMS
// decoder does not: BER with definite lengths and nothing after the
// ContentInfo (ber.ConvertToDER), SignedData version 3
// (cms.ParseSignedData), SignerInfo version 1 (cms.VerifySigner: only
// issuerAndSerialNumber signer identifiers).
base::Status<CryptoError> CheckShape(base::ByteView token) {
  std::optional<Tlv> top = ReadTlv(token);
  if (!top || top->whole.size() != token.size()) {
    return Fail(CryptoError::kMalformed,
                "not a single DER/BER element with definite lengths (or "
                "bytes follow it)");
  }
  if (!top->constructed || !DefiniteLengthsOnly(top->content, 1)) {
    return Fail(CryptoError::kMalformed,
                "indefinite-length or malformed BER (Notation accepts "
                "definite lengths only)");
  }
  // ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content }
  auto info = Children(top->content);
  if (!info || info->size() != 2 || !(*info)[1].constructed) {
    return Fail(CryptoError::kMalformed, "not a CMS ContentInfo");
  }
  auto wrapped = Children((*info)[1].content);
  if (!wrapped || wrapped->size() != 1 || !(*wrapped)[0].constructed) {
    return Fail(CryptoError::kMalformed, "not a CMS ContentInfo");
  }
  // SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo,
  // [0] certificates OPTIONAL, [1] crls OPTIONAL, signerInfos }
  auto signed_data = Children((*wrapped)[0].content);
  if (!signed_data || signed_data->size() < 4) {
    return Fail(CryptoError::kMalformed, "not a CMS SignedData");
  }
  std::optional<long> version = SmallInteger(signed_data->front());
  if (!version || *version != 3) {
    return Fail(CryptoError::kMalformed,
                "SignedData version must be 3 (RFC 5652 §5.1 for a "
                "TSTInfo content)");
  }
  const Tlv& signer_infos = signed_data->back();
  if (signer_infos.cls != V_ASN1_UNIVERSAL || signer_infos.tag != V_ASN1_SET) {
    return Fail(CryptoError::kMalformed, "SignedData without signerInfos");
  }
  auto infos = Children(signer_infos.content);
  if (!infos) {
    return Fail(CryptoError::kMalformed, "malformed signerInfos");
  }
  for (const Tlv& si : *infos) {
    auto fields = si.constructed ? Children(si.content) : std::nullopt;
    std::optional<long> si_version = fields && !fields->empty()
                                         ? SmallInteger(fields->front())
                                         : std::nullopt;
    if (!si_version || *si_version != 1) {
      return Fail(CryptoError::kMalformed,
                  "SignerInfo version must be 1 (issuer and serial number "
                  "signer identifier; tspclient-go supports no other)");
    }
  }
  return base::Ok{};
}

// ---------------------------------------------------------------------------
// Algorithms. tspclient-go knows SHA-256/384/512 only (oid.ToHash) and the
// signature algorithms of oid.ToSignatureAlgorithm.

const EVP_MD* Sha2ByNid(int nid) {
  switch (nid) {
    case NID_sha256:
      return EVP_sha256();
    case NID_sha384:
      return EVP_sha384();
    case NID_sha512:
      return EVP_sha512();
    default:
      return nullptr;
  }
}

std::string ObjectText(const ASN1_OBJECT* obj) {
  if (obj == nullptr) {
    return {};
  }
  char small[128];
  const int n = OBJ_obj2txt(small, sizeof(small), obj, 1);
  if (n <= 0) {
    return {};
  }
  if (static_cast<size_t>(n) < sizeof(small)) {
    return std::string(small, static_cast<size_t>(n));
  }
  std::string big(static_cast<size_t>(n) + 1, '\0');
  OBJ_obj2txt(big.data(), static_cast<int>(big.size()), obj, 1);
  big.resize(static_cast<size_t>(n));
  return big;
}

base::Bytes Digest(const EVP_MD* md, base::ByteView data) {
  base::Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) !=
      1) {
    ERR_clear_error();
    return {};
  }
  out.resize(len);
  return out;
}

bool SameBytes(base::ByteView a, const unsigned char* b, int b_len) {
  return b != nullptr && b_len >= 0 && a.size() == static_cast<size_t>(b_len) &&
         (a.empty() || CRYPTO_memcmp(a.data(), b, a.size()) == 0);
}

// CheckPssParameters accepts RSASSA-PSS parameters only when they say
// what Go verifies regardless of them: the digest algorithm's hash for the
// message and MGF1, salt as long as the hash, trailer 1 (tspclient-go
// verifies PSS with the digestAlgorithm and rsa.PSSSaltLengthEqualsHash).
bool CheckPssParameters(const X509_ALGOR* sig_alg, int digest_nid,
                        const EVP_MD* md) {
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(nullptr, &ptype, &pval, sig_alg);
  if (ptype != V_ASN1_SEQUENCE || pval == nullptr) {
    return false;
  }
  const auto* seq = static_cast<const ASN1_STRING*>(pval);
  const unsigned char* p = ASN1_STRING_get0_data(seq);
  UniqueRsaPssParams params(
      d2i_RSA_PSS_PARAMS(nullptr, &p, ASN1_STRING_length(seq)));
  if (!params) {
    return false;
  }
  const int hash_nid = params->hashAlgorithm != nullptr
                           ? OBJ_obj2nid(params->hashAlgorithm->algorithm)
                           : NID_sha1;
  if (hash_nid != digest_nid) {
    return false;
  }
  // MGF1's hash is the AlgorithmIdentifier in maskGenAlgorithm's
  // parameters (RFC 4055 §3.1).
  if (params->maskGenAlgorithm == nullptr ||
      OBJ_obj2nid(params->maskGenAlgorithm->algorithm) != NID_mgf1) {
    return false;
  }
  const ASN1_TYPE* mgf_param = params->maskGenAlgorithm->parameter;
  if (mgf_param == nullptr || mgf_param->type != V_ASN1_SEQUENCE) {
    return false;
  }
  const unsigned char* mp = ASN1_STRING_get0_data(mgf_param->value.sequence);
  UniqueX509Algor mgf_hash(d2i_X509_ALGOR(
      nullptr, &mp, ASN1_STRING_length(mgf_param->value.sequence)));
  if (!mgf_hash || OBJ_obj2nid(mgf_hash->algorithm) != digest_nid) {
    return false;
  }
  int64_t salt = 20;
  if (params->saltLength != nullptr &&
      ASN1_INTEGER_get_int64(&salt, params->saltLength) != 1) {
    return false;
  }
  if (salt != EVP_MD_get_size(md)) {
    return false;
  }
  int64_t trailer = 1;
  if (params->trailerField != nullptr &&
      ASN1_INTEGER_get_int64(&trailer, params->trailerField) != 1) {
    return false;
  }
  return trailer == 1;
}

// CheckSignerAlgorithms returns the signer's digest when digest and
// signature algorithms are ones tspclient-go verifies. Where the signature
// algorithm names a hash too (sha256WithRSAEncryption, ecdsa-with-SHA256,
// ...), Go hashes with that one and OpenSSL with the digest algorithm; we
// require them to agree so that both compute the same thing.
base::Result<const EVP_MD*, CryptoError> CheckSignerAlgorithms(
    CMS_SignerInfo* si) {
  X509_ALGOR* digest_alg = nullptr;
  X509_ALGOR* sig_alg = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest_alg, &sig_alg);
  if (digest_alg == nullptr || sig_alg == nullptr) {
    return Fail(CryptoError::kMalformed, "SignerInfo without algorithms");
  }
  const ASN1_OBJECT* digest_obj = nullptr;
  X509_ALGOR_get0(&digest_obj, nullptr, nullptr, digest_alg);
  const int digest_nid = OBJ_obj2nid(digest_obj);
  const EVP_MD* md = Sha2ByNid(digest_nid);
  if (md == nullptr) {
    return Fail(CryptoError::kUnsupportedAlgorithm,
                "signer digest algorithm " + ObjectText(digest_obj) +
                    " is not SHA-256, SHA-384 or SHA-512");
  }
  const ASN1_OBJECT* sig_obj = nullptr;
  X509_ALGOR_get0(&sig_obj, nullptr, nullptr, sig_alg);
  const int sig_nid = OBJ_obj2nid(sig_obj);
  switch (sig_nid) {
    case NID_rsaEncryption:
      return md;
    case NID_rsassaPss:
      if (!CheckPssParameters(sig_alg, digest_nid, md)) {
        return Fail(CryptoError::kUnsupportedAlgorithm,
                    "RSASSA-PSS parameters must use the digest algorithm "
                    "for hash and MGF1 and a salt as long as the hash");
      }
      return md;
    case NID_sha256WithRSAEncryption:
    case NID_sha384WithRSAEncryption:
    case NID_sha512WithRSAEncryption:
    case NID_ecdsa_with_SHA256:
    case NID_ecdsa_with_SHA384:
    case NID_ecdsa_with_SHA512: {
      int hash_nid = NID_undef;
      if (OBJ_find_sigid_algs(sig_nid, &hash_nid, nullptr) != 1 ||
          hash_nid != digest_nid) {
        return Fail(CryptoError::kUnsupportedAlgorithm,
                    "signature algorithm " + ObjectText(sig_obj) +
                        " does not match digest algorithm " +
                        ObjectText(digest_obj));
      }
      return md;
    }
    default:
      return Fail(CryptoError::kUnsupportedAlgorithm,
                  "signature algorithm " + ObjectText(sig_obj) +
                      " is not RSA PKCS#1 v1.5, RSASSA-PSS or ECDSA with "
                      "SHA-2");
  }
}

// ---------------------------------------------------------------------------
// Times as Go's encoding/asn1 reads them: the text must parse with Go's
// layout and format back to exactly the same text (parseGeneralizedTime /
// parseUTCTime), so fractions have no trailing zeros and a zero offset is
// written "Z".

struct PreciseTime {
  int64_t seconds = 0;  // since the epoch, UTC
  int32_t nanos = 0;    // 0..999'999'999

  base::Time Floor() const {
    return base::Time(
        std::chrono::microseconds(seconds * 1'000'000 + nanos / 1'000));
  }
  base::Time Ceil() const {
    return Floor() + std::chrono::microseconds(nanos % 1'000 != 0 ? 1 : 0);
  }
};

using internal::ReadDigits;

// ParseZone reads Go's "Z0700": "Z", or a non-zero [+-]hhmm offset (hours
// up to 24, minutes up to 59). Returns the offset east of UTC in seconds.
std::optional<int> ParseZone(std::string_view z) {
  if (z == "Z") {
    return 0;
  }
  int hh = 0;
  int mm = 0;
  if (z.size() != 5 || (z[0] != '+' && z[0] != '-') ||
      !ReadDigits(z, 1, 2, &hh) || !ReadDigits(z, 3, 2, &mm) || hh > 24 ||
      mm > 59 || (hh == 0 && mm == 0)) {
    return std::nullopt;
  }
  const int offset = hh * 3600 + mm * 60;
  return z[0] == '-' ? -offset : offset;
}

std::optional<PreciseTime> Combine(int year, int month, int day, int hour,
                                   int minute, int second, int32_t nanos,
                                   int offset) {
  const std::chrono::year_month_day ymd{
      std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
      std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  const int64_t days = std::chrono::sys_days(ymd).time_since_epoch().count();
  PreciseTime t;
  t.seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset;
  t.nanos = nanos;
  return t;
}

// ParseGeneralizedTime: Go layout "20060102150405.999999999Z0700".
std::optional<PreciseTime> ParseGeneralizedTime(std::string_view s) {
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!ReadDigits(s, 0, 4, &year) || !ReadDigits(s, 4, 2, &month) ||
      !ReadDigits(s, 6, 2, &day) || !ReadDigits(s, 8, 2, &hour) ||
      !ReadDigits(s, 10, 2, &minute) || !ReadDigits(s, 12, 2, &second)) {
    return std::nullopt;
  }
  size_t pos = 14;
  int32_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    size_t end = pos + 1;
    while (end < s.size() && s[end] >= '0' && s[end] <= '9') {
      ++end;
    }
    const size_t n = end - pos - 1;
    // 1..9 digits, the last not 0 (it would not format back).
    if (n == 0 || n > 9 || s[end - 1] == '0') {
      return std::nullopt;
    }
    int32_t scale = 1;
    for (size_t i = n; i < 9; ++i) {
      scale *= 10;
    }
    for (size_t i = pos + 1; i < end; ++i) {
      nanos = nanos * 10 + (s[i] - '0');
    }
    nanos *= scale;
    pos = end;
  }
  std::optional<int> offset = ParseZone(s.substr(pos));
  if (!offset) {
    return std::nullopt;
  }
  return Combine(year, month, day, hour, minute, second, nanos, *offset);
}

// ParseUtcTime: Go layouts "0601021504Z0700", then "060102150405Z0700";
// two-digit years below 50 are 20xx, others 19xx.
std::optional<PreciseTime> ParseUtcTime(std::string_view s) {
  int yy = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!ReadDigits(s, 0, 2, &yy) || !ReadDigits(s, 2, 2, &month) ||
      !ReadDigits(s, 4, 2, &day) || !ReadDigits(s, 6, 2, &hour) ||
      !ReadDigits(s, 8, 2, &minute)) {
    return std::nullopt;
  }
  size_t pos = 10;
  std::optional<int> offset = ParseZone(s.substr(pos));
  if (!offset) {
    if (!ReadDigits(s, 10, 2, &second)) {
      return std::nullopt;
    }
    pos = 12;
    offset = ParseZone(s.substr(pos));
    if (!offset) {
      return std::nullopt;
    }
  }
  const int year = yy < 50 ? 2000 + yy : 1900 + yy;
  return Combine(year, month, day, hour, minute, second, 0, *offset);
}

// ValidAt is Go's !t.Before(notBefore) && !t.After(notAfter) for a time
// with nanoseconds (certificate times are whole seconds).
bool ValidAt(const Certificate& cert, const PreciseTime& t) {
  return cert.not_before() <= t.Floor() && t.Ceil() <= cert.not_after();
}

// ---------------------------------------------------------------------------
// ESS signing-certificate-v2 (RFC 5035 §3; RFC 5816 for TSAs).

// EssNamesSigner checks that the first ESSCertIDv2 of the attribute
// (`der`: SigningCertificateV2) names `signer`, as tspclient-go's
// SignedToken.SigningCertificate does: the hash over the certificate's DER
// (hashAlgorithm SHA-256 by default, SHA-384 / SHA-512), and, when
// issuerSerial is present, its first general name (a directoryName) and
// serial number. OpenSSL's ESS structures are opaque, so the elements are
// read with its generic decoder.
base::Status<CryptoError> EssNamesSigner(base::ByteView der,
                                         const Certificate& signer) {
  {
    const unsigned char* p = der.data();
    UniqueEssSigningCertV2 whole(
        d2i_ESS_SIGNING_CERT_V2(nullptr, &p, static_cast<long>(der.size())));
    if (!whole) {
      return Fail(CryptoError::kMalformed,
                  "malformed signing-certificate-v2 attribute");
    }
  }
  auto sequence_of = [](base::ByteView bytes) {
    const unsigned char* p = bytes.data();
    return UniqueAnySequence(
        d2i_ASN1_SEQUENCE_ANY(nullptr, &p, static_cast<long>(bytes.size())));
  };
  auto sequence_bytes =
      [](const ASN1_TYPE* t) -> std::optional<base::ByteView> {
    if (t == nullptr || t->type != V_ASN1_SEQUENCE ||
        t->value.sequence == nullptr) {
      return std::nullopt;
    }
    return base::ByteView(
        ASN1_STRING_get0_data(t->value.sequence),
        static_cast<size_t>(ASN1_STRING_length(t->value.sequence)));
  };
  UniqueAnySequence top = sequence_of(der);
  std::optional<base::ByteView> certs_der =
      top && sk_ASN1_TYPE_num(top.get()) >= 1
          ? sequence_bytes(sk_ASN1_TYPE_value(top.get(), 0))
          : std::nullopt;
  UniqueAnySequence certs =
      certs_der ? sequence_of(*certs_der) : UniqueAnySequence();
  if (!certs || sk_ASN1_TYPE_num(certs.get()) < 1) {
    return Fail(CryptoError::kMalformed,
                "signing-certificate-v2 names no certificate");
  }
  std::optional<base::ByteView> id_der =
      sequence_bytes(sk_ASN1_TYPE_value(certs.get(), 0));
  UniqueAnySequence id = id_der ? sequence_of(*id_der) : UniqueAnySequence();
  if (!id) {
    return Fail(CryptoError::kMalformed, "malformed ESSCertIDv2");
  }
  const int n = sk_ASN1_TYPE_num(id.get());
  int i = 0;
  // hashAlgorithm AlgorithmIdentifier DEFAULT {algorithm id-sha256}
  const EVP_MD* md = EVP_sha256();
  if (i < n && sk_ASN1_TYPE_value(id.get(), i)->type == V_ASN1_SEQUENCE) {
    base::ByteView alg_der = *sequence_bytes(sk_ASN1_TYPE_value(id.get(), i));
    const unsigned char* p = alg_der.data();
    UniqueX509Algor alg(
        d2i_X509_ALGOR(nullptr, &p, static_cast<long>(alg_der.size())));
    if (!alg) {
      return Fail(CryptoError::kMalformed,
                  "malformed ESSCertIDv2 hash algorithm");
    }
    const ASN1_OBJECT* obj = nullptr;
    X509_ALGOR_get0(&obj, nullptr, nullptr, alg.get());
    md = Sha2ByNid(OBJ_obj2nid(obj));
    if (md == nullptr) {
      return Fail(CryptoError::kUnsupportedAlgorithm,
                  "signing-certificate-v2 hash algorithm " + ObjectText(obj) +
                      " is not SHA-256, SHA-384 or SHA-512");
    }
    ++i;
  }
  // certHash OCTET STRING
  const ASN1_TYPE* hash = i < n ? sk_ASN1_TYPE_value(id.get(), i) : nullptr;
  if (hash == nullptr || hash->type != V_ASN1_OCTET_STRING) {
    return Fail(CryptoError::kMalformed, "ESSCertIDv2 without certHash");
  }
  ++i;
  const base::Bytes actual = Digest(md, signer.der());
  if (actual.empty() ||
      !SameBytes(actual, ASN1_STRING_get0_data(hash->value.octet_string),
                 ASN1_STRING_length(hash->value.octet_string))) {
    return Fail(CryptoError::kTsaSignerCertificate,
                "the signing-certificate-v2 hash does not match the signer "
                "certificate \"" +
                    signer.SubjectString() + "\"");
  }
  // issuerSerial IssuerSerial OPTIONAL
  if (i < n) {
    std::optional<base::ByteView> is_der =
        sequence_bytes(sk_ASN1_TYPE_value(id.get(), i));
    UniqueAnySequence is = is_der ? sequence_of(*is_der) : UniqueAnySequence();
    if (!is || sk_ASN1_TYPE_num(is.get()) != 2) {
      return Fail(CryptoError::kMalformed, "malformed ESS IssuerSerial");
    }
    std::optional<base::ByteView> names_der =
        sequence_bytes(sk_ASN1_TYPE_value(is.get(), 0));
    const ASN1_TYPE* serial = sk_ASN1_TYPE_value(is.get(), 1);
    if (!names_der || (serial->type != V_ASN1_INTEGER &&
                       serial->type != V_ASN1_NEG_INTEGER)) {
      return Fail(CryptoError::kMalformed, "malformed ESS IssuerSerial");
    }
    const unsigned char* p = names_der->data();
    UniqueGeneralNames names(
        d2i_GENERAL_NAMES(nullptr, &p, static_cast<long>(names_der->size())));
    const GENERAL_NAME* first = names && sk_GENERAL_NAME_num(names.get()) > 0
                                    ? sk_GENERAL_NAME_value(names.get(), 0)
                                    : nullptr;
    if (first == nullptr || first->type != GEN_DIRNAME) {
      // tspclient-go: "issuer name is missing in IssuerSerial".
      return Fail(CryptoError::kMalformed,
                  "ESS IssuerSerial without a directory name");
    }
    unsigned char* name_der = nullptr;
    const int name_len = i2d_X509_NAME(first->d.directoryName, &name_der);
    const bool same_issuer =
        name_len > 0 && SameBytes(signer.issuer_der(), name_der, name_len);
    OPENSSL_free(name_der);
    if (!same_issuer ||
        ASN1_INTEGER_cmp(serial->value.integer,
                         X509_get0_serialNumber(signer.x509())) != 0) {
      return Fail(CryptoError::kTsaSignerCertificate,
                  "the signing-certificate-v2 issuer and serial number do "
                  "not name the signer certificate \"" +
                      signer.SubjectString() + "\"");
    }
  }
  return base::Ok{};
}

// ---------------------------------------------------------------------------
// The token.

struct CheckedToken {
  TimestampContents contents;
  PreciseTime gen_time;
  std::optional<PreciseTime> signing_time;  // signed attribute, if any
};

base::ByteView View(const ASN1_STRING* s) {
  return base::ByteView(ASN1_STRING_get0_data(s),
                        static_cast<size_t>(ASN1_STRING_length(s)));
}

// ParseCms decodes the token as a CMS SignedData whose content is a
// TSTInfo (RFC 3161 §2.4.2; tspclient-go ParseSignedToken).
base::Result<UniqueCms, CryptoError> ParseCms(base::ByteView token) {
  if (token.size() > kMaxTimestampTokenBytes) {
    return Fail(
        CryptoError::kTooLarge,
        "larger than " + std::to_string(kMaxTimestampTokenBytes) + " bytes");
  }
  if (token.empty()) {
    return Fail(CryptoError::kMalformed, "empty");
  }
  TG_RETURN_IF_ERROR(CheckShape(token));
  const unsigned char* p = token.data();
  UniqueCms cms(
      d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(token.size())));
  if (!cms || p != token.data() + token.size()) {
    return Fail(CryptoError::kMalformed, "not a CMS ContentInfo");
  }
  if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
    return Fail(CryptoError::kMalformed, "the CMS content is not SignedData");
  }
  const ASN1_OBJECT* econtent_type = CMS_get0_eContentType(cms.get());
  if (OBJ_obj2nid(econtent_type) != NID_id_smime_ct_TSTInfo) {
    return Fail(
        CryptoError::kBadContentType,
        "content type " + ObjectText(econtent_type) + " is not id-ct-TSTInfo");
  }
  ASN1_OCTET_STRING** econtent = CMS_get0_content(cms.get());
  if (econtent == nullptr || *econtent == nullptr) {
    return Fail(CryptoError::kMalformed, "SignedData without TSTInfo");
  }
  return cms;
}

// EmbeddedCertificates parses every certificate of the SignedData (Go's
// x509.ParseCertificates fails the token on any that does not parse).
base::Result<std::vector<CertificatePtr>, CryptoError> EmbeddedCertificates(
    CMS_ContentInfo* cms) {
  OwnedX509Stack certs(CMS_get1_certs(cms));
  const int count = certs ? sk_X509_num(certs.get()) : 0;
  if (static_cast<size_t>(count) > kMaxTimestampCertificates) {
    return Fail(CryptoError::kTooLarge,
                "more than " + std::to_string(kMaxTimestampCertificates) +
                    " certificates");
  }
  std::vector<CertificatePtr> out;
  for (int i = 0; i < count; ++i) {
    unsigned char* der = nullptr;
    const int len = i2d_X509(sk_X509_value(certs.get(), i), &der);
    if (len <= 0) {
      return Fail(CryptoError::kMalformed, "unencodable certificate");
    }
    auto cert =
        Certificate::FromDer(base::ByteView(der, static_cast<size_t>(len)));
    OPENSSL_free(der);
    if (!cert.ok()) {
      return Fail(
          CryptoError::kMalformed,
          "embedded certificate " + std::to_string(i) + ": " + cert.detail());
    }
    out.push_back(std::move(cert).value());
  }
  return out;
}

// FindSigner returns the embedded certificate the SignerInfo names by
// issuer and serial number (RFC 5652 §5.3; Go compares the issuer's
// encoding byte for byte).
base::Result<CertificatePtr, CryptoError> FindSigner(
    CMS_SignerInfo* si, const std::vector<CertificatePtr>& certs) {
  ASN1_OCTET_STRING* keyid = nullptr;
  X509_NAME* issuer = nullptr;
  ASN1_INTEGER* serial = nullptr;
  if (CMS_SignerInfo_get0_signer_id(si, &keyid, &issuer, &serial) != 1 ||
      keyid != nullptr || issuer == nullptr || serial == nullptr) {
    return Fail(CryptoError::kMalformed,
                "the SignerInfo does not identify its signer by issuer and "
                "serial number");
  }
  unsigned char* name_der = nullptr;
  const int name_len = i2d_X509_NAME(issuer, &name_der);
  CertificatePtr found;
  for (const CertificatePtr& cert : certs) {
    if (name_len > 0 && SameBytes(cert->issuer_der(), name_der, name_len) &&
        ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(cert->x509())) == 0) {
      found = cert;
      break;
    }
  }
  OPENSSL_free(name_der);
  if (!found) {
    return Fail(CryptoError::kTsaSignerCertificate,
                "the signing certificate is not among the token's "
                "certificates");
  }
  return found;
}

// ReadSigningTime parses the optional signing-time signed attribute
// (RFC 5652 §11.3) as Go reads a time (UTCTime or GeneralizedTime).
base::Result<std::optional<PreciseTime>, CryptoError> ReadSigningTime(
    CMS_SignerInfo* si) {
  const int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
  if (idx < 0) {
    return std::optional<PreciseTime>();
  }
  const ASN1_TYPE* t =
      X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(si, idx), 0);
  std::optional<PreciseTime> when;
  if (t != nullptr && t->type == V_ASN1_UTCTIME) {
    when = ParseUtcTime(base::AsString(View(t->value.utctime)));
  } else if (t != nullptr && t->type == V_ASN1_GENERALIZEDTIME) {
    when = ParseGeneralizedTime(base::AsString(View(t->value.generalizedtime)));
  }
  if (!when) {
    return Fail(CryptoError::kMalformed,
                "malformed signing-time signed attribute");
  }
  return when;
}

// VerifySignerInfo verifies the TSA's signature and then the signed
// attributes it covers (RFC 5652 §5.4, §5.6, §11; tspclient-go
// verifySignature, verifySignedAttributes and SigningCertificate). Returns
// the signing-time attribute, if any.
base::Result<std::optional<PreciseTime>, CryptoError> VerifySignerInfo(
    CMS_ContentInfo* cms, CMS_SignerInfo* si, const Certificate& signer) {
  // notation-core-go validateSignatureAlgorithm (TSA leaf): RSA
  // 2048/3072/4096 or EC P-256/384/521. Checked before the signature so
  // that no other key is ever used.
  if (auto alg = AlgorithmForKey(signer.public_key()); !alg.ok()) {
    return FailCert(CryptoError::kUnsupportedKey, signer, alg.detail());
  }
  TG_ASSIGN_OR_RETURN(const EVP_MD* md, CheckSignerAlgorithms(si));
  // Signed attributes are required: the content is not id-data.
  if (CMS_signed_get_attr_count(si) <= 0) {
    return Fail(CryptoError::kMissingAttribute,
                "the SignerInfo has no signed attributes");
  }
  // The signature over the DER of the signed attributes. Nothing inside
  // the token is believed before this passes.
  CMS_SignerInfo_set1_signer_cert(si, signer.x509());
  if (CMS_SignerInfo_verify(si) != 1) {
    const unsigned long err = ERR_peek_last_error();
    if (ERR_GET_LIB(err) == ERR_LIB_CMS &&
        ERR_GET_REASON(err) == CMS_R_ATTRIBUTE_ERROR) {
      return Fail(CryptoError::kMalformed,
                  "signed attributes break RFC 5652 §11 (repeated or "
                  "multi-valued content-type, message-digest, "
                  "signing-time or signing-certificate)");
    }
    return Fail(CryptoError::kBadSignature,
                "the TSA signature does not verify with the signing "
                "certificate \"" +
                    signer.SubjectString() + "\"");
  }
  // RFC 5652 §11.1 content-type attribute = eContentType.
  const ASN1_OBJECT* econtent_type = CMS_get0_eContentType(cms);
  const auto* ct_attr =
      static_cast<const ASN1_OBJECT*>(CMS_signed_get0_data_by_OBJ(
          si, OBJ_nid2obj(NID_pkcs9_contentType), -3, V_ASN1_OBJECT));
  if (ct_attr == nullptr) {
    return Fail(CryptoError::kMissingAttribute,
                "no content-type signed attribute");
  }
  if (OBJ_cmp(ct_attr, econtent_type) != 0) {
    return Fail(CryptoError::kBadContentType,
                "the content-type attribute does not match the content");
  }
  // RFC 5652 §11.2 message-digest attribute = digest of the TSTInfo.
  const auto* md_attr =
      static_cast<const ASN1_OCTET_STRING*>(CMS_signed_get0_data_by_OBJ(
          si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING));
  if (md_attr == nullptr) {
    return Fail(CryptoError::kMissingAttribute,
                "no message-digest signed attribute");
  }
  const base::Bytes tst_digest = Digest(md, View(*CMS_get0_content(cms)));
  if (tst_digest.empty() ||
      !SameBytes(tst_digest, ASN1_STRING_get0_data(md_attr),
                 ASN1_STRING_length(md_attr))) {
    return Fail(CryptoError::kBadSignature,
                "the message-digest attribute does not match the TSTInfo");
  }
  TG_ASSIGN_OR_RETURN(std::optional<PreciseTime> signing_time,
                      ReadSigningTime(si));
  // RFC 5816 / signature-specification.md: signing-certificate-v2 is
  // required and must name the signer. (tspclient-go reads only v2; a
  // token with only the SHA-1 signing-certificate fails there too.)
  const auto* ess = static_cast<const ASN1_STRING*>(CMS_signed_get0_data_by_OBJ(
      si, OBJ_nid2obj(NID_id_smime_aa_signingCertificateV2), -3,
      V_ASN1_SEQUENCE));
  if (ess == nullptr) {
    if (CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2,
                                   -1) >= 0) {
      return Fail(CryptoError::kMalformed,
                  "malformed signing-certificate-v2 attribute");
    }
    return Fail(CryptoError::kMissingAttribute,
                "no signing-certificate-v2 signed attribute");
  }
  TG_RETURN_IF_ERROR(EssNamesSigner(View(ess), signer));
  return signing_time;
}

// EffectiveAccuracy (tspclient-go TSTInfo.Validate, trust-store-trust-
// policy.md step "Retrieve the timestamp's accuracy"): the sum of the
// components; when all are absent or zero, one second under the baseline
// policy, else zero. Like tspclient-go, millis and micros above 999 are
// summed, not refused; negative components are refused (Go would invert
// the interval).
base::Result<std::chrono::microseconds, CryptoError> EffectiveAccuracy(
    TS_TST_INFO* tst, const std::string& policy) {
  constexpr int64_t kScale[3] = {1'000'000, 1'000, 1};
  int64_t accuracy = 0;
  if (const TS_ACCURACY* acc = TS_TST_INFO_get_accuracy(tst); acc != nullptr) {
    const ASN1_INTEGER* parts[3] = {TS_ACCURACY_get_seconds(acc),
                                    TS_ACCURACY_get_millis(acc),
                                    TS_ACCURACY_get_micros(acc)};
    for (int k = 0; k < 3; ++k) {
      int64_t v = 0;
      if (parts[k] != nullptr &&
          (ASN1_INTEGER_get_int64(&v, parts[k]) != 1 || v < 0 ||
           v > kMaxAccuracyMicros / kScale[k])) {
        return Fail(CryptoError::kBadAttribute,
                    "TSTInfo accuracy components must be non-negative and "
                    "below 9e9 seconds");
      }
      accuracy += v * kScale[k];  // at most 3 * kMaxAccuracyMicros
    }
  }
  if (accuracy > kMaxAccuracyMicros) {
    return Fail(CryptoError::kBadAttribute, "TSTInfo accuracy too large");
  }
  if (accuracy == 0 && policy == kBaselineTimestampPolicy) {
    accuracy = 1'000'000;
  }
  return std::chrono::microseconds(accuracy);
}

// ReadTstInfo reads the (authenticated) TSTInfo: version 1, message
// imprint over `signature_bytes`, genTime, accuracy, policy, serial.
base::Status<CryptoError> ReadTstInfo(base::ByteView tst_der,
                                      base::ByteView signature_bytes,
                                      CheckedToken* out) {
  const unsigned char* p = tst_der.data();
  UniqueTstInfo tst(
      d2i_TS_TST_INFO(nullptr, &p, static_cast<long>(tst_der.size())));
  if (!tst) {
    return Fail(CryptoError::kMalformed, "malformed TSTInfo");
  }
  // RFC 3161 §2.4.2 version v1.
  if (TS_TST_INFO_get_version(tst.get()) != 1) {
    return Fail(CryptoError::kBadAttribute, "TSTInfo version must be 1");
  }
  // RFC 3161 §2.4.2 messageImprint: the hash of the timestamped datum,
  // here the raw signature bytes of the envelope (trust-store-trust-
  // policy.md; tspclient-go TSTInfo.validate: SHA-256/384/512 only).
  TS_MSG_IMPRINT* imprint = TS_TST_INFO_get_msg_imprint(tst.get());
  X509_ALGOR* imprint_alg =
      imprint != nullptr ? TS_MSG_IMPRINT_get_algo(imprint) : nullptr;
  ASN1_OCTET_STRING* imprint_hash =
      imprint != nullptr ? TS_MSG_IMPRINT_get_msg(imprint) : nullptr;
  if (imprint_alg == nullptr || imprint_hash == nullptr) {
    return Fail(CryptoError::kMalformed, "TSTInfo without message imprint");
  }
  const ASN1_OBJECT* imprint_obj = nullptr;
  X509_ALGOR_get0(&imprint_obj, nullptr, nullptr, imprint_alg);
  const EVP_MD* imprint_md = Sha2ByNid(OBJ_obj2nid(imprint_obj));
  if (imprint_md == nullptr) {
    return Fail(CryptoError::kUnsupportedAlgorithm,
                "message imprint hash " + ObjectText(imprint_obj) +
                    " is not SHA-256, SHA-384 or SHA-512");
  }
  const base::Bytes signature_digest = Digest(imprint_md, signature_bytes);
  if (signature_digest.empty() ||
      !SameBytes(signature_digest, ASN1_STRING_get0_data(imprint_hash),
                 ASN1_STRING_length(imprint_hash))) {
    return Fail(CryptoError::kTimestampImprintMismatch,
                "the message imprint is not the hash of this signature");
  }
  // RFC 3161 §2.4.2 genTime, read as Go reads a GeneralizedTime.
  const ASN1_GENERALIZEDTIME* gen = TS_TST_INFO_get_time(tst.get());
  std::optional<PreciseTime> gen_time =
      gen == nullptr ? std::nullopt
                     : ParseGeneralizedTime(base::AsString(View(gen)));
  if (!gen_time) {
    return Fail(CryptoError::kMalformed, "malformed TSTInfo genTime");
  }
  TimestampContents& c = out->contents;
  c.policy = ObjectText(TS_TST_INFO_get_policy_id(tst.get()));
  TG_ASSIGN_OR_RETURN(c.accuracy, EffectiveAccuracy(tst.get(), c.policy));
  out->gen_time = *gen_time;
  c.gen_time = gen_time->Floor();
  c.earliest = gen_time->Floor() - c.accuracy;
  c.latest = gen_time->Ceil() + c.accuracy;
  if (const ASN1_INTEGER* serial = TS_TST_INFO_get_serial(tst.get());
      serial != nullptr) {
    c.serial_hex = (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER ? "-" : "") +
                   base::HexEncode(View(serial));
  }
  return base::Ok{};
}

base::Result<CheckedToken, CryptoError> CheckToken(
    base::ByteView token, base::ByteView signature_bytes) {
  TG_ASSIGN_OR_RETURN(UniqueCms cms, ParseCms(token));
  CheckedToken out;
  TG_ASSIGN_OR_RETURN(out.contents.certificates,
                      EmbeddedCertificates(cms.get()));
  // RFC 3161 §2.4.1: "The time-stamp token MUST NOT contain any signatures
  // other than the signature of the TSA."
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms.get());
  const int signers = infos != nullptr ? sk_CMS_SignerInfo_num(infos) : 0;
  if (signers != 1) {
    return Fail(CryptoError::kMalformed,
                "a timestamp token must carry exactly one SignerInfo, not " +
                    std::to_string(signers));
  }
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, 0);
  TG_ASSIGN_OR_RETURN(out.contents.signer,
                      FindSigner(si, out.contents.certificates));
  TG_ASSIGN_OR_RETURN(out.signing_time,
                      VerifySignerInfo(cms.get(), si, *out.contents.signer));
  // The TSTInfo is read only now that the signature covers it.
  TG_RETURN_IF_ERROR(
      ReadTstInfo(View(*CMS_get0_content(cms.get())), signature_bytes, &out));
  ERR_clear_error();
  return out;
}

// ---------------------------------------------------------------------------
// The TSA chain.

// Go's CheckSignatureFrom refuses a parent that is a v3 certificate without
// basic constraints, whose basic constraints say cA FALSE, or whose key
// usage (when non-zero) lacks keyCertSign; notation-core-go's isSelfSigned
// goes through it.
bool GoCanSign(const Certificate& cert) {
  if (cert.version() == 3 && !cert.has_basic_constraints()) {
    return false;
  }
  if (cert.has_basic_constraints() && !cert.is_ca()) {
    return false;
  }
  return cert.key_usage() == 0 || (cert.key_usage() & kKuKeyCertSign) != 0;
}

// notation-core-go validateTimestampingLeafCertificate.
base::Status<CryptoError> ValidateTsaLeaf(const Certificate& leaf) {
  if (leaf.has_basic_constraints() && leaf.is_ca()) {
    return FailCert(CryptoError::kLeafIsCa, leaf,
                    "a TSA signing certificate must not be a CA");
  }
  // signature-specification.md: key usage MUST be present (SHOULD be
  // critical: not checked, as in notation-core-go).
  if (!leaf.has_key_usage()) {
    return FailCert(CryptoError::kLeafKeyUsage, leaf,
                    "key usage extension must be present");
  }
  if ((leaf.key_usage() & kKuDigitalSignature) == 0) {
    return FailCert(CryptoError::kLeafKeyUsage, leaf,
                    "key usage must include digitalSignature");
  }
  constexpr uint32_t kForbidden =
      kKuKeyEncipherment | kKuDataEncipherment | kKuKeyAgreement |
      kKuKeyCertSign | kKuCrlSign | kKuEncipherOnly | kKuDecipherOnly;
  if ((leaf.key_usage() & kForbidden) != 0) {
    return FailCert(CryptoError::kLeafKeyUsage, leaf,
                    "key usage must be digitalSignature (and optionally "
                    "nonRepudiation) only");
  }
  // RFC 3161 §2.3: exactly one extended key usage, id-kp-timeStamping,
  // in a critical extension.
  if (leaf.extended_key_usage().size() != 1 ||
      leaf.extended_key_usage()[0] != ExtendedKeyUsage::kTimeStamping) {
    return FailCert(CryptoError::kLeafExtendedKeyUsage, leaf,
                    "extended key usage must be timeStamping only");
  }
  if (!leaf.extended_key_usage_critical()) {
    return FailCert(CryptoError::kLeafExtendedKeyUsage, leaf,
                    "the extended key usage extension must be critical");
  }
  if (auto alg = AlgorithmForKey(leaf.public_key()); !alg.ok()) {
    return FailCert(CryptoError::kUnsupportedKey, leaf, alg.detail());
  }
  return base::Ok{};
}

// notation-core-go validateTimestampingCACertificate. `below` is the
// number of CA certificates between this one and the leaf.
base::Status<CryptoError> ValidateTsaCa(const Certificate& ca, size_t below) {
  if (!ca.has_basic_constraints() || !ca.is_ca()) {
    return FailCert(CryptoError::kCaBasicConstraints, ca,
                    "an issuing certificate must have basicConstraints "
                    "CA:TRUE");
  }
  if (ca.path_len().has_value() &&
      static_cast<size_t>(*ca.path_len()) < below) {
    return FailCert(CryptoError::kPathLength, ca,
                    "path length constraint " + std::to_string(*ca.path_len()) +
                        " is exceeded");
  }
  if (!ca.has_key_usage()) {
    return FailCert(CryptoError::kCaKeyUsage, ca,
                    "key usage extension must be present");
  }
  if ((ca.key_usage() & kKuKeyCertSign) == 0) {
    return FailCert(CryptoError::kCaKeyUsage, ca,
                    "key usage must include keyCertSign");
  }
  return base::Ok{};
}

// ValidateTsaChain: notation-core-go x509.ValidateTimestampingCertChain on
// a leaf-first chain.
base::Status<CryptoError> ValidateTsaChain(
    std::span<const CertificatePtr> chain) {
  if (chain.size() == 1) {
    const Certificate& cert = *chain[0];
    if (!cert.IsSelfSigned()) {
      return FailCert(CryptoError::kChainNotSelfSigned, cert,
                      "a TSA chain of one certificate must be self-signed");
    }
    return ValidateTsaLeaf(cert);
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    const Certificate& cert = *chain[i];
    if (i + 1 == chain.size()) {
      if (!GoCanSign(cert) || !cert.IsSelfSigned()) {
        return FailCert(CryptoError::kChainNotSelfSigned, cert,
                        "the TSA chain must end with a self-signed root");
      }
    } else {
      if (GoCanSign(cert) && cert.IsSelfSigned()) {
        return FailCert(CryptoError::kChainBroken, cert,
                        "a self-signed certificate may only end the chain");
      }
      if (!GoCanSign(*chain[i + 1]) || !cert.IsIssuedBy(*chain[i + 1])) {
        return FailCert(
            CryptoError::kChainBroken, cert,
            "not issued by \"" + chain[i + 1]->SubjectString() + "\"");
      }
    }
    if (i == 0) {
      TG_RETURN_IF_ERROR(ValidateTsaLeaf(cert));
    } else {
      TG_RETURN_IF_ERROR(ValidateTsaCa(cert, i - 1));
    }
  }
  return base::Ok{};
}

// Certificate validity is judged by us at genTime with Go's inclusive
// bounds and nanosecond precision, not by OpenSSL (whole seconds, notAfter
// exclusive); OpenSSL still gets the time so that it prefers issuers valid
// then.
int IgnoreValidityPeriods(int ok, X509_STORE_CTX* ctx) {
  if (ok == 0) {
    const int err = X509_STORE_CTX_get_error(ctx);
    if (err == X509_V_ERR_CERT_NOT_YET_VALID ||
        err == X509_V_ERR_CERT_HAS_EXPIRED) {
      return 1;
    }
  }
  return ok;
}

base::Result<std::vector<CertificatePtr>, CryptoError> BuildTsaChain(
    const CheckedToken& token, std::span<const CertificatePtr> tsa_roots) {
  UniqueX509Store store(X509_STORE_new());
  BorrowedX509Stack untrusted(sk_X509_new_null());
  UniqueX509StoreCtx ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx) {
    return Fail(CryptoError::kTsaUntrusted, "out of memory");
  }
  size_t roots = 0;
  for (const CertificatePtr& root : tsa_roots) {
    if (root && X509_STORE_add_cert(store.get(), root->x509()) == 1) {
      ++roots;
    }
  }
  if (roots == 0) {
    return Fail(CryptoError::kTsaUntrusted,
                "no trusted TSA root certificate (the trust policy's tsa "
                "stores are empty)");
  }
  for (const CertificatePtr& cert : token.contents.certificates) {
    if (sk_X509_push(untrusted.get(), cert->x509()) <= 0) {
      return Fail(CryptoError::kTsaUntrusted, "out of memory");
    }
  }
  const Certificate& signer = *token.contents.signer;
  if (X509_STORE_CTX_init(ctx.get(), store.get(), signer.x509(),
                          untrusted.get()) != 1) {
    return Fail(CryptoError::kTsaUntrusted, "X509_STORE_CTX_init failed");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param,
                             static_cast<time_t>(token.gen_time.seconds));
  // Every certificate of the tsa stores is an anchor, as in Go's
  // VerifyOptions.Roots; ValidateTsaChain then requires a self-signed end.
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  X509_VERIFY_PARAM_set_depth(param,
                              static_cast<int>(kMaxTimestampCertificates));
  X509_STORE_CTX_set_verify_cb(ctx.get(), IgnoreValidityPeriods);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    const std::string why = X509_verify_cert_error_string(err);
    switch (err) {
      case X509_V_ERR_INVALID_CA: {
        // OpenSSL's X509_check_ca folds basic constraints and key usage
        // together; name the rule the certificate breaks.
        const X509* bad = X509_STORE_CTX_get_current_cert(ctx.get());
        for (const CertificatePtr& c : token.contents.certificates) {
          if (c->x509() == bad) {
            if (auto st = ValidateTsaCa(*c, 0); !st.ok()) {
              return std::move(st).error();
            }
          }
        }
        return Fail(CryptoError::kCaBasicConstraints, "TSA chain: " + why);
      }
      case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
        return Fail(CryptoError::kCaKeyUsage, "TSA chain: " + why);
      case X509_V_ERR_PATH_LENGTH_EXCEEDED:
        return Fail(CryptoError::kPathLength, "TSA chain: " + why);
      default:
        return Fail(CryptoError::kTsaUntrusted,
                    "no chain from the TSA certificate \"" +
                        signer.SubjectString() +
                        "\" to a certificate of the trust policy's tsa "
                        "stores: " +
                        why);
    }
  }
  STACK_OF(X509)* built = X509_STORE_CTX_get0_chain(ctx.get());
  std::vector<CertificatePtr> chain;
  for (int i = 0; built != nullptr && i < sk_X509_num(built); ++i) {
    const X509* x = sk_X509_value(built, i);
    // OpenSSL hands back the very X509 objects it was given.
    CertificatePtr found;
    for (const CertificatePtr& c : token.contents.certificates) {
      if (c->x509() == x) {
        found = c;
      }
    }
    for (const CertificatePtr& c : tsa_roots) {
      if (!found && c && c->x509() == x) {
        found = c;
      }
    }
    if (!found) {
      return Fail(CryptoError::kTsaUntrusted,
                  "OpenSSL built a chain through an unknown certificate");
    }
    chain.push_back(std::move(found));
  }
  ERR_clear_error();
  if (chain.empty()) {
    return Fail(CryptoError::kTsaUntrusted, "empty TSA chain");
  }
  return chain;
}

}  // namespace

base::Result<TimestampContents, CryptoError> VerifyTimestampTokenSignature(
    base::ByteView token_der, base::ByteView signature_bytes) {
  TG_ASSIGN_OR_RETURN(CheckedToken token,
                      CheckToken(token_der, signature_bytes));
  return std::move(token.contents);
}

base::Result<TimestampProof, CryptoError> VerifyTimestampToken(
    base::ByteView token_der, base::ByteView signature_bytes,
    std::span<const CertificatePtr> tsa_roots) {
  TG_ASSIGN_OR_RETURN(CheckedToken token,
                      CheckToken(token_der, signature_bytes));
  TG_ASSIGN_OR_RETURN(std::vector<CertificatePtr> chain,
                      BuildTsaChain(token, tsa_roots));
  // Go's x509.Verify with CurrentTime = genTime: every certificate of the
  // chain, the root included, is valid then.
  for (const CertificatePtr& cert : chain) {
    if (!ValidAt(*cert, token.gen_time)) {
      return FailCert(CryptoError::kTsaCertificateNotValid, *cert,
                      "not valid at the timestamp's genTime " +
                          base::FormatRfc3339(token.contents.gen_time));
    }
  }
  // Go's checkChainForKeyUsage with [timeStamping]: a CA certificate with
  // an extended key usage must allow timeStamping (or any). The leaf's
  // usage is checked exactly by ValidateTsaChain.
  for (size_t i = 1; i < chain.size(); ++i) {
    const auto& ekus = chain[i]->extended_key_usage();
    if (!ekus.empty() &&
        std::find(ekus.begin(), ekus.end(), ExtendedKeyUsage::kAny) ==
            ekus.end() &&
        std::find(ekus.begin(), ekus.end(), ExtendedKeyUsage::kTimeStamping) ==
            ekus.end()) {
      return FailCert(CryptoError::kTsaUntrusted, *chain[i],
                      "its extended key usage does not allow timeStamping");
    }
  }
  TG_RETURN_IF_ERROR(ValidateTsaChain(chain));
  // tspclient-go verifySignedAttributes: a signing-time attribute must lie
  // inside the validity of every certificate of the chain.
  if (token.signing_time) {
    for (const CertificatePtr& cert : chain) {
      if (!ValidAt(*cert, *token.signing_time)) {
        return FailCert(CryptoError::kTsaCertificateNotValid, *cert,
                        "not valid at the token's signing-time attribute");
      }
    }
  }
  TimestampProof proof;
  proof.gen_time = token.contents.gen_time;
  proof.accuracy = token.contents.accuracy;
  proof.earliest = token.contents.earliest;
  proof.latest = token.contents.latest;
  proof.policy = std::move(token.contents.policy);
  proof.serial_hex = std::move(token.contents.serial_hex);
  proof.tsa_subject = chain.front()->SubjectString();
  proof.tsa_chain = std::move(chain);
  return proof;
}

bool WithinValidity(const TimestampProof& proof, const Certificate& cert) {
  // tspclient-go Timestamp.BoundedAfter(notBefore) and
  // BoundedBefore(notAfter), both inclusive.
  return proof.earliest >= cert.not_before() &&
         proof.latest <= cert.not_after();
}

}  // namespace trustgate::crypto
