#include "base/file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "base/unique_fd.h"

namespace trustgate::base {
namespace {

namespace fs = std::filesystem;

class ReadBoundedRegularFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (fs::temp_directory_path() / "tg-file-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, size_t size) {
    std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << std::string(size, 'x');
    return p;
  }

  fs::path dir_;
};

TEST_F(ReadBoundedRegularFileTest, ReadsUpToTheBound) {
  std::string p = Write("ok", 100);
  auto r = ReadBoundedRegularFile(p, 100, "file", Symlinks::kRefuse);
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(r->size(), 100u);
}

TEST_F(ReadBoundedRegularFileTest, ReadsMoreThanOneChunk) {
  std::string p = Write("big", 200 * 1024 + 7);
  auto r = ReadBoundedRegularFile(p, 1024 * 1024, "file", Symlinks::kRefuse);
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(r->size(), 200u * 1024 + 7);
}

TEST_F(ReadBoundedRegularFileTest, OneByteOverTheBoundIsTooLarge) {
  std::string p = Write("big", 101);
  auto r = ReadBoundedRegularFile(p, 100, "file", Symlinks::kRefuse);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), FileError::kTooLarge);
}

TEST_F(ReadBoundedRegularFileTest, MissingIsNotFound) {
  auto r = ReadBoundedRegularFile((dir_ / "none").string(), 100, "file",
                                  Symlinks::kRefuse);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), FileError::kNotFound);
  auto missing_dir = ReadBoundedRegularFile((dir_ / "none" / "f").string(), 100,
                                            "file", Symlinks::kFollow);
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_EQ(missing_dir.code(), FileError::kNotFound);
}

TEST_F(ReadBoundedRegularFileTest, SymlinkRefusedOrFollowed) {
  std::string target = Write("target", 10);
  fs::create_symlink(target, dir_ / "link");
  std::string link = (dir_ / "link").string();
  auto refused = ReadBoundedRegularFile(link, 100, "file", Symlinks::kRefuse);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), FileError::kSymlink);
  auto followed = ReadBoundedRegularFile(link, 100, "file", Symlinks::kFollow);
  ASSERT_TRUE(followed.ok()) << followed.detail();
  EXPECT_EQ(followed->size(), 10u);
  // A dangling symlink is still a symlink when refused.
  fs::create_symlink(dir_ / "none", dir_ / "dangling");
  auto dangling = ReadBoundedRegularFile((dir_ / "dangling").string(), 100,
                                         "file", Symlinks::kRefuse);
  ASSERT_FALSE(dangling.ok());
  EXPECT_EQ(dangling.code(), FileError::kSymlink);
}

TEST_F(ReadBoundedRegularFileTest, DirectoryAndFifoAreNotRegular) {
  auto dir =
      ReadBoundedRegularFile(dir_.string(), 100, "file", Symlinks::kRefuse);
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.code(), FileError::kNotRegular);
  // A FIFO with no writer would block an open without O_NONBLOCK and a
  // read: it must be refused before either.
  std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto r = ReadBoundedRegularFile(fifo, 100, "file", Symlinks::kFollow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), FileError::kNotRegular);
}

TEST_F(ReadBoundedRegularFileTest, AtVariantRefusesSymlinks) {
  Write("target", 10);
  fs::create_symlink("target", dir_ / "link");
  UniqueFd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir.valid());
  auto ok = ReadBoundedRegularFileAt(dir.get(), "target", 10, "target");
  ASSERT_TRUE(ok.ok()) << ok.detail();
  EXPECT_EQ(ok->size(), 10u);
  auto link = ReadBoundedRegularFileAt(dir.get(), "link", 10, "link");
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.code(), FileError::kSymlink);
  auto big = ReadBoundedRegularFileAt(dir.get(), "target", 9, "target");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.code(), FileError::kTooLarge);
}

TEST_F(ReadBoundedRegularFileTest, UnreadableWithoutPermission) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root: permissions are not enforced";
  }
  std::string p = Write("secret", 10);
  ASSERT_EQ(::chmod(p.c_str(), 0), 0);
  auto r = ReadBoundedRegularFile(p, 100, "file", Symlinks::kRefuse);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), FileError::kUnreadable);
}

}  // namespace
}  // namespace trustgate::base
