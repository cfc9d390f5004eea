#include "io/mirror.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/io/test_support.h"

namespace trustgate::io {
namespace {

using testing::TempDir;
using testing::WriteFile;

constexpr std::string_view kLayout = R"({"imageLayoutVersion":"1.0.0"})";

void MakeLayout(const std::filesystem::path& dir) {
  WriteFile(dir / "oci-layout", kLayout);
  WriteFile(dir / "index.json", R"({"schemaVersion":2,"manifests":[]})");
  std::filesystem::create_directories(dir / "blobs" / "sha256");
}

std::vector<std::string> Uris(const Discovery& d) {
  std::vector<std::string> out;
  for (const Repository& r : d.repositories) {
    out.push_back(r.uri);
  }
  return out;
}

bool HasWarningFor(const Discovery& d, const std::filesystem::path& path) {
  for (const DiscoveryWarning& w : d.warnings) {
    if (w.path == path.string()) {
      return true;
    }
  }
  return false;
}

class MirrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() / "mirror";
    outside_ = tmp_.path() / "outside";
    std::filesystem::create_directories(root_);
    MakeLayout(root_ / "registry.example.com" / "payments" / "api");
    MakeLayout(root_ / "a");
    MakeLayout(root_ / "a" / "b");  // zot nests repositories
    MakeLayout(root_ / "a" / "b" / "c");
    MakeLayout(root_ / "zz" / "deep" / "er");
    // Inside a layout's blobs/: never a repository.
    MakeLayout(root_ / "a" / "blobs" / "sha256" / "fake");
    // Outside the root, reachable only through a symlinked directory.
    MakeLayout(outside_ / "evil");
    std::filesystem::create_symlink(outside_, root_ / "link");
    std::filesystem::create_symlink(outside_ / "evil", root_ / "a" / "evil");
    // A plain directory without layout and a stray file.
    std::filesystem::create_directories(root_ / "empty" / "dir");
    WriteFile(root_ / "README", "not a layout");
  }

  TempDir tmp_;
  std::filesystem::path root_;
  std::filesystem::path outside_;
};

TEST_F(MirrorTest, FindsNestedRepositoriesSorted) {
  auto d = DiscoverRepositories(root_, "");
  ASSERT_TRUE(d.ok()) << d.detail();
  EXPECT_EQ(Uris(*d), (std::vector<std::string>{
                          "a", "a/b", "a/b/c",
                          "registry.example.com/payments/api", "zz/deep/er"}));
  for (const Repository& r : d->repositories) {
    EXPECT_TRUE(r.dir_fd.valid()) << r.uri;
    EXPECT_FALSE(r.layout_error.has_value()) << r.uri;
    EXPECT_EQ(r.path, root_ / r.uri);
  }
}

TEST_F(MirrorTest, SkipsSymlinkedDirectoriesWithWarning) {
  auto d = DiscoverRepositories(root_, "");
  ASSERT_TRUE(d.ok());
  for (const Repository& r : d->repositories) {
    EXPECT_EQ(r.uri.find("evil"), std::string::npos);
  }
  EXPECT_TRUE(HasWarningFor(*d, root_ / "link"));
  EXPECT_TRUE(HasWarningFor(*d, root_ / "a" / "evil"));
}

TEST_F(MirrorTest, HostPrefix) {
  auto d = DiscoverRepositories(root_, "registry.local:5000/");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->repositories.size(), 5u);
  EXPECT_EQ(d->repositories[0].uri, "registry.local:5000/a");
  EXPECT_EQ(d->repositories[3].uri,
            "registry.local:5000/registry.example.com/payments/api");
}

TEST_F(MirrorTest, RootItselfIsALayout) {
  auto d = DiscoverRepositories(
      root_ / "registry.example.com" / "payments" / "api/", "");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->repositories.size(), 1u);
  EXPECT_EQ(d->repositories[0].uri, "api");
  auto hosted = DiscoverRepositories(root_ / "a", "host");
  ASSERT_TRUE(hosted.ok());
  EXPECT_EQ(Uris(*hosted),
            (std::vector<std::string>{"host/a", "host/b", "host/b/c"}));
}

TEST_F(MirrorTest, BadOciLayoutIsKeptAndFlagged) {
  const auto bad = root_ / "bad";
  MakeLayout(bad);
  WriteFile(bad / "oci-layout", R"({"imageLayoutVersion":"2.0.0"})");
  const auto dup = root_ / "dup";
  MakeLayout(dup);
  WriteFile(dup / "oci-layout",
            R"({"imageLayoutVersion":"1.0.0","imageLayoutVersion":"1.0.0"})");
  const auto linked = root_ / "linked";
  MakeLayout(linked);
  std::filesystem::remove(linked / "oci-layout");
  WriteFile(tmp_.path() / "layout-file", kLayout);
  std::filesystem::create_symlink(tmp_.path() / "layout-file",
                                  linked / "oci-layout");
  const auto dir = root_ / "dirlayout";
  std::filesystem::create_directories(dir / "oci-layout");

  auto d = DiscoverRepositories(root_, "");
  ASSERT_TRUE(d.ok());
  std::map<std::string, IoError> errors;
  for (const Repository& r : d->repositories) {
    if (r.layout_error.has_value()) {
      errors[r.uri] = r.layout_error->code;
    }
  }
  EXPECT_EQ(errors.size(), 4u);
  EXPECT_EQ(errors["bad"], IoError::kMalformed);
  EXPECT_EQ(errors["dup"], IoError::kMalformed);
  EXPECT_EQ(errors["linked"], IoError::kSymlink);
  EXPECT_EQ(errors["dirlayout"], IoError::kNotRegularFile);
  EXPECT_TRUE(HasWarningFor(*d, bad));
}

TEST_F(MirrorTest, DepthIsBounded) {
  std::filesystem::path p = root_ / "deep";
  for (size_t i = 0; i < kMaxDiscoveryDepth + 2; ++i) {
    p /= "d";
  }
  MakeLayout(p);
  auto d = DiscoverRepositories(root_, "");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->repositories.size(), 5u);  // the deep one is not reached
  bool warned = false;
  for (const DiscoveryWarning& w : d->warnings) {
    warned |= w.message.find("levels") != std::string::npos;
  }
  EXPECT_TRUE(warned);
}

TEST_F(MirrorTest, RootErrors) {
  auto missing = DiscoverRepositories(tmp_.path() / "nope", "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), IoError::kNotFound);
  auto file = DiscoverRepositories(root_ / "README", "");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.code(), IoError::kNotRegularFile);
}

TEST_F(MirrorTest, RootMayBeASymlinkTheOperatorChose) {
  std::filesystem::create_symlink(root_, tmp_.path() / "root-link");
  auto d = DiscoverRepositories(tmp_.path() / "root-link", "");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->repositories.size(), 5u);
}

TEST_F(MirrorTest, OpenRepository) {
  auto ok = OpenRepository(root_ / "a", "custom/uri");
  ASSERT_TRUE(ok.ok()) << ok.detail();
  EXPECT_EQ(ok->uri, "custom/uri");
  EXPECT_TRUE(ok->dir_fd.valid());
  EXPECT_FALSE(ok->layout_error.has_value());

  std::filesystem::create_symlink(root_ / "a", tmp_.path() / "a-link");
  auto link = OpenRepository(tmp_.path() / "a-link", "x");
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.code(), IoError::kSymlink);

  auto missing = OpenRepository(tmp_.path() / "nope", "x");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), IoError::kNotFound);

  auto no_layout = OpenRepository(root_ / "empty", "x");
  ASSERT_TRUE(no_layout.ok());
  ASSERT_TRUE(no_layout->layout_error.has_value());
  EXPECT_EQ(no_layout->layout_error->code, IoError::kNotFound);
}

TEST(MirrorSharedTest, DiscoversTheNotationE2eLayouts) {
  const auto layouts =
      testing::SharedDir() / "interop" / "notation-e2e" / "layouts";
  if (!std::filesystem::exists(layouts)) {
    GTEST_SKIP() << "shared interop pack not present at " << layouts;
  }
  auto d = DiscoverRepositories(layouts, "localhost:5000");
  ASSERT_TRUE(d.ok()) << d.detail();
  EXPECT_EQ(Uris(*d),
            (std::vector<std::string>{
                "localhost:5000/e2e", "localhost:5000/e2e-expired-signature",
                "localhost:5000/e2e-invalid-signature",
                "localhost:5000/e2e-valid-multiple-signatures",
                "localhost:5000/e2e-valid-signature",
                "localhost:5000/e2e-with-expired-cert",
                "localhost:5000/e2e-with-invalid-timestamped-"
                "signature",
                "localhost:5000/e2e-with-timestamped-signature"}));
  for (const Repository& r : d->repositories) {
    EXPECT_FALSE(r.layout_error.has_value()) << r.uri;
  }
  EXPECT_TRUE(d->warnings.empty());
}

}  // namespace
}  // namespace trustgate::io
