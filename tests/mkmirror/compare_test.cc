#include "tools/mkmirror/compare.h"

#include <gtest/gtest.h>

#include "tests/mkmirror/temp_dir.h"

namespace trustgate::mkmirror {
namespace {

void Write(const std::filesystem::path& p, const std::string& text) {
  ASSERT_TRUE(WriteFile(p, base::AsBytes(text)).ok());
}

TEST(Compare, MatchesAndDifferences) {
  testing::TempDir dir;
  Write(
      dir.path() / "want",
      R"({"repository":"r","digest":"sha256:a","tag":"t1","case":"good","verdict":"verified","reason":"ok"}
{"repository":"r","digest":"sha256:b","verdict":"failed","reason":"integrity"}
{"repository":"r","digest":"sha256:c","verdict":"failed","reason":"unsigned"}
)");
  // Extra fields, other order, one mismatch, one absent, one unexpected.
  Write(
      dir.path() / "got",
      R"({"digest":"sha256:a","repository":"r","verdict":"verified","reason":"ok","signatures":[]}
{"repository":"r","digest":"sha256:b","verdict":"failed","reason":"authenticity"}
{"repository":"r","digest":"sha256:z","verdict":"verified","reason":"ok"}
)");
  auto c = CompareVerdicts(dir.path() / "want", dir.path() / "got");
  ASSERT_TRUE(c.ok()) << c.detail();
  EXPECT_EQ(c->expected, 3);
  EXPECT_EQ(c->matched, 1);
  EXPECT_EQ(c->differences.size(), 3u);

  auto same = CompareVerdicts(dir.path() / "want", dir.path() / "want");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->matched, 3);
  EXPECT_TRUE(same->differences.empty());
}

TEST(Compare, Errors) {
  testing::TempDir dir;
  Write(dir.path() / "bad", "{\"repository\":\"r\"}\n");
  Write(dir.path() / "notjson", "nope\n");
  auto missing = CompareVerdicts(dir.path() / "absent", dir.path() / "bad");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), MkError::kIo);
  auto bad = CompareVerdicts(dir.path() / "bad", dir.path() / "bad");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), MkError::kUsage);
  auto notjson =
      CompareVerdicts(dir.path() / "notjson", dir.path() / "notjson");
  ASSERT_FALSE(notjson.ok());
  EXPECT_EQ(notjson.code(), MkError::kUsage);
}

}  // namespace
}  // namespace trustgate::mkmirror
