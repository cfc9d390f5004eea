#pragma once

#include <string_view>

namespace trustgate::io {

// IoError is the stable error code of everything in io/. Values are never
// renumbered or reused.
enum class IoError {
  kNotFound = 1,        // the file or blob does not exist
  kTooLarge = 2,        // above the size limit for its kind
  kMalformed = 3,       // JSON or layout structure is invalid
  kReadError = 4,       // the OS failed the read (EIO, ...)
  kSymlink = 5,         // a symlink where a regular file or dir is required
  kOutsideRoot = 6,     // a path would leave the repository or mirror root
  kBadDigest = 7,       // not "<alg>:<hex>" of the right length, or alg unknown
  kDigestMismatch = 8,  // content does not hash to the expected digest
  kSizeMismatch = 9,    // content size differs from the descriptor's size
  kNotRegularFile = 10,  // a directory, device, fifo, ... where a file is due
  kCycle = 11,           // an image index refers back to itself
  kLimitExceeded = 12,   // too many children, too deep, ...
};

// ToString returns the stable kebab-case name of `e` ("not-found", ...).
std::string_view ToString(IoError e);

}  // namespace trustgate::io
