#include "engine/plugin.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <simdjson.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <tbb/task.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "base/bytes.h"
#include "base/unique_fd.h"
#include "crypto/base64.h"
#include "engine/index.h"

extern char** environ;

namespace trustgate::engine {

namespace {

using base::MakeError;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kCapTrustedIdentity =
    "SIGNATURE_VERIFIER.TRUSTED_IDENTITY";
constexpr std::string_view kCapRevocationCheck =
    "SIGNATURE_VERIFIER.REVOCATION_CHECK";
constexpr std::string_view kCommandMetadata = "get-plugin-metadata";
constexpr std::string_view kCommandVerify = "verify-signature";
constexpr std::string_view kBinaryPrefix = "notation-";

// kMaxErrorText bounds plugin text quoted in our messages; kMaxReason
// bounds a verification result's reason.
constexpr size_t kMaxErrorText = 1024;
constexpr size_t kMaxReason = 4096;
// kMaxExecutableBytes bounds the executable we hash (the spec caps a
// plugin below 256 MiB; leave room for plugins installed by hand).
constexpr int64_t kMaxExecutableBytes = int64_t{1} << 30;

// --- small helpers ---

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) !=
      1) {
    return std::string();
  }
  return base::HexEncode(base::ByteView(md, len));
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Utf8Length returns the length of the valid UTF-8 sequence at s[i]
// (RFC 3629 §4: no overlong forms, no surrogates, at most U+10FFFF), or 0.
size_t Utf8Length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) {
    return 1;
  }
  size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) {
      lo = 0xa0;
    } else if (c == 0xed) {
      hi = 0x9f;
    }
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) {
      lo = 0x90;
    } else if (c == 0xf4) {
      hi = 0x8f;
    }
  } else {
    return 0;
  }
  if (i + n > s.size()) {
    return 0;
  }
  if (b(i + 1) < lo || b(i + 1) > hi) {
    return 0;
  }
  for (size_t k = 2; k < n; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xbf) {
      return 0;
    }
  }
  return n;
}

// Sanitize makes plugin text safe to quote in a one-line message: control
// characters become spaces, invalid UTF-8 '?', surrounding space is
// trimmed and the result is cut at `limit` bytes.
std::string Sanitize(std::string_view s, size_t limit = kMaxErrorText) {
  std::string out;
  out.reserve(std::min(s.size(), limit));
  for (size_t i = 0; i < s.size();) {
    if (out.size() >= limit) {
      out.append("...");
      break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      out.push_back(' ');
      ++i;
      continue;
    }
    const size_t n = Utf8Length(s, i);
    if (n == 0) {
      out.push_back('?');
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  const size_t first = out.find_first_not_of(' ');
  if (first == std::string::npos) {
    return std::string();
  }
  const size_t last = out.find_last_not_of(' ');
  return out.substr(first, last - first + 1);
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? "SIG" + std::string(abbrev) : std::to_string(sig);
}

std::optional<PluginCapability> CapabilityFromString(std::string_view s) {
  if (s == kCapTrustedIdentity) {
    return PluginCapability::kTrustedIdentity;
  }
  if (s == kCapRevocationCheck) {
    return PluginCapability::kRevocationCheck;
  }
  return std::nullopt;
}

// --- SemVer (notation-go internal/semver, golang.org/x/mod/semver) ---

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentChar(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         c == '-';
}
bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsDigit);
}
// NumericPart: 0|[1-9]\d*
bool IsNumericPart(std::string_view s) {
  return AllDigits(s) && (s.size() == 1 || s[0] != '0');
}

struct ParsedVersion {
  std::string_view major, minor, patch;
  std::vector<std::string_view> pre;  // pre-release identifiers
};

// SplitDots splits `s` at '.'; empty parts are kept (and rejected later).
std::vector<std::string_view> SplitDots(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    parts.push_back(s.substr(start, dot == std::string_view::npos
                                        ? std::string_view::npos
                                        : dot - start));
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return parts;
}

// ParseVersion applies the semver.org regular expression that notation-go
// uses (no "v" prefix).
std::optional<ParsedVersion> ParseVersion(std::string_view v) {
  std::string_view build;
  const size_t plus = v.find('+');
  if (plus != std::string_view::npos) {
    build = v.substr(plus + 1);
    v = v.substr(0, plus);
    // [0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*
    for (std::string_view part : SplitDots(build)) {
      if (part.empty() || !std::all_of(part.begin(), part.end(), IsIdentChar)) {
        return std::nullopt;
      }
    }
  }
  std::string_view pre;
  bool has_pre = false;
  const size_t dash = v.find('-');
  if (dash != std::string_view::npos) {
    pre = v.substr(dash + 1);
    v = v.substr(0, dash);
    has_pre = true;
  }
  const std::vector<std::string_view> core = SplitDots(v);
  if (core.size() != 3) {
    return std::nullopt;
  }
  for (std::string_view part : core) {
    if (!IsNumericPart(part)) {
      return std::nullopt;
    }
  }
  ParsedVersion out{core[0], core[1], core[2], {}};
  if (has_pre) {
    // (0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(...))*
    for (std::string_view part : SplitDots(pre)) {
      if (part.empty() || !std::all_of(part.begin(), part.end(), IsIdentChar)) {
        return std::nullopt;
      }
      if (AllDigits(part) && !IsNumericPart(part)) {
        return std::nullopt;
      }
      out.pre.push_back(part);
    }
  }
  return out;
}

// CompareNumbers compares decimal strings without leading zeros.
int CompareNumbers(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return a.size() < b.size() ? -1 : 1;
  }
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

int ComparePre(const std::vector<std::string_view>& a,
               const std::vector<std::string_view>& b) {
  // semver.org §11: no pre-release > any pre-release.
  if (a.empty() || b.empty()) {
    if (a.empty() && b.empty()) {
      return 0;
    }
    return a.empty() ? 1 : -1;
  }
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const bool an = AllDigits(a[i]);
    const bool bn = AllDigits(b[i]);
    int c = 0;
    if (an && bn) {
      c = CompareNumbers(a[i], b[i]);
    } else if (an != bn) {
      c = an ? -1 : 1;  // numeric identifiers sort first
    } else {
      const int r = a[i].compare(b[i]);
      c = r < 0 ? -1 : (r > 0 ? 1 : 0);
    }
    if (c != 0) {
      return c;
    }
  }
  if (a.size() == b.size()) {
    return 0;
  }
  return a.size() < b.size() ? -1 : 1;
}

// --- JSON reading (simdjson DOM, error codes, duplicate keys refused) ---

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// ReadObject collects an object's members, refusing duplicate keys.
bool ReadObject(object obj,
                std::vector<std::pair<std::string_view, element>>* members) {
  std::set<std::string_view> seen;
  for (auto field : obj) {
    if (!seen.insert(field.key).second) {
      return false;
    }
    members->emplace_back(field.key, field.value);
  }
  return true;
}

// ParseTopObject parses a plugin's whole answer as one JSON object with
// distinct member names into `members` (views into `parser`'s document).
// Returns what is wrong, or nullopt.
std::optional<std::string_view> ParseTopObject(
    std::string_view json, simdjson::dom::parser& parser,
    std::vector<std::pair<std::string_view, element>>* members) {
  element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return "the response is not JSON";
  }
  object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return "the response is not a JSON object";
  }
  if (!ReadObject(obj, members)) {
    return "the response repeats a member";
  }
  return std::nullopt;
}

// ReadOptionalString reads a Go string field: null or absent is "".
bool ReadGoString(element e, std::string* out) {
  if (e.is_null()) {
    out->clear();
    return true;
  }
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) {
    return false;
  }
  out->assign(s);
  return true;
}

// ReadGoStringArray reads a Go []string field: null is empty.
bool ReadGoStringArray(element e, std::vector<std::string>* out) {
  out->clear();
  if (e.is_null()) {
    return true;
  }
  array a;
  if (e.get_array().get(a) != simdjson::SUCCESS) {
    return false;
  }
  for (element item : a) {
    std::string_view s;
    if (item.get_string().get(s) != simdjson::SUCCESS) {
      return false;
    }
    out->emplace_back(s);
  }
  return true;
}

// --- process spawning ---

// WriteNoSigpipe writes like write(2) but a closed pipe yields EPIPE
// instead of a SIGPIPE for the process: the signal is blocked for the
// write and a SIGPIPE it raised is consumed.
ssize_t WriteNoSigpipe(int fd, const char* data, size_t size) {
  sigset_t pipe_set;
  sigset_t old_set;
  sigset_t pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  sigemptyset(&pending);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  const ssize_t n = ::write(fd, data, size);
  const int saved = errno;
  if (n < 0 && saved == EPIPE && !was_pending) {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  errno = saved;
  return n;
}

bool SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// Child owns a spawned process: unless Reap() collected it, the
// destructor kills its process group and reaps it, so no path leaves a
// process or a zombie behind.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      KillGroup();
      int status = 0;
      Reap(&status);
    }
  }
  pid_t pid() const { return pid_; }
  // KillGroup sends SIGKILL to the whole process group (the child is its
  // leader; while it is not reaped its id cannot be reused).
  void KillGroup() const {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
    }
  }
  // Reap waits for the child and returns its wait status.
  bool Reap(int* status) {
    while (true) {
      const pid_t r = ::waitpid(pid_, status, 0);
      if (r == pid_) {
        pid_ = -1;
        return true;
      }
      if (r < 0 && errno == EINTR) {
        continue;
      }
      pid_ = -1;
      return false;
    }
  }
  // Exited tells, without reaping, whether the child has terminated.
  bool Exited() const {
    siginfo_t info;
    std::memset(&info, 0, sizeof(info));
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info,
                 WEXITED | WNOHANG | WNOWAIT) != 0) {
      return errno == ECHILD;
    }
    return info.si_pid == pid_;
  }

 private:
  pid_t pid_;
};

// SpawnResources frees posix_spawn's attribute objects.
struct SpawnResources {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  bool actions_ok = false;
  bool attr_ok = false;
  ~SpawnResources() {
    if (actions_ok) {
      posix_spawn_file_actions_destroy(&actions);
    }
    if (attr_ok) {
      posix_spawnattr_destroy(&attr);
    }
  }
};

base::Error<PluginError> SysError(PluginError code, std::string_view what,
                                  int err) {
  return MakeError(code, std::string(what) + ": " + std::strerror(err));
}

}  // namespace

// --- names ---

std::string_view ToString(PluginCapability c) {
  return c == PluginCapability::kTrustedIdentity ? kCapTrustedIdentity
                                                 : kCapRevocationCheck;
}

std::string_view ToString(PluginError e) {
  switch (e) {
    case PluginError::kInvalidName:
      return "plugin-invalid-name";
    case PluginError::kNotInstalled:
      return "plugin-not-installed";
    case PluginError::kNotRegularFile:
      return "plugin-not-regular-file";
    case PluginError::kNotExecutable:
      return "plugin-not-executable";
    case PluginError::kSpawn:
      return "plugin-spawn-failed";
    case PluginError::kTimeout:
      return "plugin-timeout";
    case PluginError::kCrashed:
      return "plugin-crashed";
    case PluginError::kPluginError:
      return "plugin-error";
    case PluginError::kExitStatus:
      return "plugin-exit-status";
    case PluginError::kOutputTooLarge:
      return "plugin-output-too-large";
    case PluginError::kMalformedResponse:
      return "plugin-malformed-response";
    case PluginError::kInvalidMetadata:
      return "plugin-invalid-metadata";
    case PluginError::kInvalidVersion:
      return "plugin-invalid-version";
    case PluginError::kVersionTooLow:
      return "plugin-version-too-low";
    case PluginError::kNoVerifierCapability:
      return "plugin-no-verifier-capability";
    case PluginError::kResultMismatch:
      return "plugin-result-mismatch";
    case PluginError::kUnprocessedAttribute:
      return "plugin-unprocessed-attribute";
    case PluginError::kIo:
      return "plugin-io";
    case PluginError::kCache:
      return "plugin-cache";
  }
  return "plugin-error";
}

bool IsValidPluginVersion(std::string_view version) {
  return ParseVersion(version).has_value();
}

std::optional<int> ComparePluginVersions(std::string_view a,
                                         std::string_view b) {
  const auto pa = ParseVersion(a);
  const auto pb = ParseVersion(b);
  if (!pa || !pb) {
    return std::nullopt;
  }
  for (auto [x, y] :
       {std::pair{pa->major, pb->major}, std::pair{pa->minor, pb->minor},
        std::pair{pa->patch, pb->patch}}) {
    if (int c = CompareNumbers(x, y); c != 0) {
      return c;
    }
  }
  return ComparePre(pa->pre, pb->pre);
}

std::optional<std::chrono::milliseconds> ParsePluginDuration(
    std::string_view text) {
  if (text == "0") {
    return std::chrono::milliseconds(0);
  }
  struct Unit {
    std::string_view name;
    int64_t ms;
  };
  // Longest names first where one is a prefix of another ("ms" / "m").
  static constexpr Unit kUnits[] = {
      {"d", 86400000}, {"h", 3600000}, {"ms", 1}, {"m", 60000}, {"s", 1000}};
  constexpr int64_t kMax = int64_t{100} * 365 * 86400000;
  int64_t total = 0;
  int64_t last_unit = std::numeric_limits<int64_t>::max();
  size_t i = 0;
  if (text.empty()) {
    return std::nullopt;
  }
  while (i < text.size()) {
    int64_t n = 0;
    const size_t digits_start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (n > kMax) {
        return std::nullopt;
      }
      n = n * 10 + (text[i] - '0');
      ++i;
    }
    if (i == digits_start) {
      return std::nullopt;
    }
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(i, u.name.size()) == u.name &&
          (u.name != "m" || text.substr(i, 2) != "ms")) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr || unit->ms >= last_unit) {
      return std::nullopt;
    }
    i += unit->name.size();
    last_unit = unit->ms;
    if (n > kMax / unit->ms) {
      return std::nullopt;
    }
    total += n * unit->ms;
    if (total > kMax) {
      return std::nullopt;
    }
  }
  return std::chrono::milliseconds(total);
}

std::optional<std::pair<std::string, std::string>> ParsePluginConfigEntry(
    std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return std::nullopt;
  }
  return std::make_pair(std::string(text.substr(0, eq)),
                        std::string(text.substr(eq + 1)));
}

bool IsValidPluginName(std::string_view name) {
  if (name.empty() || name.size() > kMaxPluginNameBytes || name == "." ||
      name == "..") {
    return false;
  }
  return std::none_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return c == '/' || u < 0x20 || u == 0x7f;
  });
}

std::filesystem::path PluginExecutablePath(
    const std::filesystem::path& plugin_dir, std::string_view name) {
  // plugin-extensibility.md "Plugin installation path":
  // $PLUGIN_DIRECTORY/{plugin-name}/notation-{plugin-name}.
  return plugin_dir / std::string(name) /
         (std::string(kBinaryPrefix) + std::string(name));
}

std::filesystem::path DefaultPluginDir(
    const std::filesystem::path& config_dir) {
  return config_dir / "plugins";
}

bool PluginInfo::Has(PluginCapability c) const {
  return std::find(capabilities.begin(), capabilities.end(), c) !=
         capabilities.end();
}

bool PluginOutcome::Passed() const {
  return !error.has_value() && FirstEnforcedFailure() == nullptr;
}

const PluginCapabilityResult* PluginOutcome::FirstEnforcedFailure() const {
  for (const PluginCapabilityResult& r : results) {
    if (r.status == CheckStatus::kFail) {
      return &r;
    }
  }
  return nullptr;
}

namespace internal {

base::Result<PluginProcessOutput, PluginError> RunPluginProcess(
    const std::filesystem::path& executable, std::string_view command,
    std::string_view input, std::chrono::milliseconds timeout,
    size_t max_output_bytes) {
  const std::string path = executable.string();
  int fds[2];
  // O_CLOEXEC everywhere: another thread spawning at the same time must
  // not inherit our pipe ends (posix_spawn_file_actions_adddup2 clears the
  // flag on the child's 0, 1 and 2 only).
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return SysError(PluginError::kIo, "creating the stdin pipe", errno);
  }
  base::UniqueFd in_r(fds[0]);
  base::UniqueFd in_w(fds[1]);
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return SysError(PluginError::kIo, "creating the stdout pipe", errno);
  }
  base::UniqueFd out_r(fds[0]);
  base::UniqueFd out_w(fds[1]);
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return SysError(PluginError::kIo, "creating the stderr pipe", errno);
  }
  base::UniqueFd err_r(fds[0]);
  base::UniqueFd err_w(fds[1]);

  SpawnResources res;
  if (posix_spawn_file_actions_init(&res.actions) != 0) {
    return MakeError(PluginError::kSpawn, "posix_spawn_file_actions_init");
  }
  res.actions_ok = true;
  if (posix_spawnattr_init(&res.attr) != 0) {
    return MakeError(PluginError::kSpawn, "posix_spawnattr_init");
  }
  res.attr_ok = true;
  posix_spawn_file_actions_adddup2(&res.actions, in_r.get(), 0);
  posix_spawn_file_actions_adddup2(&res.actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&res.actions, err_w.get(), 2);
#if defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // Descriptors other threads opened without O_CLOEXEC stay with us.
  posix_spawn_file_actions_addclosefrom_np(&res.actions, 3);
#endif
  // Its own process group (a timeout kills the plugin and its children),
  // no blocked signals, default dispositions for the signals a parent may
  // ignore (SIGPIPE above all).
  posix_spawnattr_setflags(&res.attr, POSIX_SPAWN_SETPGROUP |
                                          POSIX_SPAWN_SETSIGMASK |
                                          POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&res.attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&res.attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD, SIGALRM,
                  SIGUSR1, SIGUSR2}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigdefault(&res.attr, &defaults);

  // plugin-extensibility.md "Plugin contract": the command is the first
  // argument; no shell is involved.
  std::string arg0 = path;
  std::string arg1(command);
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = -1;
  const int rc =
      posix_spawn(&pid, path.c_str(), &res.actions, &res.attr, argv, environ);
  if (rc != 0) {
    return SysError(PluginError::kSpawn, "starting " + path, rc);
  }
  Child child(pid);
  in_r.Reset();
  out_w.Reset();
  err_w.Reset();
  if (!SetNonBlocking(in_w.get()) || !SetNonBlocking(out_r.get()) ||
      !SetNonBlocking(err_r.get())) {
    return SysError(PluginError::kIo, "configuring the plugin's pipes", errno);
  }
  // A pidfd makes the child's exit pollable; without one (kernels before
  // 5.3) the loop wakes every 20 ms to ask waitid.
  base::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));

  PluginProcessOutput output;
  size_t written = 0;
  if (input.empty()) {
    in_w.Reset();
  }
  bool exited = false;
  const Clock::time_point deadline = Clock::now() + timeout;
  char buffer[65536];

  auto on_exit = [&] {
    exited = true;
    pidfd.Reset();
    // The leader is gone: whatever it left in its group goes too, so that
    // the pipes reach end of file.
    child.KillGroup();
  };
  // Drain reads what `fd` has; false on end of file or error (closed).
  auto drain = [&](base::UniqueFd& fd, std::string* into,
                   bool* too_large) -> void {
    while (true) {
      const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
      if (n > 0) {
        if (into->size() + static_cast<size_t>(n) > max_output_bytes) {
          *too_large = true;
          return;
        }
        into->append(buffer, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      }
      fd.Reset();  // end of file, or an error: nothing more will come
      return;
    }
  };

  while (out_r.valid() || err_r.valid() || !exited) {
    if (!exited && !pidfd.valid() && child.Exited()) {
      on_exit();
    }
    pollfd pfds[4];
    int n = 0;
    int in_i = -1, out_i = -1, err_i = -1, pid_i = -1;
    if (in_w.valid()) {
      in_i = n;
      pfds[n++] = pollfd{in_w.get(), POLLOUT, 0};
    }
    if (out_r.valid()) {
      out_i = n;
      pfds[n++] = pollfd{out_r.get(), POLLIN, 0};
    }
    if (err_r.valid()) {
      err_i = n;
      pfds[n++] = pollfd{err_r.get(), POLLIN, 0};
    }
    if (!exited && pidfd.valid()) {
      pid_i = n;
      pfds[n++] = pollfd{pidfd.get(), POLLIN, 0};
    }
    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      child.KillGroup();
      return MakeError(
          PluginError::kTimeout,
          "no answer within " + std::to_string(timeout.count()) +
              " ms (--plugin-timeout); the plugin's process group was killed");
    }
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    if (!exited && !pidfd.valid()) {
      wait = std::min(wait, std::chrono::milliseconds(20));
    }
    const int r = ::poll(pfds, static_cast<nfds_t>(n),
                         static_cast<int>(std::min<int64_t>(
                             wait.count(), std::numeric_limits<int>::max())));
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      return SysError(PluginError::kIo, "waiting for the plugin", errno);
    }
    if (in_i >= 0 && pfds[in_i].revents != 0) {
      const size_t chunk = std::min<size_t>(input.size() - written, 65536);
      const ssize_t w =
          WriteNoSigpipe(in_w.get(), input.data() + written, chunk);
      if (w > 0) {
        written += static_cast<size_t>(w);
        if (written == input.size()) {
          in_w.Reset();  // end of the request
        }
      } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                 errno != EINTR) {
        // EPIPE: the plugin stopped reading; its answer decides (Go's
        // os/exec ignores this error too).
        in_w.Reset();
      }
    }
    bool too_large = false;
    if (out_i >= 0 && pfds[out_i].revents != 0) {
      drain(out_r, &output.out, &too_large);
    }
    if (err_i >= 0 && pfds[err_i].revents != 0 && !too_large) {
      drain(err_r, &output.err, &too_large);
    }
    if (too_large) {
      child.KillGroup();
      return MakeError(PluginError::kOutputTooLarge,
                       "the plugin wrote more than " +
                           std::to_string(max_output_bytes) +
                           " bytes (the plugin contract's 64 MiB limit); "
                           "its process group was killed");
    }
    if (pid_i >= 0 && (pfds[pid_i].revents & (POLLIN | POLLHUP)) != 0) {
      on_exit();
    }
  }
  int status = 0;
  if (!child.Reap(&status)) {
    return SysError(PluginError::kIo, "collecting the plugin's exit status",
                    errno);
  }
  if (WIFSIGNALED(status)) {
    output.signal = WTERMSIG(status);
  } else {
    output.exit_code = WEXITSTATUS(status);
  }
  return output;
}

namespace {

using OrderedJson = nlohmann::ordered_json;

// ConfigJson returns the pluginConfig object (keys in byte order, as Go
// marshals a map[string]string).
OrderedJson ConfigJson(const PluginConfig& config) {
  OrderedJson j = OrderedJson::object();
  for (const auto& [k, v] : config) {
    j[k] = v;
  }
  return j;
}

// Dump serializes a request; invalid UTF-8 becomes U+FFFD, as Go's
// encoding/json does.
std::string Dump(const OrderedJson& j) {
  return j.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

}  // namespace

std::string BuildMetadataRequest(const PluginConfig* config) {
  // notation-plugin-framework-go GetMetadataRequest: pluginConfig,
  // omitted when empty.
  OrderedJson j = OrderedJson::object();
  if (config != nullptr && !config->empty()) {
    j["pluginConfig"] = ConfigJson(*config);
  }
  return Dump(j);
}

std::string BuildVerifySignatureRequest(
    const PluginCall& call, std::span<const PluginCapability> asked) {
  const crypto::Envelope& e = *call.envelope;
  // plugin-extensibility.md "verify-signature command" request;
  // notation-plugin-framework-go VerifySignatureRequest; values as
  // notation-go executePlugin fills them.
  OrderedJson critical = OrderedJson::object();
  critical["contentType"] = e.content_type;
  critical["signingScheme"] = crypto::ToString(e.scheme);
  if (e.expiry) {
    critical["expiry"] = base::FormatRfc3339(*e.expiry);
  }
  // notation-go: the authentic signing time only under the
  // signingAuthority scheme.
  if (e.scheme == crypto::SigningScheme::kX509SigningAuthority &&
      e.authentic_signing_time) {
    critical["authenticSigningTime"] =
        base::FormatRfc3339(*e.authentic_signing_time);
  }
  critical["verificationPlugin"] = call.plugin;
  if (call.min_version) {
    critical["verificationPluginMinVersion"] = *call.min_version;
  }
  // Extended attributes: every one with a text key, critical or not
  // (notation-go getNonPluginExtendedCriticalAttributes keeps them all; the
  // plugin attributes are not among them, see crypto/envelope.h). A JSON
  // object: keys in byte order, as Go marshals a map.
  std::vector<const crypto::ExtendedAttribute*> attributes;
  for (const crypto::ExtendedAttribute& a : e.extended_attributes) {
    if (!a.integer_label) {
      attributes.push_back(&a);
    }
  }
  OrderedJson unprocessed = OrderedJson::array();
  if (!attributes.empty()) {
    std::vector<const crypto::ExtendedAttribute*> sorted = attributes;
    std::stable_sort(
        sorted.begin(), sorted.end(),
        [](const auto* x, const auto* y) { return x->key < y->key; });
    OrderedJson extended = OrderedJson::object();
    for (const crypto::ExtendedAttribute* a : sorted) {
      // `value` is JSON text (crypto/envelope.h); anything else is sent as
      // the string it is.
      OrderedJson value =
          a->value.empty()
              ? OrderedJson(nullptr)
              : OrderedJson::parse(a->value, nullptr, /*allow_exceptions=*/
                                   false);
      if (value.is_discarded()) {
        value = a->value;
      }
      extended[a->key] = std::move(value);
    }
    critical["extendedAttributes"] = std::move(extended);
    for (const crypto::ExtendedAttribute* a : attributes) {
      unprocessed.push_back(a->key);
    }
  }
  // certificateChain: Go marshals [][]byte as standard base64 strings.
  OrderedJson chain = OrderedJson::array();
  for (const base::Bytes& der : e.certificate_der) {
    chain.push_back(
        crypto::EncodeBase64(der, crypto::Base64Variant::kStandardPadded));
  }
  OrderedJson signature = OrderedJson::object();
  signature["criticalAttributes"] = std::move(critical);
  signature["unprocessedAttributes"] = std::move(unprocessed);
  signature["certificateChain"] = std::move(chain);
  OrderedJson identities = OrderedJson::array();
  for (const policy::TrustedIdentity& t : call.trusted_identities) {
    identities.push_back(t.raw);
  }
  OrderedJson capabilities = OrderedJson::array();
  for (PluginCapability c : asked) {
    capabilities.push_back(ToString(c));
  }
  OrderedJson policy = OrderedJson::object();
  policy["trustedIdentities"] = std::move(identities);
  policy["signatureVerification"] = std::move(capabilities);
  OrderedJson j = OrderedJson::object();
  j["contractVersion"] = kPluginContractVersion;
  j["signature"] = std::move(signature);
  j["trustPolicy"] = std::move(policy);
  if (call.config != nullptr && !call.config->empty()) {
    j["pluginConfig"] = ConfigJson(*call.config);
  }
  return Dump(j);
}

base::Result<PluginInfo, PluginError> ParseMetadataResponse(
    std::string_view name, std::string_view json) {
  const std::string prefix = "plugin " + Quote(name) + " get-plugin-metadata: ";
  auto malformed = [&](std::string_view why) {
    return MakeError(PluginError::kMalformedResponse,
                     prefix + std::string(why) +
                         " (output: " + Quote(Sanitize(json, 200)) + ")");
  };
  simdjson::dom::parser parser;
  std::vector<std::pair<std::string_view, element>> members;
  if (auto problem = ParseTopObject(json, parser, &members)) {
    return malformed(*problem);
  }
  PluginInfo info;
  std::vector<std::string> contracts;
  std::vector<std::string> capabilities;
  // notation-plugin-framework-go GetMetadataResponse (Go decoding: null is
  // the zero value, unknown members are ignored).
  for (const auto& [key, value] : members) {
    bool ok = true;
    if (key == "name") {
      ok = ReadGoString(value, &info.name);
    } else if (key == "description") {
      ok = ReadGoString(value, &info.description);
    } else if (key == "version") {
      ok = ReadGoString(value, &info.version);
    } else if (key == "url") {
      ok = ReadGoString(value, &info.url);
    } else if (key == "supportedContractVersions") {
      ok = ReadGoStringArray(value, &contracts);
    } else if (key == "capabilities") {
      ok = ReadGoStringArray(value, &capabilities);
    }
    if (!ok) {
      return malformed("member " + Quote(key) + " has the wrong type");
    }
  }
  // notation-go plugin.validate, in its order.
  auto invalid = [&](const std::string& why) {
    return MakeError(PluginError::kInvalidMetadata, prefix + why);
  };
  if (info.name.empty()) {
    return invalid("empty name");
  }
  if (info.description.empty()) {
    return invalid("empty description");
  }
  if (info.version.empty()) {
    return invalid("empty version");
  }
  if (info.url.empty()) {
    return invalid("empty url");
  }
  if (capabilities.empty()) {
    return invalid("empty capabilities");
  }
  if (contracts.empty()) {
    return invalid("supported contract versions not specified");
  }
  if (std::find(contracts.begin(), contracts.end(), kPluginContractVersion) ==
      contracts.end()) {
    return invalid(
        "contract version \"1.0\" is not among the plugin's "
        "supported contract versions");
  }
  if (info.name != name) {
    return invalid("the plugin calls itself " + Quote(Sanitize(info.name)) +
                   "; its executable must be named " +
                   Quote(std::string(kBinaryPrefix) + Sanitize(info.name)));
  }
  info.description = Sanitize(info.description);
  info.url = Sanitize(info.url);
  // notation-go processSignature: the plugin version must be SemVer.
  if (!IsValidPluginVersion(info.version)) {
    return MakeError(PluginError::kInvalidVersion,
                     prefix + "version " + Quote(Sanitize(info.version)) +
                         " is not a valid SemVer version");
  }
  // Only the verification capabilities matter here.
  for (const std::string& c : capabilities) {
    const auto cap = CapabilityFromString(c);
    if (cap && !info.Has(*cap)) {
      info.capabilities.push_back(*cap);
    }
  }
  if (info.capabilities.empty()) {
    return MakeError(PluginError::kNoVerifierCapability,
                     prefix + "the signature requires plugin " + Quote(name) +
                         " with signature verification capabilities (" +
                         std::string(kCapTrustedIdentity) + " and/or " +
                         std::string(kCapRevocationCheck) + ") installed");
  }
  return info;
}

void ProcessVerifyResponse(const PluginCall& call,
                           std::span<const PluginCapability> asked,
                           std::string_view json, PluginOutcome* out) {
  const std::string prefix =
      "plugin " + Quote(call.plugin) + " verify-signature: ";
  auto fail = [&](PluginError code, const std::string& why) {
    out->results.clear();
    out->error = MakeError(code, prefix + why);
  };
  auto malformed = [&](const std::string& why) {
    fail(PluginError::kMalformedResponse,
         why + " (output: " + Quote(Sanitize(json, 200)) + ")");
  };
  out->results.clear();
  out->processed_attributes.clear();
  simdjson::dom::parser parser;
  std::vector<std::pair<std::string_view, element>> members;
  if (auto problem = ParseTopObject(json, parser, &members)) {
    return malformed(std::string(*problem));
  }
  // notation-plugin-framework-go VerifySignatureResponse.
  std::vector<std::pair<std::string_view, element>> results;
  for (const auto& [key, value] : members) {
    if (key == "verificationResults") {
      if (value.is_null()) {
        continue;
      }
      object r;
      if (value.get_object().get(r) != simdjson::SUCCESS) {
        return malformed("verificationResults is not an object");
      }
      if (!ReadObject(r, &results)) {
        return malformed("verificationResults repeats a capability");
      }
    } else if (key == "processedAttributes") {
      if (value.is_null()) {
        continue;
      }
      array a;
      if (value.get_array().get(a) != simdjson::SUCCESS) {
        return malformed("processedAttributes is not an array");
      }
      // Go decodes []interface{}: only strings can name an attribute.
      for (element item : a) {
        std::string_view s;
        if (item.get_string().get(s) == simdjson::SUCCESS) {
          out->processed_attributes.emplace_back(s);
        }
      }
    }
  }
  // plugin-extensibility.md "Verification workflow using plugin" 6.1: the
  // keys must match the capabilities asked for, no more and no fewer.
  std::set<std::string_view> asked_names;
  for (PluginCapability c : asked) {
    asked_names.insert(ToString(c));
  }
  std::set<std::string_view> got_names;
  for (const auto& [key, value] : results) {
    got_names.insert(key);
  }
  if (got_names != asked_names) {
    std::string got;
    for (std::string_view k : got_names) {
      got += (got.empty() ? "" : ", ") + Quote(Sanitize(k, 100));
    }
    std::string want;
    for (std::string_view k : asked_names) {
      want += (want.empty() ? "" : ", ") + Quote(k);
    }
    return fail(PluginError::kResultMismatch, "verificationResults answers [" +
                                                  got + "] but [" + want +
                                                  "] was asked");
  }
  // 6.3 (notation-go checks it first): every attribute we could not
  // process must come back processed.
  for (const crypto::ExtendedAttribute& a :
       call.envelope->extended_attributes) {
    if (a.integer_label) {
      continue;
    }
    if (std::find(out->processed_attributes.begin(),
                  out->processed_attributes.end(),
                  a.key) == out->processed_attributes.end()) {
      return fail(PluginError::kUnprocessedAttribute,
                  "extended attribute " + Quote(a.key) +
                      " was not processed by the plugin (every extended "
                      "attribute must be processed by the verification "
                      "plugin)");
    }
  }
  // 6.2: each result, in the order asked.
  for (PluginCapability c : asked) {
    std::optional<element> value;
    for (const auto& [key, v] : results) {
      if (key == ToString(c)) {
        value = v;
      }
    }
    if (!value || value->is_null()) {
      // notation-go: a nil result "failed to verify".
      return fail(PluginError::kResultMismatch,
                  "no result for " + std::string(ToString(c)));
    }
    object r;
    if (value->get_object().get(r) != simdjson::SUCCESS) {
      return malformed("the result for " + std::string(ToString(c)) +
                       " is not an object");
    }
    std::vector<std::pair<std::string_view, element>> fields;
    if (!ReadObject(r, &fields)) {
      return malformed("the result for " + std::string(ToString(c)) +
                       " repeats a member");
    }
    PluginCapabilityResult result;
    result.capability = c;
    for (const auto& [key, v] : fields) {
      if (key == "success") {
        if (v.is_null()) {
          continue;
        }
        bool b = false;
        if (v.get_bool().get(b) != simdjson::SUCCESS) {
          return malformed("success for " + std::string(ToString(c)) +
                           " is not a boolean");
        }
        result.success = b;
      } else if (key == "reason") {
        std::string reason;
        if (!ReadGoString(v, &reason)) {
          return malformed("reason for " + std::string(ToString(c)) +
                           " is not a string");
        }
        result.reason = Sanitize(reason, kMaxReason);
      }
    }
    // A TRUSTED_IDENTITY failure is an authenticity failure, a
    // REVOCATION_CHECK failure a revocation failure (notation-go
    // processPluginResponse), each with its action.
    result.action = c == PluginCapability::kTrustedIdentity
                        ? call.trusted_identity_action
                        : call.revocation_action;
    if (result.success) {
      result.status = CheckStatus::kPass;
    } else if (result.action == policy::Action::kEnforce) {
      result.status = CheckStatus::kFail;
    } else if (result.action == policy::Action::kLog) {
      result.status = CheckStatus::kLogged;
    } else {
      result.status = CheckStatus::kSkipped;
    }
    out->results.push_back(std::move(result));
  }
}

base::Error<PluginError> PluginErrorText(std::string_view name,
                                         std::string_view command,
                                         const PluginProcessOutput& output) {
  const std::string who =
      "plugin " + Quote(name) + " " + std::string(command) + ": ";
  const std::string err_text = Sanitize(output.err);
  if (output.signal != 0) {
    return MakeError(
        PluginError::kCrashed,
        who + "killed by signal " + SignalName(output.signal) +
            (err_text.empty() ? "" : " (stderr: " + err_text + ")"));
  }
  // plugin-extensibility.md "Plugin contract": a non-zero exit with an
  // optional {"errorCode", "errorMessage", "errorMetadata"} on stderr
  // (notation-go proto.RequestError: at least one of them).
  simdjson::dom::parser parser;
  element root;
  object obj;
  std::vector<std::pair<std::string_view, element>> members;
  if (!output.err.empty() &&
      parser.parse(output.err.data(), output.err.size()).get(root) ==
          simdjson::SUCCESS &&
      root.get_object().get(obj) == simdjson::SUCCESS &&
      ReadObject(obj, &members)) {
    std::string code;
    std::string message;
    std::string metadata;
    bool ok = true;
    bool any = false;
    for (const auto& [key, value] : members) {
      if (key == "errorCode") {
        ok = ok && ReadGoString(value, &code);
        any = any || !code.empty();
      } else if (key == "errorMessage") {
        ok = ok && ReadGoString(value, &message);
        any = any || !message.empty();
      } else if (key == "errorMetadata") {
        object m;
        if (value.is_null()) {
          continue;
        }
        if (value.get_object().get(m) != simdjson::SUCCESS) {
          ok = false;
          continue;
        }
        any = true;
        for (auto field : m) {
          std::string_view v;
          if (field.value.get_string().get(v) != simdjson::SUCCESS) {
            ok = false;
            break;
          }
          metadata += (metadata.empty() ? "" : ", ") +
                      Sanitize(field.key, 100) + "=" + Sanitize(v, 200);
        }
      }
    }
    if (ok && any) {
      std::string text = Sanitize(code, 100);
      if (!message.empty()) {
        text += (text.empty() ? "" : ": ") + Sanitize(message);
      }
      if (!metadata.empty()) {
        text += " (" + metadata + ")";
      }
      return MakeError(PluginError::kPluginError, who + text);
    }
  }
  return MakeError(
      PluginError::kExitStatus,
      who + "exited with status " + std::to_string(output.exit_code) +
          (err_text.empty() ? " and no error message" : ": " + err_text));
}

}  // namespace internal

// --- the runner ---

namespace {

// Completion is a one-shot event that waiters await either by suspending
// their oneTBB task or by blocking their thread.
class Completion {
 public:
  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  void WaitBlocking() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
  }
  void WaitSuspended() {
    tbb::task::suspend([this](tbb::task::suspend_point tag) {
      bool resume_now = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (done_) {
          resume_now = true;
        } else {
          tags_.push_back(tag);
        }
      }
      if (resume_now) {
        tbb::task::resume(tag);
      }
    });
  }
  // Done wakes every waiter. Nothing of *this is touched after the lock
  // is released: a woken waiter may destroy it at once.
  void Done() {
    std::vector<tbb::task::suspend_point> tags;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      tags.swap(tags_);
      cv_.notify_all();
    }
    for (tbb::task::suspend_point tag : tags) {
      tbb::task::resume(tag);
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::vector<tbb::task::suspend_point> tags_;
};

struct MetadataEntry {
  Completion completion;
  std::optional<base::Result<PluginInfo, PluginError>> result;
};

struct Flight {
  Completion completion;
  std::optional<base::Result<internal::PluginProcessOutput, PluginError>>
      result;
};

bool InTbbTask() {
  return tbb::this_task_arena::current_thread_index() !=
         tbb::task_arena::not_initialized;
}

}  // namespace

struct PluginRunner::Impl {
  PluginRunnerOptions options;

  // Dispatcher: the only threads that run plugin processes.
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<std::function<void()>> queue;
  bool stopping = false;
  std::vector<std::thread> threads;
  std::once_flag started;

  std::mutex index_mu;
  std::optional<VerdictIndex> index;

  std::mutex meta_mu;
  std::map<std::string, std::shared_ptr<MetadataEntry>> metadata;

  std::mutex flight_mu;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights;

  std::mutex warn_mu;
  std::vector<std::string> warnings;
  std::set<std::string> warned;

  std::atomic<uint64_t> metadata_invocations{0};
  std::atomic<uint64_t> metadata_cache_hits{0};
  std::atomic<uint64_t> verify_invocations{0};
  std::atomic<uint64_t> verify_cache_hits{0};
  std::atomic<uint64_t> shared_invocations{0};
  std::atomic<uint64_t> cache_writes{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> max_concurrent{0};
  std::atomic<uint64_t> suspended_waits{0};
  std::atomic<uint64_t> blocked_waits{0};
  std::atomic<uint64_t> alive{0};
  std::atomic<size_t> suspended{0};

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(queue_mu);
      stopping = true;
    }
    queue_cv.notify_all();
    for (std::thread& t : threads) {
      t.join();
    }
  }

  void Start(size_t jobs) {
    for (size_t i = 0; i < jobs; ++i) {
      threads.emplace_back([this] { Loop(); });
    }
  }

  void Loop() {
    // A plugin that stops reading its stdin must not kill us: SIGPIPE
    // stays blocked on the dispatcher threads (WriteNoSigpipe consumes
    // what it raises).
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(queue_mu);
        queue_cv.wait(lock, [this] { return stopping || !queue.empty(); });
        if (queue.empty()) {
          return;
        }
        job = std::move(queue.front());
        queue.pop_front();
      }
      job();
    }
  }

  void Post(std::function<void()> job) {
    // The dispatcher threads start with the first plugin call: a run
    // whose signatures name no plugin starts none.
    std::call_once(started, [this] { Start(options.jobs); });
    {
      std::lock_guard<std::mutex> lock(queue_mu);
      queue.push_back(std::move(job));
    }
    queue_cv.notify_one();
  }

  // Wait waits for `c` as the batch model says.
  void Wait(Completion& c) {
    if (c.done()) {
      return;
    }
    if (options.wait == WaitMode::kSuspendTbbTask && InTbbTask()) {
      if (suspended.fetch_add(1) < options.max_suspended) {
        suspended_waits.fetch_add(1);
        c.WaitSuspended();
        suspended.fetch_sub(1);
        return;
      }
      suspended.fetch_sub(1);
    }
    blocked_waits.fetch_add(1);
    c.WaitBlocking();
  }

  void Warn(const std::string& kind, const std::string& text) {
    std::lock_guard<std::mutex> lock(warn_mu);
    if (warned.insert(kind).second) {
      warnings.push_back(text);
    }
  }

  bool CacheEnabled() const {
    return index.has_value() && options.cache_ttl.count() > 0;
  }

  // Fresh: an answer stored at `stored` may be reused at `now`.
  bool Fresh(base::Time stored, base::Time now) const {
    return stored <= now && now - stored < options.cache_ttl;
  }

  std::optional<std::string> CacheLookup(const PluginCacheKey& key,
                                         base::Time now) {
    if (!CacheEnabled()) {
      return std::nullopt;
    }
    std::lock_guard<std::mutex> lock(index_mu);
    auto r = index->LookupPluginResponse(key);
    if (!r.ok()) {
      Warn("cache-read",
           "plugin cache: " + r.detail() + " (answers are not reused)");
      return std::nullopt;
    }
    if (!r->has_value() || !Fresh((*r)->stored_at, now)) {
      return std::nullopt;
    }
    return std::move((*r)->response);
  }

  void CacheStore(const PluginCacheKey& key, const std::string& response,
                  base::Time now) {
    if (!CacheEnabled() || response.size() > kMaxCachedPluginResponseBytes ||
        response.empty()) {
      return;
    }
    CachedPluginResponse entry{key, response, now};
    std::lock_guard<std::mutex> lock(index_mu);
    auto r = index->StorePluginResponse(entry);
    if (!r.ok()) {
      Warn("cache-write", "plugin cache: " + r.detail() +
                              " (answers of this run are not kept)");
      return;
    }
    cache_writes.fetch_add(1);
  }

  // Run runs one plugin process on the calling (dispatcher) thread,
  // keeping the concurrency statistics.
  base::Result<internal::PluginProcessOutput, PluginError> Run(
      const std::filesystem::path& exe, std::string_view command,
      std::string_view input) {
    const uint64_t now_alive = alive.fetch_add(1) + 1;
    uint64_t seen = max_concurrent.load();
    while (now_alive > seen &&
           !max_concurrent.compare_exchange_weak(seen, now_alive)) {
    }
    auto r = internal::RunPluginProcess(exe, command, input, options.timeout,
                                        options.max_output_bytes);
    alive.fetch_sub(1);
    if (!r.ok() && r.code() == PluginError::kTimeout) {
      timeouts.fetch_add(1);
    }
    return r;
  }

  // Locate checks the executable and returns its SHA-256.
  base::Result<std::string, PluginError> Locate(std::string_view name,
                                                std::filesystem::path* exe) {
    *exe = PluginExecutablePath(options.plugin_dir, name);
    const std::string path = exe->string();
    const std::string dir = (options.plugin_dir / std::string(name)).string();
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      const int err = errno;
      // The spec's step 1: the plugin named by the signature must exist.
      return MakeError(
          PluginError::kNotInstalled,
          "the signature requires verification plugin " + Quote(name) +
              ", which is not installed: expected the executable " + path +
              " (" + std::strerror(err) + "); install the plugin in " + dir +
              " or point --plugin-dir at the directory that holds " +
              Quote(name));
    }
    if (S_ISLNK(st.st_mode)) {
      return MakeError(PluginError::kNotRegularFile,
                       "verification plugin " + Quote(name) + ": " + path +
                           " is a symbolic link; plugin executables must be "
                           "regular files (plugin-extensibility.md)");
    }
    if (!S_ISREG(st.st_mode)) {
      return MakeError(PluginError::kNotRegularFile,
                       "verification plugin " + Quote(name) + ": " + path +
                           " is not a regular file");
    }
    if ((st.st_mode & 0111) == 0 || ::access(path.c_str(), X_OK) != 0) {
      return MakeError(PluginError::kNotExecutable,
                       "verification plugin " + Quote(name) + ": " + path +
                           " is not executable (chmod +x it)");
    }
    base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
      return SysError(PluginError::kIo, "reading " + path, errno);
    }
    struct stat fst;
    if (::fstat(fd.get(), &fst) != 0 || !S_ISREG(fst.st_mode)) {
      return MakeError(PluginError::kNotRegularFile,
                       "verification plugin " + Quote(name) + ": " + path +
                           " is not a regular file");
    }
    if (fst.st_size > kMaxExecutableBytes) {
      return MakeError(PluginError::kIo, "verification plugin " + Quote(name) +
                                             ": " + path +
                                             " is larger than 1 GiB");
    }
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
      EVP_MD_CTX_free(ctx);
      return MakeError(PluginError::kIo, "SHA-256 unavailable");
    }
    std::vector<char> buffer(size_t{1} << 20);
    int64_t total = 0;
    while (true) {
      const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        const int err = errno;
        EVP_MD_CTX_free(ctx);
        return SysError(PluginError::kIo, "reading " + path, err);
      }
      if (n == 0) {
        break;
      }
      total += n;
      if (total > kMaxExecutableBytes) {
        EVP_MD_CTX_free(ctx);
        return MakeError(PluginError::kIo, path + " is larger than 1 GiB");
      }
      EVP_DigestUpdate(ctx, buffer.data(), static_cast<size_t>(n));
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    return base::HexEncode(base::ByteView(md, len));
  }

  // ReadMetadata: locate, then the cache, then get-plugin-metadata. Runs
  // on a dispatcher thread.
  base::Result<PluginInfo, PluginError> ReadMetadata(std::string_view name,
                                                     const std::string& request,
                                                     base::Time now) {
    std::filesystem::path exe;
    TG_ASSIGN_OR_RETURN(std::string sha, Locate(name, &exe));
    const PluginCacheKey key{
        std::string(name), std::string(kCommandMetadata), "", sha, "",
        Sha256Hex(request)};
    if (auto cached = CacheLookup(key, now)) {
      auto info = internal::ParseMetadataResponse(name, *cached);
      if (info.ok()) {
        metadata_cache_hits.fetch_add(1);
        info->executable_sha256 = sha;
        return info;
      }
    }
    metadata_invocations.fetch_add(1);
    auto run = Run(exe, kCommandMetadata, request);
    if (!run.ok()) {
      return MakeError(run.code(), "plugin " + Quote(name) + " " +
                                       std::string(kCommandMetadata) + ": " +
                                       run.detail());
    }
    const internal::PluginProcessOutput& output = *run;
    if (output.signal != 0 || output.exit_code != 0) {
      return internal::PluginErrorText(name, kCommandMetadata, output);
    }
    TG_ASSIGN_OR_RETURN(PluginInfo info,
                        internal::ParseMetadataResponse(name, output.out));
    info.executable_sha256 = sha;
    CacheStore(key, output.out, now);
    return info;
  }

  base::Result<PluginInfo, PluginError> Resolve(
      std::string_view name, std::optional<std::string_view> min_version,
      const PluginConfig* config, base::Time now) {
    if (!IsValidPluginName(name)) {
      return MakeError(PluginError::kInvalidName,
                       "the signature names verification plugin " +
                           Quote(Sanitize(name, 300)) +
                           ", which is not a valid plugin name (one path "
                           "component without '/' or control characters)");
    }
    // notation-go getVerificationPluginMinVersion: SemVer, checked before
    // the plugin is looked for.
    if (min_version && !IsValidPluginVersion(*min_version)) {
      return MakeError(
          PluginError::kInvalidVersion,
          "the signature's " +
              std::string(crypto::kHeaderVerificationPluginMinVersion) + " " +
              Quote(Sanitize(*min_version, 300)) +
              " is not a valid SemVer version");
    }
    const std::string request = internal::BuildMetadataRequest(config);
    std::string key(name);
    key.push_back('\0');
    key += request;
    std::shared_ptr<MetadataEntry> entry;
    bool leader = false;
    {
      std::lock_guard<std::mutex> lock(meta_mu);
      auto& slot = metadata[key];
      if (slot == nullptr) {
        slot = std::make_shared<MetadataEntry>();
        leader = true;
      }
      entry = slot;
    }
    if (leader) {
      // The dispatcher signals the entry itself: a waiter never depends on
      // the leader's (possibly suspended) task being resumed, so blocked
      // workers cannot starve it.
      Post([&, entry] {
        entry->result = ReadMetadata(name, request, now);
        entry->completion.Done();  // nothing of the leader's is used after
      });
    }
    Wait(entry->completion);
    const base::Result<PluginInfo, PluginError>& info = *entry->result;
    if (!info.ok()) {
      return info.error();
    }
    // notation-go isRequiredVerificationPluginVer.
    if (min_version) {
      const auto c = ComparePluginVersions(info->version, *min_version);
      if (!c || *c < 0) {
        return MakeError(PluginError::kVersionTooLow,
                         "found plugin " + Quote(name) + " with version " +
                             info->version +
                             " but signature verification needs plugin "
                             "version greater than or equal to " +
                             std::string(*min_version));
      }
    }
    return *info;
  }

  PluginOutcome RunVerification(const PluginCall& call) {
    assert(call.envelope != nullptr);
    PluginOutcome out;
    out.plugin = std::string(call.plugin);
    Verify(call, &out);
    if (out.error) {
      errors.fetch_add(1);
    }
    return out;
  }

  void Verify(const PluginCall& call, PluginOutcome* out) {
    auto info = Resolve(call.plugin, call.min_version, call.config, call.now);
    if (!info.ok()) {
      out->error = std::move(info).error();
      return;
    }
    out->version = info->version;
    out->capabilities = info->capabilities;
    // notation-go processSignature: REVOCATION_CHECK is not asked for when
    // the policy skips revocation.
    for (PluginCapability c : info->capabilities) {
      if (c == PluginCapability::kRevocationCheck &&
          call.revocation_action == policy::Action::kSkip) {
        continue;
      }
      out->asked.push_back(c);
    }
    const crypto::Envelope& e = *call.envelope;
    const std::string prefix = "plugin " + Quote(call.plugin) + ": ";
    for (const crypto::ExtendedAttribute& a : e.extended_attributes) {
      if (a.critical && a.integer_label) {
        out->error =
            MakeError(PluginError::kUnprocessedAttribute,
                      prefix + "critical COSE attribute with integer label " +
                          a.key + " cannot be handed to a plugin");
        return;
      }
    }
    if (out->asked.empty()) {
      // The spec's step 7 (notation-go would accept): nothing processes
      // the critical extended attributes.
      for (const crypto::ExtendedAttribute& a : e.extended_attributes) {
        if (a.critical) {
          out->error = MakeError(
              PluginError::kUnprocessedAttribute,
              prefix + "critical attribute " + Quote(a.key) +
                  " stays unprocessed: the plugin only checks revocation, "
                  "which the trust policy skips");
          return;
        }
      }
      return;
    }
    const std::string request =
        internal::BuildVerifySignatureRequest(call, out->asked);
    const PluginCacheKey key{out->plugin,
                             std::string(kCommandVerify),
                             info->version,
                             info->executable_sha256,
                             std::string(call.signature_digest),
                             Sha256Hex(request)};
    if (auto cached = CacheLookup(key, call.now)) {
      PluginOutcome from_cache = *out;
      internal::ProcessVerifyResponse(call, out->asked, *cached, &from_cache);
      if (!from_cache.error ||
          from_cache.error->code != PluginError::kMalformedResponse) {
        verify_cache_hits.fetch_add(1);
        *out = std::move(from_cache);
        out->cached = true;
        return;
      }
    }
    // Single flight per request.
    std::string flight_key = key.version;
    for (const std::string* part :
         {&key.executable, &key.signature_digest, &key.request}) {
      flight_key.push_back('\0');
      flight_key += *part;
    }
    flight_key = out->plugin + '\0' + flight_key;
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::lock_guard<std::mutex> lock(flight_mu);
      auto& slot = flights[flight_key];
      if (slot == nullptr) {
        slot = std::make_shared<Flight>();
        leader = true;
      }
      flight = slot;
    }
    const std::filesystem::path exe =
        PluginExecutablePath(options.plugin_dir, call.plugin);
    if (leader) {
      // As in Resolve, the dispatcher completes the flight itself.
      Post([&, flight] {
        verify_invocations.fetch_add(1);
        flight->result = Run(exe, kCommandVerify, request);
        const auto& r = *flight->result;
        if (r.ok() && r->signal == 0 && r->exit_code == 0) {
          PluginOutcome probe = *out;
          internal::ProcessVerifyResponse(call, out->asked, r->out, &probe);
          if (!probe.error ||
              probe.error->code != PluginError::kMalformedResponse) {
            CacheStore(key, r->out, call.now);
          }
        }
        {
          std::lock_guard<std::mutex> lock(flight_mu);
          flights.erase(flight_key);
        }
        flight->completion.Done();  // nothing of the leader's is used after
      });
      out->invoked = true;
    } else {
      shared_invocations.fetch_add(1);
    }
    Wait(flight->completion);
    const auto& r = *flight->result;
    if (!r.ok()) {
      out->error = MakeError(r.code(), "plugin " + Quote(call.plugin) + " " +
                                           std::string(kCommandVerify) + ": " +
                                           r.detail());
      return;
    }
    if (r->signal != 0 || r->exit_code != 0) {
      out->error = internal::PluginErrorText(call.plugin, kCommandVerify, *r);
      return;
    }
    internal::ProcessVerifyResponse(call, out->asked, r->out, out);
  }
};

PluginRunner::PluginRunner(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

PluginRunner::~PluginRunner() = default;

base::Result<std::unique_ptr<PluginRunner>, PluginError> PluginRunner::Create(
    PluginRunnerOptions options, base::Time now) {
  auto impl = std::make_unique<Impl>();
  size_t jobs = options.jobs;
  if (jobs == 0) {
    jobs = std::max<size_t>(1, std::thread::hardware_concurrency());
  }
  jobs = std::min(jobs, kMaxPluginJobs);
  impl->options = std::move(options);
  impl->options.jobs = jobs;
  if (impl->options.index_path) {
    auto index = VerdictIndex::Open(impl->options.index_path->string(),
                                    OpenMode::kReadWrite);
    if (!index.ok()) {
      return MakeError(PluginError::kCache, "plugin cache: " + index.detail());
    }
    impl->index.emplace(std::move(index).value());
    if (impl->options.cache_ttl.count() > 0) {
      auto pruned = impl->index->PrunePluginCache(
          now - std::chrono::duration_cast<std::chrono::microseconds>(
                    impl->options.cache_ttl));
      if (!pruned.ok()) {
        impl->Warn("cache-prune", "plugin cache: " + pruned.detail());
      }
    }
  }
  return std::unique_ptr<PluginRunner>(new PluginRunner(std::move(impl)));
}

base::Result<PluginInfo, PluginError> PluginRunner::Resolve(
    std::string_view name, std::optional<std::string_view> min_version,
    const PluginConfig* config, base::Time now) {
  return impl_->Resolve(name, min_version, config, now);
}

PluginOutcome PluginRunner::RunVerification(const PluginCall& call) {
  return impl_->RunVerification(call);
}

PluginStats PluginRunner::stats() const {
  PluginStats s;
  s.metadata_invocations = impl_->metadata_invocations.load();
  s.metadata_cache_hits = impl_->metadata_cache_hits.load();
  s.verify_invocations = impl_->verify_invocations.load();
  s.verify_cache_hits = impl_->verify_cache_hits.load();
  s.shared_invocations = impl_->shared_invocations.load();
  s.cache_writes = impl_->cache_writes.load();
  s.errors = impl_->errors.load();
  s.timeouts = impl_->timeouts.load();
  s.max_concurrent = impl_->max_concurrent.load();
  s.suspended_waits = impl_->suspended_waits.load();
  s.blocked_waits = impl_->blocked_waits.load();
  return s;
}

std::vector<std::string> PluginRunner::TakeWarnings() {
  std::lock_guard<std::mutex> lock(impl_->warn_mu);
  return std::exchange(impl_->warnings, {});
}

const PluginRunnerOptions& PluginRunner::options() const {
  return impl_->options;
}

}  // namespace trustgate::engine
