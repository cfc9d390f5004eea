#include "io/referrers.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/io/test_support.h"

namespace trustgate::io {
namespace {

using nlohmann::json;
using testing::kOciIndex;
using testing::kOciManifest;
using testing::LayoutBuilder;
using testing::TempDir;
using testing::WriteFile;

constexpr std::string_view kSubjectV1 =
    "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";

std::vector<std::string> SignatureDigests(const RepositoryGraph& g,
                                          std::string_view subject) {
  std::vector<std::string> out;
  auto it = g.signatures_by_subject.find(std::string(subject));
  if (it == g.signatures_by_subject.end()) {
    return out;
  }
  for (const SignatureNode& s : it->second) {
    out.push_back(s.load.descriptor.digest.ToString());
  }
  return out;
}

// ---------------------------------------------------------------------------
// The eight layouts Notation's own e2e suite verifies (read in place).

struct SharedCase {
  const char* layout;
  const char* artifact;  // digest prefix of the single artifact
  size_t artifact_size;
  std::vector<std::string> signatures;  // digest prefixes, in order
};

class SharedLayoutTest : public ::testing::TestWithParam<SharedCase> {};

TEST_P(SharedLayoutTest, MatchesNotationsView) {
  const SharedCase& c = GetParam();
  const auto dir =
      testing::SharedDir() / "interop" / "notation-e2e" / "layouts" / c.layout;
  if (!std::filesystem::exists(dir)) {
    GTEST_SKIP() << "shared interop pack not present at " << dir;
  }
  auto repo = OpenRepository(dir, c.layout);
  ASSERT_TRUE(repo.ok()) << repo.detail();
  ASSERT_FALSE(repo->layout_error.has_value());
  auto reader = NewPreadReader();
  auto graph = LoadRepositoryGraph(*repo, *reader);
  ASSERT_TRUE(graph.ok()) << graph.detail();
  for (const std::string& w : graph->warnings) {
    ADD_FAILURE() << "unexpected warning: " << w;
  }

  // Exactly one artifact: the signed image, tagged v1. Signature manifests
  // and the sha256-<hex> referrers tag index are not artifacts.
  ASSERT_EQ(graph->artifacts.size(), 1u);
  const ArtifactNode& artifact = graph->artifacts[0];
  const std::string digest = artifact.load.descriptor.digest.ToString();
  EXPECT_TRUE(digest.starts_with(c.artifact)) << digest;
  EXPECT_EQ(artifact.load.descriptor.size,
            static_cast<int64_t>(c.artifact_size));
  EXPECT_EQ(artifact.tags, std::vector<std::string>{"v1"});
  ASSERT_FALSE(artifact.load.error.has_value()) << artifact.load.error->detail;
  ASSERT_TRUE(artifact.load.manifest.has_value());
  EXPECT_EQ(artifact.load.manifest->kind, ManifestKind::kImageManifest);
  EXPECT_TRUE(artifact.children.empty());

  const std::vector<std::string> sigs = SignatureDigests(*graph, digest);
  ASSERT_EQ(sigs.size(), c.signatures.size());
  for (size_t i = 0; i < sigs.size(); ++i) {
    EXPECT_TRUE(sigs[i].starts_with(c.signatures[i])) << sigs[i];
  }
  // Nothing else is indexed under any other subject.
  EXPECT_EQ(graph->signatures_by_subject.size(), sigs.empty() ? 0u : 1u);
  for (const auto& [subject, list] : graph->signatures_by_subject) {
    for (const SignatureNode& s : list) {
      ASSERT_TRUE(s.load.manifest.has_value());
      EXPECT_FALSE(s.load.error.has_value());
      EXPECT_TRUE(s.load.manifest->IsNotarySignature());
      EXPECT_EQ(s.load.manifest->subject->digest.ToString(), subject);
      EXPECT_EQ(s.load.descriptor.media_type, kOciManifest);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    NotationE2e, SharedLayoutTest,
    ::testing::Values(
        SharedCase{"e2e", "sha256:b8479de3", 517, {}},
        SharedCase{
            "e2e-valid-signature", "sha256:b8479de3", 517, {"sha256:90ceaff2"}},
        // The second signature is found only through its subject field: the
        // referrers tag index lists just the first.
        SharedCase{"e2e-valid-multiple-signatures",
                   "sha256:b8479de3",
                   517,
                   {"sha256:90ceaff2", "sha256:c3ebe4a2"}},
        // Its layer is not an envelope, but it is a signature manifest (by
        // config.mediaType); the engine fails its integrity.
        SharedCase{"e2e-invalid-signature",
                   "sha256:b8479de3",
                   517,
                   {"sha256:321fcc67"}},
        SharedCase{"e2e-expired-signature",
                   "sha256:b8479de3",
                   517,
                   {"sha256:3829708b"}},
        SharedCase{"e2e-with-expired-cert",
                   "sha256:b8479de3",
                   517,
                   {"sha256:b06e392c"}},
        SharedCase{"e2e-with-timestamped-signature",
                   "sha256:53b01912",
                   582,
                   {"sha256:6a5cd3a8"}},
        SharedCase{"e2e-with-invalid-timestamped-signature",
                   "sha256:f1da8cd7",
                   582,
                   {"sha256:eee3eec7"}}),
    [](const auto& param_info) {
      std::string name = param_info.param.layout;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

TEST(SharedLayoutExactTest, MultipleSignaturesSubject) {
  const auto dir = testing::SharedDir() / "interop" / "notation-e2e" /
                   "layouts" / "e2e-valid-multiple-signatures";
  if (!std::filesystem::exists(dir)) {
    GTEST_SKIP() << "shared interop pack not present";
  }
  auto repo = OpenRepository(dir, "local/e2e");
  ASSERT_TRUE(repo.ok());
  auto reader = NewPreadReader();
  auto graph = LoadRepositoryGraph(*repo, *reader);
  ASSERT_TRUE(graph.ok());
  EXPECT_EQ(SignatureDigests(*graph, kSubjectV1).size(), 2u);
}

// ---------------------------------------------------------------------------
// Hostile and unusual layouts built on the spot.

class GraphTest : public ::testing::Test {
 protected:
  GraphTest() : layout_(tmp_.path() / "repo") {}

  RepositoryGraph Load(const GraphLimits& limits = {}) {
    auto graph = TryLoad(limits);
    EXPECT_TRUE(graph.ok()) << graph.detail();
    return graph.ok() ? std::move(graph).value() : RepositoryGraph{};
  }

  base::Result<RepositoryGraph, IoError> TryLoad(
      const GraphLimits& limits = {}) {
    auto repo = OpenRepository(layout_.dir(), "repo");
    EXPECT_TRUE(repo.ok());
    repo_ = std::move(repo).value();
    return LoadRepositoryGraph(repo_, *reader_, limits);
  }

  static bool HasWarning(const RepositoryGraph& g, std::string_view needle) {
    for (const std::string& w : g.warnings) {
      if (w.find(needle) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  TempDir tmp_;
  LayoutBuilder layout_;
  Repository repo_;
  std::unique_ptr<Reader> reader_ = NewPreadReader();
};

TEST_F(GraphTest, IndexJsonFailuresFailTheCall) {
  auto missing = TryLoad();
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), IoError::kNotFound);

  WriteFile(layout_.dir() / "index.json", "{not json");
  auto malformed = TryLoad();
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.code(), IoError::kMalformed);

  WriteFile(
      layout_.dir() / "index.json",
      R"({"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:AB","size":1}]})");
  auto bad_digest = TryLoad();
  ASSERT_FALSE(bad_digest.ok());
  EXPECT_EQ(bad_digest.code(), IoError::kBadDigest);

  WriteFile(layout_.dir() / "index.json",
            std::string(kManifestMaxBytes + 1, ' '));
  auto too_large = TryLoad();
  ASSERT_FALSE(too_large.ok());
  EXPECT_EQ(too_large.code(), IoError::kTooLarge);

  std::filesystem::remove(layout_.dir() / "index.json");
  WriteFile(tmp_.path() / "elsewhere.json",
            R"({"schemaVersion":2,"manifests":[]})");
  std::filesystem::create_symlink(tmp_.path() / "elsewhere.json",
                                  layout_.dir() / "index.json");
  auto symlink = TryLoad();
  ASSERT_FALSE(symlink.ok());
  EXPECT_EQ(symlink.code(), IoError::kSymlink);
}

TEST_F(GraphTest, EmptyIndex) {
  layout_.WriteIndex(json::array());
  RepositoryGraph g = Load();
  EXPECT_TRUE(g.artifacts.empty());
  EXPECT_TRUE(g.signatures_by_subject.empty());
}

TEST_F(GraphTest, MissingManifestIsRecordedOnTheArtifact) {
  json image = layout_.AddJson(layout_.Image("a"), kOciManifest);
  json ghost = image;
  ghost["digest"] = "sha256:" + std::string(64, 'e');
  layout_.WriteIndex(json::array({LayoutBuilder::Tagged(image, "v1"),
                                  LayoutBuilder::Tagged(ghost, "v2")}));
  RepositoryGraph g = Load();
  ASSERT_EQ(g.artifacts.size(), 2u);
  EXPECT_TRUE(g.artifacts[0].load.manifest.has_value());
  EXPECT_FALSE(g.artifacts[1].load.manifest.has_value());
  ASSERT_TRUE(g.artifacts[1].load.error.has_value());
  EXPECT_EQ(g.artifacts[1].load.error->code, IoError::kNotFound);
  EXPECT_EQ(g.artifacts[1].tags, std::vector<std::string>{"v2"});
}

TEST_F(GraphTest, TamperedManifestIsDigestMismatch) {
  json doc = layout_.Image("a");
  json image = layout_.AddJson(doc, kOciManifest);
  // Same length, different bytes.
  std::string text = doc.dump();
  text[text.find("\"layers\"") + 1] = 'L';
  WriteFile(layout_.BlobFile(image["digest"].get<std::string>()), text);
  layout_.WriteIndex(json::array({image}));
  RepositoryGraph g = Load();
  ASSERT_EQ(g.artifacts.size(), 1u);
  ASSERT_TRUE(g.artifacts[0].load.error.has_value());
  EXPECT_EQ(g.artifacts[0].load.error->code, IoError::kDigestMismatch);
}

TEST_F(GraphTest, TruncatedOrMisdescribedManifestIsSizeMismatch) {
  json doc = layout_.Image("a");
  json truncated = layout_.AddJson(doc, kOciManifest);
  std::string text = doc.dump();
  WriteFile(layout_.BlobFile(truncated["digest"].get<std::string>()),
            text.substr(0, text.size() - 3));
  json misdescribed = layout_.AddJson(layout_.Image("b"), kOciManifest);
  misdescribed["size"] = misdescribed["size"].get<int64_t>() + 1;
  json too_big = misdescribed;
  too_big["size"] = kManifestMaxBytes + 1;
  layout_.WriteIndex(json::array({truncated, misdescribed}));
  RepositoryGraph g = Load();
  ASSERT_EQ(g.artifacts.size(), 2u);
  EXPECT_EQ(g.artifacts[0].load.error->code, IoError::kSizeMismatch);
  EXPECT_EQ(g.artifacts[1].load.error->code, IoError::kSizeMismatch);

  layout_.WriteIndex(json::array({too_big}));
  RepositoryGraph big = Load();
  ASSERT_EQ(big.artifacts.size(), 1u);
  EXPECT_EQ(big.artifacts[0].load.error->code, IoError::kTooLarge);
}

TEST_F(GraphTest, MalformedManifestAndUnknownMediaType) {
  json broken = layout_.AddBlob(R"({"schemaVersion":2})", kOciManifest);
  json wrong_kind = layout_.AddJson(layout_.Image("x"), kOciIndex);
  json blob =
      layout_.AddBlob("layer", "application/vnd.oci.image.layer.v1.tar");
  layout_.WriteIndex(json::array({broken, wrong_kind, blob}));
  RepositoryGraph g = Load();
  ASSERT_EQ(g.artifacts.size(), 3u);
  for (const ArtifactNode& a : g.artifacts) {
    ASSERT_TRUE(a.load.error.has_value());
    EXPECT_EQ(a.load.error->code, IoError::kMalformed);
  }
}

TEST_F(GraphTest, ReferrersTagIndexIsNotAnArtifactButIsIndexed) {
  json image = layout_.AddJson(layout_.Image("a"), kOciManifest);
  json sig = layout_.AddJson(layout_.Signature(image, "1"), kOciManifest);
  json tag_index =
      layout_.AddJson(LayoutBuilder::Index(json::array({sig})), kOciIndex);
  const std::string hex = image["digest"].get<std::string>().substr(7);
  // The signature manifest is listed only in the tag index.
  layout_.WriteIndex(
      json::array({LayoutBuilder::Tagged(image, "v1"),
                   LayoutBuilder::Tagged(tag_index, "sha256-" + hex)}));
  RepositoryGraph g = Load();
  ASSERT_EQ(g.artifacts.size(), 1u);
  EXPECT_EQ(g.artifacts[0].tags, std::vector<std::string>{"v1"});
  EXPECT_EQ(SignatureDigests(g, image["digest"].get<std::string>()),
            std::vector<std::string>{sig["digest"].get<std::string>()});
}

TEST_F(GraphTest, ReferrersTagOnAManifestOrWithAnotherTagIsAnArtifact) {
  json image = layout_.AddJson(layout_.Image("a"), kOciManifest);
  json index =
      layout_.AddJson(LayoutBuilder::Index(json::array({image})), kOciIndex);
  const std::string tag = "sha256-" + std::string(64, 'c');
  layout_.WriteIndex(json::array({LayoutBuilder::Tagged(image, tag),
                                  LayoutBuilder::Tagged(index, tag),
                                  LayoutBuilder::Tagged(index, "release")}));
  RepositoryGraph g = Load();
  ASSERT_EQ(g.artifacts.size(), 2u);
  EXPECT_EQ(g.artifacts[0].tags, std::vector<std::string>{tag});
  EXPECT_EQ(g.artifacts[1].tags, (std::vector<std::string>{tag, "release"}));
}

TEST_F(GraphTest, DuplicateEntriesMergeTags) {
  json image = layout_.AddJson(layout_.Image("a"), kOciManifest);
  layout_.WriteIndex(json::array({LayoutBuilder::Tagged(image, "v1"), image,
                                  LayoutBuilder::Tagged(image, "latest"),
                                  LayoutBuilder::Tagged(image, "v1")}));
  RepositoryGraph g = Load();
  ASSERT_EQ(g.artifacts.size(), 1u);
  EXPECT_EQ(g.artifacts[0].tags, (std::vector<std::string>{"v1", "latest"}));
}

TEST_F(GraphTest, IndexArtifactRecordsChildrenWithTheirLoads) {
  json amd64 = layout_.AddJson(layout_.Image("amd64"), kOciManifest);
  json arm64 = layout_.AddJson(layout_.Image("arm64"), kOciManifest);
  json missing = amd64;
  missing["digest"] = "sha256:" + std::string(64, 'f');
  json nested_child = layout_.AddJson(layout_.Image("nested"), kOciManifest);
  json nested = layout_.AddJson(
      LayoutBuilder::Index(json::array({nested_child, amd64})), kOciIndex);
  json odd = layout_.AddBlob("x", "application/vnd.example.thing");
  json index = layout_.AddJson(
      LayoutBuilder::Index(json::array({amd64, arm64, missing, nested, odd})),
      kOciIndex);
  layout_.WriteIndex(json::array({LayoutBuilder::Tagged(index, "multi")}));
  RepositoryGraph g = Load();
  ASSERT_EQ(g.artifacts.size(), 1u);
  const auto& children = g.artifacts[0].children;
  // amd64, arm64, missing, nested, nested_child (amd64 once).
  ASSERT_EQ(children.size(), 5u);
  EXPECT_EQ(children[0].descriptor.digest.ToString(), amd64["digest"]);
  EXPECT_TRUE(children[0].manifest.has_value());
  EXPECT_TRUE(children[1].manifest.has_value());
  ASSERT_TRUE(children[2].error.has_value());
  EXPECT_EQ(children[2].error->code, IoError::kNotFound);
  EXPECT_EQ(children[3].manifest->kind, ManifestKind::kImageIndex);
  EXPECT_EQ(children[4].descriptor.digest.ToString(), nested_child["digest"]);
  EXPECT_TRUE(HasWarning(g, "application/vnd.example.thing"));
}

TEST_F(GraphTest, SharedChildIsRecordedForEveryIndexArtifact) {
  json image = layout_.AddJson(layout_.Image("shared"), kOciManifest);
  json index_a =
      layout_.AddJson(LayoutBuilder::Index(json::array({image})), kOciIndex);
  json other = LayoutBuilder::Index(json::array({image}));
  other["annotations"] = {{"x", "y"}};
  json index_b = layout_.AddJson(other, kOciIndex);
  layout_.WriteIndex(json::array({index_a, index_b}));
  RepositoryGraph g = Load();
  ASSERT_EQ(g.artifacts.size(), 2u);
  EXPECT_EQ(g.artifacts[0].children.size(), 1u);
  EXPECT_EQ(g.artifacts[1].children.size(), 1u);
}

TEST_F(GraphTest, SignatureFoundThroughArtifactIndexChild) {
  json image = layout_.AddJson(layout_.Image("a"), kOciManifest);
  json sig = layout_.AddJson(layout_.Signature(image, "1"), kOciManifest);
  json bundle =
      layout_.AddJson(LayoutBuilder::Index(json::array({sig})), kOciIndex);
  layout_.WriteIndex(json::array({image, LayoutBuilder::Tagged(bundle, "b")}));
  RepositoryGraph g = Load();
  ASSERT_EQ(g.artifacts.size(), 2u);
  EXPECT_EQ(SignatureDigests(g, image["digest"].get<std::string>()).size(), 1u);
}

TEST_F(GraphTest, IndexCycleAttemptTerminates) {
  // A real cycle would need a document containing its own hash; editing
  // index B to point back at A therefore breaks B's digest. The walk must
  // terminate and report it on A's children.
  json leaf = layout_.AddJson(layout_.Image("leaf"), kOciManifest);
  json b_doc = LayoutBuilder::Index(json::array({leaf}));
  json b = layout_.AddJson(b_doc, kOciIndex);
  json a = layout_.AddJson(LayoutBuilder::Index(json::array({b})), kOciIndex);
  b_doc["manifests"].push_back(a);
  WriteFile(layout_.BlobFile(b["digest"].get<std::string>()), b_doc.dump());
  layout_.WriteIndex(json::array({a, b}));
  RepositoryGraph g = Load();
  ASSERT_EQ(g.artifacts.size(), 2u);
  ASSERT_EQ(g.artifacts[0].children.size(), 1u);
  EXPECT_EQ(g.artifacts[0].children[0].error->code, IoError::kSizeMismatch);
  EXPECT_EQ(g.artifacts[1].load.error->code, IoError::kSizeMismatch);
}

TEST_F(GraphTest, NestingDepthIsBounded) {
  json node = layout_.AddJson(layout_.Image("bottom"), kOciManifest);
  for (int i = 0; i < 4; ++i) {
    node =
        layout_.AddJson(LayoutBuilder::Index(json::array({node})), kOciIndex);
  }
  layout_.WriteIndex(json::array({node}));
  // Four nested indexes above the image: depth 4 is needed.
  RepositoryGraph ok = Load(GraphLimits{.max_index_depth = 4});
  ASSERT_EQ(ok.artifacts.size(), 1u);
  ASSERT_EQ(ok.artifacts[0].children.size(), 4u);
  for (const ManifestLoad& child : ok.artifacts[0].children) {
    EXPECT_FALSE(child.error.has_value());
  }
  EXPECT_TRUE(ok.warnings.empty());

  RepositoryGraph cut = Load(GraphLimits{.max_index_depth = 2});
  ASSERT_EQ(cut.artifacts.size(), 1u);
  const auto& children = cut.artifacts[0].children;
  ASSERT_EQ(children.size(), 3u);
  EXPECT_FALSE(children[0].error.has_value());
  EXPECT_FALSE(children[1].error.has_value());
  ASSERT_TRUE(children[2].error.has_value());
  EXPECT_EQ(children[2].error->code, IoError::kLimitExceeded);
  EXPECT_TRUE(HasWarning(cut, "deeper"));
}

TEST_F(GraphTest, ChildrenPerIndexAreBounded) {
  json list = json::array();
  for (int i = 0; i < 5; ++i) {
    list.push_back(
        layout_.AddJson(layout_.Image("c" + std::to_string(i)), kOciManifest));
  }
  json index = layout_.AddJson(LayoutBuilder::Index(list), kOciIndex);
  layout_.WriteIndex(json::array({index}));
  RepositoryGraph g = Load(GraphLimits{.max_children = 3});
  ASSERT_EQ(g.artifacts.size(), 1u);
  const auto& children = g.artifacts[0].children;
  ASSERT_EQ(children.size(), 4u);  // the marker first, then three children
  size_t limited = 0;
  for (const ManifestLoad& c : children) {
    limited += c.error.has_value() && c.error->code == IoError::kLimitExceeded;
  }
  EXPECT_EQ(limited, 1u);
  EXPECT_FALSE(g.warnings.empty());
}

TEST_F(GraphTest, ManifestReadsAreBounded) {
  json list = json::array();
  for (int i = 0; i < 4; ++i) {
    list.push_back(
        layout_.AddJson(layout_.Image("m" + std::to_string(i)), kOciManifest));
  }
  layout_.WriteIndex(list);
  RepositoryGraph g = Load(GraphLimits{.max_manifests = 2});
  ASSERT_EQ(g.artifacts.size(), 4u);
  EXPECT_TRUE(g.artifacts[0].load.manifest.has_value());
  EXPECT_TRUE(g.artifacts[1].load.manifest.has_value());
  EXPECT_EQ(g.artifacts[2].load.error->code, IoError::kLimitExceeded);
  EXPECT_EQ(g.artifacts[3].load.error->code, IoError::kLimitExceeded);
  EXPECT_TRUE(HasWarning(g, "not read"));
}

TEST_F(GraphTest, TenThousandSignaturesOnOneSubject) {
  json image = layout_.AddJson(layout_.Image("popular"), kOciManifest);
  json list = json::array({LayoutBuilder::Tagged(image, "v1")});
  std::vector<std::string> expected;
  // Every signature shares the config and envelope blob; only the manifest
  // differs (by an annotation).
  json sig_doc = layout_.Signature(image, "shared");
  for (int i = 0; i < 10000; ++i) {
    sig_doc["annotations"]["salt"] = std::to_string(i);
    json sig = layout_.AddJson(sig_doc, kOciManifest);
    expected.push_back(sig["digest"].get<std::string>());
    list.push_back(sig);
  }
  list.push_back(list[1]);  // a duplicate entry is listed once
  layout_.WriteIndex(list);
  RepositoryGraph g = Load();
  ASSERT_EQ(g.artifacts.size(), 1u);
  EXPECT_EQ(SignatureDigests(g, image["digest"].get<std::string>()), expected);
}

TEST_F(GraphTest, SignatureOnUnknownSubject) {
  json image = layout_.AddJson(layout_.Image("a"), kOciManifest);
  json elsewhere = image;
  elsewhere["digest"] = "sha256:" + std::string(64, 'd');
  json sig = layout_.AddJson(layout_.Signature(elsewhere, "1"), kOciManifest);
  layout_.WriteIndex(json::array({image, sig}));
  RepositoryGraph g = Load();
  ASSERT_EQ(g.artifacts.size(), 1u);  // the signature is not an artifact
  EXPECT_TRUE(SignatureDigests(g, image["digest"].get<std::string>()).empty());
  EXPECT_EQ(SignatureDigests(g, elsewhere["digest"].get<std::string>()).size(),
            1u);
  EXPECT_TRUE(HasWarning(g, "does not list"));
}

TEST_F(GraphTest, SubjectMustMatchTheArtifactDescriptorExactly) {
  json image = layout_.AddJson(layout_.Image("a"), kOciManifest);
  json wrong_size = image;
  wrong_size["size"] = image["size"].get<int64_t>() + 1;
  json wrong_type = image;
  wrong_type["mediaType"] =
      "application/vnd.docker.distribution.manifest.v2+json";
  json good = layout_.AddJson(layout_.Signature(image, "good"), kOciManifest);
  json bad1 = layout_.AddJson(layout_.Signature(wrong_size, "s"), kOciManifest);
  json bad2 = layout_.AddJson(layout_.Signature(wrong_type, "t"), kOciManifest);
  layout_.WriteIndex(json::array({image, bad1, good, bad2}));
  RepositoryGraph g = Load();
  EXPECT_EQ(SignatureDigests(g, image["digest"].get<std::string>()),
            std::vector<std::string>{good["digest"].get<std::string>()});
  EXPECT_TRUE(HasWarning(g, "Notation does not associate"));
}

TEST_F(GraphTest, SignatureNeedsOciManifestReferenceAndSubject) {
  json image = layout_.AddJson(layout_.Image("a"), kOciManifest);
  // Referenced with the Docker media type: Notation never sees it.
  json docker_doc = layout_.Signature(image, "docker");
  docker_doc.erase("mediaType");
  json docker = layout_.AddJson(docker_doc, kMediaTypeDockerManifest);
  // No subject: signs nothing.
  json orphan_doc = layout_.Signature(image, "orphan");
  orphan_doc.erase("subject");
  json orphan = layout_.AddJson(orphan_doc, kOciManifest);
  layout_.WriteIndex(json::array({image, docker, orphan}));
  RepositoryGraph g = Load();
  ASSERT_EQ(g.artifacts.size(), 1u);
  EXPECT_TRUE(g.signatures_by_subject.empty());
  EXPECT_TRUE(HasWarning(g, "no subject"));
  EXPECT_TRUE(HasWarning(g, "referenced with media type"));
}

TEST_F(GraphTest, SignatureOfASignatureIsFoundThroughSubjectEdges) {
  json image = layout_.AddJson(layout_.Image("a"), kOciManifest);
  json sig1 = layout_.AddJson(layout_.Signature(image, "1"), kOciManifest);
  json sig2 = layout_.AddJson(layout_.Signature(sig1, "2"), kOciManifest);
  // Only sig2 is listed; sig1 is reached through sig2's subject (oras-go
  // IndexAll follows subject edges).
  layout_.WriteIndex(json::array({image, sig2}));
  RepositoryGraph g = Load();
  ASSERT_EQ(g.artifacts.size(), 1u);
  EXPECT_EQ(SignatureDigests(g, image["digest"].get<std::string>()),
            std::vector<std::string>{sig1["digest"].get<std::string>()});
  EXPECT_EQ(SignatureDigests(g, sig1["digest"].get<std::string>()),
            std::vector<std::string>{sig2["digest"].get<std::string>()});
}

TEST_F(GraphTest, TamperedSignatureManifestIsNotASignature) {
  json image = layout_.AddJson(layout_.Image("a"), kOciManifest);
  json sig_doc = layout_.Signature(image, "1");
  json sig = layout_.AddJson(sig_doc, kOciManifest);
  sig["artifactType"] = kArtifactTypeNotarySignature;
  WriteFile(layout_.BlobFile(sig["digest"].get<std::string>()),
            sig_doc.dump() + " ");
  layout_.WriteIndex(json::array({image, sig}));
  RepositoryGraph g = Load();
  // The descriptor's artifactType says signature: not an artifact either.
  ASSERT_EQ(g.artifacts.size(), 1u);
  EXPECT_TRUE(g.signatures_by_subject.empty());
  EXPECT_TRUE(HasWarning(g, "size-mismatch"));
}

TEST_F(GraphTest, ManyWarningsAreCapped) {
  json list = json::array();
  json image = layout_.AddJson(layout_.Image("a"), kOciManifest);
  list.push_back(image);
  json ghost = image;
  for (int i = 0; i < 1500; ++i) {
    json sig = layout_.Signature(ghost, std::to_string(i));
    sig.erase("subject");
    list.push_back(layout_.AddJson(sig, kOciManifest));
  }
  layout_.WriteIndex(list);
  RepositoryGraph g = Load();
  EXPECT_LE(g.warnings.size(), 1001u);
  EXPECT_TRUE(HasWarning(g, "suppressed"));
}

}  // namespace
}  // namespace trustgate::io
