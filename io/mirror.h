#pragma once

// Mirror discovery: every directory below the mirror root holding an
// `oci-layout` file is one repository (ARCHITECTURE.md: Mirror on disk).

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "io/error.h"

namespace trustgate::io {

// Repository is one OCI image layout below the mirror root.
struct Repository {
  // uri is the path relative to the mirror root ("payments/api"), prefixed
  // with "<host>/" when a registry host was given.
  std::string uri;
  // path is the layout directory.
  std::filesystem::path path;
  // dir_fd is an O_DIRECTORY descriptor of `path`, opened without following
  // symlinks; every file of the layout is opened relative to it.
  base::UniqueFd dir_fd;
  // layout_error is set when the `oci-layout` entry is not a regular file
  // holding {"imageLayoutVersion": "1.0.0"} (kSymlink, kNotRegularFile,
  // kMalformed, ...). Notation (oras-go) refuses such a layout outright, so
  // the engine should fail its artifacts rather than skip them silently.
  std::optional<base::Error<IoError>> layout_error;
};

// kMaxDiscoveryDepth bounds how deep below the mirror root repositories are
// searched; kMaxDiscoveryDirectories bounds how many directories are opened.
inline constexpr size_t kMaxDiscoveryDepth = 64;
inline constexpr size_t kMaxDiscoveryDirectories = 10'000'000;

// DiscoveryWarning is something skipped during discovery (a symlinked
// directory, an unreadable one), with the path and what to fix.
struct DiscoveryWarning {
  std::string path;
  std::string message;
};

// Discovery is the result of walking a mirror root.
struct Discovery {
  std::vector<Repository> repositories;  // sorted by uri
  std::vector<DiscoveryWarning> warnings;
};

// DiscoverRepositories walks `root` (never following symlinks, never
// leaving it) and returns every layout below it, the root included when it
// is a layout itself (its uri is then the root directory's name).
// `registry_host`, when non-empty, prefixes every uri. Fails only when the
// root itself cannot be opened as a directory.
//
// Details: `root` itself is resolved normally (it may be a symlink the
// operator chose); below it every directory is opened with openat(2) and
// O_NOFOLLOW, symlinked directories are skipped with a warning, and each
// (device, inode) is visited once. A directory with an `oci-layout` entry is
// a repository; its `blobs/` (and zot's `.uploads/`, `.sync/`) are not
// searched, but its other sub-directories are, since zot nests repositories
// (`a` and `a/b` can both be layouts). Repositories with a bad `oci-layout`
// are still returned, with layout_error set and a warning. Each returned
// Repository holds an open directory descriptor: a mirror with more
// repositories than the open-files limit needs a higher `ulimit -n` (the
// repositories beyond it are skipped with a warning).
base::Result<Discovery, IoError> DiscoverRepositories(
    const std::filesystem::path& root, std::string_view registry_host);

// OpenRepository opens a single layout directory as a Repository with the
// given uri (used by tests and by single-layout runs). `path` must not be a
// symlink itself (kSymlink); layout_error is set as by discovery.
base::Result<Repository, IoError> OpenRepository(
    const std::filesystem::path& path, std::string uri);

}  // namespace trustgate::io
