#pragma once

// RSASSA-PSS parameters as Go's crypto/x509 accepts them in certificates
// and CRLs. Internal to crypto/.

#include <openssl/x509.h>

namespace trustgate::crypto::internal {

// GoPssHashNid returns the hash (NID_sha256, NID_sha384 or NID_sha512) of
// the RSASSA-PSS AlgorithmIdentifier `alg` when Go's
// getSignatureAlgorithmFromAI accepts its parameters: hash, MGF1 and salt
// present, MGF1 over the same hash, hash parameters NULL or absent, salt =
// hash length, trailer 1 (RFC 4055 §3.1). NID_undef otherwise. It leaves
// no error on OpenSSL's error queue.
int GoPssHashNid(const X509_ALGOR* alg);

}  // namespace trustgate::crypto::internal
