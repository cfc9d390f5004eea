#pragma once

// The per-signature validation sequence and the per-artifact join
// (ARCHITECTURE.md: Data flow; notation-go verifier.processSignature and
// notation.Verify are the behaviour we agree with).

#include <tbb/concurrent_hash_map.h>

#include <cstddef>
#include <string>

#include "base/time.h"
#include "crypto/envelope.h"
#include "engine/chain_cache.h"
#include "engine/plugin.h"
#include "engine/revocation.h"
#include "engine/verdict.h"
#include "io/reader.h"
#include "io/referrers.h"
#include "policy/trust_policy.h"
#include "policy/trust_store.h"

namespace trustgate::engine {

// BlobsMode says whether blobs are read and digest-checked.
enum class BlobsMode { kCheck, kSkip };

// VerifierOptions are the inputs every check takes instead of a clock.
struct VerifierOptions {
  base::Time at{};              // verification time (--at)
  size_t max_signatures = 100;  // Notation's MaxSignatureAttempts
  BlobsMode blobs = BlobsMode::kCheck;
  PluginConfig plugin_config;  // --plugin-config, sent to every plugin
};

// BlobCache remembers, per repository, each distinct blob's check result
// so that a blob shared by many artifacts is hashed once.
class BlobCache {
 public:
  // kUnreadable: the read failed (I/O error, not a regular file): not
  // proven, reported as bad with its own message.
  enum class State { kOk, kBad, kMissing, kUnreadable };
  // Check returns the state of `descriptor`'s blob in `repo`, hashing it
  // on first use.
  State Check(io::Reader& reader, const io::Repository& repo,
              const io::Descriptor& descriptor);
  uint64_t bytes_hashed() const { return bytes_hashed_.load(); }

 private:
  struct Hash {
    static size_t hash(const std::string& s) {
      return std::hash<std::string>()(s);
    }
    static bool equal(const std::string& a, const std::string& b) {
      return a == b;
    }
  };
  tbb::concurrent_hash_map<std::string, State, Hash> states_;
  std::atomic<uint64_t> bytes_hashed_{0};
};

// Verifier decides artifacts. Thread-safe: all shared state is in the
// ChainCache and BlobCache, which are concurrent.
class Verifier {
 public:
  // Verifier borrows everything; all must outlive it. `revocation` may be
  // null: then a certificate that names an OCSP responder or CRL has
  // status unknown. `plugins` may be null: then a signature that names a
  // verification plugin fails with reason `plugin`.
  Verifier(const policy::TrustPolicy& policy, const policy::TrustStore& store,
           ChainCache& chains, io::Reader& reader, VerifierOptions options,
           RevocationChecker* revocation = nullptr,
           PluginRunner* plugins = nullptr);

  // VerifyArtifact returns the verdict of `artifact`, one of `graph`'s
  // artifacts in `repo`. Never fails: every problem is a verdict.
  ArtifactVerdict VerifyArtifact(const io::Repository& repo,
                                 const io::RepositoryGraph& graph,
                                 const io::ArtifactNode& artifact,
                                 BlobCache& blobs) const;

  // VerifySignature runs the validation sequence for one signature
  // manifest of an artifact whose descriptor is `target`.
  SignatureVerdict VerifySignature(const io::Repository& repo,
                                   size_t statement_index,
                                   const io::Descriptor& target,
                                   const io::SignatureNode& signature) const;

  uint64_t signatures_verified() const { return signatures_.load(); }

 private:
  void CheckBlobs(const io::Repository& repo, const io::ArtifactNode& artifact,
                  BlobCache& blobs, ArtifactVerdict* out) const;
  // CheckRevocation checks `chain` (leaf first) and records per-certificate
  // entries under `label`; returns the combined result.
  ChainRevocation CheckRevocation(
      std::span<const crypto::CertificatePtr> chain, const char* label,
      std::optional<base::Time> authentic_signing_time,
      SignatureVerdict* sv) const;
  // VerifyTimestamp checks the envelope's RFC 3161 token; on failure sets
  // `code` and `detail`, on success fills sv->timestamp.
  void VerifyTimestamp(const policy::Statement& statement,
                       const crypto::Envelope& envelope,
                       const ChainFacts& facts, SignatureVerdict* sv,
                       std::string* code, std::string* detail) const;

  const policy::TrustPolicy& policy_;
  const policy::TrustStore& store_;
  ChainCache& chains_;
  io::Reader& reader_;
  VerifierOptions options_;
  RevocationChecker* revocation_;
  PluginRunner* plugins_;
  mutable std::atomic<uint64_t> signatures_{0};
};

// LevelString renders a statement's level with its overrides
// ("strict", "permissive+expiry=enforce").
std::string LevelString(const policy::Statement& statement);

}  // namespace trustgate::engine
