#include "engine/config.h"

#include <openssl/evp.h>

#include <system_error>

#include "base/bytes.h"

namespace trustgate::engine {

std::string_view ToString(ConfigError e) {
  switch (e) {
    case ConfigError::kPolicy:
      return "policy";
    case ConfigError::kTrustStore:
      return "trust-store";
    case ConfigError::kEmergency:
      return "emergency-policy";
  }
  return "unknown";
}

base::Result<LoadedConfig, ConfigError> LoadConfig(const ConfigPaths& paths) {
  LoadedConfig config;
  auto policy = paths.policy_file.has_value()
                    ? policy::LoadTrustPolicyFile(*paths.policy_file)
                    : policy::LoadTrustPolicyFromConfig(paths.config_dir);
  if (!policy.ok()) {
    return base::MakeError(ConfigError::kPolicy, policy.detail());
  }
  config.policy = std::move(policy).value();
  for (const std::string& warning : config.policy.warnings) {
    config.warnings.push_back("trust policy: " + warning);
  }
  if (paths.emergency_policy_file.has_value()) {
    auto emergency =
        policy::LoadEmergencyPolicyFile(*paths.emergency_policy_file);
    if (!emergency.ok()) {
      return base::MakeError(ConfigError::kEmergency,
                             std::string(policy::ToString(emergency.code())) +
                                 ": " + emergency.detail());
    }
    auto effective = policy::ApplyEmergency(config.policy, *emergency, paths.at,
                                            paths.max_emergency_ttl);
    if (!effective.ok()) {
      return base::MakeError(ConfigError::kEmergency,
                             std::string(policy::ToString(effective.code())) +
                                 ": " + effective.detail());
    }
    for (const std::string& warning : emergency->policy.warnings) {
      config.warnings.push_back("emergency policy: " + warning);
    }
    config.policy = effective->policy;
    config.emergency = std::move(effective).value();
  }

  config.trust_store_root =
      paths.trust_store_dir.value_or(paths.config_dir / "truststore");
  std::error_code ec;
  auto status = std::filesystem::symlink_status(config.trust_store_root, ec);
  if (paths.trust_store_dir.has_value()) {
    if (ec || !std::filesystem::exists(status)) {
      return base::MakeError(
          ConfigError::kTrustStore,
          "trust store directory " + config.trust_store_root.string() +
              " does not exist: point --trust-store at the directory that "
              "holds x509/{ca,signingAuthority,tsa}/<name>/");
    }
    if (!std::filesystem::is_directory(status)) {
      return base::MakeError(ConfigError::kTrustStore,
                             "trust store " + config.trust_store_root.string() +
                                 " is not a directory (symlinks are refused)");
    }
  } else if (!ec && std::filesystem::exists(status) &&
             !std::filesystem::is_directory(status)) {
    return base::MakeError(ConfigError::kTrustStore,
                           "trust store " + config.trust_store_root.string() +
                               " is not a directory (symlinks are refused)");
  }
  config.store = policy::TrustStore::Load(config.trust_store_root,
                                          config.policy, &config.warnings);
  for (const policy::NamedStore& named : config.store.stores()) {
    if (named.error.has_value()) {
      config.warnings.push_back(
          "trust store " + std::string(policy::ToString(named.ref.type)) + ":" +
          named.ref.name + ": " + named.error->detail +
          " (signatures that need it fail authenticity)");
    }
  }

  uint8_t digest[32];
  unsigned int length = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, config.policy.sha256.data(),
                   config.policy.sha256.size());
  EVP_DigestUpdate(ctx, config.store.generation().data(),
                   config.store.generation().size());
  EVP_DigestFinal_ex(ctx, digest, &length);
  EVP_MD_CTX_free(ctx);
  config.inputs_fingerprint = base::HexEncode(base::ByteView(digest, length));
  return config;
}

}  // namespace trustgate::engine
