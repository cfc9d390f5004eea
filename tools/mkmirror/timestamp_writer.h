#pragma once

// A test time-stamping authority for mkmirror: RFC 3161 timestamp tokens
// (a CMS SignedData over a TSTInfo, RFC 3161 §2.4.2, RFC 5652 §5) signed by
// a TSA certificate of pki.h (LeafUsage::kTimeStamping), with every field a
// verifier looks at under the caller's control: genTime (to the
// millisecond), accuracy, policy, the embedded certificates. The token is
// what Notation embeds in a signature as io.cncf.notary.timestampSignature
// (signature-specification.md, "Timestamp Signature"): the DER
// ContentInfo, over the envelope's raw signature bytes.
//
// Built with OpenSSL's CMS API rather than TS_RESP_CTX because OpenSSL's
// TSA stamps a signing-time attribute from the wall clock; here it is
// genTime, so a token is a pure function of its inputs and the RNG state
// (ECDSA nonces: drbg.h).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "tools/mkmirror/pki.h"
#include "tools/mkmirror/util.h"

namespace trustgate::mkmirror {

// kTestTimestampPolicy is the TSA policy OID of mkmirror's tokens, under
// the ITU-T X.660 example arc 2.999 (not the RFC 3628 baseline policy, so
// a token without accuracy means an accuracy of zero).
inline constexpr std::string_view kTestTimestampPolicy = "2.999.3161.1";

// TimestampSpec is what a token says besides the imprint.
struct TimestampSpec {
  int64_t gen_time = 0;     // Unix seconds
  int gen_time_millis = 0;  // 0..999, written without trailing zeros
  // Accuracy (RFC 3161 §2.4.2): absent when all three are nullopt.
  std::optional<int> accuracy_seconds;
  std::optional<int> accuracy_millis;
  std::optional<int> accuracy_micros;
  std::string policy = std::string(kTestTimestampPolicy);
  int64_t serial = 1;  // TSTInfo serialNumber, positive
};

// TimestampAuthority is a TSA signing credential and the certificates its
// tokens carry (usually the TSA leaf and its chain up to the root).
// Borrows the credentials.
struct TimestampAuthority {
  const Credential* signer = nullptr;
  std::vector<const Credential*> certificates;
};

// ImprintDigestFor returns the hash Notation's signers use for the message
// imprint of a signature made with a key of `type`: the hash of the
// signature algorithm (notation-core-go v1.3 signature/jws timestampJWS:
// KeySpec.SignatureAlgorithm().Hash(); signature/cose hashFromCOSEAlgorithm:
// PS256/ES256 SHA-256, PS384/ES384 SHA-384, PS512/ES512 SHA-512).
const EVP_MD* ImprintDigestFor(KeyType type);

// IssueTimestampToken returns the DER TimeStampToken (RFC 3161 §2.4.2: a
// ContentInfo holding SignedData version 3 with eContentType id-ct-TSTInfo)
// for `message` hashed with `imprint_digest`:
//  - TSTInfo version 1, `spec`'s policy, serial, genTime and accuracy, no
//    nonce, ordering false;
//  - one SignerInfo (version 1, issuer and serial number) by `tsa.signer`,
//    digest SHA-256 (SHA-384/512 for larger keys), signed attributes
//    content-type, message-digest, signing-time (= genTime, whole seconds)
//    and signing-certificate-v2 (RFC 5816: ESSCertIDv2 with SHA-256 and
//    issuerSerial);
//  - certificates: `tsa.certificates`.
// Fails with kCrypto when OpenSSL refuses.
base::Result<base::Bytes, MkError> IssueTimestampToken(
    const TimestampAuthority& tsa, const TimestampSpec& spec,
    base::ByteView message, const EVP_MD* imprint_digest);

}  // namespace trustgate::mkmirror
