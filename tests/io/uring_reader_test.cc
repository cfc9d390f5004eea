#include "io/uring_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/io_uring.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "io/mirror.h"
#include "tests/io/test_support.h"

namespace trustgate::io {
namespace {

using testing::Sha256Of;
using testing::TempDir;
using testing::WriteFile;

// KernelHasIoUring sets up a ring with the raw system call, independently of
// the code under test (liburing test/helpers.c skips the same way): when it
// fails, the kernel or a seccomp profile lacks io_uring and the uring tests
// skip instead of failing.
bool KernelHasIoUring(std::string* why) {
  io_uring_params params{};
  const long fd = ::syscall(__NR_io_uring_setup, 4, &params);
  if (fd < 0) {
    *why = std::string("io_uring_setup: ") + std::strerror(errno);
    return false;
  }
  ::close(static_cast<int>(fd));
  return true;
}

constexpr bool kBuiltWithLiburing =
#if TRUSTGATE_HAVE_LIBURING
    true;
#else
    false;
#endif

// SkipReason says why io_uring tests cannot run here (empty: they can).
std::string SkipReason() {
  if (!kBuiltWithLiburing) {
    return "built without liburing";
  }
  std::string why;
  return KernelHasIoUring(&why) ? std::string() : why;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::string data(n, '\0');
  std::mt19937 rng(seed);
  for (char& c : data) {
    c = static_cast<char>(rng());
  }
  return data;
}

size_t OpenFdCount() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

// ExpectRegisteredBuffers tells whether io_uring_register_buffers should
// succeed for `bytes` here (it counts against RLIMIT_MEMLOCK unless we have
// CAP_IPC_LOCK, approximated by root).
bool ExpectRegisteredBuffers(size_t bytes) {
  if (::geteuid() == 0) {
    return true;
  }
  rlimit lim{};
  return ::getrlimit(RLIMIT_MEMLOCK, &lim) == 0 &&
         (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur >= 4 * bytes);
}

struct Config {
  const char* name;
  UringOptions options;
};

void PrintTo(const Config& c, std::ostream* os) { *os << c.name; }

Config MakeConfig(const char* name, uint32_t depth, size_t chunk,
                  BufferRegistration registration, PathResolution resolution) {
  Config c{name, {}};
  c.options.queue_depth = depth;
  c.options.chunk_bytes = chunk;
  c.options.registration = registration;
  c.options.resolution = resolution;
  return c;
}

// Fixture shared by the contract tests: a repository with blobs/sha256 and
// a directory outside it.
class UringFixture : public ::testing::Test {
 protected:
  void SetUpRepo() {
    root_ = tmp_.path() / "repo";
    outside_ = tmp_.path() / "outside";
    std::filesystem::create_directories(root_ / "blobs" / "sha256");
    std::filesystem::create_directories(outside_);
    WriteFile(root_ / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    auto repo = OpenRepository(root_, "repo");
    ASSERT_TRUE(repo.ok()) << repo.detail();
    repo_ = std::move(repo).value();
  }

  Digest AddBlob(std::string_view content) {
    const std::string digest = Sha256Of(content);
    WriteFile(root_ / "blobs" / "sha256" / digest.substr(7), content);
    return Digest::Parse(digest).value();
  }

  Digest AddBlob512(std::string_view content) {
    const Digest d =
        ComputeDigest(DigestAlgorithm::kSha512, base::AsBytes(content));
    WriteFile(root_ / d.BlobPath(), content);
    return d;
  }

  TempDir tmp_;
  std::filesystem::path root_;
  std::filesystem::path outside_;
  Repository repo_;
};

// UringReaderTest runs the Reader contract (the cases of reader_test.cc)
// against the io_uring reader in several configurations.
class UringReaderTest : public UringFixture,
                        public ::testing::WithParamInterface<Config> {
 protected:
  void SetUp() override {
    const std::string skip = SkipReason();
    if (!skip.empty()) {
      GTEST_SKIP() << "io_uring unavailable: " << skip;
    }
    SetUpRepo();
    auto reader = NewUringReader(GetParam().options);
    ASSERT_TRUE(reader.ok()) << reader.detail();
    reader_ = std::move(reader).value();
  }

  IoError ReadCode(std::string_view path, size_t max = 1 << 20) {
    auto r = reader_->ReadFile(repo_, path, max);
    EXPECT_FALSE(r.ok()) << path;
    return r.ok() ? IoError{} : r.code();
  }

  std::unique_ptr<Reader> reader_;
};

TEST_P(UringReaderTest, ReadsRegularFile) {
  WriteFile(root_ / "index.json", "hello");
  auto r = reader_->ReadFile(repo_, "index.json", 1024);
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(base::AsString(r->view()), "hello");
  for (size_t i = 0; i < kBufferPadding; ++i) {
    ASSERT_EQ(r->data()[r->size() + i], 0);
  }
}

TEST_P(UringReaderTest, ReadsNestedPath) {
  const Digest d = AddBlob("blob content");
  auto r = reader_->ReadFile(repo_, d.BlobPath(), 1024);
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(base::AsString(r->view()), "blob content");
}

TEST_P(UringReaderTest, EmptyFile) {
  WriteFile(root_ / "empty", "");
  auto r = reader_->ReadFile(repo_, "empty", 1024);
  ASSERT_TRUE(r.ok()) << r.detail();
  EXPECT_EQ(r->size(), 0u);
}

TEST_P(UringReaderTest, MissingFile) {
  EXPECT_EQ(ReadCode("index.json"), IoError::kNotFound);
  EXPECT_EQ(ReadCode("nodir/file"), IoError::kNotFound);
  EXPECT_EQ(ReadCode("oci-layout/x"), IoError::kNotFound);
}

TEST_P(UringReaderTest, SymlinksAreRefused) {
  WriteFile(root_ / "real", "x");
  std::filesystem::create_symlink("real", root_ / "link");
  EXPECT_EQ(ReadCode("link"), IoError::kSymlink);
  WriteFile(outside_ / "secret", "secret");
  std::filesystem::create_symlink(outside_ / "secret", root_ / "abs-link");
  std::filesystem::create_symlink("../outside/secret", root_ / "rel-link");
  EXPECT_EQ(ReadCode("abs-link"), IoError::kSymlink);
  EXPECT_EQ(ReadCode("rel-link"), IoError::kSymlink);
}

TEST_P(UringReaderTest, SymlinkedDirectoryComponentIsRefused) {
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

TEST_P(UringReaderTest, SymlinkedBlobsDirectoryIsRefused) {
  std::filesystem::rename(root_ / "blobs", tmp_.path() / "moved-blobs");
  std::filesystem::create_symlink(tmp_.path() / "moved-blobs", root_ / "blobs");
  WriteFile(tmp_.path() / "moved-blobs" / "sha256" / "f", "x");
  EXPECT_EQ(ReadCode("blobs/sha256/f"), IoError::kSymlink);
}

TEST_P(UringReaderTest, PathTricksAreRefused) {
  WriteFile(outside_ / "secret", "secret");
  WriteFile(root_ / "a" / "b", "b");
  EXPECT_EQ(ReadCode("../outside/secret"), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode("a/../a/b"), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode("./a/b"), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode("a//b"), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode("a/b/"), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode(""), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode("/etc/passwd"), IoError::kOutsideRoot);
  EXPECT_EQ(ReadCode(std::string("a/b\0x", 5)), IoError::kOutsideRoot);
  EXPECT_TRUE(reader_->ReadFile(repo_, "a/b", 10).ok());
}

TEST_P(UringReaderTest, FifoAndDirectoryAreRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(ReadCode("fifo"), IoError::kNotRegularFile);
  std::filesystem::create_directories(root_ / "dir");
  EXPECT_EQ(ReadCode("dir"), IoError::kNotRegularFile);
  EXPECT_EQ(ReadCode("blobs"), IoError::kNotRegularFile);
}

TEST_P(UringReaderTest, TooLargeIsRefusedAndLimitIsInclusive) {
  WriteFile(root_ / "f", std::string(100, 'x'));
  EXPECT_EQ(ReadCode("f", 99), IoError::kTooLarge);
  auto r = reader_->ReadFile(repo_, "f", 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 100u);
}

TEST_P(UringReaderTest, SparseHugeFileIsRefusedBeforeAllocating) {
  const int fd = ::open((root_ / "huge").c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, off_t{64} << 30), 0);
  ::close(fd);
  EXPECT_EQ(ReadCode("huge", kEnvelopeMaxBytes), IoError::kTooLarge);
}

TEST_P(UringReaderTest, ReadBlobVerifiesDigest) {
  const Digest d = AddBlob("genuine");
  auto ok = reader_->ReadBlob(repo_, d, 1024);
  ASSERT_TRUE(ok.ok()) << ok.detail();
  EXPECT_EQ(base::AsString(ok->view()), "genuine");

  WriteFile(root_ / d.BlobPath(), "genuinf");
  auto tampered = reader_->ReadBlob(repo_, d, 1024);
  ASSERT_FALSE(tampered.ok());
  EXPECT_EQ(tampered.code(), IoError::kDigestMismatch);

  WriteFile(root_ / d.BlobPath(), "genu");
  auto truncated = reader_->ReadBlob(repo_, d, 1024);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.code(), IoError::kDigestMismatch);
}

TEST_P(UringReaderTest, ReadBlobMissingAndTooLarge) {
  auto missing = reader_->ReadBlob(
      repo_, Digest::Parse("sha256:" + std::string(64, '0')).value(), 1024);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), IoError::kNotFound);
  const Digest d = AddBlob(std::string(2048, 'z'));
  auto big = reader_->ReadBlob(repo_, d, 1024);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.code(), IoError::kTooLarge);
}

TEST_P(UringReaderTest, MultiChunkBlobSha256AndSha512) {
  // 9 MiB + 1 byte: many chunks, a ring's worth in flight, a 1-byte tail.
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

TEST_P(UringReaderTest, ExactChunkSizedFiles) {
  const size_t chunk = GetParam().options.chunk_bytes;
  for (const size_t n : {chunk, 2 * chunk, chunk - 1, chunk + 1}) {
    const std::string data = RandomBytes(n, static_cast<uint32_t>(n));
    const Digest d = AddBlob(data);
    auto hashed = reader_->HashBlob(repo_, d);
    ASSERT_TRUE(hashed.ok()) << hashed.detail();
    EXPECT_EQ(hashed->digest, d) << n;
    EXPECT_EQ(hashed->size, n);
    auto whole = reader_->ReadBlob(repo_, d, n);
    ASSERT_TRUE(whole.ok()) << whole.detail();
    EXPECT_EQ(whole->size(), n);
  }
}

TEST_P(UringReaderTest, HashBlobReportsWhatIsThereWithoutComparing) {
  const Digest d = AddBlob("original");
  WriteFile(root_ / d.BlobPath(), "altered content");
  auto hashed = reader_->HashBlob(repo_, d);
  ASSERT_TRUE(hashed.ok()) << hashed.detail();
  EXPECT_FALSE(hashed->digest == d);
  EXPECT_EQ(hashed->size, 15u);
  EXPECT_EQ(hashed->digest.ToString(), Sha256Of("altered content"));
}

TEST_P(UringReaderTest, HashBlobEmptyAndSha512) {
  const Digest empty = AddBlob("");
  auto hashed = reader_->HashBlob(repo_, empty);
  ASSERT_TRUE(hashed.ok());
  EXPECT_EQ(hashed->digest, empty);
  EXPECT_EQ(hashed->size, 0u);
  const Digest d512 = AddBlob512("sha512 content");
  auto h512 = reader_->HashBlob(repo_, d512);
  ASSERT_TRUE(h512.ok()) << h512.detail();
  EXPECT_EQ(h512->digest, d512);
  EXPECT_TRUE(reader_->ReadBlob(repo_, d512, 1024).ok());
}

TEST_P(UringReaderTest, HashBlobRefusesFifoAndMissing) {
  const Digest d = Digest::Parse("sha256:" + std::string(64, '1')).value();
  auto missing = reader_->HashBlob(repo_, d);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), IoError::kNotFound);
  ASSERT_EQ(::mkfifo((root_ / d.BlobPath()).c_str(), 0600), 0);
  auto fifo = reader_->HashBlob(repo_, d);
  ASSERT_FALSE(fifo.ok());
  EXPECT_EQ(fifo.code(), IoError::kNotRegularFile);
}

TEST_P(UringReaderTest, ReadsAreBatchedAndUseTheRing) {
  const std::string data = RandomBytes(9 * kHashChunkBytes + 1, 7);
  const Digest d = AddBlob(data);
  const UringThreadStats before = ThisThreadUringStats();
  auto hashed = reader_->HashBlob(repo_, d);
  ASSERT_TRUE(hashed.ok()) << hashed.detail();
  const UringThreadStats after = ThisThreadUringStats();
  const UringOptions& o = GetParam().options;
  const uint64_t chunks = (data.size() + o.chunk_bytes - 1) / o.chunk_bytes;
  const uint64_t reads = after.reads_submitted - before.reads_submitted;
  const uint64_t enters = after.enter_calls - before.enter_calls;
  EXPECT_GE(reads, chunks);
  EXPECT_EQ(after.pread_fallbacks, before.pread_fallbacks);
  if (o.queue_depth > 1) {
    // Several reads per system call.
    EXPECT_LT(enters, reads);
  }
  const uint64_t fixed = after.fixed_reads - before.fixed_reads;
  if (o.registration == BufferRegistration::kOff) {
    EXPECT_EQ(fixed, 0u);
  } else if (ExpectRegisteredBuffers(o.chunk_bytes * o.queue_depth)) {
    EXPECT_EQ(fixed, reads);
  }
}

TEST_P(UringReaderTest, ManyThreadsEachWithItsOwnRing) {
  std::vector<Digest> digests;
  for (int i = 0; i < 8; ++i) {
    digests.push_back(AddBlob("blob-" + std::to_string(i)));
  }
  const std::string big = RandomBytes(3 * kHashChunkBytes + 123, 9);
  const Digest big_digest = AddBlob(big);
  const Digest big512 = AddBlob512(big);
  constexpr int kThreads = 6;
  std::vector<int> failures(kThreads, 0);
  std::vector<UringThreadStats> stats(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 10; ++round) {
        for (const Digest& d : digests) {
          if (!reader_->ReadBlob(repo_, d, 1024).ok() ||
              !reader_->HashBlob(repo_, d).ok()) {
            ++failures[t];
          }
        }
        for (const Digest& d : {big_digest, big512}) {
          auto h = reader_->HashBlob(repo_, d);
          if (!h.ok() || !(h->digest == d) || h->size != big.size()) {
            ++failures[t];
          }
        }
      }
      stats[t] = ThisThreadUringStats();
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], 0);
    // One ring per thread, created on its first call, never pread.
    EXPECT_EQ(stats[t].rings_created, 1u);
    EXPECT_EQ(stats[t].pread_fallbacks, 0u);
    EXPECT_GT(stats[t].reads_submitted, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Configs, UringReaderTest,
    ::testing::Values(
        MakeConfig("Default", 4, kHashChunkBytes, BufferRegistration::kAuto,
                   PathResolution::kAuto),
        MakeConfig("Unregistered", 4, kHashChunkBytes, BufferRegistration::kOff,
                   PathResolution::kAuto),
        MakeConfig("ComponentWalk", 8, kHashChunkBytes,
                   BufferRegistration::kAuto, PathResolution::kComponentWalk),
        MakeConfig("SmallChunksDepth2", 2, 4096, BufferRegistration::kAuto,
                   PathResolution::kAuto),
        MakeConfig("Depth1", 1, 64 * 1024, BufferRegistration::kAuto,
                   PathResolution::kAuto)),
    [](const auto& param_info) { return std::string(param_info.param.name); });

// Fault handling: short reads, -EAGAIN, read errors, files that change size.
class UringFaultTest : public UringFixture {
 protected:
  void SetUp() override {
    const std::string skip = SkipReason();
    if (!skip.empty()) {
      GTEST_SKIP() << "io_uring unavailable: " << skip;
    }
    SetUpRepo();
  }

  std::unique_ptr<Reader> Make(const UringOptions& options) {
    auto reader = NewUringReader(options);
    EXPECT_TRUE(reader.ok()) << reader.detail();
    return reader.ok() ? std::move(reader).value() : nullptr;
  }
};

TEST_F(UringFaultTest, ShortReadsAreResubmittedWithTheOffsetAdvanced) {
  const std::string data = RandomBytes(5 * kHashChunkBytes + 77, 1);
  const Digest d = AddBlob(data);
  for (const BufferRegistration reg :
       {BufferRegistration::kAuto, BufferRegistration::kOff}) {
    UringOptions o;
    o.registration = reg;
    o.faults.short_read_every = 2;
    auto reader = Make(o);
    ASSERT_NE(reader, nullptr);
    const uint64_t before = ThisThreadUringStats().short_reads;
    auto hashed = reader->HashBlob(repo_, d);
    ASSERT_TRUE(hashed.ok()) << hashed.detail();
    EXPECT_EQ(hashed->digest, d);
    EXPECT_EQ(hashed->size, data.size());
    auto whole = reader->ReadBlob(repo_, d, 8 * kHashChunkBytes);
    ASSERT_TRUE(whole.ok()) << whole.detail();
    EXPECT_EQ(base::AsString(whole->view()), data);
    EXPECT_GT(ThisThreadUringStats().short_reads, before);
  }
}

// DropFromPageCache writes `file` back and evicts it from the page cache
// (clean pages only), so the next read has to wait for the disk.
void DropFromPageCache(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::fdatasync(fd), 0);
  EXPECT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
  ::close(fd);
}

TEST_F(UringFaultTest, UncachedReadsWaitInsteadOfAnsweringEagain) {
  // The open path sets O_NONBLOCK (a FIFO must not block the open); left
  // set, kernels without FMODE_NOWAIT retry logic answer -EAGAIN to every
  // read that misses the page cache. Reads from disk must simply complete.
  const std::string data = RandomBytes(8 * kHashChunkBytes + 9, 6);
  const Digest d = AddBlob(data);
  auto reader = Make(UringOptions{});
  ASSERT_NE(reader, nullptr);
  const uint64_t before = ThisThreadUringStats().requeued;
  DropFromPageCache(root_ / d.BlobPath());
  auto hashed = reader->HashBlob(repo_, d);
  ASSERT_TRUE(hashed.ok()) << hashed.detail();
  EXPECT_EQ(hashed->digest, d);
  DropFromPageCache(root_ / d.BlobPath());
  auto whole = reader->ReadBlob(repo_, d, 16 * kHashChunkBytes);
  ASSERT_TRUE(whole.ok()) << whole.detail();
  EXPECT_EQ(ThisThreadUringStats().requeued, before);
}

TEST_F(UringFaultTest, EagainIsRequeued) {
  const std::string data = RandomBytes(4 * kHashChunkBytes + 5, 2);
  const Digest d = AddBlob(data);
  UringOptions o;
  o.faults.eagain_every = 3;
  auto reader = Make(o);
  ASSERT_NE(reader, nullptr);
  const uint64_t before = ThisThreadUringStats().requeued;
  auto hashed = reader->HashBlob(repo_, d);
  ASSERT_TRUE(hashed.ok()) << hashed.detail();
  EXPECT_EQ(hashed->digest, d);
  auto whole = reader->ReadFile(repo_, d.BlobPath(), 8 * kHashChunkBytes);
  ASSERT_TRUE(whole.ok()) << whole.detail();
  EXPECT_EQ(base::AsString(whole->view()), data);
  EXPECT_GT(ThisThreadUringStats().requeued, before);
}

TEST_F(UringFaultTest, EndlessEagainBecomesAnError) {
  const Digest d = AddBlob("x");
  UringOptions o;
  o.faults.eagain_every = 1;
  auto reader = Make(o);
  ASSERT_NE(reader, nullptr);
  auto hashed = reader->HashBlob(repo_, d);
  ASSERT_FALSE(hashed.ok());
  EXPECT_EQ(hashed.code(), IoError::kReadError);
}

TEST_F(UringFaultTest, ReadErrorIsCodedAndTheRingStaysUsable) {
  const std::string data = RandomBytes(6 * kHashChunkBytes, 3);
  const Digest d = AddBlob(data);
  for (const uint32_t nth : {1u, 3u}) {
    UringOptions o;
    o.faults.fail_read_number = nth;  // with reads still in flight for 3
    o.faults.fail_errno = EIO;
    auto reader = Make(o);
    ASSERT_NE(reader, nullptr);
    auto failed = reader->HashBlob(repo_, d);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.code(), IoError::kReadError);
    // Every submitted read was reaped: the next calls see no stale
    // completion.
    auto again = reader->HashBlob(repo_, d);
    ASSERT_TRUE(again.ok()) << again.detail();
    EXPECT_EQ(again->digest, d);
    auto whole = reader->ReadBlob(repo_, d, 8 * kHashChunkBytes);
    ASSERT_TRUE(whole.ok()) << whole.detail();
  }
  // The same through ReadFile.
  UringOptions o;
  o.faults.fail_read_number = 2;
  o.faults.fail_errno = EIO;
  auto reader = Make(o);
  ASSERT_NE(reader, nullptr);
  auto failed = reader->ReadFile(repo_, d.BlobPath(), 8 * kHashChunkBytes);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.code(), IoError::kReadError);
  EXPECT_TRUE(reader->ReadFile(repo_, d.BlobPath(), 8 * kHashChunkBytes).ok());
}

TEST_F(UringFaultTest, FileShrinkingAfterOpenEndsEarly) {
  const std::string data = RandomBytes(3 * kHashChunkBytes + 10, 4);
  const Digest d = AddBlob(data);
  const std::filesystem::path file = root_ / d.BlobPath();
  const size_t keep = kHashChunkBytes + 1000;
  UringOptions o;
  o.faults.after_open = [&] { std::filesystem::resize_file(file, keep); };
  auto reader = Make(o);
  ASSERT_NE(reader, nullptr);
  auto hashed = reader->HashBlob(repo_, d);
  ASSERT_TRUE(hashed.ok()) << hashed.detail();
  EXPECT_EQ(hashed->size, keep);
  EXPECT_EQ(hashed->digest.ToString(), Sha256Of(data.substr(0, keep)));

  WriteFile(file, data);
  auto whole = reader->ReadFile(repo_, d.BlobPath(), 8 * kHashChunkBytes);
  ASSERT_TRUE(whole.ok()) << whole.detail();
  EXPECT_EQ(base::AsString(whole->view()), data.substr(0, keep));

  WriteFile(file, data);
  auto blob = reader->ReadBlob(repo_, d, 8 * kHashChunkBytes);
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.code(), IoError::kDigestMismatch);
}

TEST_F(UringFaultTest, FileGrowingAfterOpenIsCutAtTheOpenedSize) {
  const std::string data = RandomBytes(2 * kHashChunkBytes + 3, 5);
  const Digest d = AddBlob(data);
  const std::filesystem::path file = root_ / d.BlobPath();
  UringOptions o;
  o.faults.after_open = [&] {
    std::filesystem::resize_file(file, data.size() + kHashChunkBytes);
  };
  auto reader = Make(o);
  ASSERT_NE(reader, nullptr);
  auto hashed = reader->HashBlob(repo_, d);
  ASSERT_TRUE(hashed.ok()) << hashed.detail();
  EXPECT_EQ(hashed->size, data.size());
  EXPECT_EQ(hashed->digest, d);
}

TEST_F(UringFaultTest, RingsAreTornDownWithTheirThreadAndReader) {
  const Digest d = AddBlob("fd accounting");
  // A thread's rings go when the thread exits.
  const size_t fds_before = OpenFdCount();
  {
    auto reader = Make(UringOptions{});
    ASSERT_NE(reader, nullptr);
    for (int i = 0; i < 4; ++i) {
      std::thread th([&] { EXPECT_TRUE(reader->HashBlob(repo_, d).ok()); });
      th.join();
    }
    EXPECT_LE(OpenFdCount(), fds_before + 1);  // this thread's probe ring
  }
  // Readers created and dropped one after another on one thread do not
  // accumulate rings.
  for (int i = 0; i < 40; ++i) {
    auto reader = Make(UringOptions{});
    ASSERT_NE(reader, nullptr);
    ASSERT_TRUE(reader->HashBlob(repo_, d).ok());
  }
  EXPECT_LE(OpenFdCount(), fds_before + 2);
}

TEST(UringOptionsTest, OutOfRangeOptionsAreRefused) {
  for (const auto& [depth, chunk] :
       std::vector<std::pair<uint32_t, size_t>>{{0, kHashChunkBytes},
                                                {65, kHashChunkBytes},
                                                {4, 100},
                                                {4, size_t{128} << 20},
                                                {64, size_t{64} << 20}}) {
    UringOptions o;
    o.queue_depth = depth;
    o.chunk_bytes = chunk;
    auto r = NewUringReader(o);
    ASSERT_FALSE(r.ok()) << depth << " " << chunk;
    EXPECT_EQ(r.code(), IoError::kReadError);
    EXPECT_FALSE(ProbeUring(o).available);
  }
}

// Fallback: an unusable io_uring (simulated: the probe fails as under a
// seccomp profile) gives pread with a notice for kAuto, an error for kUring.
class FallbackTest : public UringFixture {
 protected:
  void SetUp() override { SetUpRepo(); }
};

TEST_F(FallbackTest, SimulatedSetupFailureFallsBackToPread) {
  const Digest d = AddBlob("fallback content");
  for (const int err : {EPERM, ENOSYS, ENOMEM}) {
    UringOptions o;
    o.simulate_setup_errno = err;
    auto direct = NewUringReader(o);
    ASSERT_FALSE(direct.ok());
    EXPECT_EQ(direct.code(), IoError::kReadError);
    const UringAvailability probe = ProbeUring(o);
    EXPECT_FALSE(probe.available);
    EXPECT_EQ(probe.errno_value, kBuiltWithLiburing ? err : ENOSYS);
    EXPECT_FALSE(probe.reason.empty());

    auto forced = NewBestReader(ReaderChoice::kUring, o, nullptr);
    ASSERT_FALSE(forced.ok());
    EXPECT_EQ(forced.code(), IoError::kReadError);

    std::string notice;
    auto best = NewBestReader(ReaderChoice::kAuto, o, &notice);
    ASSERT_TRUE(best.ok()) << best.detail();
    EXPECT_FALSE(notice.empty());
    EXPECT_EQ(notice.find('\n'), std::string::npos);  // one line
    const UringThreadStats before = ThisThreadUringStats();
    auto hashed = (*best)->HashBlob(repo_, d);
    ASSERT_TRUE(hashed.ok()) << hashed.detail();
    EXPECT_EQ(hashed->digest, d);
    // It is the pread reader: no ring was touched.
    EXPECT_EQ(ThisThreadUringStats().reads_submitted, before.reads_submitted);
  }
}

TEST_F(FallbackTest, PreadChoiceAndAutoWhenAvailable) {
  const Digest d = AddBlob("choice content");
  std::string notice = "stale";
  auto pread = NewBestReader(ReaderChoice::kPread, &notice);
  ASSERT_TRUE(pread.ok());
  EXPECT_TRUE(notice.empty());
  const UringThreadStats before = ThisThreadUringStats();
  ASSERT_TRUE((*pread)->HashBlob(repo_, d).ok());
  EXPECT_EQ(ThisThreadUringStats().reads_submitted, before.reads_submitted);

  auto best = NewBestReader(ReaderChoice::kAuto, &notice);
  ASSERT_TRUE(best.ok()) << best.detail();
  auto hashed = (*best)->HashBlob(repo_, d);
  ASSERT_TRUE(hashed.ok()) << hashed.detail();
  EXPECT_EQ(hashed->digest, d);
  const std::string skip = SkipReason();
  if (skip.empty()) {
    EXPECT_TRUE(notice.empty()) << notice;
    EXPECT_GT(ThisThreadUringStats().reads_submitted, before.reads_submitted);
    EXPECT_TRUE(ProbeUring().available);
  } else {
    // No io_uring here: the real fallback path.
    EXPECT_FALSE(notice.empty());
    EXPECT_FALSE(ProbeUring().available);
    EXPECT_FALSE(NewBestReader(ReaderChoice::kUring, nullptr).ok());
  }
}

TEST(ReaderChoiceTest, ParseAndToString) {
  for (const ReaderChoice c :
       {ReaderChoice::kAuto, ReaderChoice::kUring, ReaderChoice::kPread}) {
    EXPECT_EQ(ParseReaderChoice(ToString(c)), c);
  }
  EXPECT_EQ(ParseReaderChoice("io_uring"), ReaderChoice::kUring);
  EXPECT_FALSE(ParseReaderChoice("mmap").has_value());
  EXPECT_FALSE(ParseReaderChoice("").has_value());
  EXPECT_FALSE(ParseReaderChoice("PREAD").has_value());
}

}  // namespace
}  // namespace trustgate::io
