#include "io/error.h"

namespace trustgate::io {

std::string_view ToString(IoError e) {
  switch (e) {
    case IoError::kNotFound:
      return "not-found";
    case IoError::kTooLarge:
      return "too-large";
    case IoError::kMalformed:
      return "malformed";
    case IoError::kReadError:
      return "read-error";
    case IoError::kSymlink:
      return "symlink";
    case IoError::kOutsideRoot:
      return "outside-root";
    case IoError::kBadDigest:
      return "bad-digest";
    case IoError::kDigestMismatch:
      return "digest-mismatch";
    case IoError::kSizeMismatch:
      return "size-mismatch";
    case IoError::kNotRegularFile:
      return "not-regular-file";
    case IoError::kCycle:
      return "cycle";
    case IoError::kLimitExceeded:
      return "limit-exceeded";
  }
  return "unknown";
}

}  // namespace trustgate::io
