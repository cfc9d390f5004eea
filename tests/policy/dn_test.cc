#include "policy/dn.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/policy/test_pki.h"

namespace trustgate::policy {
namespace {

using crypto::DnAttribute;
using testing::CertSpec;
using testing::MakeCert;
using testing::SpecFor;

std::vector<DnAttribute> Parse(std::string_view dn) {
  auto r = ParseDistinguishedName(dn);
  EXPECT_TRUE(r.ok()) << dn << ": " << (r.ok() ? "" : r.detail());
  return r.ok() ? *r : std::vector<DnAttribute>{};
}

void ExpectRejected(std::string_view dn) {
  auto r = ParseDistinguishedName(dn);
  ASSERT_FALSE(r.ok()) << "accepted: " << dn;
  EXPECT_EQ(r.code(), PolicyError::kBadDistinguishedName) << dn;
}

crypto::CertificatePtr ToCertificate(const testing::TestCert& c) {
  auto r = crypto::Certificate::FromDer(c.Der());
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.detail());
  return r.ok() ? *r : nullptr;
}

TEST(ParseDistinguishedName, KeepsOrderAndValues) {
  std::vector<DnAttribute> dn = Parse("CN=e2e,O=Notary,L=Seattle,ST=WA,C=US");
  std::vector<DnAttribute> want = {{"CN", "e2e"},
                                   {"O", "Notary"},
                                   {"L", "Seattle"},
                                   {"ST", "WA"},
                                   {"C", "US"}};
  EXPECT_EQ(dn, want);
  EXPECT_TRUE(HasMandatoryDnAttributes(dn));
}

TEST(ParseDistinguishedName, TrimsSpacesAroundTypesValuesAndSeparators) {
  std::vector<DnAttribute> dn =
      Parse("  C = US ,  ST=WA,O=  acme rockets.io  , OU=Finance ");
  std::vector<DnAttribute> want = {
      {"C", "US"}, {"ST", "WA"}, {"O", "acme rockets.io"}, {"OU", "Finance"}};
  EXPECT_EQ(dn, want);
}

TEST(ParseDistinguishedName, SemicolonSeparatesRdns) {
  std::vector<DnAttribute> want = {{"C", "US"}, {"ST", "WA"}, {"O", "X"}};
  EXPECT_EQ(Parse("C=US;ST=WA;O=X"), want);
}

TEST(ParseDistinguishedName, RenamesSToStOnlyForExactS) {
  std::vector<DnAttribute> dn = Parse("C=US,S=WA,O=X");
  ASSERT_EQ(dn.size(), 3u);
  EXPECT_EQ(dn[1].type, "ST");
  EXPECT_TRUE(HasMandatoryDnAttributes(dn));
  // Types keep their case (notation compares them case-sensitively).
  std::vector<DnAttribute> lower = Parse("c=US,s=WA,o=X");
  ASSERT_EQ(lower.size(), 3u);
  EXPECT_EQ(lower[0].type, "c");
  EXPECT_EQ(lower[1].type, "s");
  EXPECT_FALSE(HasMandatoryDnAttributes(lower));
}

TEST(ParseDistinguishedName, DecodesEscapes) {
  EXPECT_EQ(Parse(R"(O=a\,b)")[0].value, "a,b");
  EXPECT_EQ(Parse(R"(O=a\;b)")[0].value, "a;b");
  EXPECT_EQ(Parse(R"(O=a\\b)")[0].value, "a\\b");
  EXPECT_EQ(Parse(R"(O=a\+b)")[0].value, "a+b");
  EXPECT_EQ(Parse(R"(O=a\"b)")[0].value, "a\"b");
  EXPECT_EQ(Parse(R"(O=\<a\>)")[0].value, "<a>");
  EXPECT_EQ(Parse(R"(O=a\=b)")[0].value, "a=b");
  EXPECT_EQ(Parse(R"(O=\#a)")[0].value, "#a");
  EXPECT_EQ(Parse(R"(O=caf\c3\a9)")[0].value, "caf\xc3\xa9");
  EXPECT_EQ(Parse(R"(O=\4a)")[0].value, "J");
  // An unescaped '=' inside a value is part of it.
  EXPECT_EQ(Parse("O=a=b")[0].value, "a=b");
}

TEST(ParseDistinguishedName, EscapedLeadingAndTrailingSpacesSurvive) {
  EXPECT_EQ(Parse(R"(O=\ lead)")[0].value, " lead");
  EXPECT_EQ(Parse(R"(O=trail\ )")[0].value, "trail ");
  EXPECT_EQ(Parse(R"(O=trail\ ,C=US)")[0].value, "trail ");
  EXPECT_EQ(Parse(R"(O=\ both\ )")[0].value, " both ");
  // Unescaped ones are trimmed.
  EXPECT_EQ(Parse("O=  mid dle  ")[0].value, "mid dle");
}

TEST(ParseDistinguishedName, RejectsHexValues) {
  ExpectRejected("C=US,ST=WA,O=#04024869");
  // notation rejects any "=#" in the text, even inside a value.
  ExpectRejected("C=US,ST=California,O=Notary Project=#");
}

TEST(ParseDistinguishedName, RejectsMultiValuedRdns) {
  ExpectRejected("OU=Sales+CN=J.  Smith,DC=example,DC=net");
  ExpectRejected("C=US,ST=WA,O=X+OU=Y");
  ExpectRejected("C=US+ST=WA,O=X");
}

TEST(ParseDistinguishedName, RejectsDuplicateTypes) {
  ExpectRejected("C=US,C=CA,ST=WA,O=X");
  ExpectRejected("C=US,ST=California,O=Notary Project,S=California");
}

TEST(ParseDistinguishedName, RepeatAfterEmptyValueReplacesIt) {
  // notation's map check only refuses a repeat of a non-empty value.
  std::vector<DnAttribute> dn = Parse("C=US,ST=WA,O=X,CN=,CN=y");
  ASSERT_EQ(dn.size(), 4u);
  EXPECT_EQ(dn[3], (DnAttribute{"CN", "y"}));
  ExpectRejected("C=US,ST=WA,O=X,CN=y,CN=");
}

TEST(ParseDistinguishedName, RejectsBrokenSyntax) {
  ExpectRejected("invalid");
  ExpectRejected("C=US,");
  ExpectRejected(",C=US");
  ExpectRejected("C=US,,O=X");
  ExpectRejected("=US");
  ExpectRejected("C=US,=WA");
  ExpectRejected(R"(O=dangling\)");
  ExpectRejected(R"(O=bad\zz)");
  ExpectRejected(R"(O=short\4)");
}

TEST(ParseDistinguishedName, EmptyValuesAndEmptyDnParse) {
  std::vector<DnAttribute> dn = Parse("C=US,ST=WA,O=X,CN=");
  ASSERT_EQ(dn.size(), 4u);
  EXPECT_EQ(dn[3].value, "");
  EXPECT_TRUE(Parse("").empty());
  EXPECT_TRUE(Parse("   ").empty());
  // Mandatory attributes must be non-empty.
  EXPECT_FALSE(HasMandatoryDnAttributes(Parse("C=US,ST=,O=X")));
  EXPECT_FALSE(HasMandatoryDnAttributes(Parse("C=US,O=X")));
  EXPECT_FALSE(HasMandatoryDnAttributes(Parse("C=US,ST=WA")));
  EXPECT_FALSE(HasMandatoryDnAttributes(Parse("ST=WA,O=X")));
}

TEST(ParseDistinguishedName, EveryPrefixAndByteFlipIsHandled) {
  const std::string dn = R"( C = US ;S=WA,O=a\,b\;c\\d,OU=\ x\ ,CN=caf\c3\a9)";
  ASSERT_TRUE(ParseDistinguishedName(dn).ok());
  for (size_t n = 0; n <= dn.size(); ++n) {
    auto r = ParseDistinguishedName(dn.substr(0, n));
    if (!r.ok()) {
      EXPECT_EQ(r.code(), PolicyError::kBadDistinguishedName);
    }
    if (n < dn.size()) {
      std::string flipped = dn;
      flipped[n] = static_cast<char>(flipped[n] ^ 0x21);
      (void)ParseDistinguishedName(flipped).ok();
    }
  }
}

TEST(IsDnSubset, Basics) {
  std::vector<DnAttribute> subject = {{"CN", "Notary"},
                                      {"O", "Notary Project"},
                                      {"L", "Los Angeles"},
                                      {"ST", "California"},
                                      {"C", "US"}};
  EXPECT_TRUE(
      IsDnSubset(Parse("C=US,ST=California,O=Notary Project"), subject));
  EXPECT_TRUE(IsDnSubset(subject, subject));
  EXPECT_FALSE(
      IsDnSubset(Parse("C=US,ST=California,O=Notary Project 2"), subject));
  EXPECT_FALSE(IsDnSubset(Parse("C=US,ST=California,O=Notary Project,OU=Tools"),
                          subject));
  // Values and types compare exactly.
  EXPECT_FALSE(
      IsDnSubset(Parse("C=us,ST=California,O=Notary Project"), subject));
  EXPECT_FALSE(
      IsDnSubset(Parse("c=US,ST=California,O=Notary Project"), subject));
  // An empty policy value matches a missing attribute (notation's map).
  EXPECT_TRUE(
      IsDnSubset(Parse("C=US,ST=California,O=Notary Project,OU="), subject));
  EXPECT_FALSE(
      IsDnSubset(Parse("C=US,ST=California,O=Notary Project,CN="), subject));
}

TEST(LeafSubjectForMatch, GeneratedCertificates) {
  testing::TestCert leaf = MakeCert(SpecFor({{"C", "US"},
                                             {"ST", "WA"},
                                             {"L", "Seattle"},
                                             {"O", "Acme, Inc."},
                                             {"OU", "Tools"},
                                             {"CN", " spaced "}}));
  crypto::CertificatePtr cert = ToCertificate(leaf);
  ASSERT_NE(cert, nullptr);
  auto subject = LeafSubjectForMatch(*cert);
  ASSERT_TRUE(subject.ok()) << subject.detail();
  EXPECT_TRUE(IsDnSubset(Parse(R"(C=US,ST=WA,O=Acme\, Inc.)"), *subject));
  EXPECT_TRUE(IsDnSubset(
      Parse(R"(C=US,S=WA,O=Acme\, Inc.,OU=Tools,CN=\ spaced\ )"), *subject));
  EXPECT_FALSE(
      IsDnSubset(Parse(R"(C=US,ST=WA,O=Acme\, Inc.,CN=spaced)"), *subject));
  EXPECT_FALSE(IsDnSubset(Parse("C=US,ST=WA,O=Acme"), *subject));
}

TEST(LeafSubjectForMatch, RejectsWhatNotationRejects) {
  // emailAddress is printed by Go as 1.2.840.113549.1.9.1=#..., which
  // notation's DN parser refuses.
  testing::TestCert email =
      MakeCert(SpecFor({{"C", "US"},
                        {"ST", "WA"},
                        {"O", "X"},
                        {"emailAddress", "a@example.com"}}));
  // Two OUs are printed as one multi-valued RDN.
  testing::TestCert two_ou = MakeCert(SpecFor(
      {{"C", "US"}, {"ST", "WA"}, {"O", "X"}, {"OU", "a"}, {"OU", "b"}}));
  testing::TestCert no_state =
      MakeCert(SpecFor({{"C", "US"}, {"O", "X"}, {"CN", "y"}}));
  testing::TestCert hash_value =
      MakeCert(SpecFor({{"C", "US"}, {"ST", "WA"}, {"O", "a=#b"}}));
  for (const testing::TestCert* c : {&email, &two_ou, &no_state, &hash_value}) {
    crypto::CertificatePtr cert = ToCertificate(*c);
    ASSERT_NE(cert, nullptr);
    auto subject = LeafSubjectForMatch(*cert);
    ASSERT_FALSE(subject.ok()) << cert->SubjectString();
    EXPECT_EQ(subject.code(), PolicyError::kBadDistinguishedName);
  }
}

TEST(LeafSubjectForMatch, TwoCommonNamesKeepTheLast) {
  // Go keeps the last CN in certificate order and prints only that one.
  testing::TestCert c = MakeCert(SpecFor({{"C", "US"},
                                          {"ST", "WA"},
                                          {"O", "X"},
                                          {"CN", "first"},
                                          {"CN", "second"}}));
  crypto::CertificatePtr cert = ToCertificate(c);
  ASSERT_NE(cert, nullptr);
  auto subject = LeafSubjectForMatch(*cert);
  ASSERT_TRUE(subject.ok()) << subject.detail();
  EXPECT_TRUE(IsDnSubset(Parse("C=US,ST=WA,O=X,CN=second"), *subject));
  EXPECT_FALSE(IsDnSubset(Parse("C=US,ST=WA,O=X,CN=first"), *subject));
}

crypto::CertificatePtr SharedCert(const std::string& rel) {
  std::ifstream f(testing::SharedDir() / "interop/notation-e2e" / rel,
                  std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)),
                    std::istreambuf_iterator<char>());
  auto certs = crypto::Certificate::FromFileBytes(base::AsBytes(bytes));
  EXPECT_TRUE(certs.ok()) << rel;
  return certs.ok() && !certs->empty() ? (*certs)[0] : nullptr;
}

TEST(LeafSubjectForMatch, NotationE2eCertificates) {
  crypto::CertificatePtr e2e = SharedCert("config/localkeys/e2e.crt");
  crypto::CertificatePtr expired =
      SharedCert("config/localkeys/expired_e2e.crt");
  ASSERT_NE(e2e, nullptr);
  ASSERT_NE(expired, nullptr);
  auto e2e_subject = LeafSubjectForMatch(*e2e);
  auto expired_subject = LeafSubjectForMatch(*expired);
  ASSERT_TRUE(e2e_subject.ok()) << e2e_subject.detail();
  ASSERT_TRUE(expired_subject.ok()) << expired_subject.detail();
  // valid_trusted_identity_trustpolicy.json
  EXPECT_TRUE(
      IsDnSubset(Parse(" CN=e2e,O=Notary,L=Seattle,ST=WA,C=US"), *e2e_subject));
  // invalid_trusted_identity_trustpolicy.json
  EXPECT_FALSE(IsDnSubset(Parse(" CN=e2e,O=Notary,L=Seattle,ST=WA,C=USB"),
                          *e2e_subject));
  // multiple_trusted_identity_trustpolicy.json, second identity
  std::vector<DnAttribute> widgits =
      Parse(" O=Internet Widgits Pty Ltd,ST=Some-State,C=AU");
  EXPECT_TRUE(IsDnSubset(widgits, *expired_subject));
  EXPECT_FALSE(IsDnSubset(widgits, *e2e_subject));
}

}  // namespace
}  // namespace trustgate::policy
