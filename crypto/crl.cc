#include "crypto/crl.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstring>
#include <limits>
#include <mutex>
#include <utility>

#include "crypto/civil_time.h"
#include "crypto/pss_params.h"

namespace trustgate::crypto {

using UniqueAsn1Integer =
    std::unique_ptr<ASN1_INTEGER, OsslDeleter<ASN1_INTEGER_free>>;
using UniqueGeneralizedTime =
    std::unique_ptr<ASN1_GENERALIZEDTIME, OsslDeleter<ASN1_TIME_free>>;
using UniqueIdp =
    std::unique_ptr<ISSUING_DIST_POINT, OsslDeleter<ISSUING_DIST_POINT_free>>;

namespace {

base::Error<CryptoError> Malformed(std::string detail) {
  ERR_clear_error();
  return base::MakeError(CryptoError::kMalformed, std::move(detail));
}

base::ByteView View(const ASN1_STRING* s) {
  return base::ByteView(ASN1_STRING_get0_data(s),
                        static_cast<size_t>(ASN1_STRING_length(s)));
}

std::string_view AsText(base::ByteView b) { return base::AsString(b); }

using internal::ReadDigits;

using internal::CivilToTime;
using internal::ReadFraction;
using internal::ReadZoneToEnd;

// Minimal two's-complement INTEGER contents (X.690 §8.3.2), as cryptobyte's
// checkASN1Integer requires.
bool MinimalInteger(base::ByteView c) {
  if (c.empty()) {
    return false;
  }
  if (c.size() > 1 && ((c[0] == 0x00 && (c[1] & 0x80) == 0) ||
                       (c[0] == 0xff && (c[1] & 0x80) != 0))) {
    return false;
  }
  return true;
}

// Reads an INTEGER element as cryptobyte's ReadASN1Integer into a BIGNUM
// (bytes after the element are ignored, as Go ignores them).
UniqueBignum ReadInteger(base::ByteView value) {
  internal::DerElement e;
  if (!internal::ReadDerElement(&value, &e) || e.tag != V_ASN1_INTEGER ||
      !MinimalInteger(e.content)) {
    return nullptr;
  }
  const unsigned char* p = e.full.data();
  UniqueAsn1Integer i(
      d2i_ASN1_INTEGER(nullptr, &p, static_cast<long>(e.full.size())));
  if (!i) {
    ERR_clear_error();
    return nullptr;
  }
  UniqueBignum bn(ASN1_INTEGER_to_BN(i.get(), nullptr));
  ERR_clear_error();
  return bn;
}

std::string Decimal(const BIGNUM* bn) {
  char* text = BN_bn2dec(bn);
  if (text == nullptr) {
    ERR_clear_error();
    return "?";
  }
  std::string out(text);
  OPENSSL_free(text);
  return out;
}

// Go's RevocationListEntry.ReasonCode: cryptobyte ReadASN1Enum (ENUMERATED,
// minimal, fits Go's 64-bit int; bytes after it ignored). A value outside
// the int range here is reported as -1 (it is neither certificateHold nor
// removeFromCRL, so it revokes like any other reason).
std::optional<int> ReadReasonCode(base::ByteView value) {
  internal::DerElement e;
  if (!internal::ReadDerElement(&value, &e) || e.tag != V_ASN1_ENUMERATED ||
      !MinimalInteger(e.content) || e.content.size() > 8) {
    return std::nullopt;
  }
  uint64_t v = (e.content[0] & 0x80) != 0 ? ~uint64_t{0} : 0;
  for (uint8_t b : e.content) {
    v = (v << 8) | b;
  }
  const auto signed_value = static_cast<int64_t>(v);
  if (signed_value < std::numeric_limits<int>::min() ||
      signed_value > std::numeric_limits<int>::max()) {
    return -1;
  }
  return static_cast<int>(signed_value);
}

// Go's parseAuthorityKeyIdentifier: a SEQUENCE, whose optional leading
// [0] keyIdentifier must read.
bool AuthorityKeyIdParses(base::ByteView value) {
  internal::DerElement seq;
  if (!internal::ReadDerElement(&value, &seq) || seq.tag != 0x30) {
    return false;
  }
  base::ByteView inner = seq.content;
  if (!inner.empty() && inner[0] == 0x80) {
    internal::DerElement kid;
    return internal::ReadDerElement(&inner, &kid);
  }
  return true;
}

// encoding/asn1 "generalized" time.Time with no trailing data (notation-core
// -go parseEntryExtensions, checkStatusFromServer).
std::optional<base::Time> ReadGeneralizedTime(base::ByteView value) {
  const unsigned char* p = value.data();
  UniqueGeneralizedTime t(
      d2i_ASN1_GENERALIZEDTIME(nullptr, &p, static_cast<long>(value.size())));
  if (!t || p != value.data() + value.size()) {
    ERR_clear_error();
    return std::nullopt;
  }
  return internal::ParseDerTime(t.get(),
                                internal::TimeFormat::kAsn1Generalized);
}

int EntrySerialCompare(const STACK_OF(X509_REVOKED) * revoked, uint32_t a,
                       uint32_t b) {
  return ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(
                              revoked, static_cast<int>(a))),
                          X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(
                              revoked, static_cast<int>(b))));
}

CertRevocation Unknown(CryptoError code, std::string detail) {
  CertRevocation r;
  r.status = RevocationStatus::kUnknown;
  r.method = RevocationMethod::kCrl;
  r.code = code;
  r.detail = std::move(detail);
  return r;
}

std::string FormatTime(base::Time t) { return base::FormatRfc3339(t); }

}  // namespace

// ---------------------------------------------------------------------------
// Shared helpers (also used by ocsp.cc).

namespace internal {

bool ReadDerElement(base::ByteView* in, DerElement* out) {
  const base::ByteView s = *in;
  if (s.size() < 2) {
    return false;
  }
  const uint8_t tag = s[0];
  const uint8_t len_byte = s[1];
  if ((tag & 0x1f) == 0x1f) {
    return false;  // high tag numbers: cryptobyte refuses them
  }
  size_t header = 2;
  size_t length = 0;
  if ((len_byte & 0x80) == 0) {
    length = len_byte;
  } else {
    const size_t len_len = len_byte & 0x7f;
    if (len_len == 0 || len_len > 4 || s.size() < 2 + len_len) {
      return false;  // indefinite or over-long lengths
    }
    uint32_t v = 0;
    for (size_t i = 0; i < len_len; ++i) {
      v = (v << 8) | s[2 + i];
    }
    // X.690 §10.1: minimal length encoding.
    if (v < 128 || (v >> ((len_len - 1) * 8)) == 0) {
      return false;
    }
    header = 2 + len_len;
    length = v;
  }
  if (length > s.size() - header) {
    return false;
  }
  out->tag = tag;
  out->full = s.subspan(0, header + length);
  out->content = s.subspan(header, length);
  *in = s.subspan(header + length);
  return true;
}

std::string OidText(const ASN1_OBJECT* obj) {
  char buf[128];
  const int n = OBJ_obj2txt(buf, sizeof(buf), obj, 1);
  if (n <= 0) {
    ERR_clear_error();
    return "?";
  }
  if (static_cast<size_t>(n) < sizeof(buf)) {
    return std::string(buf, static_cast<size_t>(n));
  }
  std::string big(static_cast<size_t>(n) + 1, '\0');
  OBJ_obj2txt(big.data(), n + 1, obj, 1);
  big.resize(static_cast<size_t>(n));
  return big;
}

std::optional<base::Time> ParseDerTime(const ASN1_TIME* t, TimeFormat format) {
  if (t == nullptr) {
    return std::nullopt;
  }
  const int type = ASN1_STRING_type(t);
  const std::string_view s = AsText(View(t));
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int64_t micros = 0;
  int offset = 0;
  if (type == V_ASN1_UTCTIME) {
    // cryptobyte ReadASN1UTCTime: "060102150405Z0700", falling back to
    // "0601021504Z0700"; two-digit years 50-99 are 19xx.
    if (format != TimeFormat::kCryptobyte) {
      return std::nullopt;
    }
    int yy = 0;
    if (!ReadDigits(s, 0, 2, &yy) || !ReadDigits(s, 2, 2, &month) ||
        !ReadDigits(s, 4, 2, &day) || !ReadDigits(s, 6, 2, &hour) ||
        !ReadDigits(s, 8, 2, &minute)) {
      return std::nullopt;
    }
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    size_t pos = 10;
    if (ReadDigits(s, 10, 2, &second)) {
      pos = 12;
    }
    if (!ReadZoneToEnd(s, pos, &offset)) {
      return std::nullopt;
    }
    return CivilToTime(year, month, day, hour, minute, second, 0, offset);
  }
  if (type != V_ASN1_GENERALIZEDTIME) {
    return std::nullopt;
  }
  if (!ReadDigits(s, 0, 4, &year) || !ReadDigits(s, 4, 2, &month) ||
      !ReadDigits(s, 6, 2, &day) || !ReadDigits(s, 8, 2, &hour) ||
      !ReadDigits(s, 10, 2, &minute) || !ReadDigits(s, 12, 2, &second)) {
    return std::nullopt;
  }
  size_t pos = 14;
  if (pos < s.size() && s[pos] == '.') {
    // encoding/asn1 "20060102150405.999999999Z0700": up to nine digits,
    // no trailing zero (the round trip drops it). cryptobyte's layout has
    // no fraction at all.
    if (format != TimeFormat::kAsn1Generalized) {
      return std::nullopt;
    }
    ++pos;
    bool finer = false;  // digits below a microsecond are dropped
    if (!ReadFraction(s, &pos, &micros, &finer)) {
      return std::nullopt;
    }
  }
  if (!ReadZoneToEnd(s, pos, &offset)) {
    return std::nullopt;
  }
  return CivilToTime(year, month, day, hour, minute, second, micros, offset);
}

std::optional<std::vector<std::string>> UrisFromDistributionPoints(
    base::ByteView value) {
  // RFC 5280 §4.2.1.13, read as Go's crypto/x509 (parser.go) and
  // notation-core-go parseCRLDistributionPoint read it: per
  // DistributionPoint, the [0] distributionPoint must be a [0] fullName;
  // its leading URI ([6]) names are taken until the first other name.
  std::vector<std::string> urls;
  DerElement outer;
  if (!ReadDerElement(&value, &outer) || outer.tag != 0x30) {
    return std::nullopt;
  }
  base::ByteView points = outer.content;
  while (!points.empty()) {
    DerElement dp;
    if (!ReadDerElement(&points, &dp) || dp.tag != 0x30) {
      return std::nullopt;
    }
    base::ByteView dp_fields = dp.content;
    if (dp_fields.empty() || dp_fields[0] != 0xa0) {
      continue;  // no distributionPoint name
    }
    DerElement name;
    DerElement full_name;
    if (!ReadDerElement(&dp_fields, &name)) {
      return std::nullopt;
    }
    base::ByteView name_content = name.content;
    if (!ReadDerElement(&name_content, &full_name) || full_name.tag != 0xa0) {
      return std::nullopt;  // nameRelativeToCRLIssuer: Go fails
    }
    base::ByteView names = full_name.content;
    while (!names.empty()) {
      if (names[0] != 0x86) {
        break;
      }
      DerElement uri;
      if (!ReadDerElement(&names, &uri)) {
        return std::nullopt;
      }
      urls.emplace_back(AsText(uri.content));
    }
  }
  return urls;
}

namespace {

// PssDigest: the digest name of RSASSA-PSS parameters Go accepts
// (internal::GoPssHashNid), nullptr for any other.
const char* PssDigest(const X509_ALGOR* alg) {
  switch (internal::GoPssHashNid(alg)) {
    case NID_sha256:
      return "SHA256";
    case NID_sha384:
      return "SHA384";
    case NID_sha512:
      return "SHA512";
    default:
      return nullptr;
  }
}

struct AlgorithmChoice {
  int key_type = EVP_PKEY_NONE;
  const char* digest = nullptr;  // nullptr for Ed25519
  bool pss = false;
};

std::optional<AlgorithmChoice> ChooseAlgorithm(const X509_ALGOR* alg,
                                               GoSignatureAlgorithms table) {
  if (alg == nullptr) {
    return std::nullopt;
  }
  const ASN1_OBJECT* oid = nullptr;
  int ptype = 0;
  X509_ALGOR_get0(&oid, &ptype, nullptr, alg);
  switch (OBJ_obj2nid(oid)) {
    // Go's CheckSignature: SHA-1 accepted (allowSHA1), MD2/MD5 never.
    case NID_sha1WithRSAEncryption:
      return AlgorithmChoice{EVP_PKEY_RSA, "SHA1", false};
    case NID_sha256WithRSAEncryption:
      return AlgorithmChoice{EVP_PKEY_RSA, "SHA256", false};
    case NID_sha384WithRSAEncryption:
      return AlgorithmChoice{EVP_PKEY_RSA, "SHA384", false};
    case NID_sha512WithRSAEncryption:
      return AlgorithmChoice{EVP_PKEY_RSA, "SHA512", false};
    case NID_ecdsa_with_SHA1:
      return AlgorithmChoice{EVP_PKEY_EC, "SHA1", false};
    case NID_ecdsa_with_SHA256:
      return AlgorithmChoice{EVP_PKEY_EC, "SHA256", false};
    case NID_ecdsa_with_SHA384:
      return AlgorithmChoice{EVP_PKEY_EC, "SHA384", false};
    case NID_ecdsa_with_SHA512:
      return AlgorithmChoice{EVP_PKEY_EC, "SHA512", false};
    case NID_rsassaPss: {
      if (table != GoSignatureAlgorithms::kX509) {
        return std::nullopt;  // not in golang.org/x/crypto/ocsp's table
      }
      const char* digest = PssDigest(alg);
      if (digest == nullptr) {
        return std::nullopt;
      }
      return AlgorithmChoice{EVP_PKEY_RSA, digest, true};
    }
    case NID_ED25519:
      // RFC 8410 §3: parameters absent.
      if (table != GoSignatureAlgorithms::kX509 || ptype != V_ASN1_UNDEF) {
        return std::nullopt;
      }
      return AlgorithmChoice{EVP_PKEY_ED25519, nullptr, false};
    default:
      return std::nullopt;
  }
}

}  // namespace

bool SignatureAlgorithmAllowed(const X509_ALGOR* alg, const EVP_PKEY* key,
                               GoSignatureAlgorithms table) {
  const auto choice = ChooseAlgorithm(alg, table);
  return choice.has_value() && key != nullptr &&
         EVP_PKEY_get_base_id(key) == choice->key_type;
}

bool VerifyRawSignature(const X509_ALGOR* alg, const EVP_PKEY* key,
                        GoSignatureAlgorithms table,
                        base::ByteView signed_bytes, base::ByteView signature) {
  const auto choice = ChooseAlgorithm(alg, table);
  if (!choice || key == nullptr ||
      EVP_PKEY_get_base_id(key) != choice->key_type) {
    return false;
  }
  UniqueEvpMdCtx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = ctx != nullptr &&
            EVP_DigestVerifyInit_ex(ctx.get(), &pctx, choice->digest, nullptr,
                                    nullptr, const_cast<EVP_PKEY*>(key),
                                    nullptr) == 1;
  if (ok && choice->pss) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, choice->digest, nullptr) == 1;
  }
  ok = ok && EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                              signed_bytes.data(), signed_bytes.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace internal

// ---------------------------------------------------------------------------

std::string_view ToString(RevocationStatus s) {
  switch (s) {
    case RevocationStatus::kGood:
      return "good";
    case RevocationStatus::kRevoked:
      return "revoked";
    case RevocationStatus::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::string_view ToString(RevocationMethod m) {
  switch (m) {
    case RevocationMethod::kNone:
      return "none";
    case RevocationMethod::kCrl:
      return "crl";
    case RevocationMethod::kOcsp:
      return "ocsp";
  }
  return "none";
}

bool IsHttpUrl(std::string_view url) {
  // Go's url.Parse refuses ASCII control characters and bad %-escapes,
  // and lowercases the scheme; fetchCRL then requires "http", OCSP
  // compares it case-insensitively.
  for (size_t i = 0; i < url.size(); ++i) {
    const auto c = static_cast<unsigned char>(url[i]);
    if (c < 0x20 || c == 0x7f) {
      return false;
    }
    if (c == '%') {
      if (i + 2 >= url.size() ||
          !std::isxdigit(static_cast<unsigned char>(url[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(url[i + 2]))) {
        return false;
      }
    }
  }
  if (url.size() < 5 || url[4] != ':') {
    return false;
  }
  for (size_t i = 0; i < 4; ++i) {
    if (std::tolower(static_cast<unsigned char>(url[i])) != "http"[i]) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------
// Crl

struct Crl::VerifyMemo {
  std::mutex mu;
  // Issuer certificate SHA-256 -> verified; a few issuers at most.
  std::vector<std::pair<std::array<uint8_t, 32>, bool>> results;
};

Crl::Crl() : memo_(std::make_unique<VerifyMemo>()) {}
Crl::~Crl() = default;

base::Result<CrlPtr, CryptoError> ParseCrlDer(base::ByteView der) {
  if (der.size() >= kMaxCrlSize) {
    return base::MakeError(CryptoError::kTooLarge,
                           "CRL of " + std::to_string(der.size()) +
                               " bytes: Notation refuses CRLs of 32 MiB or "
                               "more");
  }
  // Go's ParseRevocationList reads one SEQUENCE and ignores what follows.
  base::ByteView rest = der;
  internal::DerElement whole;
  if (!internal::ReadDerElement(&rest, &whole) || whole.tag != 0x30) {
    return Malformed("CRL is not a DER SEQUENCE");
  }
  // Inner and outer signature algorithm identifiers must be identical
  // (crypto/x509 ParseRevocationList).
  {
    base::ByteView fields = whole.content;
    internal::DerElement tbs, outer_alg;
    if (!internal::ReadDerElement(&fields, &tbs) || tbs.tag != 0x30 ||
        !internal::ReadDerElement(&fields, &outer_alg) ||
        outer_alg.tag != 0x30) {
      return Malformed("CRL structure is not CertificateList");
    }
    base::ByteView tbs_fields = tbs.content;
    internal::DerElement version, inner_alg;
    if (!internal::ReadDerElement(&tbs_fields, &version) ||
        version.tag != V_ASN1_INTEGER) {
      return Malformed("CRL has no version field: only v2 CRLs are accepted");
    }
    if (!internal::ReadDerElement(&tbs_fields, &inner_alg) ||
        inner_alg.tag != 0x30) {
      return Malformed("CRL signature algorithm does not parse");
    }
    if (!std::ranges::equal(inner_alg.full, outer_alg.full)) {
      return Malformed(
          "CRL inner and outer signature algorithm identifiers differ");
    }
  }
  const unsigned char* p = whole.full.data();
  UniqueX509Crl x(
      d2i_X509_CRL(nullptr, &p, static_cast<long>(whole.full.size())));
  if (!x || p != whole.full.data() + whole.full.size()) {
    return Malformed("CRL does not parse as DER CertificateList");
  }
  X509_CRL* crl = x.get();
  std::shared_ptr<Crl> out(new Crl());
  out->der_.assign(whole.full.begin(), whole.full.end());

  if (X509_CRL_get_version(crl) != X509_CRL_VERSION_2) {
    return Malformed("CRL version is not v2");
  }
  // Issuer.
  {
    const X509_NAME* name = X509_CRL_get_issuer(crl);
    unsigned char* enc = nullptr;
    const int len = i2d_X509_NAME(name, &enc);
    if (len <= 0) {
      return Malformed("CRL issuer name does not encode");
    }
    out->issuer_der_.assign(enc, enc + len);
    OPENSSL_free(enc);
    UniqueBio bio(BIO_new(BIO_s_mem()));
    if (bio && X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) >= 0) {
      char* data = nullptr;
      const long n = BIO_get_mem_data(bio.get(), &data);
      if (n > 0) {
        out->issuer_string_.assign(data, static_cast<size_t>(n));
      }
    }
  }
  // thisUpdate required, nextUpdate optional (RFC 5280 §5.1.2.4-5), in
  // crypto/x509's strict formats.
  const auto this_update = internal::ParseDerTime(
      X509_CRL_get0_lastUpdate(crl), internal::TimeFormat::kCryptobyte);
  if (!this_update) {
    return Malformed("CRL thisUpdate is missing or not a valid time");
  }
  out->this_update_ = *this_update;
  if (const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl); next != nullptr) {
    const auto next_update =
        internal::ParseDerTime(next, internal::TimeFormat::kCryptobyte);
    if (!next_update) {
      return Malformed("CRL nextUpdate is not a valid time");
    }
    out->next_update_ = *next_update;
  }

  // CRL extensions (RFC 5280 §5.2).
  const STACK_OF(X509_EXTENSION)* exts = X509_CRL_get0_extensions(crl);
  for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
    const ASN1_OBJECT* obj = X509_EXTENSION_get_object(ext);
    const bool critical = X509_EXTENSION_get_critical(ext) > 0;
    const base::ByteView value = View(X509_EXTENSION_get_data(ext));
    const int nid = OBJ_obj2nid(obj);
    switch (nid) {
      case NID_authority_key_identifier:
        if (!AuthorityKeyIdParses(value)) {
          return Malformed("CRL authority key identifier does not parse");
        }
        break;
      case NID_crl_number: {
        // A later duplicate wins, as in Go.
        UniqueBignum n = ReadInteger(value);
        if (!n) {
          return Malformed("CRL number does not parse");
        }
        out->number_text_ = Decimal(n.get());
        out->number_ = std::move(n);
        break;
      }
      case NID_delta_crl:
        if (!out->has_delta_indicator_) {
          out->has_delta_indicator_ = true;
          out->delta_base_ = ReadInteger(value);
          if (out->delta_base_) {
            out->delta_base_text_ = Decimal(out->delta_base_.get());
          }
        }
        break;
      case NID_freshest_crl:
        // notation-core-go FindExtensionByOID: the first one.
        if (out->freshest_urls_.empty() && !out->freshest_malformed_) {
          auto urls = internal::UrisFromDistributionPoints(value);
          if (urls) {
            out->freshest_urls_ = std::move(*urls);
          } else {
            out->freshest_malformed_ = true;
          }
        }
        break;
      case NID_issuing_distribution_point:
        if (!out->idp_) {
          IssuingDistributionPoint idp;
          idp.critical = critical;
          const unsigned char* q = value.data();
          UniqueIdp parsed(d2i_ISSUING_DIST_POINT(
              nullptr, &q, static_cast<long>(value.size())));
          if (!parsed || q != value.data() + value.size()) {
            idp.malformed = true;
          } else {
            idp.only_user_certs = parsed->onlyuser > 0;
            idp.only_ca_certs = parsed->onlyCA > 0;
            idp.only_attribute_certs = parsed->onlyattr > 0;
            idp.only_some_reasons = parsed->onlysomereasons != nullptr;
            idp.indirect_crl = parsed->indirectCRL > 0;
          }
          ERR_clear_error();
          out->idp_ = idp;
        }
        break;
      default:
        break;
    }
    // notation-core-go validateCRL: only the issuing distribution point
    // and the delta CRL indicator may be critical (RFC 5280 §5.2: an
    // unrecognised critical extension makes the CRL unusable).
    if (critical && nid != NID_issuing_distribution_point &&
        nid != NID_delta_crl && out->unsupported_critical_.empty()) {
      out->unsupported_critical_ = internal::OidText(obj);
    }
  }

  // Entries: every revocation date must be a valid time and every
  // reasonCode an ENUMERATED, or Go's parser refuses the whole CRL.
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  const int count = sk_X509_REVOKED_num(revoked);
  if (count > 0) {
    out->sorted_.reserve(static_cast<size_t>(count));
  }
  for (int i = 0; i < count; ++i) {
    const X509_REVOKED* entry = sk_X509_REVOKED_value(revoked, i);
    if (!internal::ParseDerTime(X509_REVOKED_get0_revocationDate(entry),
                                internal::TimeFormat::kCryptobyte)) {
      return Malformed("CRL entry " + std::to_string(i) +
                       " has an invalid revocation date");
    }
    const STACK_OF(X509_EXTENSION)* entry_exts =
        X509_REVOKED_get0_extensions(entry);
    for (int j = 0; j < sk_X509_EXTENSION_num(entry_exts); ++j) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(entry_exts, j);
      if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_crl_reason &&
          !ReadReasonCode(View(X509_EXTENSION_get_data(ext)))) {
        return Malformed("CRL entry " + std::to_string(i) +
                         " has a malformed reasonCode");
      }
    }
    out->sorted_.push_back(static_cast<uint32_t>(i));
  }
  std::stable_sort(out->sorted_.begin(), out->sorted_.end(),
                   [revoked](uint32_t a, uint32_t b) {
                     return EntrySerialCompare(revoked, a, b) < 0;
                   });
  out->crl_ = std::move(x);
  ERR_clear_error();
  return CrlPtr(std::move(out));
}

base::Result<CrlPtr, CryptoError> ParseCrl(base::ByteView der_or_pem) {
  if (der_or_pem.size() >= kMaxCrlSize) {
    return ParseCrlDer(der_or_pem);  // kTooLarge
  }
  const std::string_view text = AsText(der_or_pem);
  if (text.find("-----BEGIN X509 CRL-----") == std::string_view::npos) {
    return ParseCrlDer(der_or_pem);
  }
  UniqueBio bio(
      BIO_new_mem_buf(der_or_pem.data(), static_cast<int>(der_or_pem.size())));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  // Skips blocks of other types until the first "X509 CRL" one.
  bool found = false;
  while (bio && PEM_read_bio(bio.get(), &name, &header, &data, &len) == 1) {
    found = std::strcmp(name, PEM_STRING_X509_CRL) == 0;
    OPENSSL_free(name);
    OPENSSL_free(header);
    if (found) {
      break;
    }
    OPENSSL_free(data);
    data = nullptr;
  }
  ERR_clear_error();
  if (!found || data == nullptr) {
    return Malformed("no decodable \"X509 CRL\" PEM block");
  }
  base::Bytes der(data, data + len);
  OPENSSL_free(data);
  return ParseCrlDer(der);
}

std::vector<CrlEntry> Crl::EntriesFor(const Certificate& cert) const {
  std::vector<CrlEntry> out;
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.x509());
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl_.get());
  const auto serial_of = [revoked](uint32_t i) {
    return X509_REVOKED_get0_serialNumber(
        sk_X509_REVOKED_value(revoked, static_cast<int>(i)));
  };
  auto it = std::lower_bound(sorted_.begin(), sorted_.end(), serial,
                             [&](uint32_t i, const ASN1_INTEGER* s) {
                               return ASN1_INTEGER_cmp(serial_of(i), s) < 0;
                             });
  for (; it != sorted_.end() && ASN1_INTEGER_cmp(serial_of(*it), serial) == 0;
       ++it) {
    const X509_REVOKED* entry = sk_X509_REVOKED_value(revoked, *it);
    CrlEntry e;
    e.index = *it;
    // Validated while parsing.
    e.revocation_time =
        internal::ParseDerTime(X509_REVOKED_get0_revocationDate(entry),
                               internal::TimeFormat::kCryptobyte)
            .value_or(base::Time{});
    const STACK_OF(X509_EXTENSION)* exts = X509_REVOKED_get0_extensions(entry);
    for (int j = 0; j < sk_X509_EXTENSION_num(exts); ++j) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, j);
      const ASN1_OBJECT* obj = X509_EXTENSION_get_object(ext);
      const base::ByteView value = View(X509_EXTENSION_get_data(ext));
      const int nid = OBJ_obj2nid(obj);
      if (nid == NID_crl_reason) {
        if (auto reason = ReadReasonCode(value)) {
          e.reason = *reason;  // a later duplicate wins, as in Go
          e.has_reason = true;
        }
      }
      if (nid == NID_invalidity_date) {
        // notation-core-go parseEntryExtensions: GeneralizedTime, no
        // trailing data, critical or not.
        e.invalidity_date = ReadGeneralizedTime(value);
        e.invalidity_date_malformed = !e.invalidity_date.has_value();
        if (e.invalidity_date_malformed) {
          break;
        }
      } else if (X509_EXTENSION_get_critical(ext) > 0 &&
                 e.unsupported_critical.empty()) {
        // Only the invalidity date is processed: any other critical entry
        // extension (reasonCode and certificateIssuer included, as in
        // notation-core-go) makes the entry unusable.
        e.unsupported_critical = internal::OidText(obj);
        break;
      }
    }
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const CrlEntry& a, const CrlEntry& b) {
    return a.index < b.index;
  });
  ERR_clear_error();
  return out;
}

bool Crl::VerifiedBy(const Certificate& issuer) const {
  {
    std::lock_guard<std::mutex> lock(memo_->mu);
    for (const auto& [fingerprint, verified] : memo_->results) {
      if (fingerprint == issuer.sha256()) {
        return verified;
      }
    }
  }
  const ASN1_BIT_STRING* sig = nullptr;
  const X509_ALGOR* alg = nullptr;
  X509_CRL_get0_signature(crl_.get(), &sig, &alg);
  EVP_PKEY* key = issuer.public_key();
  // X509_CRL_verify hashes the TBSCertList exactly as received (OpenSSL
  // keeps its encoding) and checks that both algorithm fields agree.
  const bool verified = internal::SignatureAlgorithmAllowed(
                            alg, key, internal::GoSignatureAlgorithms::kX509) &&
                        X509_CRL_verify(crl_.get(), key) == 1;
  ERR_clear_error();
  std::lock_guard<std::mutex> lock(memo_->mu);
  if (memo_->results.size() >= 8) {
    memo_->results.erase(memo_->results.begin());
  }
  memo_->results.emplace_back(issuer.sha256(), verified);
  return verified;
}

// ---------------------------------------------------------------------------
// Certificate extensions

base::Result<std::vector<std::string>, CryptoError> CrlDistributionPoints(
    const Certificate& cert) {
  const int idx =
      X509_get_ext_by_NID(cert.x509(), NID_crl_distribution_points, -1);
  if (idx < 0) {
    return std::vector<std::string>{};
  }
  X509_EXTENSION* ext = X509_get_ext(cert.x509(), idx);
  auto urls =
      internal::UrisFromDistributionPoints(View(X509_EXTENSION_get_data(ext)));
  if (!urls) {
    return Malformed("certificate " + cert.SubjectString() +
                     ": CRL distribution points extension does not parse");
  }
  return std::move(*urls);
}

bool HasFreshestCrl(const Certificate& cert) {
  return X509_get_ext_by_NID(cert.x509(), NID_freshest_crl, -1) >= 0;
}

// ---------------------------------------------------------------------------
// Evaluation

namespace {

// Checks every CRL Notation validates (validateCRL) plus our name rule.
// `which` is "base" or "delta" for messages.
std::optional<CertRevocation> ValidateCrl(const Crl& crl,
                                          const Certificate& issuer,
                                          base::Time now,
                                          std::string_view which) {
  const std::string label =
      std::string(which) + " CRL of " +
      (crl.IssuerString().empty() ? "unnamed issuer" : crl.IssuerString());
  // Go's RevocationList.CheckSignatureFrom: a v3 issuer must have basic
  // constraints with cA, and cRLSign when it has a key usage (RFC 5280
  // §4.2.1.3, §4.2.1.9).
  if ((issuer.version() == 3 && !issuer.has_basic_constraints()) ||
      (issuer.has_basic_constraints() && !issuer.is_ca())) {
    return Unknown(CryptoError::kRevocationSignerUnauthorized,
                   label + ": issuer " + issuer.SubjectString() +
                       " is not a CA and cannot sign CRLs");
  }
  if (issuer.key_usage() != 0 && (issuer.key_usage() & kKuCrlSign) == 0) {
    return Unknown(CryptoError::kRevocationSignerUnauthorized,
                   label + ": issuer " + issuer.SubjectString() +
                       " lacks the cRLSign key usage");
  }
  // The signature comes before anything else in the CRL is looked at.
  if (!crl.VerifiedBy(issuer)) {
    return Unknown(CryptoError::kBadSignature,
                   label + ": signature does not verify with the key of " +
                       issuer.SubjectString() +
                       " (wrong CRL, or an unsupported algorithm)");
  }
  // RFC 5280 §6.3.3 (b)(1): the CRL issuer is the certificate issuer
  // (byte-wise, as names are compared along the chain). Stricter than
  // notation-core-go, which relies on the signature alone.
  if (!std::ranges::equal(crl.issuer_der(), issuer.subject_der())) {
    return Unknown(CryptoError::kRevocationIssuerMismatch,
                   label +
                       ": issuer name differs from the certificate "
                       "issuer " +
                       issuer.SubjectString() +
                       " (indirect CRLs are not supported)");
  }
  // trust-store-trust-policy.md "Revocation Checking with CRL": a CRL is
  // expired when the current time is after nextUpdate; notation-core-go
  // also refuses a CRL without nextUpdate.
  if (!crl.next_update()) {
    return Unknown(CryptoError::kRevocationExpired,
                   label +
                       " has no nextUpdate; Notation cannot tell whether "
                       "it is current");
  }
  if (now > *crl.next_update()) {
    return Unknown(CryptoError::kRevocationExpired,
                   label + " expired at " + FormatTime(*crl.next_update()) +
                       "; fetch a current CRL");
  }
  if (!crl.unsupported_critical_extension().empty()) {
    return Unknown(CryptoError::kUnknownCritical,
                   label + " has unsupported critical extension " +
                       crl.unsupported_critical_extension());
  }
  return std::nullopt;
}

// RFC 5280 §5.2.5, §6.3.3 (b)(2): the CRL's scope must cover `cert`.
// Stricter than notation-core-go, which ignores the extension.
std::optional<CertRevocation> CheckScope(const Crl& crl,
                                         const Certificate& cert,
                                         std::string_view which) {
  const auto& idp = crl.issuing_distribution_point();
  if (!idp) {
    return std::nullopt;
  }
  const std::string label = std::string(which) + " CRL";
  if (idp->malformed) {
    return Unknown(CryptoError::kCrlScope,
                   label + ": issuing distribution point does not parse");
  }
  if (idp->indirect_crl) {
    return Unknown(CryptoError::kCrlScope,
                   label + " is an indirect CRL (not supported)");
  }
  if (idp->only_some_reasons) {
    return Unknown(CryptoError::kCrlScope,
                   label + " covers only some revocation reasons");
  }
  if (idp->only_attribute_certs) {
    return Unknown(CryptoError::kCrlScope,
                   label + " covers only attribute certificates");
  }
  if (idp->only_user_certs && cert.is_ca()) {
    return Unknown(CryptoError::kCrlScope,
                   label + " covers only end-entity certificates; " +
                       cert.SubjectString() + " is a CA");
  }
  if (idp->only_ca_certs && !cert.is_ca()) {
    return Unknown(CryptoError::kCrlScope,
                   label + " covers only CA certificates; " +
                       cert.SubjectString() + " is not one");
  }
  return std::nullopt;
}

CertRevocation Decided(RevocationStatus status, const CrlEntry* entry,
                       std::string detail) {
  CertRevocation r;
  r.status = status;
  r.method = RevocationMethod::kCrl;
  r.detail = std::move(detail);
  if (entry != nullptr) {
    r.revocation_time = entry->revocation_time;
    if (entry->has_reason) {
      r.reason = entry->reason;
    }
    r.invalidity_date = entry->invalidity_date;
  }
  return r;
}

}  // namespace

CertRevocation EvaluateCrl(const Certificate& cert, const Certificate& issuer,
                           const Crl& base, const Crl* delta, base::Time now,
                           std::optional<base::Time> authentic_signing_time) {
  // notation-core-go CertCheckStatus: a freshestCRL in the certificate is
  // only supported when the base CRL also leads to a delta CRL.
  if (HasFreshestCrl(cert) && delta == nullptr) {
    return Unknown(CryptoError::kDeltaCrlMismatch,
                   "certificate " + cert.SubjectString() +
                       " names a freshest (delta) CRL but its base CRL "
                       "does not; Notation does not support that");
  }
  if (auto bad = ValidateCrl(base, issuer, now, "base")) {
    return *std::move(bad);
  }
  // RFC 5280 §5.2.4: a delta CRL is not a complete CRL. Stricter than
  // notation-core-go, which would use it as one.
  if (base.has_delta_indicator()) {
    return Unknown(CryptoError::kDeltaCrlMismatch,
                   "base CRL carries a delta CRL indicator: it is a delta "
                   "CRL, not a complete one");
  }
  if (auto bad = CheckScope(base, cert, "base")) {
    return *std::move(bad);
  }
  if (base.freshest_crl_malformed()) {
    return Unknown(CryptoError::kMalformed,
                   "base CRL's freshest CRL extension does not parse, so "
                   "its delta CRL cannot be located");
  }
  if (delta == nullptr && !base.freshest_crl_urls().empty()) {
    return Unknown(CryptoError::kDeltaCrlMismatch,
                   "base CRL names a delta CRL (" +
                       base.freshest_crl_urls().front() +
                       ") that was not supplied; fetch it");
  }
  base::Time this_update = base.this_update();
  base::Time next_update = *base.next_update();
  if (delta != nullptr) {
    if (auto bad = ValidateCrl(*delta, issuer, now, "delta")) {
      return *std::move(bad);
    }
    if (auto bad = CheckScope(*delta, cert, "delta")) {
      return *std::move(bad);
    }
    // RFC 5280 §5.2.4 (notation-core-go validate): both CRL numbers are
    // present, the delta's is greater, and the delta's BaseCRLNumber is
    // not greater than the base's number.
    if (base.number_value() == nullptr || delta->number_value() == nullptr) {
      return Unknown(CryptoError::kDeltaCrlMismatch,
                     "base or delta CRL has no CRL number");
    }
    if (BN_cmp(delta->number_value(), base.number_value()) <= 0) {
      return Unknown(CryptoError::kDeltaCrlMismatch,
                     "delta CRL number " + *delta->number() +
                         " is not greater than the base CRL number " +
                         *base.number());
    }
    if (!delta->has_delta_indicator()) {
      return Unknown(CryptoError::kDeltaCrlMismatch,
                     "delta CRL has no delta CRL indicator");
    }
    if (delta->delta_base_value() == nullptr) {
      return Unknown(CryptoError::kDeltaCrlMismatch,
                     "delta CRL indicator does not parse");
    }
    if (BN_cmp(delta->delta_base_value(), base.number_value()) > 0) {
      return Unknown(
          CryptoError::kDeltaCrlMismatch,
          "delta CRL is for base CRL number " + *delta->delta_base_number() +
              " or later, but the base CRL is number " + *base.number());
    }
    this_update = std::max(this_update, delta->this_update());
    next_update = std::min(next_update, *delta->next_update());
  }

  auto finish = [&](CertRevocation r) {
    r.this_update = this_update;
    r.next_update = next_update;
    return r;
  };

  // notation-core-go checkRevocation over base entries then delta entries.
  std::vector<CrlEntry> entries = base.EntriesFor(cert);
  if (delta != nullptr) {
    std::vector<CrlEntry> more = delta->EntriesFor(cert);
    entries.insert(entries.end(), more.begin(), more.end());
  }
  const CrlEntry* latest_temporary = nullptr;
  for (const CrlEntry& e : entries) {
    if (e.invalidity_date_malformed) {
      return Unknown(CryptoError::kMalformed,
                     "CRL entry for " + cert.SubjectString() +
                         " has a malformed invalidity date");
    }
    if (!e.unsupported_critical.empty()) {
      return Unknown(CryptoError::kUnknownCritical,
                     "CRL entry for " + cert.SubjectString() +
                         " has unsupported critical extension " +
                         e.unsupported_critical);
    }
    // RFC 5280 §5.3.2, trust-store-trust-policy.md: a signature made
    // (authentic signing time) before the invalidity date is unaffected.
    if (authentic_signing_time && e.invalidity_date &&
        *authentic_signing_time < *e.invalidity_date) {
      return finish(Decided(RevocationStatus::kGood, &e,
                            "revoked with invalidity date " +
                                FormatTime(*e.invalidity_date) +
                                ", after the authentic signing time " +
                                FormatTime(*authentic_signing_time)));
    }
    if (e.reason == kReasonCertificateHold ||
        e.reason == kReasonRemoveFromCrl) {
      // Temporary: the most recent hold/remove entry decides.
      if (latest_temporary == nullptr ||
          latest_temporary->revocation_time < e.revocation_time) {
        latest_temporary = &e;
      }
      continue;
    }
    return finish(Decided(RevocationStatus::kRevoked, &e,
                          "revoked at " + FormatTime(e.revocation_time) +
                              " (reason " + std::to_string(e.reason) + ")"));
  }
  if (latest_temporary != nullptr &&
      latest_temporary->reason == kReasonCertificateHold) {
    return finish(Decided(RevocationStatus::kRevoked, latest_temporary,
                          "on hold (certificateHold) since " +
                              FormatTime(latest_temporary->revocation_time)));
  }
  if (latest_temporary != nullptr) {
    return finish(Decided(RevocationStatus::kGood, latest_temporary,
                          "hold removed (removeFromCRL)"));
  }
  return finish(Decided(
      RevocationStatus::kGood, nullptr,
      "not listed in the CRL" + std::string(delta != nullptr ? "s" : "")));
}

CertRevocation CombineCrlResults(std::span<const CertRevocation> results) {
  if (results.empty()) {
    return Unknown(CryptoError::kMalformed, "no CRL results to combine");
  }
  CertRevocation good;
  for (const CertRevocation& r : results) {
    if (r.status != RevocationStatus::kGood) {
      return r;  // notation-core-go stops at the first non-OK result
    }
    if (good.method == RevocationMethod::kNone) {
      good = r;
    } else {
      if (r.next_update &&
          (!good.next_update || *r.next_update < *good.next_update)) {
        good.next_update = r.next_update;
      }
      if (r.this_update &&
          (!good.this_update || *r.this_update > *good.this_update)) {
        good.this_update = r.this_update;
      }
    }
  }
  if (results.size() > 1) {
    good.detail = "good in all " + std::to_string(results.size()) +
                  " CRL distribution points";
  }
  return good;
}

}  // namespace trustgate::crypto
