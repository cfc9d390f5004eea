#pragma once

// Small helpers shared by the mkmirror library: its error code, file
// writing, digests and base64. Digests and base64 use OpenSSL directly so
// that mkmirror does not depend on the verifier's own implementations (a
// generator that shares code with the verifier it tests could hide a bug
// in both).

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"

namespace trustgate::mkmirror {

// MkError is the error code of the mkmirror library.
enum class MkError {
  kUsage = 1,   // bad option or output directory not usable
  kIo = 2,      // a file could not be written or removed
  kCrypto = 3,  // OpenSSL failed (key generation, signing, encoding)
};

// ToString returns the stable name of `e`.
std::string_view ToString(MkError e);

// HashAlgorithm selects the content digest of a blob.
enum class HashAlgorithm { kSha256, kSha512 };

// HexDigest returns the lowercase hex digest of `bytes`.
std::string HexDigest(HashAlgorithm algorithm, base::ByteView bytes);

// OciDigest returns "<alg>:<hex>" for `bytes`.
std::string OciDigest(HashAlgorithm algorithm, base::ByteView bytes);

// Base64Std encodes with the standard alphabet and '=' padding (RFC 4648
// §4); Base64Url with the URL alphabet and no padding (RFC 7515 §2).
std::string Base64Std(base::ByteView bytes);
std::string Base64Url(base::ByteView bytes);

// WriteFile creates or truncates `path` and writes `bytes` to it.
base::Status<MkError> WriteFile(const std::filesystem::path& path,
                                base::ByteView bytes);

// MakeDirectories creates `path` and its parents.
base::Status<MkError> MakeDirectories(const std::filesystem::path& path);

}  // namespace trustgate::mkmirror
