#pragma once

// Loading a Notation configuration (trust policy + trust store) for a run.
// A Notation user's existing configuration works unchanged.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "policy/emergency.h"
#include "policy/trust_policy.h"
#include "policy/trust_store.h"

namespace trustgate::engine {

// ConfigError separates what the user must fix.
enum class ConfigError {
  kPolicy = 1,      // the trust policy is missing or invalid
  kTrustStore = 2,  // the trust store directory is missing or unusable
  kEmergency = 3,   // the emergency policy is unusable (expired, too long,
                    // malformed, ...): nothing is verified
};
std::string_view ToString(ConfigError e);

// ConfigPaths says where the configuration lives.
struct ConfigPaths {
  std::filesystem::path config_dir;                  // Notation's config dir
  std::optional<std::filesystem::path> policy_file;  // --policy
  std::optional<std::filesystem::path> trust_store_dir;  // --trust-store
  // emergency_policy_file: --emergency-policy, applied on top of the policy
  // for verification time `at` with at most `max_emergency_ttl` of
  // lifetime left (policy/emergency.h).
  std::optional<std::filesystem::path> emergency_policy_file;
  base::Time at{};
  std::chrono::microseconds max_emergency_ttl = policy::kDefaultMaxEmergencyTtl;
};

// LoadedConfig is an immutable, validated configuration for one run.
struct LoadedConfig {
  // policy: the trust policy, or the effective policy when an emergency
  // policy applies (then `emergency` says which statements came from it).
  policy::TrustPolicy policy;
  std::optional<policy::EffectivePolicy> emergency;
  policy::TrustStore store;
  std::filesystem::path trust_store_root;
  std::vector<std::string> warnings;
  // inputs: hex SHA-256 over the policy bytes' hash and the trust store
  // generation; recorded with every verdict.
  std::string inputs_fingerprint;
};

// LoadConfig reads the policy (`policy_file`, else trustpolicy.oci.json,
// else trustpolicy.json in `config_dir`) and the trust stores it
// references (`trust_store_dir`, else `<config_dir>/truststore`). Fails
// with a message saying what to fix. With an emergency policy file, the
// effective policy (policy::ApplyEmergency at `at`) is what is validated,
// loaded and fingerprinted; an expired, premature or too long-lived
// emergency is kEmergency. A referenced store that is missing
// is not fatal (it fails authenticity for the artifacts that need it, as
// in Notation) and is reported as a warning.
base::Result<LoadedConfig, ConfigError> LoadConfig(const ConfigPaths& paths);

}  // namespace trustgate::engine
