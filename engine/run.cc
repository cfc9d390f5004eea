#include "engine/run.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_pipeline.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "engine/chain_cache.h"
#include "engine/index.h"
#include "io/digest.h"
#include "io/mirror.h"
#include "io/reader.h"
#include "io/referrers.h"
#include "io/uring_reader.h"

namespace trustgate::engine {
namespace {

// Output is one artifact's verdict on its way to the sink: verified now
// (`computed`) or re-emitted from the index (`reused`, its stored record).
struct Output {
  bool present = false;  // false: not reached before an interruption
  bool reused = false;
  std::string record;  // reused: the stored ToJsonLine
  Verdict verdict = Verdict::kFailed;
  Reason reason = Reason::kMalformed;
  std::optional<ArtifactVerdict> computed;
  std::string digest;
  std::string key;  // reuse key; "" = never reuse this verdict
  std::optional<base::Time> reuse_until;
  base::Time verified_at{};
};

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return base::HexEncode(base::ByteView(digest, length));
}

void MinInto(std::optional<base::Time>* slot, std::optional<base::Time> t) {
  if (t.has_value() && (!slot->has_value() || *t < **slot)) {
    *slot = t;
  }
}

// Snapshot is the stat proof of a repository's files, taken before any of
// them is read: per blob path ("sha256/<hex>") its size, mtime, ctime and
// inode. A content-addressed file whose stat is unchanged is taken as
// unchanged (README "Incremental re-verification").
struct Snapshot {
  std::unordered_map<std::string, std::string> stats;
  std::string layout;  // stat of oci-layout
  std::string key;     // repository key
};

// RepositoryWork is one repository travelling through the pipeline.
struct RepositoryWork {
  const io::Repository* repository = nullptr;
  std::vector<const Target*> targets;  // empty = whole repository
  std::vector<Output> outputs;
  std::vector<std::string> errors;    // repository-level failures
  std::vector<std::string> warnings;  // skipped entries, limits hit
  std::vector<std::string> target_errors;
  std::vector<std::string> graph_warnings;  // as stored for the fast path
  std::string key;          // repository key; "" = unknown (no reuse row)
  bool from_index = false;  // fast path: everything re-emitted
  // from_index: the digests whose stored records the sink prints.
  std::vector<std::string> stored_digests;
  // deferred: a large repository; its graph is kept and its artifacts are
  // verified in chunks by the sink (bounded memory).
  bool deferred = false;
  std::unique_ptr<io::RepositoryGraph> graph;
  std::vector<const io::ArtifactNode*> selected;
  std::unique_ptr<BlobCache> blobs;
  std::optional<Snapshot> snap;
};

// kEagerArtifacts: repositories with at most this many selected artifacts
// are verified whole in the pipeline's parallel stage; larger ones are
// verified by the sink in chunks of kChunkArtifacts, so at most about
// (2 x jobs) x max(kEagerArtifacts, kChunkArtifacts) verdicts wait in
// memory however large a repository is.
constexpr size_t kEagerArtifacts = 1024;
constexpr size_t kChunkArtifacts = 64;

std::string StatText(int dir_fd, const char* name) {
  struct stat st {};
  if (::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return "absent:" + std::to_string(errno);
  }
  return std::to_string(st.st_size) + ":" + std::to_string(st.st_mode) + ":" +
         std::to_string(st.st_ino) + ":" + std::to_string(st.st_mtim.tv_sec) +
         "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
         std::to_string(st.st_ctim.tv_sec) + "." +
         std::to_string(st.st_ctim.tv_nsec);
}

// TakeSnapshot lists blobs/<alg>/ of `repo` and reads index.json's bytes;
// nullopt when the layout cannot be listed (then nothing is reused).
std::optional<Snapshot> TakeSnapshot(const io::Repository& repo,
                                     io::Reader& reader,
                                     std::string_view run_inputs) {
  Snapshot snap;
  const int root = repo.dir_fd.get();
  snap.layout = StatText(root, "oci-layout");
  std::vector<std::pair<std::string, std::string>> entries;
  for (const char* alg : {"sha256", "sha512"}) {
    std::string dir = std::string("blobs/") + alg;
    int fd = ::openat(root, dir.c_str(),
                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) {
        continue;
      }
      return std::nullopt;
    }
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      return std::nullopt;
    }
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') {
        continue;
      }
      entries.emplace_back(std::string(alg) + "/" + e->d_name,
                           StatText(::dirfd(d), e->d_name));
    }
    ::closedir(d);
  }
  std::sort(entries.begin(), entries.end());
  auto index = reader.ReadFile(repo, "index.json", io::kManifestMaxBytes);
  if (!index.ok()) {
    return std::nullopt;
  }
  std::string text = "trustgate-repository-1\n";
  text += run_inputs;
  text += "\n" + repo.uri + "\n" + snap.layout + "\n";
  text += Sha256Hex(
      std::string_view(reinterpret_cast<const char*>(index->view().data()),
                       index->view().size()));
  text += "\n";
  for (auto& [name, stat] : entries) {
    text += name + " " + stat + "\n";
    snap.stats.emplace(std::move(name), std::move(stat));
  }
  snap.key = Sha256Hex(text);
  return snap;
}

// ArtifactKey names everything `artifact`'s verdict depends on besides
// the time: the run inputs, the layout, the manifest and its children,
// the signature manifests and envelopes (in order), and the blob files
// when blobs are checked.
std::string ArtifactKey(std::string_view run_inputs, const Snapshot& snap,
                        const io::Repository& repo,
                        const io::RepositoryGraph& graph,
                        const io::ArtifactNode& artifact, BlobsMode blobs) {
  std::string text = "trustgate-artifact-1\n";
  text += run_inputs;
  text += "\n" + repo.uri + "\n" + snap.layout + "\n";
  auto file = [&](const io::Descriptor& d) {
    std::string name = d.digest.BlobPath().substr(6);  // after "blobs/"
    auto found = snap.stats.find(name);
    text += d.digest.ToString() + " " + d.media_type + " " +
            std::to_string(d.size) + " " +
            (found == snap.stats.end() ? "unlisted" : found->second) + "\n";
  };
  auto manifest_blobs = [&](const std::optional<io::Manifest>& m) {
    if (blobs != BlobsMode::kCheck || !m.has_value()) {
      return;
    }
    if (m->config.has_value()) {
      file(*m->config);
    }
    for (const io::Descriptor& layer : m->layers) {
      file(layer);
    }
  };
  file(artifact.load.descriptor);
  manifest_blobs(artifact.load.manifest);
  text += "children\n";
  for (const io::ManifestLoad& child : artifact.children) {
    file(child.descriptor);
    manifest_blobs(child.manifest);
  }
  text += "signatures\n";
  auto found = graph.signatures_by_subject.find(
      artifact.load.descriptor.digest.ToString());
  if (found != graph.signatures_by_subject.end()) {
    for (const io::SignatureNode& signature : found->second) {
      file(signature.load.descriptor);
      if (signature.load.manifest.has_value()) {
        for (const io::Descriptor& layer : signature.load.manifest->layers) {
          file(layer);
        }
      }
    }
  }
  return Sha256Hex(text);
}

// Transient tells whether `v` may rest on something that can change
// without any input changing: a revocation status that was unknown, a
// plugin, a read error. Such verdicts are never reused.
bool Transient(const ArtifactVerdict& v) {
  if (v.reason == Reason::kPlugin || v.reason == Reason::kMalformed ||
      v.blobs.bad > 0) {
    return true;  // blob read errors count as bad blobs
  }
  for (const SignatureVerdict& sv : v.signatures) {
    if (sv.reason == Reason::kPlugin || sv.reason == Reason::kMalformed) {
      return true;
    }
    for (const CheckResult& c : sv.validations) {
      if (c.code == io::ToString(io::IoError::kReadError) ||
          c.code == "revocation-unknown") {
        return true;
      }
    }
    for (const RevocationEntry& r : sv.revocation) {
      if (r.status == "unknown") {
        return true;
      }
    }
  }
  return false;
}

// Reusable tells whether a stored verdict holds at `at`: same key, `at`
// not before the time it was verified as of, and before reuse_until.
bool Reusable(const ReusableVerdict& r, std::string_view key, base::Time at) {
  return r.key == key && at >= r.verified_at &&
         (!r.reuse_until.has_value() || at < *r.reuse_until);
}

// ReuseStore is the run's read connection to the index (its own, beside
// the writer's), shared by the pool under a mutex.
class ReuseStore {
 public:
  explicit ReuseStore(VerdictIndex index) : index_(std::move(index)) {}
  std::optional<ReusableVerdict> Verdict(const std::string& repository,
                                         const std::string& digest) {
    std::lock_guard<std::mutex> lock(mu_);
    auto r = index_.LookupReusable(repository, digest);
    return r.ok() ? std::move(r).value() : std::nullopt;
  }
  std::unordered_map<std::string, ReusableVerdict> AllIn(
      const std::string& repository) {
    std::lock_guard<std::mutex> lock(mu_);
    auto r = index_.LookupReusableIn(repository);
    return r.ok() ? std::move(r).value()
                  : std::unordered_map<std::string, ReusableVerdict>();
  }
  std::optional<RepositoryRecord> Repository(const std::string& repository) {
    std::lock_guard<std::mutex> lock(mu_);
    auto r = index_.LookupRepository(repository);
    return r.ok() ? std::move(r).value() : std::nullopt;
  }

 private:
  std::mutex mu_;
  VerdictIndex index_;
};

// ReuseContext is what ProcessRepository needs for incremental runs.
struct ReuseContext {
  ReuseStore* store = nullptr;  // null: no index, nothing reused or keyed
  bool full = false;
  std::string run_inputs;
  base::Time at{};
  BlobsMode blobs = BlobsMode::kCheck;
  const std::atomic<int>* stop = nullptr;
  bool Stopped() const {
    return stop != nullptr && stop->load(std::memory_order_relaxed) != 0;
  }
};

std::vector<std::string> TagsOf(std::string_view json_array) {
  std::vector<std::string> tags;
  auto j = nlohmann::json::parse(json_array, nullptr, false);
  if (j.is_array()) {
    for (const auto& t : j) {
      if (t.is_string()) {
        tags.push_back(t.get<std::string>());
      }
    }
  }
  return tags;
}

// FastPath decides whether every stored verdict of an unchanged
// repository can be re-emitted without reading its graph; the sink then
// prints their stored records in order.
bool FastPath(RepositoryWork& work, const ReuseContext& reuse,
              const Snapshot& snap) {
  const io::Repository& repo = *work.repository;
  auto record = reuse.store->Repository(repo.uri);
  if (!record.has_value() || record->key != snap.key ||
      reuse.at < record->verified_at ||
      (record->reuse_until.has_value() && reuse.at >= *record->reuse_until)) {
    return false;
  }
  if (record->digests.size() <= kEagerArtifacts) {
    // One range scan; every verdict is checked before the fast path is
    // taken (otherwise the graph is read after all).
    auto stored = reuse.store->AllIn(repo.uri);
    std::vector<Output> outputs(record->digests.size());
    for (size_t i = 0; i < outputs.size(); ++i) {
      auto found = stored.find(record->digests[i]);
      if (found == stored.end() || reuse.at < found->second.verified_at ||
          (found->second.reuse_until.has_value() &&
           reuse.at >= *found->second.reuse_until)) {
        return false;
      }
      Output& out = outputs[i];
      out.present = true;
      out.reused = true;
      out.digest = record->digests[i];
      out.record = found->second.record;
      out.verdict = found->second.verdict;
      out.reason = found->second.reason;
      out.key = found->second.key;
    }
    work.outputs = std::move(outputs);
  } else {
    work.stored_digests = std::move(record->digests);
  }
  for (const std::string& warning : record->warnings) {
    work.warnings.push_back("repository " + repo.uri + ": " + warning);
  }
  work.graph_warnings = std::move(record->warnings);
  work.from_index = true;
  return true;
}

// VerifyOne decides artifact `i` of work.selected into `out`: reused from
// the index when its key and time allow, else verified.
void VerifyOne(RepositoryWork& work, size_t i, const Verifier& verifier,
               const ReuseContext& reuse, Output& out) {
  if (reuse.Stopped()) {
    return;  // interrupted: this artifact gets no verdict in this run
  }
  const io::Repository& repo = *work.repository;
  const io::ArtifactNode& artifact = *work.selected[i];
  out.digest = artifact.load.descriptor.digest.ToString();
  if (work.snap.has_value()) {
    out.key = ArtifactKey(reuse.run_inputs, *work.snap, repo, *work.graph,
                          artifact, reuse.blobs);
  }
  if (!reuse.full && !out.key.empty()) {
    auto stored = reuse.store->Verdict(repo.uri, out.digest);
    if (stored.has_value() && Reusable(*stored, out.key, reuse.at)) {
      out.present = true;
      out.reuse_until = stored->reuse_until;
      out.verified_at = stored->verified_at;
      if (TagsOf(stored->tags) == artifact.tags) {
        out.reused = true;
        out.record = std::move(stored->record);
        out.verdict = stored->verdict;
        out.reason = stored->reason;
        return;
      }
      // Only the tags moved: the stored verdict with today's tags.
      auto parsed = FromJsonLine(stored->record);
      if (parsed.ok()) {
        parsed->tags = artifact.tags;
        out.computed = std::move(parsed).value();
        return;
      }
    }
  }
  ArtifactVerdict v =
      verifier.VerifyArtifact(repo, *work.graph, artifact, *work.blobs);
  out.present = true;
  out.verified_at = v.verified_at;
  out.reuse_until = std::nullopt;
  for (const SignatureVerdict& sv : v.signatures) {
    MinInto(&out.reuse_until, sv.reuse_until);
  }
  if (Transient(v)) {
    out.key.clear();
  }
  out.computed = std::move(v);
}

bool Matches(const io::ArtifactNode& artifact, const Target& target) {
  if (!target.digest.empty()) {
    return artifact.load.descriptor.digest.ToString() == target.digest;
  }
  if (!target.tag.empty()) {
    return std::find(artifact.tags.begin(), artifact.tags.end(), target.tag) !=
           artifact.tags.end();
  }
  return true;
}

// StatLine is "<path> <size> <inode> <mtime> <ctime>" of `path` (not
// followed), or "" when it cannot be stat'ed.
std::string StatLine(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return "";
  }
  return path.string() + " " + std::to_string(st.st_size) + " " +
         std::to_string(st.st_ino) + " " + std::to_string(st.st_mtim.tv_sec) +
         "." + std::to_string(st.st_mtim.tv_nsec) + " " +
         std::to_string(st.st_ctim.tv_sec) + "." +
         std::to_string(st.st_ctim.tv_nsec);
}

// DirectoryStatProof lists the stat lines of every entry below `dir`
// (sorted): a --crl-dir whose files change (a new CRL dropped in)
// re-verifies.
std::string DirectoryStatProof(const std::filesystem::path& dir) {
  std::error_code ec;
  std::vector<std::string> lines;
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end;
       !ec && it != end; it.increment(ec)) {
    lines.push_back(StatLine(it->path()));
  }
  std::sort(lines.begin(), lines.end());
  std::string text;
  for (const std::string& line : lines) {
    text += "file " + line + "\n";
  }
  return text;
}

// PluginInputs describes what plugin answers depend on besides the
// signature: the plugin directory, each installed plugin executable (path,
// size, inode, mtime, ctime: an upgraded plugin re-verifies), the cache TTL
// and --plugin-config. Part of the run inputs of incremental re-runs.
std::string PluginInputs(const RunOptions& options) {
  std::string text = "plugins " + options.plugins.plugin_dir.string() + "\n";
  text += "ttl " + std::to_string(options.plugins.cache_ttl.count()) + "\n";
  for (const auto& [key, value] : options.verifier.plugin_config) {
    text += "config " + key + "=" + value + "\n";
  }
  std::error_code ec;
  std::vector<std::string> executables;
  for (std::filesystem::directory_iterator it(options.plugins.plugin_dir, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    std::string line = StatLine(PluginExecutablePath(
        options.plugins.plugin_dir, it->path().filename().string()));
    if (!line.empty()) {
      executables.push_back(std::move(line));
    }
  }
  std::sort(executables.begin(), executables.end());
  for (const std::string& e : executables) {
    text += "plugin " + e + "\n";
  }
  return text;
}

// MarkEmergency marks a verdict decided by an emergency policy statement
// and caps how long it holds at the emergency's expiry.
void MarkEmergency(const LoadedConfig& config, ArtifactVerdict* v) {
  if (!config.emergency.has_value()) {
    return;
  }
  const policy::EmergencyMark* mark = config.emergency->MarkFor(v->policy);
  if (mark == nullptr) {
    return;
  }
  v->emergency = EmergencyInfo{mark->approved_by, mark->reason, mark->expires};
  if (!v->valid_until.has_value() || *v->valid_until > mark->expires) {
    v->valid_until = mark->expires;
  }
}

void ProcessRepository(RepositoryWork& work, io::Reader& reader,
                       const Verifier& verifier, const ReuseContext& reuse) {
  const io::Repository& repo = *work.repository;
  if (reuse.store != nullptr) {
    work.snap = TakeSnapshot(repo, reader, reuse.run_inputs);
    if (work.snap.has_value() && !reuse.full && work.targets.empty() &&
        FastPath(work, reuse, *work.snap)) {
      return;
    }
  }
  auto graph = io::LoadRepositoryGraph(repo, reader);
  if (!graph.ok()) {
    work.errors.push_back("repository " + repo.uri + ": " + graph.detail() +
                          " (no artifact of it was verified)");
    return;
  }
  work.graph = std::make_unique<io::RepositoryGraph>(std::move(graph).value());
  if (work.snap.has_value()) {
    work.key = work.snap->key;
  }
  work.graph_warnings = work.graph->warnings;
  for (const std::string& warning : work.graph->warnings) {
    work.warnings.push_back("repository " + repo.uri + ": " + warning);
  }
  for (const io::ArtifactNode& artifact : work.graph->artifacts) {
    bool wanted = work.targets.empty();
    for (const Target* target : work.targets) {
      wanted = wanted || Matches(artifact, *target);
    }
    if (wanted) {
      work.selected.push_back(&artifact);
    }
  }
  for (const Target* target : work.targets) {
    if (target->digest.empty() && target->tag.empty()) {
      continue;
    }
    bool found = std::any_of(
        work.selected.begin(), work.selected.end(),
        [&](const io::ArtifactNode* a) { return Matches(*a, *target); });
    if (!found) {
      work.target_errors.push_back(
          "target " + repo.uri +
          (target->digest.empty() ? ":" + target->tag : "@" + target->digest) +
          " names no artifact of the repository's index.json");
    }
  }
  work.blobs = std::make_unique<BlobCache>();
  if (work.selected.size() > kEagerArtifacts) {
    work.deferred = true;  // the sink verifies it in chunks
    return;
  }
  work.outputs.resize(work.selected.size());
  tbb::parallel_for(size_t{0}, work.selected.size(), [&](size_t i) {
    VerifyOne(work, i, verifier, reuse, work.outputs[i]);
  });
}

// Progress draws one self-overwriting status line on a terminal every
// 250 ms from its own thread; it reads only atomic counters.
class Progress {
 public:
  Progress(std::FILE* out, size_t repositories, const Verifier& verifier)
      : out_(out), repositories_(repositories), verifier_(verifier) {
    started_ = std::chrono::steady_clock::now();
    thread_ = std::thread([this] { Loop(); });
  }
  ~Progress() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
    std::fprintf(out_, "\r\033[K");
    std::fflush(out_);
  }
  void RepositoryDone(size_t artifacts) {
    repositories_done_.fetch_add(1, std::memory_order_relaxed);
    artifacts_done_.fetch_add(artifacts, std::memory_order_relaxed);
  }
  void ArtifactsDone(size_t artifacts) {
    artifacts_done_.fetch_add(artifacts, std::memory_order_relaxed);
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(250),
                         [this] { return done_; })) {
      double elapsed = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - started_)
                           .count();
      size_t repos = repositories_done_.load(std::memory_order_relaxed);
      uint64_t artifacts = artifacts_done_.load(std::memory_order_relaxed);
      double rate = elapsed > 0 ? verifier_.signatures_verified() / elapsed : 0;
      std::string eta = "--";
      if (repos > 0 && repos < repositories_) {
        eta = std::to_string(static_cast<long long>(
                  elapsed * (repositories_ - repos) / repos + 0.5)) +
              " s";
      }
      std::fprintf(out_,
                   "\r\033[Ktrustgate: %zu/%zu repositories, %llu artifacts, "
                   "%.0f verifications/s, ETA %s",
                   repos, repositories_,
                   static_cast<unsigned long long>(artifacts), rate,
                   eta.c_str());
      std::fflush(out_);
    }
  }

  std::FILE* out_;
  const size_t repositories_;
  const Verifier& verifier_;
  std::chrono::steady_clock::time_point started_;
  std::atomic<size_t> repositories_done_{0};
  std::atomic<uint64_t> artifacts_done_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

base::Result<Target, TargetError> ParseTarget(std::string_view text) {
  Target target;
  if (text.empty()) {
    return base::MakeError(TargetError::kInvalid, "empty target");
  }
  size_t at = text.find('@');
  if (at != std::string_view::npos) {
    target.repository = std::string(text.substr(0, at));
    target.digest = std::string(text.substr(at + 1));
    if (!io::Digest::Parse(target.digest).ok()) {
      return base::MakeError(TargetError::kInvalid,
                             "target \"" + std::string(text) + "\": \"" +
                                 target.digest +
                                 "\" is not a digest (sha256:<64 hex> or "
                                 "sha512:<128 hex>)");
    }
  } else {
    size_t slash = text.rfind('/');
    size_t colon = text.rfind(':');
    if (colon != std::string_view::npos &&
        (slash == std::string_view::npos || colon > slash)) {
      target.repository = std::string(text.substr(0, colon));
      target.tag = std::string(text.substr(colon + 1));
      if (target.tag.empty()) {
        return base::MakeError(
            TargetError::kInvalid,
            "target \"" + std::string(text) + "\" has an empty tag");
      }
    } else {
      target.repository = std::string(text);
    }
  }
  if (target.repository.empty()) {
    return base::MakeError(
        TargetError::kInvalid,
        "target \"" + std::string(text) + "\" names no repository");
  }
  return target;
}

RunResult RunVerify(const RunOptions& options, const LoadedConfig& config) {
  RunResult result;
  const auto started = std::chrono::steady_clock::now();

  auto discovery =
      io::DiscoverRepositories(options.mirror, options.registry_host);
  if (!discovery.ok()) {
    std::fprintf(options.err,
                 "trustgate: cannot read mirror %s: %s\n"
                 "  fix: point --mirror at the directory holding the OCI "
                 "layouts\n",
                 options.mirror.string().c_str(), discovery.detail().c_str());
    result.exit_code = 2;
    return result;
  }
  for (const auto& warning : discovery->warnings) {
    std::fprintf(options.err, "trustgate: warning: %s: %s\n",
                 warning.path.c_str(), warning.message.c_str());
  }

  // Select repositories (and the targets that apply to each).
  std::vector<RepositoryWork> plan;
  std::vector<bool> target_used(options.targets.size(), false);
  for (const io::Repository& repo : discovery->repositories) {
    RepositoryWork work;
    work.repository = &repo;
    if (!options.targets.empty()) {
      for (size_t i = 0; i < options.targets.size(); ++i) {
        if (options.targets[i].repository == repo.uri) {
          work.targets.push_back(&options.targets[i]);
          target_used[i] = true;
        }
      }
      if (work.targets.empty()) {
        continue;
      }
      // A bare repository target selects everything in it.
      for (const Target* t : work.targets) {
        if (t->digest.empty() && t->tag.empty()) {
          work.targets.clear();
          break;
        }
      }
    }
    plan.push_back(std::move(work));
  }
  for (size_t i = 0; i < options.targets.size(); ++i) {
    if (!target_used[i]) {
      std::fprintf(options.err,
                   "trustgate: error: target repository \"%s\" is not in the "
                   "mirror (repositories are directories holding an "
                   "oci-layout file; with --registry HOST they are named "
                   "HOST/<path>)\n",
                   options.targets[i].repository.c_str());
      ++result.target_errors;
    }
  }

  std::unique_ptr<IndexWriter> index;
  if (options.index_path.has_value()) {
    auto opened =
        VerdictIndex::Open(options.index_path->string(), OpenMode::kReadWrite);
    // Tests provoke a full disk with TRUSTGATE_TEST_INDEX_MAX_PAGES.
    if (const char* pages = std::getenv("TRUSTGATE_TEST_INDEX_MAX_PAGES");
        opened.ok() && pages != nullptr && *pages != '\0') {
      (void)opened->LimitSizeForTesting(std::strtoull(pages, nullptr, 10));
    }
    RunInfo info;
    info.started_at = std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now());
    info.verification_time = options.verifier.at;
    info.policy_sha256 = base::HexEncode(config.policy.sha256);
    info.trust_store_generation = base::HexEncode(config.store.generation());
    info.mirror = options.mirror.string();
    info.tool_version = "trustgate " TRUSTGATE_VERSION;
    IndexWriter::Options writer_options;
    writer_options.inputs_fingerprint = config.inputs_fingerprint;
    writer_options.anchor =
        [](const SignatureVerdict& sv) -> std::optional<std::string> {
      if (sv.anchor.empty()) {
        return std::nullopt;
      }
      return sv.anchor;
    };
    auto started_writer =
        opened.ok() ? IndexWriter::Start(std::move(opened).value(), info,
                                         std::move(writer_options))
                    : base::Result<std::unique_ptr<IndexWriter>, IndexError>(
                          std::move(opened).error());
    if (!started_writer.ok()) {
      std::fprintf(options.err,
                   "trustgate: cannot open the verdict index %s: %s\n"
                   "  fix: pass --index with a writable path, or --no-index\n",
                   options.index_path->string().c_str(),
                   started_writer.detail().c_str());
      result.exit_code = 2;
      return result;
    }
    index = std::move(started_writer).value();
  }

  int jobs =
      options.jobs > 0
          ? options.jobs
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  tbb::global_control parallelism(tbb::global_control::max_allowed_parallelism,
                                  static_cast<size_t>(jobs));
  RevocationOptions revocation_options = options.revocation;
  revocation_options.index_path = options.index_path;
  auto revocation = RevocationChecker::Create(revocation_options);
  if (!revocation.ok()) {
    std::fprintf(options.err, "trustgate: revocation data: %s\n",
                 revocation.detail().c_str());
    result.exit_code = 2;
    return result;
  }
  for (const std::string& w : revocation.value()->TakeWarnings()) {
    std::fprintf(options.err, "trustgate: warning: %s\n", w.c_str());
  }
  // One plugin runner per run: metadata once per plugin, a bounded set of
  // dispatcher threads, answers cached in the index.
  std::unique_ptr<PluginRunner> plugins;
  if (!options.plugins.plugin_dir.empty()) {
    PluginRunnerOptions plugin_options = options.plugins;
    plugin_options.index_path = options.index_path;
    if (plugin_options.jobs == 0) {
      plugin_options.jobs = static_cast<size_t>(jobs);
    }
    auto created = PluginRunner::Create(
        std::move(plugin_options),
        std::chrono::time_point_cast<std::chrono::microseconds>(
            std::chrono::system_clock::now()));
    if (!created.ok()) {
      std::fprintf(options.err, "trustgate: verification plugins: %s\n",
                   created.detail().c_str());
      result.exit_code = 2;
      return result;
    }
    plugins = std::move(created).value();
  }
  std::string io_notice;
  auto best_reader = io::NewBestReader(options.io, &io_notice);
  if (!best_reader.ok()) {
    std::fprintf(options.err,
                 "trustgate: --io %s: %s\n"
                 "  fix: use --io auto (falls back to pread) or --io pread\n",
                 std::string(io::ToString(options.io)).c_str(),
                 best_reader.detail().c_str());
    result.exit_code = 2;
    return result;
  }
  if (!io_notice.empty() && !options.quiet) {
    std::fprintf(options.err, "trustgate: %s\n", io_notice.c_str());
  }
  std::unique_ptr<io::Reader> reader = std::move(best_reader).value();

  // Incremental re-verification: the run inputs every stored verdict is
  // compared against, and a read connection of our own.
  ReuseContext reuse;
  std::unique_ptr<ReuseStore> reuse_store;
  reuse.full = options.full;
  reuse.at = options.verifier.at;
  reuse.blobs = options.verifier.blobs;
  reuse.stop = options.stop;
  {
    std::string inputs = "trustgate " TRUSTGATE_VERSION "\n";
    inputs += config.inputs_fingerprint + "\n";
    inputs +=
        options.verifier.blobs == BlobsMode::kCheck ? "blobs\n" : "no-blobs\n";
    inputs += std::to_string(options.verifier.max_signatures) + "\n";
    inputs += options.revocation.network == NetworkMode::kOffline ? "offline\n"
                                                                  : "online\n";
    inputs += options.revocation.crl_dir.value_or("").string() + "\n";
    if (options.revocation.crl_dir.has_value()) {
      inputs += DirectoryStatProof(*options.revocation.crl_dir);
    }
    inputs += options.registry_host + "\n";
    inputs += PluginInputs(options);
    reuse.run_inputs = Sha256Hex(inputs);
  }
  if (index != nullptr) {
    auto read =
        VerdictIndex::Open(options.index_path->string(), OpenMode::kReadOnly);
    if (read.ok()) {
      reuse_store = std::make_unique<ReuseStore>(std::move(read).value());
      reuse.store = reuse_store.get();
    } else {
      std::fprintf(options.err,
                   "trustgate: warning: cannot read the verdict index for "
                   "reuse (%s): verifying everything\n",
                   read.detail().c_str());
    }
  }
  ChainCache chains(config.policy, config.store);
  Verifier verifier(config.policy, config.store, chains, *reader,
                    options.verifier, revocation.value().get(), plugins.get());
  ReportWriter report(options.out, options.format);
  bool write_failed = false;
  std::atomic<uint64_t> blob_bytes{0};
  std::unique_ptr<Progress> progress;
  if (!options.quiet && ::isatty(::fileno(options.err)) == 1) {
    progress = std::make_unique<Progress>(options.err, plan.size(), verifier);
  }

  // Sink side: one artifact out (report, summary, index), in order.
  struct Emitting {
    bool complete = false;
    RepositoryRecord record;
  };
  auto emit = [&](Emitting& state, Output& out) {
    if (!out.present) {
      state.complete = false;
      return;
    }
    if (out.computed.has_value()) {
      MarkEmergency(config, &*out.computed);
      if (out.computed->emergency.has_value()) {
        MinInto(&out.reuse_until, out.computed->emergency->expires);
      }
    }
    if (out.key.empty()) {
      state.complete = false;
    }
    state.record.digests.push_back(out.digest);
    state.record.verified_at =
        std::max(state.record.verified_at, out.verified_at);
    MinInto(&state.record.reuse_until, out.reuse_until);
    if (out.reused) {
      ArtifactVerdict counted;
      counted.verdict = out.verdict;
      counted.reason = out.reason;
      result.summary.Add(counted);
      ++result.summary.reused;
      if (!report.WriteRecord(out.record).ok()) {
        write_failed = true;
      }
      if (index != nullptr) {
        index->CountReused(out.verdict);
      }
      return;
    }
    result.summary.Add(*out.computed);
    if (options.format == Format::kText) {
      if (!report.Write(*out.computed).ok()) {
        write_failed = true;
      }
      if (index != nullptr) {
        index->Push(std::move(*out.computed), std::move(out.key),
                    out.reuse_until);
      }
      return;
    }
    // JSON output and the index store the same record: serialize it once.
    std::string record = ToJsonLine(*out.computed);
    if (!report.WriteRecord(record).ok()) {
      write_failed = true;
    }
    if (index != nullptr) {
      index->PushRecord(std::move(*out.computed), std::move(record),
                        std::move(out.key), out.reuse_until);
    }
  };
  // A large repository: verified here in chunks through a nested pipeline
  // whose in-order last stage emits, so only a few chunks wait in memory.
  auto verify_deferred = [&](RepositoryWork& work, Emitting& state) {
    struct Chunk {
      size_t begin = 0;
      std::vector<Output> outputs;
    };
    const size_t n = work.selected.size();
    size_t next_chunk = 0;
    tbb::parallel_pipeline(
        static_cast<size_t>(jobs) * 2,
        tbb::make_filter<void, Chunk*>(
            tbb::filter_mode::serial_in_order,
            [&](tbb::flow_control& fc) -> Chunk* {
              if (next_chunk >= n || reuse.Stopped()) {
                fc.stop();
                return nullptr;
              }
              auto* chunk = new Chunk;
              chunk->begin = next_chunk;
              next_chunk = std::min(n, next_chunk + kChunkArtifacts);
              chunk->outputs.resize(next_chunk - chunk->begin);
              return chunk;
            }) &
            tbb::make_filter<Chunk*, Chunk*>(
                tbb::filter_mode::parallel,
                [&](Chunk* chunk) {
                  for (size_t i = 0; i < chunk->outputs.size(); ++i) {
                    VerifyOne(work, chunk->begin + i, verifier, reuse,
                              chunk->outputs[i]);
                  }
                  if (progress != nullptr) {
                    progress->ArtifactsDone(chunk->outputs.size());
                  }
                  return chunk;
                }) &
            tbb::make_filter<Chunk*, void>(
                tbb::filter_mode::serial_in_order, [&](Chunk* chunk) {
                  for (Output& out : chunk->outputs) {
                    emit(state, out);
                  }
                  delete chunk;
                }));
    if (next_chunk < n) {
      state.complete = false;  // interrupted
    }
  };
  // The fast path: stored records, fetched and printed in order.
  auto emit_stored = [&](RepositoryWork& work, Emitting& state) {
    for (const std::string& digest : work.stored_digests) {
      if (reuse.Stopped()) {
        return;
      }
      Output out;
      out.digest = digest;
      auto stored = reuse.store->Verdict(work.repository->uri, digest);
      if (!stored.has_value()) {
        // Gone since the repository was checked (another writer).
        std::fprintf(options.err,
                     "trustgate: error: %s@%s: the stored verdict vanished "
                     "from the index during the run; run again\n",
                     work.repository->uri.c_str(), digest.c_str());
        ++result.repository_errors;
        continue;
      }
      out.present = true;
      out.reused = true;
      out.record = std::move(stored->record);
      out.verdict = stored->verdict;
      out.reason = stored->reason;
      out.key = std::move(stored->key);
      emit(state, out);
    }
  };

  size_t next = 0;
  tbb::parallel_pipeline(
      static_cast<size_t>(jobs) * 2,
      tbb::make_filter<void, RepositoryWork*>(
          tbb::filter_mode::serial_in_order,
          [&](tbb::flow_control& fc) -> RepositoryWork* {
            if (next >= plan.size() || reuse.Stopped()) {
              fc.stop();
              return nullptr;
            }
            return &plan[next++];
          }) &
          tbb::make_filter<RepositoryWork*, RepositoryWork*>(
              tbb::filter_mode::parallel,
              [&](RepositoryWork* work) {
                ProcessRepository(*work, *reader, verifier, reuse);
                if (progress != nullptr) {
                  progress->RepositoryDone(work->outputs.size() +
                                           work->stored_digests.size());
                }
                return work;
              }) &
          tbb::make_filter<RepositoryWork*, void>(
              tbb::filter_mode::serial_in_order, [&](RepositoryWork* work) {
                for (const std::string& w : work->warnings) {
                  std::fprintf(options.err, "trustgate: warning: %s\n",
                               w.c_str());
                }
                for (const std::string& e : work->errors) {
                  std::fprintf(options.err, "trustgate: error: %s\n",
                               e.c_str());
                  ++result.repository_errors;
                }
                for (const std::string& e : work->target_errors) {
                  std::fprintf(options.err, "trustgate: error: %s\n",
                               e.c_str());
                  ++result.target_errors;
                }
                // A repositories row is written when every verdict of
                // the whole repository is final and reusable.
                Emitting state;
                state.complete = work->targets.empty() && !work->key.empty() &&
                                 !work->from_index && work->errors.empty();
                state.record.repository = work->repository->uri;
                state.record.key = work->key;
                state.record.warnings = work->graph_warnings;
                if (work->from_index && work->outputs.empty()) {
                  emit_stored(*work, state);
                } else if (work->deferred) {
                  verify_deferred(*work, state);
                } else {
                  for (Output& out : work->outputs) {
                    emit(state, out);
                  }
                }
                if (work->blobs != nullptr) {
                  blob_bytes.fetch_add(work->blobs->bytes_hashed(),
                                       std::memory_order_relaxed);
                }
                if (state.complete && index != nullptr && !reuse.Stopped()) {
                  index->PushRepository(std::move(state.record));
                }
                // Release the repository's memory as soon as it is out.
                work->outputs = {};
                work->outputs.shrink_to_fit();
                work->stored_digests = {};
                work->selected = {};
                work->graph.reset();
                work->blobs.reset();
                work->snap.reset();
              }));

  progress.reset();  // clear the status line before the summary
  if (plugins != nullptr) {
    for (const std::string& w : plugins->TakeWarnings()) {
      std::fprintf(options.err, "trustgate: warning: %s\n", w.c_str());
    }
    const PluginStats ps = plugins->stats();
    if (!options.quiet && ps.verify_invocations + ps.verify_cache_hits > 0) {
      std::fprintf(options.err,
                   "trustgate: plugins: %llu verify-signature processes, "
                   "%llu answers from the index cache\n",
                   static_cast<unsigned long long>(ps.verify_invocations),
                   static_cast<unsigned long long>(ps.verify_cache_hits));
    }
  }
  result.blob_bytes_hashed = blob_bytes.load();
  result.summary.signatures_verified = verifier.signatures_verified();
  result.summary.elapsed_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  result.interrupted_by = options.stop != nullptr ? options.stop->load() : 0;
  // An interrupted run prints no summary and leaves the json document
  // open: nothing incomplete looks like a finished report.
  if (result.interrupted_by == 0 && !report.Finish(result.summary).ok()) {
    write_failed = true;
  }
  bool index_failed = false;
  if (index != nullptr) {
    auto closed =
        index->Close(result.interrupted_by != 0 ? RunStatus::kInterrupted
                                                : RunStatus::kComplete,
                     std::chrono::time_point_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now()));
    if (!closed.ok()) {
      std::fprintf(options.err,
                   "trustgate: error: the verdict index %s could not record "
                   "this run (%s): verdicts from the error on are NOT stored; "
                   "the next run verifies them again\n",
                   options.index_path->string().c_str(),
                   closed.detail().c_str());
      index_failed = true;
    }
  }
  if (write_failed) {
    std::fprintf(options.err, "trustgate: error: writing the report failed\n");
  }
  if (result.interrupted_by != 0) {
    std::fprintf(
        options.err,
        "trustgate: interrupted by %s: stopped after %llu artifacts; the "
        "report is INCOMPLETE%s; run again to continue (stored verdicts are "
        "reused)\n",
        result.interrupted_by == SIGINT ? "SIGINT" : "SIGTERM",
        static_cast<unsigned long long>(result.summary.artifacts),
        index != nullptr ? " and the run is marked interrupted in the index"
                         : "");
    result.exit_code = 128 + result.interrupted_by;
    return result;
  }
  if (index_failed) {
    result.exit_code = 2;
    return result;
  }

  const Summary& s = result.summary;
  // The text report ends with its own summary; for machine formats (or a
  // report written to a file) people get one line on stderr.
  if (!options.quiet &&
      (options.format != Format::kText || options.out != stdout)) {
    std::fprintf(options.err,
                 "trustgate: %llu artifacts: %llu verified, %llu skipped, %llu "
                 "failed (%llu reused from the index, %llu verified now); "
                 "%llu signatures checked in %.2f s (%.0f artifacts/s; "
                 "chain cache %llu hits, %llu misses)\n",
                 static_cast<unsigned long long>(s.artifacts),
                 static_cast<unsigned long long>(s.count(Verdict::kVerified)),
                 static_cast<unsigned long long>(s.count(Verdict::kSkipped)),
                 static_cast<unsigned long long>(s.count(Verdict::kFailed)),
                 static_cast<unsigned long long>(s.reused),
                 static_cast<unsigned long long>(s.artifacts - s.reused),
                 static_cast<unsigned long long>(s.signatures_verified),
                 s.elapsed_seconds, s.ArtifactsPerSecond(),
                 static_cast<unsigned long long>(chains.hits()),
                 static_cast<unsigned long long>(chains.misses()));
  }
  bool failed = s.count(Verdict::kFailed) > 0 || result.repository_errors > 0 ||
                result.target_errors > 0 || write_failed;
  result.exit_code = failed ? 1 : 0;
  return result;
}

}  // namespace trustgate::engine
