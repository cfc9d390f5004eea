#include "crypto/certificate.h"

#include <gtest/gtest.h>
#include <openssl/asn1.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/time.h"
#include "tests/crypto/test_pki.h"

namespace trustgate::crypto {
namespace {

using testpki::Build;
using testpki::CertSpec;
using testpki::Key;
using testpki::KeyKind;

CertSpec LeafSpec() {
  CertSpec s;
  s.key = Key(KeyKind::kP256);
  return s;
}

base::Result<CertificatePtr, CryptoError> ParseSpec(const CertSpec& spec) {
  UniqueX509 x = testpki::BuildX509(spec);
  return Certificate::FromDer(testpki::ToDer(x.get()));
}

base::Time T(const char* rfc3339) {
  auto t = base::ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return t.value_or(base::Time{});
}

// ---------------------------------------------------------------------------
// Real Notation data: the interop pack's signing certificates.

struct InteropCert {
  std::string subject;  // as signatures.json prints it
  std::string not_before;
  std::string not_after;
  bool self_signed = false;
};

std::map<std::string, InteropCert> LoadSignaturesJson() {
  std::map<std::string, InteropCert> out;
  auto bytes = testpki::ReadFile(testpki::SharedDir() +
                                 "/interop/notation-e2e/signatures.json");
  EXPECT_TRUE(bytes.has_value());
  if (!bytes) {
    return out;
  }
  auto doc =
      nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr, false);
  EXPECT_TRUE(doc.is_array());
  if (!doc.is_array()) {
    return out;
  }
  for (const auto& sig : doc) {
    if (!sig.contains("certificate_chain") ||
        !sig["certificate_chain"].is_array()) {
      continue;
    }
    for (const auto& c : sig["certificate_chain"]) {
      InteropCert ic;
      ic.subject = c.at("subject").get<std::string>();
      ic.not_before = c.at("not_before").get<std::string>();
      ic.not_after = c.at("not_after").get<std::string>();
      ic.self_signed = c.at("self_signed").get<bool>();
      out[c.at("sha256_fingerprint").get<std::string>()] = ic;
    }
  }
  return out;
}

// "CN=a,O=b" (no escapes in the pack) -> attribute set.
std::multiset<std::pair<std::string, std::string>> AttributeSet(
    const std::string& dn) {
  std::multiset<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos <= dn.size()) {
    size_t comma = dn.find(',', pos);
    std::string part = dn.substr(
        pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t eq = part.find('=');
    out.insert({part.substr(0, eq), part.substr(eq + 1)});
    if (comma == std::string::npos) {
      break;
    }
    pos = comma + 1;
  }
  return out;
}

std::multiset<std::pair<std::string, std::string>> AttributeSet(
    const std::vector<DnAttribute>& attrs) {
  std::multiset<std::pair<std::string, std::string>> out;
  for (const auto& a : attrs) {
    out.insert({a.type, a.value});
  }
  return out;
}

CertificatePtr LoadOne(const std::string& rel) {
  auto bytes =
      testpki::ReadFile(testpki::SharedDir() + "/interop/notation-e2e/" + rel);
  EXPECT_TRUE(bytes.has_value()) << rel;
  if (!bytes) {
    return nullptr;
  }
  auto certs = Certificate::FromFileBytes(*bytes);
  EXPECT_TRUE(certs.ok()) << rel << ": " << certs.detail();
  if (!certs.ok()) {
    return nullptr;
  }
  EXPECT_EQ(certs->size(), 1u) << rel;
  return certs->front();
}

TEST(CertificateInterop, SigningCertificatesMatchSignaturesJson) {
  const auto expected = LoadSignaturesJson();
  ASSERT_FALSE(expected.empty());
  int matched = 0;
  for (const char* rel :
       {"config/localkeys/e2e.crt", "config/localkeys/expired_e2e.crt",
        "config/localkeys/new_e2e.crt", "config/derived/testcert2.crt",
        "config/derived/testcert3.crt", "config/derived/testcert7.crt",
        "config/derived/testcert11.crt"}) {
    SCOPED_TRACE(rel);
    CertificatePtr c = LoadOne(rel);
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->IsSelfSigned());
    EXPECT_TRUE(c->self_issued());
    EXPECT_EQ(c->SubjectString(), c->IssuerString());
    EXPECT_TRUE(c->has_key_usage());
    EXPECT_TRUE(c->key_usage_critical());
    EXPECT_EQ(c->key_usage(), kKuDigitalSignature);
    EXPECT_FALSE(c->is_ca());
    auto it = expected.find(c->Sha256Hex());
    if (it == expected.end()) {
      continue;  // new_e2e.crt signs nothing in the pack
    }
    ++matched;
    const InteropCert& ic = it->second;
    EXPECT_EQ(AttributeSet(c->subject()), AttributeSet(ic.subject));
    EXPECT_EQ(c->not_before(), T(ic.not_before.c_str()));
    EXPECT_EQ(c->not_after(), T(ic.not_after.c_str()));
    EXPECT_EQ(c->IsSelfSigned(), ic.self_signed);
  }
  EXPECT_EQ(matched, 6);
}

TEST(CertificateInterop, GoSubjectStrings) {
  // signatures.json prints these in the same order Go does.
  const std::pair<const char*, const char*> kSame[] = {
      {"config/localkeys/e2e.crt", "CN=e2e,O=Notary,L=Seattle,ST=WA,C=US"},
      {"config/derived/testcert7.crt",
       "CN=testcert7,O=Notary,L=Seattle,ST=WA,C=US"},
      {"config/derived/testcert11.crt",
       "CN=testcert11,O=Notary,L=Seattle,ST=WA,C=US"}};
  for (const auto& [rel, dn] : kSame) {
    CertificatePtr c = LoadOne(rel);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->SubjectString(), dn);
    EXPECT_FALSE(c->subject_multi_valued());
  }
  // expired_e2e.crt's name is O, ST, C in the certificate; signatures.json
  // prints it reversed ("C=AU,ST=Some-State,O=..."), but Go's
  // pkix.Name.String() uses its fixed order, and Notation's own e2e suite
  // (test/e2e/suite/trustpolicy) expects exactly this string in its output.
  CertificatePtr expired = LoadOne("config/localkeys/expired_e2e.crt");
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->SubjectString(),
            "O=Internet Widgits Pty Ltd,ST=Some-State,C=AU");
  // Signed at 2023-06-27T14:07:26+08:00, minutes before it expired.
  EXPECT_TRUE(expired->ValidAt(T("2023-06-27T14:07:26+08:00")));
  EXPECT_TRUE(expired->ValidAt(T("2023-06-27T06:10:00Z")));
  EXPECT_FALSE(expired->ValidAt(T("2023-06-27T06:10:00.000001Z")));
  EXPECT_TRUE(expired->has_basic_constraints());
  EXPECT_FALSE(expired->has_extended_key_usage());

  CertificatePtr e2e = LoadOne("config/localkeys/e2e.crt");
  ASSERT_TRUE(e2e);
  EXPECT_EQ(e2e->Sha256Hex(),
            "e38aea13f2b051f7183cca64a51ee676f4d4456f41d9fecf15eb367efc7343b9");
  EXPECT_FALSE(e2e->has_basic_constraints());
  EXPECT_EQ(e2e->extended_key_usage(),
            std::vector<ExtendedKeyUsage>{ExtendedKeyUsage::kCodeSigning});
  EXPECT_FALSE(e2e->extended_key_usage_critical());
  EXPECT_EQ(e2e->version(), 3);
}

TEST(CertificateInterop, TsaRootsParse) {
  for (const char* rel : {"config/timestamp/globalsignTSARoot.cer",
                          "config/timestamp/DigiCertTSARootSHA384.cer"}) {
    CertificatePtr c = LoadOne(rel);
    ASSERT_TRUE(c) << rel;
    EXPECT_TRUE(c->is_ca());
    EXPECT_TRUE(c->IsSelfSigned());
    EXPECT_NE(c->key_usage() & kKuKeyCertSign, 0u);
  }
  CertificatePtr digicert =
      LoadOne("config/timestamp/DigiCertTSARootSHA384.cer");
  ASSERT_TRUE(digicert);
  EXPECT_EQ(digicert->SubjectString(),
            "CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert "
            "Inc,C=US");
}

// ---------------------------------------------------------------------------
// Parsing: DER and file bytes.

TEST(CertificateParse, DerKeepsExactBytesAndFingerprint) {
  UniqueX509 x = testpki::BuildX509(LeafSpec());
  base::Bytes der = testpki::ToDer(x.get());
  auto c = Certificate::FromDer(der);
  ASSERT_TRUE(c.ok()) << c.detail();
  EXPECT_TRUE(std::equal(der.begin(), der.end(), (*c)->der().begin(),
                         (*c)->der().end()));
  uint8_t md[32];
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(der.data(), der.size(), md, &len, EVP_sha256(), nullptr),
            1);
  EXPECT_EQ((*c)->Sha256Hex(), base::HexEncode(base::ByteView(md, 32)));
  EXPECT_TRUE(std::equal(md, md + 32, (*c)->sha256().begin()));
  ASSERT_NE((*c)->public_key(), nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id((*c)->public_key()), EVP_PKEY_EC);
}

TEST(CertificateParse, DerRejectsTrailingTruncatedEmptyGarbage) {
  base::Bytes der = testpki::ToDer(testpki::BuildX509(LeafSpec()).get());
  base::Bytes trailing = der;
  trailing.push_back(0);
  base::Bytes truncated(der.begin(), der.end() - 1);
  base::Bytes garbage = {0x30, 0x03, 0x02, 0x01, 0x01};
  for (const base::Bytes& bad :
       {trailing, truncated, base::Bytes{}, garbage, base::Bytes(100, 0xff)}) {
    auto c = Certificate::FromDer(bad);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.code(), CryptoError::kMalformed);
  }
}

TEST(CertificateParse, FileBytesPemAndDer) {
  UniqueX509 a = testpki::BuildX509(LeafSpec());
  CertSpec sb = LeafSpec();
  sb.subject = {{"CN", "second"}};
  UniqueX509 b = testpki::BuildX509(sb);
  const std::string pem_a = testpki::ToPem(a.get());
  const std::string pem_b = testpki::ToPem(b.get());
  base::Bytes der_a = testpki::ToDer(a.get());
  base::Bytes der_b = testpki::ToDer(b.get());

  auto count = [](const std::string& s) -> int {
    auto r = Certificate::FromFileBytes(base::AsBytes(s));
    return r.ok() ? static_cast<int>(r->size()) : -1;
  };
  EXPECT_EQ(count(pem_a), 1);
  EXPECT_EQ(count(pem_a + pem_b), 2);
  EXPECT_EQ(count("subject=CN = x\nissuer=...\n" + pem_a + "\n# note\n" +
                  pem_b + "trailing text\n"),
            2);
  std::string crlf;
  for (char ch : pem_a) {
    if (ch == '\n') {
      crlf += '\r';
    }
    crlf += ch;
  }
  EXPECT_EQ(count(crlf), 1);

  auto one = Certificate::FromFileBytes(der_a);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0]->Sha256Hex(),
            Certificate::FromDer(der_a).value()->Sha256Hex());
  base::Bytes both = der_a;
  both.insert(both.end(), der_b.begin(), der_b.end());
  auto two = Certificate::FromFileBytes(both);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1]->SubjectString(), "CN=second");
}

TEST(CertificateParse, FileBytesFailures) {
  UniqueX509 a = testpki::BuildX509(LeafSpec());
  const std::string pem_a = testpki::ToPem(a.get());
  base::Bytes der_a = testpki::ToDer(a.get());
  std::string key_block =
      "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAA"
      "AAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n";
  base::Bytes der_junk = der_a;
  der_junk.push_back(0x00);
  const std::vector<base::Bytes> kBad = {
      {},
      [] {
        std::string s = "just some text\n";
        return base::Bytes(s.begin(), s.end());
      }(),
      [&] {
        std::string s = pem_a + key_block;  // every PEM block must be a cert
        return base::Bytes(s.begin(), s.end());
      }(),
      der_junk,
      [] {
        std::string s =
            "-----BEGIN CERTIFICATE-----\n!!!!\n"
            "-----END CERTIFICATE-----\n";
        return base::Bytes(s.begin(), s.end());
      }(),
  };
  for (size_t i = 0; i < kBad.size(); ++i) {
    auto r = Certificate::FromFileBytes(kBad[i]);
    ASSERT_FALSE(r.ok()) << i;
    EXPECT_EQ(r.code(), CryptoError::kMalformed) << i;
  }
}

TEST(CertificateParse, TooManyCertificates) {
  const std::string pem = testpki::ToPem(testpki::BuildX509(LeafSpec()).get());
  std::string many;
  for (int i = 0; i < 1001; ++i) {
    many += pem;
  }
  auto r = Certificate::FromFileBytes(base::AsBytes(many));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), CryptoError::kTooLarge);
}

TEST(CertificateParse, NegativeSerialRejected) {
  CertSpec s = LeafSpec();
  s.serial = -5;
  auto c = ParseSpec(s);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.code(), CryptoError::kMalformed);
}

TEST(CertificateParse, EcCurvesGoCannotParseRejected) {
  CertSpec s = LeafSpec();
  s.key = Key(KeyKind::kSecp256k1);
  s.issuer_key = Key(KeyKind::kP256);  // signature is irrelevant here
  auto c = ParseSpec(s);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.code(), CryptoError::kMalformed);
  s.key = Key(KeyKind::kP224);
  EXPECT_TRUE(ParseSpec(s).ok());
}

TEST(CertificateParse, DuplicateExtensionRejected) {
  CertSpec s = LeafSpec();
  s.extra_extensions = {{NID_key_usage, "critical,digitalSignature"}};
  auto c = ParseSpec(s);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.code(), CryptoError::kMalformed);
}

TEST(CertificateParse, Version1WithoutExtensions) {
  CertSpec s = LeafSpec();
  s.version = 1;
  s.key_usage = "";
  s.ext_key_usage = "";
  auto c = ParseSpec(s);
  ASSERT_TRUE(c.ok()) << c.detail();
  EXPECT_EQ((*c)->version(), 1);
  EXPECT_FALSE((*c)->has_key_usage());
  EXPECT_FALSE((*c)->has_basic_constraints());
  EXPECT_FALSE((*c)->has_extended_key_usage());
}

// ---------------------------------------------------------------------------
// Names, as Go's pkix.Name.String() prints them.

std::string SubjectOf(const CertSpec& s) {
  auto c = ParseSpec(s);
  EXPECT_TRUE(c.ok()) << c.detail();
  return c.ok() ? (*c)->SubjectString() : "<error>";
}

TEST(CertificateNames, GoFixedOrderRegardlessOfCertificateOrder) {
  CertSpec s = LeafSpec();
  s.subject = {{"CN", "x"},
               {"C", "US"},
               {"O", "Org"},
               {"ST", "WA"},
               {"L", "Seattle"},
               {"OU", "Unit"},
               {"serialNumber", "42"},
               {"street", "1 Main St"},
               {"postalCode", "98101"}};
  auto c = ParseSpec(s);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->SubjectString(),
            "SERIALNUMBER=42,CN=x,OU=Unit,O=Org,POSTALCODE=98101,"
            "STREET=1 Main St,L=Seattle,ST=WA,C=US");
  const std::vector<DnAttribute> kAttrs = {{"SERIALNUMBER", "42"},
                                           {"CN", "x"},
                                           {"OU", "Unit"},
                                           {"O", "Org"},
                                           {"POSTALCODE", "98101"},
                                           {"STREET", "1 Main St"},
                                           {"L", "Seattle"},
                                           {"ST", "WA"},
                                           {"C", "US"}};
  EXPECT_EQ((*c)->subject(), kAttrs);
  EXPECT_FALSE((*c)->subject_multi_valued());
}

TEST(CertificateNames, RepeatedTypesBecomeMultiValued) {
  CertSpec s = LeafSpec();
  s.subject = {{"C", "US"}, {"OU", "a"},     {"O", "Org"},
               {"OU", "b"}, {"CN", "first"}, {"CN", "last"}};
  auto c = ParseSpec(s);
  ASSERT_TRUE(c.ok());
  // Go keeps only the last CN; OUs are grouped into one RDN.
  EXPECT_EQ((*c)->SubjectString(), "CN=last,OU=a+OU=b,O=Org,C=US");
  EXPECT_TRUE((*c)->subject_multi_valued());
}

TEST(CertificateNames, CertificateMultiValuedRdnIsFlattened) {
  CertSpec s = LeafSpec();
  s.subject = {{"C", "US"}};
  UniqueX509 x = testpki::BuildX509(s);
  // Rebuild the subject with CN and O in one RDN.
  X509_NAME* name = X509_NAME_new();
  X509_NAME_add_entry_by_txt(name, "C", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("US"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Org"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("x"), -1,
                             -1, /*set=*/-1);  // joins the previous RDN
  X509_set_subject_name(x.get(), name);
  X509_NAME_free(name);
  ASSERT_GT(X509_sign(x.get(), s.key, EVP_sha256()), 0);
  auto c = Certificate::FromDer(testpki::ToDer(x.get()));
  ASSERT_TRUE(c.ok()) << c.detail();
  EXPECT_EQ((*c)->SubjectString(), "CN=x,O=Org,C=US");
  EXPECT_FALSE((*c)->subject_multi_valued());
}

TEST(CertificateNames, GoEscaping) {
  CertSpec s = LeafSpec();
  s.subject = {{"O", "a,b+c\"d\\e<f>g;h"},
               {"OU", " lead"},
               {"L", "trail "},
               {"CN", "#hash#"},
               {"ST", "x=y"}};
  EXPECT_EQ(SubjectOf(s),
            "CN=\\#hash#,OU=\\ lead,O=a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;h,"
            "L=trail\\ ,ST=x=y");
  auto c = ParseSpec(s);
  ASSERT_TRUE(c.ok());
  // subject() carries the unescaped values.
  EXPECT_EQ((*c)->subject()[0], (DnAttribute{"CN", "#hash#"}));
  EXPECT_EQ((*c)->subject()[2], (DnAttribute{"O", "a,b+c\"d\\e<f>g;h"}));
}

TEST(CertificateNames, OtherTypesPrintAsOidAndHex) {
  CertSpec s = LeafSpec();
  s.subject = {{"C", "US"}, {"CN", "x"}};
  s.extra_subject = {{"emailAddress", V_ASN1_IA5STRING, "a@b.c"},
                     {"DC", V_ASN1_IA5STRING, "example"},
                     {"SN", MBSTRING_UTF8, "Smith"}};
  auto c = ParseSpec(s);
  ASSERT_TRUE(c.ok()) << c.detail();
  // Non-standard attributes come last, in reverse certificate order, as the
  // hex of Go's asn1.Marshal of the string (PrintableString when it can be,
  // else UTF8String; '@' is not printable).
  EXPECT_EQ((*c)->SubjectString(),
            "CN=x,C=US,2.5.4.4=#1305536d697468,"
            "0.9.2342.19200300.100.1.25=#13076578616d706c65,"
            "1.2.840.113549.1.9.1=#0c056140622e63");
  const std::vector<DnAttribute> kAttrs = {
      {"CN", "x"},
      {"C", "US"},
      {"2.5.4.4", "Smith"},
      {"0.9.2342.19200300.100.1.25", "example"},
      {"1.2.840.113549.1.9.1", "a@b.c"}};
  EXPECT_EQ((*c)->subject(), kAttrs);
}

TEST(CertificateNames, StringTypes) {
  struct Case {
    int type;
    std::string raw;
    bool ok;
    std::string value;
  };
  const Case kCases[] = {
      {V_ASN1_BMPSTRING, std::string("\x00\xe9\x00x", 4), true, "\xc3\xa9x"},
      {V_ASN1_BMPSTRING, std::string("\x00x\x00\x00", 4), true, "x"},
      {V_ASN1_T61STRING, "caf\xe9", true, "caf\xc3\xa9"},
      {V_ASN1_PRINTABLESTRING, "a*b&c", true, "a*b&c"},
      {V_ASN1_PRINTABLESTRING, "a@b", false, ""},
      {V_ASN1_IA5STRING, "a@b", true, "a@b"},
      {V_ASN1_IA5STRING, "\x80", false, ""},
      {V_ASN1_UTF8STRING, "\xc3\xa9", true, "\xc3\xa9"},
      {V_ASN1_UTF8STRING, "\xc3", false, ""},
      {V_ASN1_UTF8STRING, "\xed\xa0\x80", false, ""},  // surrogate
      {V_ASN1_NUMERICSTRING, "12 3", true, "12 3"},
      {V_ASN1_NUMERICSTRING, "12a", false, ""},
      {V_ASN1_UNIVERSALSTRING, std::string("\0\0\0x", 4), false, ""},
  };
  for (const Case& k : kCases) {
    CertSpec s = LeafSpec();
    s.subject = {{"C", "US"}};
    s.extra_subject = {{"CN", k.type, k.raw}};
    auto c = ParseSpec(s);
    ASSERT_EQ(c.ok(), k.ok) << "type " << k.type << " raw " << k.raw;
    if (c.ok()) {
      ASSERT_EQ((*c)->subject().size(), 2u);
      EXPECT_EQ((*c)->subject()[0].value, k.value);
    } else {
      EXPECT_EQ(c.code(), CryptoError::kMalformed);
    }
  }
}

TEST(CertificateNames, IssuerString) {
  testpki::Pki pki = testpki::MakePki(KeyKind::kP256, KeyKind::kP256);
  EXPECT_EQ(pki.leaf.cert->IssuerString(),
            pki.intermediate.cert->SubjectString());
  EXPECT_EQ(pki.intermediate.cert->SubjectString(),
            "CN=intermediate,O=Notary,ST=WA,C=US");
  EXPECT_FALSE(pki.leaf.cert->self_issued());
  EXPECT_TRUE(pki.root.cert->self_issued());
}

// ---------------------------------------------------------------------------
// Validity.

TEST(CertificateValidity, UtcAndGeneralizedTime) {
  CertSpec s = LeafSpec();
  s.not_before = "500101000000Z";   // UTCTime 50 -> 1950
  s.not_after = "99991231235959Z";  // GeneralizedTime 9999
  auto c = ParseSpec(s);
  ASSERT_TRUE(c.ok()) << c.detail();
  EXPECT_EQ((*c)->not_before(), T("1950-01-01T00:00:00Z"));
  EXPECT_EQ((*c)->not_after(), T("9999-12-31T23:59:59Z"));
  s.not_before = "491231235959Z";  // UTCTime 49 -> 2049
  c = ParseSpec(s);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->not_before(), T("2049-12-31T23:59:59Z"));
}

TEST(CertificateValidity, SubMicrosecondNotAfterRoundsDown) {
  CertSpec s = LeafSpec();
  s.raw_times = true;
  s.not_before = "20250101000000Z";
  s.not_after = "20260101000000.9999999Z";
  auto c = ParseSpec(s);
  ASSERT_TRUE(c.ok()) << c.detail();
  EXPECT_EQ(base::FormatRfc3339((*c)->not_after()),
            "2026-01-01T00:00:00.999999Z");
}

TEST(CertificateValidity, ValidAtIsInclusive) {
  CertSpec s = LeafSpec();
  s.not_before = "20250101000000Z";
  s.not_after = "20250102000000Z";
  auto c = ParseSpec(s);
  ASSERT_TRUE(c.ok());
  const base::Time nb = T("2025-01-01T00:00:00Z");
  const base::Time na = T("2025-01-02T00:00:00Z");
  const auto us = std::chrono::microseconds(1);
  EXPECT_FALSE((*c)->ValidAt(nb - us));
  EXPECT_TRUE((*c)->ValidAt(nb));
  EXPECT_TRUE((*c)->ValidAt(na));
  EXPECT_FALSE((*c)->ValidAt(na + us));
}

TEST(CertificateValidity, TimeFormatsGoAccepts) {
  struct Case {
    const char* text;
    const char* expect;  // nullptr: must be rejected
  };
  const Case kCases[] = {
      {"20250101000000Z", "2025-01-01T00:00:00Z"},
      {"20250101000000.5Z", "2025-01-01T00:00:00.5Z"},
      {"20250101000000.123456Z", "2025-01-01T00:00:00.123456Z"},
      {"20250101000000.1234567Z", "2025-01-01T00:00:00.123457Z"},  // up
      {"20250101000000.999999999Z", "2025-01-01T00:00:01Z"},
      {"20250101000000.1234567891Z", nullptr},  // more than 9 digits
      {"20250101000000+0130", "2024-12-31T22:30:00Z"},
      {"20250101000000-0100", "2025-01-01T01:00:00Z"},
      {"2501010000Z", "2025-01-01T00:00:00Z"},  // UTCTime without seconds
      {"250101000000+0200", "2024-12-31T22:00:00Z"},
      {"20250101000000.50Z", nullptr},  // trailing zero in fraction
      {"20250101000000.Z", nullptr},
      {"20250101000000+0000", nullptr},  // zero offset must be Z
      {"202501010000Z", nullptr},        // GeneralizedTime needs seconds
      {"250101000000", nullptr},
      {"20250230000000Z", nullptr},  // 30 February
      {"20251301000000Z", nullptr},
      {"20250101240000Z", nullptr},
      {"20250101000060Z", nullptr},
      {"2025010100000Z", nullptr},
      {"20250101000000Z ", nullptr},
  };
  for (const Case& k : kCases) {
    CertSpec s = LeafSpec();
    s.raw_times = true;
    s.not_before = k.text;
    s.not_after = "20991231235959Z";
    auto c = ParseSpec(s);
    if (k.expect == nullptr) {
      ASSERT_FALSE(c.ok()) << k.text;
      EXPECT_EQ(c.code(), CryptoError::kMalformed);
    } else {
      ASSERT_TRUE(c.ok()) << k.text << ": " << c.detail();
      EXPECT_EQ(base::FormatRfc3339((*c)->not_before()), k.expect) << k.text;
    }
  }
}

// ---------------------------------------------------------------------------
// Extensions.

TEST(CertificateExtensions, KeyUsageBits) {
  const std::pair<const char*, uint32_t> kBits[] = {
      {"digitalSignature", kKuDigitalSignature},
      {"nonRepudiation", kKuNonRepudiation},
      {"keyEncipherment", kKuKeyEncipherment},
      {"dataEncipherment", kKuDataEncipherment},
      {"keyAgreement", kKuKeyAgreement},
      {"keyCertSign", kKuKeyCertSign},
      {"cRLSign", kKuCrlSign},
      {"keyAgreement,encipherOnly", kKuKeyAgreement | kKuEncipherOnly},
      {"keyAgreement,decipherOnly", kKuKeyAgreement | kKuDecipherOnly},
  };
  for (const auto& [conf, bits] : kBits) {
    CertSpec s = LeafSpec();
    s.key_usage = conf;
    auto c = ParseSpec(s);
    ASSERT_TRUE(c.ok()) << conf;
    EXPECT_TRUE((*c)->has_key_usage());
    EXPECT_FALSE((*c)->key_usage_critical());
    EXPECT_EQ((*c)->key_usage(), bits) << conf;
  }
  CertSpec s = LeafSpec();
  s.key_usage = "critical,digitalSignature,nonRepudiation";
  auto c = ParseSpec(s);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE((*c)->key_usage_critical());
  EXPECT_EQ((*c)->key_usage(), kKuDigitalSignature | kKuNonRepudiation);
  s.key_usage = "";
  c = ParseSpec(s);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE((*c)->has_key_usage());
  EXPECT_EQ((*c)->key_usage(), 0u);
}

TEST(CertificateExtensions, ExtendedKeyUsage) {
  CertSpec s = LeafSpec();
  s.ext_key_usage =
      "critical,serverAuth,clientAuth,codeSigning,emailProtection,"
      "timeStamping,OCSPSigning,anyExtendedKeyUsage,1.3.6.1.4.1.311.10.3.13";
  auto c = ParseSpec(s);
  ASSERT_TRUE(c.ok());
  const std::vector<ExtendedKeyUsage> kAll = {
      ExtendedKeyUsage::kServerAuth,   ExtendedKeyUsage::kClientAuth,
      ExtendedKeyUsage::kCodeSigning,  ExtendedKeyUsage::kEmailProtection,
      ExtendedKeyUsage::kTimeStamping, ExtendedKeyUsage::kOcspSigning,
      ExtendedKeyUsage::kAny,          ExtendedKeyUsage::kOther};
  EXPECT_EQ((*c)->extended_key_usage(), kAll);
  EXPECT_TRUE((*c)->has_extended_key_usage());
  EXPECT_TRUE((*c)->extended_key_usage_critical());
  s.ext_key_usage = "";
  c = ParseSpec(s);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE((*c)->has_extended_key_usage());
}

TEST(CertificateExtensions, BasicConstraints) {
  CertSpec s = LeafSpec();
  auto c = ParseSpec(s);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE((*c)->has_basic_constraints());
  EXPECT_FALSE((*c)->is_ca());
  s.basic_constraints = "critical,CA:FALSE";
  c = ParseSpec(s);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE((*c)->has_basic_constraints());
  EXPECT_FALSE((*c)->is_ca());
  EXPECT_FALSE((*c)->path_len().has_value());
  s.basic_constraints = "CA:TRUE,pathlen:2";
  c = ParseSpec(s);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE((*c)->is_ca());
  EXPECT_EQ((*c)->path_len(), 2);
  s.basic_constraints = "critical,CA:TRUE,pathlen:0";
  c = ParseSpec(s);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->path_len(), 0);
}

// ---------------------------------------------------------------------------
// Issuance.

TEST(CertificateIssuance, ChainLinks) {
  for (auto kind : {KeyKind::kP256, KeyKind::kRsa2048}) {
    testpki::Pki pki = testpki::MakePki(kind, kind);
    EXPECT_TRUE(pki.leaf.cert->IsIssuedBy(*pki.intermediate.cert));
    EXPECT_TRUE(pki.intermediate.cert->IsIssuedBy(*pki.root.cert));
    EXPECT_FALSE(pki.leaf.cert->IsIssuedBy(*pki.root.cert));
    EXPECT_FALSE(pki.root.cert->IsIssuedBy(*pki.intermediate.cert));
    EXPECT_TRUE(pki.root.cert->IsSelfSigned());
    EXPECT_FALSE(pki.intermediate.cert->IsSelfSigned());
    EXPECT_FALSE(pki.leaf.cert->IsSelfSigned());
  }
}

TEST(CertificateIssuance, SameNameDifferentKeyIsNotTheIssuer) {
  testpki::Pki pki = testpki::MakePki(KeyKind::kP256, KeyKind::kP256);
  CertSpec impostor = testpki::RootSpec(Key(KeyKind::kP256, 7), "intermediate");
  auto other = Build(impostor);
  ASSERT_EQ(other.cert->SubjectString(),
            pki.intermediate.cert->SubjectString());
  EXPECT_FALSE(pki.leaf.cert->IsIssuedBy(*other.cert));
}

TEST(CertificateIssuance, SelfIssuedButNotSelfSigned) {
  CertSpec s = LeafSpec();
  s.issuer_key = Key(KeyKind::kP256, 9);  // same name, signed by another key
  auto c = ParseSpec(s);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE((*c)->self_issued());
  EXPECT_FALSE((*c)->IsSelfSigned());
}

TEST(CertificateIssuance, SignatureAlgorithmsGoAccepts) {
  struct Case {
    KeyKind kind;
    const char* digest;
    int pss_salt;
    bool ok;
  };
  const Case kCases[] = {
      {KeyKind::kRsa2048, "SHA256", -1, true},
      {KeyKind::kRsa2048, "SHA384", -1, true},
      {KeyKind::kRsa2048, "SHA512", -1, true},
      {KeyKind::kRsa2048, "SHA1", -1, false},  // Go: insecure algorithm
      {KeyKind::kRsa2048, "MD5", -1, false},
      {KeyKind::kRsa2048, "SHA224", -1, false},
      {KeyKind::kRsa2048, "SHA256", 32, true},  // RSASSA-PSS
      {KeyKind::kRsa2048, "SHA384", 48, true},
      {KeyKind::kRsa2048, "SHA512", 64, true},
      {KeyKind::kRsa2048, "SHA256", 20, false},  // salt != hash length
      {KeyKind::kRsa2048, "SHA256", 64, false},
      {KeyKind::kP256, "SHA256", -1, true},
      {KeyKind::kP384, "SHA384", -1, true},
      {KeyKind::kP521, "SHA512", -1, true},
      {KeyKind::kP256, "SHA1", -1, false},
      {KeyKind::kEd25519, "", -1, true},
  };
  for (const Case& k : kCases) {
    CertSpec s = LeafSpec();
    s.key = Key(k.kind);
    s.digest = k.digest;
    s.pss_salt = k.pss_salt;
    auto c = ParseSpec(s);
    ASSERT_TRUE(c.ok()) << k.digest << " " << c.detail();
    EXPECT_EQ((*c)->IsSelfSigned(), k.ok) << k.digest << " salt " << k.pss_salt;
  }
}

TEST(CertificateIssuance, TamperedSignatureFails) {
  base::Bytes der = testpki::ToDer(testpki::BuildX509(LeafSpec()).get());
  der[der.size() - 5] ^= 0x01;  // inside the signature BIT STRING
  auto c = Certificate::FromDer(der);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE((*c)->self_issued());
  EXPECT_FALSE((*c)->IsSelfSigned());
}

}  // namespace
}  // namespace trustgate::crypto
