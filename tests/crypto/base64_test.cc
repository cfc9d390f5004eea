#include "crypto/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace trustgate::crypto {
namespace {

using V = Base64Variant;

std::string Decoded(std::string_view text, V v) {
  auto r = DecodeBase64(text, v);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.detail());
  if (!r.ok()) {
    return "<error>";
  }
  return std::string(base::AsString(*r));
}

void ExpectMalformed(std::string_view text, V v) {
  auto r = DecodeBase64(text, v);
  ASSERT_FALSE(r.ok()) << "accepted: \"" << text << "\"";
  EXPECT_EQ(r.code(), CryptoError::kMalformed);
}

// RFC 4648 §10 test vectors.
TEST(Base64, Rfc4648VectorsStandard) {
  const std::pair<std::string, std::string> kVectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : kVectors) {
    EXPECT_EQ(EncodeBase64(base::AsBytes(plain), V::kStandardPadded), enc);
    EXPECT_EQ(Decoded(enc, V::kStandardPadded), plain);
  }
}

TEST(Base64, Rfc4648VectorsUrl) {
  const std::pair<std::string, std::string> kVectors[] = {
      {"", ""},
      {"f", "Zg"},
      {"fo", "Zm8"},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg"},
      {"fooba", "Zm9vYmE"},
      {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : kVectors) {
    EXPECT_EQ(EncodeBase64(base::AsBytes(plain), V::kUrlUnpadded), enc);
    EXPECT_EQ(Decoded(enc, V::kUrlUnpadded), plain);
  }
}

TEST(Base64, AlphabetsDiffer) {
  const uint8_t bytes[] = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(EncodeBase64(bytes, V::kStandardPadded), "+/+/");
  EXPECT_EQ(EncodeBase64(bytes, V::kUrlUnpadded), "-_-_");
  ExpectMalformed("+/+/", V::kUrlUnpadded);
  ExpectMalformed("-_-_", V::kStandardPadded);
}

TEST(Base64, RoundTripAllLengths) {
  base::Bytes data;
  for (int n = 0; n < 300; ++n) {
    for (V v : {V::kStandardPadded, V::kUrlUnpadded}) {
      std::string enc = EncodeBase64(data, v);
      auto dec = DecodeBase64(enc, v);
      ASSERT_TRUE(dec.ok()) << n;
      EXPECT_EQ(*dec, data);
    }
    data.push_back(static_cast<uint8_t>(n * 37 + 11));
  }
}

TEST(Base64, RejectsWhitespace) {
  for (V v : {V::kStandardPadded, V::kUrlUnpadded}) {
    ExpectMalformed(" Zm9v", v);
    ExpectMalformed("Zm9v\n", v);
    ExpectMalformed("Zm 9v", v);
    ExpectMalformed("Zm9v\r\n", v);
    ExpectMalformed("Zm\t9v", v);
  }
}

TEST(Base64, RejectsBadCharacters) {
  for (V v : {V::kStandardPadded, V::kUrlUnpadded}) {
    ExpectMalformed("Zm9*", v);
    ExpectMalformed("Zm9.", v);
    ExpectMalformed(std::string_view("Zm9\0", 4), v);
    ExpectMalformed("Zm9\xc3", v);
  }
}

TEST(Base64, StandardPaddingRules) {
  ExpectMalformed("Zg", V::kStandardPadded);   // padding missing
  ExpectMalformed("Zg=", V::kStandardPadded);  // padding short
  ExpectMalformed("Zm8", V::kStandardPadded);
  ExpectMalformed("Z===", V::kStandardPadded);  // too much padding
  ExpectMalformed("====", V::kStandardPadded);
  ExpectMalformed("Zm=v", V::kStandardPadded);      // '=' inside
  ExpectMalformed("Zg==Zg==", V::kStandardPadded);  // padding mid-stream
  ExpectMalformed("Zg===", V::kStandardPadded);
}

TEST(Base64, UrlRejectsPadding) {
  ExpectMalformed("Zg==", V::kUrlUnpadded);
  ExpectMalformed("Zm8=", V::kUrlUnpadded);
  ExpectMalformed("Zm9vY", V::kUrlUnpadded);  // impossible length
  ExpectMalformed("Z", V::kUrlUnpadded);
}

TEST(Base64, RejectsNonZeroTrailingBits) {
  // "Zg==" is "f"; "Zh==" decodes to the same byte with stray bits set.
  ExpectMalformed("Zh==", V::kStandardPadded);
  ExpectMalformed("Zm9=", V::kStandardPadded);  // "fo" is Zm8=
  ExpectMalformed("Zh", V::kUrlUnpadded);
  ExpectMalformed("Zm9", V::kUrlUnpadded);
  EXPECT_EQ(Decoded("Zm8", V::kUrlUnpadded), "fo");
}

}  // namespace
}  // namespace trustgate::crypto
