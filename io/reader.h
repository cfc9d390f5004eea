#pragma once

// Reader is the one interface through which engine/ reads a mirror. The
// plain pread implementation lives here; the io_uring pipeline (a later
// issue) provides another implementation of the same interface.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include "base/bytes.h"
#include "base/result.h"
#include "io/digest.h"
#include "io/error.h"
#include "io/mirror.h"

namespace trustgate::io {

// kManifestMaxBytes bounds manifests and index.json (4 MiB, as Notation).
inline constexpr size_t kManifestMaxBytes = 4 * 1024 * 1024;
// kEnvelopeMaxBytes bounds signature envelopes (32 MiB, as Notation).
inline constexpr size_t kEnvelopeMaxBytes = 32 * 1024 * 1024;
// kHashChunkBytes is the read size of Reader::HashBlob (1 MiB).
inline constexpr size_t kHashChunkBytes = 1024 * 1024;
// kBufferPadding is the zeroed tail every Buffer carries (simdjson needs
// SIMDJSON_PADDING = 64 readable bytes past the end).
inline constexpr size_t kBufferPadding = 64;

// Buffer owns bytes read from disk, followed by kBufferPadding zero bytes.
class Buffer {
 public:
  Buffer() = default;
  // Buffer allocates `size` bytes (uninitialised) plus zeroed padding.
  explicit Buffer(size_t size);
  Buffer(Buffer&& other) noexcept
      : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}
  Buffer& operator=(Buffer&& other) noexcept {
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  // Shrink lowers the logical size (the file was shorter than expected)
  // and re-zeroes the padding.
  void Shrink(size_t new_size);
  base::ByteView view() const { return base::ByteView(data_.get(), size_); }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
};

// BlobHash is what hashing a blob proved: its digest and its size.
struct BlobHash {
  Digest digest;
  uint64_t size = 0;
};

class Reader {
 public:
  virtual ~Reader() = default;

  // ReadFile reads the regular file at `relative_path` below the repository
  // whole. The path must be relative, without "." or ".." components, and
  // no component may be a symlink (kSymlink / kOutsideRoot). Fails with
  // kTooLarge when the file exceeds `max_size`, kNotFound when absent.
  virtual base::Result<Buffer, IoError> ReadFile(const Repository& repo,
                                                 std::string_view relative_path,
                                                 size_t max_size) = 0;

  // ReadBlob reads blobs/<alg>/<hex> whole (at most `max_size` bytes) and
  // checks that it hashes to `digest` (kDigestMismatch otherwise).
  virtual base::Result<Buffer, IoError> ReadBlob(const Repository& repo,
                                                 const Digest& digest,
                                                 size_t max_size) = 0;

  // HashBlob streams blobs/<alg>/<hex> in chunks (kHashChunkBytes, never
  // the whole file in memory) and returns its digest (computed with
  // `digest`'s algorithm) and size. It does not compare: the caller decides
  // what a mismatch means. The file is read up to the size fstat(2) reported
  // when it was opened (a growing file is cut there, a shrinking one ends
  // early).
  virtual base::Result<BlobHash, IoError> HashBlob(const Repository& repo,
                                                   const Digest& digest) = 0;
};

// PathResolution selects how the pread reader resolves a relative path
// without following symlinks.
enum class PathResolution {
  // kAuto uses openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) and falls back
  // to kComponentWalk when the kernel or a seccomp profile refuses openat2.
  kAuto,
  // kComponentWalk opens one component at a time with openat(O_NOFOLLOW).
  kComponentWalk,
};

// NewPreadReader returns the plain, synchronous pread(2) reader. It is
// thread-safe (no shared mutable state).
std::unique_ptr<Reader> NewPreadReader();
// NewPreadReader with an explicit path resolution (tests use
// kComponentWalk to exercise the fallback on kernels that have openat2).
std::unique_ptr<Reader> NewPreadReader(PathResolution resolution);

// ReadFileAt reads the regular file at `relative_path` below the directory
// `dir_fd` (borrowed) under the same rules as Reader::ReadFile: relative
// path without "."/".."/empty components (kOutsideRoot), no symlink anywhere
// (kSymlink), a regular file (kNotRegularFile), at most `max_size` bytes
// (kTooLarge, checked before allocating), kNotFound when absent, kReadError
// when the OS fails. A file that shrinks while being read is returned as far
// as it still exists; a file that grows is read only up to the size fstat(2)
// reported when it was opened (callers that care compare digests).
base::Result<Buffer, IoError> ReadFileAt(
    int dir_fd, std::string_view relative_path, size_t max_size,
    PathResolution resolution = PathResolution::kAuto);

}  // namespace trustgate::io
