#include "crypto/certificate.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string_view>
#include <utility>

#include "crypto/civil_time.h"
#include "crypto/pss_params.h"

namespace trustgate::crypto {
namespace {

// Bound on certificates in one file (a trust-store file or bundle).
constexpr size_t kMaxCertificatesPerFile = 1000;

base::Error<CryptoError> Malformed(std::string detail) {
  ERR_clear_error();
  return base::MakeError(CryptoError::kMalformed, std::move(detail));
}

// ---------------------------------------------------------------------------
// Strings in names. Go's x509 parser (parseASN1String) accepts exactly these
// string types and fails the whole certificate on any other; we do the same
// so that a certificate Notation cannot parse is not one we accept.

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) {
      return false;
    }
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xc0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Reject overlong forms, surrogates and values above U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
  }
  return true;
}

// Go x509 isPrintable: the PrintableString set plus '*' and '&', which
// real certificates use.
bool IsPrintableForParse(uint8_t b) {
  return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
         (b >= '0' && b <= '9') || (b >= '\'' && b <= ')') ||
         (b >= '+' && b <= '/') || b == ' ' || b == ':' || b == '=' ||
         b == '?' || b == '*' || b == '&';
}

// DecodeNameString turns one attribute value into UTF-8, or nullopt when
// the string type is not one Go accepts or its content is invalid.
std::optional<std::string> DecodeNameString(const ASN1_STRING* value) {
  const int type = ASN1_STRING_type(value);
  const uint8_t* data = ASN1_STRING_get0_data(value);
  const size_t len = static_cast<size_t>(ASN1_STRING_length(value));
  std::string_view raw(reinterpret_cast<const char*>(data), len);
  switch (type) {
    case V_ASN1_T61STRING: {
      // Treated as Latin-1, as Go and BoringSSL do.
      std::string out;
      for (char c : raw) {
        AppendUtf8(static_cast<uint8_t>(c), &out);
      }
      return out;
    }
    case V_ASN1_PRINTABLESTRING:
      for (char c : raw) {
        if (!IsPrintableForParse(static_cast<uint8_t>(c))) {
          return std::nullopt;
        }
      }
      return std::string(raw);
    case V_ASN1_UTF8STRING:
      if (!IsValidUtf8(raw)) {
        return std::nullopt;
      }
      return std::string(raw);
    case V_ASN1_BMPSTRING: {
      if (len % 2 != 0) {
        return std::nullopt;
      }
      size_t n = len;
      if (n >= 2 && data[n - 1] == 0 && data[n - 2] == 0) {
        n -= 2;  // a NUL terminator is dropped, as Go does
      }
      std::string out;
      for (size_t i = 0; i < n; i += 2) {
        uint32_t u = (uint32_t{data[i]} << 8) | data[i + 1];
        if (u >= 0xd800 && u < 0xdc00 && i + 3 < n) {
          uint32_t lo = (uint32_t{data[i + 2]} << 8) | data[i + 3];
          if (lo >= 0xdc00 && lo < 0xe000) {
            AppendUtf8(0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00), &out);
            i += 2;
            continue;
          }
        }
        if (u >= 0xd800 && u < 0xe000) {
          u = 0xfffd;  // unpaired surrogate, as utf16.Decode does
        }
        AppendUtf8(u, &out);
      }
      return out;
    }
    case V_ASN1_IA5STRING:
      for (char c : raw) {
        if (static_cast<uint8_t>(c) >= 0x80) {
          return std::nullopt;
        }
      }
      return std::string(raw);
    case V_ASN1_NUMERICSTRING:
      for (char c : raw) {
        if (!((c >= '0' && c <= '9') || c == ' ')) {
          return std::nullopt;
        }
      }
      return std::string(raw);
    default:
      return std::nullopt;
  }
}

// ---------------------------------------------------------------------------
// Distinguished names as Go's pkix.Name.String() prints them. Notation
// matches trusted identities against that string (parsed back as an
// RFC 4514 DN), so this is what the policy compares.

std::string OidText(const ASN1_OBJECT* obj) {
  char buf[128];
  int n = OBJ_obj2txt(buf, sizeof(buf), obj, 1);
  if (n < 0) {
    return {};
  }
  if (static_cast<size_t>(n) < sizeof(buf)) {
    return std::string(buf, static_cast<size_t>(n));
  }
  std::string big(static_cast<size_t>(n) + 1, '\0');
  OBJ_obj2txt(big.data(), n + 1, obj, 1);
  big.resize(static_cast<size_t>(n));
  return big;
}

// The nine attribute types Go names (crypto/x509/pkix attributeTypeNames),
// in the order pkix.Name.ToRDNSequence appends them.
enum StdAttr { kC, kSt, kL, kStreet, kPostalCode, kO, kOu, kCn, kSerial };
constexpr int kNumStd = 9;
constexpr const char* kStdNames[kNumStd] = {
    "C", "ST", "L", "STREET", "POSTALCODE", "O", "OU", "CN", "SERIALNUMBER"};

int StdAttrIndex(int nid) {
  switch (nid) {
    case NID_countryName:
      return kC;
    case NID_stateOrProvinceName:
      return kSt;
    case NID_localityName:
      return kL;
    case NID_streetAddress:
      return kStreet;
    case NID_postalCode:
      return kPostalCode;
    case NID_organizationName:
      return kO;
    case NID_organizationalUnitName:
      return kOu;
    case NID_commonName:
      return kCn;
    case NID_serialNumber:
      return kSerial;
    default:
      return -1;
  }
}

// Go's asn1.Marshal of a string value: PrintableString when every rune is
// in the strict printable set (no '*' or '&'), else UTF8String.
std::string HexOfMarshalledString(std::string_view value) {
  bool printable = true;
  for (char c : value) {
    const auto b = static_cast<uint8_t>(c);
    if (b >= 0x80 || !((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
                       (b >= '0' && b <= '9') || (b >= '\'' && b <= ')') ||
                       (b >= '+' && b <= '/') || b == ' ' || b == ':' ||
                       b == '=' || b == '?')) {
      printable = false;
      break;
    }
  }
  base::Bytes der;
  der.push_back(printable ? 0x13 : 0x0c);
  const size_t n = value.size();
  if (n < 0x80) {
    der.push_back(static_cast<uint8_t>(n));
  } else {
    uint8_t len_bytes[8];
    int count = 0;
    for (size_t v = n; v != 0; v >>= 8) {
      len_bytes[count++] = static_cast<uint8_t>(v & 0xff);
    }
    der.push_back(static_cast<uint8_t>(0x80 | count));
    for (int i = count - 1; i >= 0; --i) {
      der.push_back(len_bytes[i]);
    }
  }
  der.insert(der.end(), value.begin(), value.end());
  return base::HexEncode(der);
}

// Go pkix RDNSequence.String() value escaping.
std::string EscapeGoDnValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (size_t k = 0; k < v.size(); ++k) {
    const char c = v[k];
    bool escape = false;
    switch (c) {
      case ',':
      case '+':
      case '"':
      case '\\':
      case '<':
      case '>':
      case ';':
        escape = true;
        break;
      case ' ':
        escape = k == 0 || k == v.size() - 1;
        break;
      case '#':
        escape = k == 0;
        break;
      default:
        break;
    }
    if (escape) {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

struct ParsedName {
  std::vector<DnAttribute> attributes;  // printed order
  std::string text;
  bool multi_valued = false;
};

// ParseGoName reproduces pkix.Name.String() for a parsed certificate name:
// every attribute of a non-standard type becomes its own RDN (cert order),
// followed by C, ST, L, STREET, POSTALCODE, O, OU (each type with several
// values as one multi-valued RDN), the last CN, the last SERIALNUMBER; the
// whole sequence is printed in reverse.
std::optional<ParsedName> ParseGoName(const X509_NAME* name) {
  struct Rdn {
    std::vector<DnAttribute> attrs;
    bool non_standard = false;
  };
  std::vector<Rdn> seq;
  std::vector<std::string> std_values[kNumStd];
  bool has_cn = false;
  bool has_serial = false;
  std::string cn, serial;
  const int count = X509_NAME_entry_count(name);
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    const ASN1_OBJECT* obj = X509_NAME_ENTRY_get_object(entry);
    std::optional<std::string> value =
        DecodeNameString(X509_NAME_ENTRY_get_data(entry));
    if (!value) {
      return std::nullopt;
    }
    const int idx = StdAttrIndex(OBJ_obj2nid(obj));
    if (idx < 0) {
      Rdn rdn;
      rdn.non_standard = true;
      rdn.attrs.push_back(DnAttribute{OidText(obj), *value});
      seq.push_back(std::move(rdn));
    } else if (idx == kCn) {
      has_cn = true;
      cn = *value;  // Go keeps the last CN only
    } else if (idx == kSerial) {
      has_serial = true;
      serial = *value;  // and the last serial number only
    } else {
      std_values[idx].push_back(*value);
    }
  }
  for (int idx = 0; idx < kNumStd; ++idx) {
    std::vector<std::string> values;
    if (idx == kCn) {
      if (has_cn && !cn.empty()) {
        values.push_back(cn);
      }
    } else if (idx == kSerial) {
      if (has_serial && !serial.empty()) {
        values.push_back(serial);
      }
    } else {
      values = std_values[idx];
    }
    if (values.empty()) {
      continue;
    }
    Rdn rdn;
    for (auto& v : values) {
      rdn.attrs.push_back(DnAttribute{kStdNames[idx], std::move(v)});
    }
    seq.push_back(std::move(rdn));
  }
  ParsedName out;
  for (size_t i = 0; i < seq.size(); ++i) {
    const Rdn& rdn = seq[seq.size() - 1 - i];
    if (i > 0) {
      out.text += ',';
    }
    if (rdn.attrs.size() > 1) {
      out.multi_valued = true;
    }
    for (size_t j = 0; j < rdn.attrs.size(); ++j) {
      const DnAttribute& a = rdn.attrs[j];
      if (j > 0) {
        out.text += '+';
      }
      if (rdn.non_standard) {
        out.text += a.type + "=#" + HexOfMarshalledString(a.value);
      } else {
        out.text += a.type + "=" + EscapeGoDnValue(a.value);
      }
      out.attributes.push_back(a);
    }
  }
  return out;
}

base::Bytes NameDer(const X509_NAME* name) {
  unsigned char* der = nullptr;
  int len = i2d_X509_NAME(name, &der);
  if (len <= 0 || der == nullptr) {
    return {};
  }
  base::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// ---------------------------------------------------------------------------
// Validity times, parsed as Go's cryptobyte does (RFC 5280 §4.1.2.5):
// UTCTime YYMMDDHHMM[SS](Z|+hhmm|-hhmm), years 50-99 in the 1900s;
// GeneralizedTime YYYYMMDDHHMMSS[.f+](Z|+hhmm|-hhmm). Go re-serialises and
// compares, so a zero offset must be written "Z" and a fraction has no
// trailing zero.

using internal::ReadDigits;
using internal::ReadFraction;
using internal::ReadZoneToEnd;

// `round_up`: a fraction finer than a microsecond rounds up (for notBefore)
// instead of down (notAfter), so the validity window never grows.
std::optional<base::Time> ParseAsn1Time(const ASN1_TIME* t, bool round_up) {
  const int type = ASN1_STRING_type(t);
  std::string_view s(reinterpret_cast<const char*>(ASN1_STRING_get0_data(t)),
                     static_cast<size_t>(ASN1_STRING_length(t)));
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  size_t pos = 0;
  int64_t micros = 0;
  bool finer = false;  // non-zero digits below a microsecond
  if (type == V_ASN1_UTCTIME) {
    int yy;
    if (!ReadDigits(s, 0, 2, &yy)) {
      return std::nullopt;
    }
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    pos = 2;
  } else if (type == V_ASN1_GENERALIZEDTIME) {
    if (!ReadDigits(s, 0, 4, &year)) {
      return std::nullopt;
    }
    pos = 4;
  } else {
    return std::nullopt;
  }
  if (!ReadDigits(s, pos, 2, &month) || !ReadDigits(s, pos + 2, 2, &day) ||
      !ReadDigits(s, pos + 4, 2, &hour) ||
      !ReadDigits(s, pos + 6, 2, &minute)) {
    return std::nullopt;
  }
  pos += 8;
  if (ReadDigits(s, pos, 2, &second)) {
    pos += 2;
  } else if (type == V_ASN1_GENERALIZEDTIME) {
    return std::nullopt;  // seconds are required
  }
  if (type == V_ASN1_GENERALIZEDTIME && pos < s.size() && s[pos] == '.') {
    ++pos;
    if (!ReadFraction(s, &pos, &micros, &finer)) {
      return std::nullopt;
    }
    if (finer && round_up) {
      ++micros;
    }
  }
  int offset_minutes = 0;
  if (!ReadZoneToEnd(s, pos, &offset_minutes)) {
    return std::nullopt;
  }
  return internal::CivilToTime(year, month, day, hour, minute, second, micros,
                               offset_minutes);
}

// ---------------------------------------------------------------------------
// Signature algorithms Go's Certificate.CheckSignature accepts: RSA PKCS#1
// v1.5 and ECDSA with SHA-256/384/512, RSASSA-PSS only in the three
// parameter sets (hash = MGF1 hash, salt = hash length, trailer 1), and
// Ed25519. MD5, SHA-1 and DSA signatures are refused (InsecureAlgorithmError
// / ErrUnsupportedAlgorithm), so a chain using them fails in Notation.

bool SignatureAlgorithmAcceptable(const X509* x) {
  const X509_ALGOR* alg = nullptr;
  X509_get0_signature(nullptr, &alg, x);
  if (alg == nullptr) {
    return false;
  }
  switch (X509_get_signature_nid(x)) {
    case NID_sha256WithRSAEncryption:
    case NID_sha384WithRSAEncryption:
    case NID_sha512WithRSAEncryption:
    case NID_ecdsa_with_SHA256:
    case NID_ecdsa_with_SHA384:
    case NID_ecdsa_with_SHA512:
      return true;
    case NID_ED25519: {
      // RFC 8410 §3: parameters absent.
      int ptype = 0;
      X509_ALGOR_get0(nullptr, &ptype, nullptr, alg);
      return ptype == V_ASN1_UNDEF;
    }
    case NID_rsassaPss:
      return internal::GoPssHashNid(alg) != NID_undef;
    default:
      return false;
  }
}

// Go's x509 parser refuses EC keys outside its named curves.
bool PublicKeyParsesInGo(const EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
    return true;
  }
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1) {
    return false;
  }
  std::string_view g(group, len);
  return g == "secp224r1" || g == "prime256v1" || g == "secp384r1" ||
         g == "secp521r1";
}

// ---------------------------------------------------------------------------
// PEM, as Go's encoding/pem finds blocks: a "-----BEGIN <type>-----" line
// (at the start or after a newline), optional "Key: value" header lines,
// base64 (whitespace ignored), "-----END <type>-----". Text around and
// between blocks is ignored; a block that does not decode is skipped.

struct PemBlock {
  base::Bytes der;
};

std::optional<base::Bytes> DecodePemBody(std::string_view body) {
  std::string clean;
  clean.reserve(body.size());
  for (char c : body) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      continue;
    }
    clean.push_back(c);
  }
  // Go's base64.StdEncoding (not Strict): padding required, trailing bits
  // not checked.
  if (clean.size() % 4 != 0) {
    return std::nullopt;
  }
  base::Bytes out;
  out.reserve(clean.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (size_t i = 0; i < clean.size(); ++i) {
    const char c = clean[i];
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else if (c == '=' && i + 2 >= clean.size()) {
      ++pad;
      continue;
    } else {
      return std::nullopt;
    }
    if (pad != 0) {
      return std::nullopt;  // data after '='
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  if (pad == 1 && clean.size() >= 2 && clean[clean.size() - 2] == '=') {
    return std::nullopt;
  }
  return out;
}

// FindPemBlocks returns the decoded blocks (at most one more than
// kMaxCertificatesPerFile, so the caller can tell that the bound was hit).
std::vector<PemBlock> FindPemBlocks(std::string_view data) {
  static constexpr std::string_view kBegin = "-----BEGIN ";
  static constexpr std::string_view kEnd = "-----END ";
  static constexpr std::string_view kDashes = "-----";
  std::vector<PemBlock> blocks;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t begin;
    if (pos == 0 && data.substr(0, kBegin.size()) == kBegin) {
      begin = 0;
    } else {
      size_t nl = data.find(std::string("\n").append(kBegin), pos);
      if (nl == std::string_view::npos) {
        break;
      }
      begin = nl + 1;
    }
    size_t type_start = begin + kBegin.size();
    size_t eol = data.find('\n', type_start);
    std::string_view type_line = data.substr(
        type_start, eol == std::string_view::npos ? std::string_view::npos
                                                  : eol - type_start);
    if (!type_line.empty() && type_line.back() == '\r') {
      type_line.remove_suffix(1);
    }
    while (!type_line.empty() &&
           (type_line.back() == ' ' || type_line.back() == '\t')) {
      type_line.remove_suffix(1);
    }
    if (eol == std::string_view::npos || type_line.size() < kDashes.size() ||
        type_line.substr(type_line.size() - kDashes.size()) != kDashes) {
      pos = type_start;
      continue;
    }
    std::string_view type = type_line.substr(0, type_line.size() - 5);
    // Skip "Key: value" header lines.
    size_t body_start = eol + 1;
    while (body_start < data.size()) {
      size_t line_end = data.find('\n', body_start);
      std::string_view line =
          data.substr(body_start, line_end == std::string_view::npos
                                      ? std::string_view::npos
                                      : line_end - body_start);
      if (line.find(':') == std::string_view::npos ||
          line.substr(0, kEnd.size()) == kEnd) {
        break;
      }
      body_start =
          line_end == std::string_view::npos ? data.size() : line_end + 1;
    }
    std::string end_marker = std::string(kEnd).append(type).append(kDashes);
    size_t end;
    if (data.substr(body_start, end_marker.size()) == end_marker) {
      end = body_start;
    } else {
      size_t e = data.find("\n" + end_marker, body_start);
      if (e == std::string_view::npos) {
        pos = type_start;
        continue;
      }
      end = e + 1;
    }
    // The END line ends with only whitespace.
    size_t after = end + end_marker.size();
    size_t line_end = data.find('\n', after);
    std::string_view rest_of_line = data.substr(
        after, line_end == std::string_view::npos ? std::string_view::npos
                                                  : line_end - after);
    bool only_space =
        std::all_of(rest_of_line.begin(), rest_of_line.end(),
                    [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
    if (!only_space) {
      pos = type_start;
      continue;
    }
    std::optional<base::Bytes> der =
        DecodePemBody(data.substr(body_start, end - body_start));
    if (!der) {
      pos = type_start;
      continue;
    }
    blocks.push_back(PemBlock{std::move(*der)});
    pos = line_end == std::string_view::npos ? data.size() : line_end;
    if (blocks.size() > kMaxCertificatesPerFile) {
      break;
    }
  }
  return blocks;
}

}  // namespace

// ---------------------------------------------------------------------------

base::Result<CertificatePtr, CryptoError> Certificate::FromDer(
    base::ByteView der) {
  if (der.empty()) {
    return Malformed("empty certificate");
  }
  if (der.size() > static_cast<size_t>(INT32_MAX)) {
    return base::MakeError(CryptoError::kTooLarge, "certificate too large");
  }
  const unsigned char* p = der.data();
  UniqueX509 x509(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x509) {
    return Malformed("not a DER X.509 certificate");
  }
  if (p != der.data() + der.size()) {
    return Malformed("trailing bytes after the DER certificate");
  }
  X509* x = x509.get();
  // The constructor is private, so make_shared cannot reach it.
  std::shared_ptr<Certificate> cert(new Certificate());
  cert->der_.assign(der.begin(), der.end());
  unsigned int md_len = 0;
  if (EVP_Digest(der.data(), der.size(), cert->sha256_.data(), &md_len,
                 EVP_sha256(), nullptr) != 1 ||
      md_len != 32) {
    return Malformed("cannot hash certificate");
  }

  // RFC 5280 §4.1.2.1: versions 1..3 only.
  cert->version_ = static_cast<int>(X509_get_version(x)) + 1;
  if (cert->version_ < 1 || cert->version_ > 3) {
    return Malformed("unsupported certificate version");
  }
  // Go 1.23+ refuses negative serial numbers (RFC 5280 §4.1.2.2).
  const ASN1_INTEGER* serial = X509_get0_serialNumber(x);
  if (serial == nullptr || ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER) {
    return Malformed("negative certificate serial number");
  }

  std::optional<ParsedName> subject = ParseGoName(X509_get_subject_name(x));
  std::optional<ParsedName> issuer = ParseGoName(X509_get_issuer_name(x));
  if (!subject || !issuer) {
    return Malformed(
        "a name attribute is not a PrintableString, UTF8String, "
        "IA5String, T61String, BMPString or NumericString, or its content "
        "is invalid");
  }
  cert->subject_ = std::move(subject->attributes);
  cert->subject_string_ = std::move(subject->text);
  cert->subject_multi_valued_ = subject->multi_valued;
  cert->issuer_string_ = std::move(issuer->text);
  cert->subject_der_ = NameDer(X509_get_subject_name(x));
  cert->issuer_der_ = NameDer(X509_get_issuer_name(x));
  if (cert->subject_der_.empty() || cert->issuer_der_.empty()) {
    return Malformed("cannot encode certificate names");
  }
  cert->self_issued_ = cert->subject_der_ == cert->issuer_der_;

  std::optional<base::Time> not_before =
      ParseAsn1Time(X509_get0_notBefore(x), /*round_up=*/true);
  std::optional<base::Time> not_after =
      ParseAsn1Time(X509_get0_notAfter(x), /*round_up=*/false);
  if (!not_before || !not_after) {
    return Malformed("malformed validity time (RFC 5280 §4.1.2.5)");
  }
  cert->not_before_ = *not_before;
  cert->not_after_ = *not_after;

  if (!PublicKeyParsesInGo(X509_get0_pubkey(x))) {
    return Malformed("EC public key on a curve other than P-224/256/384/521");
  }

  // Extensions: each at most once (RFC 5280 §4.2; Go refuses duplicates).
  const int ext_count = X509_get_ext_count(x);
  std::vector<std::string> oids;
  oids.reserve(static_cast<size_t>(std::max(ext_count, 0)));
  for (int i = 0; i < ext_count; ++i) {
    const X509_EXTENSION* ext = X509_get_ext(x, i);
    const ASN1_OBJECT* obj =
        X509_EXTENSION_get_object(const_cast<X509_EXTENSION*>(ext));
    const unsigned char* data = OBJ_get0_data(obj);
    oids.emplace_back(reinterpret_cast<const char*>(data), OBJ_length(obj));
  }
  std::sort(oids.begin(), oids.end());
  if (std::adjacent_find(oids.begin(), oids.end()) != oids.end()) {
    return Malformed("certificate contains duplicate extensions");
  }

  // RFC 5280 §4.2.1.9 basic constraints.
  int crit = -1;
  std::unique_ptr<BASIC_CONSTRAINTS, OsslDeleter<BASIC_CONSTRAINTS_free>> bc(
      static_cast<BASIC_CONSTRAINTS*>(
          X509_get_ext_d2i(x, NID_basic_constraints, &crit, nullptr)));
  if (bc) {
    cert->has_basic_constraints_ = true;
    cert->is_ca_ = bc->ca != 0;
    if (bc->pathlen != nullptr) {
      int64_t v = 0;
      if (ASN1_INTEGER_get_int64(&v, bc->pathlen) != 1) {
        return Malformed("basic constraints path length out of range");
      }
      // Go treats a negative pathLenConstraint like an absent one.
      if (v >= 0) {
        if (v > INT32_MAX) {
          v = INT32_MAX;
        }
        cert->path_len_ = static_cast<int>(v);
      }
    }
  } else if (crit != -1) {
    return Malformed("malformed basic constraints extension");
  }

  // RFC 5280 §4.2.1.3 key usage.
  crit = -1;
  std::unique_ptr<ASN1_BIT_STRING, OsslDeleter<ASN1_BIT_STRING_free>> ku(
      static_cast<ASN1_BIT_STRING*>(
          X509_get_ext_d2i(x, NID_key_usage, &crit, nullptr)));
  if (ku) {
    cert->has_key_usage_ = true;
    cert->key_usage_critical_ = crit == 1;
    for (int bit = 0; bit < 9; ++bit) {
      if (ASN1_BIT_STRING_get_bit(ku.get(), bit)) {
        cert->key_usage_ |= 1u << bit;
      }
    }
  } else if (crit != -1) {
    return Malformed("malformed key usage extension");
  }

  // RFC 5280 §4.2.1.12 extended key usage.
  crit = -1;
  std::unique_ptr<EXTENDED_KEY_USAGE, OsslDeleter<EXTENDED_KEY_USAGE_free>> eku(
      static_cast<EXTENDED_KEY_USAGE*>(
          X509_get_ext_d2i(x, NID_ext_key_usage, &crit, nullptr)));
  if (eku) {
    cert->eku_critical_ = crit == 1;
    const int n = sk_ASN1_OBJECT_num(eku.get());
    for (int i = 0; i < n; ++i) {
      switch (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), i))) {
        case NID_server_auth:
          cert->eku_.push_back(ExtendedKeyUsage::kServerAuth);
          break;
        case NID_client_auth:
          cert->eku_.push_back(ExtendedKeyUsage::kClientAuth);
          break;
        case NID_code_sign:
          cert->eku_.push_back(ExtendedKeyUsage::kCodeSigning);
          break;
        case NID_email_protect:
          cert->eku_.push_back(ExtendedKeyUsage::kEmailProtection);
          break;
        case NID_time_stamp:
          cert->eku_.push_back(ExtendedKeyUsage::kTimeStamping);
          break;
        case NID_OCSP_sign:
          cert->eku_.push_back(ExtendedKeyUsage::kOcspSigning);
          break;
        case NID_anyExtendedKeyUsage:
          cert->eku_.push_back(ExtendedKeyUsage::kAny);
          break;
        default:
          cert->eku_.push_back(ExtendedKeyUsage::kOther);
          break;
      }
    }
  } else if (crit != -1) {
    return Malformed("malformed extended key usage extension");
  }

  cert->signature_algorithm_ok_ = SignatureAlgorithmAcceptable(x);
  cert->x509_ = std::move(x509);
  ERR_clear_error();
  return CertificatePtr(std::move(cert));
}

base::Result<std::vector<CertificatePtr>, CryptoError>
Certificate::FromFileBytes(base::ByteView bytes) {
  std::vector<CertificatePtr> certs;
  std::vector<PemBlock> blocks = FindPemBlocks(base::AsString(bytes));
  if (blocks.size() > kMaxCertificatesPerFile) {
    return base::MakeError(CryptoError::kTooLarge,
                           "more than " +
                               std::to_string(kMaxCertificatesPerFile) +
                               " certificates in one file");
  }
  if (!blocks.empty()) {
    // Every PEM block must be a certificate (Go parses each block as one,
    // whatever its label says).
    for (size_t i = 0; i < blocks.size(); ++i) {
      auto cert = FromDer(blocks[i].der);
      if (!cert.ok()) {
        return base::MakeError(cert.code(), "PEM block " + std::to_string(i) +
                                                ": " + cert.detail());
      }
      certs.push_back(std::move(cert).value());
    }
    return certs;
  }
  // No PEM block: one or more concatenated DER certificates.
  base::ByteView rest = bytes;
  while (!rest.empty()) {
    if (certs.size() >= kMaxCertificatesPerFile) {
      return base::MakeError(CryptoError::kTooLarge,
                             "more than " +
                                 std::to_string(kMaxCertificatesPerFile) +
                                 " certificates in one file");
    }
    const unsigned char* p = rest.data();
    UniqueX509 probe(
        d2i_X509(nullptr, &p,
                 static_cast<long>(std::min<size_t>(rest.size(), INT32_MAX))));
    if (!probe) {
      return Malformed(
          "neither PEM nor DER certificates (expected PEM CERTIFICATE "
          "blocks or DER)");
    }
    const size_t used = static_cast<size_t>(p - rest.data());
    auto cert = FromDer(rest.first(used));
    if (!cert.ok()) {
      return std::move(cert).error();
    }
    certs.push_back(std::move(cert).value());
    rest = rest.subspan(used);
  }
  if (certs.empty()) {
    return Malformed("no certificate in file");
  }
  return certs;
}

std::string Certificate::Sha256Hex() const { return base::HexEncode(sha256_); }

bool Certificate::ValidAt(base::Time t) const {
  return not_before_ <= t && t <= not_after_;
}

EVP_PKEY* Certificate::public_key() const {
  return X509_get0_pubkey(x509_.get());
}

bool Certificate::IsIssuedBy(const Certificate& issuer) const {
  // RFC 5280 §6.1.3 (a)(1), (a)(4): the issuer name matches (byte-wise, as
  // notation-core-go compares RawIssuer/RawSubject) and the signature
  // verifies with the issuer's public key.
  if (issuer_der_ != issuer.subject_der_ || !signature_algorithm_ok_) {
    return false;
  }
  EVP_PKEY* key = issuer.public_key();
  if (key == nullptr) {
    return false;
  }
  const int rc = X509_verify(x509_.get(), key);
  ERR_clear_error();
  return rc == 1;
}

bool Certificate::IsSelfSigned() const {
  return self_issued_ && IsIssuedBy(*this);
}

}  // namespace trustgate::crypto
