#pragma once

// The shared certificate/chain cache (ARCHITECTURE.md: "a chain of
// certificates is parsed and checked against the trust store once per
// distinct chain"). Keyed by xxh3-128 of the chain's DER; the trust store
// is immutable for a run, so its generation is folded into the key too.
// Per chain it remembers what never changes for that chain within a run:
// the structural chain check, the leaf's algorithm, validity bounds, and
// per trust-policy statement the authenticity and trusted-identity
// outcome.

#include <tbb/concurrent_hash_map.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "crypto/certificate.h"
#include "crypto/error.h"
#include "policy/trust_policy.h"
#include "policy/trust_store.h"

namespace trustgate::engine {

// ChainKey is xxh3-128 of a chain (each DER length-prefixed) and the trust
// store generation.
struct ChainKey {
  uint64_t low = 0;
  uint64_t high = 0;
  friend bool operator==(const ChainKey&, const ChainKey&) = default;
};

// TrustOutcome is what a chain proves under one statement.
struct TrustOutcome {
  // authenticity: pass when a chain certificate is byte-identical to one
  // in the statement's stores of the scheme's type.
  bool authentic = false;
  std::string authenticity_code;    // finding code when not authentic
  std::string authenticity_detail;  // message when not authentic
  std::string trust_store;          // "ca:name" of the matching store
  std::string anchor_sha256;        // fingerprint of the matching cert
  // trusted identity: the leaf subject matches a trusted identity.
  bool identity_ok = false;
  std::string identity_detail;
};

// ChainFacts is everything about a chain that is independent of policy.
struct ChainFacts {
  ChainKey key;
  std::vector<crypto::CertificatePtr> certificates;  // leaf first
  std::vector<std::string> fingerprints;             // SHA-256 hex
  // structure: ValidateSigningChain's result (integrity).
  std::optional<base::Error<crypto::CryptoError>> structure_error;
  base::Time earliest_not_after{};
  base::Time latest_not_before{};
};

// ChainCache is safe for concurrent use by many verification tasks.
class ChainCache {
 public:
  // ChainCache borrows `policy` and `store`; both outlive it.
  ChainCache(const policy::TrustPolicy& policy,
             const policy::TrustStore& store);

  // Facts returns the parsed and structurally checked chain for `ders`
  // (leaf first), computing it on first use. Fails only when a
  // certificate does not parse (integrity).
  base::Result<std::shared_ptr<const ChainFacts>, crypto::CryptoError> Facts(
      const std::vector<base::ByteView>& ders);

  // Outcome returns authenticity and trusted identity of `facts` under
  // statement `statement_index` for `scheme`'s store type, computing it
  // on first use.
  TrustOutcome Outcome(const ChainFacts& facts, size_t statement_index,
                       policy::StoreType store_type);

  // Stats for the run summary.
  uint64_t hits() const { return hits_.load(); }
  uint64_t misses() const { return misses_.load(); }

 private:
  struct KeyHash {
    static size_t hash(const ChainKey& k) { return k.low ^ (k.high * 31); }
    static bool equal(const ChainKey& a, const ChainKey& b) { return a == b; }
  };
  struct OutcomeKey {
    ChainKey chain;
    size_t statement = 0;
    policy::StoreType type = policy::StoreType::kCa;
    friend bool operator==(const OutcomeKey&, const OutcomeKey&) = default;
  };
  struct OutcomeHash {
    static size_t hash(const OutcomeKey& k) {
      return KeyHash::hash(k.chain) ^ (k.statement * 0x9e3779b97f4a7c15ULL) ^
             static_cast<size_t>(k.type);
    }
    static bool equal(const OutcomeKey& a, const OutcomeKey& b) {
      return a == b;
    }
  };

  TrustOutcome Compute(const ChainFacts& facts, size_t statement_index,
                       policy::StoreType store_type) const;

  const policy::TrustPolicy& policy_;
  const policy::TrustStore& store_;
  tbb::concurrent_hash_map<ChainKey, std::shared_ptr<const ChainFacts>, KeyHash>
      chains_;
  tbb::concurrent_hash_map<OutcomeKey, TrustOutcome, OutcomeHash> outcomes_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace trustgate::engine
