#include "tools/mkmirror/layout_writer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/mkmirror/temp_dir.h"

namespace trustgate::mkmirror {
namespace {

Descriptor Desc(std::string_view media_type, std::string digest, int64_t size) {
  Descriptor d;
  d.media_type = media_type;
  d.digest = std::move(digest);
  d.size = size;
  return d;
}

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(LayoutWriter, BlobsIndexAndLayoutFile) {
  testing::TempDir dir;
  auto layout = LayoutWriter::Create(dir.path() / "repo");
  ASSERT_TRUE(layout.ok());
  LayoutWriter& w = **layout;
  auto blob = w.WriteBlob(kMediaTypeLayer, base::AsBytes("hello"));
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(blob->digest,
            OciDigest(HashAlgorithm::kSha256, base::AsBytes("hello")));
  EXPECT_EQ(blob->size, 5);
  EXPECT_EQ(Slurp(w.BlobPath(blob->digest)), "hello");
  EXPECT_EQ(w.BlobPath(blob->digest),
            dir.path() / "repo" / "blobs" / "sha256" / blob->digest.substr(7));

  auto big = w.WriteBlob(kMediaTypeLayer, base::AsBytes("hello"),
                         HashAlgorithm::kSha512);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->digest.substr(0, 7), "sha512:");
  EXPECT_EQ(Slurp(w.BlobPath(big->digest)), "hello");

  Descriptor tagged = *blob;
  tagged.media_type = kMediaTypeImageManifest;
  tagged.annotations[std::string(kAnnotationRefName)] = "v1";
  w.AddIndexEntry(tagged);
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(Slurp(dir.path() / "repo" / "oci-layout"),
            R"({"imageLayoutVersion":"1.0.0"})");
  const auto index =
      nlohmann::json::parse(Slurp(dir.path() / "repo" / "index.json"));
  EXPECT_EQ(index["schemaVersion"], 2);
  ASSERT_EQ(index["manifests"].size(), 1u);
  EXPECT_EQ(index["manifests"][0]["annotations"][kAnnotationRefName], "v1");
}

TEST(LayoutWriter, RawBlobIgnoresContent) {
  testing::TempDir dir;
  auto layout = LayoutWriter::Create(dir.path());
  ASSERT_TRUE(layout.ok());
  const std::string digest =
      OciDigest(HashAlgorithm::kSha256, base::AsBytes("original"));
  ASSERT_TRUE((*layout)->WriteRawBlob(digest, base::AsBytes("other")).ok());
  EXPECT_EQ(Slurp((*layout)->BlobPath(digest)), "other");
}

TEST(LayoutWriter, SignatureManifestShape) {
  ImageManifest m;
  m.artifact_type = std::string(kArtifactTypeNotation);
  m.config = EmptyConfigDescriptor();
  m.layers.push_back(Desc("application/jose+json", "sha256:ab", 10));
  m.subject = Desc(kMediaTypeImageManifest, "sha256:cd", 7);
  m.annotations["org.opencontainers.image.created"] = "2026-01-01T00:00:00Z";
  // Go field order (schemaVersion, mediaType, artifactType, config, layers,
  // subject, annotations), compact.
  EXPECT_EQ(
      ManifestJson(m),
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("artifactType":"application/vnd.cncf.notary.signature","config":{)"
      R"("mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:)"
      R"(44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",)"
      R"("size":2,"data":"e30="},"layers":[{"mediaType":"application/jose+json",)"
      R"("digest":"sha256:ab","size":10}],"subject":{"mediaType":)"
      R"("application/vnd.oci.image.manifest.v1+json","digest":"sha256:cd",)"
      R"("size":7},"annotations":{"org.opencontainers.image.created":)"
      R"("2026-01-01T00:00:00Z"}})");
}

TEST(LayoutWriter, IndexWithPlatforms) {
  Descriptor child = Desc(kMediaTypeImageManifest, "sha256:ab", 3);
  child.platform = Platform{"arm64", "linux"};
  const auto j = nlohmann::json::parse(IndexJson({child}));
  EXPECT_EQ(j["mediaType"], kMediaTypeImageIndex);
  EXPECT_EQ(j["manifests"][0]["platform"]["architecture"], "arm64");
}

}  // namespace
}  // namespace trustgate::mkmirror
