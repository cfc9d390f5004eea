#pragma once

// Revocation checking of signing (and TSA) certificate chains for a whole
// run (issue 3 parts 2-3; trust-store-trust-policy.md "Certificate
// Revocation Evaluation"; notation-core-go v1.3 revocation.ValidateContext).
// The evaluation itself (CRL, delta CRL, OCSP) is crypto/crl.h and
// crypto/ocsp.h; this file finds the data, in this order:
//
//  1. --crl-dir DIR, loaded once at start: every regular file at its top
//     level that is a CRL (DER or PEM) or a DER OCSP response. CRLs are
//     matched to a certificate by issuer name (the CRL's issuer equals the
//     certificate's issuer) and, when the CRL carries an issuing
//     distribution point naming URIs, by distribution point too; a file
//     named `crl-<hex SHA-256 of a URL>.crl` (what `trustgate revocation
//     prefetch` writes) is also matched to that URL exactly. OCSP responses
//     are matched by CertID (serial number, issuer name and key hashes).
//  2. Notation's CRL file cache (DefaultNotationCrlCacheDir): file
//     `<hex SHA-256 of the URL>`, JSON {"baseCRL": base64 DER,
//     "deltaCRL": base64 DER (optional)} (notation-go verifier/crl
//     FileCache). Written back atomically after an HTTP fetch, so a Notation
//     installation shares it.
//  3. Our own cache, the verdict index's revocation_cache table
//     (engine/index.h), when an index path is given.
//  4. HTTP with libcurl, unless offline: http URLs only, one fetch per URL
//     (CRL) or per responder and request (OCSP) per run, concurrent callers
//     waiting on the fetch in flight, every outcome (failure too) memoised
//     for the run.
//
// Nothing from a source is trusted: each CRL and OCSP response is verified
// by the evaluation (signature, issuer, next update) every time it is used.
// A source whose data does not decide (absent, expired, bad signature, not
// for this certificate) passes to the next source; the first source whose
// data decides good or revoked wins. With no deciding source, the outcome
// of the last data examined is kept (HTTP's when it was asked), so the
// message says what was wrong.
//
// Per certificate (leaf to the one below the root; the root is never
// checked, as notation-core-go), following ValidateContext:
//  - the certificate names OCSP responders: ask them (crl-dir responses
//    first, then each responder in order through the index and HTTP; the
//    first conclusive answer decides, crypto::CombineOcspResults); when the
//    outcome is unknown and the certificate names CRL distribution points,
//    fall back to CRLs;
//  - else it names CRL distribution points: evaluate each in order, the
//    first one that is not good decides (crypto::CombineCrlResults);
//  - else it is not revocable: good (ResultNonRevokable in Notation).
// The chain's result is revoked if any certificate is revoked, else unknown
// if any is unknown, else good.
//
// Time: nothing here reads a clock for a decision. The verification time
// and (signingAuthority scheme) the authentic signing time are parameters;
// cached data is "effective" when the evaluation at the verification time
// accepts its next update. Only the informational fetched_at column of the
// index cache is the wall clock.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "crypto/certificate.h"
#include "crypto/crl.h"
#include "crypto/error.h"
#include "crypto/ocsp.h"

namespace trustgate::engine {

// RevocationSource says where the data that decided came from. Stable
// names (output format).
enum class RevocationSource {
  kNone,           // no data used (not revocable, or nothing found)
  kCrlDir,         // --crl-dir
  kNotationCache,  // Notation's CRL file cache
  kIndex,          // the verdict index's revocation_cache
  kHttp,           // fetched in this run
};

// ToString returns "none", "crl-dir", "cache", "index" or "http".
std::string_view ToString(RevocationSource s);

// NetworkMode says whether HTTP may be used (--offline).
enum class NetworkMode { kOnline, kOffline };

// NotationCacheMode says whether Notation's CRL cache is written back
// after an HTTP fetch.
enum class NotationCacheMode { kReadWrite, kReadOnly };

// RevocationError is why a RevocationChecker (or a prefetch) could not be
// set up. Stable codes.
enum class RevocationError {
  kCrlDir = 1,  // --crl-dir is missing or unreadable
  kIndex = 2,   // the index could not be opened for the revocation cache
  kMirror = 3,  // prefetch: the mirror root cannot be read
  kOutput = 4,  // prefetch: the output directory cannot be written
};
std::string_view ToString(RevocationError e);

// RevocationOptions configures a RevocationChecker.
struct RevocationOptions {
  // crl_dir: offline revocation data (--crl-dir).
  std::optional<std::filesystem::path> crl_dir;
  // notation_crl_cache: the directory of Notation's CRL cache files (the
  // `crl` sub-directory of Notation's cache dir; see
  // DefaultNotationCrlCacheDir). nullopt: not used.
  std::optional<std::filesystem::path> notation_crl_cache;
  NotationCacheMode notation_cache_mode = NotationCacheMode::kReadWrite;
  // index_path: the verdict index whose revocation_cache is used (a
  // connection of the checker's own; created when absent). nullopt: none.
  std::optional<std::filesystem::path> index_path;
  NetworkMode network = NetworkMode::kOnline;
  // Per-request timeouts (whole request, connect to last byte), as
  // Notation's HTTP clients (notation internal/revocation: 5 s CRL, 2 s
  // OCSP).
  std::chrono::milliseconds crl_timeout{5000};
  std::chrono::milliseconds ocsp_timeout{2000};
  // Largest accepted response bodies: notation-core-go refuses a CRL of
  // kMaxCrlSize bytes or more and reads at most kMaxOcspResponseSize bytes
  // of an OCSP response.
  size_t max_crl_bytes = crypto::kMaxCrlSize - 1;
  size_t max_ocsp_bytes = crypto::kMaxOcspResponseSize;
};

// DefaultNotationCrlCacheDir returns Notation's CRL cache directory:
// `$NOTATION_CACHE/crl`, else `$XDG_CACHE_HOME/notation/crl`, else
// `$HOME/.cache/notation/crl` (notation cmd/notation main.go, notation-go
// dir.PathCRLCache over Go's os.UserCacheDir); nullopt when none of these
// variables is set. Reads the environment.
std::optional<std::filesystem::path> DefaultNotationCrlCacheDir();

// NotationCrlCacheFileName is the hex SHA-256 of `url` (notation-go
// FileCache.fileName).
std::string NotationCrlCacheFileName(std::string_view url);

// PrefetchCrlFileName / PrefetchOcspFileName name the files `revocation
// prefetch` writes into a --crl-dir: `crl-<hex SHA-256 of the URL>.crl`
// (DER; base and delta CRLs alike, each under its own URL) and
// `ocsp-<hex SHA-256 of "<responder URL>\n" + DER request>.der`.
std::string PrefetchCrlFileName(std::string_view url);
std::string PrefetchOcspFileName(std::string_view responder,
                                 base::ByteView request);

// RevocationLookup is one distribution point or responder consulted for a
// certificate (notation-core-go's ServerResult). result.code is nullopt
// for a kUnknown result when no data could be obtained (download failure,
// offline without data); the detail says why.
struct RevocationLookup {
  std::string url;  // empty for a --crl-dir OCSP response
  crypto::RevocationMethod method = crypto::RevocationMethod::kNone;
  RevocationSource source = RevocationSource::kNone;
  crypto::CertRevocation result;
};

// CertificateRevocation is the outcome for one certificate of a chain.
struct CertificateRevocation {
  std::string fingerprint;  // SHA-256 hex of the certificate
  std::string subject;      // RFC 4514
  crypto::RevocationStatus status = crypto::RevocationStatus::kUnknown;
  // method: kOcsp or kCrl for the data that decided, kNone when the
  // certificate names neither (then status is kGood: not revocable).
  crypto::RevocationMethod method = crypto::RevocationMethod::kNone;
  RevocationSource source = RevocationSource::kNone;
  bool revocable = false;      // names an OCSP responder or a CRL DP
  bool ocsp_fallback = false;  // OCSP was unknown, CRLs decided
  // code: why a kUnknown result could not be decided; nullopt when no data
  // could be obtained (download failure, timeout, offline without data).
  std::optional<crypto::CryptoError> code;
  std::string detail;
  // next_update of the data that decided; the result holds until then.
  std::optional<base::Time> next_update;
  std::vector<RevocationLookup> lookups;  // in the order consulted
};

// ChainRevocation is the outcome for a chain.
struct ChainRevocation {
  crypto::RevocationStatus status = crypto::RevocationStatus::kGood;
  // certificates: one per chain certificate except the last (the root),
  // leaf first.
  std::vector<CertificateRevocation> certificates;
  // next_update: the earliest next_update of the certificates (for a
  // verdict's valid_until); nullopt when no data was used.
  std::optional<base::Time> next_update;
  // detail: the detail of the certificate that decided a kRevoked or
  // kUnknown result (prefixed with its subject); empty when kGood.
  std::string detail;
};

// RevocationStats counts what a checker did (for the run summary and
// tests).
struct RevocationStats {
  uint64_t certificates = 0;   // distinct (cert, issuer, times) evaluated
  uint64_t http_requests = 0;  // HTTP requests made
  uint64_t http_failures = 0;  // of which failed (transport, status, size)
  uint64_t crl_dir_hits = 0;   // decisions from --crl-dir
  uint64_t cache_hits = 0;     // decisions from Notation's cache
  uint64_t index_hits = 0;     // decisions from the index cache
  uint64_t http_hits = 0;      // decisions from HTTP data
  uint64_t cache_writes = 0;   // Notation cache files written
  uint64_t index_writes = 0;   // index cache rows written
};

// RevocationChecker finds revocation data and evaluates chains. One per
// run, shared by every verification task: thread-safe.
class RevocationChecker {
 public:
  // Create loads --crl-dir (files that are neither CRL nor OCSP response,
  // symlinks and sub-directories are skipped with a warning) and opens the
  // index. Fails with kCrlDir when the directory cannot be listed, kIndex
  // when the index cannot be opened read-write.
  static base::Result<std::unique_ptr<RevocationChecker>, RevocationError>
  Create(RevocationOptions options);

  ~RevocationChecker();
  RevocationChecker(const RevocationChecker&) = delete;
  RevocationChecker& operator=(const RevocationChecker&) = delete;

  // CheckChain checks `chain` (leaf first, root last; borrowed) at
  // verification time `at`. `authentic_signing_time` is the signature's
  // authentic signing time under notary.x509.signingAuthority (nullopt
  // otherwise). Memoised per (certificate, issuer, times) for the run;
  // concurrent callers of the same certificate wait for one evaluation.
  // Never fails: problems are kUnknown with a detail.
  ChainRevocation CheckChain(std::span<const crypto::CertificatePtr> chain,
                             base::Time at,
                             std::optional<base::Time> authentic_signing_time);

  // CheckCertificate checks one certificate issued by `issuer`.
  CertificateRevocation CheckCertificate(
      const crypto::Certificate& cert, const crypto::Certificate& issuer,
      base::Time at, std::optional<base::Time> authentic_signing_time);

  RevocationStats stats() const;

  // TakeWarnings returns (and forgets) the warnings so far: --crl-dir files
  // skipped, cache or index write failures (each kind once).
  std::vector<std::string> TakeWarnings();

  struct Impl;

 private:
  explicit RevocationChecker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// CombineChain combines per-certificate outcomes (leaf first) as
// notation-go's verifier does: revoked > unknown > good.
ChainRevocation CombineChain(std::vector<CertificateRevocation> certificates);

// --- trustgate revocation prefetch ---

// PrefetchOptions configures PrefetchRevocationData.
struct PrefetchOptions {
  std::filesystem::path mirror;
  std::string registry_host;  // prefixes repository URIs (informational)
  std::filesystem::path out_dir;
  // config_dir: Notation's configuration; its trust store's `tsa` roots
  // complete TSA chains whose token does not carry the root. nullopt or
  // unloadable: TSA chains are built from the token's certificates only.
  std::optional<std::filesystem::path> config_dir;
  base::Time at{};  // evaluates OCSP responses (they must be current)
  std::chrono::milliseconds crl_timeout{5000};
  std::chrono::milliseconds ocsp_timeout{2000};
  size_t max_crl_bytes = crypto::kMaxCrlSize - 1;
  size_t max_ocsp_bytes = crypto::kMaxOcspResponseSize;
};

// PrefetchKind is what a prefetch item fetched.
enum class PrefetchKind { kCrl, kDeltaCrl, kOcsp };
std::string_view ToString(PrefetchKind k);  // "crl" | "delta-crl" | "ocsp"

// PrefetchItem is one URL fetched (or not).
struct PrefetchItem {
  PrefetchKind kind = PrefetchKind::kCrl;
  std::string url;
  std::string subject;  // the certificate it is for
  bool ok = false;
  std::string file;    // written file name (in out_dir) when ok
  std::string detail;  // why it failed
};

// PrefetchReport is the outcome of a prefetch.
struct PrefetchReport {
  uint64_t repositories = 0;
  uint64_t signatures = 0;
  uint64_t certificates = 0;  // distinct non-root certificates walked
  std::vector<PrefetchItem> items;
  std::vector<std::string> warnings;
  uint64_t failed() const;
};

// PrefetchRevocationData walks every signature of every repository below
// `mirror` (envelope chains, and the TSA chains of their timestamp tokens),
// and fetches over HTTP every CRL (with its delta CRL) and OCSP response
// their non-root certificates name, into `out_dir` (created), named by
// PrefetchCrlFileName / PrefetchOcspFileName, each written atomically. A
// CRL is kept when it parses and its signature verifies with the issuer;
// an OCSP response when it answers for the certificate (good, revoked or
// unknown) and is current at `at`. Unreadable signatures are warnings.
// Fails only when the mirror or the output directory is unusable.
base::Result<PrefetchReport, RevocationError> PrefetchRevocationData(
    const PrefetchOptions& options);

}  // namespace trustgate::engine
