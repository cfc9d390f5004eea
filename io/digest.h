#pragma once

// OCI content digests: parsing "<alg>:<hex>" strictly (it becomes a path),
// and computing SHA-256 / SHA-512 over bytes or a stream.

#include <memory>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "io/error.h"

namespace trustgate::io {

// DigestAlgorithm is the closed set of digest algorithms we accept
// (OCI image-spec descriptor.md: sha256 and sha512 are registered).
enum class DigestAlgorithm { kSha256, kSha512 };

// Digest is a validated OCI digest: algorithm plus lowercase hex of exactly
// the algorithm's length (64 or 128). Safe to turn into a path.
class Digest {
 public:
  // Parse validates `text` ("sha256:<64 lowercase hex>" or
  // "sha512:<128 lowercase hex>"). Fails with kBadDigest otherwise.
  static base::Result<Digest, IoError> Parse(std::string_view text);

  DigestAlgorithm algorithm() const { return algorithm_; }
  // hex returns the encoded part (lowercase hex).
  const std::string& hex() const { return hex_; }
  // ToString returns "<alg>:<hex>".
  std::string ToString() const;
  // BlobPath returns "blobs/<alg>/<hex>", relative to a layout root.
  std::string BlobPath() const;

  friend bool operator==(const Digest&, const Digest&) = default;

 private:
  Digest(DigestAlgorithm a, std::string hex)
      : algorithm_(a), hex_(std::move(hex)) {}
  DigestAlgorithm algorithm_ = DigestAlgorithm::kSha256;
  std::string hex_;
  friend class StreamingHasher;
};

// StreamingHasher computes a digest incrementally (OpenSSL EVP).
class StreamingHasher {
 public:
  explicit StreamingHasher(DigestAlgorithm algorithm);
  ~StreamingHasher();
  StreamingHasher(const StreamingHasher&) = delete;
  StreamingHasher& operator=(const StreamingHasher&) = delete;

  // Update feeds more bytes.
  void Update(base::ByteView bytes);
  // Finish returns the digest of everything fed; the hasher is spent.
  Digest Finish();

 private:
  DigestAlgorithm algorithm_;
  struct State;
  std::unique_ptr<State> state_;
};

// ComputeDigest hashes `bytes` whole.
Digest ComputeDigest(DigestAlgorithm algorithm, base::ByteView bytes);

// ToString returns "sha256" or "sha512".
std::string_view ToString(DigestAlgorithm a);

}  // namespace trustgate::io

template <>
struct std::hash<trustgate::io::Digest> {
  size_t operator()(const trustgate::io::Digest& d) const noexcept {
    return std::hash<std::string>()(d.hex());
  }
};
