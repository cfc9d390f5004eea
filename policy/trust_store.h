#pragma once

// Notation's trust store layout: <root>/x509/{ca,signingAuthority,tsa}/
// <name>/ holding .pem/.crt/.cer files (PEM or DER), regular files only
// (trust-store-trust-policy.md: Trust Store). Loading follows notation-go
// v1.3.2 verifier/truststore (GetCertificates, ValidateCertificates,
// isRootCACertificate) except that sub-directories are ignored with a
// warning, as the specification says, instead of failing the store.

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "crypto/certificate.h"
#include "policy/error.h"
#include "policy/trust_policy.h"

namespace trustgate::policy {

// NamedStore is one loaded store, or the reason it could not be loaded.
struct NamedStore {
  StoreRef ref;
  std::vector<crypto::CertificatePtr> certificates;  // sorted by sha256
  // error: set when the store is missing or invalid; every signature that
  // needs it fails authenticity with this message (as Notation does).
  std::optional<base::Error<PolicyError>> error;
};

// TrustStore is an immutable set of named stores plus a generation
// fingerprint that changes whenever any loaded certificate does.
class TrustStore {
 public:
  // Load reads, from `root` (the directory holding x509/), every store
  // `policy` references. A missing or invalid referenced store is recorded
  // on its NamedStore, not fatal: kNotFound (no such directory), kSymlink
  // (the store or an entry in it is a symlink), kNotDirectory, kUnreadable
  // (OS error, or an entry that is neither file nor directory),
  // kTooLarge, kBadCertificate (a file, whatever its extension, that is
  // not PEM/DER certificates; notation reads every file), kBadStoreCertificate
  // (a certificate not allowed there), kEmptyStore (no certificate).
  // Sub-directories inside a store are ignored with a warning; ca and
  // signingAuthority stores accept only CA or self-signed certificates;
  // tsa stores only self-issued, self-signed CA roots. `warnings_out` may
  // be null.
  static TrustStore Load(const std::filesystem::path& root,
                         const TrustPolicy& policy,
                         std::vector<std::string>* warnings_out);

  // Find returns the store for `ref`, or nullptr if the policy did not
  // reference it.
  const NamedStore* Find(const StoreRef& ref) const;

  // generation is SHA-256 over every loaded store's ref and certificate
  // fingerprints; part of every cache key and verdict provenance.
  const std::array<uint8_t, 32>& generation() const { return generation_; }

  const std::vector<NamedStore>& stores() const { return stores_; }

 private:
  std::vector<NamedStore> stores_;
  std::array<uint8_t, 32> generation_{};
};

// DefaultConfigDir returns Notation's config dir: $NOTATION_CONFIG, else
// $XDG_CONFIG_HOME/notation, else $HOME/.config/notation. (Reads the
// environment, not a clock.)
std::filesystem::path DefaultConfigDir();

}  // namespace trustgate::policy
