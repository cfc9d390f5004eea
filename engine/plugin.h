#pragma once

// Verification plugins: the verifier side of the Notation plugin contract
// (specifications: plugin-extensibility.md "Plugin contract", "Plugin
// metadata", "Verification extensibility"; notation-go v1.3 plugin/ and
// verifier.processSignature / executePlugin / processPluginResponse;
// notation-plugin-framework-go plugin/ for the JSON of each command).
//
// Discovery
// ---------
// A signature naming plugin `<name>` (io.cncf.notary.verificationPlugin)
// needs the executable `<plugin_dir>/<name>/notation-<name>`, where
// plugin_dir is `<config>/plugins` unless --plugin-dir says otherwise. It
// must be a regular, executable file: a symlink, a directory or anything
// else is refused (plugin-extensibility.md: "The executable MUST be a
// regular file, symlinks are not supported"; notation-go follows symlinks
// here, we do not). A name that cannot be one path component (empty, ".",
// "..", containing '/', NUL or control characters, longer than 255 bytes)
// is refused before any file system access: the name comes from the
// signature and is hostile.
//
// Invocation
// ----------
// `notation-<name> <command>` with the JSON request on stdin, spawned
// without a shell (posix_spawn), in its own process group, with the
// parent's environment (AWS credentials, proxies) and no other inherited
// descriptor. stdout and stderr are read concurrently with poll(); each is
// capped at kMaxPluginOutputBytes (notation-go maxPluginOutputSize, the
// spec's 64 MiB). Exit status 0: stdout is the response. Otherwise the
// error JSON on stderr ({"errorCode", "errorMessage", "errorMetadata"}) is
// the error text. A timeout (--plugin-timeout, default 30 s) kills the
// whole process group; so does the leader's exit (stragglers die with it).
// A crash, a timeout, a non-zero exit, oversize or non-JSON output are all
// errors (PluginOutcome::error): they fail the signature at every level.
//
// get-plugin-metadata runs once per (plugin, plugin config) per run;
// concurrent callers wait for that one call. Its answer is checked as
// notation-go CLIPlugin.GetMetadata does (name, description, version, url
// non-empty, the name equal to the install name, capabilities non-empty,
// supportedContractVersions listing "1.0"), the version must be SemVer
// (notation-go internal/semver), and the SIGNATURE_VERIFIER capabilities are
// kept (TRUSTED_IDENTITY, REVOCATION_CHECK); a plugin with neither cannot
// verify (kNoVerifierCapability). The signature's
// verificationPluginMinVersion, when present, must be SemVer and at most the
// plugin's version (golang.org/x/mod/semver ordering: pre-releases before
// the release, build metadata ignored).
//
// verify-signature
// ----------------
// The request is built from the envelope and the policy exactly as
// notation-go executePlugin builds it (BuildVerifySignatureRequest), with
// two spec-driven differences: `verificationPlugin` and
// `verificationPluginMinVersion` are listed among the critical attributes
// (plugin-extensibility.md's request; notation-go leaves them out, plugins
// must ignore members they do not know), and `expiry` is omitted when the
// envelope has none (notation-go sends Go's zero time then). The
// capabilities asked for are the plugin's verifier capabilities, less
// REVOCATION_CHECK when the policy's revocation action is skip (notation-go
// processSignature). The response is checked as processPluginResponse does,
// and more strictly where the spec says so: the verificationResults keys
// must EQUAL the capabilities asked for (notation-go tolerates extra keys;
// the spec and this project do not), every attribute sent as unprocessed
// must come back in processedAttributes, and duplicate JSON keys are
// refused. A TRUSTED_IDENTITY failure is judged with the authenticity
// action, a REVOCATION_CHECK failure with the revocation action (enforced:
// kFail, logged: kLogged).
//
// When no capability is left to ask for (a REVOCATION_CHECK-only plugin
// under a revocation skip), notation-go does not run the plugin and accepts
// the signature even if it carries critical extended attributes that
// nobody processed; we follow the specification instead (step 7 of
// "Verification workflow using plugin") and fail with
// kUnprocessedAttribute when a critical extended attribute remains. A
// critical COSE attribute with an integer label (never handed to a plugin
// by notation-go) fails the same way.
//
// Batch model and threads
// -----------------------
// Plugin processes run only on the runner's own threads: `jobs` dispatcher
// threads (--plugin-jobs, default the worker count), each running one
// process at a time, so at most `jobs` plugin processes exist at once. A
// caller of RunVerification / Resolve hands the work to a dispatcher and
// waits for it:
//  - inside a oneTBB task (WaitMode::kSuspendTbbTask, the default) the
//    task is suspended with tbb::task::suspend and its worker thread goes
//    on with other tasks (other signatures' crypto) until the plugin
//    answers and a dispatcher resumes it, so plugins never hold a crypto
//    worker. The task may resume on ANOTHER worker thread: never call while
//    holding a lock or relying on thread-local state across the call. At
//    most `max_suspended` tasks are suspended at once (each holds a
//    coroutine stack); beyond that callers block;
//  - anywhere else (or with WaitMode::kBlock) the calling thread blocks.
// Identical concurrent requests share one invocation (single flight). Every
// wait is for an event that a dispatcher thread signals, never for another
// caller's task, so a mix of suspended and blocked callers cannot starve
// each other; callers must likewise not block a worker on the result of a
// task that may be suspended here.
//
// Integration (the per-signature sequence, as notation-go processSignature)
// ----------------------------------------------------------------------
// engine/verifier.cc, after integrity, for an envelope naming a plugin:
// Resolve() (an error fails the signature with reason `plugin` at every
// level). The native trusted-identity step is skipped when the plugin
// Has(kTrustedIdentity), the native revocation step when it
// Has(kRevocationCheck). After the native steps: RunVerification().
// PluginOutcome::error fails the signature (reason `plugin`, finding code
// ToString(code), validations.plugin `fail`) at every level. A
// TRUSTED_IDENTITY result is the trustedIdentity check (enforced failure:
// reason `trusted-identity`), a REVOCATION_CHECK result the revocation
// check (enforced failure: reason `revocation`); validations.plugin is
// `fail` with an enforced failure, `logged` with only logged ones, `pass`
// when every result succeeded, `skipped` when nothing was asked. The
// signature's `plugin` output object records name, version, capabilities
// and whether the answer came from the cache.
//
// Result cache
// ------------
// With an index path, answers are kept in the verdict index's plugin_cache
// table (engine/index.h) for `cache_ttl` (--plugin-cache-ttl, default 24 h,
// because revocation answers change): verify-signature responses keyed by
// plugin name, plugin version, plugin executable SHA-256, signature digest
// and the SHA-256 of the exact request JSON (which covers the chain, the
// attributes, the trusted identities, the capabilities asked for and the
// plugin config); get-plugin-metadata responses keyed by plugin name,
// executable SHA-256 and request. A re-run within the TTL therefore starts
// no plugin process at all. The spec says Notation does not cache metadata
// because detecting a plugin update is hard; keying it by the executable's
// SHA-256 (read once per run) detects exactly that. Only answers of a
// process that exited 0 with well-formed JSON are stored; stored answers
// are re-checked like fresh ones (nothing read from the cache is trusted
// more than the plugin was). A cache that cannot be read or written is a
// warning, never an error.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "crypto/envelope.h"
#include "engine/verdict.h"
#include "policy/trust_policy.h"

namespace trustgate::engine {

// kPluginContractVersion is the contract version we speak
// (notation-plugin-framework-go ContractVersion).
inline constexpr std::string_view kPluginContractVersion = "1.0";

// kMaxPluginOutputBytes caps each of a plugin's stdout and stderr
// (plugin-extensibility.md "Plugin contract"; notation-go
// maxPluginOutputSize). Output beyond it is kOutputTooLarge.
inline constexpr size_t kMaxPluginOutputBytes = size_t{64} << 20;

// kMaxPluginJobs bounds PluginRunnerOptions::jobs (one thread each).
inline constexpr size_t kMaxPluginJobs = 256;

// kMaxPluginNameBytes bounds a plugin name (one file name component).
inline constexpr size_t kMaxPluginNameBytes = 255;

// PluginCapability is a SIGNATURE_VERIFIER capability.
enum class PluginCapability { kTrustedIdentity, kRevocationCheck };

// ToString returns "SIGNATURE_VERIFIER.TRUSTED_IDENTITY" or
// "SIGNATURE_VERIFIER.REVOCATION_CHECK" (the wire names).
std::string_view ToString(PluginCapability c);

// PluginError is why a plugin could not give an answer. Stable codes
// (never renumbered or reused); ToString gives the finding code used in
// the output ("plugin-timeout", ...). Every one fails the signature at
// every level with reason `plugin`.
enum class PluginError {
  kInvalidName = 1,            // the signature's plugin name is unusable
  kNotInstalled = 2,           // no <dir>/<name>/notation-<name>
  kNotRegularFile = 3,         // a symlink, directory, device...
  kNotExecutable = 4,          // no execute permission
  kSpawn = 5,                  // the process could not be started
  kTimeout = 6,                // --plugin-timeout elapsed (group killed)
  kCrashed = 7,                // killed by a signal
  kPluginError = 8,            // non-zero exit with an error JSON
  kExitStatus = 9,             // non-zero exit without an error JSON
  kOutputTooLarge = 10,        // stdout or stderr over 64 MiB
  kMalformedResponse = 11,     // stdout not JSON, wrong types, dup keys
  kInvalidMetadata = 12,       // metadata fields empty / name / contract
  kInvalidVersion = 13,        // plugin or minimum version not SemVer
  kVersionTooLow = 14,         // plugin version < the signature's minimum
  kNoVerifierCapability = 15,  // no SIGNATURE_VERIFIER capability
  kResultMismatch = 16,        // verificationResults keys != asked
  kUnprocessedAttribute = 17,  // an attribute did not come back processed
  kIo = 18,                    // pipes, poll, reading the executable
  kCache = 19,                 // Create: the index could not be opened
};

// ToString returns the stable finding code ("plugin-not-installed", ...).
std::string_view ToString(PluginError e);

// IsValidPluginVersion is true for a SemVer 2.0.0 version without a "v"
// prefix ("1.0.0", "1.2.3-rc.1+build.5"), notation-go internal/semver
// IsValid (the semver.org regular expression).
bool IsValidPluginVersion(std::string_view version);

// ComparePluginVersions compares two valid versions as notation-go does
// (golang.org/x/mod/semver Compare on "v"+a and "v"+b): -1, 0 or +1.
// Numeric parts compare as numbers of any length, a pre-release sorts
// before its release, pre-release identifiers compare numerically when
// both are numeric, numeric before alphanumeric, else in ASCII order, a
// shorter identifier list first; build metadata is ignored. nullopt when
// either is not IsValidPluginVersion.
std::optional<int> ComparePluginVersions(std::string_view a,
                                         std::string_view b);

// IsValidPluginName is true for a name usable as one path component (see
// "Discovery" above).
bool IsValidPluginName(std::string_view name);

// PluginExecutablePath returns `<plugin_dir>/<name>/notation-<name>`.
std::filesystem::path PluginExecutablePath(
    const std::filesystem::path& plugin_dir, std::string_view name);

// DefaultPluginDir returns `<config_dir>/plugins` (plugin-extensibility.md
// "Plugin installation path": $XDG_CONFIG_HOME/notation/plugins on Unix).
std::filesystem::path DefaultPluginDir(const std::filesystem::path& config_dir);

// ParsePluginDuration parses a --plugin-timeout / --plugin-cache-ttl
// value: "0", or one or more <digits><unit> groups with units d, h, m, s
// and ms, largest first ("30s", "1h30m", "500ms", "24h"). nullopt for
// anything else or more than 100 years.
std::optional<std::chrono::milliseconds> ParsePluginDuration(
    std::string_view text);

// ParsePluginConfigEntry splits a --plugin-config "key=value" at the first
// '='; nullopt when there is no '=' or the key is empty.
std::optional<std::pair<std::string, std::string>> ParsePluginConfigEntry(
    std::string_view text);

// PluginConfig is the run's --plugin-config key=value pairs, sent as the
// requests' pluginConfig object (keys in byte order, as Go marshals maps).
using PluginConfig = std::map<std::string, std::string>;

// PluginInfo is what get-plugin-metadata said about an installed plugin.
struct PluginInfo {
  std::string name;
  std::string version;
  std::string description;
  std::string url;
  // capabilities: the SIGNATURE_VERIFIER capabilities, in the plugin's
  // order, without duplicates; never empty in a resolved plugin.
  std::vector<PluginCapability> capabilities;
  std::string executable_sha256;  // hex SHA-256 of the executable

  // Has is true when the plugin performs `c`; the engine then skips its
  // own step (trusted identity, revocation), as notation-go does.
  bool Has(PluginCapability c) const;
};

// PluginCall is one signature's plugin verification. Everything is
// borrowed and must stay alive during the call.
struct PluginCall {
  // plugin / min_version: Envelope::verification_plugin and
  // verification_plugin_min_version.
  std::string_view plugin;
  std::optional<std::string_view> min_version;
  // envelope: the parsed envelope (its certificate_der, times, attributes).
  const crypto::Envelope* envelope = nullptr;
  // trusted_identities: the selected statement's trustedIdentities, all of
  // them, as written (x509.subject: ones included, as notation-go sends).
  std::span<const policy::TrustedIdentity> trusted_identities;
  // The statement's actions: ActionFor(kAuthenticity) judges a
  // TRUSTED_IDENTITY failure, ActionFor(kRevocation) a REVOCATION_CHECK
  // failure; a revocation action of kSkip removes REVOCATION_CHECK from the
  // capabilities asked for.
  policy::Action trusted_identity_action = policy::Action::kEnforce;
  policy::Action revocation_action = policy::Action::kEnforce;
  // config: --plugin-config (nullptr: none).
  const PluginConfig* config = nullptr;
  // signature_digest: the signature manifest's digest (cache key).
  std::string_view signature_digest;
  // now: wall-clock time of the call; decides whether a cached answer is
  // younger than the TTL and is recorded with new answers.
  base::Time now{};
};

// PluginCapabilityResult is the plugin's answer for one capability asked.
struct PluginCapabilityResult {
  PluginCapability capability = PluginCapability::kTrustedIdentity;
  bool success = false;
  std::string reason;  // the plugin's reason (sanitized, bounded)
  policy::Action action = policy::Action::kEnforce;  // the action applied
  // status: kPass on success, else kFail (enforced) or kLogged (logged).
  CheckStatus status = CheckStatus::kPass;
};

// PluginOutcome is the result of RunVerification.
struct PluginOutcome {
  std::string plugin;   // the name asked for
  std::string version;  // the plugin's version, when metadata was read
  // capabilities: the plugin's verifier capabilities (empty when it could
  // not be resolved); the native steps they replace must be skipped.
  std::vector<PluginCapability> capabilities;
  // asked: the capabilities sent in trustPolicy.signatureVerification.
  std::vector<PluginCapability> asked;
  // results: one per asked capability, in `asked` order; empty on error.
  std::vector<PluginCapabilityResult> results;
  // processed_attributes: the response's processedAttributes (strings).
  std::vector<std::string> processed_attributes;
  // error: set when the plugin gave no usable answer (any PluginError).
  // Never a pass, at any level.
  std::optional<base::Error<PluginError>> error;
  bool cached = false;   // the answer came from the index cache
  bool invoked = false;  // a verify-signature process ran for this call

  // Passed is true when there is no error and no enforced failure.
  bool Passed() const;
  // FirstEnforcedFailure is the first result with status kFail, if any.
  const PluginCapabilityResult* FirstEnforcedFailure() const;
};

// WaitMode says how a caller waits for a plugin process (see "Batch model
// and threads").
enum class WaitMode { kSuspendTbbTask, kBlock };

// PluginRunnerOptions configures a PluginRunner.
struct PluginRunnerOptions {
  std::filesystem::path plugin_dir;  // DefaultPluginDir or --plugin-dir
  // timeout: per process (--plugin-timeout; notation's default context has
  // none, the issue asks for 30 s).
  std::chrono::milliseconds timeout{30000};
  // jobs: maximum concurrent plugin processes (--plugin-jobs); 0 = the
  // hardware concurrency; at most kMaxPluginJobs.
  size_t jobs = 0;
  // index_path: the verdict index holding plugin_cache (a connection of
  // the runner's own, created read-write when absent); nullopt: no cache.
  std::optional<std::filesystem::path> index_path;
  // cache_ttl: how long a cached answer is reused; zero disables the cache.
  std::chrono::seconds cache_ttl{std::chrono::hours(24)};
  WaitMode wait = WaitMode::kSuspendTbbTask;
  size_t max_suspended = 1024;
  size_t max_output_bytes = kMaxPluginOutputBytes;
};

// PluginStats counts what a runner did.
struct PluginStats {
  uint64_t metadata_invocations = 0;  // get-plugin-metadata processes
  uint64_t metadata_cache_hits = 0;
  uint64_t verify_invocations = 0;  // verify-signature processes
  uint64_t verify_cache_hits = 0;
  uint64_t shared_invocations = 0;  // calls that joined one in flight
  uint64_t cache_writes = 0;
  uint64_t errors = 0;           // outcomes with an error
  uint64_t timeouts = 0;         // processes killed at the deadline
  uint64_t max_concurrent = 0;   // most processes alive at once
  uint64_t suspended_waits = 0;  // waits that suspended a TBB task
  uint64_t blocked_waits = 0;    // waits that blocked a thread
};

// PluginRunner runs verification plugins for a whole run. Thread-safe; one
// per run. Destroy it only after every call has returned.
class PluginRunner {
 public:
  // Create opens the index (kCache when it cannot be opened read-write)
  // and deletes cache rows older than the TTL at `now`. The dispatcher
  // threads start with the first plugin call.
  static base::Result<std::unique_ptr<PluginRunner>, PluginError> Create(
      PluginRunnerOptions options, base::Time now);

  ~PluginRunner();
  PluginRunner(const PluginRunner&) = delete;
  PluginRunner& operator=(const PluginRunner&) = delete;

  // Resolve locates plugin `name`, reads its metadata (once per run and
  // config; from the cache within the TTL) and checks `min_version`
  // against it. The engine calls it right after integrity (where
  // notation-go does) to learn which native steps the plugin replaces.
  // Fails with kInvalidName, kInvalidVersion, kNotInstalled,
  // kNotRegularFile, kNotExecutable, a process error, kMalformedResponse,
  // kInvalidMetadata, kVersionTooLow or kNoVerifierCapability; the detail
  // names the plugin (and, when it is missing, the directory expected).
  base::Result<PluginInfo, PluginError> Resolve(
      std::string_view name, std::optional<std::string_view> min_version,
      const PluginConfig* config, base::Time now);

  // RunVerification resolves the plugin, asks it to verify-signature (or
  // takes the cached answer) and checks the response. Never fails: every
  // problem is PluginOutcome::error.
  PluginOutcome RunVerification(const PluginCall& call);

  PluginStats stats() const;

  // TakeWarnings returns (and forgets) warnings so far (cache failures).
  std::vector<std::string> TakeWarnings();

  const PluginRunnerOptions& options() const;

  struct Impl;

 private:
  explicit PluginRunner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

namespace internal {

// PluginProcessOutput is what a finished plugin process produced.
struct PluginProcessOutput {
  int exit_code = 0;  // valid when signal == 0
  int signal = 0;     // the signal that killed it, 0 if it exited
  std::string out;    // stdout
  std::string err;    // stderr
};

// RunPluginProcess runs `executable command` with `input` on stdin (see
// "Invocation"). Fails with kSpawn, kTimeout, kOutputTooLarge or kIo; a
// non-zero exit or a signal is a successful run (the caller decides).
base::Result<PluginProcessOutput, PluginError> RunPluginProcess(
    const std::filesystem::path& executable, std::string_view command,
    std::string_view input, std::chrono::milliseconds timeout,
    size_t max_output_bytes);

// BuildVerifySignatureRequest returns the verify-signature request JSON
// for `call` asking for `asked` (see "verify-signature"). Members in the
// order of notation-plugin-framework-go's structs, maps in key order.
std::string BuildVerifySignatureRequest(
    const PluginCall& call, std::span<const PluginCapability> asked);

// BuildMetadataRequest returns the get-plugin-metadata request JSON.
std::string BuildMetadataRequest(const PluginConfig* config);

// ParseMetadataResponse parses and validates a get-plugin-metadata
// response for plugin `name` (kMalformedResponse, kInvalidMetadata,
// kInvalidVersion, kNoVerifierCapability).
base::Result<PluginInfo, PluginError> ParseMetadataResponse(
    std::string_view name, std::string_view json);

// ProcessVerifyResponse checks a verify-signature response against the
// request made for `call` asking for `asked`, filling `out` (results,
// processed attributes; error on kMalformedResponse, kResultMismatch or
// kUnprocessedAttribute).
void ProcessVerifyResponse(const PluginCall& call,
                           std::span<const PluginCapability> asked,
                           std::string_view json, PluginOutcome* out);

// PluginErrorText turns a failed process into the plugin's own error text
// (kPluginError with "<errorCode>: <errorMessage>" from stderr's error
// JSON, else kExitStatus or kCrashed with the exit status and stderr).
base::Error<PluginError> PluginErrorText(std::string_view name,
                                         std::string_view command,
                                         const PluginProcessOutput& output);

}  // namespace internal

}  // namespace trustgate::engine
