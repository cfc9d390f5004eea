#pragma once

// The fixture and configurations shared by reader_test.cc (the Reader
// contract, run against every reader) and uring_reader_test.cc (what only
// the io_uring reader does). Header-only; test code only.

#include <errno.h>
#include <gtest/gtest.h>
#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "io/mirror.h"
#include "io/reader.h"
#include "io/uring_reader.h"
#include "tests/io/test_support.h"

namespace trustgate::io::testing {

// KernelHasIoUring sets up a ring with the raw system call, independently of
// the code under test (liburing test/helpers.c skips the same way): when it
// fails, the kernel or a seccomp profile lacks io_uring and the uring tests
// skip instead of failing.
inline bool KernelHasIoUring(std::string* why) {
  io_uring_params params{};
  const long fd = ::syscall(__NR_io_uring_setup, 4, &params);
  if (fd < 0) {
    *why = std::string("io_uring_setup: ") + std::strerror(errno);
    return false;
  }
  ::close(static_cast<int>(fd));
  return true;
}

inline constexpr bool kBuiltWithLiburing =
#if TRUSTGATE_HAVE_LIBURING
    true;
#else
    false;
#endif

// UringSkipReason says why io_uring tests cannot run here (empty: they can).
inline std::string UringSkipReason() {
  if (!kBuiltWithLiburing) {
    return "built without liburing";
  }
  std::string why;
  return KernelHasIoUring(&why) ? std::string() : why;
}

inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::string data(n, '\0');
  std::mt19937 rng(seed);
  for (char& c : data) {
    c = static_cast<char>(rng());
  }
  return data;
}

// ReaderKind is which Reader implementation a configuration makes.
enum class ReaderKind { kPread, kUring };

// ReaderConfig is one reader under test: the pread reader with a path
// resolution, or the io_uring reader with its options (whose resolution
// field is then the one used).
struct ReaderConfig {
  const char* name;
  ReaderKind kind;
  UringOptions options;
};

inline void PrintTo(const ReaderConfig& c, std::ostream* os) { *os << c.name; }

inline ReaderConfig PreadConfig(const char* name, PathResolution resolution) {
  ReaderConfig c{name, ReaderKind::kPread, {}};
  c.options.resolution = resolution;
  return c;
}

inline ReaderConfig UringConfig(const char* name, uint32_t depth, size_t chunk,
                                BufferRegistration registration,
                                PathResolution resolution) {
  ReaderConfig c{name, ReaderKind::kUring, {}};
  c.options.queue_depth = depth;
  c.options.chunk_bytes = chunk;
  c.options.registration = registration;
  c.options.resolution = resolution;
  return c;
}

// UringConfigs are the io_uring reader configurations every uring test
// runs in: ring depths, chunk sizes, registered buffers on and off, both
// path resolutions.
inline std::vector<ReaderConfig> UringConfigs() {
  return {
      UringConfig("UringDefault", 4, kHashChunkBytes, BufferRegistration::kAuto,
                  PathResolution::kAuto),
      UringConfig("UringUnregistered", 4, kHashChunkBytes,
                  BufferRegistration::kOff, PathResolution::kAuto),
      UringConfig("UringComponentWalk", 8, kHashChunkBytes,
                  BufferRegistration::kAuto, PathResolution::kComponentWalk),
      UringConfig("UringSmallChunksDepth2", 2, 4096, BufferRegistration::kAuto,
                  PathResolution::kAuto),
      UringConfig("UringDepth1", 1, 64 * 1024, BufferRegistration::kAuto,
                  PathResolution::kAuto)};
}

// AllReaderConfigs: the pread reader with openat2 and with the
// component-walk fallback, then UringConfigs().
inline std::vector<ReaderConfig> AllReaderConfigs() {
  std::vector<ReaderConfig> all = {
      PreadConfig("PreadOpenat2", PathResolution::kAuto),
      PreadConfig("PreadComponentWalk", PathResolution::kComponentWalk)};
  for (const ReaderConfig& c : UringConfigs()) {
    all.push_back(c);
  }
  return all;
}

// ReaderFixture: a repository with blobs/sha256 and a directory outside
// it.
class ReaderFixture : public ::testing::Test {
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

  // AddBlob writes content as a sha256 blob and returns its digest.
  Digest AddBlob(std::string_view content) {
    const std::string digest = Sha256Of(content);
    WriteFile(root_ / "blobs" / "sha256" / digest.substr(7), content);
    return Digest::Parse(digest).value();
  }

  // AddBlob512 writes content as a sha512 blob and returns its digest.
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

// ReaderTest runs a test against the reader of its ReaderConfig; io_uring
// configurations skip (with the reason) where io_uring cannot be set up.
class ReaderTest : public ReaderFixture,
                   public ::testing::WithParamInterface<ReaderConfig> {
 protected:
  void SetUp() override {
    if (GetParam().kind == ReaderKind::kUring) {
      const std::string skip = UringSkipReason();
      if (!skip.empty()) {
        GTEST_SKIP() << "io_uring unavailable: " << skip;
      }
    }
    SetUpRepo();
    if (GetParam().kind == ReaderKind::kPread) {
      reader_ = NewPreadReader(GetParam().options.resolution);
    } else {
      auto reader = NewUringReader(GetParam().options);
      ASSERT_TRUE(reader.ok()) << reader.detail();
      reader_ = std::move(reader).value();
    }
  }

  // ReadCode reads `path`, expects a failure and returns its code.
  IoError ReadCode(std::string_view path, size_t max = 1 << 20) {
    auto r = reader_->ReadFile(repo_, path, max);
    EXPECT_FALSE(r.ok()) << path;
    return r.ok() ? IoError{} : r.code();
  }

  std::unique_ptr<Reader> reader_;
};

// ConfigName names a parameterized test after its configuration.
inline std::string ConfigName(
    const ::testing::TestParamInfo<ReaderConfig>& info) {
  return info.param.name;
}

}  // namespace trustgate::io::testing
