#pragma once

// Mirror discovery: every directory below the mirror root holding an
// `oci-layout` file is one repository (ARCHITECTURE.md: Mirror on disk).

#include <filesystem>
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
};

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
base::Result<Discovery, IoError> DiscoverRepositories(
    const std::filesystem::path& root, std::string_view registry_host);

// OpenRepository opens a single layout directory as a Repository with the
// given uri (used by tests and by single-layout runs).
base::Result<Repository, IoError> OpenRepository(
    const std::filesystem::path& path, std::string uri);

}  // namespace trustgate::io
