#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/unique_fd.h"

namespace trustgate::base {
namespace {

constexpr uint64_t kMiB = uint64_t{1024} * 1024;

std::string SizeText(uint64_t bytes) {
  if (bytes >= kMiB && bytes % kMiB == 0) {
    return std::to_string(bytes / kMiB) + " MiB";
  }
  return std::to_string(bytes) + " bytes";
}

std::string OsErrorText(int e) {
  std::string text = std::strerror(e);
  if (e == EACCES || e == EPERM) {
    text += "; check its permissions";
  }
  return text;
}

Error<FileError> TooLarge(std::string_view what, uint64_t max_bytes) {
  return MakeError(
      FileError::kTooLarge,
      std::string(what) + " is larger than " + SizeText(max_bytes));
}

Error<FileError> NotRegular(std::string_view what, mode_t mode) {
  return MakeError(
      FileError::kNotRegular,
      std::string(what) +
          (S_ISDIR(mode) ? " is a directory" : " is not a regular file"));
}

Result<Bytes, FileError> ReadAt(int dir_fd, const std::string& name,
                                uint64_t max_bytes, std::string_view what,
                                Symlinks symlinks) {
  const bool refuse = symlinks == Symlinks::kRefuse;
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, refuse ? AT_SYMLINK_NOFOLLOW : 0) !=
      0) {
    int e = errno;
    if (e == ENOENT) {
      return MakeError(FileError::kNotFound,
                       std::string(what) + " does not exist");
    }
    return MakeError(
        FileError::kUnreadable,
        "cannot access " + std::string(what) + ": " + OsErrorText(e));
  }
  if (S_ISLNK(st.st_mode)) {
    return MakeError(FileError::kSymlink, std::string(what) + " is a symlink");
  }
  if (!S_ISREG(st.st_mode)) {
    return NotRegular(what, st.st_mode);
  }
  // O_NONBLOCK: should the file have been replaced by a FIFO since the
  // check above, opening it does not hang.
  int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  if (refuse) {
    flags |= O_NOFOLLOW;
  }
  UniqueFd fd(::openat(dir_fd, name.c_str(), flags));
  if (!fd.valid()) {
    int e = errno;
    if (e == ELOOP && refuse) {
      return MakeError(FileError::kSymlink,
                       std::string(what) + " is a symlink");
    }
    if (e == ENOENT) {
      return MakeError(FileError::kNotFound,
                       std::string(what) + " does not exist");
    }
    return MakeError(
        FileError::kUnreadable,
        "cannot open " + std::string(what) + ": " + OsErrorText(e));
  }
  struct stat fst {};
  if (::fstat(fd.get(), &fst) != 0) {
    int e = errno;
    return MakeError(
        FileError::kUnreadable,
        "cannot access " + std::string(what) + ": " + OsErrorText(e));
  }
  if (!S_ISREG(fst.st_mode)) {
    return NotRegular(what, fst.st_mode);
  }
  if (static_cast<uint64_t>(fst.st_size) > max_bytes) {
    return TooLarge(what, max_bytes);
  }
  // The size from fstat is only a hint: read in chunks and stop past the
  // bound.
  Bytes data;
  uint8_t chunk[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd.get(), chunk, sizeof(chunk));
    if (n < 0) {
      int e = errno;
      if (e == EINTR) {
        continue;
      }
      return MakeError(
          FileError::kUnreadable,
          "cannot read " + std::string(what) + ": " + std::strerror(e));
    }
    if (n == 0) {
      break;
    }
    data.insert(data.end(), chunk, chunk + n);
    if (data.size() > max_bytes) {
      return TooLarge(what, max_bytes);
    }
  }
  return data;
}

}  // namespace

std::string_view ToString(FileError e) {
  switch (e) {
    case FileError::kNotFound:
      return "not-found";
    case FileError::kSymlink:
      return "symlink";
    case FileError::kNotRegular:
      return "not-regular";
    case FileError::kUnreadable:
      return "unreadable";
    case FileError::kTooLarge:
      return "too-large";
  }
  return "unknown";
}

Result<Bytes, FileError> ReadBoundedRegularFile(const std::string& path,
                                                uint64_t max_bytes,
                                                std::string_view what,
                                                Symlinks symlinks) {
  return ReadAt(AT_FDCWD, path, max_bytes, what, symlinks);
}

Result<Bytes, FileError> ReadBoundedRegularFileAt(int dir_fd,
                                                  const std::string& name,
                                                  uint64_t max_bytes,
                                                  std::string_view what) {
  return ReadAt(dir_fd, name, max_bytes, what, Symlinks::kRefuse);
}

}  // namespace trustgate::base
