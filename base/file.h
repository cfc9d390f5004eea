#pragma once

// Bounded reads of small local files (policies, certificates, CRLs) that
// a user names or that sit in a configuration directory. The mirror itself
// is read through io/, not here.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"

namespace trustgate::base {

// FileError is why a bounded file read failed. Callers map it to their own
// stable codes; it is never printed as a code itself.
enum class FileError {
  kNotFound,    // the file (or a directory on its path) does not exist
  kSymlink,     // the file is a symlink and symlinks are refused
  kNotRegular,  // a directory, device, FIFO or socket
  kUnreadable,  // the OS refused to stat, open or read it
  kTooLarge,    // more than the caller's bound
};

// ToString returns a kebab-case name of `e` ("not-found", ...).
std::string_view ToString(FileError e);

// Symlinks says whether the file named may itself be a symbolic link
// (directories on its path are always followed).
enum class Symlinks { kRefuse, kFollow };

// ReadBoundedRegularFile reads the regular file at `path`, at most
// `max_bytes` bytes. It refuses a symlink (with Symlinks::kRefuse, checked
// before opening and again by O_NOFOLLOW) and anything but a regular file
// (before opening, so that a device or FIFO is never opened, and again
// after), and reads in chunks up to the bound whatever the size fstat
// reports (the file may change while it is read). The detail of an error
// is a sentence about `what` ("trust policy /etc/p.json is a symlink") to
// which the caller may append what to do.
Result<Bytes, FileError> ReadBoundedRegularFile(const std::string& path,
                                                uint64_t max_bytes,
                                                std::string_view what,
                                                Symlinks symlinks);

// ReadBoundedRegularFileAt is ReadBoundedRegularFile for `name` relative to
// the directory `dir_fd` (borrowed); a symlink is always refused.
Result<Bytes, FileError> ReadBoundedRegularFileAt(int dir_fd,
                                                  const std::string& name,
                                                  uint64_t max_bytes,
                                                  std::string_view what);

}  // namespace trustgate::base
