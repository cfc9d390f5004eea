// trustgate: batch verification of Notary Project signatures over an OCI
// registry mirror. Command-line contract: ARCHITECTURE.md.

#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "base/time.h"
#include "engine/config.h"
#include "engine/index.h"
#include "engine/plugin.h"
#include "engine/report.h"
#include "engine/run.h"
#include "io/uring_reader.h"
#include "policy/emergency.h"
#include "policy/trust_store.h"
#include "tools/policy_command.h"
#include "tools/revocation_command.h"
#include "tools/rotation_command.h"

namespace {

namespace fs = std::filesystem;
using trustgate::base::Time;
namespace engine = trustgate::engine;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

Time Now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now());
}

// DefaultIndexPath: $TRUSTGATE_INDEX, else $XDG_STATE_HOME/trustgate/
// index.db, else ~/.local/state/trustgate/index.db.
fs::path DefaultIndexPath() {
  if (const char* env = std::getenv("TRUSTGATE_INDEX"); env && *env) {
    return env;
  }
  if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state) {
    return fs::path(state) / "trustgate" / "index.db";
  }
  const char* home = std::getenv("HOME");
  return fs::path(home ? home : ".") / ".local" / "state" / "trustgate" /
         "index.db";
}

std::optional<Time> ParseAt(const std::string& text) {
  if (text.empty() || text == "now") {
    return Now();
  }
  return trustgate::base::ParseRfc3339(text);
}

struct VerifyArgs {
  std::string mirror = ".";
  std::string registry;
  std::string config;
  std::string policy;
  std::string trust_store;
  std::string emergency_policy;
  std::string max_emergency_ttl = "24h";
  std::string crl_dir;
  bool offline = false;
  std::string crl_timeout = "5s";
  std::string ocsp_timeout = "2s";
  std::string plugin_dir;
  std::string plugin_timeout = "30s";
  int plugin_jobs = 0;
  std::string plugin_cache_ttl = "24h";
  std::vector<std::string> plugin_config;
  std::string index;
  bool no_index = false;
  int jobs = 0;
  std::string format = "text";
  std::string output;
  std::string at;
  bool no_blobs = false;
  bool full = false;
  std::string io = "auto";
  bool quiet = false;
  size_t max_signatures = 100;
  std::vector<std::string> targets;
};

int Usage(const std::string& message) {
  std::fprintf(stderr, "trustgate: %s\n", message.c_str());
  return kExitUsage;
}

bool IsDirectory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(fs::symlink_status(path, ec));
}

// g_stop holds the signal (SIGINT, SIGTERM) that asked a verify run to
// stop; the run polls it (engine::RunOptions::stop).
std::atomic<int> g_stop{0};

void OnStopSignal(int signal) {
  g_stop.store(signal);
  // A second signal ends the process at once.
  std::signal(signal, SIG_DFL);
}

int RunVerifyCommand(const VerifyArgs& args) {
  engine::RunOptions options;
  options.full = args.full;
  auto io = trustgate::io::ParseReaderChoice(args.io);
  if (!io.has_value()) {
    return Usage("--io must be auto, uring or pread, not \"" + args.io + "\"");
  }
  options.io = *io;
  options.mirror = args.mirror;
  options.registry_host = args.registry;
  options.jobs = args.jobs;
  options.quiet = args.quiet;
  options.verifier.max_signatures = args.max_signatures;
  options.verifier.blobs =
      args.no_blobs ? engine::BlobsMode::kSkip : engine::BlobsMode::kCheck;
  auto at = ParseAt(args.at);
  if (!at.has_value()) {
    return Usage("--at \"" + args.at +
                 "\" is not an RFC 3339 time (e.g. 2026-11-24T12:00:00Z)");
  }
  options.verifier.at = *at;
  auto format = engine::FormatFromString(args.format);
  if (!format.has_value()) {
    return Usage("--format must be text, json or jsonl, not \"" + args.format +
                 "\"");
  }
  options.format = *format;
  for (const std::string& text : args.targets) {
    auto target = engine::ParseTarget(text);
    if (!target.ok()) {
      return Usage(target.detail());
    }
    options.targets.push_back(std::move(target).value());
  }
  if (!args.crl_dir.empty() && !IsDirectory(args.crl_dir)) {
    return Usage("--crl-dir " + args.crl_dir + " is not a directory");
  }
  if (!args.crl_dir.empty()) {
    options.revocation.crl_dir = args.crl_dir;
  }
  options.revocation.notation_crl_cache = engine::DefaultNotationCrlCacheDir();
  options.revocation.network = args.offline ? engine::NetworkMode::kOffline
                                            : engine::NetworkMode::kOnline;
  // Per-request HTTP timeouts (Notation's defaults: 5 s CRL, 2 s OCSP).
  for (auto [flag, text, slot] :
       {std::tuple{"--crl-timeout", &args.crl_timeout,
                   &options.revocation.crl_timeout},
        std::tuple{"--ocsp-timeout", &args.ocsp_timeout,
                   &options.revocation.ocsp_timeout}}) {
    auto timeout = engine::ParsePluginDuration(*text);
    if (!timeout.has_value() || timeout->count() == 0 ||
        *timeout > std::chrono::minutes(10)) {
      return Usage(std::string(flag) + " \"" + *text +
                   "\" is not a duration between 1ms and 10m (e.g. 5s, "
                   "500ms)");
    }
    *slot = *timeout;
  }
  if (!args.plugin_dir.empty() && !IsDirectory(args.plugin_dir)) {
    return Usage("--plugin-dir " + args.plugin_dir + " is not a directory");
  }
  auto plugin_timeout = engine::ParsePluginDuration(args.plugin_timeout);
  if (!plugin_timeout.has_value() || plugin_timeout->count() == 0) {
    return Usage("--plugin-timeout \"" + args.plugin_timeout +
                 "\" is not a positive duration (e.g. 30s, 2m, 1500ms)");
  }
  options.plugins.timeout = *plugin_timeout;
  auto plugin_ttl = engine::ParsePluginDuration(args.plugin_cache_ttl);
  if (!plugin_ttl.has_value()) {
    return Usage("--plugin-cache-ttl \"" + args.plugin_cache_ttl +
                 "\" is not a duration (e.g. 24h, 30m, or 0 to disable the "
                 "plugin cache)");
  }
  options.plugins.cache_ttl =
      std::chrono::duration_cast<std::chrono::seconds>(*plugin_ttl);
  if (args.plugin_jobs < 0 ||
      static_cast<size_t>(args.plugin_jobs) > engine::kMaxPluginJobs) {
    return Usage("--plugin-jobs must be between 1 and " +
                 std::to_string(engine::kMaxPluginJobs) +
                 " (0 or omitted: the worker count)");
  }
  options.plugins.jobs = static_cast<size_t>(args.plugin_jobs);
  for (const std::string& entry : args.plugin_config) {
    auto kv = engine::ParsePluginConfigEntry(entry);
    if (!kv.has_value()) {
      return Usage("--plugin-config \"" + entry +
                   "\" is not KEY=VALUE (e.g. --plugin-config "
                   "aws-region=us-west-2)");
    }
    options.verifier.plugin_config[kv->first] = kv->second;
  }
  if (!IsDirectory(args.mirror)) {
    return Usage("--mirror " + args.mirror +
                 " is not a directory: point it at the mirror root that holds "
                 "the OCI layouts");
  }

  engine::ConfigPaths paths;
  paths.config_dir = args.config.empty() ? trustgate::policy::DefaultConfigDir()
                                         : fs::path(args.config);
  if (!args.policy.empty()) {
    paths.policy_file = args.policy;
  }
  if (!args.trust_store.empty()) {
    paths.trust_store_dir = args.trust_store;
  }
  paths.at = *at;
  if (!args.emergency_policy.empty()) {
    paths.emergency_policy_file = args.emergency_policy;
  }
  auto ttl = trustgate::policy::ParseEmergencyTtl(args.max_emergency_ttl);
  if (!ttl.has_value()) {
    return Usage("--max-emergency-ttl \"" + args.max_emergency_ttl +
                 "\" is not a duration such as 24h, 90m, 1h30m or 2d "
                 "(at most 366d)");
  }
  paths.max_emergency_ttl = *ttl;
  options.plugins.plugin_dir = args.plugin_dir.empty()
                                   ? engine::DefaultPluginDir(paths.config_dir)
                                   : fs::path(args.plugin_dir);
  auto config = engine::LoadConfig(paths);
  if (!config.ok()) {
    std::fprintf(stderr,
                 "trustgate: configuration error (%s): %s\n"
                 "trustgate: nothing was verified.\n",
                 std::string(engine::ToString(config.code())).c_str(),
                 config.detail().c_str());
    return kExitUsage;
  }
  for (const std::string& warning : config->warnings) {
    std::fprintf(stderr, "trustgate: warning: %s\n", warning.c_str());
  }
  if (config->emergency.has_value()) {
    const auto& mark = config->emergency->mark;
    std::string scopes;
    for (const auto& d : config->emergency->displaced) {
      scopes += (scopes.empty() ? "" : ", ") + d.scope;
      if (!d.base_statement.empty()) {
        scopes += " (was " + d.base_statement + ")";
      }
    }
    std::fprintf(stderr,
                 "trustgate: EMERGENCY POLICY %s in force until %s, approved "
                 "by %s: %s\n  it governs: %s\n",
                 mark.source.c_str(),
                 trustgate::base::FormatRfc3339(mark.expires).c_str(),
                 mark.approved_by.c_str(), mark.reason.c_str(),
                 scopes.empty() ? "(no scope)" : scopes.c_str());
  }

  if (!args.no_index) {
    fs::path index =
        args.index.empty() ? DefaultIndexPath() : fs::path(args.index);
    std::error_code ec;
    if (index.has_parent_path()) {
      fs::create_directories(index.parent_path(), ec);
    }
    options.index_path = index;
  }

  std::FILE* out = stdout;
  if (!args.output.empty()) {
    out = std::fopen(args.output.c_str(), "w");
    if (out == nullptr) {
      return Usage("cannot write --output " + args.output);
    }
  }
  options.out = out;
  options.stop = &g_stop;
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  engine::RunResult result = engine::RunVerify(options, config.value());
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (out != stdout && std::fclose(out) != 0) {
    std::fprintf(stderr, "trustgate: error: writing %s failed\n",
                 args.output.c_str());
    return kExitFailed;
  }
  return result.exit_code;
}

int RunExportCommand(const std::string& index_path,
                     const std::string& format_text) {
  auto format = engine::FormatFromString(format_text);
  if (!format.has_value()) {
    return Usage("--format must be text, json or jsonl");
  }
  auto index =
      engine::VerdictIndex::Open(index_path, engine::OpenMode::kReadOnly);
  if (!index.ok()) {
    std::fprintf(stderr, "trustgate: cannot read index %s: %s\n",
                 index_path.c_str(), index.detail().c_str());
    return kExitUsage;
  }
  engine::ReportWriter report(stdout, *format);
  engine::Summary summary;
  bool bad = false;
  auto status = index->ForEachRecord([&](const engine::StoredVerdict& row) {
    if (*format == engine::Format::kJsonl) {
      // The stored record is exactly the jsonl object of the run.
      std::fwrite(row.record.data(), 1, row.record.size(), stdout);
      std::fputc('\n', stdout);
      return true;
    }
    auto verdict = engine::FromJsonLine(row.record);
    if (!verdict.ok()) {
      std::fprintf(stderr, "trustgate: index row %s@%s is damaged: %s\n",
                   row.repository.c_str(), row.digest.c_str(),
                   verdict.detail().c_str());
      bad = true;
      return true;
    }
    summary.Add(*verdict);
    if (!report.Write(*verdict).ok()) {
      bad = true;
      return false;
    }
    return true;
  });
  if (*format != engine::Format::kJsonl && !report.Finish(summary).ok()) {
    bad = true;
  }
  if (!status.ok()) {
    std::fprintf(stderr, "trustgate: reading index %s failed: %s\n",
                 index_path.c_str(), status.detail().c_str());
    return kExitFailed;
  }
  return bad ? kExitFailed : kExitOk;
}

int RunCheckCommand(const std::string& index_path,
                    const std::vector<std::string>& references,
                    const std::string& at_text) {
  auto at = ParseAt(at_text);
  if (!at.has_value()) {
    return Usage("--at is not an RFC 3339 time");
  }
  auto index =
      engine::VerdictIndex::Open(index_path, engine::OpenMode::kReadOnly);
  if (!index.ok()) {
    std::fprintf(stderr, "trustgate: cannot read index %s: %s\n",
                 index_path.c_str(), index.detail().c_str());
    return kExitUsage;
  }
  int exit_code = kExitOk;
  for (const std::string& reference : references) {
    auto target = engine::ParseTarget(reference);
    if (!target.ok() || target->digest.empty()) {
      return Usage("check takes REPOSITORY@DIGEST, not \"" + reference + "\"");
    }
    auto row = index->Lookup(target->repository, target->digest);
    if (!row.ok()) {
      std::fprintf(stderr, "trustgate: reading index failed: %s\n",
                   row.detail().c_str());
      return kExitFailed;
    }
    std::string state;
    std::string why;
    if (!row->has_value()) {
      state = "unknown";
      why = "not in the index: run trustgate verify on it first";
      exit_code = kExitFailed;
    } else {
      const engine::StoredVerdict& v = **row;
      state = std::string(engine::ToString(v.verdict));
      why = std::string(engine::ToString(v.reason));
      if (v.verdict == engine::Verdict::kFailed) {
        exit_code = kExitFailed;
      } else if (v.valid_until.has_value() && *at >= *v.valid_until) {
        // The verdict was proven until valid_until only (a certificate or
        // the signature expires, an emergency policy ends): past it, it is
        // no longer an answer.
        state = "stale";
        why = std::string(engine::ToString(v.verdict)) + " until " +
              trustgate::base::FormatRfc3339(*v.valid_until) + ": verify again";
        exit_code = kExitFailed;
      }
    }
    std::printf("%-9s %s  %s\n", state.c_str(), reference.c_str(), why.c_str());
  }
  return exit_code;
}

// RaiseOpenFileLimit lifts the soft RLIMIT_NOFILE to the hard limit:
// discovery keeps one directory descriptor per repository.
void RaiseOpenFileLimit() {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  RaiseOpenFileLimit();
  CLI::App app{
      "trustgate: verify Notary Project (Notation) signatures across an OCI "
      "registry mirror"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "trustgate " TRUSTGATE_VERSION);

  VerifyArgs verify;
  CLI::App* verify_cmd = app.add_subcommand(
      "verify", "verify every artifact of a mirror against a trust policy");
  verify_cmd->add_option("--mirror", verify.mirror,
                         "mirror root holding OCI image layouts (default: .)");
  verify_cmd->add_option("--registry", verify.registry,
                         "registry host prefixed to repository paths");
  verify_cmd->add_option("--config", verify.config,
                         "Notation config dir (default: $NOTATION_CONFIG, "
                         "$XDG_CONFIG_HOME/notation, ~/.config/notation)");
  verify_cmd->add_option("--policy", verify.policy, "trust policy file");
  verify_cmd->add_option(
      "--trust-store", verify.trust_store,
      "trust store dir holding x509/{ca,signingAuthority,tsa}");
  verify_cmd
      ->add_option("--emergency-policy", verify.emergency_policy,
                   "emergency trust policy applied on top of the policy "
                   "until its \"expires\" (docs/policy-gate.md)")
      ->type_name("FILE");
  verify_cmd
      ->add_option("--max-emergency-ttl", verify.max_emergency_ttl,
                   "longest lifetime an emergency policy may have left "
                   "(default 24h)")
      ->type_name("DURATION");
  verify_cmd->add_option("--crl-dir", verify.crl_dir,
                         "offline revocation data (CRLs, OCSP responses)");
  verify_cmd->add_flag("--offline", verify.offline,
                       "never fetch revocation data");
  verify_cmd
      ->add_option("--crl-timeout", verify.crl_timeout,
                   "per CRL download (default: 5s, as Notation)")
      ->type_name("DURATION");
  verify_cmd
      ->add_option("--ocsp-timeout", verify.ocsp_timeout,
                   "per OCSP request (default: 2s, as Notation)")
      ->type_name("DURATION");
  verify_cmd->add_option(
      "--plugin-dir", verify.plugin_dir,
      "verification plugins dir (default: <config>/plugins)");
  verify_cmd->add_option("--plugin-timeout", verify.plugin_timeout,
                         "per plugin process (default: 30s)");
  verify_cmd->add_option("--plugin-jobs", verify.plugin_jobs,
                         "plugin processes at once (default: worker count)");
  verify_cmd->add_option(
      "--plugin-cache-ttl", verify.plugin_cache_ttl,
      "reuse plugin answers from the index this long (default: 24h; 0: off)");
  verify_cmd
      ->add_option("--plugin-config", verify.plugin_config,
                   "KEY=VALUE sent to verification plugins (repeatable)")
      ->allow_extra_args(false);
  verify_cmd->add_option("--index", verify.index,
                         "SQLite verdict index (default: $TRUSTGATE_INDEX, "
                         "else $XDG_STATE_HOME/trustgate/index.db)");
  verify_cmd->add_flag("--no-index", verify.no_index, "do not write an index");
  verify_cmd
      ->add_option("--jobs,-j", verify.jobs, "worker threads (default: cores)")
      ->check(CLI::NonNegativeNumber);
  verify_cmd->add_option("--format", verify.format, "text | json | jsonl");
  verify_cmd->add_option("--output,-o", verify.output, "write the report here");
  verify_cmd->add_option("--at", verify.at,
                         "verify as of this RFC 3339 time (default: now)");
  verify_cmd->add_flag("--quiet,-q", verify.quiet,
                       "no progress line and no summary on stderr");
  verify_cmd->add_flag("--no-blobs", verify.no_blobs,
                       "do not read and digest-check config and layer blobs");
  verify_cmd->add_flag("--full", verify.full,
                       "verify everything again (no verdict reused from the "
                       "index; blobs are hashed again)");
  verify_cmd->add_option("--io", verify.io,
                         "auto | uring | pread (default auto: io_uring, else "
                         "pread with a notice)");
  verify_cmd
      ->add_option("--max-signatures", verify.max_signatures,
                   "signatures tried per artifact (default 100, as Notation)")
      ->check(CLI::PositiveNumber);
  verify_cmd->add_option("TARGET", verify.targets,
                         "REPO, REPO@sha256:<hex> or REPO:TAG (default: all)");

  std::string export_index;
  std::string export_format = "jsonl";
  CLI::App* export_cmd =
      app.add_subcommand("export", "print the verdicts stored in an index");
  export_cmd->add_option("--index", export_index, "SQLite verdict index")
      ->required();
  export_cmd->add_option("--format", export_format,
                         "jsonl (default) | json | text");

  std::string check_index;
  std::string check_at;
  std::vector<std::string> check_refs;
  CLI::App* check_cmd = app.add_subcommand(
      "check",
      "answer from the index alone: exit 0 only if every artifact is "
      "verified (and still valid) or skipped");
  check_cmd->add_option("--index", check_index, "SQLite verdict index")
      ->required();
  check_cmd->add_option("--at", check_at, "judge validity as of this time");
  check_cmd->add_option("REFERENCE", check_refs, "REPO@sha256:<hex>")
      ->required();

  auto policy_commands = trustgate::tools::AddPolicyCommands(app);
  auto rotation_commands = trustgate::tools::AddRotationCommands(app);
  auto revocation_commands = trustgate::tools::AddRevocationCommands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (verify_cmd->parsed()) {
    return RunVerifyCommand(verify);
  }
  if (auto rc = policy_commands->RunIfParsed()) {
    return *rc;
  }
  if (auto rc = rotation_commands->RunIfParsed()) {
    return *rc;
  }
  if (auto rc = revocation_commands->RunIfParsed()) {
    return *rc;
  }
  if (export_cmd->parsed()) {
    return RunExportCommand(export_index, export_format);
  }
  if (check_cmd->parsed()) {
    return RunCheckCommand(check_index, check_refs, check_at);
  }
  return kExitUsage;
}
