#include "io/digest.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

#include "base/bytes.h"

namespace trustgate::io {
namespace {

const std::string kHex64(64, 'a');
const std::string kHex128(128, 'b');

// FIPS 180-2 test vectors for "abc".
constexpr std::string_view kSha256Abc =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view kSha512Abc =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

TEST(DigestTest, ParsesSha256) {
  auto d = Digest::Parse("sha256:" + kHex64);
  ASSERT_TRUE(d.ok()) << d.detail();
  EXPECT_EQ(d->algorithm(), DigestAlgorithm::kSha256);
  EXPECT_EQ(d->hex(), kHex64);
  EXPECT_EQ(d->ToString(), "sha256:" + kHex64);
  EXPECT_EQ(d->BlobPath(), "blobs/sha256/" + kHex64);
}

TEST(DigestTest, ParsesSha512) {
  auto d = Digest::Parse("sha512:" + kHex128);
  ASSERT_TRUE(d.ok()) << d.detail();
  EXPECT_EQ(d->algorithm(), DigestAlgorithm::kSha512);
  EXPECT_EQ(d->BlobPath(), "blobs/sha512/" + kHex128);
}

TEST(DigestTest, RejectsEverythingElse) {
  const std::string bad[] = {
      "",
      "sha256",
      "sha256:",
      ":" + kHex64,
      kHex64,
      "sha256:" + std::string(63, 'a'),         // short
      "sha256:" + std::string(65, 'a'),         // long
      "sha256:" + kHex128,                      // sha512 length
      "sha512:" + kHex64,                       // sha256 length
      "sha384:" + std::string(96, 'a'),         // unregistered algorithm
      "SHA256:" + kHex64,                       // uppercase algorithm
      "sha256:" + std::string(64, 'A'),         // uppercase hex
      "sha256:" + std::string(63, 'a') + "G",   // not hex
      "sha256:" + std::string(62, 'a') + "/x",  // path separator
      "sha256:../" + std::string(61, 'a'),      // path trick
      "sha256:" + std::string(63, 'a') + ".",   // dot
      " sha256:" + kHex64,                      // whitespace
      "sha256:" + kHex64 + "\n",                // trailing newline
      "sha256:" + kHex64 + ":",                 // extra colon
      "sha256+b64u:" + kHex64,                  // algorithm with separator
      "blake3:" + kHex64,                       // other algorithm
  };
  for (const std::string& text : bad) {
    auto d = Digest::Parse(text);
    EXPECT_FALSE(d.ok()) << text;
    if (!d.ok()) {
      EXPECT_EQ(d.code(), IoError::kBadDigest) << text;
    }
  }
}

TEST(DigestTest, RejectsEmbeddedNul) {
  std::string text = "sha256:" + kHex64;
  text[20] = '\0';
  auto d = Digest::Parse(text);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.code(), IoError::kBadDigest);
  std::string appended = "sha256:" + kHex64;
  appended.push_back('\0');
  EXPECT_FALSE(Digest::Parse(appended).ok());
}

TEST(DigestTest, ComputesKnownVectors) {
  EXPECT_EQ(
      ComputeDigest(DigestAlgorithm::kSha256, base::AsBytes("abc")).ToString(),
      "sha256:" + std::string(kSha256Abc));
  EXPECT_EQ(
      ComputeDigest(DigestAlgorithm::kSha512, base::AsBytes("abc")).ToString(),
      "sha512:" + std::string(kSha512Abc));
  // The empty blob.
  EXPECT_EQ(ComputeDigest(DigestAlgorithm::kSha256, base::ByteView()).hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(DigestTest, StreamingEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 100000; ++i) {
    data.push_back(static_cast<char>(i * 131 % 251));
  }
  for (DigestAlgorithm alg :
       {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    const Digest one_shot = ComputeDigest(alg, base::AsBytes(data));
    for (size_t chunk : {1u, 7u, 64u, 4096u, 99999u}) {
      StreamingHasher hasher(alg);
      for (size_t off = 0; off < data.size(); off += chunk) {
        hasher.Update(base::AsBytes(std::string_view(data).substr(off, chunk)));
      }
      hasher.Update(base::ByteView());
      EXPECT_EQ(hasher.Finish(), one_shot) << chunk;
    }
  }
}

TEST(DigestTest, ComputedDigestRoundTripsThroughParse) {
  const Digest d = ComputeDigest(DigestAlgorithm::kSha512, base::AsBytes("x"));
  auto parsed = Digest::Parse(d.ToString());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, d);
}

TEST(DigestTest, EqualityAndHashIncludeAlgorithmAndHex) {
  auto a = Digest::Parse("sha256:" + kHex64);
  auto b = Digest::Parse("sha256:" + std::string(64, 'c'));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(*a == *b);
  std::unordered_set<Digest> set{*a, *b, *a};
  EXPECT_EQ(set.size(), 2u);
}

TEST(DigestTest, AlgorithmNames) {
  EXPECT_EQ(ToString(DigestAlgorithm::kSha256), "sha256");
  EXPECT_EQ(ToString(DigestAlgorithm::kSha512), "sha512");
}

}  // namespace
}  // namespace trustgate::io
