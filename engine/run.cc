#include "engine/run.h"

#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_pipeline.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/chain_cache.h"
#include "engine/index.h"
#include "io/digest.h"
#include "io/mirror.h"
#include "io/reader.h"
#include "io/referrers.h"

namespace trustgate::engine {
namespace {

// RepositoryWork is one repository travelling through the pipeline.
struct RepositoryWork {
  const io::Repository* repository = nullptr;
  std::vector<const Target*> targets;  // empty = whole repository
  std::vector<ArtifactVerdict> verdicts;
  std::vector<std::string> errors;    // repository-level failures
  std::vector<std::string> warnings;  // skipped entries, limits hit
  std::vector<std::string> target_errors;
};

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
                       const Verifier& verifier,
                       std::atomic<uint64_t>& blob_bytes) {
  const io::Repository& repo = *work.repository;
  auto graph = io::LoadRepositoryGraph(repo, reader);
  if (!graph.ok()) {
    work.errors.push_back("repository " + repo.uri + ": " + graph.detail() +
                          " (no artifact of it was verified)");
    return;
  }
  for (const std::string& warning : graph->warnings) {
    work.warnings.push_back("repository " + repo.uri + ": " + warning);
  }
  std::vector<const io::ArtifactNode*> selected;
  for (const io::ArtifactNode& artifact : graph->artifacts) {
    bool wanted = work.targets.empty();
    for (const Target* target : work.targets) {
      wanted = wanted || Matches(artifact, *target);
    }
    if (wanted) {
      selected.push_back(&artifact);
    }
  }
  for (const Target* target : work.targets) {
    if (target->digest.empty() && target->tag.empty()) {
      continue;
    }
    bool found = std::any_of(
        selected.begin(), selected.end(),
        [&](const io::ArtifactNode* a) { return Matches(*a, *target); });
    if (!found) {
      work.target_errors.push_back(
          "target " + repo.uri +
          (target->digest.empty() ? ":" + target->tag : "@" + target->digest) +
          " names no artifact of the repository's index.json");
    }
  }
  work.verdicts.resize(selected.size());
  BlobCache blobs;
  tbb::parallel_for(size_t{0}, selected.size(), [&](size_t i) {
    work.verdicts[i] =
        verifier.VerifyArtifact(repo, *graph, *selected[i], blobs);
  });
  blob_bytes.fetch_add(blobs.bytes_hashed(), std::memory_order_relaxed);
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
  std::unique_ptr<io::Reader> reader = io::NewPreadReader();
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

  size_t next = 0;
  tbb::parallel_pipeline(
      static_cast<size_t>(jobs) * 2,
      tbb::make_filter<void, RepositoryWork*>(
          tbb::filter_mode::serial_in_order,
          [&](tbb::flow_control& fc) -> RepositoryWork* {
            if (next >= plan.size()) {
              fc.stop();
              return nullptr;
            }
            return &plan[next++];
          }) &
          tbb::make_filter<RepositoryWork*, RepositoryWork*>(
              tbb::filter_mode::parallel,
              [&](RepositoryWork* work) {
                ProcessRepository(*work, *reader, verifier, blob_bytes);
                if (progress != nullptr) {
                  progress->RepositoryDone(work->verdicts.size());
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
                for (ArtifactVerdict& v : work->verdicts) {
                  MarkEmergency(config, &v);
                  result.summary.Add(v);
                  if (!report.Write(v).ok()) {
                    write_failed = true;
                  }
                  if (index != nullptr) {
                    index->Push(std::move(v));
                  }
                }
                // Release the repository's memory as soon as it is out.
                work->verdicts = {};
                work->verdicts.shrink_to_fit();
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
  if (!report.Finish(result.summary).ok()) {
    write_failed = true;
  }
  if (index != nullptr) {
    auto closed =
        index->Close(RunStatus::kComplete,
                     std::chrono::time_point_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now()));
    if (!closed.ok()) {
      std::fprintf(options.err,
                   "trustgate: error: the verdict index %s is incomplete: "
                   "%s\n",
                   options.index_path->string().c_str(),
                   closed.detail().c_str());
      write_failed = true;
    }
  }
  if (write_failed) {
    std::fprintf(options.err, "trustgate: error: writing the report failed\n");
  }

  const Summary& s = result.summary;
  // The text report ends with its own summary; for machine formats (or a
  // report written to a file) people get one line on stderr.
  if (!options.quiet &&
      (options.format != Format::kText || options.out != stdout)) {
    std::fprintf(options.err,
                 "trustgate: %llu artifacts: %llu verified, %llu skipped, %llu "
                 "failed; %llu signatures checked in %.2f s (%.0f artifacts/s; "
                 "chain cache %llu hits, %llu misses)\n",
                 static_cast<unsigned long long>(s.artifacts),
                 static_cast<unsigned long long>(s.count(Verdict::kVerified)),
                 static_cast<unsigned long long>(s.count(Verdict::kSkipped)),
                 static_cast<unsigned long long>(s.count(Verdict::kFailed)),
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
