#include "policy/error.h"

namespace trustgate::policy {

// The names are part of the output format: never change a spelling.
std::string_view ToString(PolicyError e) {
  switch (e) {
    case PolicyError::kNotFound:
      return "not-found";
    case PolicyError::kSymlink:
      return "symlink";
    case PolicyError::kUnreadable:
      return "unreadable";
    case PolicyError::kMalformedJson:
      return "malformed-json";
    case PolicyError::kInvalid:
      return "invalid";
    case PolicyError::kBadDistinguishedName:
      return "bad-distinguished-name";
    case PolicyError::kBadCertificate:
      return "bad-certificate";
    case PolicyError::kNotDirectory:
      return "not-directory";
    case PolicyError::kBadStoreCertificate:
      return "bad-store-certificate";
    case PolicyError::kTooLarge:
      return "too-large";
    case PolicyError::kEmptyStore:
      return "empty-store";
  }
  return "unknown";
}

PolicyError FromFileError(base::FileError e) {
  switch (e) {
    case base::FileError::kNotFound:
      return PolicyError::kNotFound;
    case base::FileError::kSymlink:
      return PolicyError::kSymlink;
    case base::FileError::kTooLarge:
      return PolicyError::kTooLarge;
    case base::FileError::kNotRegular:
    case base::FileError::kUnreadable:
      break;
  }
  return PolicyError::kUnreadable;
}

}  // namespace trustgate::policy
