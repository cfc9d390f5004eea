#include "io/digest.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

namespace trustgate::io {

namespace {

// Local OpenSSL handle alias (io/ must not depend on crypto/ossl.h).
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// Md returns the algorithm fetched once per process (OpenSSL 3: an explicit
// fetch avoids a provider lookup on every EVP_DigestInit_ex). The handles
// live for the whole process.
const EVP_MD* Md(DigestAlgorithm algorithm) {
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  static EVP_MD* const kSha512 = EVP_MD_fetch(nullptr, "SHA2-512", nullptr);
  const EVP_MD* md = algorithm == DigestAlgorithm::kSha256 ? kSha256 : kSha512;
  if (md == nullptr) {
    // The default provider lacks SHA-2: the process cannot work at all.
    std::abort();
  }
  return md;
}

size_t HexLength(DigestAlgorithm algorithm) {
  return algorithm == DigestAlgorithm::kSha256 ? 64 : 128;
}

bool IsLowerHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

}  // namespace

std::string_view ToString(DigestAlgorithm a) {
  return a == DigestAlgorithm::kSha256 ? "sha256" : "sha512";
}

// OCI image-spec descriptor.md, "Digests": digest ::= algorithm ":" encoded.
// Only the registered algorithms sha256 (64 hex) and sha512 (128 hex) are
// accepted, and only in lowercase ("encoded portion MUST match
// /[a-f0-9]{64}/" resp. {128}). Anything else could turn into an unexpected
// path below blobs/, so it is refused outright.
base::Result<Digest, IoError> Digest::Parse(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return base::MakeError(IoError::kBadDigest,
                           "digest has no \"<algorithm>:\" prefix; expected "
                           "sha256:<64 lowercase hex> or sha512:<128 "
                           "lowercase hex>");
  }
  const std::string_view alg = text.substr(0, colon);
  const std::string_view hex = text.substr(colon + 1);
  DigestAlgorithm algorithm;
  if (alg == "sha256") {
    algorithm = DigestAlgorithm::kSha256;
  } else if (alg == "sha512") {
    algorithm = DigestAlgorithm::kSha512;
  } else {
    return base::MakeError(IoError::kBadDigest,
                           "unsupported digest algorithm (only sha256 and "
                           "sha512, lowercase, are accepted)");
  }
  if (hex.size() != HexLength(algorithm)) {
    return base::MakeError(
        IoError::kBadDigest,
        std::string(io::ToString(algorithm)) + " digest must have exactly " +
            std::to_string(HexLength(algorithm)) + " hex characters, got " +
            std::to_string(hex.size()));
  }
  for (char c : hex) {
    if (!IsLowerHex(c)) {
      return base::MakeError(IoError::kBadDigest,
                             "digest must be lowercase hex [0-9a-f] only");
    }
  }
  return Digest(algorithm, std::string(hex));
}

std::string Digest::ToString() const {
  std::string out(io::ToString(algorithm_));
  out += ':';
  out += hex_;
  return out;
}

// OCI image-spec image-layout.md, "Blobs": blobs/<alg>/<encoded>.
std::string Digest::BlobPath() const {
  std::string out = "blobs/";
  out += io::ToString(algorithm_);
  out += '/';
  out += hex_;
  return out;
}

struct StreamingHasher::State {
  MdCtxPtr ctx;
};

StreamingHasher::StreamingHasher(DigestAlgorithm algorithm)
    : algorithm_(algorithm), state_(std::make_unique<State>()) {
  state_->ctx.reset(EVP_MD_CTX_new());
  if (state_->ctx == nullptr ||
      EVP_DigestInit_ex(state_->ctx.get(), Md(algorithm), nullptr) != 1) {
    std::abort();  // out of memory
  }
}

StreamingHasher::~StreamingHasher() = default;

void StreamingHasher::Update(base::ByteView bytes) {
  if (bytes.empty()) {
    return;
  }
  if (EVP_DigestUpdate(state_->ctx.get(), bytes.data(), bytes.size()) != 1) {
    std::abort();  // cannot fail for SHA-2 short of memory corruption
  }
}

Digest StreamingHasher::Finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(state_->ctx.get(), out, &len) != 1) {
    std::abort();
  }
  return Digest(algorithm_, base::HexEncode(base::ByteView(out, len)));
}

Digest ComputeDigest(DigestAlgorithm algorithm, base::ByteView bytes) {
  StreamingHasher hasher(algorithm);
  hasher.Update(bytes);
  return hasher.Finish();
}

}  // namespace trustgate::io
