#pragma once

// Reader is the one interface through which engine/ reads a mirror. The
// plain pread implementation lives here; the io_uring pipeline (a later
// issue) provides another implementation of the same interface.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

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
// kBufferPadding is the zeroed tail every Buffer carries (simdjson needs
// SIMDJSON_PADDING = 64 readable bytes past the end).
inline constexpr size_t kBufferPadding = 64;

// Buffer owns bytes read from disk, followed by kBufferPadding zero bytes.
class Buffer {
 public:
  Buffer() = default;
  // Buffer allocates `size` bytes (uninitialised) plus zeroed padding.
  explicit Buffer(size_t size);
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

  // HashBlob streams blobs/<alg>/<hex> in chunks and returns its digest
  // (computed with `digest`'s algorithm) and size. It does not compare:
  // the caller decides what a mismatch means.
  virtual base::Result<BlobHash, IoError> HashBlob(const Repository& repo,
                                                   const Digest& digest) = 0;
};

// NewPreadReader returns the plain, synchronous pread(2) reader. It is
// thread-safe (no shared mutable state).
std::unique_ptr<Reader> NewPreadReader();

}  // namespace trustgate::io
