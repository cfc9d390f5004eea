#include "tools/mkmirror/util.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/mkmirror/temp_dir.h"

namespace trustgate::mkmirror {
namespace {

TEST(Util, DigestsOfKnownInputs) {
  // The OCI empty descriptor's digest (manifest.md).
  EXPECT_EQ(OciDigest(HashAlgorithm::kSha256, base::AsBytes("{}")),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61"
            "caaff8a");
  EXPECT_EQ(HexDigest(HashAlgorithm::kSha512, base::AsBytes("abc")),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(Util, Base64Variants) {
  const base::Bytes bytes = {0xfb, 0xff, 0xfe, 0x61};
  EXPECT_EQ(Base64Std(bytes), "+//+YQ==");
  EXPECT_EQ(Base64Url(bytes), "-__-YQ");
  EXPECT_EQ(Base64Std({}), "");
  EXPECT_EQ(Base64Url(base::AsBytes("{}")), "e30");
}

TEST(Util, WriteFileAndDirectories) {
  testing::TempDir dir;
  const auto sub = dir.path() / "a" / "b";
  ASSERT_TRUE(MakeDirectories(sub).ok());
  ASSERT_TRUE(WriteFile(sub / "f", base::AsBytes("hello")).ok());
  std::ifstream in(sub / "f", std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  EXPECT_EQ(s.str(), "hello");
  auto bad = WriteFile(dir.path() / "missing" / "f", base::AsBytes("x"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), MkError::kIo);
}

}  // namespace
}  // namespace trustgate::mkmirror
