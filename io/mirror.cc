#include "io/mirror.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "io/oci.h"
#include "io/reader.h"

namespace trustgate::io {

namespace {

constexpr int kDirOpenFlags =
    O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK;
// The oci-layout file is tiny ({"imageLayoutVersion":"1.0.0"}).
constexpr size_t kLayoutFileMaxBytes = 64 * 1024;

// LayoutFileError reads the `oci-layout` file of the layout directory
// `dir_fd` (borrowed): nullopt when it is a valid image layout file, else
// why not.
std::optional<base::Error<IoError>> LayoutFileError(int dir_fd) {
  auto content = ReadFileAt(dir_fd, "oci-layout", kLayoutFileMaxBytes);
  if (!content.ok()) {
    return std::move(content).error();
  }
  auto valid = ParseImageLayoutFile(content->view());
  if (!valid.ok()) {
    return std::move(valid).error();
  }
  return std::nullopt;
}

std::string ErrnoText(int err) { return std::strerror(err); }

// DirEntryKind classifies a directory entry without following symlinks.
enum class EntryKind { kDirectory, kSymlinkToDirectory, kOther };

EntryKind Classify(int dir_fd, const dirent& entry) {
  unsigned char type = entry.d_type;
  if (type == DT_UNKNOWN) {
    struct stat st {};
    if (::fstatat(dir_fd, entry.d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return EntryKind::kOther;
    }
    type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : 0;
  }
  if (type == DT_DIR) {
    return EntryKind::kDirectory;
  }
  if (type == DT_LNK) {
    // Only to word the warning: stat (not open) what the link points to.
    struct stat st {};
    if (::fstatat(dir_fd, entry.d_name, &st, 0) == 0 && S_ISDIR(st.st_mode)) {
      return EntryKind::kSymlinkToDirectory;
    }
  }
  return EntryKind::kOther;
}

struct Walker {
  std::filesystem::path root;
  std::string host_prefix;  // "<host>/" or empty
  std::string root_name;    // uri of the root when it is a layout itself
  Discovery out;
  std::set<std::pair<dev_t, ino_t>> visited;
  size_t directories = 0;
  bool directory_limit_warned = false;

  void Warn(const std::string& rel, std::string message) {
    out.warnings.push_back(DiscoveryWarning{
        (rel.empty() ? root : root / rel).string(), std::move(message)});
  }

  // AddRepository records the layout at `rel` (dir_fd borrowed), checking
  // its oci-layout file.
  void AddRepository(int dir_fd, const std::string& rel) {
    const int fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      Warn(rel, "layout skipped: cannot keep its directory open (" +
                    ErrnoText(errno) +
                    "); raise the open-files limit (ulimit -n)");
      return;
    }
    Repository repo;
    repo.uri = host_prefix + (rel.empty() ? root_name : rel);
    repo.path = rel.empty() ? root : root / rel;
    repo.dir_fd = base::UniqueFd(fd);
    repo.layout_error = LayoutFileError(fd);
    if (repo.layout_error.has_value()) {
      Warn(rel, "invalid oci-layout file (" +
                    std::string(ToString(repo.layout_error->code)) + ": " +
                    repo.layout_error->detail +
                    "); Notation refuses this layout, so its artifacts "
                    "cannot verify: write {\"imageLayoutVersion\": "
                    "\"1.0.0\"} as a regular file");
    }
    out.repositories.push_back(std::move(repo));
  }

  // Walk visits the directory `dir` (owned) at `rel` ("" for the root).
  void Walk(base::UniqueFd dir, const std::string& rel, size_t depth) {
    struct stat st {};
    if (::fstat(dir.get(), &st) != 0) {
      Warn(rel, "cannot stat directory: " + ErrnoText(errno));
      return;
    }
    // A bind mount can make a directory its own descendant: visit each
    // directory (device, inode) once.
    if (!visited.emplace(st.st_dev, st.st_ino).second) {
      Warn(rel, "directory already visited (bind-mount loop?); skipped");
      return;
    }
    // ARCHITECTURE.md, Mirror on disk: a directory holding an `oci-layout`
    // entry is a repository. A symlinked or non-regular oci-layout still
    // marks the directory as a layout, flagged by layout_error, so that its
    // artifacts fail instead of silently disappearing.
    struct stat layout_st {};
    const bool is_layout = ::fstatat(dir.get(), "oci-layout", &layout_st,
                                     AT_SYMLINK_NOFOLLOW) == 0;
    if (is_layout) {
      AddRepository(dir.get(), rel);
    }

    DIR* stream = ::fdopendir(dir.get());
    if (stream == nullptr) {
      Warn(rel, "cannot list directory: " + ErrnoText(errno));
      return;
    }
    dir.Release();  // now owned by `stream`
    const int fd = ::dirfd(stream);
    std::vector<std::string> children;
    while (true) {
      errno = 0;
      const dirent* entry = ::readdir(stream);
      if (entry == nullptr) {
        if (errno != 0) {
          Warn(rel, "error while listing directory: " + ErrnoText(errno));
        }
        break;
      }
      const std::string_view name = entry->d_name;
      if (name == "." || name == "..") {
        continue;
      }
      // image-layout.md: blobs/ holds content, never layouts; zot keeps
      // uploads in progress in .uploads (and .sync for its sync extension).
      if (is_layout &&
          (name == "blobs" || name == ".uploads" || name == ".sync")) {
        continue;
      }
      switch (Classify(fd, *entry)) {
        case EntryKind::kDirectory:
          children.emplace_back(name);
          break;
        case EntryKind::kSymlinkToDirectory:
          Warn(rel.empty() ? std::string(name) : rel + "/" + std::string(name),
               "symlinked directory not followed (the mirror must not "
               "reach outside its root); replace it with a real directory "
               "if it holds repositories");
          break;
        case EntryKind::kOther:
          break;
      }
    }
    std::sort(children.begin(), children.end());
    for (const std::string& name : children) {
      const std::string child_rel = rel.empty() ? name : rel + "/" + name;
      if (depth + 1 > kMaxDiscoveryDepth) {
        Warn(child_rel, "deeper than " + std::to_string(kMaxDiscoveryDepth) +
                            " levels below the mirror root; not searched");
        continue;
      }
      if (directories >= kMaxDiscoveryDirectories) {
        if (!directory_limit_warned) {
          Warn(child_rel, "more than " +
                              std::to_string(kMaxDiscoveryDirectories) +
                              " directories below the mirror root; the rest "
                              "is not searched");
          directory_limit_warned = true;
        }
        break;
      }
      ++directories;
      int child = -1;
      do {
        child = ::openat(fd, name.c_str(), kDirOpenFlags);
      } while (child < 0 && errno == EINTR);
      if (child < 0) {
        const int err = errno;
        if (err == ENOTDIR || err == ELOOP) {
          Warn(child_rel,
               "replaced by a symlink or file while walking; "
               "not followed");
        } else {
          Warn(child_rel, "cannot open directory: " + ErrnoText(err));
        }
        continue;
      }
      Walk(base::UniqueFd(child), child_rel, depth + 1);
    }
    ::closedir(stream);
  }
};

// RootName is the name of the root directory itself ("/m/x/" -> "x").
std::string RootName(const std::filesystem::path& root) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(root, ec);
  if (ec) {
    p = root;
  }
  p = p.lexically_normal();
  if (p.filename().empty()) {
    p = p.parent_path();
  }
  return p.filename().string();
}

std::string HostPrefix(std::string_view host) {
  while (!host.empty() && host.back() == '/') {
    host.remove_suffix(1);
  }
  return host.empty() ? std::string() : std::string(host) + "/";
}

}  // namespace

base::Result<Discovery, IoError> DiscoverRepositories(
    const std::filesystem::path& root, std::string_view registry_host) {
  // The root is the path the operator named: it is resolved normally (it
  // may itself be a symlink, e.g. /srv/mirror -> /mnt/disk). Nothing below
  // it is ever followed.
  int fd = -1;
  do {
    fd = ::open(root.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECTORY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int err = errno;
    return base::MakeError(err == ENOENT    ? IoError::kNotFound
                           : err == ENOTDIR ? IoError::kNotRegularFile
                                            : IoError::kReadError,
                           "cannot open mirror root " + root.string() +
                               " as a directory: " + ErrnoText(err));
  }
  Walker walker;
  walker.root = root;
  walker.host_prefix = HostPrefix(registry_host);
  walker.root_name = RootName(root);
  walker.Walk(base::UniqueFd(fd), "", 0);
  std::stable_sort(
      walker.out.repositories.begin(), walker.out.repositories.end(),
      [](const Repository& a, const Repository& b) { return a.uri < b.uri; });
  return std::move(walker.out);
}

base::Result<Repository, IoError> OpenRepository(
    const std::filesystem::path& path, std::string uri) {
  // The layout directory itself must not be a symlink (O_NOFOLLOW on the
  // last component); the components above it are the operator's choice.
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOTDIR || err == ELOOP) {
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
        return base::MakeError(IoError::kSymlink,
                               path.string() +
                                   " is a symlink; name the layout "
                                   "directory itself");
      }
      return base::MakeError(IoError::kNotRegularFile,
                             path.string() + " is not a directory");
    }
    return base::MakeError(
        err == ENOENT ? IoError::kNotFound : IoError::kReadError,
        "cannot open layout " + path.string() + ": " + ErrnoText(err));
  }
  Repository repo;
  repo.uri = std::move(uri);
  repo.path = path;
  repo.dir_fd = base::UniqueFd(fd);
  repo.layout_error = LayoutFileError(fd);
  return repo;
}

}  // namespace trustgate::io
