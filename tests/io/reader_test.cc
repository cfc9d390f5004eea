#include "io/reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/io/reader_fixture.h"
#include "tests/io/test_support.h"

namespace trustgate::io {
namespace {

using testing::RandomBytes;
using testing::ReaderFixture;
using testing::ReaderTest;
using testing::Sha256Of;
using testing::WriteFile;

// The Reader contract: every case runs against the pread reader (openat2
// and the component-walk fallback) and the io_uring reader in each of its
// configurations (skipped where io_uring cannot be set up).

TEST_P(ReaderTest, ReadsRegularFile) {
  WriteFile(root_ / "index.json", "hello");
  auto r = reader_->ReadFile(repo_, "index.json", 1024);
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(base::AsString(r->view()), "hello");
  // The padding after the content is zeroed (simdjson reads past the end).
  for (size_t i = 0; i < kBufferPadding; ++i) {
    ASSERT_EQ(r->data()[r->size() + i], 0);
  }
}

TEST_P(ReaderTest, ReadsNestedPath) {
  const Digest d = AddBlob("blob content");
  auto r = reader_->ReadFile(repo_, d.BlobPath(), 1024);
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(base::AsString(r->view()), "blob content");
}

TEST_P(ReaderTest, EmptyFile) {
  WriteFile(root_ / "empty", "");
  auto r = reader_->ReadFile(repo_, "empty", 1024);
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(r->size(), 0u);
}

TEST_P(ReaderTest, MissingFile) {
  EXPECT_EQ(ReadCode("index.json"), IoError::kNotFound);
  EXPECT_EQ(ReadCode("nodir/file"), IoError::kNotFound);
  // A regular file used as a directory.
  EXPECT_EQ(ReadCode("oci-layout/x"), IoError::kNotFound);
}

TEST_P(ReaderTest, SymlinkToFileInsideIsRefused) {
  WriteFile(root_ / "real", "x");
  std::filesystem::create_symlink("real", root_ / "link");
  EXPECT_EQ(ReadCode("link"), IoError::kSymlink);
}

TEST_P(ReaderTest, SymlinkToFileOutsideIsRefused) {
  WriteFile(outside_ / "secret", "secret");
  std::filesystem::create_symlink(outside_ / "secret", root_ / "abs-link");
  std::filesystem::create_symlink("../outside/secret", root_ / "rel-link");
  EXPECT_EQ(ReadCode("abs-link"), IoError::kSymlink);
  EXPECT_EQ(ReadCode("rel-link"), IoError::kSymlink);
}

TEST_P(ReaderTest, SymlinkedDirectoryComponentIsRefused) {
  // blobs/sha512 -> ../../outside: a blob path through it must not open.
  WriteFile(outside_ / std::string(128, 'a'), "x");
  std::filesystem::create_symlink(outside_, root_ / "blobs" / "sha512");
  auto d = Digest::Parse("sha512:" + std::string(128, 'a'));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(ReadCode(d->BlobPath()), IoError::kSymlink);
  auto blob = reader_->ReadBlob(repo_, *d, 1024);
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.code(), IoError::kSymlink);
  auto hashed = reader_->HashBlob(repo_, *d);
  ASSERT_FALSE(hashed.ok());
  EXPECT_EQ(hashed.code(), IoError::kSymlink);
}

TEST_P(ReaderTest, SymlinkedBlobsDirectoryIsRefused) {
  std::filesystem::rename(root_ / "blobs", tmp_.path() / "moved-blobs");
  std::filesystem::create_symlink(tmp_.path() / "moved-blobs", root_ / "blobs");
  WriteFile(tmp_.path() / "moved-blobs" / "sha256" / "f", "x");
  EXPECT_EQ(ReadCode("blobs/sha256/f"), IoError::kSymlink);
}

TEST_P(ReaderTest, PathTricksAreRefused) {
  WriteFile(outside_ / "secret", "secret");
  WriteFile(root_ / "a" / "b", "b");
  EXPECT_EQ(ReadCode("../outside/secret"), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode("a/../a/b"), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode("./a/b"), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode("a/./b"), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode("a//b"), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode("a/b/"), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode(".."), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode(""), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode((outside_ / "secret").string()), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode("/etc/passwd"), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode(std::string("a/b\0x", 5)), IoError::kOutsideRoot);
  // The plain path works.
  EXPECT_TRUE(reader_->ReadFile(repo_, "a/b", 10).ok());
}

TEST_P(ReaderTest, FifoIsRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0600), 0);
  // Opening a FIFO for reading would block without O_NONBLOCK.
  EXPECT_EQ(ReadCode("fifo"), IoError::kNotRegularFile);
}

TEST_P(ReaderTest, DirectoryIsRefused) {
  std::filesystem::create_directories(root_ / "dir");
  EXPECT_EQ(ReadCode("dir"), IoError::kNotRegularFile);
  EXPECT_EQ(ReadCode("blobs"), IoError::kNotRegularFile);
}

TEST_P(ReaderTest, TooLargeIsRefusedAndLimitIsInclusive) {
  WriteFile(root_ / "f", std::string(100, 'x'));
  EXPECT_EQ(ReadCode("f", 99), IoError::kTooLarge);
  auto r = reader_->ReadFile(repo_, "f", 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 100u);
}

TEST_P(ReaderTest, SparseHugeFileIsRefusedBeforeAllocating) {
  // 64 GiB apparent size: allocating it would abort the test.
  const int fd = ::open((root_ / "huge").c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, off_t{64} << 30), 0);
  ::close(fd);
  EXPECT_EQ(ReadCode("huge", kEnvelopeMaxBytes), IoError::kTooLarge);
}

TEST_P(ReaderTest, ReadBlobVerifiesDigest) {
  const Digest d = AddBlob("genuine");
  auto ok = reader_->ReadBlob(repo_, d, 1024);
  ASSERT_TRUE(ok.ok()) << ok.detail();
  EXPECT_EQ(base::AsString(ok->view()), "genuine");

  // Same size, different content.
  WriteFile(root_ / d.BlobPath(), "genuinf");
  auto tampered = reader_->ReadBlob(repo_, d, 1024);
  ASSERT_FALSE(tampered.ok());
  EXPECT_EQ(tampered.code(), IoError::kDigestMismatch);

  // Truncated.
  WriteFile(root_ / d.BlobPath(), "genu");
  auto truncated = reader_->ReadBlob(repo_, d, 1024);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.code(), IoError::kDigestMismatch);
}

TEST_P(ReaderTest, ReadBlobMissingAndTooLarge) {
  auto missing = reader_->ReadBlob(
      repo_, Digest::Parse("sha256:" + std::string(64, '0')).value(), 1024);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), IoError::kNotFound);
  const Digest d = AddBlob(std::string(2048, 'z'));
  auto big = reader_->ReadBlob(repo_, d, 1024);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.code(), IoError::kTooLarge);
}

TEST_P(ReaderTest, MultiChunkBlobSha256AndSha512) {
  // 9 MiB + 1 byte: many chunks (a ring's worth in flight for io_uring)
  // and a 1-byte tail.
  const std::string data = RandomBytes(9 * kHashChunkBytes + 1, 42);
  const Digest d256 = AddBlob(data);
  const Digest d512 = AddBlob512(data);
  for (const Digest& d : {d256, d512}) {
    auto hashed = reader_->HashBlob(repo_, d);
    ASSERT_TRUE(hashed.ok()) << hashed.detail();
    EXPECT_EQ(hashed->digest, d);
    EXPECT_EQ(hashed->size, data.size());
    EXPECT_EQ(hashed->digest,
              ComputeDigest(d.algorithm(), base::AsBytes(data)));
    // ReadBlob hashes the chunks in order as they arrive.
    auto whole = reader_->ReadBlob(repo_, d, 16 * kHashChunkBytes);
    ASSERT_TRUE(whole.ok()) << whole.detail();
    ASSERT_EQ(whole->size(), data.size());
    EXPECT_EQ(base::AsString(whole->view()), data);
  }
}

TEST_P(ReaderTest, HashBlobReportsWhatIsThereWithoutComparing) {
  const Digest d = AddBlob("original");
  WriteFile(root_ / d.BlobPath(), "altered content");
  auto hashed = reader_->HashBlob(repo_, d);
  ASSERT_TRUE(hashed.ok()) << hashed.detail();
  EXPECT_FALSE(hashed->digest == d);
  EXPECT_EQ(hashed->size, 15u);
  EXPECT_EQ(hashed->digest.ToString(), Sha256Of("altered content"));
}

TEST_P(ReaderTest, HashBlobEmptyAndSha512) {
  const Digest empty = AddBlob("");
  auto hashed = reader_->HashBlob(repo_, empty);
  ASSERT_TRUE(hashed.ok());
  EXPECT_EQ(hashed->digest, empty);
  EXPECT_EQ(hashed->size, 0u);

  const Digest d512 = AddBlob512("sha512 content");
  auto h512 = reader_->HashBlob(repo_, d512);
  ASSERT_TRUE(h512.ok()) << h512.detail();
  EXPECT_EQ(h512->digest, d512);
  auto r512 = reader_->ReadBlob(repo_, d512, 1024);
  ASSERT_TRUE(r512.ok()) << r512.detail();
}

TEST_P(ReaderTest, HashBlobRefusesFifoAndMissing) {
  const Digest d = Digest::Parse("sha256:" + std::string(64, '1')).value();
  auto missing = reader_->HashBlob(repo_, d);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), IoError::kNotFound);
  ASSERT_EQ(::mkfifo((root_ / d.BlobPath()).c_str(), 0600), 0);
  auto fifo = reader_->HashBlob(repo_, d);
  ASSERT_FALSE(fifo.ok());
  EXPECT_EQ(fifo.code(), IoError::kNotRegularFile);
}

TEST_P(ReaderTest, ConcurrentReadsShareOneReader) {
  std::vector<Digest> digests;
  for (int i = 0; i < 16; ++i) {
    digests.push_back(AddBlob("blob-" + std::to_string(i)));
  }
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        for (const Digest& d : digests) {
          if (!reader_->ReadBlob(repo_, d, 1024).ok() ||
              !reader_->HashBlob(repo_, d).ok()) {
            ++failures[t];
          }
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  for (int f : failures) {
    EXPECT_EQ(f, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Readers, ReaderTest,
                         ::testing::ValuesIn(testing::AllReaderConfigs()),
                         testing::ConfigName);

// ReadFileAt (what the pread reader is built on) outside a Reader.
class ReadFileAtTest : public ReaderFixture {
 protected:
  void SetUp() override { SetUpRepo(); }
};

TEST_F(ReadFileAtTest, UsesTheSameRules) {
  WriteFile(root_ / "x", "x");
  std::filesystem::create_symlink("x", root_ / "y");
  for (const PathResolution resolution :
       {PathResolution::kAuto, PathResolution::kComponentWalk}) {
    auto ok = ReadFileAt(repo_.dir_fd.get(), "x", 10, resolution);
    ASSERT_TRUE(ok.ok());
    auto link = ReadFileAt(repo_.dir_fd.get(), "y", 10, resolution);
    ASSERT_FALSE(link.ok());
    EXPECT_EQ(link.code(), IoError::kSymlink);
    auto closed = ReadFileAt(-1, "x", 10, resolution);
    ASSERT_FALSE(closed.ok());
    EXPECT_EQ(closed.code(), IoError::kReadError);
  }
}

TEST(BufferTest, ShrinkRezeroesPadding) {
  Buffer b(10);
  std::memset(b.data(), 'x', 10);
  b.Shrink(4);
  EXPECT_EQ(b.size(), 4u);
  for (size_t i = 4; i < 4 + kBufferPadding; ++i) {
    EXPECT_EQ(b.data()[i], 0);
  }
  Buffer moved = std::move(b);
  EXPECT_EQ(moved.size(), 4u);
  EXPECT_EQ(b.size(), 0u);  // NOLINT(bugprone-use-after-move)
  Buffer empty;
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_TRUE(empty.view().empty());
}

}  // namespace
}  // namespace trustgate::io
