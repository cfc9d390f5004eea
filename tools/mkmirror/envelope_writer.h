#pragma once

// Notary Project signature envelopes as Notation writes them: JWS JSON
// flattened serialization (signature-envelope-jws.md) and COSE_Sign1
// (signature-envelope-cose.md), over the payload of
// signature-specification.md, signed per signing-scheme.md. Negative cases
// (tampered payload, corrupted signature, unknown critical attribute) are
// options of the same writer so that they differ from a good envelope in
// exactly one respect.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "tools/mkmirror/pki.h"
#include "tools/mkmirror/util.h"

namespace trustgate::mkmirror {

// kSigningAgent is the io.cncf.notary.signingAgent value we write.
inline constexpr std::string_view kSigningAgent = "mkmirror/0.1.0";

// EnvelopeFormat is the envelope encoding.
enum class EnvelopeFormat { kJws, kCose };

// MediaType returns the signature layer media type of `format`
// ("application/jose+json" or "application/cose").
std::string_view MediaType(EnvelopeFormat format);

// SigningScheme is io.cncf.notary.signingScheme.
enum class SigningScheme { kX509, kX509SigningAuthority };

// EnvelopeDefect makes a deliberately broken envelope.
enum class EnvelopeDefect {
  kNone,
  kTamperedPayload,     // payload replaced after signing
  kCorruptedSignature,  // one bit of the signature flipped
};

// TargetDescriptor is the payload's targetArtifact.
struct TargetDescriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
};

// Countersigner returns the RFC 3161 timestamp token for a signature:
// `signature` is the envelope's raw signature bytes (JWS: the decoded
// `signature` member; COSE: the COSE_Sign1 signature bstr), `imprint_digest`
// the hash Notation would request for it (ImprintDigestFor in
// timestamp_writer.h). It may return any bytes (a garbage token).
using Countersigner = std::function<base::Result<base::Bytes, MkError>(
    base::ByteView signature, const EVP_MD* imprint_digest)>;

// EnvelopeRequest is everything an envelope says besides its signer.
struct EnvelopeRequest {
  EnvelopeFormat format = EnvelopeFormat::kJws;
  SigningScheme scheme = SigningScheme::kX509;
  int64_t signing_time = 0;       // Unix seconds
  std::optional<int64_t> expiry;  // Unix seconds
  TargetDescriptor target;
  // An extra string-valued protected attribute that is also listed in
  // crit (the unknown-critical negative case).
  std::optional<std::pair<std::string, std::string>> extra_critical;
  // Further string-valued protected attributes, in this order, each listed
  // in crit when `critical` (AWS Signer's verificationPlugin and
  // com.amazonaws.signer.* attributes).
  struct Attribute {
    std::string key;
    std::string value;
    bool critical = true;
  };
  std::vector<Attribute> attributes;
  EnvelopeDefect defect = EnvelopeDefect::kNone;
  // countersigner, when set, timestamps the signature: its token becomes
  // the unprotected io.cncf.notary.timestampSignature (JWS: standard base64
  // in `header`; COSE: a bstr under that text label), as notation-core-go
  // writes it (signature-envelope-jws.md / signature-envelope-cose.md,
  // "Unprotected Headers").
  Countersigner countersigner;
};

// Signer is a signing credential with its chain. Borrows the credentials.
struct Signer {
  const Credential* leaf = nullptr;
  std::vector<const Credential*> chain;  // leaf first, root last
};

// PayloadJson returns the Notary Project payload for `target`
// ({"targetArtifact":{"digest":..,"mediaType":..,"size":..}}).
std::string PayloadJson(const TargetDescriptor& target);

// SignRaw signs `message` with `key` the way the envelope algorithm of
// `type` requires: RSASSA-PSS with salt length = hash length for RSA,
// ECDSA with the signature as fixed-width r||s (RFC 7518 §3.4,
// RFC 9053 §2.1).
base::Result<base::Bytes, MkError> SignRaw(KeyType type, EVP_PKEY* key,
                                           base::ByteView message);

// BuildEnvelope builds and signs an envelope.
base::Result<base::Bytes, MkError> BuildEnvelope(const EnvelopeRequest& request,
                                                 const Signer& signer);

}  // namespace trustgate::mkmirror
