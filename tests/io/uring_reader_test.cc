#include "io/uring_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "io/mirror.h"
#include "tests/io/reader_fixture.h"
#include "tests/io/test_support.h"

namespace trustgate::io {
namespace {

using testing::kBuiltWithLiburing;
using testing::RandomBytes;
using testing::ReaderFixture;
using testing::Sha256Of;
using testing::WriteFile;

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

// UringReaderTest: what only the io_uring reader does, in each of its
// configurations (the Reader contract itself is in reader_test.cc).
class UringReaderTest : public testing::ReaderTest {};

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

INSTANTIATE_TEST_SUITE_P(Configs, UringReaderTest,
                         ::testing::ValuesIn(testing::UringConfigs()),
                         testing::ConfigName);

// Fault handling: short reads, -EAGAIN, read errors, files that change size.
class UringFaultTest : public ReaderFixture {
 protected:
  void SetUp() override {
    const std::string skip = testing::UringSkipReason();
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
class FallbackTest : public ReaderFixture {
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
  const std::string skip = testing::UringSkipReason();
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
