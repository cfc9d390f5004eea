#include "io/error.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace trustgate::io {
namespace {

TEST(IoErrorTest, StableNames) {
  // These names reach the output format: they must never change.
  EXPECT_EQ(ToString(IoError::kNotFound), "not-found");
  EXPECT_EQ(ToString(IoError::kTooLarge), "too-large");
  EXPECT_EQ(ToString(IoError::kMalformed), "malformed");
  EXPECT_EQ(ToString(IoError::kReadError), "read-error");
  EXPECT_EQ(ToString(IoError::kSymlink), "symlink");
  EXPECT_EQ(ToString(IoError::kOutsideRoot), "outside-root");
  EXPECT_EQ(ToString(IoError::kBadDigest), "bad-digest");
  EXPECT_EQ(ToString(IoError::kDigestMismatch), "digest-mismatch");
  EXPECT_EQ(ToString(IoError::kSizeMismatch), "size-mismatch");
  EXPECT_EQ(ToString(IoError::kNotRegularFile), "not-regular-file");
  EXPECT_EQ(ToString(IoError::kCycle), "cycle");
  EXPECT_EQ(ToString(IoError::kLimitExceeded), "limit-exceeded");
}

TEST(IoErrorTest, StableValuesAndDistinctNames) {
  EXPECT_EQ(static_cast<int>(IoError::kNotFound), 1);
  EXPECT_EQ(static_cast<int>(IoError::kLimitExceeded), 12);
  std::set<std::string> names;
  for (int i = 1; i <= 12; ++i) {
    names.emplace(ToString(static_cast<IoError>(i)));
  }
  EXPECT_EQ(names.size(), 12u);
  EXPECT_EQ(names.count("unknown"), 0u);
}

}  // namespace
}  // namespace trustgate::io
