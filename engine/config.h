#pragma once

// Loading a Notation configuration (trust policy + trust store) for a run.
// A Notation user's existing configuration works unchanged.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "policy/trust_policy.h"
#include "policy/trust_store.h"

namespace trustgate::engine {

// ConfigError separates what the user must fix.
enum class ConfigError {
  kPolicy = 1,      // the trust policy is missing or invalid
  kTrustStore = 2,  // the trust store directory is missing or unusable
};
std::string_view ToString(ConfigError e);

// ConfigPaths says where the configuration lives.
struct ConfigPaths {
  std::filesystem::path config_dir;                  // Notation's config dir
  std::optional<std::filesystem::path> policy_file;  // --policy
  std::optional<std::filesystem::path> trust_store_dir;  // --trust-store
};

// LoadedConfig is an immutable, validated configuration for one run.
struct LoadedConfig {
  policy::TrustPolicy policy;
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
// with a message saying what to fix; a referenced store that is missing
// is not fatal (it fails authenticity for the artifacts that need it, as
// in Notation) and is reported as a warning.
base::Result<LoadedConfig, ConfigError> LoadConfig(const ConfigPaths& paths);

}  // namespace trustgate::engine
