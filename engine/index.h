#pragma once

// The SQLite verdict index: one row per (repository, artifact digest) with
// the verdict, why, until when it holds and which inputs it depended on,
// plus one row per signature with its trust path, so that later runs and
// other tools (check, export, rotation impact, incremental re-verification)
// can answer from it.
//
// Schema (version 1)
// ------------------
// The file is marked with `PRAGMA application_id = 0x54474958` ("TGIX") and
// `PRAGMA user_version = 1`; the `meta` table repeats both so that a person
// with the sqlite3 shell can see them. The file is in
// `PRAGMA journal_mode=WAL` (persistent); read-write connections add
// `synchronous=NORMAL`, `cache_size=-65536`, `wal_autocheckpoint=8192`;
// every connection waits up to 5 s for a lock (`busy_timeout`). Read-only
// connections set `query_only`; like every WAL reader they may create the
// `-wal`/`-shm` side files when absent (never the database itself), and on
// read-only media, where they cannot, the file is read with
// `immutable=1` (no writer can be active there). Times are INTEGER microseconds
// since the Unix epoch, UTC (they compare and sort correctly; `datetime(x /
// 1000000, 'unixepoch')` prints one). Optional columns hold NULL, never ''.
//
//   CREATE TABLE meta (
//     key   TEXT PRIMARY KEY,          -- 'application' = 'trustgate-index',
//     value TEXT NOT NULL              -- 'schema_version' = '1'
//   );
//
//   CREATE TABLE runs (
//     id                     INTEGER PRIMARY KEY,
//     started_at             INTEGER NOT NULL,  -- wall clock, run start
//     finished_at            INTEGER,           -- NULL while running
//     verification_time      INTEGER NOT NULL,  -- --at (the time verified as
//     of) policy_sha256          TEXT NOT NULL,     -- hex SHA-256 of the
//     policy file trust_store_generation TEXT NOT NULL,     -- fingerprint of
//     the trust store mirror                 TEXT,              -- mirror root,
//     informational tool_version           TEXT,              -- trustgate
//     version artifacts              INTEGER NOT NULL DEFAULT 0,  -- rows
//     written verified               INTEGER NOT NULL DEFAULT 0, skipped
//     INTEGER NOT NULL DEFAULT 0, failed                 INTEGER NOT NULL
//     DEFAULT 0, signatures             INTEGER NOT NULL DEFAULT 0, status TEXT
//     NOT NULL DEFAULT 'running'
//       CHECK (status IN ('running', 'complete', 'interrupted'))
//   );
//
//   CREATE TABLE verdicts (
//     repository  TEXT NOT NULL,
//     digest      TEXT NOT NULL,         -- '<alg>:<hex>' of the artifact
//     media_type  TEXT NOT NULL,
//     verdict     TEXT NOT NULL CHECK (verdict IN ('verified','skipped',
//                                                  'failed')),
//     reason      TEXT NOT NULL,         -- stable reason code
//     policy      TEXT,                  -- trust policy statement name
//     level       TEXT,                  -- 'strict', 'strict+expiry=log'...
//     tags        TEXT NOT NULL,         -- JSON array of strings
//     error       TEXT,
//     valid_until INTEGER,               -- the verdict holds until then
//     verified_at INTEGER NOT NULL,      -- verification time used
//     run_id      INTEGER NOT NULL REFERENCES runs(id),
//     inputs      TEXT NOT NULL,         -- fingerprint of policy, trust
//                                        -- store, revocation data (opaque)
//     record      TEXT NOT NULL,         -- exactly ToJsonLine(verdict)
//     PRIMARY KEY (repository, digest)
//   );
//   CREATE INDEX verdicts_by_digest ON verdicts(digest);
//   CREATE INDEX verdicts_by_run ON verdicts(run_id);
//
//   CREATE TABLE signatures (
//     repository         TEXT NOT NULL,
//     artifact_digest    TEXT NOT NULL,  -- verdicts.digest
//     signature_digest   TEXT NOT NULL,  -- signature manifest digest
//     envelope           TEXT,           -- 'jws' | 'cose' | NULL
//     scheme             TEXT,           -- 'notary.x509' | ...
//     identity           TEXT,           -- leaf subject DN (RFC 4514)
//     trust_store        TEXT,           -- 'ca:acme' that matched
//     chain              TEXT NOT NULL,  -- JSON array of SHA-256 hex,
//                                        -- leaf first
//     leaf_fingerprint   TEXT,           -- chain[0]
//     anchor_fingerprint TEXT,           -- SHA-256 of the trust-store cert
//                                        -- the chain was anchored at, if
//                                        -- the writer was told (AnchorFn)
//     reason             TEXT NOT NULL,  -- signature reason code
//     valid_until        INTEGER,
//     PRIMARY KEY (repository, artifact_digest, signature_digest)
//   );
//   CREATE INDEX signatures_by_leaf ON signatures(leaf_fingerprint);
//   CREATE INDEX signatures_by_anchor ON signatures(anchor_fingerprint);
//   CREATE INDEX signatures_by_trust_store ON signatures(trust_store);
//
//   CREATE TABLE IF NOT EXISTS revocation_cache (
//     kind        TEXT NOT NULL CHECK (kind IN ('crl', 'ocsp')),
//     url         TEXT NOT NULL,     -- CRL distribution point / OCSP
//                                    -- responder the data was fetched from
//     request     TEXT NOT NULL,     -- OCSP: hex SHA-256 of the DER
//                                    -- OCSPRequest (names the CertID);
//                                    -- CRL: ''
//     data        BLOB NOT NULL,     -- base CRL DER / OCSPResponse DER
//     delta       BLOB,              -- delta CRL DER fetched from the base
//                                    -- CRL's freshestCRL URLs, if any
//     this_update INTEGER,
//     next_update INTEGER,           -- reusable until then (NULL: never)
//     fetched_at  INTEGER NOT NULL,  -- wall clock of the fetch
//                                    -- (informational)
//     PRIMARY KEY (kind, url, request)
//   );
//
// revocation_cache is engine/revocation.h's own cache of fetched
// revocation data, shared across runs. It belongs to schema version 1:
// read-write connections create it when absent (so files written before it
// existed still open and gain it), read-only connections treat a missing
// table as empty. Nothing in it is trusted: every CRL and OCSP response is
// re-verified (signature, issuer, next update) each time it is used.
//
//   CREATE TABLE IF NOT EXISTS plugin_cache (
//     plugin           TEXT NOT NULL,  -- verification plugin name
//     command          TEXT NOT NULL   -- 'get-plugin-metadata' |
//       CHECK (command IN ('get-plugin-metadata', 'verify-signature')),
//                                      -- 'verify-signature'
//     version          TEXT NOT NULL,  -- plugin version ('' for metadata)
//     executable       TEXT NOT NULL,  -- hex SHA-256 of the executable
//     signature_digest TEXT NOT NULL,  -- signature manifest digest ('' for
//                                      -- metadata)
//     request          TEXT NOT NULL,  -- hex SHA-256 of the request JSON
//     response         BLOB NOT NULL,  -- the plugin's stdout
//     stored_at        INTEGER NOT NULL,  -- wall clock of the answer
//     PRIMARY KEY (plugin, command, version, executable, signature_digest,
//                  request)
//   );
//
// plugin_cache is engine/plugin.h's cache of plugin answers (reused within
// a TTL, so a re-run does not start the plugin again). Same life cycle as
// revocation_cache: created by read-write connections, absent = empty for
// read-only ones. Cached responses are re-checked each time they are used.
//
//   CREATE TABLE IF NOT EXISTS reuse (
//     repository  TEXT NOT NULL,
//     digest      TEXT NOT NULL,     -- verdicts.digest
//     key         TEXT NOT NULL,     -- hex SHA-256 of what the verdict
//                                    -- depended on (engine/run.h: run
//                                    -- inputs, manifest, signature
//                                    -- manifests, envelopes, blob files)
//     reuse_until INTEGER,           -- the outcome may change then (NULL:
//                                    -- no time limit)
//     PRIMARY KEY (repository, digest)
//   );
//
//   CREATE TABLE IF NOT EXISTS repositories (
//     repository  TEXT PRIMARY KEY,
//     key         TEXT NOT NULL,     -- hex SHA-256 of the run inputs, the
//                                    -- index.json bytes and the stat of
//                                    -- every file under blobs/
//     digests     TEXT NOT NULL,     -- JSON array: its verdicts, in order
//     warnings    TEXT NOT NULL,     -- JSON array: its graph warnings
//     verified_at INTEGER NOT NULL,  -- latest verified_at of its verdicts
//     reuse_until INTEGER,           -- earliest reuse_until of them
//     run_id      INTEGER NOT NULL
//   );
//
// reuse and repositories serve incremental re-verification (engine/run.h,
// README "Incremental re-verification"). A verdict without a reuse row
// (transient failures: revocation unknown, plugin, read errors) is never
// reused. Writing any verdict of a repository deletes its repositories
// row in the same transaction, so a repository row only ever describes
// verdict rows that a complete pass over the repository wrote or reused.
// Both tables are created by read-write connections like the caches.
//
// A verdict row and its signature rows are replaced together (upsert of
// the verdict, delete + insert of its signatures) in the batch transaction.
// Rows of artifacts that a later run no longer sees are kept.
//
// Example (rotation impact): which verified artifacts rest on anchor X?
//   SELECT v.repository, v.digest FROM signatures s JOIN verdicts v
//     ON v.repository = s.repository AND v.digest = s.artifact_digest
//   WHERE s.anchor_fingerprint = :x AND v.verdict = 'verified';

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/time.h"
#include "engine/verdict.h"

namespace trustgate::engine {

// IndexError is why an index operation failed. Stable codes.
enum class IndexError {
  kCannotOpen = 0,   // file missing (read-only), unreadable, not creatable
  kNotAnIndex = 1,   // a file that is not a trustgate index (or not SQLite)
  kNewerSchema = 2,  // written by a newer trustgate
  kReadOnly = 3,     // a write on an index opened read-only
  kBusy = 4,         // another process holds the write lock too long
  kFull = 5,         // disk or quota full
  kIo = 6,           // I/O error from the file system
  kCorrupt = 7,      // damaged database file or stored record
  kBadArgument = 8,  // unknown run id, writer already closed
  kSqlite = 9,       // any other SQLite failure
};
std::string_view ToString(IndexError e);

// kIndexSchemaVersion is the schema this build reads and writes.
inline constexpr int kIndexSchemaVersion = 1;

// OpenMode selects how Open() treats the file.
enum class OpenMode {
  kReadWrite,  // creates the file and schema when new
  kReadOnly,   // the file must exist and be an index; nothing is created
};

// RunStatus is a run's state in the `runs` table.
enum class RunStatus { kRunning, kComplete, kInterrupted };
std::string_view ToString(RunStatus s);  // "running" | ...

// RunInfo describes one verification run.
struct RunInfo {
  base::Time started_at{};         // wall clock at the start
  base::Time verification_time{};  // --at
  std::string policy_sha256;
  std::string trust_store_generation;
  std::string mirror;        // optional
  std::string tool_version;  // optional
};

// RunCounts are the totals FinishRun records.
struct RunCounts {
  uint64_t artifacts = 0;
  uint64_t verified = 0;
  uint64_t skipped = 0;
  uint64_t failed = 0;
  uint64_t signatures = 0;

  void Add(const ArtifactVerdict& v);
};

// StoredVerdict is one `verdicts` row.
struct StoredVerdict {
  std::string repository;
  std::string digest;
  Verdict verdict = Verdict::kFailed;
  Reason reason = Reason::kMalformed;
  std::string record;  // ToJsonLine of the verdict as written
  std::optional<base::Time> valid_until;
  base::Time verified_at{};
  std::string inputs;  // the inputs fingerprint it was written with
  int64_t run_id = 0;
};

// ReusableVerdict is a stored verdict with what incremental
// re-verification compares (a `verdicts` row joined with its `reuse` row).
struct ReusableVerdict {
  Verdict verdict = Verdict::kFailed;
  Reason reason = Reason::kMalformed;
  std::string record;  // ToJsonLine as written
  std::string tags;    // verdicts.tags (JSON array)
  base::Time verified_at{};
  std::string key;  // reuse.key
  std::optional<base::Time> reuse_until;
};

// RepositoryRecord is one `repositories` row: everything a re-run needs to
// re-emit a repository whose key is unchanged without reading its graph.
struct RepositoryRecord {
  std::string repository;
  std::string key;
  std::vector<std::string> digests;   // in report order
  std::vector<std::string> warnings;  // graph warnings, printed again
  base::Time verified_at{};
  std::optional<base::Time> reuse_until;
};

// AnchorFn returns the SHA-256 hex of the trust-store certificate that a
// signature's chain was anchored at, or nullopt when unknown. Called on
// the thread that writes; must not block.
using AnchorFn =
    std::function<std::optional<std::string>(const SignatureVerdict&)>;

// TrustPathRow is one row of VerdictIndex::ForEachVerifiedTrustPath: a
// `verified` verdict joined with one of its passing (reason 'ok')
// signature rows. Text columns are copied as stored ("" for NULL).
struct TrustPathRow {
  std::string repository;
  std::string digest;  // verdicts.digest
  std::string level;   // verdicts.level ("strict+expiry=log", ...)
  std::string tags;    // verdicts.tags, a JSON array of strings
  // has_signature is false when the verdict has no passing signature row
  // (the other signature fields are then empty).
  bool has_signature = false;
  std::string signature_digest;
  std::string trust_store;         // signatures.trust_store ("ca:acme")
  std::string anchor_fingerprint;  // signatures.anchor_fingerprint
  std::string chain;               // signatures.chain, a JSON array
};

// RevocationDataKind is the kind of a revocation_cache row.
enum class RevocationDataKind { kCrl, kOcsp };
std::string_view ToString(RevocationDataKind k);  // "crl" | "ocsp"

// kMaxCachedRevocationBytes bounds what LookupRevocationData returns per
// blob (larger rows are treated as absent): notation-core-go's CRL bound.
inline constexpr size_t kMaxCachedRevocationBytes = size_t{32} << 20;

// CachedRevocationData is one revocation_cache row.
struct CachedRevocationData {
  RevocationDataKind kind = RevocationDataKind::kCrl;
  std::string url;
  std::string request;  // OCSP: hex SHA-256 of the DER request; CRL: ""
  base::Bytes data;
  std::optional<base::Bytes> delta;
  std::optional<base::Time> this_update;
  std::optional<base::Time> next_update;
  base::Time fetched_at{};
};

// PluginCacheKey identifies a plugin_cache row.
struct PluginCacheKey {
  std::string plugin;
  std::string command;  // "get-plugin-metadata" | "verify-signature"
  std::string version;  // "" for metadata
  std::string executable;
  std::string signature_digest;  // "" for metadata
  std::string request;
};

// kMaxCachedPluginResponseBytes bounds a stored plugin response (larger
// ones are neither stored nor returned).
inline constexpr size_t kMaxCachedPluginResponseBytes = size_t{1} << 20;

// CachedPluginResponse is one plugin_cache row.
struct CachedPluginResponse {
  PluginCacheKey key;
  std::string response;
  base::Time stored_at{};
};

// VerdictIndex is one connection to an index file. Not thread-safe: use it
// from one thread at a time (it may move between threads). Movable.
class VerdictIndex {
 public:
  // Open opens (kReadWrite: creates when absent or empty) the index at
  // `path`. Fails with kNotAnIndex for another SQLite database or a
  // non-SQLite file (leaving it untouched), kNewerSchema for a newer
  // schema_version, kCannotOpen for a missing file in kReadOnly mode.
  static base::Result<VerdictIndex, IndexError> Open(const std::string& path,
                                                     OpenMode mode);

  VerdictIndex(VerdictIndex&&) noexcept;
  VerdictIndex& operator=(VerdictIndex&&) noexcept;
  ~VerdictIndex();

  OpenMode mode() const;

  // BeginRun inserts a `running` row and returns its id.
  base::Result<int64_t, IndexError> BeginRun(const RunInfo& run);

  // WriteBatch upserts `verdicts` (and replaces their signature rows) in
  // one transaction; on error nothing of the batch is kept. `anchor`, when
  // set, fills signatures.anchor_fingerprint.
  base::Status<IndexError> WriteBatch(int64_t run_id,
                                      std::span<const ArtifactVerdict> verdicts,
                                      std::string_view inputs_fingerprint,
                                      const AnchorFn& anchor = {});

  // FinishRun records a run's end, totals and status.
  base::Status<IndexError> FinishRun(int64_t run_id, const RunCounts& counts,
                                     RunStatus status, base::Time finished_at);

  // Lookup returns the row of (repository, digest), nullopt when absent.
  base::Result<std::optional<StoredVerdict>, IndexError> Lookup(
      std::string_view repository, std::string_view digest);

  // LookupDigest returns the rows of every repository that holds `digest`,
  // ordered by repository.
  base::Result<std::vector<StoredVerdict>, IndexError> LookupDigest(
      std::string_view digest);

  // ForEachRecord calls `fn` for every row in (repository, digest) order,
  // in one read transaction (a consistent snapshot). `fn` returns false to
  // stop early. The StoredVerdict is only valid during the call.
  base::Status<IndexError> ForEachRecord(
      const std::function<bool(const StoredVerdict&)>& fn);

  // RunStatusOf returns the status of run `run_id` (kBadArgument if none).
  base::Result<RunStatus, IndexError> RunStatusOf(int64_t run_id);

  // ForEachVerifiedTrustPath calls `fn` for every verdict whose verdict is
  // `verified`, once per passing signature row (once with has_signature
  // false when it has none), ordered by repository, digest and signature
  // digest, in one read transaction (a consistent snapshot). `fn` returns
  // false to stop early; the row is only valid during the call. Read-only
  // (rotation impact, engine/rotation.h).
  base::Status<IndexError> ForEachVerifiedTrustPath(
      const std::function<bool(const TrustPathRow&)>& fn);

  // LookupRevocationData returns the revocation_cache row of (kind, url,
  // request), nullopt when absent (or when the table does not exist in a
  // read-only file, or a blob exceeds kMaxCachedRevocationBytes).
  base::Result<std::optional<CachedRevocationData>, IndexError>
  LookupRevocationData(RevocationDataKind kind, std::string_view url,
                       std::string_view request);

  // StoreRevocationData inserts or replaces the row of (entry.kind,
  // entry.url, entry.request). kReadOnly on a read-only connection.
  base::Status<IndexError> StoreRevocationData(
      const CachedRevocationData& entry);

  // LookupPluginResponse returns the plugin_cache row of `key`, nullopt
  // when absent (or when the table does not exist in a read-only file, or
  // the response exceeds kMaxCachedPluginResponseBytes).
  base::Result<std::optional<CachedPluginResponse>, IndexError>
  LookupPluginResponse(const PluginCacheKey& key);

  // StorePluginResponse inserts or replaces the row of entry.key.
  // kReadOnly on a read-only connection; kBadArgument for a response over
  // kMaxCachedPluginResponseBytes.
  base::Status<IndexError> StorePluginResponse(
      const CachedPluginResponse& entry);

  // PrunePluginCache deletes the plugin_cache rows stored before
  // `stored_before` and returns how many.
  base::Result<uint64_t, IndexError> PrunePluginCache(base::Time stored_before);

  // LookupReusable returns the verdict of (repository, digest) with its
  // reuse row; nullopt when either is absent.
  base::Result<std::optional<ReusableVerdict>, IndexError> LookupReusable(
      std::string_view repository, std::string_view digest);

  // LookupReusableIn returns every verdict of `repository` that has a
  // reuse row, keyed by digest (one range scan).
  base::Result<std::unordered_map<std::string, ReusableVerdict>, IndexError>
  LookupReusableIn(std::string_view repository);

  // LookupRepository returns the repositories row of `repository`.
  base::Result<std::optional<RepositoryRecord>, IndexError> LookupRepository(
      std::string_view repository);

  // LimitSizeForTesting caps the file at `pages` pages on this connection
  // (PRAGMA max_page_count) so tests can provoke kFull.
  base::Status<IndexError> LimitSizeForTesting(uint64_t pages);

  // Internal row of the write path; public for IndexWriter.
  // A Row writes a verdict (verdict != nullptr; an empty reuse_key
  // deletes its reuse row) or a repositories row (repository != nullptr).
  struct Row {
    const ArtifactVerdict* verdict;
    std::string_view record;  // ToJsonLine(*verdict)
    std::string_view inputs;
    std::string_view reuse_key = {};
    std::optional<base::Time> reuse_until = std::nullopt;
    const RepositoryRecord* repository = nullptr;
  };
  base::Status<IndexError> WriteRows(int64_t run_id, std::span<const Row> rows,
                                     const AnchorFn& anchor);

  struct Impl;

 private:
  explicit VerdictIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// IndexWriter owns a read-write VerdictIndex on one writer thread, fed by
// a bounded queue. Pool threads Push() verdicts (their JSON record is
// serialized on the pushing thread); the writer commits a transaction per
// batch of up to `batch_size` verdicts, or every `flush_interval`. The
// first SQLite error (disk full, ...) stops writing: later pushes are
// dropped and Close() returns the error. Nothing crashes on a write error.
class IndexWriter {
 public:
  struct Options {
    size_t batch_size = 512;
    std::chrono::milliseconds flush_interval{200};
    size_t queue_capacity = 4096;  // Push() blocks while this many wait
    std::string inputs_fingerprint;
    AnchorFn anchor;
  };

  // Start begins a run in `index` (which must be read-write) and starts the
  // writer thread.
  static base::Result<std::unique_ptr<IndexWriter>, IndexError> Start(
      VerdictIndex index, const RunInfo& run, Options options);

  IndexWriter(const IndexWriter&) = delete;
  IndexWriter& operator=(const IndexWriter&) = delete;
  // The destructor closes an unclosed writer as kInterrupted.
  ~IndexWriter();

  // Push queues one verdict, blocking while the queue is full. Thread-safe.
  // Dropped (returns false) after an error or Close().
  bool Push(ArtifactVerdict verdict);
  // Push with its reuse row: `reuse_key` empty = never reuse it.
  bool Push(ArtifactVerdict verdict, std::string reuse_key,
            std::optional<base::Time> reuse_until);
  // PushRecord is Push with the verdict's record already serialized
  // (`record` must be ToJsonLine(verdict)), for callers that printed it.
  bool PushRecord(ArtifactVerdict verdict, std::string record,
                  std::string reuse_key, std::optional<base::Time> reuse_until);
  // PushRepository queues a repositories row, written after the verdicts
  // pushed before it.
  bool PushRepository(RepositoryRecord record);
  // CountReused adds a verdict re-emitted from the index (not rewritten)
  // to the run's totals.
  void CountReused(Verdict verdict);

  // Close writes what is queued, finishes the run with `status` (or
  // kInterrupted after an error) and joins the thread. Returns the first
  // error of the run. Call once; later calls return kBadArgument.
  base::Status<IndexError> Close(RunStatus status, base::Time finished_at);

  int64_t run_id() const { return run_id_; }
  // counts are the totals written so far (complete after Close()).
  RunCounts counts() const;
  // failed tells whether a write error has occurred (writing has stopped).
  bool failed() const;

 private:
  struct Item {
    ArtifactVerdict verdict;
    std::string record;
    std::string reuse_key;
    std::optional<base::Time> reuse_until;
    std::optional<RepositoryRecord> repository;
  };
  bool Enqueue(Item item);

  IndexWriter(VerdictIndex index, int64_t run_id, Options options);
  void Loop();

  VerdictIndex index_;
  const int64_t run_id_;
  const Options options_;

  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<Item> queue_;
  bool closing_ = false;
  bool closed_ = false;
  std::optional<base::Error<IndexError>> error_;
  RunCounts counts_;
  std::thread thread_;
};

}  // namespace trustgate::engine
