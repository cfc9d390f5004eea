#pragma once

// One `trustgate verify` run over a mirror: discovery, per-repository
// graphs, verification on a oneTBB pool, and a single ordered sink that
// writes the report and the verdict index.

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engine/config.h"
#include "engine/plugin.h"
#include "engine/report.h"
#include "engine/revocation.h"
#include "engine/verifier.h"
#include "io/uring_reader.h"

namespace trustgate::engine {

// Target narrows a run: a repository, optionally one digest or tag in it.
struct Target {
  std::string repository;
  std::string digest;  // "<alg>:<hex>" or empty
  std::string tag;     // or empty
};

// TargetError is why a TARGET argument was refused.
enum class TargetError { kInvalid = 1 };

// ParseTarget parses `repo`, `repo@sha256:<hex>` or `repo:tag` (the tag is
// after the last ':' that follows the last '/'). Fails with a message.
base::Result<Target, TargetError> ParseTarget(std::string_view text);

// RunOptions are the inputs of one verify run.
struct RunOptions {
  std::filesystem::path mirror;
  std::string registry_host;
  std::vector<Target> targets;
  VerifierOptions verifier;
  int jobs = 0;  // worker threads; 0 = one per core
  Format format = Format::kText;
  std::FILE* out = stdout;
  std::FILE* err = stderr;
  std::optional<std::filesystem::path> index_path;  // nullopt = no index
  // revocation: where revocation data comes from (crl-dir, Notation's
  // cache, the index, HTTP unless offline). index_path is filled in from
  // the run's index.
  RevocationOptions revocation;
  // plugins: the verification plugin runner's options (--plugin-dir,
  // --plugin-timeout, --plugin-jobs, --plugin-cache-ttl); jobs 0 = the
  // worker count; index_path is filled in from the run's index. An empty
  // plugin_dir runs no plugins (signatures naming one fail `plugin`).
  // --plugin-config is VerifierOptions::plugin_config.
  PluginRunnerOptions plugins;
  // quiet: no live progress line (otherwise shown while it runs, only when
  // `err` is a terminal: repositories and artifacts done, verifications
  // per second, ETA) and no summary line on `err`.
  bool quiet = false;
  // io: the reader (`--io`): auto = io_uring when it can be set up, else
  // pread with a one-line notice on `err` (not with quiet).
  io::ReaderChoice io = io::ReaderChoice::kAuto;
  // full (`--full`): verify everything again instead of reusing verdicts
  // of the index (incremental re-verification, README "Incremental
  // re-verification"); the index is still updated.
  bool full = false;
  // stop: when set and it becomes non-zero (the signal number of SIGINT or
  // SIGTERM), the run takes no new work, writes what is final and ends
  // with RunResult::interrupted_by set. Borrowed; may be null.
  const std::atomic<int>* stop = nullptr;
};

// RunResult is the outcome: the exit status of the contract (0 all
// verified or skipped, 1 something failed, 2 nothing could be verified
// because of the configuration or the mirror root) and the counts.
struct RunResult {
  int exit_code = 0;
  Summary summary;
  uint64_t repository_errors = 0;  // repositories whose index.json failed
  uint64_t target_errors = 0;      // targets that named nothing
  uint64_t blob_bytes_hashed = 0;  // distinct blob bytes read and hashed
  // interrupted_by: the signal that stopped the run (0: it ran to the
  // end). exit_code is then 128 + the signal number; the report is
  // incomplete and the index run is `interrupted`.
  int interrupted_by = 0;
};

// RunVerify runs verification with `config` (borrowed). Messages for
// people go to options.err; the report to options.out.
RunResult RunVerify(const RunOptions& options, const LoadedConfig& config);

}  // namespace trustgate::engine
