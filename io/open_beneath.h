#pragma once

// Internal to io/: the open path the pread reader uses (io/reader.cc),
// shared with the io_uring reader (io/uring_reader.cc) so that both open,
// check and size files under exactly the same rules. Not for use outside
// io/.

#include <cstdint>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"
#include "io/error.h"
#include "io/reader.h"

namespace trustgate::io::internal {

// OpenBeneath opens the file at `path` below the directory `dir_fd`
// (borrowed) read-only, without following a symlink in any component and
// without leaving `dir_fd` (see ReadFileAt in io/reader.h for the codes).
// The descriptor is opened with O_NONBLOCK (a FIFO must not block the open);
// callers clear it once StatRegular has proven a regular file if they need
// blocking semantics.
base::Result<base::UniqueFd, IoError> OpenBeneath(int dir_fd,
                                                  std::string_view path,
                                                  PathResolution resolution);

// StatRegular checks that `fd` (borrowed) is a regular file and returns its
// size (kNotRegularFile, kReadError).
base::Result<uint64_t, IoError> StatRegular(int fd, std::string_view path);

// CheckShrunk is called when a read of `fd` ended after `read_bytes`, before
// the size fstat(2) first reported: it succeeds only when the file really
// shrank (a second fstat shows at most `read_bytes`), and is a kReadError
// otherwise (no silent truncation).
base::Status<IoError> CheckShrunk(int fd, uint64_t read_bytes,
                                  std::string_view path);

}  // namespace trustgate::io::internal
