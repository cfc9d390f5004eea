#pragma once

// Test-only helpers for policy tests: real OpenSSL keys and certificates
// made on the fly, and a scratch directory.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "crypto/ossl.h"

namespace trustgate::policy::testing {

// CertSpec describes a certificate to issue.
struct CertSpec {
  // Subject attributes in certificate (DER) order, e.g. {"C","US"},
  // {"ST","WA"}, {"O","Acme"}, {"CN","leaf"}; any OpenSSL short or long
  // name ("emailAddress") works.
  std::vector<std::pair<std::string, std::string>> subject;
  // issuer_name overrides the issuer name (default: the signer's subject,
  // or the subject itself when self-signed).
  std::vector<std::pair<std::string, std::string>> issuer_name;
  bool basic_constraints = true;
  bool ca = false;
  bool key_usage = true;       // CA: keyCertSign|cRLSign; else digitalSignature
  int version = 3;             // 1 or 3
  const EVP_MD* md = nullptr;  // default SHA-256
};

// SpecFor returns a CertSpec with `subject` and the other fields default.
CertSpec SpecFor(std::vector<std::pair<std::string, std::string>> subject);

// TestCert is a key pair and a certificate.
struct TestCert {
  crypto::UniqueEvpPkey key;
  crypto::UniqueX509 cert;

  std::string Pem() const;
  base::Bytes Der() const;
};

// MakeCert issues `spec` with a fresh P-256 key, signed by `issuer` (or
// self-signed when null).
TestCert MakeCert(const CertSpec& spec, const TestCert* issuer = nullptr);

// ScratchDir is a fresh temporary directory removed on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// WriteFile writes `content` to `path`, creating parent directories.
void WriteFile(const std::filesystem::path& path, std::string_view content);
void WriteFile(const std::filesystem::path& path, const base::Bytes& content);

// SharedDir is $TRUSTGATE_SHARED, else /work/shared.
std::filesystem::path SharedDir();

}  // namespace trustgate::policy::testing
