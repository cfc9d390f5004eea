#pragma once

#include <string_view>

#include "base/file.h"

namespace trustgate::policy {

// PolicyError is the stable error code of everything in policy/. Values
// are never renumbered or reused.
enum class PolicyError {
  kNotFound = 1,              // no trust policy / trust store file or dir
  kSymlink = 2,               // a symlinked policy file or store entry
  kUnreadable = 3,            // the OS refused to read it, or not a file
  kMalformedJson = 4,         // not JSON, wrong types, duplicate keys
  kInvalid = 5,               // JSON fine, but a trust-policy rule is broken
  kBadDistinguishedName = 6,  // an x509.subject DN that does not parse
  kBadCertificate = 7,        // a trust store file that is not a certificate
  kNotDirectory = 8,          // a file where a directory is required
  kBadStoreCertificate = 9,   // a certificate not allowed in that store
  kTooLarge = 10,             // a policy or certificate file above its bound
  kEmptyStore = 11,           // a trust store holding no certificate
};

// ToString returns the stable kebab-case name of `e`.
std::string_view ToString(PolicyError e);

// FromFileError maps a failed bounded file read to its PolicyError:
// kNotFound, kSymlink and kTooLarge to themselves, a file that is not
// regular or that the OS refused to kUnreadable.
PolicyError FromFileError(base::FileError e);

}  // namespace trustgate::policy
