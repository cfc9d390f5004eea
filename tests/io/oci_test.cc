#include "io/oci.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "io/reader.h"

namespace trustgate::io {
namespace {

using nlohmann::json;

const std::string kD1 = "sha256:" + std::string(64, '1');
const std::string kD2 = "sha256:" + std::string(64, '2');
const std::string kD3 = "sha256:" + std::string(64, '3');

json Desc(std::string_view media_type, const std::string& digest,
          int64_t size) {
  return json{{"mediaType", media_type}, {"digest", digest}, {"size", size}};
}

json OciManifest() {
  return json{
      {"schemaVersion", 2},
      {"mediaType", kMediaTypeImageManifest},
      {"config", Desc("application/vnd.oci.image.config.v1+json", kD1, 10)},
      {"layers",
       json::array({Desc("application/vnd.oci.image.layer.v1.tar", kD2, 20)})}};
}

json OciIndex() {
  return json{
      {"schemaVersion", 2},
      {"mediaType", kMediaTypeImageIndex},
      {"manifests", json::array({Desc(kMediaTypeImageManifest, kD1, 100),
                                 Desc(kMediaTypeImageManifest, kD2, 200)})}};
}

base::Result<Manifest, IoError> ParseText(std::string_view text,
                                          std::string_view expected = "") {
  return ParseManifest(base::AsBytes(text), expected);
}

base::Result<Manifest, IoError> Parse(const json& doc,
                                      std::string_view expected = "") {
  const std::string text = doc.dump();
  return ParseManifest(base::AsBytes(text), expected);
}

IoError Code(const base::Result<Manifest, IoError>& r) {
  EXPECT_FALSE(r.ok());
  return r.ok() ? IoError{} : r.code();
}

TEST(OciTest, ParsesOciImageManifest) {
  json doc = OciManifest();
  doc["annotations"] = {{"org.opencontainers.image.created", "2023"}};
  auto m = Parse(doc);
  ASSERT_TRUE(m.ok()) << m.detail();
  EXPECT_EQ(m->kind, ManifestKind::kImageManifest);
  EXPECT_EQ(m->media_type, kMediaTypeImageManifest);
  ASSERT_TRUE(m->config.has_value());
  EXPECT_EQ(m->config->digest.ToString(), kD1);
  EXPECT_EQ(m->config->size, 10);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].media_type, "application/vnd.oci.image.layer.v1.tar");
  EXPECT_EQ(m->annotations.at("org.opencontainers.image.created"), "2023");
  EXPECT_FALSE(m->subject.has_value());
  EXPECT_FALSE(m->IsNotarySignature());
}

TEST(OciTest, ParsesDockerManifestAndList) {
  json docker = OciManifest();
  docker["mediaType"] = kMediaTypeDockerManifest;
  docker["config"]["mediaType"] =
      "application/vnd.docker.container.image.v1+json";
  auto m = Parse(docker, kMediaTypeDockerManifest);
  ASSERT_TRUE(m.ok()) << m.detail();
  EXPECT_EQ(m->kind, ManifestKind::kImageManifest);

  json list = OciIndex();
  list["mediaType"] = kMediaTypeDockerManifestList;
  list["manifests"][0]["mediaType"] = kMediaTypeDockerManifest;
  list["manifests"][0]["platform"] = {{"architecture", "amd64"},
                                      {"os", "linux"},
                                      {"variant", "v8"},
                                      {"os.features", json::array({"x"})}};
  auto l = Parse(list);
  ASSERT_TRUE(l.ok()) << l.detail();
  EXPECT_EQ(l->kind, ManifestKind::kImageIndex);
  ASSERT_TRUE(l->manifests[0].platform.has_value());
  EXPECT_EQ(l->manifests[0].platform->architecture, "amd64");
  EXPECT_EQ(l->manifests[0].platform->variant, "v8");
}

TEST(OciTest, ParsesOciIndexWithSubjectAndArtifactType) {
  json doc = OciIndex();
  doc["artifactType"] = "application/example";
  doc["subject"] = Desc(kMediaTypeImageManifest, kD3, 5);
  doc["manifests"][1]["artifactType"] = "application/x";
  doc["manifests"][1]["urls"] = json::array({"https://example.com/a"});
  doc["manifests"][1]["data"] = "e30=";
  auto m = Parse(doc, kMediaTypeImageIndex);
  ASSERT_TRUE(m.ok()) << m.detail();
  EXPECT_EQ(m->kind, ManifestKind::kImageIndex);
  EXPECT_EQ(m->artifact_type, "application/example");
  ASSERT_EQ(m->manifests.size(), 2u);
  EXPECT_EQ(m->manifests[1].artifact_type, "application/x");
  EXPECT_EQ(m->manifests[1].urls.size(), 1u);
  ASSERT_TRUE(m->subject.has_value());
  EXPECT_EQ(m->subject->digest.ToString(), kD3);
}

TEST(OciTest, KindFromDescriptorThenStructure) {
  json manifest = OciManifest();
  manifest.erase("mediaType");
  json index = OciIndex();
  index.erase("mediaType");
  // The descriptor says.
  auto a = Parse(manifest, kMediaTypeImageManifest);
  ASSERT_TRUE(a.ok()) << a.detail();
  EXPECT_EQ(a->kind, ManifestKind::kImageManifest);
  EXPECT_TRUE(a->media_type.empty());
  // The structure says.
  auto b = Parse(manifest);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->kind, ManifestKind::kImageManifest);
  auto c = Parse(index);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, ManifestKind::kImageIndex);
  // An unknown descriptor media type falls back to structure.
  auto d = Parse(index, "application/vnd.unknown");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, ManifestKind::kImageIndex);
  // The descriptor says index but the document is a manifest.
  EXPECT_EQ(Code(Parse(manifest, kMediaTypeImageIndex)), IoError::kMalformed);
}

TEST(OciTest, MediaTypeMismatchesAreMalformed) {
  EXPECT_EQ(Code(Parse(OciManifest(), kMediaTypeImageIndex)),
            IoError::kMalformed);
  EXPECT_EQ(Code(Parse(OciManifest(), kMediaTypeDockerManifest)),
            IoError::kMalformed);
  json unknown = OciManifest();
  unknown["mediaType"] = "application/vnd.oci.artifact.manifest.v1+json";
  EXPECT_EQ(Code(Parse(unknown)), IoError::kMalformed);
  json wrong = OciManifest();
  wrong["mediaType"] = kMediaTypeImageIndex;  // says index, has layers
  EXPECT_EQ(Code(Parse(wrong)), IoError::kMalformed);
}

TEST(OciTest, AmbiguousDocumentsAreMalformed) {
  json both = OciManifest();
  both.erase("mediaType");
  both["manifests"] = json::array();
  EXPECT_EQ(Code(Parse(both)), IoError::kMalformed);
  json manifest_with_manifests = OciManifest();
  manifest_with_manifests["manifests"] = json::array();
  EXPECT_EQ(Code(Parse(manifest_with_manifests)), IoError::kMalformed);
  json index_with_config = OciIndex();
  index_with_config["config"] = Desc("a/b", kD1, 1);
  EXPECT_EQ(Code(Parse(index_with_config)), IoError::kMalformed);
  EXPECT_EQ(Code(ParseText(R"({"schemaVersion":2})")), IoError::kMalformed);
}

TEST(OciTest, MissingRequiredFields) {
  for (const char* field : {"schemaVersion", "config"}) {
    json doc = OciManifest();
    doc.erase(field);
    EXPECT_EQ(Code(Parse(doc)), IoError::kMalformed) << field;
  }
  json no_manifests = OciIndex();
  no_manifests.erase("manifests");
  EXPECT_EQ(Code(Parse(no_manifests)), IoError::kMalformed);
  for (const char* field : {"mediaType", "digest", "size"}) {
    json doc = OciManifest();
    doc["layers"][0].erase(field);
    EXPECT_EQ(Code(Parse(doc)), IoError::kMalformed) << field;
  }
  // layers may be absent (an artifact without blobs).
  json no_layers = OciManifest();
  no_layers.erase("layers");
  auto ok = Parse(no_layers);
  ASSERT_TRUE(ok.ok()) << ok.detail();
  EXPECT_TRUE(ok->layers.empty());
}

TEST(OciTest, WrongTypes) {
  struct Case {
    const char* pointer;
    json value;
  };
  const Case cases[] = {
      {"/schemaVersion", 1},
      {"/schemaVersion", 3},
      {"/schemaVersion", 2.0},
      {"/schemaVersion", "2"},
      {"/mediaType", 5},
      {"/artifactType", json::array()},
      {"/config", json::array()},
      {"/config", "sha256:..."},
      {"/layers", json::object()},
      {"/layers/0", "x"},
      {"/annotations", json::array()},
      {"/annotations", {{"k", 1}}},
      {"/subject", 1},
      {"/layers/0/mediaType", nullptr},
      {"/layers/0/digest", 12},
      {"/layers/0/size", "20"},
      {"/layers/0/size", 20.0},
      {"/layers/0/size", 2e1},
      {"/layers/0/size", -1},
      {"/layers/0/size", 18446744073709551615ull},
      {"/layers/0/urls", "https://x"},
      {"/layers/0/urls", json::array({1})},
      {"/layers/0/annotations", {{"k", nullptr}}},
      {"/layers/0/platform", {{"os", "linux"}}},
      {"/layers/0/platform", "linux/amd64"},
      {"/layers/0/data", 5},
      {"/layers/0/artifactType", true},
  };
  for (const Case& c : cases) {
    json doc = OciManifest();
    doc[json::json_pointer(c.pointer)] = c.value;
    EXPECT_EQ(Code(Parse(doc)), IoError::kMalformed)
        << c.pointer << " = " << c.value.dump();
  }
}

TEST(OciTest, BadDigestsAreBadDigest) {
  const std::string bad[] = {
      "sha256:" + std::string(64, 'A'),
      "sha384:" + std::string(96, 'a'),
      "sha256:" + std::string(63, 'a'),
      "sha256:../../../../etc/passwd",
      "",
  };
  for (const std::string& digest : bad) {
    json layer = OciManifest();
    layer["layers"][0]["digest"] = digest;
    EXPECT_EQ(Code(Parse(layer)), IoError::kBadDigest) << digest;
    json config = OciManifest();
    config["config"]["digest"] = digest;
    EXPECT_EQ(Code(Parse(config)), IoError::kBadDigest) << digest;
    json subject = OciManifest();
    subject["subject"] = Desc(kMediaTypeImageManifest, digest, 1);
    EXPECT_EQ(Code(Parse(subject)), IoError::kBadDigest) << digest;
    json index = OciIndex();
    index["manifests"][1]["digest"] = digest;
    EXPECT_EQ(Code(Parse(index)), IoError::kBadDigest) << digest;
  }
}

TEST(OciTest, DuplicateKeysAreRejectedAnywhere) {
  const std::string config =
      R"({"mediaType":"a/b","digest":")" + kD1 + R"(","size":1})";
  const std::string good = R"({"schemaVersion":2,"config":)" + config + "}";
  ASSERT_TRUE(ParseText(good).ok());
  const std::string dups[] = {
      R"({"schemaVersion":2,"schemaVersion":2,"config":)" + config + "}",
      R"({"schemaVersion":2,"config":)" + config + R"(,"config":)" + config +
          "}",
      R"({"schemaVersion":2,"config":{"mediaType":"a/b","digest":")" + kD1 +
          R"(","digest":")" + kD2 + R"(","size":1}})",
      R"({"schemaVersion":2,"config":)" + config +
          R"(,"annotations":{"k":"a","k":"b"}})",
      R"({"schemaVersion":2,"config":)" + config +
          R"(,"unknown":[{"x":1,"x":2}]})",
  };
  for (const std::string& text : dups) {
    EXPECT_EQ(Code(ParseText(text)), IoError::kMalformed) << text;
  }
}

TEST(OciTest, KeysThatGoWouldFoldAreRejected) {
  // Go's encoding/json (Notation) matches keys case-insensitively.
  json upper = OciManifest();
  upper["Subject"] = Desc(kMediaTypeImageManifest, kD3, 1);
  EXPECT_EQ(Code(Parse(upper)), IoError::kMalformed);
  json desc = OciManifest();
  desc["layers"][0]["MediaType"] = "x/y";
  EXPECT_EQ(Code(Parse(desc)), IoError::kMalformed);
  // U+017F LATIN SMALL LETTER LONG S folds to 's'.
  json long_s = OciManifest();
  long_s["\xC5\xBFubject"] = Desc(kMediaTypeImageManifest, kD3, 1);
  EXPECT_EQ(Code(Parse(long_s)), IoError::kMalformed);
  // Unrelated unknown keys are ignored (descriptor.md).
  json unknown = OciManifest();
  unknown["x-custom"] = {{"anything", json::array({1, 2})}};
  unknown["layers"][0]["x-custom"] = 1;
  EXPECT_TRUE(Parse(unknown).ok());
}

TEST(OciTest, NotJsonOrNotAnObject) {
  EXPECT_EQ(Code(ParseText("")), IoError::kMalformed);
  EXPECT_EQ(Code(ParseText("{")), IoError::kMalformed);
  EXPECT_EQ(Code(ParseText("[]")), IoError::kMalformed);
  EXPECT_EQ(Code(ParseText("null")), IoError::kMalformed);
  EXPECT_EQ(Code(ParseText(OciManifest().dump() + "x")), IoError::kMalformed);
  // Invalid UTF-8 in a string.
  EXPECT_EQ(Code(ParseText("{\"schemaVersion\":2,\"mediaType\":\"\xff\"}")),
            IoError::kMalformed);
}

TEST(OciTest, TooLarge) {
  std::string big = OciManifest().dump();
  big.insert(big.size() - 1,
             ",\"pad\":\"" + std::string(kManifestMaxBytes, 'p') + "\"");
  EXPECT_EQ(Code(ParseText(big)), IoError::kTooLarge);
}

TEST(OciTest, LargeButAllowedDocumentParses) {
  // Above the reused-parser threshold, below the 4 MiB limit.
  json doc = OciManifest();
  doc["annotations"] = {{"pad", std::string(1 << 20, 'p')}};
  auto m = Parse(doc);
  ASSERT_TRUE(m.ok()) << m.detail();
  EXPECT_EQ(m->annotations.at("pad").size(), 1u << 20);
}

TEST(OciTest, NotarySignatureDetection) {
  json by_artifact_type = OciManifest();
  by_artifact_type["artifactType"] = kArtifactTypeNotarySignature;
  by_artifact_type["config"]["mediaType"] = kMediaTypeEmptyJson;
  EXPECT_TRUE(Parse(by_artifact_type)->IsNotarySignature());

  json by_config = OciManifest();
  by_config["config"]["mediaType"] = kArtifactTypeNotarySignature;
  EXPECT_TRUE(Parse(by_config)->IsNotarySignature());

  // artifactType wins over config.mediaType (oras-go Referrers).
  json other = by_config;
  other["artifactType"] = "application/vnd.example.sbom";
  EXPECT_FALSE(Parse(other)->IsNotarySignature());

  json index = OciIndex();
  index["artifactType"] = kArtifactTypeNotarySignature;
  EXPECT_FALSE(Parse(index)->IsNotarySignature());
}

TEST(OciTest, MediaTypePredicates) {
  EXPECT_TRUE(IsManifestMediaType(kMediaTypeImageManifest));
  EXPECT_TRUE(IsManifestMediaType(kMediaTypeDockerManifest));
  EXPECT_FALSE(IsManifestMediaType(kMediaTypeImageIndex));
  EXPECT_TRUE(IsIndexMediaType(kMediaTypeImageIndex));
  EXPECT_TRUE(IsIndexMediaType(kMediaTypeDockerManifestList));
  EXPECT_FALSE(IsIndexMediaType(kMediaTypeDockerManifest));
  EXPECT_FALSE(IsManifestMediaType(""));

  EXPECT_TRUE(IsNonDistributableLayer(
      "application/vnd.oci.image.layer.nondistributable.v1.tar"));
  EXPECT_TRUE(IsNonDistributableLayer(
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"));
  EXPECT_TRUE(IsNonDistributableLayer(
      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"));
  EXPECT_TRUE(IsNonDistributableLayer(
      "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"));
  EXPECT_FALSE(
      IsNonDistributableLayer("application/vnd.oci.image.layer.v1.tar"));
  EXPECT_FALSE(IsNonDistributableLayer(
      "application/vnd.docker.image.rootfs.diff.tar.gzip"));
  EXPECT_FALSE(IsNonDistributableLayer(""));
}

TEST(OciTest, IndexJson) {
  const std::string minimal = R"({"schemaVersion":2,"manifests":[]})";
  auto m = ParseIndexJson(base::AsBytes(minimal));
  ASSERT_TRUE(m.ok()) << m.detail();
  EXPECT_EQ(m->kind, ManifestKind::kImageIndex);
  EXPECT_TRUE(m->manifests.empty());

  auto full = ParseIndexJson(base::AsBytes(OciIndex().dump()));
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->manifests.size(), 2u);

  const std::string manifest = OciManifest().dump();
  auto not_index = ParseIndexJson(base::AsBytes(manifest));
  ASSERT_FALSE(not_index.ok());
  EXPECT_EQ(not_index.code(), IoError::kMalformed);

  const std::string no_version = R"({"manifests":[]})";
  EXPECT_EQ(ParseIndexJson(base::AsBytes(no_version)).code(),
            IoError::kMalformed);
}

TEST(OciTest, RealNotationSignatureManifest) {
  // Byte for byte the e2e signature manifest c3ebe4a2... (notation-go 1.3).
  const std::string text =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.cncf.notary.signature","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/jose+json","digest":"sha256:a54333638acfa773a6b25429ee409b558d39c6f3c45dd14f714d72452bc36481","size":2093}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9","size":517},"annotations":{"io.cncf.notary.x509chain.thumbprint#S256":"[\"a10293ee855ac897fc6ffefadb0b72d4bd8042029f5108f404d7ca9b4324ca97\"]","org.opencontainers.image.created":"2025-02-17T08:17:09Z"}})";
  auto m = ParseText(text, kMediaTypeImageManifest);
  ASSERT_TRUE(m.ok()) << m.detail();
  EXPECT_TRUE(m->IsNotarySignature());
  ASSERT_TRUE(m->subject.has_value());
  EXPECT_EQ(m->subject->size, 517);
  EXPECT_EQ(m->layers.at(0).media_type, "application/jose+json");
}

TEST(OciTest, ImageLayoutFile) {
  auto ok = [](std::string_view text) {
    return ParseImageLayoutFile(base::AsBytes(text)).ok();
  };
  EXPECT_TRUE(ok(R"({"imageLayoutVersion":"1.0.0"})"));
  EXPECT_TRUE(ok(R"({"imageLayoutVersion": "1.0.0", "extra": 1})"));
  EXPECT_FALSE(ok(R"({"imageLayoutVersion":"1.0.1"})"));
  EXPECT_FALSE(ok(R"({"imageLayoutVersion":1})"));
  EXPECT_FALSE(ok(R"({})"));
  EXPECT_FALSE(ok(R"([])"));
  EXPECT_FALSE(ok(""));
  EXPECT_FALSE(ok(R"({"ImageLayoutVersion":"1.0.0"})"));
  EXPECT_FALSE(
      ok(R"({"imageLayoutVersion":"1.0.0","imageLayoutVersion":"2.0.0"})"));
  EXPECT_EQ(ParseImageLayoutFile(base::AsBytes("{")).code(),
            IoError::kMalformed);
}

}  // namespace
}  // namespace trustgate::io
