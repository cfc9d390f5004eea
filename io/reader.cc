#include "io/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstring>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "io/open_beneath.h"

namespace trustgate::io {

// ---------------------------------------------------------------------------
// Buffer

Buffer::Buffer(size_t size)
    : data_(new uint8_t[size + kBufferPadding]), size_(size) {
  std::memset(data_.get() + size, 0, kBufferPadding);
}

void Buffer::Shrink(size_t new_size) {
  assert(new_size <= size_);
  size_ = new_size;
  if (data_ != nullptr) {
    std::memset(data_.get() + size_, 0, kBufferPadding);
  }
}

namespace {

// Longest relative path we accept (PATH_MAX).
constexpr size_t kMaxPathBytes = 4096;
// Flags of every file open: read-only, never a controlling terminal, never
// block on a FIFO (fstat rejects it right after), never follow a final
// symlink.
constexpr int kFileOpenFlags =
    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
constexpr int kDirOpenFlags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_DIRECTORY;

std::string ErrnoText(int err) { return std::strerror(err); }

// SplitRelativePath checks that `path` is a plain relative path below the
// directory (no absolute path, no empty, "." or ".." component, no NUL) and
// returns its components.
base::Result<std::vector<std::string_view>, IoError> SplitRelativePath(
    std::string_view path) {
  if (path.empty()) {
    return base::MakeError(IoError::kOutsideRoot, "empty path");
  }
  if (path.size() > kMaxPathBytes) {
    return base::MakeError(IoError::kOutsideRoot, "path is too long");
  }
  if (path.front() == '/') {
    return base::MakeError(IoError::kOutsideRoot,
                           "absolute path \"" + std::string(path) +
                               "\": only paths relative to the layout are "
                               "allowed");
  }
  if (path.find('\0') != std::string_view::npos) {
    return base::MakeError(IoError::kOutsideRoot, "path contains a NUL byte");
  }
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    const std::string_view part = path.substr(
        start, slash == std::string_view::npos ? slash : slash - start);
    if (part.empty() || part == "." || part == "..") {
      return base::MakeError(IoError::kOutsideRoot,
                             "path \"" + std::string(path) +
                                 "\" has an empty, \".\" or \"..\" component");
    }
    parts.push_back(part);
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return parts;
}

base::Error<IoError> OpenError(int err, std::string_view path) {
  const std::string p(path);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return base::MakeError(IoError::kNotFound, p + " does not exist");
    case ELOOP:
      return base::MakeError(IoError::kSymlink,
                             p + " is or passes through a symlink; layouts "
                                 "must hold regular files and directories");
    case EXDEV:
      return base::MakeError(IoError::kOutsideRoot,
                             p + " resolves outside the layout directory");
    case ENXIO:
    case ENODEV:
      return base::MakeError(IoError::kNotRegularFile,
                             p + " is not a regular file");
    default:
      return base::MakeError(IoError::kReadError,
                             "cannot open " + p + ": " + ErrnoText(err));
  }
}

// Set once openat2 turned out to be unusable in this process (old kernel,
// seccomp profile). Only a hint: both paths give the same guarantees.
std::atomic<bool> g_openat2_unusable{false};

enum class Openat2Outcome { kOpened, kFailed, kUnsupported };

// TryOpenat2 opens `path` below `dir_fd` with openat2(2): RESOLVE_BENEATH
// refuses any escape from dir_fd, RESOLVE_NO_SYMLINKS refuses a symlink in
// any component (ELOOP), RESOLVE_NO_MAGICLINKS refuses /proc magic links.
Openat2Outcome TryOpenat2(int dir_fd, const std::string& path, int* fd_out,
                          int* errno_out) {
  open_how how{};
  how.flags = static_cast<uint64_t>(kFileOpenFlags);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  // openat2(2): EAGAIN when a concurrent rename raced the lookup; retry a
  // few times, then let the component walk decide.
  for (int attempt = 0; attempt < 8; ++attempt) {
    const long fd =
        syscall(SYS_openat2, dir_fd, path.c_str(), &how, sizeof(how));
    if (fd >= 0) {
      *fd_out = static_cast<int>(fd);
      return Openat2Outcome::kOpened;
    }
    const int err = errno;
    if (err == EINTR || err == EAGAIN) {
      continue;
    }
    if (err == ENOSYS || err == EPERM || err == EINVAL || err == E2BIG) {
      // Kernel < 5.6, or a seccomp filter (EPERM/ENOSYS), or flags unknown.
      g_openat2_unusable.store(true, std::memory_order_relaxed);
      return Openat2Outcome::kUnsupported;
    }
    *errno_out = err;
    return Openat2Outcome::kFailed;
  }
  return Openat2Outcome::kUnsupported;
}

int OpenatRetry(int dir_fd, const char* name, int flags) {
  while (true) {
    const int fd = ::openat(dir_fd, name, flags);
    if (fd >= 0 || errno != EINTR) {
      return fd;
    }
  }
}

// WalkOpen opens `parts` below `dir_fd` one component at a time: every
// directory with O_DIRECTORY | O_NOFOLLOW, the file with O_NOFOLLOW. Since
// no component is "..", "." or a symlink, the walk cannot leave dir_fd.
base::Result<base::UniqueFd, IoError> WalkOpen(
    int dir_fd, const std::vector<std::string_view>& parts,
    std::string_view path) {
  base::UniqueFd held;
  int current = dir_fd;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::string name(parts[i]);
    const int fd = OpenatRetry(current, name.c_str(), kDirOpenFlags);
    if (fd < 0) {
      const int err = errno;
      if (err == ENOTDIR || err == ELOOP) {
        // O_DIRECTORY | O_NOFOLLOW on a symlink gives ENOTDIR: tell a
        // symlinked directory apart from a plain file in the way.
        struct stat st {};
        if (::fstatat(current, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode)) {
          return OpenError(ELOOP, path);
        }
        return OpenError(ENOTDIR, path);
      }
      return OpenError(err, path);
    }
    held.Reset(fd);
    current = fd;
  }
  const std::string last(parts.back());
  const int fd = OpenatRetry(current, last.c_str(), kFileOpenFlags);
  if (fd < 0) {
    return OpenError(errno, path);
  }
  return base::UniqueFd(fd);
}

base::Result<base::UniqueFd, IoError> OpenBeneath(int dir_fd,
                                                  std::string_view path,
                                                  PathResolution resolution) {
  if (dir_fd < 0) {
    return base::MakeError(IoError::kReadError,
                           "repository directory is not open");
  }
  TG_ASSIGN_OR_RETURN(std::vector<std::string_view> parts,
                      SplitRelativePath(path));
  if (resolution == PathResolution::kAuto &&
      !g_openat2_unusable.load(std::memory_order_relaxed)) {
    const std::string p(path);
    int fd = -1;
    int err = 0;
    switch (TryOpenat2(dir_fd, p, &fd, &err)) {
      case Openat2Outcome::kOpened:
        return base::UniqueFd(fd);
      case Openat2Outcome::kFailed:
        return OpenError(err, path);
      case Openat2Outcome::kUnsupported:
        break;
    }
  }
  return WalkOpen(dir_fd, parts, path);
}

// StatRegular checks that `fd` is a regular file and returns its size.
base::Result<uint64_t, IoError> StatRegular(int fd, std::string_view path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return base::MakeError(
        IoError::kReadError,
        "cannot stat " + std::string(path) + ": " + ErrnoText(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return base::MakeError(IoError::kNotRegularFile,
                           std::string(path) +
                               " is not a regular file (directory, fifo, "
                               "device or socket)");
  }
  if (st.st_size < 0) {
    return base::MakeError(IoError::kReadError,
                           "negative size for " + std::string(path));
  }
  return static_cast<uint64_t>(st.st_size);
}

// PreadFull reads up to `len` bytes at `offset`, looping over short reads
// and EINTR. Returns the bytes read (fewer than `len` only at end of file)
// or -1 with errno set.
ssize_t PreadFull(int fd, uint8_t* out, size_t len, uint64_t offset) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n =
        ::pread(fd, out + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      return -1;
    }
    if (n == 0) {
      break;  // end of file: the file is shorter than fstat said
    }
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

// CheckShrunk is called when a read ended before the size fstat reported:
// the file must really have shrunk (a second fstat shows a smaller size);
// anything else is a read error rather than silent truncation.
base::Status<IoError> CheckShrunk(int fd, uint64_t read_bytes,
                                  std::string_view path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < 0 ||
      static_cast<uint64_t>(st.st_size) > read_bytes) {
    return base::MakeError(IoError::kReadError,
                           "short read on " + std::string(path) +
                               " although the file did not shrink");
  }
  return base::Ok{};
}

base::Result<Buffer, IoError> ReadOpened(int fd, std::string_view path,
                                         size_t max_size) {
  TG_ASSIGN_OR_RETURN(const uint64_t size, StatRegular(fd, path));
  // Checked before allocating anything (the size is attacker-controlled).
  if (size > max_size) {
    return base::MakeError(IoError::kTooLarge,
                           std::string(path) + " has " + std::to_string(size) +
                               " bytes, above the limit of " +
                               std::to_string(max_size));
  }
  Buffer buffer(static_cast<size_t>(size));
  const ssize_t n = PreadFull(fd, buffer.data(), buffer.size(), 0);
  if (n < 0) {
    return base::MakeError(
        IoError::kReadError,
        "cannot read " + std::string(path) + ": " + ErrnoText(errno));
  }
  if (static_cast<uint64_t>(n) < size) {
    TG_RETURN_IF_ERROR(CheckShrunk(fd, static_cast<uint64_t>(n), path));
    buffer.Shrink(static_cast<size_t>(n));
  }
  return buffer;
}

class PreadReader final : public Reader {
 public:
  explicit PreadReader(PathResolution resolution) : resolution_(resolution) {}

  base::Result<Buffer, IoError> ReadFile(const Repository& repo,
                                         std::string_view relative_path,
                                         size_t max_size) override {
    return ReadFileAt(repo.dir_fd.get(), relative_path, max_size, resolution_);
  }

  base::Result<Buffer, IoError> ReadBlob(const Repository& repo,
                                         const Digest& digest,
                                         size_t max_size) override {
    const std::string path = digest.BlobPath();
    TG_ASSIGN_OR_RETURN(Buffer buffer, ReadFileAt(repo.dir_fd.get(), path,
                                                  max_size, resolution_));
    // image-spec descriptor.md, "Verification": content MUST be verified
    // against its digest before it is trusted.
    if (!(ComputeDigest(digest.algorithm(), buffer.view()) == digest)) {
      return base::MakeError(IoError::kDigestMismatch,
                             path + " does not hash to " + digest.ToString() +
                                 ": the blob was altered or corrupted");
    }
    return buffer;
  }

  base::Result<BlobHash, IoError> HashBlob(const Repository& repo,
                                           const Digest& digest) override {
    const std::string path = digest.BlobPath();
    TG_ASSIGN_OR_RETURN(base::UniqueFd fd,
                        OpenBeneath(repo.dir_fd.get(), path, resolution_));
    TG_ASSIGN_OR_RETURN(const uint64_t size, StatRegular(fd.get(), path));
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    const size_t chunk_size =
        static_cast<size_t>(std::min<uint64_t>(size, kHashChunkBytes));
    std::unique_ptr<uint8_t[]> chunk(
        new uint8_t[chunk_size == 0 ? 1 : chunk_size]);
    StreamingHasher hasher(digest.algorithm());
    uint64_t offset = 0;
    while (offset < size) {
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(size - offset, chunk_size));
      const ssize_t n = PreadFull(fd.get(), chunk.get(), want, offset);
      if (n < 0) {
        return base::MakeError(IoError::kReadError,
                               "cannot read " + path + ": " + ErrnoText(errno));
      }
      hasher.Update(base::ByteView(chunk.get(), static_cast<size_t>(n)));
      offset += static_cast<uint64_t>(n);
      if (static_cast<size_t>(n) < want) {
        TG_RETURN_IF_ERROR(CheckShrunk(fd.get(), offset, path));
        break;
      }
    }
    return BlobHash{hasher.Finish(), offset};
  }

 private:
  const PathResolution resolution_;
};

}  // namespace

// io/open_beneath.h: the open path above, shared with the io_uring reader.
namespace internal {

base::Result<base::UniqueFd, IoError> OpenBeneath(int dir_fd,
                                                  std::string_view path,
                                                  PathResolution resolution) {
  return io::OpenBeneath(dir_fd, path, resolution);
}

base::Result<uint64_t, IoError> StatRegular(int fd, std::string_view path) {
  return io::StatRegular(fd, path);
}

base::Status<IoError> CheckShrunk(int fd, uint64_t read_bytes,
                                  std::string_view path) {
  return io::CheckShrunk(fd, read_bytes, path);
}

}  // namespace internal

base::Result<Buffer, IoError> ReadFileAt(int dir_fd,
                                         std::string_view relative_path,
                                         size_t max_size,
                                         PathResolution resolution) {
  TG_ASSIGN_OR_RETURN(base::UniqueFd fd,
                      OpenBeneath(dir_fd, relative_path, resolution));
  return ReadOpened(fd.get(), relative_path, max_size);
}

std::unique_ptr<Reader> NewPreadReader() {
  return NewPreadReader(PathResolution::kAuto);
}

std::unique_ptr<Reader> NewPreadReader(PathResolution resolution) {
  return std::make_unique<PreadReader>(resolution);
}

}  // namespace trustgate::io
